// SPDX-License-Identifier: GPL-2.0
/* A leak in init: the buffer's only pointer is a local that goes out of scope. */
#include <linux/module.h>
#include <linux/slab.h>

static int __init leak_init_init(void)
{
	char *buf = kmalloc(64, GFP_KERNEL);

	if (!buf)
		return -ENOMEM;
	strscpy(buf, "leaked by leak_init", 64);
	pr_info("leak_init: made %s\n", buf);
	return 0;		/* buf is lost here */
}

static void __exit leak_init_exit(void)
{
	pr_info("leak_init: bye\n");
}

module_init(leak_init_init);
module_exit(leak_init_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: kmalloc'ed in init, never freed");
