// SPDX-License-Identifier: GPL-2.0
/*
 * counter - a submission kmodsim cannot run to the end (samples/grading/README.md):
 * init names its /proc file with kstrdup_const(), a kernel function kmodsim does
 * not simulate. Correct on the real kernel; `kmodsim check` lists the function.
 *
 * insmod counter.ko start=S steps=N keeps the N numbers S, S+1, ... in a
 * kmalloc'd array, prints their sum, and shows them in /proc/counter;
 * rmmod counter removes the file and frees the array.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

static int start;
module_param(start, int, 0444);
MODULE_PARM_DESC(start, "The first number (default 0)");

static int steps = 3;
module_param(steps, int, 0444);
MODULE_PARM_DESC(steps, "How many numbers, 1 to 100 (default 3)");

static const char *name;
static int *values;
static long sum;

static int counter_show(struct seq_file *m, void *v)
{
	seq_printf(m, "start=%d steps=%d sum=%ld\n", start, steps, sum);
	return 0;
}

static int __init counter_init(void)
{
	int i;

	if (steps < 1 || steps > 100) {
		pr_err("counter: invalid steps %d\n", steps);
		return -EINVAL;
	}
	values = kmalloc_array(steps, sizeof(*values), GFP_KERNEL);
	if (!values)
		return -ENOMEM;
	sum = 0;
	for (i = 0; i < steps; i++) {
		values[i] = start + i;
		sum += values[i];
	}
	name = kstrdup_const("counter", GFP_KERNEL);
	if (!name) {
		kfree(values);
		return -ENOMEM;
	}
	if (!proc_create_single(name, 0444, NULL, counter_show)) {
		kfree_const(name);
		kfree(values);
		return -ENOMEM;
	}
	pr_info("counter: start=%d steps=%d\n", start, steps);
	pr_info("counter: sum=%ld\n", sum);
	return 0;
}

static void __exit counter_exit(void)
{
	remove_proc_entry(name, NULL);
	kfree_const(name);
	kfree(values);
	pr_info("counter: bye\n");
}

module_init(counter_init);
module_exit(counter_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Lab: a counter with parameters and a /proc file");
