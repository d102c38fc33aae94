// SPDX-License-Identifier: GPL-2.0
/*
 * loop_preempt - an endless loop in init that yields the CPU.
 *
 * cond_resched() lets every other task run and reports an RCU quiescent
 * state, so nothing ever complains: no soft lockup, no RCU stall, no hung
 * task (insmod is running, not blocked).  insmod just never returns; the
 * module stays "Loading" and the rest of the system carries on.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/sched.h>

static unsigned long rounds;

static int __init loop_preempt_init(void)
{
	pr_info("loop_preempt: looping\n");
	for (;;) {
		WRITE_ONCE(rounds, rounds + 1);
		cond_resched();
	}
	return 0;
}

static void __exit loop_preempt_exit(void)
{
}

module_init(loop_preempt_init);
module_exit(loop_preempt_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile: an endless loop in init that calls cond_resched()");
