// SPDX-License-Identifier: GPL-2.0
/*
 * warn_storm - WARN_ON(1) in a loop.
 *
 * Each WARN_ON is a ud2 listed in __bug_table without BUGFLAG_ONCE, so
 * every round prints a full WARNING report (~40 lines) into the log and
 * execution resumes after the ud2.  rounds=0 (the default) never stops,
 * and nothing reports it: each report's stack dump touches the watchdog
 * (printk_stack_address), and KERN_WARNING is above the boot console
 * level, so the console stays silent and insmod never returns.  rounds=N
 * stops after N reports; the 128 KiB log keeps only the last few dozen.
 */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int rounds;
module_param(rounds, int, 0444);
MODULE_PARM_DESC(rounds, "number of WARN_ON(1) (default 0: forever)");

static int __init warn_storm_init(void)
{
	int i = 0;

	pr_info("warn_storm: %d rounds\n", rounds);
	while (rounds <= 0 || i < rounds) {
		WARN_ON(1);
		i++;
	}
	pr_info("warn_storm: %d warnings\n", i);
	return 0;
}

static void __exit warn_storm_exit(void)
{
}

module_init(warn_storm_init);
module_exit(warn_storm_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile: WARN_ON(1) in a loop (forever by default)");
