// SPDX-License-Identifier: GPL-2.0
/* A use-after-free: the object is read after kfree. */
#include <linux/module.h>
#include <linux/slab.h>

struct counter {
	int hits;
	int misses;
};

static int __init uaf_init(void)
{
	struct counter *c = kzalloc(sizeof(*c), GFP_KERNEL);
	int misses;

	if (!c)
		return -ENOMEM;
	c->hits = 1;
	c->misses = 2;
	kfree(c);
	misses = READ_ONCE(c->misses);		/* use after free */
	pr_info("uaf: misses=%d\n", misses);
	return 0;
}

static void __exit uaf_exit(void)
{
}

module_init(uaf_init);
module_exit(uaf_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: reads an object after freeing it");
