// SPDX-License-Identifier: GPL-2.0
/*
 * wild_write - a store through a pointer that points nowhere useful.
 *
 * target=kernel    0xffffffffdeadbeef, in the module area far above any
 *                  module: not mapped, "BUG: unable to handle page fault",
 *                  error_code(0x0002) - not-present page
 * target=user      0x12345678, a user address nothing maps: with SMAP
 *                  the kernel may not touch user memory without
 *                  stac, so the fault is an oops, not a SIGSEGV
 * target=noncanon  0x4141414141414141: not canonical, so #GP ("general
 *                  protection fault, probably for non-canonical address")
 *
 * Each one kills insmod; the module stays Loading.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/string.h>

static char *target = "kernel";
module_param(target, charp, 0444);
MODULE_PARM_DESC(target, "kernel, user or noncanon");

static int __init wild_write_init(void)
{
	unsigned long addr;

	if (!strcmp(target, "kernel"))
		addr = 0xffffffffdeadbeefUL;
	else if (!strcmp(target, "user"))
		addr = 0x12345678UL;
	else if (!strcmp(target, "noncanon"))
		addr = 0x4141414141414141UL;
	else
		return -EINVAL;
	pr_info("wild_write: writing to %lx (%s)\n", addr, target);
	*(volatile unsigned long *)addr = 0x6b6b6b6b6b6b6b6bUL;
	pr_info("wild_write: survived\n");
	return 0;
}

static void __exit wild_write_exit(void)
{
}

module_init(wild_write_init);
module_exit(wild_write_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile: writes to an unmapped, a user and a non-canonical address");
