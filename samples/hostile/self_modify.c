// SPDX-License-Identifier: GPL-2.0
/*
 * self_modify - init writes into its own code.
 *
 * patch_me() returns 1; init overwrites its first bytes with
 * "mov $2, %eax; ret" and calls it.  Module text is read-only
 * (CONFIG_STRICT_MODULE_RWX), so the store faults: error_code(0x0003) -
 * permissions violation, insmod is killed.  A loader that left the text
 * writable would print "patch_me() = 2".
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static noinline int patch_me(void)
{
	asm volatile("" : : : "memory");
	return 1;
}

static const unsigned char patch[] = { 0xb8, 0x02, 0x00, 0x00, 0x00, 0xc3 };

static int __init self_modify_init(void)
{
	volatile unsigned char *code = (volatile unsigned char *)patch_me;
	int i;

	pr_info("self_modify: patch_me() = %d\n", patch_me());
	for (i = 0; i < sizeof(patch); i++)
		code[i] = patch[i];
	pr_info("self_modify: patch_me() = %d\n", patch_me());
	return 0;
}

static void __exit self_modify_exit(void)
{
}

module_init(self_modify_init);
module_exit(self_modify_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile: writes into its own .text");
