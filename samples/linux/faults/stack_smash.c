// SPDX-License-Identifier: GPL-2.0
/*
 * stack_smash - overflows a local char array into the stack canary.
 *
 * -fstack-protector-strong puts a canary after buf; the loop writes `len`
 * bytes (24 by default: 8 past the array, exactly over the canary and not
 * over the return address), the epilogue's check fails and calls
 * __stack_chk_fail: "Kernel panic - not syncing: stack-protector: Kernel
 * stack is corrupted in: fill+0x../0x.. [stack_smash]".  The kernel is dead.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int len = 24;
module_param(len, int, 0444);
MODULE_PARM_DESC(len, "bytes written into a 16-byte array");

static noinline int fill(int n)
{
	char buf[16];
	volatile int i;

	for (i = 0; i < n; i++)
		buf[i] = 'A' + i;
	return buf[3];
}

static int __init stack_smash_init(void)
{
	pr_info("stack_smash: writing %d bytes into char[16]\n", len);
	return fill(len) - 'D';
}

static void __exit stack_smash_exit(void)
{
}

module_init(stack_smash_init);
module_exit(stack_smash_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Panics on load: stack-protector failure");
