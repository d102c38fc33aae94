// SPDX-License-Identifier: GPL-2.0
/*
 * xorshift - a compute-bound init for the emulator benchmark (bench/emulator.py).
 *
 * init runs `rounds` rounds of Marsaglia's xorshift64 (no kernel calls inside the loop)
 * and prints the final state, so the result can be checked; `calls` extra calls to
 * ktime_get() measure what one kernel API call costs.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/module.h>

static unsigned long rounds = 1000;
module_param(rounds, ulong, 0444);
MODULE_PARM_DESC(rounds, "xorshift64 rounds to run in init");

static unsigned long calls;
module_param(calls, ulong, 0444);
MODULE_PARM_DESC(calls, "ktime_get() calls to make in init");

static int __init xorshift_init(void)
{
	u64 x = 88172645463325252ULL;
	unsigned long i;
	u64 t = 0;

	for (i = 0; i < rounds; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	for (i = 0; i < calls; i++)
		t += ktime_get();
	pr_info("xorshift: %lu rounds -> %016llx (%lu calls)\n", rounds, x, calls);
	return t == 1;	/* keep the calls; never true */
}

static void __exit xorshift_exit(void)
{
}

module_init(xorshift_init);
module_exit(xorshift_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Compute-bound init for the emulator benchmark");
