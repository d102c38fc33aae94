// SPDX-License-Identifier: GPL-2.0
/*
 * tasks - walk the task list starting from `current`.
 *
 * Every task_struct sits on one circular list through its ->tasks member
 * (init_task, pid 0, is on it too).  Starting from the loading process
 * (insmod) and following ->tasks visits every other process once.
 * `current` on x86-64 is a per-CPU load (%gs-relative) of current_task,
 * so the module references a per-CPU symbol of the kernel.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>

static void show_task(const char *tag, struct task_struct *p)
{
	pr_info("tasks: %s pid %d comm %s\n", tag, p->pid, p->comm);
}

static int __init tasks_init(void)
{
	struct task_struct *me = current;
	struct task_struct *p;
	unsigned int n = 1;

	show_task("current", me);

	rcu_read_lock();
	list_for_each_entry_rcu(p, &me->tasks, tasks) {
		show_task("next", p);
		n++;
	}
	rcu_read_unlock();

	pr_info("tasks: %u tasks in all\n", n);
	return 0;
}

static void __exit tasks_exit(void)
{
	show_task("exit from", current);
}

module_init(tasks_init);
module_exit(tasks_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kmodsim samples");
MODULE_DESCRIPTION("List processes by following current->tasks");
