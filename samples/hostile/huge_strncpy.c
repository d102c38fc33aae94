// SPDX-License-Identifier: GPL-2.0
/*
 * huge_strncpy - strncpy() of a short string with a 4 GiB count.
 *
 * strncpy pads the destination with zeros up to count bytes, so a
 * 6-byte source still writes 4 GiB: lib/string.c's strncpy faults writing
 * the first byte past the one-page vzalloc() buffer (error_code 0x0002),
 * and insmod is killed.  OPTIMIZER_HIDE_VAR keeps FORTIFY_SOURCE from
 * knowing the size.
 */
#include <linux/compiler.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

static unsigned long len = 4UL << 30;
module_param(len, ulong, 0444);
MODULE_PARM_DESC(len, "count given to strncpy (default 4 GiB)");

static int __init huge_strncpy_init(void)
{
	char *buf = vzalloc(PAGE_SIZE);

	if (!buf)
		return -ENOMEM;
	OPTIMIZER_HIDE_VAR(buf);
	pr_info("huge_strncpy: count %lu into the %lu-byte buffer at %px\n", len, PAGE_SIZE, buf);
	strncpy(buf, "hello", len);
	pr_info("huge_strncpy: survived: %s\n", buf);
	vfree(buf);
	return 0;
}

static void __exit huge_strncpy_exit(void)
{
}

module_init(huge_strncpy_init);
module_exit(huge_strncpy_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile: strncpy with a 4 GiB count into one page");
