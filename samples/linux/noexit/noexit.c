// SPDX-License-Identifier: GPL-2.0
/*
 * noexit - a module with an init and no exit: once loaded it is "[permanent]";
 * rmmod fails with EBUSY unless forced (rmmod -f, CONFIG_MODULE_FORCE_UNLOAD: taint R).
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int __init noexit_init(void)
{
	pr_info("noexit: loaded for good\n");
	return 0;
}

module_init(noexit_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A module without an exit function");
