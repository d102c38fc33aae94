"""The simulated kernel: the loader's state plus a CPU, memory, a clock, a log and modules.

``Kernel`` is what notebooks, graders and the shell drive::

    k = Kernel()                                  # the default profile, booted
    r = k.insmod("samples/linux/hello_debug/hello_debug.ko")
    r.rc, k.dmesg(), k.proc_modules()
    k.rmmod("hello_debug")

``init_module``/``finit_module``/``delete_module`` behave as the syscalls: they return 0 or
``-errno``, write what the real kernel writes to the log, and leave the kernel usable
whatever the module did.

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
``slab``           :class:`~emulator.slab.Slab`: kmalloc, vmalloc, kmem caches
``tasks``          :class:`~emulator.tasks.Tasks`: task_structs, ``current``
``params``         :class:`~emulator.kapi.kernel_params.ParamHeap`: strings module parameters own
``chrdev``,        :mod:`emulator.drivers`: character device numbers, misc minors, the
``misc``,          driver model's classes and devices, modules' /proc entries
``devices``,
``procfs``
``faults``         :class:`~emulator.faults.FaultState`: oopses, panics, lockups
``vfs``            :class:`~emulator.vfs.Vfs`: the guest's files (initramfs, tmpfs)
``loader``         :class:`~emulator.modules.ModuleLoader`: load, init, unload
=================  =====================================================================

The load steps (:mod:`linker.load`) see the kernel through :class:`LinkKernel`'s methods
(``printk``, ``add_taint``, ``find_symbol``, ...); what happens once the module is formed
(COMING, parameters, init, LIVE, unload) is in :mod:`emulator.modules`, as in 6.1's
``load_module``/``do_init_module``/``delete_module``.
"""

import errno

from unicorn import x86_const

from linker.errors import KmodError
from linker.load.linkkernel import LinkKernel
from linker.profiles import DEFAULT_PROFILE, load_profile

from . import faults, kallsyms
from .clock import Clock
from .drivers import CharDevices, DeviceModel, MiscDevices, ProcEntries
from .errors import KernelPanic
from .faults import FaultState
from .heap import Heap
from .kapi.kernel_params import ParamHeap
from .kapi.registry import HANDLED, KapiTable
from .logbuf import LogBuffer
from .machine import PROT_EXEC, PROT_READ, PROT_WRITE, Machine, page_align
from .memmap import (GS_BASE, HEAP_BASE, HEAP_SIZE, HOBBY_HEAP_BASE, HOBBY_HEAP_SIZE,
                     HOBBY_STACK_BASE, HOBBY_STACK_SIZE, HOBBY_STACK_TOP, PERCPU_SIZE,
                     RETURN_TRAMPOLINE, STACK_CANARY, STACK_CANARY_OFFSET, STACK_TOP,
                     THREAD_SIZE, VMALLOC_BASE, VMALLOC_SIZE)
from .modules import O_NONBLOCK, ModuleLoader, Result
from .slab import Slab
from .tasks import Tasks
from .vfs import Vfs

__all__ = ["Kernel", "KernelPanic", "Result"]


class Kernel(LinkKernel):
    """A booted simulated kernel."""

    def __init__(self, profile=DEFAULT_PROFILE, *, console_loglevel=3, timeout_s=10.0,
                 max_insns=0, boot_ns=1_800_000_000, stub_policy="record"):
        profile = load_profile(profile) if isinstance(profile, str) else profile
        if not profile.runnable:
            raise KmodError(f"profile {profile.name} cannot run modules: "
                            f"{profile.not_runnable_reason}", errno.ENOEXEC)
        self.time = Clock(boot_ns, on_tick=self._publish_jiffies)
        super().__init__(profile, log=LogBuffer(self.time, console_loglevel))
        self.timeout_us = int(timeout_s * 1e6)     # each run of module code: wall clock
        self.max_insns = max_insns                 # and instructions (0: no limit)
        self.machine = Machine(profile.elf_class)
        self.kapi = KapiTable(profile, stub_policy)
        self.debugger = None         # set by emulator.debugger / the GDB stub to drive runs
        self.sentinel = 0            # where the module function being run returns to
        heap, vheap = self._map_kernel()
        self.slab = Slab(heap, vheap, self.log)
        self.tasks = Tasks(self.machine, profile, self.slab, self._percpu_write)
        self.params = ParamHeap(self.slab)
        self.chrdev = CharDevices()
        self.misc = MiscDevices()
        self.devices = DeviceModel()
        self.procfs = ProcEntries()
        self.faults = FaultState()
        self.vfs = Vfs()
        self.loader = ModuleLoader(self)
        self.tasks.boot(self.export_addr("init_task"))
        self.time.tick()

    # ------------------------------------------------------------------------ boot

    def _map_kernel(self):
        """Map the kernel's image, per-CPU area, heaps and stack; the two heaps."""
        m, p = self.machine, self.profile
        if p.kind == "hobby":
            text = p.kernel_text
            m.map(text.start, text.end - text.start, PROT_READ | PROT_EXEC, "kernel text")
            m.hook_kernel_text(text.start, text.end, self.on_kernel_code)
            heap = Heap(m, HOBBY_HEAP_BASE, HOBBY_HEAP_SIZE, "kernel heap")
            m.map(HOBBY_STACK_BASE, HOBBY_STACK_SIZE, PROT_READ | PROT_WRITE, "kernel stack")
            return heap, heap
        img, text = p.kernel_image, p.kernel_text
        text_end = page_align(text.end)
        m.map(img.start, text_end - img.start, PROT_READ | PROT_EXEC, "kernel text")
        m.map(text_end, page_align(img.end) - text_end, PROT_READ | PROT_WRITE, "kernel data")
        m.hook_kernel_text(img.start, text_end, self.on_kernel_code)
        m.map_return_trampoline(RETURN_TRAMPOLINE)
        m.map(GS_BASE, PERCPU_SIZE, PROT_READ | PROT_WRITE, "per-CPU area (CPU 0)")
        m.set_reg(x86_const.UC_X86_REG_GS_BASE, GS_BASE)
        heap = Heap(m, HEAP_BASE, HEAP_SIZE, "kmalloc heap (direct map)")
        vheap = Heap(m, VMALLOC_BASE, VMALLOC_SIZE, "vmalloc area")
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
        return self.loader.init_module(image, args, flags, name, syscall)

    finit_module = init_module

    def delete_module(self, name, flags=O_NONBLOCK):
        """The ``delete_module`` syscall."""
        return self.loader.delete_module(name, flags)

    def insmod(self, path, args=""):
        """Load a module file as ``insmod`` would: a process named insmod makes the call."""
        return self.loader.insmod(path, args)

    def rmmod(self, name, flags=O_NONBLOCK):
        """Unload as ``rmmod`` would: a process named rmmod makes the call."""
        return self.loader.rmmod(name, flags)

    # ------------------------------------------------------------------------ what it shows

    def dmesg(self):
        """The log as busybox ``dmesg`` prints it."""
        return self.log.dmesg()

    def console_text(self):
        """Everything the console showed."""
        return self.log.console_text()

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
        try:
            result = handler(self, m)
        except KernelPanic:
            raise
        except Exception as exc:  # a fault inside the kernel function, or a kmodsim bug
            fault_addr = getattr(exc, "addr", None)    # MemoryFault and HeapError carry one
            self.faults.kernel_fault = (addr, exc)
            m.last_fault = ("read", fault_addr if fault_addr is not None else addr, 0)
            m.stop("kernel fault")
            return
        if result is HANDLED:
            return
        m.return_from_call(result)

    def call(self, func, args=(), sentinel=None):
        """Run the module function at ``func`` with ``args``; its return value (an int)."""
        m = self.machine
        self.sentinel = sentinel if sentinel is not None else self._default_sentinel()
        sp = STACK_TOP - 0x100 if self.profile.kind == "linux" else HOBBY_STACK_TOP - 0x40
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
        else:
            m.run(func, self.sentinel, timeout_us=self.timeout_us, count=self.max_insns)
        if m.pc == self.sentinel and m.stop_reason is None:
            m.stop_reason = "returned"   # Unicorn stopped at `until` before the hook ran
        return m.reg(m.RET)

    def _default_sentinel(self):
        # init returns into do_one_initcall, as the real call trace shows
        if self.profile.kind != "linux":
            return self.profile.kernel_text.start
        addr = self.profile.kernel_symbols.get("do_one_initcall") or self.export_addr("do_one_initcall")
        return (addr + 0x59) if addr else self.profile.kernel_text.start + 0x59
