// SPDX-License-Identifier: GPL-2.0
/*
 * gp_fault - init dereferences a non-canonical address.
 *
 * x86-64 addresses must have bits 63..47 all equal; 0xdead000000000100
 * (LIST_POISON1) does not, so the CPU raises #GP rather than #PF:
 * "general protection fault, probably for non-canonical address
 * 0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI".
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static unsigned long poison = 0xdead000000000100UL;
module_param(poison, ulong, 0444);
MODULE_PARM_DESC(poison, "address to read (default: a non-canonical one)");

static int __init gp_fault_init(void)
{
	pr_info("gp_fault: reading %lx\n", poison);
	return *(volatile int *)poison;
}

static void __exit gp_fault_exit(void)
{
}

module_init(gp_fault_init);
module_exit(gp_fault_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Oopses on load: general protection fault (non-canonical address)");
