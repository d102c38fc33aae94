// SPDX-License-Identifier: GPL-2.0
/*
 * Two mutexes taken in opposite orders: lock_a then lock_b in order_ab, lock_b then
 * lock_a in order_ba (one task, so nothing deadlocks, but two tasks could). With
 * recursive=1, init takes lock_a again while holding it (which deadlocks).
 */
#include <linux/module.h>
#include <linux/mutex.h>

static struct mutex lock_a;
static struct mutex lock_b;
static int shared;
static int recursive;
module_param(recursive, int, 0444);

static noinline void order_ab(void)
{
	mutex_lock(&lock_a);
	mutex_lock(&lock_b);
	shared++;
	mutex_unlock(&lock_b);
	mutex_unlock(&lock_a);
}

static noinline void order_ba(void)
{
	mutex_lock(&lock_b);
	mutex_lock(&lock_a);
	shared++;
	mutex_unlock(&lock_a);
	mutex_unlock(&lock_b);
}

static noinline void take_twice(void)
{
	mutex_lock(&lock_a);
	mutex_lock(&lock_a);			/* already held */
	shared++;
	mutex_unlock(&lock_a);
}

static int __init lock_order_init(void)
{
	mutex_init(&lock_a);
	mutex_init(&lock_b);
	if (recursive) {
		take_twice();
		return 0;
	}
	order_ab();
	order_ba();
	pr_info("lock_order: shared=%d\n", shared);
	return 0;
}

static void __exit lock_order_exit(void)
{
}

module_init(lock_order_init);
module_exit(lock_order_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: takes two mutexes in opposite orders");
