// SPDX-License-Identifier: GPL-2.0
/* A double free: the error path frees what the caller frees again. */
#include <linux/module.h>
#include <linux/slab.h>

static int fill(char *buf)
{
	if (strscpy(buf, "double", 32) < 0) {
		kfree(buf);
		return -EINVAL;
	}
	kfree(buf);		/* should not be here */
	return 0;
}

static int __init double_free_init(void)
{
	char *buf = kmalloc(32, GFP_KERNEL);

	if (!buf)
		return -ENOMEM;
	fill(buf);
	kfree(buf);		/* second free */
	pr_info("double_free: done\n");
	return 0;
}

static void __exit double_free_exit(void)
{
}

module_init(double_free_init);
module_exit(double_free_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: frees the same object twice");
