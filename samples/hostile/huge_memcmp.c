// SPDX-License-Identifier: GPL-2.0
/*
 * huge_memcmp - memcmp() of 4 GiB over two equal one-page buffers.
 *
 * Both buffers are zeroed pages from vzalloc(), so they compare equal up
 * to their end and memcmp reads on into the vmalloc guard page: a read
 * fault (error_code 0x0000) in lib/string.c's memcmp, insmod is killed.
 * OPTIMIZER_HIDE_VAR keeps FORTIFY_SOURCE from knowing the sizes.
 */
#include <linux/compiler.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

static unsigned long len = 4UL << 30;
module_param(len, ulong, 0444);
MODULE_PARM_DESC(len, "bytes to compare (default 4 GiB)");

static int __init huge_memcmp_init(void)
{
	char *a = vzalloc(PAGE_SIZE);
	char *b = vzalloc(PAGE_SIZE);
	int diff;

	if (!a || !b) {
		vfree(a);
		vfree(b);
		return -ENOMEM;
	}
	OPTIMIZER_HIDE_VAR(a);
	OPTIMIZER_HIDE_VAR(b);
	pr_info("huge_memcmp: %lu bytes of the %lu-byte buffers at %px and %px\n", len,
		PAGE_SIZE, a, b);
	diff = memcmp(a, b, len);
	pr_info("huge_memcmp: survived, memcmp = %d\n", diff);
	vfree(b);
	vfree(a);
	return 0;
}

static void __exit huge_memcmp_exit(void)
{
}

module_init(huge_memcmp_init);
module_exit(huge_memcmp_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile: memcmp with a 4 GiB length over one-page buffers");
