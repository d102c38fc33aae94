"""Kernel memory allocation: kmalloc (the direct map), vmalloc, and kmem caches: ``k.slab``;
``module_alloc`` (:class:`ModuleAlloc`, ``k.module_area``).

kmalloc is a :class:`~emulator.heap.Heap`, vmalloc a :class:`~emulator.heap.VmallocArea`
(guard pages between areas) in emulated memory; the hobby kernel has one heap for both.
vmalloc refuses more pages than the reference guest has, with ``warn_alloc``'s report, as
6.1 does.

A bad kfree does what it does on Debian's kernel (tests/realkernel/heapbugs): freeing the
object that heads its free list again is SLUB's ``BUG_ON(object == fp)`` in
``set_freepointer`` (``kernel BUG at mm/slub.c:419!``, the caller killed); any other double or
invalid free goes unnoticed. With the memory checks on (``k.checks``, emulator.checks) it is
KASAN's ``double-free`` or ``invalid-free`` report instead, and kmemleak (the leak check) is
told of every allocation and free.
"""

from linker.load.linkkernel import ModuleArea
from linker.loglevels import LOGLEVEL_WARNING, MESSAGE_LOGLEVEL_DEFAULT

from . import faults
from .clock import HZ
from .guestdata import guest_lines
from .heap import Heap, HeapError

SLUB_FREEPOINTER_BUG = ("mm/slub.c", 419)     # set_freepointer's BUG_ON(object == fp)

GFP_ZERO = 0x100            # __GFP_ZERO (a leading __ would be mangled in a class)
KMEM_CACHE_SIZE = 256       # what a kmem_cache object takes here


class Slab:
    def __init__(self, heap: Heap, vheap, log, kernel=None):
        self.heap = heap          # kmalloc
        self.vheap = vheap        # vmalloc (a VmallocArea; the hobby kernel's one Heap)
        self.log = log
        self.kernel = kernel      # for warn_alloc's report (None: no report)
        self.caches: dict[int, tuple[str, int]] = {}   # kmem_cache address -> (name, size)
        # warn_alloc's DEFINE_RATELIMIT_STATE(nopage_rs, 10*HZ, 1): one report per 10 s,
        # whoever calls it (module_alloc, vmalloc)
        self.nopage_rs = Ratelimit(kernel, "warn_alloc", 10 * HZ, 1) if kernel else None
        # the debug checks (emulator.checks): told of each kmalloc and kfree (kmemleak),
        # and of bad frees (KASAN); None while they are off
        self.observer = None

    def kmalloc(self, size, flags=0, vmalloc=False):
        if vmalloc:
            addr = self.vmalloc(size, flags)
        else:
            addr = self.heap.alloc(size, zero=bool(flags & GFP_ZERO))
        if self.observer is not None and addr > 0x10:
            self.observer.allocated(addr, size)
        return addr

    def vmalloc(self, size, flags=0, frames=None):
        """``__vmalloc_node_range``: more pages than the machine has is NULL with
        warn_alloc's report (``frames``: the stack dump's kernel frames above the caller;
        module code's own frames are unwound), else a fresh zeroed area."""
        if self.kernel is not None and self.vheap is not self.heap and \
                size >> PAGE_SHIFT > TOTALRAM_PAGES:
            self.warn_alloc(f"vmalloc error: size {size}, exceeds total pages",
                            frames or VMALLOC_FRAMES)
            return 0
        return self.vheap.alloc(size, zero=bool(flags & GFP_ZERO))

    def warn_alloc(self, text, frames):
        """mm/page_alloc.c ``warn_alloc``: the line, a stack dump, ``show_mem``; rate-limited."""
        k = self.kernel
        if k is None or not self.nopage_rs():
            return
        k.printk(LOGLEVEL_WARNING, f"{k.tasks.current.comm}: {text}, {GFP_KERNEL_TEXT}")
        kernel_dump_stack(k, frames)
        show_mem(k)

    def kfree(self, addr):
        vmalloced = self.vheap is not self.heap and self.vheap.contains(addr)
        try:
            (self.vheap if vmalloced else self.heap).free(addr)
        except HeapError as exc:
            if self.observer is not None and self.observer.bad_free(exc):
                return              # KASAN's report; the object stays as it was
            if vmalloced:
                self.log.printk(LOGLEVEL_WARNING, f"kmodsim: {exc}")
            elif exc.at_head and self.kernel is not None and self.kernel.profile.kind == "linux":
                raise faults.KernelBug(*SLUB_FREEPOINTER_BUG) from None
            return
        if self.observer is not None and addr > 0x10:
            self.observer.freed(addr)

    def kmem_cache_create(self, name, size):
        addr = self.heap.alloc(KMEM_CACHE_SIZE, zero=True)
        self.caches[addr] = (name, size)
        return addr


# ---------------------------------------------------------------------------- module_alloc
# the reference guest (-m 512): /proc/meminfo's MemTotal, 466396 kB (130942 pages of RAM,
# 14343 reserved), what __vmalloc_node_range compares a request with
TOTALRAM_PAGES = 116599
PAGE_SHIFT = 12
GFP_KERNEL_TEXT = "mode:0xcc0(GFP_KERNEL), nodemask=(null),cpuset=/,mems_allowed=0"
# warn_alloc's dump_stack from module_alloc on the finit_module path (bigbss.real.txt)
MODULE_ALLOC_FRAMES = ("dump_stack_lvl+0x44/0x5c", "warn_alloc+0x151/0x170",
                       "__vmalloc_node_range+0x838/0x880", "module_alloc+0x81/0xe0",
                       "load_module+0xbb7/0x21a0", "__do_sys_finit_module+0xac/0x120",
                       "do_syscall_64+0x5d/0xb0", "entry_SYSCALL_64_after_hwframe+0x6e/0xd8")


# warn_alloc's frames from vmalloc() called by module code (hostile_alloc.real.txt); the
# module's frames and the syscall's follow
VMALLOC_FRAMES = ("dump_stack_lvl+0x44/0x5c", "warn_alloc+0x151/0x170",
                  "__vmalloc_node_range+0x838/0x880", "__vmalloc_node+0x4a/0x60")


def kernel_dump_stack(k, frames):
    """``dump_stack()`` in a kernel function: ``frames`` (dump_stack_lvl down to the kernel
    function), then, when module code called it, the module's frames unwound from its
    return address and the syscall's; on the load path ``frames`` go down to the syscall."""
    m, ctx = k.machine, k.faults.running
    caller = None
    if ctx is not None:
        try:
            caller = m.read_ptr(m.sp)
        except Exception:           # a stack kmodsim cannot read: the fixed frames only
            caller = None
    if caller is None or faults.module_of(k, caller) is None:
        faults.dump_stack(k, frames)
        return
    faults.cpu_line(k)
    unwinder = faults.module_unwinder(k)
    faults.show_trace(k, ctx, unwinder, unwinder.start_at_call(m.sp), m.sp, prefix=list(frames))


class ModuleAlloc(ModuleArea):
    """x86-64 ``module_alloc`` as 6.1 refuses before touching memory
    (tests/realkernel/bigbss): a size over the module area (``MODULES_LEN``) is NULL without
    a word; more pages than the machine has (``totalram_pages``) is vmalloc's
    ``exceeds total pages`` through ``warn_alloc`` (rate-limited: one report per 10 s).
    move_module turns NULL into -ENOMEM. Anything else is placed first fit, and the memory
    is backed only where it is touched (:class:`~emulator.machine.Machine`)."""

    def __init__(self, area, kernel):
        super().__init__(area.start, area.end, area.page_size, area.areas)
        self.kernel = kernel

    def alloc(self, size, label):
        page = self.page_size
        if -(-size // page) * page > self.end - self.start:
            return None
        if size >> PAGE_SHIFT > TOTALRAM_PAGES:
            self.kernel.slab.warn_alloc(f"vmalloc error: size {size}, exceeds total pages",
                                        MODULE_ALLOC_FRAMES)
            return None
        return super().alloc(size, label)


def show_mem(k):
    """``show_mem()``: the reference guest's memory as it was (emulator/data/guest_meminfo.txt)."""
    records = []
    for line in guest_lines("guest_meminfo.txt"):
        if line.startswith(" ") and records:
            records[-1] += "\n" + line
        else:
            records.append(line)
    for text in records:
        k.printk(MESSAGE_LOGLEVEL_DEFAULT, text)


class Ratelimit:
    """``DEFINE_RATELIMIT_STATE(name, interval, burst)`` and ``___ratelimit``: at most
    ``burst`` calls per ``interval`` jiffies; the first call of a new interval first says how
    many the last one suppressed."""

    def __init__(self, kernel, func, interval, burst):
        self.k, self.func, self.interval, self.burst = kernel, func, interval, burst
        self.begin = None
        self.printed = self.missed = 0

    def __call__(self):
        now = self.k.time.jiffies()
        if self.begin is None:
            self.begin = now
        if now - self.begin > self.interval:
            if self.missed:
                self.k.printk(LOGLEVEL_WARNING, f"{self.func}: {self.missed} callbacks suppressed")
                self.missed = 0
            self.begin, self.printed = now, 0
        if self.printed < self.burst:
            self.printed += 1
            return True
        self.missed += 1
        return False
