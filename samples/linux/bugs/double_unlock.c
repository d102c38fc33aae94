// SPDX-License-Identifier: GPL-2.0
/*
 * A mutex unlocked twice (the default), or unlocked by another task than the one that
 * holds it (by_worker=1: init takes it, a work item releases it while init waits).
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>

static struct mutex du_lock;
static int by_worker;
module_param(by_worker, int, 0444);

static void du_release(struct work_struct *work)
{
	mutex_unlock(&du_lock);			/* not the owner's */
	pr_info("double_unlock: released by the worker\n");
}
static DECLARE_WORK(du_work, du_release);

static noinline void du_twice(void)
{
	mutex_lock(&du_lock);
	pr_info("double_unlock: in the critical section\n");
	mutex_unlock(&du_lock);
	mutex_unlock(&du_lock);			/* the second unlock */
	pr_info("double_unlock: unlocked twice\n");
}

static int __init double_unlock_init(void)
{
	mutex_init(&du_lock);
	if (by_worker) {
		mutex_lock(&du_lock);
		schedule_work(&du_work);
		flush_work(&du_work);
		return 0;
	}
	du_twice();
	return 0;
}

static void __exit double_unlock_exit(void)
{
}

module_init(double_unlock_init);
module_exit(double_unlock_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: unlocks a mutex twice, or from another task");
