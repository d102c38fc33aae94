// SPDX-License-Identifier: GPL-2.0
/*
 * huge_memset - memset() of 4 GiB over a one-page buffer.
 *
 * The buffer comes from vzalloc(PAGE_SIZE), so the page after it is the
 * vmalloc guard page: the kernel's memset (rep stosb) writes the page and
 * faults on the first byte past it ("BUG: unable to handle page fault",
 * error_code 0x0002), and insmod is killed.  OPTIMIZER_HIDE_VAR hides the
 * buffer's size from FORTIFY_SOURCE, which would otherwise stop the call
 * with "detected buffer overflow in memset" before it starts, and the
 * function: called directly, gcc inlines its own rep stosb instead of
 * calling the kernel's memset.
 */
#include <linux/compiler.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

static unsigned long len = 4UL << 30;
module_param(len, ulong, 0444);
MODULE_PARM_DESC(len, "bytes to set (default 4 GiB)");

static int __init huge_memset_init(void)
{
	void *(*set)(void *, int, __kernel_size_t) = memset;
	char *buf = vzalloc(PAGE_SIZE);

	if (!buf)
		return -ENOMEM;
	OPTIMIZER_HIDE_VAR(buf);
	OPTIMIZER_HIDE_VAR(set);
	pr_info("huge_memset: %lu bytes over the %lu-byte buffer at %px\n", len, PAGE_SIZE, buf);
	set(buf, 0x5a, len);
	pr_info("huge_memset: survived\n");
	vfree(buf);
	return 0;
}

static void __exit huge_memset_exit(void)
{
}

module_init(huge_memset_init);
module_exit(huge_memset_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile: memset with a 4 GiB length over one page");
