// SPDX-License-Identifier: GPL-2.0
/* A heap overflow: a loop with <= writes one int past an 8-int array. */
#include <linux/module.h>
#include <linux/slab.h>

#define N 8

static int __init overflow_init(void)
{
	int *a = kmalloc_array(N, sizeof(int), GFP_KERNEL);
	int i, sum = 0;

	if (!a)
		return -ENOMEM;
	for (i = 0; i <= N; i++)		/* off by one */
		WRITE_ONCE(a[i], i * i);
	for (i = 0; i < N; i++)
		sum += a[i];
	pr_info("overflow: sum=%d\n", sum);
	kfree(a);
	return 0;
}

static void __exit overflow_exit(void)
{
}

module_init(overflow_init);
module_exit(overflow_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: writes one element past a kmalloc'ed array");
