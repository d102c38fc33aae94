// SPDX-License-Identifier: GPL-2.0
/*
 * locks - the lock kinds a course module meets, with what they do to the
 * preempt count, and RCU: spinlocks (plain, _bh, _irqsave, trylock), rwlocks,
 * a mutex (trylock), a semaphore handed between two kthreads, a rw-semaphore,
 * and an RCU-protected pointer replaced with call_rcu and kfree_rcu.
 */
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/rwsem.h>
#include <linux/semaphore.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

struct item {
	int value;
	struct rcu_head rcu;
};

static DEFINE_SPINLOCK(slock);
static DEFINE_RWLOCK(rwlock);
static DEFINE_MUTEX(mutex);
static DECLARE_RWSEM(rwsem);
static struct semaphore sem;
static struct item __rcu *current_item;
static struct task_struct *waiter;
static int handed;

static void item_free(struct rcu_head *head)
{
	struct item *it = container_of(head, struct item, rcu);

	pr_info("locks: rcu callback frees %d, in_softirq=%d\n", it->value, !!in_softirq());
	kfree(it);
}

static int waiter_fn(void *data)
{
	while (!kthread_should_stop()) {
		if (down_timeout(&sem, msecs_to_jiffies(100)))
			continue;
		handed++;
		pr_info("locks: waiter got the semaphore (%d)\n", handed);
	}
	return handed;
}

static int __init locks_init(void)
{
	unsigned long flags;
	struct item *it, *old;
	int i;

	spin_lock(&slock);
	pr_info("locks: spin_lock count=%#x trylock=%d\n", preempt_count(), spin_trylock(&slock));
	spin_unlock(&slock);
	spin_lock_bh(&slock);
	pr_info("locks: spin_lock_bh count=%#x in_softirq=%d\n", preempt_count(), !!in_softirq());
	spin_unlock_bh(&slock);
	spin_lock_irqsave(&slock, flags);
	pr_info("locks: irqsave count=%#x irqs_disabled=%d\n", preempt_count(), !!irqs_disabled());
	spin_unlock_irqrestore(&slock, flags);
	read_lock(&rwlock);
	read_lock(&rwlock);
	pr_info("locks: two readers count=%#x\n", preempt_count());
	read_unlock(&rwlock);
	read_unlock(&rwlock);
	write_lock_irq(&rwlock);
	pr_info("locks: writer count=%#x irqs_disabled=%d\n", preempt_count(), !!irqs_disabled());
	write_unlock_irq(&rwlock);

	mutex_lock(&mutex);
	pr_info("locks: mutex held, trylock=%d is_locked=%d\n", mutex_trylock(&mutex),
		mutex_is_locked(&mutex));
	mutex_unlock(&mutex);
	down_read(&rwsem);
	pr_info("locks: rwsem read, down_read_trylock=%d down_write_trylock=%d\n",
		down_read_trylock(&rwsem), down_write_trylock(&rwsem));
	up_read(&rwsem);
	up_read(&rwsem);
	down_write(&rwsem);
	pr_info("locks: rwsem write, down_read_trylock=%d\n", down_read_trylock(&rwsem));
	up_write(&rwsem);

	sema_init(&sem, 0);
	pr_info("locks: down_trylock=%d\n", down_trylock(&sem));
	waiter = kthread_run(waiter_fn, NULL, "locks_waiter");
	for (i = 0; i < 3; i++) {
		up(&sem);
		msleep(20);
	}

	for (i = 1; i <= 3; i++) {
		it = kmalloc(sizeof(*it), GFP_KERNEL);
		if (!it)
			return -ENOMEM;
		it->value = i;
		mutex_lock(&mutex);
		old = rcu_dereference_protected(current_item, lockdep_is_held(&mutex));
		rcu_assign_pointer(current_item, it);
		mutex_unlock(&mutex);
		if (old && old->value == 1)
			call_rcu(&old->rcu, item_free);
		else if (old)
			kfree_rcu(old, rcu);
	}
	synchronize_rcu();
	rcu_read_lock();
	pr_info("locks: rcu reader sees %d\n", rcu_dereference(current_item)->value);
	rcu_read_unlock();
	return 0;
}

static void __exit locks_exit(void)
{
	int got = kthread_stop(waiter);

	kfree_rcu(rcu_access_pointer(current_item), rcu);
	rcu_barrier();
	pr_info("locks: exit, waiter got %d\n", got);
}

module_init(locks_init);
module_exit(locks_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("spinlocks, rwlocks, mutex, semaphore, rwsem, RCU");
