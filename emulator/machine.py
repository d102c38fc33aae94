"""The emulated CPU and its memory: Unicorn at kernel addresses, in labelled regions.

x86-64 runs in long mode at the kernel's own addresses (Unicorn's virtual-TLB mode, so no
page tables are needed); i386 runs in 32-bit protected mode for the hobby kernel. Memory is a
set of labelled regions with permissions (the kernel image, each module allocation, the
per-CPU area behind the GS base, the heap, kernel stacks), so a fault can say what it hit.

Memory costs the host only what the guest touches: a region of ``LAZY_MIN`` or more (a
module's big ``.bss``, the heaps, the kernel image) is reserved, and backed by Unicorn memory
one block at a time when code or a kernel function first touches it (a read of a block never
touched reads zeros and backs nothing). ``committed`` counts the bytes backed; with
``max_memory`` set, backing more raises :class:`~emulator.errors.MemoryLimitExceeded` and the
machine stops for good (``over_limit``). ``close()`` gives Unicorn's memory and translation
buffer back at once; the machine refuses any use after it (:class:`KernelClosed`).

Kernel functions live at the profile's addresses. Their pages are mapped like the real
kernel text, and one code hook bounded to the kernel-text range hands every instruction
fetched there to :meth:`Machine.on_kernel_code`: module code runs at full speed, and a call
into the kernel reaches Python with no per-instruction hook anywhere else.
"""

import threading
from dataclasses import dataclass

from unicorn import (UC_ARCH_X86, UC_ERR_ARG, UC_ERR_MAP, UC_ERR_NOMEM, UC_HOOK_CODE,
                     UC_HOOK_INTR, UC_HOOK_MEM_INVALID, UC_MEM_FETCH_PROT, UC_MEM_FETCH_UNMAPPED,
                     UC_MEM_READ_UNMAPPED, UC_MEM_WRITE_PROT, UC_MEM_WRITE_UNMAPPED, UC_MODE_32,
                     UC_MODE_64, UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE, UC_TLB_VIRTUAL, Uc,
                     UcError)
from unicorn import x86_const as X

from .errors import KernelClosed, MemoryLimitExceeded

PAGE = 4096
# Unicorn's translation buffer: its default is 1 GiB of address space per engine (so three
# kernels did not fit under a 4 GiB RLIMIT_AS); module code needs little of it, and a full
# buffer is simply flushed. 32 MiB keeps every test as fast as the default.
TCG_BUFFER_SIZE = 32 << 20
# regions this big are backed on first touch, in blocks of at least MIN_GRANULE and at most
# MAX_BLOCKS blocks per region (each block is a Unicorn mapping, and Unicorn's cost per
# mapping grows with their number: 4096 of them take seconds, 256 nothing)
LAZY_MIN = 1 << 20
MIN_GRANULE = 1 << 20
MAX_BLOCKS = 256
UNMAPPED_ACCESS = (UC_MEM_READ_UNMAPPED, UC_MEM_WRITE_UNMAPPED, UC_MEM_FETCH_UNMAPPED)
# the flags the kernel runs module code with: IF and the always-set bit 1; DF, TF, AC clear
# (the syscall entry masks them; tests/test_resources.py), no arithmetic flag left over
ENTRY_EFLAGS = 0x202
MSR_KERNEL_GS_BASE = 0xC0000102
PROT_READ, PROT_WRITE, PROT_EXEC = UC_PROT_READ, UC_PROT_WRITE, UC_PROT_EXEC
PERM_TEXT = {PROT_READ | PROT_EXEC: "r-x", PROT_READ: "r--", PROT_READ | PROT_WRITE: "rw-",
             PROT_READ | PROT_WRITE | PROT_EXEC: "rwx", 0: "---"}


def page_align(n):
    return (n + PAGE - 1) // PAGE * PAGE


@dataclass
class Region:
    start: int
    size: int
    perms: int
    label: str

    @property
    def end(self):
        return self.start + self.size

    def __contains__(self, addr):
        return self.start <= addr < self.end

    def describe(self):
        return f"{self.start:#018x}-{self.end:#018x} {PERM_TEXT.get(self.perms, '?')} {self.label}"


@dataclass(eq=False)
class Reservation:
    """Guest memory set aside by ``map`` and backed block by block: block ``i`` is
    ``[origin + i * granule, origin + (i + 1) * granule)`` cut to ``[start, end)``; ``backed``
    holds the blocks Unicorn maps. ``origin`` stays when the reservation is cut by an unmap,
    so a block keeps its bounds."""

    start: int
    end: int
    origin: int
    granule: int
    backed: set

    def block(self, i):
        return (max(self.start, self.origin + i * self.granule),
                min(self.end, self.origin + (i + 1) * self.granule))

    def index(self, addr):
        return (addr - self.origin) // self.granule

    def blocks(self, lo, hi):
        """Indexes of the blocks meeting ``[lo, hi)``."""
        lo, hi = max(lo, self.start), min(hi, self.end)
        return range(self.index(lo), self.index(hi - 1) + 1) if lo < hi else range(0)

    def backed_bytes(self):
        return sum(b - a for a, b in map(self.block, self.backed))


def _gaps(lo, hi, have):
    """The parts of ``[lo, hi)`` outside the sorted, disjoint intervals ``have``."""
    out, pos = [], lo
    for a, b in have:
        if b <= pos or a >= hi:
            continue
        if a > pos:
            out.append((pos, a))
        pos = max(pos, b)
    if pos < hi:
        out.append((pos, hi))
    return out


class _Closed:
    """What ``Machine.uc`` is once the machine is closed: any use is a clear error."""

    def __getattr__(self, name):
        raise KernelClosed("this kernel was closed (Kernel.close()): it cannot run or show "
                           "memory any more")


class MemoryFault(Exception):
    """An access the emulated memory cannot serve (what the kernel would call a page fault)."""

    def __init__(self, addr, access="read", region=None):
        super().__init__(f"{access} of unmapped address {addr:#x}")
        self.addr = addr
        self.access = access
        self.region = region


class Machine:
    """One CPU, its registers and memory, and the bridge from kernel text to Python."""

    def __init__(self, bits=64, max_memory=None, tcg_buffer_size=TCG_BUFFER_SIZE, on_limit=None):
        self.bits = bits
        self.uc = Uc(UC_ARCH_X86, UC_MODE_64 if bits == 64 else UC_MODE_32)
        if tcg_buffer_size:
            self.uc.ctl_set_tcg_buffer_size(tcg_buffer_size)   # before anything sets Unicorn up
        self.uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
        self.closed = False
        self._lock = threading.Lock()     # close() against a timer thread's stop()
        self.running = False
        self.regions = []
        self._reserved = []               # Reservations, by address
        self.committed = 0                # bytes of guest memory backed by the host now
        self.peak_committed = 0
        self.max_memory = max_memory      # cap on committed (None: none)
        self.over_limit = None            # the MemoryLimitExceeded that stopped this machine
        self.on_limit = on_limit          # called with it once, when it happens (the log)
        self.entry_gs_base = None         # the per-CPU area, restored on every entry
        self.word = bits // 8
        self.mask = (1 << bits) - 1
        r = X
        if bits == 64:
            self.SP, self.IP, self.RET = r.UC_X86_REG_RSP, r.UC_X86_REG_RIP, r.UC_X86_REG_RAX
            self.ARGS = (r.UC_X86_REG_RDI, r.UC_X86_REG_RSI, r.UC_X86_REG_RDX, r.UC_X86_REG_RCX,
                         r.UC_X86_REG_R8, r.UC_X86_REG_R9)
        else:
            self.SP, self.IP, self.RET = r.UC_X86_REG_ESP, r.UC_X86_REG_EIP, r.UC_X86_REG_EAX
            self.ARGS = ()
        self.stop_reason = None
        self.trampoline = None        # address of a `ret` the kernel calls return through
        self.last_fault = None        # (access, address, size) of the last invalid access
        self.last_interrupt = None    # the vector of the last CPU exception (0 #DE, 6 #UD, ...)
        self._hooks = [self.uc.hook_add(UC_HOOK_MEM_INVALID, self._on_invalid),
                       self.uc.hook_add(UC_HOOK_INTR, self._on_interrupt)]

    def _on_invalid(self, uc, access, address, size, value, user):
        if access in UNMAPPED_ACCESS and self.over_limit is None and \
                self._reservation_of(address) is not None:
            # reserved, not backed yet: back the blocks the access touches and retry it
            try:
                self._back_range(address, address + max(size, 1))
                return True
            except MemoryLimitExceeded:
                self.stop_reason = "memory limit"     # Machine.run raises it
            except UcError:
                pass                # Unicorn would not map it: the access faults, as it is
        kind = {UC_MEM_WRITE_UNMAPPED: "write", UC_MEM_WRITE_PROT: "write",
                UC_MEM_FETCH_UNMAPPED: "fetch", UC_MEM_FETCH_PROT: "fetch"}.get(access, "read")
        self.last_fault = (kind, address, size)
        return False  # not handled: the emulation stops with an error

    def _on_interrupt(self, uc, intno, user):
        self.last_interrupt = intno
        self.stop_reason = f"interrupt {intno}"
        uc.emu_stop()

    # -- memory ---------------------------------------------------------------------------

    def map(self, start, size, perms, label, data=None, lazy=None):
        """Map ``[start, start + size)`` with ``perms`` as one labelled region. ``lazy``
        (default: for ``LAZY_MIN`` bytes or more) reserves it and backs it on first touch."""
        size = page_align(size)
        if start % PAGE or size <= 0:
            raise UcError(UC_ERR_ARG)
        if any(r.start < start + size and start < r.end for r in self._reserved):
            raise UcError(UC_ERR_MAP)
        if lazy is None:
            lazy = size >= LAZY_MIN
        granule = max(MIN_GRANULE, page_align(-(-size // MAX_BLOCKS))) if lazy else size
        res = Reservation(start, start + size, start, granule, set())
        if not lazy:
            self._check_limit(size, start)      # before anything is recorded
        self._reserved.append(res)
        self._reserved.sort(key=lambda r: r.start)
        region = Region(start, size, perms, label)
        self.regions.append(region)
        self.regions.sort(key=lambda r: r.start)
        if not lazy:
            try:
                self._back(res, 0)
            except BaseException:       # the limit, or an exception the budget's watchdog threw
                self._release(start, start + size)
                raise
        if data:
            self.write(start, bytes(data))
        return region

    def protect(self, start, size, perms, label=None):
        size = page_align(size)
        if not self._is_reserved(start, start + size):
            raise UcError(UC_ERR_NOMEM)
        for lo, hi in self._mapped(start, start + size):
            self.uc.mem_protect(lo, hi - lo, perms)
        for region in list(self.regions):
            if region.start == start and region.size == size:
                region.perms = perms
                if label:
                    region.label = label
                return region
        # split: the range is carved out of a bigger region
        for region in list(self.regions):
            if region.start <= start and start + size <= region.end:
                self.regions.remove(region)
                pieces = [(region.start, start - region.start, region.perms, region.label),
                          (start, size, perms, label or region.label),
                          (start + size, region.end - start - size, region.perms, region.label)]
                self.regions += [Region(*p) for p in pieces if p[1] > 0]
                self.regions.sort(key=lambda r: r.start)
                return None
        raise MemoryFault(start, "protect")

    def unmap(self, start, size):
        size = page_align(size)
        end = start + size
        if not self._is_reserved(start, end):
            raise UcError(UC_ERR_NOMEM)
        self._release(start, end)

    def _release(self, start, end):
        """Unmap ``[start, end)``: what Unicorn maps there, the reservations, the regions."""
        for lo, hi in self._mapped(start, end):
            self.uc.mem_unmap(lo, hi - lo)
        kept = []
        for res in self._reserved:
            if res.end <= start or res.start >= end:
                kept.append(res)
                continue
            self._account(-res.backed_bytes())
            for lo, hi in ((res.start, start), (end, res.end)):
                if lo < hi:
                    part = Reservation(lo, hi, res.origin, res.granule, set())
                    part.backed = {i for i in res.backed if i in part.blocks(lo, hi)}
                    self._account(part.backed_bytes())
                    kept.append(part)
        self._reserved = kept
        keep = []
        for region in self.regions:
            if region.end <= start or region.start >= end:
                keep.append(region)
                continue
            if region.start < start:
                keep.append(Region(region.start, start - region.start, region.perms, region.label))
            if region.end > end:
                keep.append(Region(end, region.end - end, region.perms, region.label))
        self.regions = keep

    def region_of(self, addr):
        for region in self.regions:
            if addr in region:
                return region
        return None

    def read(self, addr, size):
        try:
            return bytes(self.uc.mem_read(addr & self.mask, size))
        except UcError:
            return self._read_reserved(addr, size)

    def write(self, addr, data):
        try:
            self.uc.mem_write(addr & self.mask, bytes(data))
        except UcError:
            self._write_reserved(addr, data)

    def write_image(self, addr, data, zero=(), chunk=64 << 10):
        """Write a loaded image (a module's core or init): one write for a small one; for a
        big one only its non-zero chunks, so its zeros stay unbacked. ``zero`` lists
        ``(offset, size)`` spans known to hold zeros (a ``.bss``): not even read."""
        if len(data) < LAZY_MIN:
            self.write(addr, data)
            return
        view = memoryview(data)
        skip = sorted((off, off + size) for off, size in zero if size > 0)
        for off in range(0, len(view), chunk):
            end = min(off + chunk, len(view))
            if any(lo <= off and end <= hi for lo, hi in skip):
                continue
            piece = view[off:end]
            if piece.tobytes().count(0) != len(piece):
                self.write(addr + off, piece)

    def backed_bytes(self, start, end):
        """How much of ``[start, end)`` the host backs (the rest reads as zeros, or is not
        mapped at all)."""
        return sum(hi - lo for lo, hi in self._backed_pieces(start, end))

    def data_spans(self, start, end):
        """The parts of ``[start, end)`` a walk over guest memory must read, merged: what
        Unicorn maps, up to the first address that is neither mapped nor reserved. Reserved
        blocks never backed read as zeros and are left out."""
        out, pos = [], start
        for lo, hi in self._mapped(start, end):
            if lo > pos and not self._is_reserved(pos, lo):
                break
            out.append((lo, hi))
            pos = hi
        return out

    # -- backing reserved memory ----------------------------------------------------------

    def _reservation_of(self, addr):
        addr &= self.mask
        for res in self._reserved:
            if res.start <= addr < res.end:
                return res
        return None

    def _is_reserved(self, lo, hi):
        """Is all of ``[lo, hi)`` reserved?"""
        pos = lo
        while pos < hi:
            res = self._reservation_of(pos)
            if res is None:
                return False
            pos = res.end
        return True

    def _backed_pieces(self, lo, hi):
        """The backed parts of ``[lo, hi)``, merged where they touch."""
        return _clip_and_merge((res.block(i) for res in self._reserved
                                if not (res.end <= lo or res.start >= hi)
                                for i in sorted(res.backed)), lo, hi)

    def _mapped(self, lo, hi):
        """The parts of ``[lo, hi)`` Unicorn maps now, merged. Unicorn is what decides: a
        map or an unmap an asynchronous exception (the budget's watchdog) cut short may have
        left it ahead of the bookkeeping."""
        return _clip_and_merge(((begin, last + 1) for begin, last, _ in
                                sorted(self.uc.mem_regions())), lo, hi)

    def _check_limit(self, need, addr):
        if self.over_limit is not None:
            raise self.over_limit
        if self.max_memory is not None and self.committed + need > self.max_memory:
            self.over_limit = MemoryLimitExceeded(self.max_memory, self.committed, need, addr)
            if self.on_limit is not None:
                self.on_limit(self.over_limit)
            raise self.over_limit

    def _account(self, n):
        self.committed += n
        self.peak_committed = max(self.peak_committed, self.committed)

    def _back(self, res, i):
        """Back block ``i`` of ``res``: Unicorn maps what it does not map yet, with the
        regions' permissions; the block counts once in ``committed``."""
        lo, hi = res.block(i)
        new = i not in res.backed
        if new:
            self._check_limit(hi - lo, lo)
        have = self._mapped(lo, hi)
        if have != [(lo, hi)]:
            for region in self.regions:
                a, b = max(lo, region.start), min(hi, region.end)
                for ga, gb in _gaps(a, b, have):
                    self.uc.mem_map(ga, gb - ga, region.perms)
        if new:
            res.backed.add(i)
            self._account(hi - lo)

    def _back_range(self, lo, hi):
        """Back every reserved block meeting ``[lo, hi)``."""
        lo &= self.mask
        for res in list(self._reserved):
            for i in res.blocks(lo, hi):
                if i not in res.backed or not self._mapped(*res.block(i)):
                    self._back(res, i)

    def _pieces(self, addr, size):
        """``[lo, hi)`` pieces of a reserved range, each inside one block: ``(res, i, lo, hi)``;
        None if part of the range is not reserved."""
        pos, end, out = addr, addr + size, []
        while pos < end:
            res = self._reservation_of(pos)
            if res is None or pos > self.mask:
                return None
            i = res.index(pos)
            hi = min(end, res.block(i)[1])
            out.append((res, i, pos, hi))
            pos = hi
        return out

    def _read_reserved(self, addr, size):
        """A read Unicorn refused: blocks never backed read as zeros."""
        pieces = self._pieces(addr & self.mask, size)
        if not pieces:
            raise MemoryFault(addr, "read") from None
        out = bytearray()
        for res, i, lo, hi in pieces:
            try:
                out += self.uc.mem_read(lo, hi - lo)
            except UcError:
                out += bytes(hi - lo)       # reserved, never backed: zeros
        return bytes(out)

    def _write_reserved(self, addr, data):
        """A write Unicorn refused: back the blocks it puts non-zero bytes in, then write."""
        view = memoryview(bytes(data) if not isinstance(data, (bytes, bytearray, memoryview))
                          else data).cast("B")
        base = addr & self.mask
        pieces = self._pieces(base, len(view))
        if not pieces:
            raise MemoryFault(addr, "write") from None
        for res, i, lo, hi in pieces:
            raw = view[lo - base:hi - base].tobytes()
            try:
                self.uc.mem_write(lo, raw)
                continue
            except UcError:
                pass
            if raw.count(0) == len(raw):
                continue                    # zeros into memory that reads zeros
            self._back(res, i)
            try:
                self.uc.mem_write(lo, raw)
            except UcError:
                raise MemoryFault(addr, "write") from None

    def read_int(self, addr, size, signed=False):
        return int.from_bytes(self.read(addr, size), "little", signed=signed)

    def write_int(self, addr, size, value):
        self.write(addr, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

    def read_ptr(self, addr):
        return self.read_int(addr, self.word)

    def write_ptr(self, addr, value):
        self.write_int(addr, self.word, value)

    def read_cstring(self, addr, limit=4096):
        """Bytes up to the NUL, read page by page so a string at a region's end still works."""
        out = bytearray()
        while len(out) < limit:
            chunk = PAGE - (addr + len(out)) % PAGE
            data = self.read(addr + len(out), min(chunk, limit - len(out)))
            nul = data.find(b"\0")
            if nul >= 0:
                return bytes(out + data[:nul])
            out += data
        return bytes(out)

    # -- registers ------------------------------------------------------------------------

    def reg(self, r):
        return self.uc.reg_read(r)

    def set_reg(self, r, value):
        self.uc.reg_write(r, value & self.mask)

    def set_gs_base(self, addr):
        """The per-CPU area behind %gs, as the kernel has it whenever module code runs."""
        self.entry_gs_base = addr
        self.uc.reg_write(X.UC_X86_REG_GS_BASE, addr)

    def reset_entry_state(self):
        """The CPU state the kernel calls module code with, whatever code ran before: the
        kernel's flags (``ENTRY_EFLAGS``: ``std``, the trap flag or AC do not leak from one
        module into the next), and on x86-64 the per-CPU GS base, a zero FS base and no
        stale ``swapgs`` value (KERNEL_GS_BASE), the data segment selectors null."""
        uc = self.uc
        uc.reg_write(X.UC_X86_REG_EFLAGS, ENTRY_EFLAGS)
        if self.bits != 64:
            return
        if self.entry_gs_base is not None and uc.reg_read(X.UC_X86_REG_GS_BASE) != self.entry_gs_base:
            uc.reg_write(X.UC_X86_REG_GS_BASE, self.entry_gs_base)
        if uc.reg_read(X.UC_X86_REG_FS_BASE):
            uc.reg_write(X.UC_X86_REG_FS_BASE, 0)
        if uc.reg_read(X.UC_X86_REG_MSR, MSR_KERNEL_GS_BASE):
            uc.reg_write(X.UC_X86_REG_MSR, (MSR_KERNEL_GS_BASE, 0))
        for seg in (X.UC_X86_REG_DS, X.UC_X86_REG_ES, X.UC_X86_REG_FS, X.UC_X86_REG_GS):
            if uc.reg_read(seg):
                uc.reg_write(seg, 0)

    @property
    def pc(self):
        return self.uc.reg_read(self.IP)

    @property
    def sp(self):
        return self.uc.reg_read(self.SP)

    def push(self, value):
        sp = self.sp - self.word
        self.write_ptr(sp, value)
        self.set_reg(self.SP, sp)

    def pop(self):
        sp = self.sp
        value = self.read_ptr(sp)
        self.set_reg(self.SP, sp + self.word)
        return value

    def arg(self, i):
        """Integer argument ``i`` of the function just entered (its return address at [sp])."""
        if i < len(self.ARGS):
            return self.uc.reg_read(self.ARGS[i])
        slot = i - len(self.ARGS) + 1
        return self.read_ptr(self.sp + slot * self.word)

    def return_from_call(self, value=None):
        """Finish the kernel function being emulated: result in rax/eax, then ``ret``.

        The ``ret`` itself is executed by the CPU: the PC is sent to a one-byte ``ret``
        outside the hooked range (``map_return_trampoline``), which saves the Python-side
        stack read and two register writes on every kernel call.
        """
        if self.trampoline is not None:
            if value is not None:
                self.uc.reg_write(self.RET, value & self.mask)
            # a PC write must go through reg_write: only that one breaks the current block
            self.uc.reg_write(self.IP, self.trampoline)
            return
        if value is not None:
            self.set_reg(self.RET, value)
        self.set_reg(self.IP, self.pop())

    def map_return_trampoline(self, addr):
        """A page holding ``ret`` at ``addr``, where kernel calls finish (see above)."""
        self.map(addr & ~(PAGE - 1), PAGE, PROT_READ | PROT_EXEC, "kmodsim return trampoline",
                 data=b"\xcc" * (addr % PAGE) + b"\xc3")
        self.trampoline = addr

    # -- execution ------------------------------------------------------------------------

    def hook_kernel_text(self, start, end, callback):
        """Route every instruction fetched in [start, end) to ``callback(uc, address, size,
        user)`` (Unicorn's own signature: no extra Python layer on each kernel call)."""
        self._hooks.append(self.uc.hook_add(UC_HOOK_CODE, callback, begin=start, end=end - 1))

    def run(self, start, until, timeout_us=0, count=0):
        """Execute from ``start`` until the PC reaches ``until`` (or a stop).

        The wall-clock limit is a timer thread that calls ``emu_stop``: Unicorn's own
        ``timeout`` argument slowed a tight loop by ~65% here (bench/emulator.py), this
        costs nothing while the module runs. It stops the CPU again every 10 ms until the
        run is over: a stop that comes before Unicorn has started is lost (``uc_emu_start``
        clears the request), and a short limit must still hold.
        """
        if self.over_limit is not None:
            raise self.over_limit
        self.stop_reason = None
        self.last_fault = None
        self.last_interrupt = None
        timer = done = None
        if timeout_us:
            done = threading.Event()
            timer = threading.Thread(target=self._stop_at, args=(timeout_us / 1e6, done),
                                     name="kmodsim-timeout", daemon=True)
            timer.start()
        self.running = True
        try:
            self.uc.emu_start(start, until, count=count)
        except UcError:
            if self.over_limit is not None:     # the access that went over the limit
                raise self.over_limit from None
            raise
        finally:
            self.running = False
            if done is not None:
                with self._lock:
                    done.set()
        if self.over_limit is not None:         # a kernel function went over it
            raise self.over_limit

    def _stop_at(self, seconds, done):
        """Machine.run's timer: at ``seconds``, and every 10 ms after until ``done``."""
        if done.wait(seconds):
            return
        while True:
            with self._lock:
                if done.is_set() or self.closed:
                    return
                self.stop_reason = "timeout"
                self.uc.emu_stop()
            if done.wait(0.01):
                return

    def stop(self, reason):
        with self._lock:
            if self.closed:         # a timer firing after close(): nothing to stop
                return
            self.stop_reason = reason
            self.uc.emu_stop()

    def close(self):
        """Give Unicorn's memory (guest memory, translation buffer) back now, not when the
        garbage collector gets to it. Idempotent; any later use raises KernelClosed."""
        with self._lock:
            if self.closed:
                return
            if self.running:
                raise RuntimeError("a kernel cannot be closed while it runs module code")
            self.closed = True
            uc, self.uc = self.uc, _Closed()
        self._hooks = []
        self._reserved, self.committed = [], 0
        release = getattr(uc, "_Uc__finalizer", None)   # uc_close, once (unicorn 2.x)
        if release is not None:
            release()

    def maps(self):
        """The memory map as text, one region a line (for notebooks and fault reports)."""
        return "\n".join(r.describe() for r in self.regions)


def _clip_and_merge(spans, lo, hi):
    """Ascending ``(start, end)`` spans clipped to ``[lo, hi)``, touching ones merged."""
    out = []
    for a, b in spans:
        a, b = max(a, lo), min(b, hi)
        if a >= b:
            continue
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out
