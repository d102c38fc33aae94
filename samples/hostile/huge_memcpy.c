// SPDX-License-Identifier: GPL-2.0
/*
 * huge_memcpy - memcpy() of 4 GiB between two one-page buffers.
 *
 * Both buffers come from vzalloc(PAGE_SIZE), each followed by a vmalloc
 * guard page.  The kernel's memcpy (rep movsb) reads a byte before it
 * writes it, so it faults reading the first byte past the source
 * (error_code 0x0000) and insmod is killed.  OPTIMIZER_HIDE_VAR keeps
 * FORTIFY_SOURCE from knowing the sizes, and gcc from inlining its own
 * rep movsb instead of calling the kernel's memcpy.
 */
#include <linux/compiler.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

static unsigned long len = 4UL << 30;
module_param(len, ulong, 0444);
MODULE_PARM_DESC(len, "bytes to copy (default 4 GiB)");

static int __init huge_memcpy_init(void)
{
	void *(*copy)(void *, const void *, __kernel_size_t) = memcpy;
	char *dst = vzalloc(PAGE_SIZE);
	char *src = vzalloc(PAGE_SIZE);

	if (!dst || !src) {
		vfree(dst);
		vfree(src);
		return -ENOMEM;
	}
	OPTIMIZER_HIDE_VAR(dst);
	OPTIMIZER_HIDE_VAR(src);
	OPTIMIZER_HIDE_VAR(copy);
	pr_info("huge_memcpy: %lu bytes from the %lu-byte buffer at %px to %px\n", len,
		PAGE_SIZE, src, dst);
	copy(dst, src, len);
	pr_info("huge_memcpy: survived\n");
	vfree(src);
	vfree(dst);
	return 0;
}

static void __exit huge_memcpy_exit(void)
{
}

module_init(huge_memcpy_init);
module_exit(huge_memcpy_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile: memcpy with a 4 GiB length between one-page buffers");
