// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs_lab - debugfs from a lab: a directory with value files (u8, u32, x32, bool, a
 * read-only u64) and a file with its own file_operations (simple_read_from_buffer).
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static struct dentry *dir;
static u8 small = 7;
static u32 counter = 42;
static u32 flags = 0xbeef;
static bool enabled = true;
static u64 total = 123456789;
static char note[] = "debugfs_lab says hello\n";

static ssize_t note_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	return simple_read_from_buffer(buf, count, ppos, file->private_data ?: note,
				       sizeof(note) - 1);
}

static const struct file_operations note_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.read = note_read,
	.llseek = default_llseek,
};

static int __init debugfs_lab_init(void)
{
	dir = debugfs_create_dir("debugfs_lab", NULL);
	debugfs_create_u8("small", 0644, dir, &small);
	debugfs_create_u32("counter", 0644, dir, &counter);
	debugfs_create_x32("flags", 0600, dir, &flags);
	debugfs_create_bool("enabled", 0644, dir, &enabled);
	debugfs_create_u64("total", 0444, dir, &total);
	debugfs_create_file("note", 0444, dir, NULL, &note_fops);
	return 0;
}

static void __exit debugfs_lab_exit(void)
{
	debugfs_remove_recursive(dir);
	pr_info("debugfs_lab: counter %u small %u flags %#x enabled %d\n", counter, small, flags,
		enabled);
}

module_init(debugfs_lab_init);
module_exit(debugfs_lab_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: debugfs value files and a file with its own fops");
