// SPDX-License-Identifier: GPL-2.0
/*
 * tasks_corrupt - init damages current->tasks, the task list link of the
 * insmod process that loads it, and returns 0.
 *
 * how=loop    current->tasks points at itself; its neighbours still point
 *             at it.  Unlinking insmod when it is reaped passes
 *             CONFIG_DEBUG_LIST's checks, but leaves the list's tail
 *             pointing at the dead task: the next fork (rmmod) fails
 *             __list_add_valid ("list_add corruption"), a BUG
 *             (CONFIG_BUG_ON_DATA_CORRUPTION) under tasklist_lock.
 * how=poison  list_del(&current->tasks): the list is sound without
 *             insmod, but its own links are LIST_POISON1/2, so reaping
 *             it fails __list_del_entry_valid ("list_del corruption").
 *
 * Either way the BUG hits a process holding tasklist_lock with interrupts
 * off; it dies trying to take the lock again, and the machine stops.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/string.h>

static char *how = "loop";
module_param(how, charp, 0444);
MODULE_PARM_DESC(how, "loop or poison");

static int __init tasks_corrupt_init(void)
{
	struct list_head *tasks = &current->tasks;

	pr_info("tasks_corrupt: %s, pid %d\n", how, current->pid);
	if (!strcmp(how, "loop"))
		tasks->next = tasks->prev = tasks;
	else if (!strcmp(how, "poison"))
		list_del(tasks);
	else
		return -EINVAL;
	return 0;
}

static void __exit tasks_corrupt_exit(void)
{
	pr_info("tasks_corrupt: exit\n");
}

module_init(tasks_corrupt_init);
module_exit(tasks_corrupt_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile: corrupts current->tasks and returns");
