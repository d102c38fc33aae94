// SPDX-License-Identifier: GPL-2.0
/*
 * usercopy - a misc device whose read and write copy as many bytes as user space asks
 * for between the user buffer and a 16-byte kmalloc'ed object: more than 16 is the
 * classic overflow that CONFIG_HARDENED_USERCOPY stops (a BUG, the caller killed).
 */
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

static char *secret;

static ssize_t uc_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	unsigned long left;

	pr_info("usercopy: read %zu\n", count);
	left = copy_to_user(ubuf, secret, count);
	if (left)
		return -EFAULT;
	return count;
}

static ssize_t uc_write(struct file *file, const char __user *ubuf, size_t count,
			loff_t *ppos)
{
	pr_info("usercopy: write %zu\n", count);
	if (copy_from_user(secret, ubuf, count))
		return -EFAULT;
	return count;
}

static const struct file_operations uc_fops = {
	.owner = THIS_MODULE,
	.read = uc_read,
	.write = uc_write,
	.llseek = noop_llseek,
};

static struct miscdevice uc_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "usercopy",
	.fops = &uc_fops,
};

static int __init uc_init(void)
{
	secret = kmalloc(16, GFP_KERNEL);
	if (!secret)
		return -ENOMEM;
	strcpy(secret, "0123456789abcde");
	return misc_register(&uc_misc);
}

static void __exit uc_exit(void)
{
	misc_deregister(&uc_misc);
	kfree(secret);
}

module_init(uc_init);
module_exit(uc_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: copy_to_user past a slab object (hardened usercopy)");
