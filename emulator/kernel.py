"""The simulated kernel: the loader's state plus a CPU, memory, a clock, a log and modules.

``Kernel`` is what notebooks, graders and the shell drive::

    k = Kernel()                                  # the default profile, booted
    r = k.insmod("samples/linux/hello_debug/hello_debug.ko")
    r.rc, k.dmesg(), k.proc_modules()
    k.rmmod("hello_debug")

``init_module``/``finit_module``/``delete_module`` behave as the syscalls: they return 0 or
``-errno``, write what the real kernel writes to the log, and leave the kernel usable
whatever the module did. After a panic the kernel is dead: those calls return a ``Result``
whose ``signal`` is ``"panic"`` and do nothing, and ``call`` raises ``KernelPanic``.

``close()`` (or ``with Kernel() as k:``) gives the CPU's memory back at once; the log can
still be read, anything that would run or touch memory raises ``KernelClosed``. Guest memory
is capped (``max_memory``, 512 MiB by default): going over it raises
``MemoryLimitExceeded``, logs a ``kmodsim:`` line, and the kernel stops there for good.

The kernel is a set of subsystems, each a named object that keeps its own state, created
here in dependency order (the way ``start_kernel`` brings them up):

=================  =====================================================================
``profile``        the kernel being simulated: exports, addresses, structure offsets
``time``           :class:`~emulator.clock.Clock`: simulated nanoseconds, jiffies
``log``            :class:`~emulator.logbuf.LogBuffer`: printk records and the console
``taints``         :class:`~linker.load.linkkernel.Taints`: the taint flags
``modules``        :class:`~linker.load.linkkernel.ModuleTable`: the module list
``module_area``    :class:`~linker.load.linkkernel.ModuleArea`: ``module_alloc``
``machine``        :class:`~emulator.machine.Machine`: the CPU and its memory regions
``kapi``           :class:`~emulator.kapi.registry.KapiTable`: which Python runs for which
                   kernel function, and the calls kmodsim could not run
``kernel_code``    :class:`~emulator.kernelcode.Installed`: the kernel's own code for its
                   pure library functions (``sort``, ``rb_insert_color``...), or None
``slab``           :class:`~emulator.slab.Slab`: kmalloc, vmalloc, kmem caches
``tasks``          :class:`~emulator.tasks.Tasks`: task_structs, ``current``
``params``         :class:`~emulator.kapi.kernel_params.ParamHeap`: strings module parameters own
``chrdev``,        :mod:`emulator.drivers`: character device numbers, misc minors, the
``misc``,          driver model's classes and devices, modules' /proc entries
``devices``,
``procfs``
``faults``         :class:`~emulator.faults.FaultState`: oopses, panics, lockups
``checks``         :class:`~emulator.checks.Checks`: kmemleak and KASAN, when asked for
``budget``         :class:`~emulator.budget.Budget`: what the current syscall may still
                   spend (instructions, wall clock), :meth:`Kernel.budgeted`
``vfs``            :class:`~emulator.vfs.Vfs`: the guest's files (initramfs, tmpfs)
``loader``         :class:`~emulator.modules.ModuleLoader`: load, init, unload
=================  =====================================================================

The load steps (:mod:`linker.load`) see the kernel through :class:`LinkKernel`'s methods
(``printk``, ``add_taint``, ``find_symbol``, ...); what happens once the module is formed
(COMING, parameters, init, LIVE, unload) is in :mod:`emulator.modules`, as in 6.1's
``load_module``/``do_init_module``/``delete_module``.
"""

import errno
from contextlib import contextmanager

from linker.errors import KmodError
from linker.load.linkkernel import LinkKernel
from linker.loglevels import LOGLEVEL_ERR
from linker.profiles import DEFAULT_PROFILE, load_profile

from . import faults, kallsyms, kernelcode, report
from .budget import CALL_COST, Budget, BudgetExhausted, wall_clock_limit
from .checks import Checks
from .clock import Clock
from .drivers import CharDevices, DeviceModel, MiscDevices, ProcEntries, Sysfs
from .errors import KernelClosed, KernelPanic, MemoryLimitExceeded
from .faults import FaultState
from .heap import Heap, VmallocArea
from .irq import Irqs
from .kapi import irq as _irq, locks as _locks, timers as _timers   # the scheduler's API
from .kapi.kernel_params import ParamHeap
from .kapi.registry import HANDLED, NOT_SIMULATED, KapiTable
from .logbuf import LogBuffer
from .machine import PROT_EXEC, PROT_READ, PROT_WRITE, Machine, page_align
from .memmap import (GS_BASE, HEAP_BASE, HEAP_SIZE, HOBBY_HEAP_BASE, HOBBY_HEAP_SIZE,
                     HOBBY_STACK_BASE, HOBBY_STACK_SIZE, HOBBY_STACK_TOP, PERCPU_SIZE,
                     RETURN_TRAMPOLINE, STACK_CANARY, STACK_CANARY_OFFSET, STACK_TOP,
                     THREAD_SIZE, VMALLOC_BASE, VMALLOC_SIZE)
from .modules import O_NONBLOCK, ModuleLoader, Result
from .sched import Sched
from .slab import ModuleAlloc, Slab
from .tasks import Tasks
from .files import O_RDWR, FileLayer, kernel_open
from .vfs import Vfs

__all__ = ["Kernel", "KernelPanic", "KernelClosed", "MemoryLimitExceeded", "Result"]

DEFAULT_MAX_MEMORY = 512 << 20     # guest memory a kernel may back (Machine.committed)


class Kernel(LinkKernel):
    """A booted simulated kernel."""

    def __init__(self, profile=DEFAULT_PROFILE, *, console_loglevel=3, timeout_s=None,
                 max_insns=0, boot_ns=1_800_000_000, stub_policy="stop",
                 max_memory=DEFAULT_MAX_MEMORY, checks=()):
        profile = load_profile(profile) if isinstance(profile, str) else profile
        if not profile.runnable:
            raise KmodError(f"profile {profile.name} cannot run modules: "
                            f"{profile.not_runnable_reason}", errno.ENOEXEC)
        self.time = Clock(boot_ns, on_tick=self._publish_jiffies)
        super().__init__(profile, log=LogBuffer(self.time, console_loglevel))
        # each syscall's budget (emulator.budget): wall clock (None: 10 s, or only a backstop
        # with max_insns) and instructions (0: no limit); the current one is self.budget
        self.timeout_s = wall_clock_limit(timeout_s, max_insns)
        self.timeout_us = int(self.timeout_s * 1e6)   # per run, when a debugger drives it
        self.max_insns = max_insns
        self.budget = Budget(max_insns, self.timeout_s)
        self._in_syscall = False
        self.machine = Machine(profile.elf_class, max_memory=max_memory,
                               on_limit=self._over_limit)
        if profile.kind == "linux" and self.module_area is not None:
            self.module_area = ModuleAlloc(self.module_area, self)
        self.kapi = KapiTable(profile, stub_policy)
        self.debugger = None         # set by emulator.debugger / the GDB stub to drive runs
        self.sentinel = 0            # where the module function being run returns to
        heap, vheap = self._map_kernel()
        self.slab = Slab(heap, vheap, self.log, self)
        self.tasks = Tasks(self.machine, profile, self.slab, self._percpu_write)
        self.params = ParamHeap(self.slab)
        self.chrdev = CharDevices()
        self.misc = MiscDevices()
        self.devices = DeviceModel()
        self.procfs = ProcEntries()
        self.sysfs = Sysfs()
        self.faults = FaultState()
        self.vfs = Vfs()
        self.fs = FileLayer(self)      # the file layer over vfs, /proc, /sys, /dev (emulator.files)
        self.loader = ModuleLoader(self)
        self.checks = Checks(self, checks)     # kmemleak, KASAN: off unless asked (emulator.checks)
        self.calls = []                # (syscall, module, Result) of each one made (report())
        faults.hook_warnings(self)     # a WARN is reported and resumed inside the run
        self.tasks.on_list_bug = lambda task, problem, path: faults.release_task_bug(
            self, task, problem, path)
        self.tasks.boot(self.export_addr("init_task"))
        self.sched = Sched(self)
        self.irqs = Irqs()
        if profile.kind == "linux":
            self.sched.boot()
            _timers.boot_workqueues(self)
            _locks.boot_paravirt(self)
            _irq.hook_ports(self)
        self.time.tick()

    # ------------------------------------------------------------------------ boot

    def _map_kernel(self):
        """Map the kernel's image, per-CPU area, heaps and stack; the two heaps."""
        m, p = self.machine, self.profile
        if p.kind == "hobby":
            text = p.kernel_text
            m.map(text.start, text.end - text.start, PROT_READ | PROT_EXEC, "kernel text")
            m.hook_kernel_text(text.start, text.end, self.on_kernel_code)
            self.kernel_code = None
            heap = Heap(m, HOBBY_HEAP_BASE, HOBBY_HEAP_SIZE, "kernel heap")
            m.map(HOBBY_STACK_BASE, HOBBY_STACK_SIZE, PROT_READ | PROT_WRITE, "kernel stack")
            return heap, heap
        img, text = p.kernel_image, p.kernel_text
        text_end = page_align(text.end)
        m.map(img.start, text_end - img.start, PROT_READ | PROT_EXEC, "kernel text")
        m.map(text_end, page_align(img.end) - text_end, PROT_READ | PROT_WRITE, "kernel data")
        # the kernel's own code for its pure library functions runs unhooked: install hooks
        # the text itself, minus that code once called (emulator/kernelcode.py)
        self.kernel_code = kernelcode.install(m, p, self.kapi, self.on_kernel_code,
                                              img.start, text_end)
        if self.kernel_code is None:
            m.hook_kernel_text(img.start, text_end, self.on_kernel_code)
        m.map_return_trampoline(RETURN_TRAMPOLINE)
        m.map(GS_BASE, PERCPU_SIZE, PROT_READ | PROT_WRITE, "per-CPU area (CPU 0)")
        m.set_gs_base(GS_BASE)
        heap = Heap(m, HEAP_BASE, HEAP_SIZE, "kmalloc heap (direct map)")
        vheap = VmallocArea(m, VMALLOC_BASE, VMALLOC_SIZE)
        m.map(STACK_TOP - THREAD_SIZE, THREAD_SIZE, PROT_READ | PROT_WRITE,
              "kernel stack of the current task")
        self._percpu_write("this_cpu_off", 8, GS_BASE)
        self._percpu_write("cpu_number", 4, 0)
        m.write_int(GS_BASE + STACK_CANARY_OFFSET, 8, STACK_CANARY)
        return heap, vheap

    def export_addr(self, name):
        exp = self.profile.exports.get(name)
        return exp.addr if exp is not None else None

    def _percpu_write(self, name, size, value):
        off = self.export_addr(name)
        if off is not None:
            self.machine.write_int(GS_BASE + off, size, value)

    def _publish_jiffies(self, jiffies):
        if self.profile.kind == "linux":
            addr = self.export_addr("jiffies")
            if addr is not None:
                self.machine.write_int(addr, 8, jiffies)

    # ------------------------------------------------------------------------ the syscalls

    def init_module(self, image, args="", flags=0, name=None, syscall="finit_module"):
        """The ``finit_module``/``init_module`` syscall: 0 or ``-errno`` (as ``Result``)."""
        with self._syscall() as dead:
            known = {mod.name for mod in self.modules}
            result = dead or self.budgeted(self.loader.init_module, image, args, flags, name,
                                           syscall)
            loaded = [mod.name for mod in self.modules if mod.name not in known]
            return self._note("init_module", name or (loaded[0] if loaded else None), dead,
                              result)

    finit_module = init_module

    def delete_module(self, name, flags=O_NONBLOCK):
        """The ``delete_module`` syscall."""
        with self._syscall() as dead:
            return self._note("delete_module", name, dead, dead or self.budgeted(
                self.loader.delete_module, name, flags))

    def insmod(self, path, args=""):
        """Load a module file as ``insmod`` would: a process named insmod makes the call."""
        with self._syscall() as dead:
            return self._note("insmod", path, dead,
                              dead or self.budgeted(self.loader.insmod, path, args))

    def rmmod(self, name, flags=O_NONBLOCK):
        """Unload as ``rmmod`` would: a process named rmmod makes the call."""
        with self._syscall() as dead:
            return self._note("rmmod", name, dead,
                              dead or self.budgeted(self.loader.rmmod, name, flags))

    def _note(self, syscall, module, dead, result):
        """Keep what the syscall did for :meth:`report`; a module unloaded is kmemleak's cue.
        ``dead``: the kernel had panicked before, nothing ran."""
        budget = None if dead else self.budget
        self.calls.append(report.Syscall(syscall, module, result, len(self.faults.lockups),
                                         budget.charged if budget else 0,
                                         budget.exhausted if budget else None))
        if syscall in ("delete_module", "rmmod") and result.ok and self.faults.panicked is None:
            self.checks.module_unloaded()
        return result

    def report(self):
        """The run record (``kmodsim.run/1``, emulator.report) of everything run so far."""
        return report.build(self)

    @contextmanager
    def _syscall(self):
        """Around each syscall: a closed kernel refuses (KernelClosed); a dead one (panic)
        does nothing and gives what the panicking call gave, ``Result(0, "panic")``; one
        that went over its memory limit raises it again. Going over it during the call
        is logged as a ``kmodsim:`` line (``_over_limit``)."""
        self._check_open()
        if self.faults.panicked is not None:
            yield Result(0, signal="panic", message=self.faults.panicked)
            return
        yield None
        if self.machine.over_limit is not None:     # swallowed on the way (a kernel function)
            raise self.machine.over_limit

    def budgeted(self, fn, *args):
        """Run ``fn(*args)`` as one syscall, under one fresh budget (emulator.budget) that
        its loader steps, kernel functions and module code all spend. When the kernel's own
        Python (the loader) overruns it, the watchdog's report ends the syscall and its
        process is killed (``Result.signal``); module code that overruns it ends in
        emulator.faults' soft-lockup report. Nested calls share the outer budget."""
        if self._in_syscall:
            return fn(*args)
        self._in_syscall = True
        wall = None if self.debugger is not None else self.timeout_s  # a person is stepping
        budget = self.budget = Budget(self.max_insns, wall)
        before = (list(self.modules), list(self.module_area.areas) if self.module_area else None)
        try:
            try:
                budget.arm()
                result = fn(*args)
                # exit_to_user_mode: the tasks the syscall woke run before it returns
                self.sched.run_pending()
                self.checks.syscall_exit()      # lockdep_sys_exit (emulator.checks.locks)
                return result
            finally:
                budget.disarm()
        except BudgetExhausted as exc:
            budget.disarm()
            return self._overrun(exc.reason, before)
        except KernelPanic:         # the kernel died on the way (a corrupt task list)
            return Result(0, signal="panic", message=self.faults.panicked)
        finally:
            self._in_syscall = False

    def _overrun(self, reason, before):
        """The loader (or other kernel Python) ran out of the syscall's budget: the
        watchdog's report, then the process dies; a module it was loading goes away."""
        modules, areas = before
        for mod in [m for m in self.modules if m not in modules]:
            try:
                self.loader._free_module(mod)
            except Exception:          # half-made: whatever is left goes with the areas
                if mod in self.modules:
                    self.modules.remove(mod)
        if areas is not None:
            self.module_area.areas = areas
        return Result(0, signal=faults.kernel_lockup(self, reason))

    def _check_open(self):
        if self.machine.closed:
            raise KernelClosed("this kernel was closed (Kernel.close()): it cannot run or "
                               "load anything any more")
        if self.machine.over_limit is not None:
            raise self.machine.over_limit

    def _over_limit(self, exc):
        """The machine went over its memory limit: say so in the log, where the run ends."""
        self.log.printk(LOGLEVEL_ERR, f"kmodsim: {exc}")

    # ------------------------------------------------------------------------ resources

    def close(self):
        """Give the CPU's memory (guest memory, Unicorn's translation buffer) back now.
        Idempotent; the log stays readable, running or loading anything raises
        ``KernelClosed``."""
        self.machine.close()

    @property
    def closed(self):
        return self.machine.closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------------ what it shows

    def dmesg(self):
        """The log as busybox ``dmesg`` prints it."""
        return self.log.dmesg()

    def console_text(self):
        """Everything the console showed."""
        return self.log.console_text()

    def vmlinux_symbol(self, name):
        """LinkKernel's, and the file layer sets up the kernel objects a module links
        against (kernel_kobj & co., emulator.files) the first time one is looked up."""
        hit = super().vmlinux_symbol(name)
        if hit is not None and self.profile.kind == "linux" and hasattr(self, "fs"):
            self.fs.symbol_resolved(name)
        return hit

    def open(self, path, flags=O_RDWR):
        """Open ``path`` as a process would (emulator.files.PyFile: read/write/ioctl/lseek/
        close, bytes in and out; errors raise OSError, a module's oops TaskKilled)."""
        return kernel_open(self, path, flags)

    def run_program(self, path, argv=None, env=None):
        """Run the static x86-64 program in host file ``path`` as the scenario shell runs
        ``./NAME`` from /mods (emulator.user): ``ProgramResult(status, output, signal)``,
        which also unpacks as ``status, output``."""
        from .system import KernelSystem   # the shell's view of this kernel, and the
        from .user import run_program      # user-space package: loaded when first used
        return run_program(self, KernelSystem(self), path, argv, env)

    def proc_modules(self):
        """``/proc/modules``, as 6.1's ``m_show`` prints it."""
        return self.loader.proc_modules()

    def symbolize(self, addr, with_offset=True):
        """kallsyms: ``name+0x11/0x2c [module]`` for module code, ``name+off/size`` for the kernel."""
        return kallsyms.symbolize(self, addr, with_offset)

    @property
    def panicked(self):
        """The message of the panic that killed this kernel, or None."""
        return self.faults.panicked

    def panic(self, message):
        """``panic()``: the kernel's last words, then nothing runs any more (emulator.faults)."""
        faults.panic(self, message)

    # ------------------------------------------------------------------------ kernel calls

    def on_kernel_code(self, uc, addr, size=0, user=None):
        m = self.machine
        if addr == self.sentinel:
            m.stop("returned")
            return
        handler = self.kapi.handler_at(addr)
        pending = self.kapi.stop
        try:
            self.budget.charge(CALL_COST)
            result = handler(self, m)
        except KernelPanic:
            raise
        except BudgetExhausted as exc:   # the syscall's budget ran out in the kernel
            m.stop(exc.reason)
            return
        except Exception as exc:  # a fault inside the kernel function, or a kmodsim bug
            fault_addr = getattr(exc, "addr", None)    # MemoryFault and HeapError carry one
            self.faults.kernel_fault = (addr, exc)
            m.last_fault = ("read", fault_addr if fault_addr is not None else addr, 0)
            m.stop("kernel fault")
            return
        if result is HANDLED:
            return
        if self.kapi.stop is not pending and self.kapi.stop is not None:
            # module code this function ran (a callback, another task) was stopped by a
            # call kmodsim cannot run, and nobody took it: the caller stops there too
            m.stop(NOT_SIMULATED)
            return
        m.return_from_call(result)

    def call(self, func, args=(), sentinel=None):
        """Run the module function at ``func`` with ``args``; its return value (an int).
        The CPU state is the kernel's on every entry (Machine.reset_entry_state).

        It runs as the current task, on that task's kernel stack. When it sleeps in a kernel
        function (emulator.sched), the other tasks and the timers that fall due run until it
        is woken, and it goes on from there: the call returns once the function has."""
        self._check_open()
        if self.faults.panicked is not None:
            raise KernelPanic(self.faults.panicked)
        m = self.machine
        self.sentinel = sentinel if sentinel is not None else self._default_sentinel()
        sp = self.sched.stack_top - 0x100 if self.profile.kind == "linux" else HOBBY_STACK_TOP - 0x40
        m.reset_entry_state()
        m.set_reg(m.SP, sp)
        if m.bits == 64:
            for reg, value in zip(m.ARGS, args):
                m.set_reg(reg, value)
        else:
            for value in reversed(args):
                m.push(value)
        m.push(self.sentinel)
        if self.debugger is not None:
            # a debugger (emulator/debugger.py, the GDB stub) drives the run: it may stop
            # at breakpoints and single-step, and returns once the function has returned
            # or the CPU stopped for good (fault, timeout), leaving m.stop_reason set
            self.debugger.run_call(self, func, self.sentinel)
            self._switches()
        else:
            if not self._in_syscall:    # called on its own (a notebook): a budget of its own
                self.budget = Budget(self.max_insns, self.timeout_s)
            self.run_budgeted(func)
        if m.pc == self.sentinel and m.stop_reason in (None, "timeout", "budget"):
            m.stop_reason = "returned"   # Unicorn stopped at `until` before the hook ran
        return m.reg(m.RET)

    def run_budgeted(self, pc):
        """Run module code from ``pc`` until it returns to the sentinel, on what is left of
        the syscall's budget: Unicorn's count and a timer; a run that uses its whole count
        spends the budget (``m.stop_reason`` "budget"). Where the task sleeps, the others
        run until it is woken (``_switches``); inside another task's turn
        (emulator.sched) the run ends there instead, with ``m.stop_reason`` "switch"."""
        self._run_once(pc)
        self._switches()

    def _switches(self):
        """The current task went to sleep in a kernel function (``m.stop_reason``
        "switch"): the scheduler runs the others until it is woken, then its CPU state
        comes back and it goes on, as often as it sleeps. When nothing will wake it, or
        the budget ran out meanwhile, the run ends (stop reason "hung", or the limit)."""
        m, sched = self.machine, self.sched
        while m.stop_reason == "switch" and not sched.in_slice:
            task = self.tasks.current
            sentinel, running, top = self.sentinel, self.faults.running, sched.stack_top
            sched.save(task)
            woken = sched.wait_for(task)
            self.sentinel, self.faults.running, sched.stack_top = sentinel, running, top
            self.tasks.set_current(task)
            if not woken:
                m.uc.context_restore(task.ctx)
                task.ctx = task.resume = None
                self.faults.watchdog_touched = True      # it slept: no soft lockup
                reason = sched.gave_up
                m.stop_reason = reason if reason in ("budget", "timeout") else "hung"
                if reason in ("budget", "timeout"):
                    self.budget.exhausted = self.budget.exhausted or reason
                return
            sched.restore(task)
            if self.debugger is not None:
                self.debugger.run_call(self, m.pc, self.sentinel)
            else:
                self._run_once(m.pc)

    def _run_once(self, pc):
        m, budget = self.machine, self.budget
        over = budget.over()
        if over is not None:            # nothing left: the CPU does not start
            m.set_reg(m.IP, pc)
            m.stop_reason = over
            return
        count = budget.run_count()
        with budget.suspended():
            m.run(pc, self.sentinel, timeout_us=budget.remaining_us(), count=count)
        if m.stop_reason is None and m.pc != self.sentinel and self._after_hlt(m.pc):
            m.stop_reason = "hlt"       # Unicorn returns from a hlt: emulator.traps
        elif m.stop_reason is None and count and m.pc != self.sentinel:
            budget.run_used_all(count)  # Unicorn stops silently when its count runs out
            m.stop_reason = "budget"
        elif m.stop_reason == "timeout":
            budget.exhausted = budget.exhausted or "timeout"

    def _after_hlt(self, pc):
        try:
            return self.machine.read(pc - 1, 1) == b"\xf4"
        except Exception:
            return False

    def _default_sentinel(self):
        # init returns into do_one_initcall, as the real call trace shows
        if self.profile.kind != "linux":
            return self.profile.kernel_text.start
        addr = self.profile.kernel_symbols.get("do_one_initcall") or self.export_addr("do_one_initcall")
        return (addr + 0x59) if addr else self.profile.kernel_text.start + 0x59
