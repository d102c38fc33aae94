// SPDX-License-Identifier: GPL-2.0
/*
 * timers - a timer_list that re-arms itself `shots` times, `period_ms` apart.
 *
 * The callback runs in softirq context (in_interrupt() and in_softirq() are
 * true there); rmmod cancels a timer still pending with del_timer_sync().
 */
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/timer.h>

static int shots = 3;
module_param(shots, int, 0444);
static int period_ms = 100;
module_param(period_ms, int, 0444);

static struct timer_list timer;
static int fired;

static void timers_fn(struct timer_list *t)
{
	fired++;
	pr_info("timers: fired %d in_interrupt=%d in_softirq=%d in_task=%d\n", fired,
		!!in_interrupt(), !!in_softirq(), !!in_task());
	if (fired < shots)
		mod_timer(&timer, jiffies + msecs_to_jiffies(period_ms));
}

static int __init timers_init(void)
{
	timer_setup(&timer, timers_fn, 0);
	mod_timer(&timer, jiffies + msecs_to_jiffies(period_ms));
	pr_info("timers: armed, pending=%d in_task=%d\n", timer_pending(&timer), !!in_task());
	return 0;
}

static void __exit timers_exit(void)
{
	int was_pending = del_timer_sync(&timer);

	pr_info("timers: exit after %d of %d, was pending=%d\n", fired, shots, was_pending);
}

module_init(timers_init);
module_exit(timers_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("a self re-arming timer");
