"""Deferred work: timers, hrtimers, workqueues, tasklets, RCU callbacks.

A timer's callback, a tasklet and an RCU callback run in softirq context when simulated
time reaches them (:meth:`emulator.sched.Sched.run_until`), on the IRQ stack; a work item
runs in a kworker, a task like any other (it may sleep). The module sees the state the
kernel keeps in its structures: ``timer_pending()`` reads ``timer->entry.pprev``,
``work_pending()`` the PENDING bit of ``work->data``, as the kernel's inline functions do.

Each pool of workers is the guest's own kworkers (``kworker/0:N`` for per-CPU workqueues,
``kworker/u2:N`` for unbound ones): the first idle one takes the next item; when it sleeps
in an item and more are queued, the next idle worker goes on with them (the pool's
concurrency management). A workqueue with WQ_MEM_RECLAIM has its rescuer thread, named
after it, as in 6.1.
"""

from collections import deque
from dataclasses import dataclass, field

from ..memmap import GS_BASE
from ..sched import TASK_IDLE, TASK_INTERRUPTIBLE, TASK_NORMAL, TASK_UNINTERRUPTIBLE
from .registry import INT, LONG, PTR, UINT, ULONG, kapi

# struct timer_list { hlist_node entry {next, pprev}; expires @16; function @24; flags @32 }
TIMER_PPREV, TIMER_EXPIRES, TIMER_FUNCTION, TIMER_FLAGS = 8, 16, 24, 32
LIST_POISON2 = 0xDEAD000000000122
TIMER_BUCKET = GS_BASE + 0x3F000    # what a pending timer's pprev points at (only != NULL counts)
# struct work_struct { data; list_head entry @8; func @24 }, delayed_work { work; timer @32;
# wq @72; cpu @80 }
WORK_DATA, WORK_ENTRY, WORK_FUNC = 0, 8, 24
DWORK_TIMER, DWORK_WQ, DWORK_CPU = 32, 72, 80
WORK_STRUCT_PENDING = 1
WQ_UNBOUND, WQ_HIGHPRI, WQ_MEM_RECLAIM, WQ_ORDERED = 1 << 1, 1 << 4, 1 << 3, 1 << 17
WORKQUEUE_SIZE = 512
SYSTEM_WQS = {"system_wq": ("events", 0), "system_highpri_wq": ("events_highpri", WQ_HIGHPRI),
              "system_long_wq": ("events_long", 0),
              "system_unbound_wq": ("events_unbound", WQ_UNBOUND),
              "system_freezable_wq": ("events_freezable", 0),
              "system_power_efficient_wq": ("events_power_efficient", 0),
              "system_freezable_power_efficient_wq": ("events_freezable_power_efficient", 0)}
# the guest's kworkers, the most recently idle first
POOL_WORKERS = {False: ("kworker/0:2", "kworker/0:1", "kworker/0:0"),
                True: ("kworker/u2:2", "kworker/u2:1", "kworker/u2:0")}
# struct tasklet_struct { next; state @8; count @16; use_callback @20; func @24; data @32 }
TASKLET_STATE, TASKLET_COUNT, TASKLET_USE_CB, TASKLET_FUNC, TASKLET_DATA = 8, 16, 20, 24, 32
TASKLET_STATE_SCHED, TASKLET_STATE_RUN = 1, 2
# struct hrtimer { timerqueue_node node { rb_node (24); expires @24 }; _softexpires @32;
# function @40; base @48; state @56; ... }
HRT_EXPIRES, HRT_SOFT, HRT_FUNCTION, HRT_STATE = 24, 32, 40, 56
HRTIMER_RESTART = 1


# --------------------------------------------------------------------------- timer_list

def _arm_timer(k, m, timer, expires):
    """Put the timer on the wheel for jiffy ``expires``: pending, fires in softirq."""
    from ..sched import wheel_expiry
    m.write_int(timer + TIMER_EXPIRES, 8, expires)
    m.write_ptr(timer, 0)
    m.write_ptr(timer + TIMER_PPREV, TIMER_BUCKET)
    fires = wheel_expiry(expires, k.time.jiffies())
    return k.sched.arm(timer, k.sched.jiffy_ns(fires), lambda: _timer_fires(k, timer))


def _detach(m, timer):
    m.write_ptr(timer + TIMER_PPREV, 0)
    m.write_ptr(timer, LIST_POISON2)


def _timer_fires(k, timer):
    """``expire_timers``/``call_timer_fn``: detached, then its function runs."""
    m = k.machine
    _detach(m, timer)
    fn = m.read_ptr(timer + TIMER_FUNCTION)
    if fn == k.export_addr("delayed_work_timer_fn"):
        _queue_work(k, m, m.read_ptr(timer - DWORK_TIMER + DWORK_WQ), timer - DWORK_TIMER)
        return
    if fn:
        k.sched.run_atomic(fn, (timer,))


@kapi("devices.init_timer_key", "timers.init_timer_key", timer=PTR, func=PTR, flags=UINT,
      name=PTR, key=PTR)
def init_timer_key(k, m, timer, func, flags, name, key):
    m.write(timer, bytes(16))
    m.write_ptr(timer + TIMER_FUNCTION, func)
    m.write_int(timer + TIMER_FLAGS, 4, flags)


@kapi("devices.mod_timer", "timers.mod_timer", timer=PTR, expires=ULONG)
def mod_timer(k, m, timer, expires):
    return int(_arm_timer(k, m, timer, expires))


@kapi("timers.mod_timer_pending", timer=PTR, expires=ULONG)
def mod_timer_pending(k, m, timer, expires):
    if not k.sched.pending(timer):
        return 0
    return int(_arm_timer(k, m, timer, expires))


@kapi("timers.timer_reduce", timer=PTR, expires=ULONG)
def timer_reduce(k, m, timer, expires):
    if k.sched.pending(timer):
        old = m.read_int(timer + TIMER_EXPIRES, 8)
        if ((expires - old) & (1 << 63)) == 0:      # not earlier: unchanged
            return 1
    return int(_arm_timer(k, m, timer, expires))


@kapi("devices.add_timer", "timers.add_timer", timer=PTR)
def add_timer(k, m, timer):
    _arm_timer(k, m, timer, m.read_int(timer + TIMER_EXPIRES, 8))


@kapi("timers.add_timer_on", timer=PTR, cpu=INT)
def add_timer_on(k, m, timer, cpu):
    _arm_timer(k, m, timer, m.read_int(timer + TIMER_EXPIRES, 8))


@kapi("timers.del_timer", "timers.del_timer_sync", "timers.try_to_del_timer_sync",
      "timers.timer_delete", "timers.timer_delete_sync", "timers.timer_shutdown",
      "timers.timer_shutdown_sync", timer=PTR)
def del_timer(k, m, timer):
    """1 if it was pending. On one CPU a callback never runs while the caller does."""
    if k.sched.disarm(timer):
        _detach(m, timer)
        return 1
    return 0


# --------------------------------------------------------------------------- hrtimers

HRT_BASE = 48
CLOCK_BASE_SIZE, CLOCK_BASE_GET_TIME = 64, 0x30     # struct hrtimer_clock_base, ->get_time


def _clock_base(k, clock_id):
    """The CPU's hrtimer_clock_base for ``clock_id``: hrtimer_forward_now() (inline) calls
    its ``get_time``, which is ktime_get (CLOCK_REALTIME: ktime_get_real)."""
    bases = k.sched.hrtimer_bases
    if clock_id not in bases:
        name = "ktime_get_real" if clock_id == 0 else "ktime_get"
        fn = k.export_addr(name) or k.export_addr("ktime_get")
        k.kapi.names.setdefault(fn, name)
        base = k.slab.kmalloc(CLOCK_BASE_SIZE, 0x100)
        k.machine.write_ptr(base + CLOCK_BASE_GET_TIME, fn)
        bases[clock_id] = base
    return bases[clock_id]


@kapi("timers.hrtimer_init", timer=PTR, clock_id=INT, mode=UINT)
def hrtimer_init(k, m, timer, clock_id, mode):
    m.write(timer, bytes(64))
    m.write_ptr(timer + HRT_BASE, _clock_base(k, clock_id))


def _hrtimer_fires(k, timer):
    m = k.machine
    m.write_int(timer + HRT_STATE, 1, 0)
    fn = m.read_ptr(timer + HRT_FUNCTION)
    if not fn:
        return
    k.sched.hrtimer_running = timer
    try:
        k.sched.run_atomic(fn, (timer,), hard=True)
        restart = k.machine.reg(k.machine.RET) & 0xFFFFFFFF
    finally:
        k.sched.hrtimer_running = None
    if restart == HRTIMER_RESTART and not k.sched.pending(timer) and k.faults.panicked is None:
        _arm_hrtimer(k, m, timer, m.read_int(timer + HRT_EXPIRES, 8, signed=True))


def _arm_hrtimer(k, m, timer, expires_ns):
    m.write_int(timer + HRT_STATE, 1, 1)
    return k.sched.arm(timer, max(expires_ns, k.time.ns), lambda: _hrtimer_fires(k, timer))


@kapi("timers.hrtimer_start_range_ns", timer=PTR, tim=LONG, delta_ns=ULONG, mode=UINT)
def hrtimer_start_range_ns(k, m, timer, tim, delta_ns, mode):
    expires = tim + k.time.ns if mode & 1 else tim        # HRTIMER_MODE_REL
    m.write_int(timer + HRT_SOFT, 8, expires)
    m.write_int(timer + HRT_EXPIRES, 8, expires + delta_ns)
    _arm_hrtimer(k, m, timer, expires + delta_ns)


@kapi("timers.hrtimer_cancel", "timers.hrtimer_try_to_cancel", timer=PTR)
def hrtimer_cancel(k, m, timer):
    """1 if it was active; a callback calling it on its own timer gets -1 (try_to_cancel)."""
    if k.sched.hrtimer_running == timer:
        return (-1) & m.mask
    if k.sched.disarm(timer):
        m.write_int(timer + HRT_STATE, 1, 0)
        return 1
    return 0


@kapi("timers.hrtimer_active", timer=PTR)
def hrtimer_active(k, m, timer):
    return int(k.sched.pending(timer) or k.sched.hrtimer_running == timer)


@kapi("timers.hrtimer_forward", timer=PTR, now=LONG, interval=LONG)
def hrtimer_forward(k, m, timer, now, interval):
    """Move the expiry past ``now`` by whole intervals: how many."""
    expires = m.read_int(timer + HRT_EXPIRES, 8, signed=True)
    delta = now - expires
    if delta < 0 or interval <= 0:
        return 0
    n = delta // interval + 1
    expires += n * interval
    m.write_int(timer + HRT_EXPIRES, 8, expires)
    m.write_int(timer + HRT_SOFT, 8, expires)
    return n


@kapi("timers.hrtimer_get_remaining", "timers.__hrtimer_get_remaining", timer=PTR, adjust=INT)
def hrtimer_get_remaining(k, m, timer, adjust=0):
    return (m.read_int(timer + HRT_EXPIRES, 8, signed=True) - k.time.ns) & m.mask


# --------------------------------------------------------------------------- workqueues

@dataclass(eq=False)
class Workqueue:
    addr: int
    name: str
    flags: int
    max_active: int
    rescuer: object = None
    running: int = 0


@dataclass(eq=False)
class Pool:
    """A worker pool: its kworkers, the items queued on it, who runs what."""

    unbound: bool
    workers: list = field(default_factory=list)
    queue: deque = field(default_factory=deque)       # (work, Workqueue)
    current: dict = field(default_factory=dict)       # worker Task -> (work, Workqueue)
    flushers: dict = field(default_factory=dict)      # work -> [tasks], or wq -> [tasks]

    def busy(self, work):
        return any(w == work for w, _ in self.queue) or \
            any(w == work for w, _ in self.current.values())

    def wq_busy(self, wq):
        return any(q is wq for _, q in self.queue) or \
            any(q is wq for _, q in self.current.values())


class WorkerBody:
    """A kworker's ``worker_thread``: take the next item, run it, until none is left."""

    def run(self, sched, task):
        k, pool = sched.k, task.worker
        while k.faults.panicked is None:
            if task.ctx is not None:
                how, value = sched.resume_frame(task)
            else:
                item = _take_item(pool)
                if item is None:
                    sched.set_state(task, TASK_IDLE)
                    return
                work, wq = item
                m = k.machine
                m.write_int(work + WORK_DATA, 8, m.read_int(work + WORK_DATA, 8) & ~WORK_STRUCT_PENDING)
                pool.current[task] = item
                wq.running += 1
                how, value = sched.run_frame(task, m.read_ptr(work + WORK_FUNC), (work,), "worker")
            if how == "switch":
                _kick(k, pool)
                return
            work, wq = pool.current.pop(task)
            wq.running -= 1
            _finished(k, pool, work, wq)
            if how == "dead":
                sched.exit_task(task, 0)
                pool.workers.remove(task)
                return


def _take_item(pool):
    for i, (work, wq) in enumerate(pool.queue):
        if wq.max_active and wq.running >= wq.max_active:
            continue
        del pool.queue[i]
        return work, wq
    return None


def _finished(k, pool, work, wq):
    """Wake who flushes this item (unless it is queued again) or this workqueue."""
    if not pool.busy(work):
        for task in pool.flushers.pop(work, []):
            k.sched.wake(task, TASK_NORMAL)
    if not pool.wq_busy(wq):
        for task in pool.flushers.pop(wq, []):
            k.sched.wake(task, TASK_NORMAL)


def _pools(k):
    """The two worker pools, made of the guest's kworkers on first use."""
    if k.sched.workqueues is None:
        pools = {}
        for unbound, names in POOL_WORKERS.items():
            pool = Pool(unbound)
            for name in names:
                task = next((t for t in k.tasks.all if t.comm == name), None)
                if task is None:
                    task = k.sched.create_kthread(name, 0, 0)
                    task.kthread = None
                task.worker, task.body = pool, WorkerBody()
                k.sched.set_state(task, TASK_IDLE)
                pool.workers.append(task)
            pools[unbound] = pool
        k.sched.workqueues = {"pools": pools, "wqs": {}}
        _system_workqueues(k)
    return k.sched.workqueues


def _system_workqueues(k):
    m = k.machine
    for var, (name, flags) in SYSTEM_WQS.items():
        addr = k.export_addr(var)
        if addr is not None:
            wq = _new_wq(k, name, flags, 0, rescuer=False)
            m.write_ptr(addr, wq.addr)


def _new_wq(k, name, flags, max_active, rescuer=True):
    addr = k.slab.kmalloc(WORKQUEUE_SIZE, 0x100)
    wq = Workqueue(addr, name, flags, max_active)
    if rescuer and flags & WQ_MEM_RECLAIM:
        wq.rescuer = k.sched.create_kthread(name[:15], 0, 0)
        k.sched.set_state(wq.rescuer, TASK_INTERRUPTIBLE)
    k.sched.workqueues["wqs"][addr] = wq
    return wq


def boot_workqueues(k):
    """The guest's kworkers idle; a kthread made to run kthread_worker_fn(worker) runs that
    worker's works. The pools and system_wq & co are made at the first workqueue call (the
    variables' page of kernel data is backed only then: a module that reads system_wq
    before, gets NULL, which the workqueue functions take for system_wq)."""
    if k.profile.kind == "linux":
        for names in POOL_WORKERS.values():     # the guest's kworkers sleep as idle ones do
            for task in k.tasks.all:
                if task.comm in names:
                    k.sched.set_state(task, TASK_IDLE)
        fn = k.export_addr("kthread_worker_fn")
        if fn:
            k.sched.kthread_bodies[fn] = lambda task: _worker_body(k, task)


def _worker_body(k, task):
    worker = k.sched.kworkers.get(task.kthread.data)
    if worker is None:
        return None
    worker.task = task
    return KWorkerBody(worker)


def _wq(k, addr):
    wqs = _pools(k)["wqs"]
    if addr == 0:                   # system_wq read before the pools were made
        addr = k.machine.read_ptr(k.export_addr("system_wq"))
    return wqs.get(addr)


def _pool_of(k, wq):
    return _pools(k)["pools"][bool(wq.flags & WQ_UNBOUND)]


def _kick(k, pool):
    """Work is queued and no worker of the pool is running or about to: wake an idle one."""
    if not pool.queue:
        return
    for task in pool.workers:
        if task.on_rq or task is k.tasks.current:
            return
    for task in pool.workers:
        if task not in pool.current and not task.dead:
            if k.sched.wake(task, TASK_NORMAL):
                return


def _queue_work(k, m, wq_addr, work):
    wq = _wq(k, wq_addr) or _wq(k, 0)
    pool = _pool_of(k, wq)
    pool.queue.append((work, wq))
    _kick(k, pool)


def _pending(m, work):
    return m.read_int(work + WORK_DATA, 8) & WORK_STRUCT_PENDING


def _set_pending(m, work):
    m.write_int(work + WORK_DATA, 8, m.read_int(work + WORK_DATA, 8) | WORK_STRUCT_PENDING)


def _clear_pending(m, work):
    m.write_int(work + WORK_DATA, 8, m.read_int(work + WORK_DATA, 8) & ~WORK_STRUCT_PENDING)


@kapi("workqueue.alloc_workqueue", fmt=PTR, flags=UINT, max_active=INT)
def alloc_workqueue(k, m, fmt, flags, max_active):
    from .printk import RegArgs, kformat
    name, _ = kformat(k, m, fmt, RegArgs(m, 3))
    _pools(k)
    return _new_wq(k, name.decode("latin-1")[:23], flags, max_active).addr


@kapi("workqueue.destroy_workqueue", wq=PTR)
def destroy_workqueue(k, m, wq):
    """drain_workqueue, then the workqueue (and its rescuer) go away."""
    q = _wq(k, wq)
    if q is None:
        return None
    pool = _pool_of(k, q)

    def gone():
        if q.rescuer is not None and not q.rescuer.dead:
            k.sched.exit_task(q.rescuer)
        _pools(k)["wqs"].pop(wq, None)
        k.slab.kfree(wq)
    if pool.wq_busy(q):
        pool.flushers.setdefault(q, []).append(k.tasks.current)
        return k.sched.block(TASK_UNINTERRUPTIBLE, resume=gone)
    gone()
    return None


@kapi("workqueue.queue_work_on", cpu=INT, wq=PTR, work=PTR)
def queue_work_on(k, m, cpu, wq, work):
    if _pending(m, work):
        return 0
    _set_pending(m, work)
    _queue_work(k, m, wq, work)
    return 1


@kapi("workqueue.queue_delayed_work_on", cpu=INT, wq=PTR, dwork=PTR, delay=ULONG)
def queue_delayed_work_on(k, m, cpu, wq, dwork, delay):
    if _pending(m, dwork):
        return 0
    _set_pending(m, dwork)
    _delay_work(k, m, wq, dwork, delay)
    return 1


def _delay_work(k, m, wq, dwork, delay):
    m.write_ptr(dwork + DWORK_WQ, wq)
    m.write_int(dwork + DWORK_CPU, 4, cpu_unbound(k))
    if delay == 0:
        _queue_work(k, m, wq, dwork)
        return
    timer = dwork + DWORK_TIMER
    if not m.read_ptr(timer + TIMER_FUNCTION):
        m.write_ptr(timer + TIMER_FUNCTION, k.export_addr("delayed_work_timer_fn") or 0)
    _arm_timer(k, m, timer, (k.time.jiffies() + delay) & ((1 << 64) - 1))


def cpu_unbound(k):
    return 0


def _cancel(k, m, work, dwork=False):
    """Take the item off its timer and its queue: was it pending?"""
    was = bool(_pending(m, work))
    if dwork:
        del_timer.__wrapped__(k, m, work + DWORK_TIMER)
    for pool in _pools(k)["pools"].values():
        for item in list(pool.queue):
            if item[0] == work:
                pool.queue.remove(item)
    _clear_pending(m, work)
    return was


def _wait_idle(k, work, value):
    """Sleep until ``work`` has finished running anywhere; return ``value`` then."""
    for pool in _pools(k)["pools"].values():
        if pool.busy(work):
            pool.flushers.setdefault(work, []).append(k.tasks.current)
            return k.sched.block(TASK_UNINTERRUPTIBLE, resume=lambda: value)
    return value


@kapi("workqueue.mod_delayed_work_on", cpu=INT, wq=PTR, dwork=PTR, delay=ULONG)
def mod_delayed_work_on(k, m, cpu, wq, dwork, delay):
    was = _cancel(k, m, dwork, dwork=True)
    _set_pending(m, dwork)
    _delay_work(k, m, wq, dwork, delay)
    return int(was)


@kapi("workqueue.cancel_work", work=PTR)
def cancel_work(k, m, work):
    return int(_cancel(k, m, work))


@kapi("workqueue.cancel_work_sync", work=PTR)
def cancel_work_sync(k, m, work):
    return _wait_idle(k, work, int(_cancel(k, m, work)))


@kapi("workqueue.cancel_delayed_work", dwork=PTR)
def cancel_delayed_work(k, m, dwork):
    return int(_cancel(k, m, dwork, dwork=True))


@kapi("workqueue.cancel_delayed_work_sync", dwork=PTR)
def cancel_delayed_work_sync(k, m, dwork):
    return _wait_idle(k, dwork, int(_cancel(k, m, dwork, dwork=True)))


@kapi("workqueue.flush_work", work=PTR)
def flush_work(k, m, work):
    return _wait_idle(k, work, 1) if any(p.busy(work) for p in _pools(k)["pools"].values()) \
        else 0


@kapi("workqueue.flush_delayed_work", dwork=PTR)
def flush_delayed_work(k, m, dwork):
    if del_timer.__wrapped__(k, m, dwork + DWORK_TIMER):
        _queue_work(k, m, m.read_ptr(dwork + DWORK_WQ), dwork)
    return flush_work.__wrapped__(k, m, dwork)


@kapi("workqueue.__flush_workqueue", "workqueue.flush_workqueue", "workqueue.drain_workqueue",
      wq=PTR)
def flush_workqueue(k, m, wq):
    q = _wq(k, wq)
    if q is None:
        return None
    pool = _pool_of(k, q)
    if pool.wq_busy(q):
        pool.flushers.setdefault(q, []).append(k.tasks.current)
        return k.sched.block(TASK_UNINTERRUPTIBLE)
    return None


@kapi("workqueue.delayed_work_timer_fn", t=PTR)
def delayed_work_timer_fn(k, m, t):
    _queue_work(k, m, m.read_ptr(t - DWORK_TIMER + DWORK_WQ), t - DWORK_TIMER)


@kapi("workqueue.work_busy", work=PTR)
def work_busy(k, m, work):
    busy = 0
    if _pending(m, work):
        busy |= 1                   # WORK_BUSY_PENDING
    if any(w == work for p in _pools(k)["pools"].values() for w, _ in p.current.values()):
        busy |= 2                   # WORK_BUSY_RUNNING
    return busy


@kapi("workqueue.current_work")
def current_work(k, m):
    task = k.tasks.current
    if task is None or task.worker is None:
        return 0
    item = task.worker.current.get(task)
    return item[0] if item else 0


# --------------------------------------------------------------------------- tasklets

def _tasklet_runs(k, t):
    m = k.machine
    state = m.read_int(t + TASKLET_STATE, 8)
    m.write_int(t + TASKLET_STATE, 8, (state & ~TASKLET_STATE_SCHED) | TASKLET_STATE_RUN)
    try:
        if m.read_int(t + TASKLET_COUNT, 4):      # disabled: try again at the next softirq
            m.write_int(t + TASKLET_STATE, 8, state)
            k.sched.add_event(k.time.ns + 1, lambda: _tasklet_runs(k, t))
            return
        fn = m.read_ptr(t + TASKLET_FUNC)
        if m.read_int(t + TASKLET_USE_CB, 1):
            k.sched.run_atomic(fn, (t,))
        else:
            k.sched.run_atomic(fn, (m.read_ptr(t + TASKLET_DATA),))
    finally:
        m.write_int(t + TASKLET_STATE, 8, m.read_int(t + TASKLET_STATE, 8) & ~TASKLET_STATE_RUN)


@kapi("tasklet.tasklet_init", t=PTR, func=PTR, data=ULONG)
def tasklet_init(k, m, t, func, data):
    m.write(t, bytes(40))
    m.write_ptr(t + TASKLET_FUNC, func)
    m.write_ptr(t + TASKLET_DATA, data)


@kapi("tasklet.tasklet_setup", t=PTR, callback=PTR)
def tasklet_setup(k, m, t, callback):
    m.write(t, bytes(40))
    m.write_int(t + TASKLET_USE_CB, 1, 1)
    m.write_ptr(t + TASKLET_FUNC, callback)


@kapi("tasklet.__tasklet_schedule", "tasklet.__tasklet_hi_schedule", t=PTR)
def tasklet_schedule(k, m, t):
    """The inline tasklet_schedule set TASKLET_STATE_SCHED; the softirq runs it next."""
    m.write_int(t + TASKLET_STATE, 8, m.read_int(t + TASKLET_STATE, 8) | TASKLET_STATE_SCHED)
    k.sched.add_event(k.time.ns, lambda: _tasklet_runs(k, t), key=("tasklet", t))


@kapi("tasklet.tasklet_kill", t=PTR)
def tasklet_kill(k, m, t):
    m.write_int(t + TASKLET_STATE, 8, 0)
    for ev in k.sched.events:
        if ev.key == ("tasklet", t):
            ev.cancelled = True
    return None


@kapi("tasklet.tasklet_unlock_wait", t=PTR)
def tasklet_unlock_wait(k, m, t):
    return None


# --------------------------------------------------------------------------- RCU

RCU_GP_NS = 4_000_000       # a grace period on the idle reference guest: about a jiffy


def _after_gp(k, fire):
    k.sched.rcu_done_ns = max(k.sched.rcu_done_ns, k.time.ns + RCU_GP_NS)
    k.sched.add_event(k.time.ns + RCU_GP_NS, fire)


@kapi("rcu.call_rcu", head=PTR, func=PTR)
def call_rcu(k, m, head, func):
    _after_gp(k, lambda: k.sched.run_atomic(func, (head,)))


@kapi("rcu.kvfree_call_rcu", head=PTR, func=PTR)
def kvfree_call_rcu(k, m, head, func):
    """kfree_rcu(ptr, field): ``func`` is the field's offset; kvfree_rcu(ptr): no head,
    ``func`` is the pointer (freed after a grace period either way)."""
    ptr = func if head == 0 else head - func
    _after_gp(k, lambda: k.slab.kfree(ptr))


@kapi("rcu.synchronize_rcu", "rcu.synchronize_rcu_expedited", "rcu.synchronize_srcu",
      "rcu.synchronize_rcu_tasks")
def synchronize_rcu(k, m):
    return k.sched.block(TASK_UNINTERRUPTIBLE, timeout_ns=RCU_GP_NS, until_timeout=True)


@kapi("rcu.rcu_barrier", "rcu.rcu_barrier_tasks")
def rcu_barrier(k, m):
    """Wait until every RCU callback queued so far has run."""
    done = k.sched.rcu_done_ns
    if done <= k.time.ns:
        return None
    return k.sched.block(TASK_UNINTERRUPTIBLE, timeout_ns=done - k.time.ns + 1,
                         until_timeout=True)


@kapi("rcu.__rcu_read_lock", "rcu.__rcu_read_unlock")
def rcu_read_lock(k, m):
    """PREEMPT_RCU's read-side nesting count: no grace period waits for a reader here
    (one CPU, readers never sleep), so it changes nothing kmodsim models."""
    return None




# --------------------------------------------------------------------------- kthread workers
# struct kthread_worker { flags; lock @4; work_list @8; delayed_work_list @24; task @40;
# current_work @48 }, kthread_work { node; func @16; worker @24; canceling @32 },
# kthread_delayed_work { work; timer @40 }
KWORKER_SIZE, KWORKER_TASK, KWORKER_CURRENT = 56, 40, 48
KWORK_FUNC, KWORK_WORKER, KDWORK_TIMER = 16, 24, 40


@dataclass(eq=False)
class KWorker:
    """A kthread_worker: its task, the works queued on it, the one running, who flushes."""

    addr: int
    task: object = None
    queue: deque = field(default_factory=deque)
    current: int = 0
    flushers: dict = field(default_factory=dict)      # work (or 0: the whole worker) -> tasks

    def busy(self, work=None):
        if work is None:
            return bool(self.queue) or bool(self.current)
        return work in self.queue or self.current == work


class KWorkerBody:
    """``kthread_worker_fn``: run the worker's works one by one; sleep when there are none;
    leave when kthread_stop says so."""

    def __init__(self, worker):
        self.worker = worker

    def run(self, sched, task):
        k, w = sched.k, self.worker
        m = k.machine
        while k.faults.panicked is None:
            if task.ctx is not None:
                how, _ = sched.resume_frame(task)
            else:
                if not w.queue:
                    if task.kthread is not None and task.kthread.should_stop:
                        sched.exit_task(task, 0)
                    else:
                        sched.set_state(task, TASK_INTERRUPTIBLE)
                    return
                work = w.queue.popleft()
                w.current = work
                m.write_ptr(w.addr + KWORKER_CURRENT, work)
                how, _ = sched.run_frame(task, m.read_ptr(work + KWORK_FUNC), (work,), "kthread")
            if how == "switch":
                return
            work, w.current = w.current, 0
            m.write_ptr(w.addr + KWORKER_CURRENT, 0)
            for waiter in w.flushers.pop(work, []) + (w.flushers.pop(0, []) if not w.busy()
                                                        else []):
                sched.wake(waiter, TASK_NORMAL)
            if how == "dead":
                sched.exit_task(task, 0)
                return


def _kworker(k, addr):
    return k.sched.kworkers.get(addr)


def _init_kworker(k, m, addr):
    m.write(addr, bytes(KWORKER_SIZE))
    for head in (addr + 8, addr + 24):
        m.write_ptr(head, head)
        m.write_ptr(head + 8, head)
    w = KWorker(addr)
    k.sched.kworkers[addr] = w
    return w


@kapi("kthread.__kthread_init_worker", worker=PTR, name=PTR, key=PTR)
def kthread_init_worker(k, m, worker, name, key):
    _init_kworker(k, m, worker)


def _create_worker(k, m, name):
    addr = k.slab.kmalloc(KWORKER_SIZE, 0x100)
    w = _init_kworker(k, m, addr)
    task = k.sched.create_kthread(name[:15], k.export_addr("kthread_worker_fn") or 0, addr)
    task.body = KWorkerBody(w)
    w.task = task
    m.write_ptr(addr + KWORKER_TASK, task.addr)
    k.sched.wake(task, TASK_NORMAL)
    return addr


@kapi("kthread.kthread_create_worker", flags=UINT, namefmt=PTR)
def kthread_create_worker(k, m, flags, namefmt):
    from .printk import RegArgs, kformat
    name, _ = kformat(k, m, namefmt, RegArgs(m, 2))
    return _create_worker(k, m, name.decode("latin-1"))


@kapi("kthread.kthread_create_worker_on_cpu", cpu=INT, flags=UINT, namefmt=PTR)
def kthread_create_worker_on_cpu(k, m, cpu, flags, namefmt):
    from .printk import RegArgs, kformat
    name, _ = kformat(k, m, namefmt, RegArgs(m, 3))
    return _create_worker(k, m, name.decode("latin-1"))


def _kqueue(k, m, w, work):
    m.write_ptr(work + KWORK_WORKER, w.addr)
    w.queue.append(work)
    if w.task is not None:
        k.sched.wake(w.task, TASK_NORMAL)


@kapi("kthread.kthread_queue_work", worker=PTR, work=PTR)
def kthread_queue_work(k, m, worker, work):
    w = _kworker(k, worker)
    if w is None or work in w.queue or k.sched.pending(work + KDWORK_TIMER):
        return 0
    _kqueue(k, m, w, work)
    return 1


@kapi("kthread.kthread_queue_delayed_work", worker=PTR, dwork=PTR, delay=ULONG)
def kthread_queue_delayed_work(k, m, worker, dwork, delay):
    w = _kworker(k, worker)
    if w is None or dwork in w.queue or k.sched.pending(dwork + KDWORK_TIMER):
        return 0
    _kdelay(k, m, w, dwork, delay)
    return 1


def _kdelay(k, m, w, dwork, delay):
    m.write_ptr(dwork + KWORK_WORKER, w.addr)
    if delay == 0:
        _kqueue(k, m, w, dwork)
        return
    timer = dwork + KDWORK_TIMER
    m.write_ptr(timer + TIMER_FUNCTION, k.export_addr("kthread_delayed_work_timer_fn") or 0)
    _arm_timer(k, m, timer, (k.time.jiffies() + delay) & ((1 << 64) - 1))


@kapi("kthread.kthread_delayed_work_timer_fn", t=PTR)
def kthread_delayed_work_timer_fn(k, m, t):
    dwork = t - KDWORK_TIMER
    w = _kworker(k, m.read_ptr(dwork + KWORK_WORKER))
    if w is not None:
        _kqueue(k, m, w, dwork)


@kapi("kthread.kthread_mod_delayed_work", worker=PTR, dwork=PTR, delay=ULONG)
def kthread_mod_delayed_work(k, m, worker, dwork, delay):
    w = _kworker(k, worker)
    if w is None:
        return 0
    was = del_timer.__wrapped__(k, m, dwork + KDWORK_TIMER) or dwork in w.queue
    if dwork in w.queue:
        w.queue.remove(dwork)
    _kdelay(k, m, w, dwork, delay)
    return int(bool(was))


def _kflush(k, w, key, value=None):
    if (key == 0 and w.busy()) or (key != 0 and w.busy(key)):
        w.flushers.setdefault(key, []).append(k.tasks.current)
        return k.sched.block(TASK_UNINTERRUPTIBLE, resume=lambda: value)
    return value


@kapi("kthread.kthread_flush_work", work=PTR)
def kthread_flush_work(k, m, work):
    w = _kworker(k, m.read_ptr(work + KWORK_WORKER))
    return _kflush(k, w, work) if w is not None else None


@kapi("kthread.kthread_flush_worker", worker=PTR)
def kthread_flush_worker(k, m, worker):
    w = _kworker(k, worker)
    return _kflush(k, w, 0) if w is not None else None


def _kcancel(k, m, work, delayed):
    w = _kworker(k, m.read_ptr(work + KWORK_WORKER))
    if w is None:
        return 0
    was = bool(delayed and del_timer.__wrapped__(k, m, work + KDWORK_TIMER))
    if work in w.queue:
        w.queue.remove(work)
        was = True
    return _kflush(k, w, work, int(was))


@kapi("kthread.kthread_cancel_work_sync", work=PTR)
def kthread_cancel_work_sync(k, m, work):
    return _kcancel(k, m, work, False)


@kapi("kthread.kthread_cancel_delayed_work_sync", dwork=PTR)
def kthread_cancel_delayed_work_sync(k, m, dwork):
    return _kcancel(k, m, dwork, True)


@kapi("kthread.kthread_destroy_worker", worker=PTR)
def kthread_destroy_worker(k, m, worker):
    """kthread_stop on its thread, which runs what is queued before it leaves; the caller
    waits for that."""
    from . import sched as api
    w = k.sched.kworkers.pop(worker, None)
    if w is None or w.task is None or w.task.dead:
        return None
    return api.kthread_stop.__wrapped__(k, m, w.task.addr)
