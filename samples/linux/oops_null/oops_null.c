// SPDX-License-Identifier: GPL-2.0
/*
 * oops_null - a module whose init stores through a NULL pointer.
 *
 * Loading it gives "BUG: kernel NULL pointer dereference, address:
 * 0000000000000000" with "#PF: supervisor write access in kernel mode",
 * an Oops report whose RIP is inside oops_null_init, and insmod killed.
 * The module stays listed, stuck in the "Loading" state, and cannot be
 * removed.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

/* Stays NULL.  volatile so the compiler keeps the store as written. */
static unsigned long * volatile target;

static int __init oops_null_init(void)
{
	pr_info("oops_null: writing through a NULL pointer\n");
	*target = 0x6b6d6f64UL;
	pr_info("oops_null: still alive?\n");	/* never printed */
	return 0;
}

static void __exit oops_null_exit(void)
{
	pr_info("oops_null: exit\n");
}

module_init(oops_null_init);
module_exit(oops_null_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kmodsim samples");
MODULE_DESCRIPTION("Oopses on load: NULL pointer write in init");
