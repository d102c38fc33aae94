// SPDX-License-Identifier: GPL-2.0
/*
 * exit_fault - loads fine, oopses on unload.
 *
 * The exit function writes through a NULL pointer.  rmmod is killed, and
 * the module stays listed as "Unloading": delete_module set MODULE_STATE_GOING
 * before calling exit.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int * volatile counter;

static int __init exit_fault_init(void)
{
	pr_info("exit_fault: loaded\n");
	return 0;
}

static void __exit exit_fault_exit(void)
{
	pr_info("exit_fault: unloading\n");
	*counter += 1;
}

module_init(exit_fault_init);
module_exit(exit_fault_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Oopses on unload: NULL pointer write in exit");
