"""The emulated CPU and its memory: Unicorn at kernel addresses, in labelled regions.

x86-64 runs in long mode at the kernel's own addresses (Unicorn's virtual-TLB mode, so no
page tables are needed); i386 runs in 32-bit protected mode for the hobby kernel. Memory is a
set of labelled regions with permissions (the kernel image, each module allocation, the
per-CPU area behind the GS base, the heap, kernel stacks), so a fault can say what it hit.

Kernel functions live at the profile's addresses. Their pages are mapped like the real
kernel text, and one code hook bounded to the kernel-text range hands every instruction
fetched there to :meth:`Machine.on_kernel_code`: module code runs at full speed, and a call
into the kernel reaches Python with no per-instruction hook anywhere else.
"""

import threading
from dataclasses import dataclass

from unicorn import (UC_ARCH_X86, UC_HOOK_CODE, UC_HOOK_INTR, UC_HOOK_MEM_INVALID,
                     UC_MEM_FETCH_PROT, UC_MEM_FETCH_UNMAPPED, UC_MEM_WRITE_PROT,
                     UC_MEM_WRITE_UNMAPPED, UC_MODE_32, UC_MODE_64, UC_PROT_EXEC, UC_PROT_READ,
                     UC_PROT_WRITE, UC_TLB_VIRTUAL, Uc, UcError)
from unicorn import x86_const as X

PAGE = 4096
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


class MemoryFault(Exception):
    """An access the emulated memory cannot serve (what the kernel would call a page fault)."""

    def __init__(self, addr, access="read", region=None):
        super().__init__(f"{access} of unmapped address {addr:#x}")
        self.addr = addr
        self.access = access
        self.region = region


class Machine:
    """One CPU, its registers and memory, and the bridge from kernel text to Python."""

    def __init__(self, bits=64):
        self.bits = bits
        self.uc = Uc(UC_ARCH_X86, UC_MODE_64 if bits == 64 else UC_MODE_32)
        self.uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
        self.regions = []
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
        kind = {UC_MEM_WRITE_UNMAPPED: "write", UC_MEM_WRITE_PROT: "write",
                UC_MEM_FETCH_UNMAPPED: "fetch", UC_MEM_FETCH_PROT: "fetch"}.get(access, "read")
        self.last_fault = (kind, address, size)
        return False  # not handled: the emulation stops with an error

    def _on_interrupt(self, uc, intno, user):
        self.last_interrupt = intno
        self.stop_reason = f"interrupt {intno}"
        uc.emu_stop()

    # -- memory ---------------------------------------------------------------------------

    def map(self, start, size, perms, label, data=None):
        size = page_align(size)
        self.uc.mem_map(start, size, perms)
        region = Region(start, size, perms, label)
        self.regions.append(region)
        self.regions.sort(key=lambda r: r.start)
        if data:
            self.uc.mem_write(start, bytes(data))
        return region

    def protect(self, start, size, perms, label=None):
        size = page_align(size)
        self.uc.mem_protect(start, size, perms)
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
        self.uc.mem_unmap(start, size)
        keep = []
        for region in self.regions:
            if region.end <= start or region.start >= start + size:
                keep.append(region)
                continue
            if region.start < start:
                keep.append(Region(region.start, start - region.start, region.perms, region.label))
            if region.end > start + size:
                keep.append(Region(start + size, region.end - start - size, region.perms, region.label))
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
            raise MemoryFault(addr, "read") from None

    def write(self, addr, data):
        try:
            self.uc.mem_write(addr & self.mask, bytes(data))
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
        costs nothing while the module runs.
        """
        self.stop_reason = None
        self.last_fault = None
        self.last_interrupt = None
        timer = None
        if timeout_us:
            timer = threading.Timer(timeout_us / 1e6, self.stop, args=("timeout",))
            timer.daemon = True
            timer.start()
        try:
            self.uc.emu_start(start, until, count=count)
        finally:
            if timer is not None:
                timer.cancel()

    def stop(self, reason):
        self.stop_reason = reason
        self.uc.emu_stop()

    def maps(self):
        """The memory map as text, one region a line (for notebooks and fault reports)."""
        return "\n".join(r.describe() for r in self.regions)
