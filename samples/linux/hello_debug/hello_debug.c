// SPDX-License-Identifier: GPL-2.0
/*
 * hello_debug - hello world that speaks through pr_debug().
 *
 * Built with -DDEBUG (see Kbuild), so with CONFIG_DYNAMIC_DEBUG the
 * pr_debug() call sites start out enabled and the messages reach the log
 * without touching /sys/kernel/debug/dynamic_debug/control.  The call
 * sites land in the __dyndbg section, and their static keys in
 * __jump_table.
 *
 * MODULE_VERSION makes modpost add a srcversion= entry to .modinfo.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int __init hello_debug_init(void)
{
	pr_debug("hello_debug: loaded\n");
	pr_info("hello_debug: pr_info is always on\n");
	return 0;
}

static void __exit hello_debug_exit(void)
{
	pr_debug("hello_debug: unloaded\n");
}

module_init(hello_debug_init);
module_exit(hello_debug_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kmodsim samples");
MODULE_DESCRIPTION("Hello world with pr_debug enabled by -DDEBUG");
MODULE_VERSION("1.2.3");
