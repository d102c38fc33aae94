// SPDX-License-Identifier: GPL-2.0
/*
 * proc_oops: a /proc file whose show function dereferences NULL. Loading is fine; the
 * oops comes when a reader (cat) runs show, and kills the reader, not insmod.
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

static int proc_oops_show(struct seq_file *m, void *v)
{
	int *p = NULL;

	seq_puts(m, "before\n");
	seq_printf(m, "%d\n", *(volatile int *)p);
	return 0;
}

static int __init proc_oops_init(void)
{
	if (!proc_create_single("proc_oops", 0444, NULL, proc_oops_show))
		return -ENOMEM;
	return 0;
}

static void __exit proc_oops_exit(void)
{
	remove_proc_entry("proc_oops", NULL);
}

module_init(proc_oops_init);
module_exit(proc_oops_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: an oops in a seq_file show function, on read");
