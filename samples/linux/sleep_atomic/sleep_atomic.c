// SPDX-License-Identifier: GPL-2.0
/*
 * sleep_atomic - msleep() with a spinlock held: the scheduler finds the
 * preempt count raised and prints "BUG: scheduling while atomic"; the sleep
 * happens all the same and the module loads.
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/spinlock.h>

static DEFINE_SPINLOCK(lock);

static int __init sleep_atomic_init(void)
{
	unsigned long flags;

	spin_lock(&lock);
	pr_info("sleep_atomic: preempt_count=%d in_atomic=%d\n", preempt_count(), !!in_atomic());
	msleep(10);
	spin_unlock(&lock);
	spin_lock_irqsave(&lock, flags);
	pr_info("sleep_atomic: irqsave preempt_count=%d irqs_disabled=%d\n", preempt_count(),
		!!irqs_disabled());
	spin_unlock_irqrestore(&lock, flags);
	pr_info("sleep_atomic: after preempt_count=%d\n", preempt_count());
	return 0;
}

static void __exit sleep_atomic_exit(void)
{
	pr_info("sleep_atomic: exit\n");
}

module_init(sleep_atomic_init);
module_exit(sleep_atomic_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sleeping with a spinlock held");
