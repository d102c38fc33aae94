// SPDX-License-Identifier: GPL-2.0
/*
 * div_zero - init divides by a module parameter that defaults to 0.
 *
 * The divisor is only known at load time, so gcc emits a real idiv:
 * "divide error: 0000 [#1] PREEMPT SMP NOPTI"; die() kills insmod with
 * SIGSEGV.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int divisor;
module_param(divisor, int, 0444);
MODULE_PARM_DESC(divisor, "what 1000 is divided by (default 0)");

static int __init div_zero_init(void)
{
	int share = 1000 / divisor;

	pr_info("div_zero: 1000 / %d = %d\n", divisor, share);
	return 0;
}

static void __exit div_zero_exit(void)
{
}

module_init(div_zero_init);
module_exit(div_zero_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Oopses on load: divide error");
