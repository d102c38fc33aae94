// SPDX-License-Identifier: GPL-2.0
/*
 * waitq - a producer and a consumer kthread around a counter, a mutex and a
 * wait queue.
 *
 * The producer makes `items` items, one every `period_ms`, and wakes the
 * queue; the consumer sleeps in wait_event_interruptible() until there is one,
 * takes it under the mutex (holding it for a while, so the producer finds the
 * mutex taken now and then). rmmod stops both threads.
 */
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/wait.h>

static int items = 4;
module_param(items, int, 0444);
static int period_ms = 100;
module_param(period_ms, int, 0444);

static DEFINE_MUTEX(lock);
static DECLARE_WAIT_QUEUE_HEAD(wq);
static int available, produced, consumed;
static struct task_struct *producer, *consumer;

static int producer_fn(void *data)
{
	while (!kthread_should_stop()) {
		if (produced < items) {
			mutex_lock(&lock);
			available++;
			produced++;
			pr_info("waitq: produced %d\n", produced);
			mutex_unlock(&lock);
			wake_up_interruptible(&wq);
		}
		msleep(period_ms);
	}
	return produced;
}

static int consumer_fn(void *data)
{
	while (!kthread_should_stop()) {
		if (wait_event_interruptible(wq, available > 0 || kthread_should_stop()))
			break;
		mutex_lock(&lock);
		if (available > 0) {
			available--;
			consumed++;
			pr_info("waitq: consumed %d\n", consumed);
			msleep(period_ms / 4);
		}
		mutex_unlock(&lock);
	}
	return consumed;
}

static int __init waitq_init(void)
{
	consumer = kthread_run(consumer_fn, NULL, "kmodsim_cons");
	if (IS_ERR(consumer))
		return PTR_ERR(consumer);
	producer = kthread_run(producer_fn, NULL, "kmodsim_prod");
	if (IS_ERR(producer)) {
		kthread_stop(consumer);
		return PTR_ERR(producer);
	}
	return 0;
}

static void __exit waitq_exit(void)
{
	int p = kthread_stop(producer);
	int c = kthread_stop(consumer);

	pr_info("waitq: producer made %d, consumer took %d\n", p, c);
}

module_init(waitq_init);
module_exit(waitq_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("producer and consumer kthreads with a wait queue and a mutex");
