// SPDX-License-Identifier: GPL-2.0
/*
 * bug_on - a helper checks its argument with BUG_ON().
 *
 * check_budget() is not inlined, so the report's RIP is in check_budget
 * and the Call Trace starts with bug_on_init.  The condition depends on a
 * module parameter (budget=0 by default), so the compiler keeps the test.
 */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int budget;
module_param(budget, int, 0444);
MODULE_PARM_DESC(budget, "must be positive, or BUG_ON fires");

static noinline int check_budget(int b)
{
	BUG_ON(b <= 0);
	return b * 2;
}

static int __init bug_on_init(void)
{
	pr_info("bug_on: budget=%d\n", budget);
	return check_budget(budget) - 2 * budget;
}

static void __exit bug_on_exit(void)
{
}

module_init(bug_on_init);
module_exit(bug_on_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Oopses on load unless budget > 0: BUG_ON()");
