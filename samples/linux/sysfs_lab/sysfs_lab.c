// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs_lab - the sysfs lab: /sys/kernel/sysfs_lab with a read-write integer (0..100),
 * a read-write string, a read-only summary and a group "extra" with a derived value;
 * the module parameter threshold is changed through /sys/module/sysfs_lab/parameters.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/sysfs.h>

static int threshold = 10;
module_param(threshold, int, 0644);

static struct kobject *kobj;
static int value;
static char name[32] = "none";
static int writes;

static ssize_t value_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%d\n", value);
}

static ssize_t value_store(struct kobject *k, struct kobj_attribute *a, const char *buf,
			   size_t count)
{
	int v, err;

	err = kstrtoint(buf, 10, &v);
	if (err)
		return err;
	if (v < 0 || v > 100)
		return -ERANGE;
	value = v;
	writes++;
	pr_info("sysfs_lab: value %d%s\n", v, v > threshold ? " (over threshold)" : "");
	return count;
}

static ssize_t name_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%s\n", name);
}

static ssize_t name_store(struct kobject *k, struct kobj_attribute *a, const char *buf,
			  size_t count)
{
	if (count >= sizeof(name))
		return -EINVAL;
	strscpy(name, buf, sizeof(name));
	strim(name);
	writes++;
	return count;
}

static ssize_t stats_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	int n = sysfs_emit(buf, "value=%d name=%s\n", value, name);

	return n + sysfs_emit_at(buf, n, "writes=%d threshold=%d\n", writes, threshold);
}

static ssize_t double_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return sprintf(buf, "%d\n", 2 * value);
}

static struct kobj_attribute value_attr = __ATTR(value, 0644, value_show, value_store);
static struct kobj_attribute name_attr = __ATTR(name, 0644, name_show, name_store);
static struct kobj_attribute stats_attr = __ATTR_RO(stats);
static struct kobj_attribute double_attr = __ATTR(double, 0444, double_show, NULL);

static struct attribute *extra_attrs[] = { &double_attr.attr, NULL };
static const struct attribute_group extra_group = { .name = "extra", .attrs = extra_attrs };

static int __init sysfs_lab_init(void)
{
	int err;

	kobj = kobject_create_and_add("sysfs_lab", kernel_kobj);
	if (!kobj)
		return -ENOMEM;
	err = sysfs_create_file(kobj, &value_attr.attr);
	if (!err)
		err = sysfs_create_file(kobj, &name_attr.attr);
	if (!err)
		err = sysfs_create_file(kobj, &stats_attr.attr);
	if (!err)
		err = sysfs_create_group(kobj, &extra_group);
	if (err)
		kobject_put(kobj);
	return err;
}

static void __exit sysfs_lab_exit(void)
{
	sysfs_remove_group(kobj, &extra_group);
	kobject_put(kobj);
	pr_info("sysfs_lab: unloaded after %d writes\n", writes);
}

module_init(sysfs_lab_init);
module_exit(sysfs_lab_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: a kobject with sysfs attributes");
