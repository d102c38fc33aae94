// SPDX-License-Identifier: GPL-2.0
/*
 * deferred - top and bottom halves: an hrtimer (hard interrupt context) that
 * fires `shots` times, `period_ms` apart, and schedules a tasklet (softirq)
 * each time; the last tasklet completes a completion init waits for with a
 * timeout. A single-threaded workqueue (its rescuer thread shows in ps) runs a
 * work item under a mutex and a delayed one that mod_delayed_work moves.
 */
#include <linux/completion.h>
#include <linux/hrtimer.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>

static int shots = 3;
module_param(shots, int, 0444);
static int period_ms = 50;
module_param(period_ms, int, 0444);

static struct hrtimer hrt;
static struct tasklet_struct tasklet;
static struct workqueue_struct *wq;
static struct work_struct work;
static struct delayed_work dwork;
static DEFINE_MUTEX(lock);
static DECLARE_COMPLETION(done);
static DECLARE_COMPLETION(never);
static int fired, ran, counter;

static void tasklet_fn(struct tasklet_struct *t)
{
	ran++;
	pr_info("deferred: tasklet %d in_softirq=%d in_hardirq=%d\n", ran, !!in_softirq(),
		!!in_hardirq());
	if (ran == shots)
		complete(&done);
}

static enum hrtimer_restart hrt_fn(struct hrtimer *t)
{
	fired++;
	pr_info("deferred: hrtimer %d in_hardirq=%d in_interrupt=%d\n", fired, !!in_hardirq(),
		!!in_interrupt());
	tasklet_schedule(&tasklet);
	if (fired < shots) {
		hrtimer_forward_now(t, ms_to_ktime(period_ms));
		return HRTIMER_RESTART;
	}
	return HRTIMER_NORESTART;
}

static void work_fn(struct work_struct *w)
{
	mutex_lock(&lock);
	counter++;
	pr_info("deferred: work %d\n", counter);
	mutex_unlock(&lock);
}

static void dwork_fn(struct work_struct *w)
{
	pr_info("deferred: delayed work, counter=%d\n", counter);
}

static int __init deferred_init(void)
{
	unsigned long left;

	wq = create_singlethread_workqueue("kmodsim_st");
	if (!wq)
		return -ENOMEM;
	INIT_WORK(&work, work_fn);
	INIT_DELAYED_WORK(&dwork, dwork_fn);
	tasklet_setup(&tasklet, tasklet_fn);
	hrtimer_init(&hrt, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	hrt.function = hrt_fn;
	hrtimer_start(&hrt, ms_to_ktime(period_ms), HRTIMER_MODE_REL);

	queue_work(wq, &work);
	flush_workqueue(wq);
	queue_delayed_work(wq, &dwork, msecs_to_jiffies(5000));
	pr_info("deferred: moved=%d\n", mod_delayed_work(wq, &dwork, msecs_to_jiffies(10)));

	left = wait_for_completion_timeout(&done, msecs_to_jiffies(2000));
	pr_info("deferred: %s, hrtimer active=%d\n", left ? "completed in time" : "timed out",
		hrtimer_active(&hrt));
	left = wait_for_completion_timeout(&never, msecs_to_jiffies(20));
	pr_info("deferred: never %s\n", left ? "completed" : "timed out");
	queue_work(wq, &work);
	return 0;
}

static void __exit deferred_exit(void)
{
	pr_info("deferred: exit, cancel=%d\n", hrtimer_cancel(&hrt));
	tasklet_kill(&tasklet);
	cancel_delayed_work_sync(&dwork);
	destroy_workqueue(wq);
	pr_info("deferred: fired %d, tasklets %d, work %d\n", fired, ran, counter);
}

module_init(deferred_init);
module_exit(deferred_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("hrtimer, tasklet, completion with a timeout, a single-threaded workqueue");
