// SPDX-License-Identifier: GPL-2.0
/*
 * kworker - a kthread_worker of the module's own: works queued on it run one
 * after the other in its thread; a delayed work `delay_ms` later; init flushes
 * the worker, rmmod cancels what is still pending and destroys it.
 */
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/sched.h>

static int delay_ms = 100;
module_param(delay_ms, int, 0444);

static struct kthread_worker *worker;
static struct kthread_work works[3];
static struct kthread_delayed_work dwork;
static int done;

static void work_fn(struct kthread_work *w)
{
	done++;
	pr_info("kworker: work %ld in %s, done=%d\n", (long)(w - works), current->comm, done);
}

static void dwork_fn(struct kthread_work *w)
{
	pr_info("kworker: delayed work in %s, done=%d\n", current->comm, done);
}

static int __init kworker_init(void)
{
	int i;

	worker = kthread_create_worker(0, "kmodsim_%s", "kw");
	if (IS_ERR(worker))
		return PTR_ERR(worker);
	for (i = 0; i < 3; i++) {
		kthread_init_work(&works[i], work_fn);
		kthread_queue_work(worker, &works[i]);
	}
	kthread_init_delayed_work(&dwork, dwork_fn);
	kthread_queue_delayed_work(worker, &dwork, msecs_to_jiffies(delay_ms));
	pr_info("kworker: queued, requeue=%d\n", kthread_queue_work(worker, &works[0]));
	kthread_flush_worker(worker);
	pr_info("kworker: flushed, done=%d\n", done);
	return 0;
}

static void __exit kworker_exit(void)
{
	bool was = kthread_cancel_delayed_work_sync(&dwork);

	kthread_destroy_worker(worker);
	pr_info("kworker: exit, delayed was pending=%d, done=%d\n", was, done);
}

module_init(kworker_init);
module_exit(kworker_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("a kthread_worker");
