// SPDX-License-Identifier: GPL-2.0
/*
 * loop_forever - an init that is one jump to itself.
 *
 * `for (;;) ;` compiles to `jmp .`: no memory access, no call, nothing
 * for the kernel to see but the timer interrupt.  The kernel is not
 * preemptible here (Debian's PREEMPT_DYNAMIC boots "voluntary"), so on a
 * single CPU nothing else runs: the soft-lockup watchdog reports after
 * ~22 s (later if an RCU stall report comes first), insmod never returns.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int __init loop_forever_init(void)
{
	pr_info("loop_forever: looping\n");
	for (;;)
		;
	return 0;
}

static void __exit loop_forever_exit(void)
{
}

module_init(loop_forever_init);
module_exit(loop_forever_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile: an endless loop in init (jmp .)");
