"""Sleeping and waking: schedule, msleep and friends, kthreads, wait queues, completions.

Each function behaves as 6.1's does on one CPU with voluntary preemption: where the real
one sleeps, the handler asks the scheduler (:mod:`emulator.sched`) to switch tasks and
returns nothing yet; the task's call returns its value when the task runs again.
Structures the module may look into are kept in guest memory as the kernel keeps them
(``task->__state``, a completion's ``done``, a wait queue's list of entries, a mutex's
owner); who waits for what is the scheduler's business.
"""

import errno
from collections import deque

from ..clock import HZ
from ..sched import (MAX_SCHEDULE_TIMEOUT, TASK_INTERRUPTIBLE, TASK_NORMAL, TASK_PARKED,
                     TASK_RUNNING, TASK_UNINTERRUPTIBLE, KThreadBody)
from .registry import INT, LONG, PTR, UINT, ULONG, kapi

ERESTARTSYS = 512
UINT_MAX = 0xFFFFFFFF
MAX_JIFFY_OFFSET = ((1 << 63) - 1 >> 1) - 1
WQ_FLAG_EXCLUSIVE, WQ_FLAG_WOKEN = 0x01, 0x02
# struct wait_queue_entry { flags; private @8; func @16; entry @24 }, wait_queue_head
# { lock; head @8 }, completion { done; swait_queue_head wait @8 }
WQE_PRIVATE, WQE_FUNC, WQE_ENTRY = 8, 16, 24
WQH_HEAD = 8
TASK_USAGE = 40             # task_struct.usage (refcount_t)


def _neg(m, e):
    return (-e) & m.mask


def _waiters(k, addr):
    """The tasks waiting on the object at ``addr`` (a completion, a mutex...), in order."""
    return k.sched.waiters.setdefault(addr, deque())


def _task(k, addr):
    return next((t for t in k.tasks.all if t.addr == addr), None) or \
        next((t for t in k.sched.kthread_tasks() if t.addr == addr), None)


# --------------------------------------------------------------------------- schedule

def _schedule(k, resume=None):
    """schedule(): sleep in the state the task set (``__state``), or just let the others
    run when it is TASK_RUNNING."""
    sched = k.sched
    state = sched.state_of(k.tasks.current)
    if state == TASK_RUNNING and not sched.runqueue:
        return resume() if resume else None
    return sched.block(state, resume=resume)


@kapi("sched.schedule")
def schedule(k, m):
    return _schedule(k)


@kapi("sched.io_schedule")
def io_schedule(k, m):
    return _schedule(k)


@kapi("sched.__cond_resched", "sched.__SCT__cond_resched", "sched.__SCT__might_resched")
def cond_resched(k, m):
    """A voluntary preemption point: the tasks waiting for the CPU go first. 1 if it
    rescheduled."""
    from ..faults import touch_watchdog
    touch_watchdog(k)
    if k.sched.runqueue and k.sched.can_block() and not k.sched.preempt_count():
        return k.sched.block(TASK_RUNNING, resume=lambda: 1)
    return 0


@kapi("sched.__SCT__preempt_schedule", "sched.__SCT__preempt_schedule_notrace",
      "sched.preempt_schedule", "sched.preempt_schedule_notrace")
def preempt_schedule(k, m):
    """preempt_enable() found a reschedule pending: the waiting tasks run."""
    if k.sched.runqueue and k.sched.can_block() and not k.sched.preempt_count():
        return k.sched.block(TASK_RUNNING)
    return None


@kapi("sched.yield")
def yield_(k, m):
    if k.sched.runqueue and k.sched.can_block():
        return k.sched.block(TASK_RUNNING)
    return None


def _schedule_timeout(k, timeout, state=None):
    """schedule_timeout(): sleep in ``state`` (default: as set) for at most ``timeout``
    jiffies; the jiffies left when woken."""
    sched = k.sched
    task = k.tasks.current
    if state is not None:
        sched.set_state(task, state)
    state = sched.state_of(task)
    if timeout == MAX_SCHEDULE_TIMEOUT:
        return _schedule(k, resume=lambda: MAX_SCHEDULE_TIMEOUT)
    if timeout < 0:
        sched.set_state(task, TASK_RUNNING)
        return 0
    if state == TASK_RUNNING:
        return _schedule(k, resume=lambda: timeout)
    return sched.block_jiffies(state, timeout)


@kapi("time.schedule_timeout", "sched.schedule_timeout", timeout=LONG)
def schedule_timeout(k, m, timeout):
    return _schedule_timeout(k, timeout)


@kapi("sched.io_schedule_timeout", timeout=LONG)
def io_schedule_timeout(k, m, timeout):
    return _schedule_timeout(k, timeout)


@kapi("sched.schedule_timeout_interruptible", timeout=LONG)
def schedule_timeout_interruptible(k, m, timeout):
    return _schedule_timeout(k, timeout, TASK_INTERRUPTIBLE)


@kapi("sched.schedule_timeout_killable", timeout=LONG)
def schedule_timeout_killable(k, m, timeout):
    return _schedule_timeout(k, timeout, TASK_INTERRUPTIBLE | 0x100)


@kapi("sched.schedule_timeout_uninterruptible", timeout=LONG)
def schedule_timeout_uninterruptible(k, m, timeout):
    return _schedule_timeout(k, timeout, TASK_UNINTERRUPTIBLE)


@kapi("sched.schedule_timeout_idle", timeout=LONG)
def schedule_timeout_idle(k, m, timeout):
    return _schedule_timeout(k, timeout, TASK_UNINTERRUPTIBLE | 0x400)


def msecs_to_jiffies(msecs):
    """``__msecs_to_jiffies`` at HZ=250: rounded up; a negative or huge count is the
    longest timeout."""
    if msecs >> 31:
        return MAX_JIFFY_OFFSET
    per = 1000 // HZ
    return (msecs + per - 1) // per


@kapi("time.__msecs_to_jiffies", m_=UINT)
def msecs_to_jiffies_(k, m, m_):
    return msecs_to_jiffies(m_)


@kapi("time.__usecs_to_jiffies", u=UINT)
def usecs_to_jiffies(k, m, u):
    if u >> 31:
        return MAX_JIFFY_OFFSET
    per = 1_000_000 // HZ
    return (u + per - 1) // per


@kapi("time.jiffies_to_msecs", j=ULONG)
def jiffies_to_msecs(k, m, j):
    return (j * (1000 // HZ)) & 0xFFFFFFFF


@kapi("time.jiffies_to_usecs", j=ULONG)
def jiffies_to_usecs(k, m, j):
    return (j * (1_000_000 // HZ)) & 0xFFFFFFFF


@kapi("time.msleep", "sched.msleep", msecs=UINT)
def msleep(k, m, msecs):
    """msleep(): msecs_to_jiffies(msecs) + 1 jiffies, uninterruptibly, whoever wakes it."""
    return k.sched.block_jiffies(TASK_UNINTERRUPTIBLE, msecs_to_jiffies(msecs) + 1,
                                 resume_remaining=lambda left: None, until_timeout=True)


@kapi("time.msleep_interruptible", "sched.msleep_interruptible", msecs=UINT)
def msleep_interruptible(k, m, msecs):
    """No signal reaches a module's sleep here: it sleeps the whole time, returns 0."""
    return k.sched.block_jiffies(TASK_INTERRUPTIBLE, msecs_to_jiffies(msecs) + 1,
                                 resume_remaining=lambda left: 0, until_timeout=True)


@kapi("time.usleep_range_state", "sched.usleep_range_state", min_=ULONG, max_=ULONG, state=UINT)
def usleep_range_state(k, m, min_, max_, state):
    """An hrtimer with the range [min, max]: on an idle CPU it fires at max."""
    return k.sched.block(state or TASK_UNINTERRUPTIBLE, timeout_ns=max(max_, min_) * 1000,
                         until_timeout=True)


@kapi("sched.schedule_hrtimeout_range", expires=PTR, delta=ULONG, mode=UINT)
def schedule_hrtimeout_range(k, m, expires, delta, mode):
    ns = m.read_int(expires, 8, signed=True) if expires else None
    if ns is None:
        return _schedule(k, resume=lambda: 0)
    if not mode & 1:                        # HRTIMER_MODE_ABS: an absolute CLOCK_MONOTONIC
        ns -= k.time.ns
    state = k.sched.state_of(k.tasks.current) or TASK_UNINTERRUPTIBLE
    return k.sched.block(state, timeout_ns=max(ns + delta, 0), resume=lambda: 0)


@kapi("sched.schedule_hrtimeout", expires=PTR, mode=UINT)
def schedule_hrtimeout(k, m, expires, mode):
    return schedule_hrtimeout_range.__wrapped__(k, m, expires, 0, mode)


# --------------------------------------------------------------------------- waking

@kapi("sched.wake_up_process", p=PTR)
def wake_up_process(k, m, p):
    return int(k.sched.wake(_task(k, p), TASK_NORMAL))


@kapi("sched.wake_up_state", p=PTR, state=UINT)
def wake_up_state(k, m, p, state):
    return int(k.sched.wake(_task(k, p), state))


@kapi("sched.set_user_nice", p=PTR, nice=LONG)
def set_user_nice(k, m, p, nice):
    """Priorities make no difference to the order kmodsim runs tasks in."""
    return None


@kapi("sched.sched_set_fifo", "sched.sched_set_fifo_low", "sched.sched_set_normal", p=PTR)
def sched_set_policy(k, m, p):
    return None


# --------------------------------------------------------------------------- kthreads

@kapi("devices.kthread_create_on_node", "sched.kthread_create_on_node", threadfn=PTR,
      data=PTR, node=INT, namefmt=PTR)
def kthread_create_on_node(k, m, threadfn, data, node, namefmt):
    """kthreadd forks the thread while the caller waits (the tasks waiting for the CPU run
    meanwhile); the new task sleeps until woken (kthread_run wakes it at once)."""
    from .printk import RegArgs, kformat
    name, _ = kformat(k, m, namefmt, RegArgs(m, 4))
    task = k.sched.create_kthread(name.decode("latin-1")[:15], threadfn, data)
    make_body = k.sched.kthread_bodies.get(threadfn)     # kthread_worker_fn: a worker
    task.body = (make_body(task) if make_body else None) or KThreadBody()
    if k.sched.runqueue and k.sched.can_block():
        return k.sched.block(TASK_RUNNING, resume=lambda: task.addr)
    return task.addr


@kapi("sched.kthread_bind", p=PTR, cpu=UINT)
def kthread_bind(k, m, p, cpu):
    return None


@kapi("devices.kthread_should_stop", "sched.kthread_should_stop")
def kthread_should_stop(k, m):
    kt = k.tasks.current.kthread if k.tasks.current else None
    return int(bool(kt and kt.should_stop))


@kapi("sched.kthread_should_park")
def kthread_should_park(k, m):
    kt = k.tasks.current.kthread if k.tasks.current else None
    return int(bool(kt and kt.should_park))


@kapi("sched.kthread_parkme")
def kthread_parkme(k, m):
    task = k.tasks.current
    kt = task.kthread
    if kt is None or not kt.should_park:
        return None
    kt.parked = True
    for waiter in list(_waiters(k, ("park", task.addr))):
        k.sched.wake(waiter, TASK_NORMAL)
    _waiters(k, ("park", task.addr)).clear()
    return k.sched.block(TASK_PARKED)


@kapi("sched.kthread_park", p=PTR)
def kthread_park(k, m, p):
    task = _task(k, p)
    kt = task.kthread if task else None
    if kt is None or kt.exited:
        return _neg(m, errno.ENOSYS)
    kt.should_park = True
    if task is k.tasks.current or kt.parked:
        return 0
    k.sched.wake(task, TASK_NORMAL)
    _waiters(k, ("park", task.addr)).append(k.tasks.current)
    return k.sched.block(TASK_UNINTERRUPTIBLE, resume=lambda: 0)


@kapi("sched.kthread_unpark", p=PTR)
def kthread_unpark(k, m, p):
    task = _task(k, p)
    kt = task.kthread if task else None
    if kt is None:
        return None
    kt.should_park = False
    if kt.parked:
        kt.parked = False
        k.sched.wake(task, TASK_PARKED)
    return None


@kapi("devices.kthread_stop", "sched.kthread_stop", tsk=PTR)
def kthread_stop(k, m, tsk):
    """Tell the thread to stop, wake it, wait for it to exit: what its threadfn returned
    (-EINTR if it never ran)."""
    # int kthread_stop(struct task_struct *k): ``tsk``, ``k`` being the Kernel
    task = _task(k, tsk)
    kt = task.kthread if task else None
    if kt is None:
        return _neg(m, errno.EINTR)
    kt.should_stop = True
    if kt.exited:
        return kt.result & m.mask
    kt.should_park = False
    k.sched.wake(task, TASK_NORMAL | TASK_PARKED)
    kt.stoppers.append(k.tasks.current)
    return k.sched.block(TASK_UNINTERRUPTIBLE, resume=lambda: kt.result & m.mask)


@kapi("sched.kthread_complete_and_exit", comp=PTR, code=LONG)
def kthread_complete_and_exit(k, m, comp, code):
    if comp:
        _complete(k, m, comp, all_=False)
    return _exit_current(k, code)


@kapi("sched.kthread_exit", result=LONG)
def kthread_exit(k, m, result):
    return _exit_current(k, result)


def _exit_current(k, code):
    task = k.tasks.current
    if task.kthread is None or not k.sched.in_slice:
        return None
    task.kthread.exiting = code
    return k.sched.block(TASK_UNINTERRUPTIBLE)


@kapi("sched.__put_task_struct", t=PTR)
def put_task_struct(k, m, t):
    return None


# --------------------------------------------------------------------------- wait queues

def _list_init(m, node):
    m.write_ptr(node, node)
    m.write_ptr(node + 8, node)


def _list_empty(m, node):
    return m.read_ptr(node) == node


def _list_add(m, new, prev, nxt):
    m.write_ptr(nxt + 8, new)
    m.write_ptr(new, nxt)
    m.write_ptr(new + 8, prev)
    m.write_ptr(prev, new)


def _list_del_init(m, node):
    nxt, prev = m.read_ptr(node), m.read_ptr(node + 8)
    m.write_ptr(nxt + 8, prev)
    m.write_ptr(prev, nxt)
    _list_init(m, node)


def _add_wait(m, wq_head, entry, tail=False):
    head = wq_head + WQH_HEAD
    if tail:
        _list_add(m, entry + WQE_ENTRY, m.read_ptr(head + 8), head)
    else:
        _list_add(m, entry + WQE_ENTRY, head, m.read_ptr(head))


@kapi("devices.__init_waitqueue_head", "sched.__init_waitqueue_head", wq_head=PTR, name=PTR,
      key=PTR)
def init_waitqueue_head(k, m, wq_head, name, key):
    m.write_int(wq_head, 4, 0)
    _list_init(m, wq_head + WQH_HEAD)


@kapi("sched.__init_swait_queue_head", q=PTR, name=PTR, key=PTR)
def init_swait_queue_head(k, m, q, name, key):
    m.write_int(q, 4, 0)
    _list_init(m, q + 8)


@kapi("sched.init_wait_entry", wq_entry=PTR, flags=INT)
def init_wait_entry(k, m, wq_entry, flags):
    m.write_int(wq_entry, 4, flags)
    m.write_ptr(wq_entry + WQE_PRIVATE, k.tasks.current.addr)
    m.write_ptr(wq_entry + WQE_FUNC, k.export_addr("autoremove_wake_function") or 0)
    _list_init(m, wq_entry + WQE_ENTRY)


@kapi("sched.prepare_to_wait_event", wq_head=PTR, wq_entry=PTR, state=INT)
def prepare_to_wait_event(k, m, wq_head, wq_entry, state):
    """No signal is ever pending for a module's task here: always 0."""
    if _list_empty(m, wq_entry + WQE_ENTRY):
        _add_wait(m, wq_head, wq_entry, tail=bool(m.read_int(wq_entry, 4) & WQ_FLAG_EXCLUSIVE))
    k.sched.set_state(k.tasks.current, state & 0xFFFFFFFF)
    return 0


@kapi("sched.prepare_to_wait", wq_head=PTR, wq_entry=PTR, state=INT)
def prepare_to_wait(k, m, wq_head, wq_entry, state):
    m.write_int(wq_entry, 4, m.read_int(wq_entry, 4) & ~WQ_FLAG_EXCLUSIVE)
    if _list_empty(m, wq_entry + WQE_ENTRY):
        _add_wait(m, wq_head, wq_entry)
    k.sched.set_state(k.tasks.current, state & 0xFFFFFFFF)


@kapi("sched.prepare_to_wait_exclusive", wq_head=PTR, wq_entry=PTR, state=INT)
def prepare_to_wait_exclusive(k, m, wq_head, wq_entry, state):
    m.write_int(wq_entry, 4, m.read_int(wq_entry, 4) | WQ_FLAG_EXCLUSIVE)
    was_empty = _list_empty(m, wq_head + WQH_HEAD)
    if _list_empty(m, wq_entry + WQE_ENTRY):
        _add_wait(m, wq_head, wq_entry, tail=True)
    k.sched.set_state(k.tasks.current, state & 0xFFFFFFFF)
    return int(was_empty)


@kapi("sched.finish_wait", wq_head=PTR, wq_entry=PTR)
def finish_wait(k, m, wq_head, wq_entry):
    k.sched.set_state(k.tasks.current, TASK_RUNNING)
    if not _list_empty(m, wq_entry + WQE_ENTRY):
        _list_del_init(m, wq_entry + WQE_ENTRY)


@kapi("sched.add_wait_queue", wq_head=PTR, wq_entry=PTR)
def add_wait_queue(k, m, wq_head, wq_entry):
    m.write_int(wq_entry, 4, m.read_int(wq_entry, 4) & ~WQ_FLAG_EXCLUSIVE)
    _add_wait(m, wq_head, wq_entry)


@kapi("sched.add_wait_queue_exclusive", wq_head=PTR, wq_entry=PTR)
def add_wait_queue_exclusive(k, m, wq_head, wq_entry):
    m.write_int(wq_entry, 4, m.read_int(wq_entry, 4) | WQ_FLAG_EXCLUSIVE)
    _add_wait(m, wq_head, wq_entry, tail=True)


@kapi("sched.remove_wait_queue", wq_head=PTR, wq_entry=PTR)
def remove_wait_queue(k, m, wq_head, wq_entry):
    if not _list_empty(m, wq_entry + WQE_ENTRY):
        _list_del_init(m, wq_entry + WQE_ENTRY)


def _wake_entry(k, m, entry, mode):
    """Call the entry's wake function (the kernel's own ones; a module's own is treated
    as default_wake_function): True if it woke its task."""
    func = m.read_ptr(entry + WQE_FUNC)
    task = _task(k, m.read_ptr(entry + WQE_PRIVATE))
    if func == k.export_addr("woken_wake_function"):
        m.write_int(entry, 4, m.read_int(entry, 4) | WQ_FLAG_WOKEN)
    woke = k.sched.wake(task, mode)
    if woke and func == k.export_addr("autoremove_wake_function"):
        _list_del_init(m, entry + WQE_ENTRY)
    return woke


def _wake_up(k, m, wq_head, mode, nr_exclusive):
    head = wq_head + WQH_HEAD
    node = m.read_ptr(head)
    seen = 0
    while node != head and node and seen < 100_000:
        seen += 1
        nxt = m.read_ptr(node)
        entry = node - WQE_ENTRY
        flags = m.read_int(entry, 4)
        if _wake_entry(k, m, entry, mode) and flags & WQ_FLAG_EXCLUSIVE:
            nr_exclusive -= 1
            if nr_exclusive == 0:
                break
        node = nxt
    k.budget.charge(seen * 10)


@kapi("devices.__wake_up", "sched.__wake_up", wq_head=PTR, mode=UINT, nr_exclusive=INT, key=PTR)
def wake_up(k, m, wq_head, mode, nr_exclusive, key):
    _wake_up(k, m, wq_head, mode, nr_exclusive)


@kapi("sched.__wake_up_locked", wq_head=PTR, mode=UINT, nr=INT)
def wake_up_locked(k, m, wq_head, mode, nr):
    _wake_up(k, m, wq_head, mode, nr)


@kapi("sched.__wake_up_locked_key", "sched.__wake_up_sync_key", wq_head=PTR, mode=UINT, key=PTR)
def wake_up_key(k, m, wq_head, mode, key):
    _wake_up(k, m, wq_head, mode, 1)


@kapi("sched.__wake_up_sync", wq_head=PTR, mode=UINT)
def wake_up_sync(k, m, wq_head, mode):
    _wake_up(k, m, wq_head, mode, 1)


@kapi("sched.autoremove_wake_function", "sched.default_wake_function",
      "sched.woken_wake_function", wq_entry=PTR, mode=UINT, sync=INT, key=PTR)
def wake_function(k, m, wq_entry, mode, sync, key):
    return int(_wake_entry(k, m, wq_entry, mode))


@kapi("sched.wait_woken", wq_entry=PTR, mode=UINT, timeout=LONG)
def wait_woken(k, m, wq_entry, mode, timeout):
    flags = m.read_int(wq_entry, 4)
    if flags & WQ_FLAG_WOKEN:
        m.write_int(wq_entry, 4, flags & ~WQ_FLAG_WOKEN)
        return timeout & m.mask

    def done(left):
        m.write_int(wq_entry, 4, m.read_int(wq_entry, 4) & ~WQ_FLAG_WOKEN)
        return left
    if timeout == MAX_SCHEDULE_TIMEOUT:
        return k.sched.block(mode, resume=lambda: done(timeout))
    return k.sched.block_jiffies(mode, timeout, resume_remaining=done)


# --------------------------------------------------------------------------- completions

def _complete(k, m, x, all_):
    if all_:
        m.write_int(x, 4, UINT_MAX)
    else:
        done = m.read_int(x, 4)
        if done != UINT_MAX:
            m.write_int(x, 4, done + 1)
    waiters = _waiters(k, x)
    while waiters:
        task = waiters.popleft()
        k.sched.wake(task, TASK_NORMAL)
        if not all_:
            break


@kapi("sched.complete", x=PTR)
def complete(k, m, x):
    _complete(k, m, x, all_=False)


@kapi("sched.complete_all", x=PTR)
def complete_all(k, m, x):
    _complete(k, m, x, all_=True)


def _take(m, x):
    done = m.read_int(x, 4)
    if not done:
        return False
    if done != UINT_MAX:
        m.write_int(x, 4, done - 1)
    return True


def _wait_for_completion(k, m, x, state, timeout, done_value, timeout_value):
    """do_wait_for_common: take one ``done`` or sleep until complete() or the timeout;
    ``done_value(left)`` / ``timeout_value`` are what the caller returns."""
    if _take(m, x):
        return done_value(timeout)
    task = k.tasks.current
    _waiters(k, x).append(task)

    def resume(left):
        if _take(m, x):
            return done_value(max(left, 1))
        if task in _waiters(k, x):
            _waiters(k, x).remove(task)
        return timeout_value
    if timeout == MAX_SCHEDULE_TIMEOUT:
        return k.sched.block(state, resume=lambda: resume(MAX_SCHEDULE_TIMEOUT))
    return k.sched.block_jiffies(state, timeout, resume_remaining=resume)


@kapi("sched.wait_for_completion", "sched.wait_for_completion_io", x=PTR)
def wait_for_completion(k, m, x):
    return _wait_for_completion(k, m, x, TASK_UNINTERRUPTIBLE, MAX_SCHEDULE_TIMEOUT,
                                lambda left: None, None)


@kapi("sched.wait_for_completion_timeout", "sched.wait_for_completion_io_timeout", x=PTR,
      timeout=ULONG)
def wait_for_completion_timeout(k, m, x, timeout):
    return _wait_for_completion(k, m, x, TASK_UNINTERRUPTIBLE, timeout, lambda left: left, 0)


@kapi("sched.wait_for_completion_interruptible", "sched.wait_for_completion_killable", x=PTR)
def wait_for_completion_interruptible(k, m, x):
    return _wait_for_completion(k, m, x, TASK_INTERRUPTIBLE, MAX_SCHEDULE_TIMEOUT,
                                lambda left: 0, 0)


@kapi("sched.wait_for_completion_interruptible_timeout",
      "sched.wait_for_completion_killable_timeout", x=PTR, timeout=ULONG)
def wait_for_completion_interruptible_timeout(k, m, x, timeout):
    return _wait_for_completion(k, m, x, TASK_INTERRUPTIBLE, timeout, lambda left: left, 0)


@kapi("sched.try_wait_for_completion", x=PTR)
def try_wait_for_completion(k, m, x):
    return int(_take(m, x))


@kapi("sched.completion_done", x=PTR)
def completion_done(k, m, x):
    return int(m.read_int(x, 4) != 0)


# --------------------------------------------------------------------------- time

@kapi("time.ktime_get", "sched.ktime_get")
def ktime_get(k, m):
    return k.time.monotonic_ns()


@kapi("time.ktime_get_raw", "time.ktime_get_boottime", "time.ktime_get_mono_fast_ns",
      "time.ktime_get_boot_fast_ns", "time.ktime_get_raw_fast_ns", "time.local_clock",
      "time.sched_clock")
def ktime_get_other(k, m):
    return k.time.monotonic_ns()


@kapi("time.ktime_get_with_offset", offs=UINT)
def ktime_get_with_offset(k, m, offs):
    # TK_OFFS_REAL = 0, TK_OFFS_BOOT = 1, TK_OFFS_TAI = 2
    return k.time.realtime_ns() if offs in (0, 2) else k.time.monotonic_ns()


@kapi("time.ktime_get_real")
def ktime_get_real(k, m):
    return k.time.realtime_ns()


@kapi("time.ktime_get_real_seconds")
def ktime_get_real_seconds(k, m):
    return k.time.realtime_ns() // 1_000_000_000


@kapi("time.ktime_get_seconds")
def ktime_get_seconds(k, m):
    return k.time.monotonic_ns() // 1_000_000_000


def _ts64(m, ts, ns):
    m.write_int(ts, 8, ns // 1_000_000_000)
    m.write_int(ts + 8, 8, ns % 1_000_000_000)


@kapi("time.ktime_get_real_ts64", ts=PTR)
def ktime_get_real_ts64(k, m, ts):
    _ts64(m, ts, k.time.realtime_ns())


@kapi("time.ktime_get_ts64", "time.ktime_get_raw_ts64", ts=PTR)
def ktime_get_ts64(k, m, ts):
    _ts64(m, ts, k.time.monotonic_ns())


@kapi("time.get_jiffies_64")
def get_jiffies_64(k, m):
    return k.time.jiffies()


@kapi("time.__udelay", usecs=ULONG)
def udelay(k, m, usecs):
    """A busy wait: time passes, nothing else runs."""
    k.time.advance(usecs * 1000)


@kapi("time.__ndelay", nsecs=ULONG)
def ndelay(k, m, nsecs):
    k.time.advance(nsecs)


@kapi("time.__const_udelay", xloops=ULONG)
def const_udelay(k, m, xloops):
    # the argument is usecs * 0x10c7 (2**32 / 10**6, rounded up)
    k.time.advance((xloops * 1000) >> 32 or 1)





# --------------------------------------------------------------------------- jiffies

USER_HZ = 100


def round_jiffies_common(k, j, cpu, force_up):
    """kernel/time/timer.c: to a whole second (skewed 3 jiffies per CPU), down when just
    past one unless ``force_up``; unchanged if that is not in the future."""
    original = j
    j += cpu * 3
    rem = j % HZ
    j = j - rem if rem < HZ // 4 and not force_up else j - rem + HZ
    j -= cpu * 3
    now = k.time.jiffies()
    return j if ((now - j) & (1 << 63)) else original


@kapi("time.__round_jiffies", j=ULONG, cpu=INT)
def __round_jiffies(k, m, j, cpu):
    return round_jiffies_common(k, j, cpu, False)


@kapi("time.__round_jiffies_up", j=ULONG, cpu=INT)
def __round_jiffies_up(k, m, j, cpu):
    return round_jiffies_common(k, j, cpu, True)


@kapi("time.__round_jiffies_relative", j=ULONG, cpu=INT)
def __round_jiffies_relative(k, m, j, cpu):
    now = k.time.jiffies()
    return (round_jiffies_common(k, j + now, cpu, False) - now) & m.mask


@kapi("time.__round_jiffies_up_relative", j=ULONG, cpu=INT)
def __round_jiffies_up_relative(k, m, j, cpu):
    now = k.time.jiffies()
    return (round_jiffies_common(k, j + now, cpu, True) - now) & m.mask


@kapi("time.round_jiffies", j=ULONG)
def round_jiffies(k, m, j):
    return round_jiffies_common(k, j, 0, False)


@kapi("time.round_jiffies_up", j=ULONG)
def round_jiffies_up(k, m, j):
    return round_jiffies_common(k, j, 0, True)


@kapi("time.round_jiffies_relative", j=ULONG)
def round_jiffies_relative(k, m, j):
    now = k.time.jiffies()
    return (round_jiffies_common(k, j + now, 0, False) - now) & m.mask


@kapi("time.round_jiffies_up_relative", j=ULONG)
def round_jiffies_up_relative(k, m, j):
    now = k.time.jiffies()
    return (round_jiffies_common(k, j + now, 0, True) - now) & m.mask


@kapi("time.jiffies_to_clock_t", "time.jiffies_64_to_clock_t", x=ULONG)
def jiffies_to_clock_t(k, m, x):
    return x * USER_HZ // HZ


@kapi("time.clock_t_to_jiffies", x=ULONG)
def clock_t_to_jiffies(k, m, x):
    return x * HZ // USER_HZ


@kapi("time.nsecs_to_jiffies", "time.nsecs_to_jiffies64", n=ULONG)
def nsecs_to_jiffies(k, m, n):
    return n // (1_000_000_000 // HZ)


@kapi("time.jiffies_to_timespec64", jiffies=ULONG, value=PTR)
def jiffies_to_timespec64(k, m, jiffies, value):
    _ts64(m, value, jiffies * (1_000_000_000 // HZ))


# --------------------------------------------------------------------------- bit and var waits
# wait_var_event()/wake_up_var(), wait_on_bit()/wake_up_bit(): the waiters sit on one of the
# hashed wait queues (bit_wait_table); a wake-up wakes those whose key matches.
# struct wait_bit_queue_entry { wait_bit_key key { flags; bit_nr @8; timeout @16 };
# wait_queue_entry wq_entry @24 }
WBQ_ENTRY, WAIT_TABLE_BITS = 24, 8


def _bit_waitqueue(k, word, bit):
    """The hashed wait queue head for (word, bit), in guest memory (made on first use)."""
    m = k.machine
    table = k.sched.waiters.get("bit_wait_table")
    if table is None:
        n = 1 << WAIT_TABLE_BITS
        table = k.slab.kmalloc(n * 24, 0x100)
        for i in range(n):
            init_waitqueue_head.__wrapped__(k, m, table + 24 * i, 0, 0)
        k.sched.waiters["bit_wait_table"] = table
    key = ((word << 6) + (bit & 0xFFFFFFFF)) & ((1 << 64) - 1)
    index = (key * 0x61C8864680B583EB & ((1 << 64) - 1)) >> (64 - WAIT_TABLE_BITS)
    return table + 24 * index


def _wake_up_bit(k, m, wq_head, word, bit):
    head = wq_head + WQH_HEAD
    node = m.read_ptr(head)
    seen = 0
    while node != head and node and seen < 100_000:
        seen += 1
        nxt = m.read_ptr(node)
        entry = node - WQE_ENTRY
        key = entry - WBQ_ENTRY
        if m.read_ptr(key) == word and m.read_int(key + 8, 4, signed=True) == bit:
            _wake_entry(k, m, entry, TASK_NORMAL)
        node = nxt
    for task in list(_waiters(k, ("bit", word, bit))):
        k.sched.wake(task, TASK_NORMAL)
    _waiters(k, ("bit", word, bit)).clear()


@kapi("sched.__var_waitqueue", p=PTR)
def var_waitqueue(k, m, p):
    return _bit_waitqueue(k, p, 0)


@kapi("sched.bit_waitqueue", word=PTR, bit=INT)
def bit_waitqueue(k, m, word, bit):
    return _bit_waitqueue(k, word, bit)


@kapi("sched.init_wait_var_entry", wbq_entry=PTR, var=PTR, flags=INT)
def init_wait_var_entry(k, m, wbq_entry, var, flags):
    m.write_ptr(wbq_entry, var)
    m.write_int(wbq_entry + 8, 4, 0xFFFFFFFF)       # bit_nr -1
    m.write_ptr(wbq_entry + 16, 0)
    entry = wbq_entry + WBQ_ENTRY
    m.write_int(entry, 4, flags)
    m.write_ptr(entry + WQE_PRIVATE, k.tasks.current.addr)
    m.write_ptr(entry + WQE_FUNC, k.export_addr("autoremove_wake_function") or 0)
    _list_init(m, entry + WQE_ENTRY)


@kapi("sched.wake_up_var", var=PTR)
def wake_up_var(k, m, var):
    _wake_up_bit(k, m, _bit_waitqueue(k, var, 0), var, -1)


@kapi("sched.wake_up_bit", word=PTR, bit=INT)
def wake_up_bit(k, m, word, bit):
    _wake_up_bit(k, m, _bit_waitqueue(k, word, bit), word, bit)


@kapi("sched.__wake_up_bit", wq_head=PTR, word=PTR, bit=INT)
def __wake_up_bit(k, m, wq_head, word, bit):
    _wake_up_bit(k, m, wq_head, word, bit)


@kapi("sched.out_of_line_wait_on_bit", "sched.out_of_line_wait_on_bit_lock", word=PTR,
      bit=INT, action=PTR, mode=UINT)
def out_of_line_wait_on_bit(k, m, word, bit, action, mode):
    """Sleep until wake_up_bit() for a bit that is set (the caller tested it); 0."""
    if not m.read_int(word + bit // 8, 1) >> (bit % 8) & 1:
        return 0
    _waiters(k, ("bit", word, bit)).append(k.tasks.current)
    return k.sched.block(mode or TASK_UNINTERRUPTIBLE, resume=lambda: 0)


@kapi("sched.bit_wait", "sched.bit_wait_io", word=PTR, mode=UINT)
def bit_wait(k, m, word, mode):
    return _schedule(k, resume=lambda: 0)
