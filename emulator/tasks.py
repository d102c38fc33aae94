"""Tasks: ``task_struct``s in emulated memory, the task list, and ``current``.

At boot the list holds init_task (swapper/0) and the tasks realkernel's guest runs before
its scenario starts (recorded in ``emulator/data/guest_tasks.txt``), so a module walking
the task list sees what it sees on the reference machine; the scenario's shell is pid 83.
Each insmod or rmmod is a short-lived process that is ``current`` while its syscall runs.
"""

import contextlib
from dataclasses import dataclass

from .guestdata import guest_tasks

SHELL_PID = 83


@dataclass
class Task:
    pid: int
    comm: str
    addr: int = 0          # the task_struct in emulated memory (0 on the hobby kernel)


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
        m.write(addr + p.offsetof("task_struct", "comm"), comm.encode()[:15].ljust(16, b"\0"))
        tasks = addr + p.offsetof("task_struct", "tasks")
        m.write_ptr(tasks, tasks)
        m.write_ptr(tasks + 8, tasks)
        return task

    def new_pid(self):
        self.next_pid += 1
        return self.next_pid

    def spawn(self, comm):
        """A new process (as the shell forks insmod/rmmod); it becomes ``current``."""
        task = self.make(self.new_pid(), comm)
        self._list_add_tail(task)
        self.all.append(task)
        self.set_current(task)
        return task

    def reap(self, task):
        if task in self.all and task is not self.init_task:
            m, off = self.machine, self.profile.offsetof("task_struct", "tasks")
            node = task.addr + off
            nxt, prev = m.read_ptr(node), m.read_ptr(node + 8)
            m.write_ptr(prev, nxt)
            m.write_ptr(nxt + 8, prev)
            self.all.remove(task)
            self.slab.heap.free(task.addr)

    def _list_add_tail(self, task):
        m, off = self.machine, self.profile.offsetof("task_struct", "tasks")
        head = self.init_task.addr + off
        node = task.addr + off
        prev = m.read_ptr(head + 8)
        m.write_ptr(node, head)
        m.write_ptr(node + 8, prev)
        m.write_ptr(prev, node)
        m.write_ptr(head + 8, node)

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
            self.reap(task)
            self.set_current(parent)

    def by_pid(self, pid):
        return next((t for t in self.all if t.pid == pid), None)
