// SPDX-License-Identifier: GPL-2.0
/*
 * huge_len - kernel string and memory functions given a huge length.
 *
 * op=memcmp: two buffers that differ in their first byte, compared over
 *   `len` bytes: memcmp stops at the first difference (returns at once).
 * op=memset / op=strncpy: `len` bytes written from the start of the last
 *   page-aligned 8 KiB of the module's .bss: the write runs off the end of
 *   the module's memory into the guard page after it, and the kernel
 *   oopses there (a page fault at the first address past the module).
 *
 * The pointers go through OPTIMIZER_HIDE_VAR, so CONFIG_FORTIFY_SOURCE does
 * not know the objects' sizes and the kernel's own functions get the length
 * (fortify=1 skips the hiding, but on one path only: still no check; fortify.c).
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/string.h>

static char *op = "memcmp";
module_param(op, charp, 0444);
static int fortify;
module_param(fortify, int, 0444);
static unsigned long len = 1UL << 32;
module_param(len, ulong, 0444);

static char left[64] = "a: first";
static char right[64] = "b: second";
static char area[8192] __aligned(4096);

static int __init huge_len_init(void)
{
	char *a = left, *b = right, *dst = area;

	if (!fortify) {
		OPTIMIZER_HIDE_VAR(a);
		OPTIMIZER_HIDE_VAR(b);
		OPTIMIZER_HIDE_VAR(dst);
	}
	pr_info("huge_len: %s over %lu bytes\n", op, len);
	if (!strcmp(op, "memcmp"))
		pr_info("huge_len: memcmp = %d\n", memcmp(a, b, len));
	else if (!strcmp(op, "memset"))
		memset(dst, 'x', len);
	else if (!strcmp(op, "strncpy"))
		strncpy(dst, "x", len);
	pr_info("huge_len: back\n");
	return 0;
}

static void __exit huge_len_exit(void)
{
}

module_init(huge_len_init);
module_exit(huge_len_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("memcmp, memset and strncpy over a huge length");
