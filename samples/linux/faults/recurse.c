// SPDX-License-Identifier: GPL-2.0
/*
 * recurse - runaway recursion until the kernel stack overflows.
 *
 * Each call keeps 64 bytes of locals and recurses before using them, so it
 * cannot become a loop.  The stack (16 KiB, vmap'ed with a guard page
 * below) runs out: "BUG: TASK stack guard page was hit at ...", a double
 * fault, a panic.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int limit = -1;
module_param(limit, int, 0444);
MODULE_PARM_DESC(limit, "depth to stop at (default -1: never)");

static noinline int dive(int depth)
{
	volatile char pad[64];

	pad[depth & 63] = depth;
	if (depth == limit)
		return 0;
	return dive(depth + 1) + pad[depth & 63];
}

static int __init recurse_init(void)
{
	pr_info("recurse: diving\n");
	return dive(0) ? 0 : 0;
}

static void __exit recurse_exit(void)
{
}

module_init(recurse_init);
module_exit(recurse_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Panics on load: kernel stack overflow");
