// SPDX-License-Identifier: GPL-2.0
/*
 * forgot - a module whose exit forgets to stop what init started, chosen by
 * `what`: 0 a timer still pending, 1 a kthread still running, 2 a delayed work
 * item still queued. After rmmod the kernel runs code that is gone.
 */
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/timer.h>
#include <linux/workqueue.h>

static int what;
module_param(what, int, 0444);

static struct timer_list timer;
static struct delayed_work dwork;

static void timer_fn(struct timer_list *t)
{
	pr_info("forgot: timer fired\n");
}

static int thread_fn(void *data)
{
	while (!kthread_should_stop())
		msleep(200);
	return 0;
}

static void dwork_fn(struct work_struct *w)
{
	pr_info("forgot: work ran\n");
}

static int __init forgot_init(void)
{
	switch (what) {
	case 0:
		timer_setup(&timer, timer_fn, 0);
		mod_timer(&timer, jiffies + msecs_to_jiffies(500));
		break;
	case 1:
		kthread_run(thread_fn, NULL, "forgot_kt");
		break;
	case 2:
		INIT_DELAYED_WORK(&dwork, dwork_fn);
		schedule_delayed_work(&dwork, msecs_to_jiffies(500));
		break;
	}
	pr_info("forgot: started %d\n", what);
	return 0;
}

static void __exit forgot_exit(void)
{
	pr_info("forgot: exit, forgetting %d\n", what);
}

module_init(forgot_init);
module_exit(forgot_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("exit forgets the timer, the kthread or the work init started");
