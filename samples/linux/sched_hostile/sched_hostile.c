// SPDX-License-Identifier: GPL-2.0
/*
 * sched_hostile - what a scheduler must survive, chosen by `how`:
 *   0  init waits for a completion nobody completes (the task hangs for good)
 *   1  a kthread spins without ever sleeping
 *   2  two kthreads wake each other for ever (a storm of wakeups)
 *   3  a kthread sleeps 1 ms at a time until rmmod (many wakeups over time)
 *   4  init takes a mutex it already holds (a self-deadlock)
 *   5  a kthread waits for a completion nobody completes (khungtaskd reports it)
 */
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>

static int how;
module_param(how, int, 0444);

static DECLARE_COMPLETION(never);
static DEFINE_MUTEX(lock);
static struct task_struct *a, *b;
static unsigned long rounds;

static int spin_fn(void *data)
{
	while (!kthread_should_stop())
		rounds++;
	return 0;
}

static int ping_fn(void *data)
{
	struct task_struct **other = data;

	while (!kthread_should_stop()) {
		rounds++;
		set_current_state(TASK_INTERRUPTIBLE);
		if (*other)
			wake_up_process(*other);
		schedule();
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}

static int tick_fn(void *data)
{
	while (!kthread_should_stop()) {
		rounds++;
		msleep(1);
	}
	return 0;
}

static int wait_fn(void *data)
{
	wait_for_completion(&never);
	return 0;
}

static int __init sched_hostile_init(void)
{
	switch (how) {
	case 0:
		wait_for_completion(&never);
		break;
	case 1:
		a = kthread_run(spin_fn, NULL, "hostile_spin");
		break;
	case 2:
		a = kthread_run(ping_fn, &b, "hostile_ping");
		b = kthread_run(ping_fn, &a, "hostile_pong");
		break;
	case 3:
		a = kthread_run(tick_fn, NULL, "hostile_tick");
		break;
	case 4:
		mutex_lock(&lock);
		mutex_lock(&lock);
		break;
	case 5:
		kthread_run(wait_fn, NULL, "hostile_wait");
		break;
	}
	pr_info("sched_hostile: init done, how=%d\n", how);
	return 0;
}

static void __exit sched_hostile_exit(void)
{
	if (b && !IS_ERR(b))
		kthread_stop(b);
	if (a && !IS_ERR(a))
		kthread_stop(a);
	pr_info("sched_hostile: exit after %lu rounds\n", rounds);
}

module_init(sched_hostile_init);
module_exit(sched_hostile_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("hangs, spins and wakeup storms");
