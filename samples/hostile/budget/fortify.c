// SPDX-License-Identifier: GPL-2.0
/*
 * fortify - memcmp over `len` bytes of two 64-byte arrays whose sizes the
 * compiler knows: CONFIG_FORTIFY_SOURCE's check, inlined in the module, calls
 * fortify_panic("memcmp") before memcmp runs: "detected buffer overflow in
 * memcmp", then BUG() in the kernel.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/string.h>

static unsigned long len = 1UL << 32;
module_param(len, ulong, 0444);

static char left[64] = "a: first";
static char right[64] = "b: second";

static int __init fortify_init(void)
{
	pr_info("fortify: memcmp over %lu bytes\n", len);
	pr_info("fortify: memcmp = %d\n", memcmp(left, right, len));
	return 0;
}

static void __exit fortify_exit(void)
{
}

module_init(fortify_init);
module_exit(fortify_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("memcmp past its arrays: fortify_panic");
