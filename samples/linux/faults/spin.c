// SPDX-License-Identifier: GPL-2.0
/*
 * spin - an init that never returns.
 *
 * Spins with interrupts on and never schedules, so after ~20 s the
 * soft-lockup watchdog reports "watchdog: BUG: soft lockup - CPU#0 stuck
 * for 22s! [insmod:N]"; insmod never comes back.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static unsigned long spins;
static int stop;
module_param(stop, int, 0444);
MODULE_PARM_DESC(stop, "nonzero: return at once");

static int __init spin_init(void)
{
	pr_info("spin: spinning\n");
	while (!READ_ONCE(stop))
		WRITE_ONCE(spins, spins + 1);
	return 0;
}

static void __exit spin_exit(void)
{
}

module_init(spin_init);
module_exit(spin_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Never finishes loading: an endless loop in init");
