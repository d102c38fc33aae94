// SPDX-License-Identifier: GPL-2.0
/*
 * chardev - the classic OS-course module: a character device with a dynamic major, a
 * device class and node, a /proc entry and a wait queue, all set up in init and torn
 * down in exit. Nothing here runs after init: the point is the registration calls.
 */
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/wait.h>

static dev_t devno;
static struct cdev cdev;
static struct class *cls;
static struct proc_dir_entry *proc;
static DECLARE_WAIT_QUEUE_HEAD(readers);

static int chardev_open(struct inode *inode, struct file *file)
{
	return 0;
}

static const struct file_operations fops = {
	.owner = THIS_MODULE,
	.open = chardev_open,
};

static int chardev_show(struct seq_file *m, void *v)
{
	seq_printf(m, "chardev %d:%d\n", MAJOR(devno), MINOR(devno));
	return 0;
}

static int __init chardev_init(void)
{
	int err;
	struct device *dev;

	err = alloc_chrdev_region(&devno, 0, 1, "kmodsim_chardev");
	if (err)
		return err;
	pr_info("chardev: got major %d minor %d\n", MAJOR(devno), MINOR(devno));
	cdev_init(&cdev, &fops);
	err = cdev_add(&cdev, devno, 1);
	if (err)
		goto unregister;
	cls = class_create(THIS_MODULE, "kmodsim_chardev");
	if (IS_ERR(cls)) {
		err = PTR_ERR(cls);
		goto del_cdev;
	}
	dev = device_create(cls, NULL, devno, NULL, "kmodsim%d", 0);
	if (IS_ERR(dev)) {
		err = PTR_ERR(dev);
		goto destroy_class;
	}
	proc = proc_create_single("kmodsim_chardev", 0444, NULL, chardev_show);
	if (!proc) {
		err = -ENOMEM;
		goto destroy_device;
	}
	pr_info("chardev: ready, wait queue %s\n",
		waitqueue_active(&readers) ? "busy" : "empty");
	return 0;

destroy_device:
	device_destroy(cls, devno);
destroy_class:
	class_destroy(cls);
del_cdev:
	cdev_del(&cdev);
unregister:
	unregister_chrdev_region(devno, 1);
	return err;
}

static void __exit chardev_exit(void)
{
	proc_remove(proc);
	device_destroy(cls, devno);
	class_destroy(cls);
	cdev_del(&cdev);
	unregister_chrdev_region(devno, 1);
	pr_info("chardev: released %d:%d\n", MAJOR(devno), MINOR(devno));
}

module_init(chardev_init);
module_exit(chardev_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A character device, a class, a /proc entry and a wait queue");
