// SPDX-License-Identifier: GPL-2.0
/*
 * big_kmalloc - allocations no kernel can satisfy; init checks each one.
 *
 * kmalloc(1 GiB)   above the largest page order: __alloc_pages warns once
 *                  (order >= MAX_ORDER) and returns NULL
 * kvmalloc(4 GiB)  above INT_MAX: kvmalloc_node warns once, NULL
 * vmalloc(64 GiB)  more pages than the machine has: "vmalloc error: size
 *                  ..., exceeds total pages" with a stack dump and the
 *                  memory report, NULL
 * kmalloc(0)       ZERO_SIZE_PTR (0x10): not NULL, not memory either
 *
 * Init prints each result and returns 0: the module loads.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

static unsigned long size = 1UL << 30;
module_param(size, ulong, 0444);
MODULE_PARM_DESC(size, "kmalloc size (default 1 GiB)");
static unsigned long kvsize = 4UL << 30;
module_param(kvsize, ulong, 0444);
MODULE_PARM_DESC(kvsize, "kvmalloc size (default 4 GiB)");
static unsigned long vsize = 64UL << 30;
module_param(vsize, ulong, 0444);
MODULE_PARM_DESC(vsize, "vmalloc size (default 64 GiB)");

static int __init big_kmalloc_init(void)
{
	void *p;

	p = kmalloc(size, GFP_KERNEL);
	pr_info("big_kmalloc: kmalloc(%lu) = %px\n", size, p);
	kfree(p);
	p = kvmalloc(kvsize, GFP_KERNEL);
	pr_info("big_kmalloc: kvmalloc(%lu) = %px\n", kvsize, p);
	kvfree(p);
	p = vmalloc(vsize);
	pr_info("big_kmalloc: vmalloc(%lu) = %px\n", vsize, p);
	vfree(p);
	p = kmalloc(0, GFP_KERNEL);
	pr_info("big_kmalloc: kmalloc(0) = %px, ZERO_OR_NULL_PTR %d\n", p, ZERO_OR_NULL_PTR(p));
	kfree(p);
	return 0;
}

static void __exit big_kmalloc_exit(void)
{
}

module_init(big_kmalloc_init);
module_exit(big_kmalloc_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile: kmalloc, kvmalloc and vmalloc of impossible sizes");
