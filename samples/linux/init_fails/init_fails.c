// SPDX-License-Identifier: GPL-2.0
/*
 * init_fails - an init that refuses to load: returns `ret` (default -ENODEV).
 *
 * insmod init_fails.ko          -> the load fails with ENODEV, nothing stays loaded
 * insmod init_fails.ko ret=0    -> loads
 * insmod init_fails.ko ret=1    -> loads, but do_init_module warns about the 0/-E convention
 *                                  and dumps the stack
 */
#include <linux/errno.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int ret = -ENODEV;
module_param(ret, int, 0444);
MODULE_PARM_DESC(ret, "what init returns");

static int __init init_fails_init(void)
{
	pr_info("init_fails: init returns %d\n", ret);
	return ret;
}

static void __exit init_fails_exit(void)
{
	pr_info("init_fails: exit\n");
}

module_init(init_fails_init);
module_exit(init_fails_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("An init that fails (or returns what it is told)");
