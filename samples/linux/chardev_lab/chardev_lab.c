// SPDX-License-Identifier: GPL-2.0
/*
 * chardev_lab - the char device lab of an OS course, driven from user space: a 64-byte
 * buffer behind /dev/chardev_lab (a dynamic major, or the static one given as major=),
 * one opener at a time, read/write/lseek through f_pos, ioctls (_IO reset, _IOR length,
 * _IOW fill byte), and a second device by register_chrdev with no node, for mknod.
 */
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/ioctl.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#define CLAB_SIZE 64
#define CLAB_RESET _IO('k', 0)
#define CLAB_GETLEN _IOR('k', 1, int)
#define CLAB_SETFILL _IOW('k', 2, int)

static int major;
module_param(major, int, 0444);

static dev_t devno;
static struct cdev cdev;
static struct class *cls;
static char *buf;
static size_t len;
static unsigned long busy;
static int legacy_major;

static int clab_open(struct inode *inode, struct file *file)
{
	if (test_and_set_bit(0, &busy))
		return -EBUSY;
	pr_info("chardev_lab: open minor %d flags %#o\n", iminor(inode), file->f_flags & O_ACCMODE);
	return 0;
}

static int clab_release(struct inode *inode, struct file *file)
{
	pr_info("chardev_lab: release\n");
	clear_bit(0, &busy);
	return 0;
}

static ssize_t clab_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	size_t n;

	if (*ppos >= len)
		return 0;
	n = min(count, (size_t)(len - *ppos));
	if (copy_to_user(ubuf, buf + *ppos, n))
		return -EFAULT;
	*ppos += n;
	pr_info("chardev_lab: read %zu at %lld\n", n, *ppos - n);
	return n;
}

static ssize_t clab_write(struct file *file, const char __user *ubuf, size_t count,
			  loff_t *ppos)
{
	size_t n;

	if (*ppos >= CLAB_SIZE)
		return -ENOSPC;
	n = min(count, (size_t)(CLAB_SIZE - *ppos));
	if (copy_from_user(buf + *ppos, ubuf, n))
		return -EFAULT;
	*ppos += n;
	if (*ppos > len)
		len = *ppos;
	pr_info("chardev_lab: wrote %zu, length %zu\n", n, len);
	return n;
}

static long clab_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	int fill;

	switch (cmd) {
	case CLAB_RESET:
		len = 0;
		return 0;
	case CLAB_GETLEN:
		return put_user((int)len, (int __user *)arg);
	case CLAB_SETFILL:
		if (get_user(fill, (int __user *)arg))
			return -EFAULT;
		memset(buf, fill, CLAB_SIZE);
		len = CLAB_SIZE;
		return 0;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations clab_fops = {
	.owner = THIS_MODULE,
	.open = clab_open,
	.release = clab_release,
	.read = clab_read,
	.write = clab_write,
	.llseek = default_llseek,
	.unlocked_ioctl = clab_ioctl,
};

static ssize_t legacy_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	static const char msg[] = "legacy device\n";

	return simple_read_from_buffer(ubuf, count, ppos, msg, sizeof(msg) - 1);
}

static const struct file_operations legacy_fops = {
	.owner = THIS_MODULE,
	.read = legacy_read,
	.llseek = no_llseek,
};

static int __init clab_init(void)
{
	int err;
	struct device *dev;

	buf = kzalloc(CLAB_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (major) {
		devno = MKDEV(major, 0);
		err = register_chrdev_region(devno, 1, "chardev_lab");
	} else {
		err = alloc_chrdev_region(&devno, 0, 1, "chardev_lab");
	}
	if (err)
		goto free_buf;
	cdev_init(&cdev, &clab_fops);
	cdev.owner = THIS_MODULE;
	err = cdev_add(&cdev, devno, 1);
	if (err)
		goto unregister;
	cls = class_create(THIS_MODULE, "chardev_lab");
	if (IS_ERR(cls)) {
		err = PTR_ERR(cls);
		goto del;
	}
	dev = device_create(cls, NULL, devno, NULL, "chardev_lab");
	if (IS_ERR(dev)) {
		err = PTR_ERR(dev);
		goto destroy;
	}
	legacy_major = register_chrdev(0, "clab_legacy", &legacy_fops);
	if (legacy_major < 0) {
		err = legacy_major;
		goto device;
	}
	pr_info("chardev_lab: major %d, legacy major %d\n", MAJOR(devno), legacy_major);
	return 0;
device:
	device_destroy(cls, devno);
destroy:
	class_destroy(cls);
del:
	cdev_del(&cdev);
unregister:
	unregister_chrdev_region(devno, 1);
free_buf:
	kfree(buf);
	return err;
}

static void __exit clab_exit(void)
{
	unregister_chrdev(legacy_major, "clab_legacy");
	device_destroy(cls, devno);
	class_destroy(cls);
	cdev_del(&cdev);
	unregister_chrdev_region(devno, 1);
	kfree(buf);
	pr_info("chardev_lab: unloaded\n");
}

module_init(clab_init);
module_exit(clab_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: a char device lab driven from user space");
