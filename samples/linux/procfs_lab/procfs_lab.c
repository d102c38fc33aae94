// SPDX-License-Identifier: GPL-2.0
/*
 * procfs_lab - the /proc lab: a directory /proc/procfs_lab with a write-only command file
 * ("add NAME", "del NAME", "clear"; anything else is EINVAL), a seq_file view of the list
 * (start/next/stop/show over a list_head, by proc_ops and by proc_create_seq) and a
 * single_open summary.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

struct item {
	struct list_head node;
	char name[32];
};

static LIST_HEAD(items);
static int count, added, deleted;
static struct proc_dir_entry *dir;

static struct item *find(const char *name)
{
	struct item *it;

	list_for_each_entry(it, &items, node)
		if (!strcmp(it->name, name))
			return it;
	return NULL;
}

static ssize_t cmd_write(struct file *file, const char __user *ubuf, size_t len, loff_t *ppos)
{
	char buf[48], *arg;
	struct item *it;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	strim(buf);
	arg = strchr(buf, ' ');
	if (arg)
		*arg++ = '\0';
	if (!strcmp(buf, "add") && arg && *arg) {
		it = kzalloc(sizeof(*it), GFP_KERNEL);
		if (!it)
			return -ENOMEM;
		strscpy(it->name, arg, sizeof(it->name));
		list_add_tail(&it->node, &items);
		count++;
		added++;
		pr_info("procfs_lab: added %s\n", it->name);
	} else if (!strcmp(buf, "del") && arg) {
		it = find(arg);
		if (!it)
			return -ENOENT;
		list_del(&it->node);
		kfree(it);
		count--;
		deleted++;
		pr_info("procfs_lab: deleted %s\n", arg);
	} else if (!strcmp(buf, "clear") && !arg) {
		struct item *next;

		list_for_each_entry_safe(it, next, &items, node) {
			list_del(&it->node);
			kfree(it);
		}
		count = 0;
		pr_info("procfs_lab: cleared\n");
	} else {
		pr_warn("procfs_lab: bad command '%s'\n", buf);
		return -EINVAL;
	}
	return len;
}

static const struct proc_ops cmd_ops = {
	.proc_write = cmd_write,
};

static void *list_start(struct seq_file *m, loff_t *pos)
{
	return seq_list_start(&items, *pos);
}

static void *list_next(struct seq_file *m, void *v, loff_t *pos)
{
	return seq_list_next(v, &items, pos);
}

static void list_stop(struct seq_file *m, void *v)
{
}

static int list_show(struct seq_file *m, void *v)
{
	struct item *it = list_entry(v, struct item, node);

	seq_printf(m, "item %-24s length %zu\n", it->name, strlen(it->name));
	return 0;
}

static const struct seq_operations list_seq_ops = {
	.start = list_start,
	.next = list_next,
	.stop = list_stop,
	.show = list_show,
};

static int list_open(struct inode *inode, struct file *file)
{
	return seq_open(file, &list_seq_ops);
}

static const struct proc_ops list_ops = {
	.proc_open = list_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = seq_release,
};

static int stats_show(struct seq_file *m, void *v)
{
	seq_printf(m, "count %d\nadded %d\ndeleted %d\n", count, added, deleted);
	seq_puts(m, "data ");
	seq_printf(m, "%s\n", (char *)m->private);
	return 0;
}

static int stats_open(struct inode *inode, struct file *file)
{
	return single_open(file, stats_show, pde_data(inode));
}

static const struct proc_ops stats_ops = {
	.proc_open = stats_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

static char tag[] = "procfs_lab";

static int __init procfs_lab_init(void)
{
	dir = proc_mkdir("procfs_lab", NULL);
	if (!dir)
		return -ENOMEM;
	if (!proc_create("cmd", 0200, dir, &cmd_ops) ||
	    !proc_create("list", 0444, dir, &list_ops) ||
	    !proc_create_data("stats", 0444, dir, &stats_ops, tag) ||
	    !proc_create_seq("seq", 0444, dir, &list_seq_ops)) {
		proc_remove(dir);
		return -ENOMEM;
	}
	return 0;
}

static void __exit procfs_lab_exit(void)
{
	struct item *it, *next;

	remove_proc_entry("stats", dir);
	proc_remove(dir);
	list_for_each_entry_safe(it, next, &items, node)
		kfree(it);
	pr_info("procfs_lab: unloaded with %d items\n", count);
}

module_init(procfs_lab_init);
module_exit(procfs_lab_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: a /proc directory, a command file and seq_file views");
