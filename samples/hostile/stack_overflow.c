// SPDX-License-Identifier: GPL-2.0
/*
 * stack_overflow - recursion without end, one return address per call.
 *
 * descend() keeps nothing on the stack but the return address of its
 * recursive call (the empty asm keeps gcc from turning the recursion into
 * a loop), so the store that first reaches the guard page below the 16 KiB
 * kernel stack is always that call's push: "BUG: TASK stack guard page
 * was hit", a double fault, a panic.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static noinline unsigned long descend(unsigned long depth)
{
	unsigned long r = descend(depth + 1);

	asm volatile("" : "+r"(r));
	return r;
}

static int __init stack_overflow_init(void)
{
	pr_info("stack_overflow: descending\n");
	return descend(0) ? 0 : 0;
}

static void __exit stack_overflow_exit(void)
{
}

module_init(stack_overflow_init);
module_exit(stack_overflow_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile: endless recursion, 8 bytes of stack per call");
