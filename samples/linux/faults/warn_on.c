// SPDX-License-Identifier: GPL-2.0
/*
 * warn_on - init hits WARN_ON(1) and still returns 0.
 *
 * A WARN is a ud2 too, but its __bug_table entry has BUGFLAG_WARNING: the
 * kernel prints the cut-here line, "WARNING: CPU: 0 PID: N at FILE:LINE
 * warn_on_init+0x../0x.. [warn_on]", the registers and the trace, taints
 * the kernel W and resumes after the ud2.  The load succeeds.
 */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int __init warn_on_init(void)
{
	pr_info("warn_on: before\n");
	WARN_ON(1);
	pr_info("warn_on: after\n");
	return 0;
}

static void __exit warn_on_exit(void)
{
	pr_info("warn_on: exit\n");
}

module_init(warn_on_init);
module_exit(warn_on_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Warns on load (WARN_ON), loads anyway");
