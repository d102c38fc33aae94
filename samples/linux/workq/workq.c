// SPDX-License-Identifier: GPL-2.0
/*
 * workq - work items on the system workqueue and on one of the module's own.
 *
 * init queues a work item on its own workqueue and waits for it with a
 * completion; a delayed work item runs `delay_ms` later, in a kworker; the
 * system workqueue gets one more (schedule_work). rmmod cancels the delayed
 * work if it is still pending and destroys the workqueue.
 */
#include <linux/completion.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/workqueue.h>

static int delay_ms = 200;
module_param(delay_ms, int, 0444);

static struct workqueue_struct *wq;
static struct work_struct work, sys_work;
static struct delayed_work dwork;
static DECLARE_COMPLETION(done);

static void work_fn(struct work_struct *w)
{
	pr_info("workq: work runs in_task=%d kworker=%d\n", !!in_task(),
		!strncmp(current->comm, "kworker/", 8));
	complete(&done);
}

static void sys_work_fn(struct work_struct *w)
{
	pr_info("workq: system work runs\n");
}

static void dwork_fn(struct work_struct *w)
{
	pr_info("workq: delayed work runs in_task=%d\n", !!in_task());
}

static int __init workq_init(void)
{
	wq = alloc_workqueue("kmodsim_wq", 0, 0);
	if (!wq)
		return -ENOMEM;
	INIT_WORK(&work, work_fn);
	INIT_WORK(&sys_work, sys_work_fn);
	INIT_DELAYED_WORK(&dwork, dwork_fn);
	queue_work(wq, &work);
	wait_for_completion(&done);
	pr_info("workq: init saw the work complete\n");
	schedule_work(&sys_work);
	queue_delayed_work(wq, &dwork, msecs_to_jiffies(delay_ms));
	pr_info("workq: delayed work pending=%d\n", delayed_work_pending(&dwork));
	return 0;
}

static void __exit workq_exit(void)
{
	bool was = cancel_delayed_work_sync(&dwork);

	flush_work(&sys_work);
	destroy_workqueue(wq);
	pr_info("workq: exit, delayed work was pending=%d\n", was);
}

module_init(workq_init);
module_exit(workq_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("work items, a delayed one, a completion");
