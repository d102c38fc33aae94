// SPDX-License-Identifier: GPL-2.0
/*
 * kthreads - a kernel thread that ticks every `period_ms` until rmmod stops it.
 *
 * kthread_run() creates the thread and wakes it; the thread sleeps with
 * msleep() between ticks and leaves its loop once kthread_should_stop() says
 * so; kthread_stop() waits for it and returns what the thread function returned.
 * Its pid is the read-only parameter kt_pid (/sys/module/kthreads/parameters).
 */
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/sched.h>

static int period_ms = 300;
module_param(period_ms, int, 0444);
static int kt_pid;
module_param(kt_pid, int, 0444);

static struct task_struct *thread;

static int kthreads_fn(void *data)
{
	int ticks = 0;

	pr_info("kthreads: %s running, data=%s\n", current->comm, (char *)data);
	while (!kthread_should_stop()) {
		ticks++;
		pr_info("kthreads: tick %d\n", ticks);
		msleep(period_ms);
	}
	pr_info("kthreads: stopping after %d ticks\n", ticks);
	return ticks * 10;
}

static int __init kthreads_init(void)
{
	thread = kthread_run(kthreads_fn, "hello", "kmodsim_kt");
	if (IS_ERR(thread))
		return PTR_ERR(thread);
	kt_pid = thread->pid;
	pr_info("kthreads: started %s\n", thread->comm);
	return 0;
}

static void __exit kthreads_exit(void)
{
	int ret = kthread_stop(thread);

	pr_info("kthreads: kthread_stop returned %d\n", ret);
}

module_init(kthreads_init);
module_exit(kthreads_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("a kernel thread stopped at rmmod");
