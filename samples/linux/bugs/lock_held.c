// SPDX-License-Identifier: GPL-2.0
/*
 * A mutex held when the syscall returns to user space: init returns holding it (the
 * default), or exit does (in_exit=1, at rmmod). Debian's kernel says nothing; a later
 * mutex_lock of it would sleep for ever.
 */
#include <linux/module.h>
#include <linux/mutex.h>

static struct mutex held_lock;
static int in_exit;
module_param(in_exit, int, 0444);

static noinline void held_take(void)
{
	mutex_lock(&held_lock);
	pr_info("lock_held: taken, never released\n");
}

static int __init lock_held_init(void)
{
	mutex_init(&held_lock);
	if (!in_exit)
		held_take();
	return 0;
}

static void __exit lock_held_exit(void)
{
	if (in_exit)
		held_take();
}

module_init(lock_held_init);
module_exit(lock_held_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: returns to user space holding a mutex");
