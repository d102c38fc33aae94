// SPDX-License-Identifier: GPL-2.0
/*
 * miscdev: a misc device with a dynamic minor, the shortest way to a /dev node.
 * misc_register fills in the minor it picked; init prints it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

static const struct file_operations miscdev_fops = {
	.owner = THIS_MODULE,
};

static struct miscdevice miscdev_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kmodsim_misc",
	.fops = &miscdev_fops,
};

static int __init miscdev_init(void)
{
	int err = misc_register(&miscdev_dev);

	if (err) {
		pr_err("misc_register failed: %d\n", err);
		return err;
	}
	pr_info("registered 10:%d\n", miscdev_dev.minor);
	return 0;
}

static void __exit miscdev_exit(void)
{
	misc_deregister(&miscdev_dev);
	pr_info("deregistered\n");
}

module_init(miscdev_init);
module_exit(miscdev_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: a misc device with a dynamic minor");
