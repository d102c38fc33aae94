"""Tasks: ``task_struct``s in emulated memory, the task list, and ``current``.

At boot the list holds init_task (swapper/0) and the tasks realkernel's guest runs before
its scenario starts (recorded in ``emulator/data/guest_tasks.txt``), so a module walking
the task list sees what it sees on the reference machine; the scenario's shell is pid 83.
Each insmod or rmmod is a short-lived process that is ``current`` while its syscall runs.

A module can write anything into a ``task_struct``: the list operations check what they
follow as the kernel's CONFIG_DEBUG_LIST does (emulator.kapi.core's list checks) and never
fail in Python. A corrupt list found when a task is reaped or forked takes the kernel down
as on the reference machine: ``on_list_bug(task, problem, path)`` reports it
(emulator.faults.release_task_bug) and the kernel is dead from then on (KernelPanic).
"""

import contextlib
from dataclasses import dataclass

from .errors import KernelPanic
from .guestdata import guest_tasks
from .machine import MemoryFault

SHELL_PID = 83
# the guest's boot-time tasks that are kernel threads (all but init and the shell), by name
KTHREAD_COMMS = ("kthreadd", "rcu_", "slub_", "netns", "kworker/", "mm_percpu", "ksoftirqd",
                 "migration/", "cpuhp/", "kdevtmpfs", "inet_frag", "kauditd", "khungtaskd",
                 "oom_reaper", "writeback", "kcompactd", "ksmd", "kintegrityd", "kblockd",
                 "blkcg_", "tpm_dev", "edac-", "devfreq", "quota_", "kswapd", "kthrotld",
                 "acpi_", "mld", "ipv6_", "kstrp", "zswap", "swapper/")


@dataclass(eq=False)
class Task:
    """One task. The scheduling fields belong to emulator.sched: a kthread's ``struct
    kthread`` (``kthread``), a kworker's pool (``worker``), its own kernel stack
    (``stack_top``, 0: the syscall stack), its CPU state while switched out (``ctx``)."""

    pid: int
    comm: str
    addr: int = 0          # the task_struct in emulated memory (0 on the hobby kernel)
    kthread: object = None          # emulator.sched.KThread
    worker: object = None           # the worker pool it serves (a kworker)
    body: object = None             # what the scheduler runs for it (kthread, worker)
    stack_top: int = 0
    ctx: object = None
    resume: object = None           # () -> the sleeping kernel function's return value
    until_timeout: bool = False     # only its timeout wakes it (msleep)
    wake_event: object = None       # the timeout that wakes it
    blocked: tuple | None = None    # (when, its stack pointer, the kernel function) it slept in
    hung_reported: int | None = None    # the sleep khungtaskd reported already
    frame: tuple | None = None      # (faults.Context, sentinel) of the module code it runs
    on_rq: bool = False             # runnable, waiting for the CPU
    dead: bool = False
    exit_code: int = 0

    @property
    def is_kthread(self):
        """A kernel thread (PF_KTHREAD): ps shows it in brackets, it has no memory map."""
        return self.kthread is not None or self.worker is not None or \
            self.comm.startswith(KTHREAD_COMMS) or self.pid == 2


class Tasks:
    """``k.tasks``: the task list and ``current``."""

    def __init__(self, machine, profile, slab, percpu_write):
        self.machine, self.profile, self.slab = machine, profile, slab
        self._percpu_write = percpu_write     # (name, size, value): CPU 0's per-CPU variable
        self.linux = profile.kind == "linux"
        self.next_pid = 0
        self.all: list[Task] = []
        self.init_task: Task | None = None
        self.current: Task | None = None
        self.shell: Task | None = None
        self.on_list_bug = None     # (task, (line, message) or MemoryFault, "wait4"/"clone")

    def boot(self, init_task_addr):
        """init_task, the guest's tasks, then the scenario's shell (current from then on)."""
        if not self.linux:
            self.current = Task(1, "init")
            self.all = [self.current]
            return
        self.init_task = self.make(0, "swapper/0", init_task_addr)
        self.all = [self.init_task]
        for pid, comm in guest_tasks():
            self.next_pid = pid - 1
            self.spawn(comm)
        self.next_pid = SHELL_PID - 1
        self.shell = self.spawn("sh")

    def make(self, pid, comm, addr=None):
        """A task_struct with its pid, tgid, comm and an empty ``tasks`` list node."""
        p, m = self.profile, self.machine
        if addr is None:
            addr = self.slab.heap.alloc(p.sizeof("task_struct"), zero=True)
        task = Task(pid, comm, addr)
        m.write_int(addr + p.offsetof("task_struct", "pid"), 4, pid)
        m.write_int(addr + p.offsetof("task_struct", "tgid"), 4, pid)
        m.write_int(addr + p.offsetof("task_struct", "usage"), 4, 1)     # refcount_t usage
        m.write(addr + p.offsetof("task_struct", "comm"), comm.encode()[:15].ljust(16, b"\0"))
        tasks = addr + p.offsetof("task_struct", "tasks")
        m.write_ptr(tasks, tasks)
        m.write_ptr(tasks + 8, tasks)
        return task

    def new_pid(self):
        self.next_pid += 1
        return self.next_pid

    def add(self, task):
        """Put ``task`` on the task list (as fork does) without making it ``current``."""
        problem = self._list_add_tail(task)
        if problem is not None:
            if self.on_list_bug is not None:
                self.on_list_bug(self.current, problem, "clone")
            raise KernelPanic(f"the task list is corrupt: fork of {task.comm} failed")
        self.all.append(task)

    def live(self):
        """The tasks on the task list, in its order: ``pid``, ``comm``, ``is_kthread``, and
        their state letter from :meth:`state` (what ps and /proc/<pid> show)."""
        return list(self.all)

    def state(self, task):
        """The state letter ps and /proc/<pid>/stat show: R running or runnable, S asleep,
        D asleep uninterruptibly, I an idle kernel thread, Z a zombie."""
        if task is self.current or task.on_rq or not self.linux or not task.addr:
            return "R"
        if task.dead:
            return "Z"
        raw = self.machine.read_int(task.addr + self.profile.offsetof("task_struct", "__state"), 4)
        if raw == 0:
            return "S"
        if raw & 0x400 and raw & 0x2:       # TASK_IDLE
            return "I"
        if raw & 0x2:
            return "D"
        return "S"

    def spawn(self, comm):
        """A new process (as the shell forks insmod/rmmod); it becomes ``current``. A task
        list that fork's check finds corrupt kills the forking task and the kernel with it:
        KernelPanic."""
        task = self.make(self.new_pid(), comm)
        problem = self._list_add_tail(task)
        if problem is not None:
            if self.on_list_bug is not None:
                self.on_list_bug(self.current, problem, "clone")
            raise KernelPanic(f"the task list is corrupt: fork of {comm} failed")
        self.all.append(task)
        self.set_current(task)
        return task

    def reap(self, task, free=True):
        """release_task: the task leaves the list (``list_del_rcu``, checked) and its
        task_struct is freed (not with ``free=False``: a kthread's stays for kthread_stop).
        A corrupt node is the kernel's BUG in the reaper (current), and the task_struct
        stays where it is."""
        if task not in self.all or task is self.init_task:
            return
        self.all.remove(task)
        if not self.linux:
            return
        from .kapi.core import list_del_problem
        m, off = self.machine, self.profile.offsetof("task_struct", "tasks")
        node = task.addr + off
        try:
            problem = list_del_problem(m, node)
            if problem is None:
                nxt, prev = m.read_ptr(node), m.read_ptr(node + 8)
                m.write_ptr(prev, nxt)
                m.write_ptr(nxt + 8, prev)
        except MemoryFault as exc:
            problem = exc
        if problem is not None:
            if self.on_list_bug is not None:
                self.on_list_bug(self.current, problem, "wait4")
            return
        if free:
            self.slab.heap.free(task.addr)

    def _list_add_tail(self, task):
        """list_add_tail_rcu(&p->tasks, &init_task.tasks), checked as __list_add_valid
        checks it: None, or the problem found (the task is not added)."""
        from .kapi.core import list_add_problem
        m, off = self.machine, self.profile.offsetof("task_struct", "tasks")
        head = self.init_task.addr + off
        node = task.addr + off
        try:
            prev = m.read_ptr(head + 8)
            problem = list_add_problem(m, node, prev, head)
            if problem is not None:
                return problem
            m.write_ptr(node, head)
            m.write_ptr(node + 8, prev)
            m.write_ptr(prev, node)
            m.write_ptr(head + 8, node)
        except MemoryFault as exc:
            return exc
        return None

    def set_current(self, task):
        self.current = task
        if self.linux:
            self._percpu_write("current_task", 8, task.addr)

    @contextlib.contextmanager
    def process(self, comm):
        """A short-lived task that is ``current`` while the block runs (as the shell forks)."""
        if not self.linux:
            yield None
            return
        parent = self.current
        task = self.spawn(comm)
        try:
            yield task
        finally:
            self.set_current(parent)        # the parent waits for it and reaps it
            self.reap(task)

    def by_pid(self, pid):
        return next((t for t in self.all if t.pid == pid), None)
