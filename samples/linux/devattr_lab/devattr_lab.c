// SPDX-License-Identifier: GPL-2.0
/*
 * devattr_lab - device attributes: a class and a device (no devt) with DEVICE_ATTR_RW
 * "level" (0..9) and DEVICE_ATTR_RO "info" added by device_create_file, which reads the
 * driver data.
 */
#include <linux/device.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static struct class *cls;
static struct device *dev;
static int level = 3;
static char tag[] = "lab";

static ssize_t level_show(struct device *d, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", level);
}

static ssize_t level_store(struct device *d, struct device_attribute *attr, const char *buf,
			   size_t count)
{
	int v;

	if (kstrtoint(buf, 0, &v) || v < 0 || v > 9)
		return -EINVAL;
	level = v;
	dev_info(d, "level %d\n", v);
	return count;
}
static DEVICE_ATTR_RW(level);

static ssize_t info_show(struct device *d, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s %s level=%d\n", dev_name(d), (char *)dev_get_drvdata(d),
			  level);
}
static DEVICE_ATTR_RO(info);

static int __init devattr_lab_init(void)
{
	int err;

	cls = class_create(THIS_MODULE, "devattr_lab");
	if (IS_ERR(cls))
		return PTR_ERR(cls);
	dev = device_create(cls, NULL, 0, tag, "devattr%d", 0);
	if (IS_ERR(dev)) {
		class_destroy(cls);
		return PTR_ERR(dev);
	}
	err = device_create_file(dev, &dev_attr_level);
	if (!err)
		err = device_create_file(dev, &dev_attr_info);
	if (err) {
		device_destroy(cls, 0);
		class_destroy(cls);
	}
	return err;
}

static void __exit devattr_lab_exit(void)
{
	device_remove_file(dev, &dev_attr_info);
	device_remove_file(dev, &dev_attr_level);
	device_destroy(cls, 0);
	class_destroy(cls);
}

module_init(devattr_lab_init);
module_exit(devattr_lab_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: device attributes with device_create_file");
