// SPDX-License-Identifier: GPL-2.0
/*
 * warn_fmt - WARN(1, "fmt %d", x): the message comes before the trap.
 *
 * __warn_printk prints the cut-here line and the formatted message, then
 * the ud2's __bug_table entry (BUGFLAG_NO_CUT_HERE) gives the WARNING line
 * and the report.  The load succeeds.
 */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int level = 42;
module_param(level, int, 0444);
MODULE_PARM_DESC(level, "a number the warning prints");

static int __init warn_fmt_init(void)
{
	WARN(1, "warn_fmt: level %d is too high\n", level);
	return 0;
}

static void __exit warn_fmt_exit(void)
{
	pr_info("warn_fmt: exit\n");
}

module_init(warn_fmt_init);
module_exit(warn_fmt_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Warns on load with a message (WARN), loads anyway");
