// SPDX-License-Identifier: GPL-2.0
/*
 * warn_once - WARN_ON_ONCE inside a loop: one report, not `rounds`.
 *
 * The __bug_table entry carries BUGFLAG_ONCE; the first trap sets
 * BUGFLAG_DONE in the (writable) table, and later traps return quietly.
 * The table belongs to the module, so a reload warns again.
 */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int rounds = 5;
module_param(rounds, int, 0444);
MODULE_PARM_DESC(rounds, "loop iterations, each one hits WARN_ON_ONCE");

static int __init warn_once_init(void)
{
	int i, hits = 0;

	for (i = 0; i < rounds; i++)
		if (WARN_ON_ONCE(rounds > 0))
			hits++;
	pr_info("warn_once: %d of %d rounds warned\n", hits, rounds);
	return 0;
}

static void __exit warn_once_exit(void)
{
	pr_info("warn_once: exit\n");
}

module_init(warn_once_init);
module_exit(warn_once_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Warns once on load (WARN_ON_ONCE in a loop), loads anyway");
