"""The scheduler: tasks that take turns on the one CPU, and the time that wakes them.

The reference guest runs on one CPU (``-smp 1``) with CONFIG_PREEMPT_VOLUNTARY: a task
gives the CPU up only where it sleeps or asks for it (``schedule``, ``msleep``,
``wait_for_completion``, a contended mutex, ``cond_resched``...). kmodsim switches tasks
at exactly those points, cooperatively:

* every task that runs module code has its own kernel stack and, while it is switched
  out, its saved CPU state (Unicorn's ``context_save``). The process making a syscall
  (insmod, rmmod, a read) runs on the syscall stack; kthreads and kworkers on their own;
* a kernel function that sleeps (:meth:`Sched.block`) marks the task, sends the CPU to
  the return trampoline and stops it (``m.stop("switch")``). :meth:`Kernel.call` then
  lets the other tasks and the timers that fall due run (:meth:`Sched.wait_for`) until
  that task is woken, puts its CPU state back and goes on: to the module, the call
  simply returned its value;
* a woken task runs when the running one next sleeps or yields, or when the syscall that
  woke it returns (``exit_to_user_mode``'s reschedule): :meth:`run_pending`;
* time moves only when nothing can run: :meth:`run_until` (the shell's ``sleep``, a
  program's ``nanosleep``) advances the clock event by event, firing timers in expiry
  order (softirq context: ``in_interrupt()`` is true) and running the tasks they wake.

Timers keep the kernel's timer wheel's granularity (an expiry more than 63 jiffies away
is rounded up to its level's granule, as ``calc_wheel_index`` does), so a kthread's
``msleep(300)`` wakes when the real one does.

Everything a task does is charged to the budget of the syscall it runs in (emulator.budget):
each switch costs :data:`SWITCH_COST` instructions, so a storm of wakeups ends like an
endless loop does.
"""

import heapq
from collections import deque
from dataclasses import dataclass, field

from linker.loglevels import LOGLEVEL_ERR

from .budget import BudgetExhausted
from .errors import KernelPanic
from .clock import NS_PER_JIFFY
from .machine import MemoryFault
from .memmap import STACK_TOP, THREAD_SIZE

SWITCH_COST = 1000          # instructions charged for each context switch
EVENT_COST = 100            # instructions charged for each timer that fires
SLICES_PER_TURN = 200       # the most turns other tasks get before the process goes on
MAX_SCHEDULE_TIMEOUT = (1 << 63) - 1
# task states (include/linux/sched.h)
TASK_RUNNING, TASK_INTERRUPTIBLE, TASK_UNINTERRUPTIBLE = 0x0, 0x1, 0x2
TASK_DEAD, TASK_WAKEKILL, TASK_NOLOAD, TASK_PARKED = 0x80, 0x100, 0x400, 0x40
TASK_NORMAL = TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE
TASK_IDLE = TASK_UNINTERRUPTIBLE | TASK_NOLOAD
PF_KTHREAD = 0x00200000
# preempt_count (include/linux/preempt.h); x86 keeps PREEMPT_NEED_RESCHED inverted in bit 31
SOFTIRQ_OFFSET, SOFTIRQ_DISABLE_OFFSET, HARDIRQ_OFFSET = 0x100, 0x200, 0x10000
PREEMPT_NEED_RESCHED = 0x80000000
# kernel stacks of kthreads and kworkers: THREAD_SIZE each, an unmapped guard between them
KTHREAD_STACKS = STACK_TOP + 0x100000
STACK_SLOT = 2 * THREAD_SIZE
IRQ_STACK_TOP = STACK_TOP + 0x80000          # softirq callbacks run here
# where each kind of task's module code returns into the kernel (its call trace's next frame)
RETURN_SITES = {"kthread": ("kthread", 0xd7), "worker": ("process_one_work", 0x1c7),
                "timer": ("call_timer_fn", 0x27)}
# the timer wheel (kernel/time/timer.c): 6 bits per level, each 8 times coarser
LVL_CLK_SHIFT, LVL_BITS, LVL_DEPTH = 3, 6, 9
HUNG_TASK_TIMEOUT_S = 120
HUNG_CHECK_PHASE_NS = 2_600_000_000     # khungtaskd's start: its checks come 120 s apart from it
HUNG_TASK_WARNINGS = 10


def wheel_expiry(expires, now):
    """The jiffy a timer wheel timer for ``expires`` fires at (``calc_wheel_index``): the
    level is chosen by how far away it is, and the expiry rounded up past that level's
    granule (level 0: the next jiffy), so that it never fires early."""
    delta = (expires - now) & ((1 << 64) - 1)
    if delta >> 63:
        return now
    level = 0
    while level < LVL_DEPTH - 1 and delta >= ((1 << LVL_BITS) - 1) << (level * LVL_CLK_SHIFT):
        level += 1
    shift = level * LVL_CLK_SHIFT
    return ((expires >> shift) + 1) << shift


@dataclass
class KThread:
    """``struct kthread``: what kthread_create gave the task to run, and its stop flags."""

    threadfn: int
    data: int
    should_stop: bool = False
    should_park: bool = False
    parked: bool = False
    started: bool = False
    exited: bool = False
    exiting: int | None = None      # kthread_exit(code) called: the task ends
    result: int = 0
    stoppers: list = field(default_factory=list)     # tasks waiting in kthread_stop


@dataclass(order=True)
class Event:
    """A timer in the queue: fires at ``ns``; ``seq`` keeps the order it was added in."""

    ns: int
    seq: int
    fire: object = field(compare=False)        # callable(): what happens at expiry
    key: object = field(compare=False, default=None)
    cancelled: bool = field(compare=False, default=False)


class Sched:
    """``k.sched``: the run queue, the timer queue, and running tasks in turn."""

    def __init__(self, kernel):
        self.k = kernel
        self.runqueue: deque = deque()
        self.events: list[Event] = []
        self.timers: dict[int, Event] = {}       # a guest timer_list/hrtimer -> its event
        self.seq = 0
        self.kthread_by_addr: dict = {}          # task_struct address -> kthread Task
        self.waiters: dict = {}                  # a guest object -> the tasks waiting on it
        self.free_stacks: list[int] = []
        self.next_stack = 0
        self.in_slice = 0        # > 0 while a task other than the syscall's own runs
        self.atomic = 0          # > 0 while a timer callback runs (softirq context)
        self.stack_top = STACK_TOP     # the stack of the code running now (Call Traces)
        self.gave_up = None      # why wait_for could not bring a task back
        self.next_check = HUNG_CHECK_PHASE_NS + HUNG_TASK_TIMEOUT_S * 1_000_000_000
        self.hung_warnings = HUNG_TASK_WARNINGS
        self.workqueues = None   # emulator.kapi.timers' worker pools and workqueues
        self.hrtimer_running = None     # the hrtimer whose callback runs now
        self.rcu_done_ns = 0     # when the last RCU callback queued so far runs
        self.kworkers = {}       # a kthread_worker -> emulator.kapi.timers.KWorker
        self.kthread_bodies = {}     # a kernel threadfn -> (task) -> what the task runs
        self.hrtimer_bases = {}  # clock id -> the CPU's hrtimer_clock_base (guest memory)

    # ------------------------------------------------------------------ boot

    def boot(self):
        """The per-CPU preempt count as a running task has it: 0, no reschedule pending."""
        self.k._percpu_write("__preempt_count", 4, PREEMPT_NEED_RESCHED)

    # ------------------------------------------------------------------ preempt count

    def preempt_count(self):
        addr = self._preempt_addr()
        if addr is None:
            return 0
        return self.k.machine.read_int(addr, 4) & ~PREEMPT_NEED_RESCHED & 0xFFFFFFFF

    def preempt_add(self, n):
        addr = self._preempt_addr()
        if addr is not None:
            m = self.k.machine
            m.write_int(addr, 4, (m.read_int(addr, 4) + n) & 0xFFFFFFFF)

    def preempt_set(self, count):
        addr = self._preempt_addr()
        if addr is not None:
            self.k.machine.write_int(addr, 4, (count | PREEMPT_NEED_RESCHED) & 0xFFFFFFFF)

    def _preempt_addr(self):
        from .memmap import GS_BASE
        off = self.k.export_addr("__preempt_count")
        return None if off is None or self.k.profile.kind != "linux" else GS_BASE + off

    # ------------------------------------------------------------------ task state

    def state_of(self, task):
        """``task->__state`` as the task_struct holds it."""
        if not task.addr or self.k.profile.kind != "linux":
            return TASK_RUNNING
        return self.k.machine.read_int(task.addr + self._state_off(), 4)

    def set_state(self, task, state):
        if task.addr and self.k.profile.kind == "linux":
            self.k.machine.write_int(task.addr + self._state_off(), 4, state)

    def _state_off(self):
        return self.k.profile.offsetof("task_struct", "__state")

    def kthread_tasks(self):
        """Every kthread made since boot, exited ones too (kthread_stop may come later)."""
        return list(self.kthread_by_addr.values())

    # ------------------------------------------------------------------ kthreads

    def create_kthread(self, comm, threadfn, data):
        """A new task for ``threadfn(data)``, as kthreadd forks it: on the task list, asleep
        (TASK_UNINTERRUPTIBLE) until someone wakes it."""
        tasks = self.k.tasks
        task = tasks.make(tasks.new_pid(), comm)
        task.kthread = KThread(threadfn, data)
        self.kthread_by_addr[task.addr] = task
        self.k.machine.write_int(task.addr + self.k.profile.offsetof("task_struct", "flags"),
                                 4, PF_KTHREAD)
        tasks.add(task)
        self.set_state(task, TASK_UNINTERRUPTIBLE)
        return task

    def stack_for(self, task):
        """The top of ``task``'s kernel stack: its own for a kthread (mapped on first use),
        the syscall stack for a process."""
        if task.stack_top:
            return task.stack_top
        if task.kthread is None and not task.worker:
            return STACK_TOP
        from .machine import PROT_READ, PROT_WRITE
        if self.free_stacks:
            top = self.free_stacks.pop()
        else:
            top = KTHREAD_STACKS + self.next_stack * STACK_SLOT + THREAD_SIZE
            self.next_stack += 1
            self.k.machine.map(top - THREAD_SIZE, THREAD_SIZE, PROT_READ | PROT_WRITE,
                               "kernel stack of a kthread")
        task.stack_top = top
        return top

    # ------------------------------------------------------------------ sleeping, waking

    def current(self):
        return self.k.tasks.current

    def can_block(self):
        """Whether the code running now may sleep: not in a timer callback, not without a
        task (the hobby kernel)."""
        return self.atomic == 0 and self.k.profile.kind == "linux" and \
            self.k.machine.trampoline is not None

    def block(self, state, timeout_ns=None, resume=None, until_timeout=False):
        """The current task sleeps in a kernel function (call from its handler): ``state``
        is written to ``__state`` (TASK_RUNNING: it only yields); a timeout wakes it after
        ``timeout_ns``; ``resume()`` gives the function's return value when it runs again
        (None: void). ``until_timeout``: only the timeout ends the sleep (msleep).
        Returns what the handler returns: HANDLED once the CPU is stopped, or the value
        at once when the code may not sleep here."""
        from .kapi.registry import HANDLED
        from .faults import touch_watchdog
        k, m = self.k, self.k.machine
        task = self.current()
        if not self.can_block():
            if self.atomic:
                self.schedule_bug(task)
            elif timeout_ns is not None:        # no scheduler (the hobby kernel): time passes
                k.time.advance(timeout_ns)
            return resume() if resume is not None else None
        count = self.preempt_count()
        if count:
            self.schedule_bug(task, count)
            self.preempt_set(0)     # schedule_debug: preempt_count_set(PREEMPT_DISABLED)
        touch_watchdog(k)
        task.blocked = (k.time.ns, m.sp, k.kapi.names.get(m.pc, ""))
        task.resume = resume
        task.until_timeout = until_timeout
        task.wake_event = None
        if state == TASK_RUNNING:
            self.set_state(task, TASK_RUNNING)
            self._enqueue(task)
        else:
            self.set_state(task, state)
            if timeout_ns is not None:
                task.wake_event = self.add_event(k.time.ns + timeout_ns,
                                                 lambda t=task: self.wake(t, timer=True))
        m.set_reg(m.IP, m.trampoline)
        m.stop("switch")
        return HANDLED

    def block_jiffies(self, state, timeout, resume_remaining=None, until_timeout=False):
        """schedule_timeout(``timeout``) in ``state``: the timer is a timer wheel timer.
        ``resume_remaining(left)`` turns the jiffies left into the return value."""
        now = self.k.time.jiffies()
        if timeout >= MAX_SCHEDULE_TIMEOUT or timeout < 0:
            return self.block(state, resume=(lambda: resume_remaining(MAX_SCHEDULE_TIMEOUT))
                              if resume_remaining else None)
        expire = (now + timeout) & ((1 << 64) - 1)
        fires = wheel_expiry(expire, now)
        ns = self.jiffy_ns(fires) - self.k.time.ns

        def remaining():
            left = (expire - self.k.time.jiffies()) & ((1 << 64) - 1)
            left = 0 if left >> 63 else left
            return resume_remaining(left) if resume_remaining else left
        return self.block(state, timeout_ns=max(ns, 0), resume=remaining,
                          until_timeout=until_timeout)

    def jiffy_ns(self, jiffies):
        """The simulated time at which ``jiffies`` ticks (the first nanosecond of it)."""
        now_j = self.k.time.jiffies()
        delta = (jiffies - now_j) & ((1 << 64) - 1)
        if delta >> 63:
            delta -= 1 << 64
        return (self.k.time.ns // NS_PER_JIFFY + delta) * NS_PER_JIFFY

    def wake(self, task, mask=TASK_NORMAL, timer=False):
        """``try_to_wake_up``: a task sleeping in a state of ``mask`` becomes runnable.
        True if it was woken."""
        if task is None or task.dead:
            return False
        state = self.state_of(task)
        if task.until_timeout and not timer:
            return False
        if not state & mask and not (timer and state):
            return False
        if task.on_rq:
            return False
        if task.wake_event is not None and not timer:
            task.wake_event.cancelled = True
        task.wake_event = None
        self.set_state(task, TASK_RUNNING)
        self._enqueue(task)
        return True

    def _enqueue(self, task):
        if not task.on_rq:
            task.on_rq = True
            self.runqueue.append(task)

    def schedule_bug(self, task, count=None):
        """``__schedule_bug``: sleeping where the preempt count forbids it."""
        k = self.k
        if count is None:
            count = self.preempt_count()
        k.printk(LOGLEVEL_ERR, f"BUG: scheduling while atomic: {task.comm}/{task.pid}/"
                               f"0x{count + 1:08x}")
        from .faults import print_modules
        print_modules(k)
        dump_stack_here(k, ("dump_stack_lvl+0x44/0x5c", "__schedule_bug.cold+0x42/0x4e",
                            "__schedule+0x804/0xa00", "schedule+0x5a/0xd0") +
                        self._sleep_frames())
        k.add_taint("W", False)

    def _sleep_frames(self):
        name = self.k.kapi.names.get(self.k.machine.pc, "")
        return SLEEP_FRAMES.get(name, ())

    # ------------------------------------------------------------------ running tasks

    def wait_for(self, task):
        """Run other tasks and due timers until ``task`` is runnable again (then it is
        taken off the run queue). False if it never will be, or the budget ran out
        (``gave_up`` says which)."""
        self.gave_up = None
        try:
            while True:
                if task.on_rq:
                    self.runqueue.remove(task)
                    task.on_rq = False
                    return True
                self.k.budget.charge(SWITCH_COST)
                if self.runqueue:
                    self.run_slice(self.runqueue.popleft())
                    continue
                if self.k.faults.panicked is not None:
                    self.gave_up = "panic"
                    return False
                if not self._fire_next():
                    self._hung(task)
                    self.gave_up = "hung"
                    return False
        except BudgetExhausted as exc:
            self.gave_up = exc.reason
            return False

    def run_pending(self, slices=SLICES_PER_TURN):
        """Run the runnable tasks until none is (the syscall is returning to user space),
        or for at most ``slices`` turns: tasks that keep waking each other share the CPU
        with the process, as the fair scheduler makes them, instead of taking it for
        good. A budget that runs out meanwhile ends it too (what was running is reported
        where it was: a soft lockup)."""
        if self.k.profile.kind != "linux":
            return
        try:
            while self.runqueue and self.k.faults.panicked is None and slices > 0:
                slices -= 1
                self.k.budget.charge(SWITCH_COST)
                self.run_slice(self.runqueue.popleft())
        except BudgetExhausted:
            pass

    def run_until(self, ns):
        """Let simulated time reach ``ns``: timers fire in expiry order, the tasks they wake
        run, then the clock stands at ``ns``."""
        k = self.k
        self.run_pending()
        while k.faults.panicked is None:
            nxt = self._next_event()
            if nxt is None or nxt.ns > ns:
                break
            self._fire_next()
            self.run_pending()
        self._advance_to(ns)

    def _advance_to(self, ns):
        """Move the clock to ``ns``; khungtaskd's checks on the way run at their times. Once
        no task is left that a check could report, the checks up to ``ns`` find nothing:
        the clock goes there at once (a timer years away, a corrupt expiry, costs no more
        than one a second away)."""
        k = self.k
        timeout = HUNG_TASK_TIMEOUT_S * 1_000_000_000
        while self.next_check <= ns and k.faults.panicked is None:
            if not self._hung_candidates():
                self.next_check += ((ns - self.next_check) // timeout + 1) * timeout
                break
            if self.next_check > k.time.ns:
                k.time.advance(self.next_check - k.time.ns)
            self.hung_check()
        if ns > k.time.ns:
            k.time.advance(ns - k.time.ns)

    def _hung_candidates(self):
        """The tasks a khungtaskd check could still report (see hung_check)."""
        if self.hung_warnings <= 0 or self.k.profile.kind != "linux":
            return []
        return [task for task in self.k.tasks.all
                if task.blocked is not None and not task.on_rq and not task.dead
                and task.ctx is not None and task.hung_reported != task.blocked[0]]

    def sleep(self, ns):
        """The current process sleeps ``ns`` nanoseconds (the shell's ``sleep``, nanosleep):
        everything that falls due meanwhile runs, under one syscall's budget."""
        k = self.k
        if k.machine.closed:
            return
        target = k.time.ns + int(ns)
        if k.faults.panicked is not None or k.profile.kind != "linux":
            k.time.advance(target - k.time.ns)
            return
        k.budgeted(self.run_until, target)
        if k.time.ns < target:          # the budget ran out on the way
            k.time.advance(target - k.time.ns)

    def run_slice(self, task):
        """Run ``task`` until it sleeps, yields, or its code is done."""
        task.on_rq = False
        if task.dead:
            return
        k = self.k
        saved = (k.sentinel, k.faults.running, k.tasks.current, self.stack_top)
        self.in_slice += 1
        try:
            k.tasks.set_current(task)
            task.body.run(self, task)
        except (BudgetExhausted, KernelPanic):
            raise
        except Exception as exc:    # the kernel's own bookkeeping hit memory that is gone
            k.printk(LOGLEVEL_ERR, f"kmodsim: {task.comm}[{task.pid}] stopped: {exc}")
            if not task.dead:
                self.exit_task(task)
        finally:
            self.in_slice -= 1
            k.sentinel, k.faults.running, stack = saved[0], saved[1], saved[3]
            self.stack_top = stack
            if saved[2] is not None and not saved[2].dead:
                k.tasks.set_current(saved[2])
            elif k.tasks.shell is not None:
                k.tasks.set_current(k.tasks.shell)

    # ------------------------------------------------------------------ frames

    def run_frame(self, task, func, args, what):
        """Start module function ``func(*args)`` as ``task``'s code (a kthread's threadfn,
        a work item): ("returned", value), ("switch", None) when it went to sleep, or
        ("dead", signal) when it oopsed."""
        from . import faults
        k = self.k
        ctx = faults.Context(faults.module_of(k, func), what)
        sentinel = self.return_site(what)
        task.frame = (ctx, sentinel)
        self.stack_top = self.stack_for(task)
        k.faults.running = ctx
        k.faults.watchdog_touched = False
        return self._guarded(task, lambda: k.call(func, args, sentinel))

    def resume_frame(self, task):
        """Go on with ``task``'s code where it went to sleep."""
        k = self.k
        ctx, sentinel = task.frame
        k.sentinel = sentinel
        k.faults.running = ctx
        self.restore(task)
        return self._guarded(task, lambda: self._resume_cpu(k.machine.pc))

    def _resume_cpu(self, pc):
        k, m = self.k, self.k.machine
        if k.debugger is not None:
            k.debugger.run_call(k, pc, k.sentinel)
        else:
            k._run_once(pc)
        if m.pc == k.sentinel and m.stop_reason in (None, "timeout", "budget"):
            m.stop_reason = "returned"
        return m.reg(m.RET)

    def _guarded(self, task, go):
        """emulator.faults' run loop for a task's code: a trap is reported as the kernel
        reports it (a WARN goes on), anything fatal kills the task."""
        from unicorn import UcError
        from . import faults
        k, m = self.k, self.k.machine
        ctx = k.faults.running
        with k.budget.suspended():
            while True:
                try:
                    value = go()
                except KernelPanic:
                    return "dead", "panic"
                except UcError as exc:
                    trap = faults._trap_from_error(k, exc)
                else:
                    if m.stop_reason == "returned":
                        return "returned", value
                    if m.stop_reason == "switch":
                        self.save(task)
                        return "switch", None
                    trap = faults._trap_from_stop(k)
                try:
                    result = faults.handle_trap(k, ctx, trap)
                except KernelPanic:
                    return "dead", "panic"
                if isinstance(result, faults.Outcome):
                    return "dead", result.signal
                go = (lambda pc=result: self._resume_cpu(pc))

    def save(self, task):
        task.ctx = self.k.machine.uc.context_save()

    def restore(self, task):
        """Put ``task``'s CPU state back; its kernel function returns ``resume()``."""
        m = self.k.machine
        m.uc.context_restore(task.ctx)
        task.ctx = None
        self.stack_top = self.stack_for(task)
        resume, task.resume = task.resume, None
        if resume is not None:
            value = resume()
            if value is not None:
                m.set_reg(m.RET, value)

    def return_site(self, kind):
        name, off = RETURN_SITES[kind]
        addr = self.k.profile.kallsyms().address(name) if self.k.profile.kallsyms_path else None
        return (addr + off) if addr else self.k.profile.kernel_text.start + off

    def exit_task(self, task, code=0):
        """``do_exit``: the task is gone from the task list; those waiting in kthread_stop
        for it are woken."""
        task.dead = True
        task.exit_code = code
        self.set_state(task, TASK_DEAD)
        if task.on_rq:
            self.runqueue.remove(task)
            task.on_rq = False
        if task.wake_event is not None:
            task.wake_event.cancelled = True
        if task.kthread is not None:
            task.kthread.exited = True
            task.kthread.result = code
            for waiter in task.kthread.stoppers:
                self.wake(waiter, TASK_NORMAL)
            task.kthread.stoppers.clear()
        if task.stack_top:
            self.free_stacks.append(task.stack_top)
            task.stack_top = 0
        self.k.tasks.reap(task, free=False)

    # ------------------------------------------------------------------ timers

    def add_event(self, ns, fire, key=None):
        self.seq += 1
        ev = Event(int(ns), self.seq, fire, key)
        heapq.heappush(self.events, ev)
        return ev

    def _next_event(self):
        while self.events and self.events[0].cancelled:
            heapq.heappop(self.events)
        return self.events[0] if self.events else None

    def _fire_next(self):
        """Advance the clock to the next event and fire every event due then. False if
        there is none."""
        ev = self._next_event()
        if ev is None:
            return False
        k = self.k
        self._advance_to(ev.ns)
        idle = self._idle()
        try:
            while (ev := self._next_event()) is not None and ev.ns <= k.time.ns:
                k.budget.charge(EVENT_COST)     # an hrtimer re-armed in the past: a storm
                heapq.heappop(self.events)
                if ev.key is not None and self.timers.get(ev.key) is ev:
                    del self.timers[ev.key]
                try:
                    ev.fire()
                except MemoryFault as exc:      # a timer in memory that is gone
                    softirq_fault(k, exc.addr, exc.access)
                except (BudgetExhausted, KernelPanic):
                    raise
                except Exception as exc:        # a kmodsim bug: said, not a traceback
                    k.printk(LOGLEVEL_ERR, f"kmodsim: a timer could not run: {exc}")
                if k.faults.panicked is not None:
                    break
        finally:
            if idle is not None:
                k.tasks.set_current(idle)
        return True

    def _idle(self):
        """Nothing runs while time passes: the interrupt finds the idle task (swapper/0)
        current. Returns the task that was current before, to put back."""
        tasks = self.k.tasks
        if self.in_slice or tasks.init_task is None:
            return None
        before = tasks.current
        tasks.set_current(tasks.init_task)
        return before

    def arm(self, key, ns, fire):
        """(Re)arm the timer ``key`` (a guest address) to ``fire()`` at ``ns``; True if it
        was pending."""
        was = self.disarm(key)
        self.timers[key] = self.add_event(ns, fire, key)
        return was

    def disarm(self, key):
        ev = self.timers.pop(key, None)
        if ev is None:
            return False
        ev.cancelled = True
        return True

    def pending(self, key):
        return key in self.timers

    def run_atomic(self, func, args, what="timer", hard=False):
        """Run module function ``func(*args)`` in softirq context (a timer's callback; in
        hardirq context with ``hard``: an hrtimer's) on the IRQ stack: ``in_interrupt()``
        is true, it may not sleep."""
        from . import faults
        k = self.k
        mod = faults.module_of(k, func)
        saved_top = self.stack_top
        offset = HARDIRQ_OFFSET if hard else SOFTIRQ_OFFSET
        self.atomic += 1
        self.preempt_add(offset)
        self._map_irq_stack()
        self.stack_top = IRQ_STACK_TOP
        saved_sentinel, saved_running = k.sentinel, k.faults.running
        try:
            faults.run_guarded(k, mod, func, what, args, sentinel=self.return_site("timer"))
        finally:
            k.sentinel, k.faults.running = saved_sentinel, saved_running
            self.preempt_add(-offset)
            self.atomic -= 1
            self.stack_top = saved_top

    def _map_irq_stack(self):
        m = self.k.machine
        if m.region_of(IRQ_STACK_TOP - 1) is None:
            from .machine import PROT_READ, PROT_WRITE
            m.map(IRQ_STACK_TOP - THREAD_SIZE, THREAD_SIZE, PROT_READ | PROT_WRITE,
                  "IRQ stack (softirqs)")

    # ------------------------------------------------------------------ hung tasks

    def _hung(self, task):
        """Nothing will ever wake ``task``: the real one would sleep for good. khungtaskd's
        next check that finds it blocked for 120 s reports it (if it sleeps in D state);
        then kmodsim kills the process."""
        k = self.k
        since = task.blocked[0] if task.blocked else k.time.ns
        target = self.next_hung_check(since + HUNG_TASK_TIMEOUT_S * 1_000_000_000)
        if target > k.time.ns:
            k.time.advance(target - k.time.ns)
        self.hung_check()
        k.printk(LOGLEVEL_ERR, f"kmodsim: {task.comm}[{task.pid}] sleeps with nothing left "
                               f"to wake it: killed")

    @staticmethod
    def next_hung_check(ns):
        """The first of khungtaskd's checks (every 120 s from its start) at or after ``ns``."""
        period = HUNG_TASK_TIMEOUT_S * 1_000_000_000
        n = max(-(-(ns - HUNG_CHECK_PHASE_NS) // period), 1)
        return HUNG_CHECK_PHASE_NS + n * period

    def hung_check(self):
        """``check_hung_uninterruptible_tasks`` at every check time the clock has passed:
        each task asleep in D state (not TASK_IDLE) and not scheduled for 120 s is
        reported, at most ``sysctl_hung_task_warnings`` (10) times in all."""
        k = self.k
        if k.profile.kind != "linux":
            return
        timeout = HUNG_TASK_TIMEOUT_S * 1_000_000_000
        while self.next_check <= k.time.ns:
            now = self.next_check
            self.next_check += timeout
            for task in list(k.tasks.all):
                if self.hung_warnings <= 0 or task.blocked is None or task.on_rq or \
                        task.dead or task.ctx is None:
                    continue
                state = self.state_of(task)
                if state != TASK_UNINTERRUPTIBLE or now - task.blocked[0] < timeout or \
                        task.hung_reported == task.blocked[0]:
                    continue
                task.hung_reported = task.blocked[0]
                self.hung_warnings -= 1
                self.hung_task_report(task, (now - task.blocked[0]) // 1_000_000_000)

    def hung_task_report(self, task, seconds=HUNG_TASK_TIMEOUT_S):
        """``check_hung_task``'s report (kernel/hung_task.c) and ``sched_show_task``."""
        from linker.loglevels import LOGLEVEL_INFO
        from .faults import _uname_suffix
        k = self.k
        k.printk(LOGLEVEL_ERR, f"INFO: task {task.comm}:{task.pid} blocked for more than "
                               f"{seconds} seconds.")
        p = k.profile
        tainted = f"Tainted: {k.taints.string()}" if k.taints else "Not tainted"
        version = (p.version or "#1").split()[0]
        k.printk(LOGLEVEL_ERR, f"      {tainted} {p.release or p.name} {version} "
                               f"{_uname_suffix(p).split(None, 1)[-1]}")
        k.printk(LOGLEVEL_ERR, '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables '
                               'this message.')
        ppid = 2 if task.is_kthread else (k.tasks.shell.pid if k.tasks.shell else 1)
        k.printk(LOGLEVEL_INFO, f"task:{task.comm:<15.15} state:D stack:0     pid:{task.pid:<5} "
                                f"ppid:{ppid:<6} flags:0x00004000")
        self.show_blocked_stack(task)

    def show_blocked_stack(self, task):
        """The Call Trace of a task asleep: schedule()'s frames, the sleeping function's,
        then its stack from where it called that function."""
        from . import faults
        k = self.k
        _, sp, fn = task.blocked
        frame = task.frame if task.frame is not None else (k.faults.running, k.sentinel)
        ctx, sentinel = frame
        saved = (self.stack_top, k.sentinel)
        self.stack_top, k.sentinel = self.stack_for(task), sentinel
        try:
            prefix = ("__schedule+0x34d/0xa00", "schedule+0x5a/0xd0") + \
                BLOCKED_FRAMES.get(fn, ())
            if ctx is None:
                faults.dump_stack(k, prefix)
                return
            unwinder = faults.module_unwinder(k)
            faults.show_trace(k, ctx, unwinder, unwinder.start_at_call(sp), sp, prefix=prefix)
        finally:
            self.stack_top, k.sentinel = saved


class KThreadBody:
    """What a kthread runs: ``kthread()``, which calls threadfn(data) unless it was stopped
    before it ever ran (then it exits with -EINTR), and exits with what it returned."""

    def run(self, sched, task):
        kt = task.kthread
        if task.ctx is None:
            if kt.should_stop:
                sched.exit_task(task, -4)       # -EINTR
                return
            kt.started = True
            how, value = sched.run_frame(task, kt.threadfn, (kt.data,), "kthread")
        else:
            how, value = sched.resume_frame(task)
        if how == "switch":
            if kt.exiting is not None:
                task.ctx = None
                sched.exit_task(task, kt.exiting)
            return
        if how == "returned":
            value &= 0xFFFFFFFF
            sched.exit_task(task, value - (1 << 32) if value >> 31 else value)
        elif value != "panic":
            sched.exit_task(task, 0)            # make_task_dead after the oops


class ExitTask(Exception):
    """kthread_exit(): the task ends here, with ``code``."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


def dump_stack_here(k, prefix):
    """dump_stack() in a kernel function module code called (at its entry, the return
    address on top of the stack): the CPU line, ``prefix`` frames, then the module's."""
    from . import faults
    m, ctx = k.machine, k.faults.running
    faults.cpu_line(k)
    if ctx is None:
        return faults.dump_stack(k, tuple(prefix) + faults.KERNEL_FRAMES["init"])
    unwinder = faults.module_unwinder(k)
    faults.show_trace(k, ctx, unwinder, unwinder.start_at_call(m.sp), m.sp, prefix=prefix)


# a kernel function of the timer softirq faulting on a module's freed timer (the idle task
# interrupted): where, and the frames (tests/realkernel/forgot0)
SOFTIRQ_FAULT_SITES = {"timer": ("__run_timers", 0xD3)}
SOFTIRQ_FRAMES = ("run_timer_softirq+0x19/0x30", "handle_softirqs+0xd7/0x280",
                  "__irq_exit_rcu+0xac/0xe0", "sysvec_apic_timer_interrupt+0x6e/0x90")
IDLE_FRAMES = ("amd_e400_idle+0x3d/0x50", "default_idle_call+0x38/0xf0", "do_idle+0x206/0x2b0",
               "cpu_startup_entry+0x26/0x30", "rest_init+0xca/0xd0",
               "arch_call_rest_init+0xa/0x14", "start_kernel+0x6fb/0x70f",
               "secondary_startup_64_no_verify+0xe5/0xeb")


def softirq_fault(k, address, access="write", where="timer"):
    """The timer softirq touched memory that is gone (a module unloaded with its timer
    pending): the page fault's oops in interrupt context on the idle task, then the panic
    "Fatal exception in interrupt", as the reference kernel prints them."""
    from linker.loglevels import LOGLEVEL_ALERT, MESSAGE_LOGLEVEL_DEFAULT
    from . import faults
    m, p = k.machine, k.printk
    name, off = SOFTIRQ_FAULT_SITES[where]
    syms = k.profile.kallsyms() if k.profile.kallsyms_path else None
    base = syms.address(name) if syms is not None else None
    site = (base or k.profile.kernel_text.start) + off
    idle = k.tasks.init_task
    if idle is not None:
        k.tasks.set_current(idle)
    error = 0x0002 if access == "write" else 0x0000
    faults.oops_begin(k)
    p(LOGLEVEL_ALERT, f"BUG: unable to handle page fault for address: {address:016x}")
    p(LOGLEVEL_ALERT, f"#PF: supervisor {access} access in kernel mode")
    p(LOGLEVEL_ALERT, f"#PF: error_code(0x{error:04x}) - not-present page")
    k.faults.cr2 = address
    if k.faults.oops_count == 0:
        k.faults.exec_summary_regs = faults._regs(m, site)
    k.faults.oops_count += 1
    p(MESSAGE_LOGLEVEL_DEFAULT, f"Oops: {error:04x} [#{k.faults.oops_count}]{faults.DIE_FLAGS}")
    faults.cpu_line(k)
    regs = faults._regs(m, site)
    faults.regs_block(k, regs)
    p(MESSAGE_LOGLEVEL_DEFAULT, "Call Trace:")
    p(MESSAGE_LOGLEVEL_DEFAULT, " <IRQ>")
    for frame in SOFTIRQ_FRAMES:
        p(MESSAGE_LOGLEVEL_DEFAULT, f" {frame}")
    p(MESSAGE_LOGLEVEL_DEFAULT, " </IRQ>")
    p(MESSAGE_LOGLEVEL_DEFAULT, " <TASK>")
    p(MESSAGE_LOGLEVEL_DEFAULT, " asm_sysvec_apic_timer_interrupt+0x16/0x20")
    halt = syms.address("native_safe_halt") if syms is not None else None
    if halt:
        faults.regs_block(k, faults._regs(m, halt + 0xB))
    for frame in IDLE_FRAMES:
        p(MESSAGE_LOGLEVEL_DEFAULT, f" {frame}")
    p(MESSAGE_LOGLEVEL_DEFAULT, " </TASK>")
    faults.print_modules(k)
    p(MESSAGE_LOGLEVEL_DEFAULT, f"CR2: {address:016x}")
    faults.oops_end(k, faults.Context(None, "timer"), regs, faults.SIGKILL, in_interrupt=True,
                    addr=address,
                    access=access, title="page fault in the timer softirq")


# what a task asleep shows between schedule() and the module, by the function it sleeps in
BLOCKED_FRAMES = {
    "msleep": ("schedule_timeout+0x94/0x150", "? __bpf_trace_tick_stop+0x10/0x10",
               "msleep+0x29/0x40"),
    "wait_for_completion": ("schedule_timeout+0x11a/0x150", "__wait_for_common+0x94/0x1e0",
                            "? usleep_range_state+0x90/0x90"),
    "wait_for_completion_timeout": ("schedule_timeout+0x94/0x150",
                                    "__wait_for_common+0x94/0x1e0"),
    "mutex_lock": ("schedule_preempt_disabled+0x14/0x30",
                   "__mutex_lock.constprop.0+0x3a4/0x6d0"),
    "kthread_stop": ("schedule_timeout+0x11a/0x150", "__wait_for_common+0x94/0x1e0",
                     "kthread_stop+0x6a/0x180"),
}

# the kernel frames between schedule() and the module, by the sleeping function it called
SLEEP_FRAMES = {
    "msleep": ("schedule_timeout+0x94/0x150", "? __bpf_trace_tick_stop+0x10/0x10",
               "msleep+0x29/0x40"),
    "msleep_interruptible": ("schedule_timeout+0x94/0x150",
                             "? __bpf_trace_tick_stop+0x10/0x10",
                             "msleep_interruptible+0x30/0x60"),
    "schedule_timeout": ("schedule_timeout+0x94/0x150", "? __bpf_trace_tick_stop+0x10/0x10"),
    "schedule": (),
}
