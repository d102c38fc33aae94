// SPDX-License-Identifier: GPL-2.0
/*
 * warn_storm - WARN_ON(1) in a loop: `count` times (0: for ever).
 *
 * Each WARN prints its report and goes on after the ud2, so a count of 0 is
 * an init that never returns, printing all the while: the soft-lockup
 * watchdog reports it (nothing reaches the console at loglevel 3, so
 * nothing touches the watchdog), and the printk ring buffer keeps only the
 * newest records.
 */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static unsigned long count;
module_param(count, ulong, 0444);
MODULE_PARM_DESC(count, "how many WARNs (0: no end)");

static int __init warn_storm_init(void)
{
	unsigned long i;

	pr_info("warn_storm: %lu warnings\n", count);
	for (i = 0; !count || i < count; i++)
		WARN_ON(1);
	pr_info("warn_storm: done\n");
	return 0;
}

static void __exit warn_storm_exit(void)
{
}

module_init(warn_storm_init);
module_exit(warn_storm_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("WARN_ON(1) count times, or for ever");
