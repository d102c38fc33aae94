// SPDX-License-Identifier: GPL-2.0
/*
 * bug_always - init calls BUG().
 *
 * BUG() is a ud2 with an entry in __bug_table (file, line); the
 * invalid-opcode handler finds it: "kernel BUG at
 * samples/linux/faults/bug_always.c:LINE!", then "invalid opcode: 0000
 * [#1] PREEMPT SMP NOPTI" and the oops report; insmod dies (SIGSEGV).
 */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int __init bug_always_init(void)
{
	pr_info("bug_always: calling BUG()\n");
	BUG();
	return 0;
}

static void __exit bug_always_exit(void)
{
}

module_init(bug_always_init);
module_exit(bug_always_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Oopses on load: BUG()");
