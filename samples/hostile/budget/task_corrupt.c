// SPDX-License-Identifier: GPL-2.0
/*
 * task_corrupt - damage the loading process's place on the task list.
 *
 * how=1: list_del(&current->tasks): insmod leaves the list and its node is
 *   poisoned (LIST_POISON1/2); when the process is reaped, the kernel's own
 *   list_del finds the poison (CONFIG_DEBUG_LIST).
 * how=2: current->tasks.next = NULL.
 * how=3: list_del twice on a list of the module's own: the second one is
 *   caught by the module's own list_del (CONFIG_DEBUG_LIST).
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/sched.h>

static int how = 1;
module_param(how, int, 0444);

static LIST_HEAD(mine);
static struct list_head node;

static int __init task_corrupt_init(void)
{
	pr_info("task_corrupt: how=%d\n", how);
	if (how == 1)
		list_del(&current->tasks);
	else if (how == 2)
		current->tasks.next = NULL;
	else if (how == 3) {
		list_add(&node, &mine);
		list_del(&node);
		list_del(&node);
	}
	pr_info("task_corrupt: done\n");
	return 0;
}

static void __exit task_corrupt_exit(void)
{
}

module_init(task_corrupt_init);
module_exit(task_corrupt_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Corrupts the task list (or a list of its own)");
