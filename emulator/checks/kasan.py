"""Generic KASAN's reports (mm/kasan/report.c, report_generic.c), for a kernel built without
it: use-after-free and slab-out-of-bounds accesses by module code, double and invalid
frees.

How accesses are caught without instrumenting the code: with the check on, kmalloc lays
each object out alone in its page run with a guard page after it, and freed objects stay
poisoned in a quarantine (:class:`~emulator.heap.PageIsolation`). Unicorn's TLB-fill hook,
over the heap only, refuses poisoned pages, so the CPU takes a page fault there (vector
14, :func:`on_page_fault`); every other access runs at full speed, and the TLB is flushed
when pages change state. The report is printed, then (as KASAN reports only its first bug
unless booted with ``kasan_multi_shot``) the pages turn accessible and the code goes on with
the access, as it does on a KASAN kernel.

What it cannot see, documented in the README: an access that stays inside the object's
page but past its requested size when that size is not a multiple of 8 (the last 1-7
bytes: kmalloc's alignment puts the object that far from the guard page), or before the
object's start; accesses made by kernel functions kmodsim runs in Python (a memcpy the
module asked for is not checked). Lines that name KASAN's own functions
(``kasan_report``, ``kasan_save_stack`` ...) carry the offsets of a 6.1 KASAN build: the
reference kernel has none.
"""

from unicorn import UC_HOOK_TLB_FILL, UC_MEM_WRITE
from unicorn.unicorn_const import UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH

from linker.loglevels import LOGLEVEL_ERR

from .. import faults
from ..heap import PageIsolation
from .track import alloc_track, source_at

# a page the TLB-fill hook refuses is a #PF Unicorn cannot deliver (no IDT): the run ends
# with UC_ERR_EXCEPTION, which emulator.faults takes for a general protection fault
GENERAL_PROTECTION = 13
MASK64 = (1 << 64) - 1
GRANULE = 8                     # KASAN_GRANULE_SIZE
META_ROW = 16                   # META_BYTES_PER_ROW: shadow bytes a row shows
ROWS_AROUND = 2                 # META_ROWS_AROUND_ADDR
SLAB_REDZONE, SLAB_FREE, SLAB_FREETRACK = 0xFC, 0xFB, 0xFA
RULE = "=" * 66
# KASAN's own frames above the module's, as a 6.1 KASAN build prints them
REPORT_FRAMES = ("dump_stack_lvl+0x44/0x5c", "print_report+0x171/0x4a8",
                 "kasan_report+0xb1/0x130")
INVALID_FREE_FRAMES = ("dump_stack_lvl+0x44/0x5c", "print_report+0x171/0x4a8",
                       "kasan_report_invalid_free+0xa1/0x120",
                       "____kasan_slab_free+0x181/0x1b0", "__kmem_cache_free+0xc8/0x330")
ALLOC_FRAMES = ("kasan_save_stack+0x22/0x50", "kasan_set_track+0x25/0x30",
                "__kasan_kmalloc+0x7f/0x90")
FREE_FRAMES = ("kasan_save_stack+0x22/0x50", "kasan_set_track+0x25/0x30",
               "kasan_save_free_info+0x2b/0x50", "____kasan_slab_free+0x143/0x1b0",
               "__kmem_cache_free+0xc8/0x330")


class Kasan:
    """``k.checks.kasan``: the allocation and free tracks, and the reports made."""

    def __init__(self, k):
        self.k = k
        self.heap = k.slab.heap
        self.enabled = True         # report_enabled(): only the first report is printed
        self.reported = []          # dicts (emulator.report)
        self.alloc_tracks = {}      # object -> (pid, comm, jiffies, stack)
        self.free_tracks = {}
        self.denied = None          # (address, access) of the last access the TLB refused
        self.isolation = None
        if k.profile.kind != "linux":
            return                  # the hobby kernel: frees are checked, accesses not
        self.isolation = PageIsolation(self.heap, self._on_poison)
        self.heap.isolation = self.isolation
        m = k.machine
        m.uc.hook_add(UC_HOOK_TLB_FILL, self._fill, begin=self.heap.start, end=self.heap.end - 1)
        faults.EXTRA_TRAPS.setdefault(GENERAL_PROTECTION, on_refused_access)

    # -- the slab's news ---------------------------------------------------------------

    def allocated(self, addr, size, track):
        self.alloc_tracks[addr] = track
        self.free_tracks.pop(addr, None)

    def freed(self, addr):
        self.free_tracks[addr] = alloc_track(self.k)

    # -- the CPU -----------------------------------------------------------------------

    def _fill(self, uc, vaddr, access, entry, user):
        entry.paddr = vaddr & ~0xFFF
        if (vaddr >> 12) in self.isolation.poisoned:
            entry.perms = 0
            self.denied = (vaddr, access)
        else:
            entry.perms = 3         # UC_PROT_READ | UC_PROT_WRITE: the direct map is NX
        return True

    def _on_poison(self, pages, poisoned):
        """Pages changed state: a page turned inaccessible may sit in the TLB as it was, so
        the TLB is flushed; one turned accessible needs nothing (a refused fill leaves no
        entry behind)."""
        if pages and poisoned:
            self.k.machine.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    # -- the reports -------------------------------------------------------------------

    def access(self, ctx, regs):
        """A poisoned page refused an access at ``regs["RIP"]``: report it (the first time),
        then let the code go on."""
        k = self.k
        page, access = self.denied
        self.denied = None
        rip = regs["RIP"]
        size, addr = memory_operand(k, rip)
        if addr is None or (addr >> 12 != page >> 12 and (addr + size - 1) >> 12 != page >> 12):
            addr = page             # (the TLB names the page only)
        write = access == UC_MEM_WRITE
        ip = rip if faults.module_of(k, rip) is not None else _caller(k, regs["RSP"], rip)
        if self.enabled:
            self.enabled = False
            info = self._describe(addr)
            bug = info["kind"]
            start_report(k)
            k.printk(LOGLEVEL_ERR, f"BUG: KASAN: {bug} in {faults.symbol(k, ip) or hex(ip)}")
            k.printk(LOGLEVEL_ERR, f"{'Write' if write else 'Read'} of size {size} at addr "
                                   f"{addr:016x} by task {_task(k)}")
            k.printk(LOGLEVEL_ERR, "")
            self._dump_stack(ctx, REPORT_FRAMES + ((faults.symbol(k, ip),) if ip == rip else ()),
                             regs=regs)
            self._describe_object(addr, info)
            end_report(k)
            self.reported.append(self._record(bug, addr, ip, info, "write" if write else "read",
                                              size))
        self.isolation.stop()
        return rip

    def bad_free(self, exc):
        """kfree of what is no object (``invalid-free``) or was freed (``double-free``):
        ``kasan_report_invalid_free``, the first time; the object is left alone."""
        k = self.k
        m = k.machine
        if not self.enabled:
            return True
        self.enabled = False
        try:
            ip = m.read_ptr(m.sp)
        except Exception:
            ip = m.pc
        info = self._describe(exc.addr)
        start_report(k)
        k.printk(LOGLEVEL_ERR, f"BUG: KASAN: {exc.kind} in {faults.symbol(k, ip) or hex(ip)}")
        k.printk(LOGLEVEL_ERR, f"Free of addr {exc.addr:016x} by task {_task(k)}")
        k.printk(LOGLEVEL_ERR, "")
        self._dump_stack(k.faults.running, INVALID_FREE_FRAMES, sp=m.sp)
        self._describe_object(exc.addr, info)
        end_report(k)
        self.reported.append(self._record(exc.kind, exc.addr, ip, info, None, None,
                                          caller=True))
        if self.isolation is not None:
            self.isolation.stop()
        return True

    def _describe(self, addr):
        """The object ``addr`` belongs to and what kind of bug touching it is."""
        hit = self.heap.object_at(addr)
        if hit is None:
            return {"kind": "wild-memory-access", "object": None}
        obj, size = hit
        freed = obj not in self.heap.live
        rounded = -(-size // GRANULE) * GRANULE
        if freed:
            kind = "use-after-free" if obj <= addr < obj + rounded else "slab-out-of-bounds"
        else:
            kind = "slab-out-of-bounds"
        return {"kind": kind, "object": obj, "size": size, "freed": freed,
                "cache": self.heap.size_class(size)}

    def _dump_stack(self, ctx, prefix, regs=None, sp=None):
        """``dump_stack_lvl``: the CPU line and the Call Trace, KASAN's frames first; the
        module's from the trap's registers (``regs``) or from a kernel function's entry
        (``sp``: its return address on top)."""
        k = self.k
        faults.cpu_line(k)
        unwinder = faults.module_unwinder(k)
        if ctx is None:             # no module code running: the frames KASAN adds only
            faults.show_trace(k, faults.Context(None, "init"), unwinder,
                              unwinder.start_at_call(k.machine.sp), 1 << 64, prefix=prefix)
            return
        if regs is not None:
            faults.show_trace(k, ctx, unwinder, unwinder.start(regs), regs["RSP"], prefix=prefix)
        else:
            faults.show_trace(k, ctx, unwinder, unwinder.start_at_call(sp), sp, prefix=prefix)

    def _describe_object(self, addr, info):
        """print_address_description's object part and print_memory_metadata."""
        k = self.k
        k.printk(LOGLEVEL_ERR, "")
        obj = info.get("object")
        if obj is not None:
            self._track("Allocated", self.alloc_tracks.get(obj), ALLOC_FRAMES)
            if info["freed"]:
                self._track("Freed", self.free_tracks.get(obj), FREE_FRAMES)
            cache = info["cache"]
            k.printk(LOGLEVEL_ERR, f"The buggy address belongs to the object at {obj:016x}\n"
                                   f" which belongs to the cache kmalloc-{cache} of size {cache}")
            if addr < obj:
                rel, n = "to the left", obj - addr
            elif addr >= obj + cache:
                rel, n = "to the right", addr - (obj + cache)
            else:
                rel, n = "inside", addr - obj
            k.printk(LOGLEVEL_ERR, f"The buggy address is located {n} bytes {rel} of\n"
                                   f" {cache}-byte region [{obj:016x}, {obj + cache:016x})")
            k.printk(LOGLEVEL_ERR, "")
        k.printk(LOGLEVEL_ERR, "The buggy address belongs to the physical page:")
        pfn = (addr - self.heap.start) >> 12
        k.printk(LOGLEVEL_ERR, f"page:{faults.hashed(addr & ~0xFFF)} refcount:1 mapcount:0 "
                               f"mapping:0000000000000000 index:0x0 pfn:0x{0x4000 + pfn:x}")
        k.printk(LOGLEVEL_ERR, "flags: 0x100000000000200(slab|node=0|zone=2)")
        k.printk(LOGLEVEL_ERR, "page dumped because: kasan: bad access detected")
        k.printk(LOGLEVEL_ERR, "")
        self._memory_state(addr)

    def _track(self, what, track, frames):
        k = self.k
        if track is None:
            return
        pid, _, _, stack = track
        stack = stack.frames() if stack is not None else ()
        k.printk(LOGLEVEL_ERR, f"{what} by task {pid}:")
        if not stack:
            k.printk(LOGLEVEL_ERR, "(stack is not available)")
        else:
            for line in frames + tuple(_frame_text(k, f) for f in stack):
                k.printk(LOGLEVEL_ERR, f" {line}")
        k.printk(LOGLEVEL_ERR, "")

    def _memory_state(self, addr):
        """print_memory_metadata: the shadow bytes around the address, a caret under it."""
        k = self.k
        row_bytes = META_ROW * GRANULE
        row = addr // row_bytes * row_bytes - ROWS_AROUND * row_bytes
        k.printk(LOGLEVEL_ERR, "Memory state around the buggy address:")
        for i in range(-ROWS_AROUND, ROWS_AROUND + 1):
            shadow = " ".join(f"{self.shadow(row + g * GRANULE):02x}" for g in range(META_ROW))
            k.printk(LOGLEVEL_ERR, f"{'>' if i == 0 else ' '}{row:016x}: {shadow}")
            if row <= addr < row + row_bytes:
                width = 3 + 8 * 2 + (addr - row) // GRANULE * 3 + 1
                k.printk(LOGLEVEL_ERR, " " * (width - 1) + "^")
            row += row_bytes

    def shadow(self, addr):
        """The shadow byte of the granule at ``addr`` as generic KASAN would keep it."""
        hit = self.heap.object_at(addr)
        if hit is None:
            if self.isolation is not None and (addr >> 12) in self.isolation.page_owner:
                return SLAB_REDZONE
            owner = next(((a, s) for a, (s, c) in self.heap.live.items()
                          if a <= addr < a + c), None) if self.isolation is None else None
            return 0 if owner else SLAB_REDZONE
        obj, size = hit
        if obj in self.heap.live:
            if obj <= addr < obj + size:
                return min(obj + size - addr, GRANULE) % GRANULE
            return SLAB_REDZONE
        if obj <= addr < obj + -(-size // GRANULE) * GRANULE:
            return SLAB_FREETRACK if addr < obj + GRANULE else SLAB_FREE
        return SLAB_REDZONE

    def _record(self, kind, addr, ip, info, access, size, caller=False):
        k = self.k
        obj = info.get("object")
        at = faults.symbol(k, ip) or f"0x{ip:x}"
        return {"kind": kind, "access": access, "size": size, "address": f"0x{addr:016x}",
                "at": at, "source": source_at(k, ip - 1 if caller else ip),
                "object": None if obj is None else
                {"address": f"0x{obj:016x}", "size": info["size"],
                 "cache": f"kmalloc-{info['cache']}"},
                "allocated": _stack_text(k, self.alloc_tracks.get(obj)),
                "freed": _stack_text(k, self.free_tracks.get(obj)) if info.get("freed") else None}


def on_refused_access(k, ctx, trap, regs):
    """``faults``' handler for vector 13: KASAN's report when the TLB-fill hook refused the
    access (a poisoned page), else the general protection fault it is."""
    kasan = k.checks.kasan
    if kasan is not None and kasan.denied is not None and trap.kind == "trap":
        return kasan.access(ctx, regs)
    return faults.general_protection(k, ctx, regs, trap.addr if trap.kind == "gp" else None)


def start_report(k):
    k.printk(LOGLEVEL_ERR, RULE)


def end_report(k):
    k.printk(LOGLEVEL_ERR, RULE)
    k.add_taint("B", False)         # TAINT_BAD_PAGE


def memory_operand(k, rip):
    """``(size, address)`` of the memory operand of the instruction at ``rip`` (capstone;
    the address from the registers as they are at the trap), ``(8, None)`` if unknown."""
    from capstone import CS_ARCH_X86, CS_MODE_64, Cs
    from capstone.x86 import X86_OP_MEM, X86_REG_RIP
    from unicorn import x86_const
    m = k.machine
    try:
        md = Cs(CS_ARCH_X86, CS_MODE_64)
        md.detail = True
        insn = next(md.disasm(m.read(rip, 16), rip))
        op = next(op for op in insn.operands if op.type == X86_OP_MEM)
    except Exception:
        return 8, None

    def reg(r):
        if r == 0:
            return 0
        if r == X86_REG_RIP:
            return rip + insn.size
        return m.reg(getattr(x86_const, "UC_X86_REG_" + insn.reg_name(r).upper()))
    try:
        addr = reg(op.mem.base) + reg(op.mem.index) * op.mem.scale + op.mem.disp
    except Exception:
        return op.size, None
    return op.size, addr & MASK64


def _caller(k, sp, rip):
    """The module code that called the kernel function faulting at ``rip``."""
    try:
        ret = k.machine.read_ptr(sp)
    except Exception:
        return rip
    return ret if faults.module_of(k, ret) is not None else rip


def _task(k):
    return f"{k.tasks.current.comm}/{k.tasks.current.pid}"


def _frame_text(k, frame):
    return frame if isinstance(frame, str) else (k.symbolize(frame) or f"0x{frame:x}")


def _stack_text(k, track):
    if track is None or track[3] is None:
        return None
    return [_frame_text(k, f) for f in track[3].frames()]


__all__ = ["Kasan", "on_refused_access", "memory_operand"]
