"""A user process's address space: its VMAs, brk, anonymous mmap, munmap and mprotect.

Every mapping is a labelled :class:`~emulator.machine.Machine` region in the user half
(below ``TASK_SIZE``), made for the process and unmapped when it exits
(:meth:`AddressSpace.release`); the kernel's own regions are never touched. Regions of
1 MiB or more are backed on first touch (Machine's lazy backing), so a big ``brk`` or
``mmap`` costs the host only what the program writes; a request bigger than the guest's
memory fails with ENOMEM as 6.1's ``__vm_enough_memory`` (OVERCOMMIT_GUESS) fails it, with
its log line.

The access checks the kernel's ``copy_to_user``/``copy_from_user`` make for a syscall's
buffer (``access_ok``, then the page tables) are :meth:`AddressSpace.accessible`: the
range lies below ``TASK_SIZE`` and in the process's VMAs with the permission needed.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from unicorn import UcError

from ..machine import PAGE, PROT_EXEC, PROT_READ, PROT_WRITE
from .binfmt import MMAP_MIN_ADDR, STACK_TOP, TASK_SIZE, TOTALRAM_BYTES

STACK_SIZE = 8 << 20              # RLIMIT_STACK's default: the stack may grow this far
MMAP_BASE = STACK_TOP - STACK_SIZE - (128 << 20) - PAGE   # mmap_base(): below the stack gap
# ranges kmodsim keeps for itself in the user half: the shell's scratch user buffer
RESERVED = ((0x7F00_0000_0000, 0x7F00_0010_0000),)

MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x01, 0x02, 0x10, 0x20
MAP_FIXED_NOREPLACE = 0x100000
MREMAP_MAYMOVE = 1
COPY_CHUNK = 1 << 20              # what mremap moves through Python at once
PROT_MASK = PROT_READ | PROT_WRITE | PROT_EXEC


def page_up(n):
    return (n + PAGE - 1) & ~(PAGE - 1)


@dataclass
class Vma:
    start: int
    end: int
    prot: int
    name: str                 # the file's base name, "[heap]", "[stack]", "" (anonymous)
    file_backed: bool = False


class AddressSpace:
    """The VMAs of one process over a Machine (``mm_struct``)."""

    def __init__(self, machine, owner: str, log_enomem=None):
        self.machine = machine
        self.owner = owner                 # "pid 85 raw": the regions' labels
        self.vmas: list[Vma] = []
        self.start_brk = self.brk = 0
        self.log_enomem = log_enomem      # __vm_enough_memory's warning

    # -- VMAs -----------------------------------------------------------------------------

    def find_vma(self, addr: int) -> Vma | None:
        """The first VMA ending above ``addr`` (6.1's ``find_vma``: it need not contain it)."""
        for vma in self.vmas:
            if addr < vma.end:
                return vma
        return None

    def vma_at(self, addr: int) -> Vma | None:
        vma = self.find_vma(addr)
        return vma if vma is not None and vma.start <= addr else None

    def accessible(self, addr: int, size: int, prot: int) -> bool:
        """Could the kernel copy ``size`` bytes at ``addr`` to or from this process?"""
        if size <= 0:
            return size == 0
        if addr < 0 or addr + size > TASK_SIZE:
            return False
        pos, end = addr, addr + size
        while pos < end:
            vma = self.vma_at(pos)
            if vma is None or vma.prot & prot != prot:
                return False
            pos = vma.end
        return True

    def map_fixed(self, start: int, size: int, prot: int, name: str, file_backed=False):
        """MAP_FIXED: whatever of ours was there goes, then the new region."""
        end = start + page_up(size)
        self.unmap(start, end - start)
        label = f"user {self.owner} {name or 'anon'}"
        self.machine.map(start, end - start, prot, label)
        self.vmas.append(Vma(start, end, prot, name, file_backed))
        self.vmas.sort(key=lambda v: v.start)

    def unmap(self, start: int, size: int):
        """Unmap what of ``[start, start + size)`` is ours (split VMAs keep their ends)."""
        end = start + page_up(size)
        kept = []
        for vma in self.vmas:
            if vma.end <= start or vma.start >= end:
                kept.append(vma)
                continue
            lo, hi = max(vma.start, start), min(vma.end, end)
            self.machine.unmap(lo, hi - lo)
            if vma.start < lo:
                kept.append(Vma(vma.start, lo, vma.prot, vma.name, vma.file_backed))
            if hi < vma.end:
                kept.append(Vma(hi, vma.end, vma.prot, vma.name, vma.file_backed))
        self.vmas = sorted(kept, key=lambda v: v.start)

    def release(self):
        """exit_mmap: every mapping of the process goes, and any region with its label
        that the VMAs lost track of (a map cut short by the budget's watchdog)."""
        spans = [(v.start, v.end) for v in self.vmas]
        prefix = f"user {self.owner} "
        spans += [(r.start, r.end) for r in self.machine.regions
                  if r.label.startswith(prefix) and r.start < TASK_SIZE]
        for start, end in spans:
            try:
                self.machine.unmap(start, end - start)
            except UcError:
                pass            # gone already (the same span twice)
        self.vmas = []

    def _free(self, start: int, end: int) -> bool:
        """Is ``[start, end)`` free in the user half (ours, and anything else mapped)?"""
        if start < MMAP_MIN_ADDR or end > TASK_SIZE:
            return False
        if any(v.start < end and start < v.end for v in self.vmas):
            return False
        if any(lo < end and start < hi for lo, hi in RESERVED):
            return False
        return not any(r.start < end and start < r.end for r in self.machine.regions)

    def _unmapped_area(self, size: int) -> int | None:
        """Top-down from MMAP_BASE (arch_get_unmapped_area_topdown): the highest free gap
        above the break."""
        occupied = [(v.start, v.end) for v in self.vmas] + list(RESERVED) + \
            [(r.start, r.end) for r in self.machine.regions if r.start < TASK_SIZE]
        start = MMAP_BASE - size
        floor = max(page_up(self.brk), MMAP_MIN_ADDR)
        while start >= floor:
            blockers = [lo for lo, hi in occupied if lo < start + size and start < hi]
            if not blockers:
                return start
            start = (min(blockers) - size) & ~(PAGE - 1)
        return None

    def enough_memory(self, size: int) -> bool:
        """__vm_enough_memory (OVERCOMMIT_GUESS): no more pages than the guest's RAM."""
        if size <= TOTALRAM_BYTES:
            return True
        if self.log_enomem is not None:
            self.log_enomem()
        return False

    # -- the syscalls ---------------------------------------------------------------------

    def set_brk(self, start: int):
        self.start_brk = self.brk = start

    def sys_brk(self, new: int) -> int:
        """brk(2): the new break, or the old one when it cannot move there."""
        if new < self.start_brk:
            return self.brk
        old_top, new_top = page_up(self.brk), page_up(new)
        if new_top == old_top:
            self.brk = new
            return new
        if new_top < old_top:
            self.unmap(new_top, old_top - new_top)
            self.brk = new
            return new
        if new_top > MMAP_BASE or not self._free(old_top, new_top) \
                or not self.enough_memory(new_top - old_top):
            return self.brk
        self.map_fixed(old_top, new_top - old_top, PROT_READ | PROT_WRITE, "[heap]")
        self.brk = new
        return new

    def sys_mmap(self, addr, length, prot, flags, fd) -> int:
        """mmap(2) of anonymous memory (file mappings are the caller's to refuse)."""
        if not length or prot & ~PROT_MASK:
            return -errno.EINVAL
        size = page_up(length)
        if size == 0 or size > TASK_SIZE:
            return -errno.ENOMEM
        if not flags & (MAP_SHARED | MAP_PRIVATE) or addr % PAGE and flags & MAP_FIXED:
            return -errno.EINVAL
        if not self.enough_memory(size):
            return -errno.ENOMEM
        if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
            if addr + size > TASK_SIZE or addr < MMAP_MIN_ADDR:
                return -errno.EPERM if addr < MMAP_MIN_ADDR else -errno.ENOMEM
            if any(lo < addr + size and addr < hi for lo, hi in RESERVED) or \
                    any(r.start < addr + size and addr < r.end for r in self.machine.regions
                        if not any(v.start <= r.start < v.end for v in self.vmas)):
                return -errno.ENOMEM
            if flags & MAP_FIXED_NOREPLACE and not self._free(addr, addr + size):
                return -errno.EEXIST
            start = addr
        elif addr and addr % PAGE == 0 and self._free(addr, addr + size):
            start = addr
        else:
            start = self._unmapped_area(size)
            if start is None:
                return -errno.ENOMEM
        self.map_fixed(start, size, prot, "")
        return start

    def sys_mremap(self, addr, old_len, new_len, flags) -> int:
        """mremap(2) of an anonymous mapping: shrink in place, grow in place when the
        pages after it are free, else (MREMAP_MAYMOVE) move it: a new area, the bytes
        copied a block at a time (blocks never touched stay unbacked), the old one unmapped."""
        old_len, new_len = page_up(old_len), page_up(new_len)
        if addr % PAGE or flags & ~MREMAP_MAYMOVE or not new_len or new_len > TASK_SIZE:
            return -errno.EINVAL
        vma = self.vma_at(addr)
        if vma is None or addr + old_len > vma.end:
            return -errno.EFAULT
        if new_len <= old_len:
            if new_len < old_len:
                self.unmap(addr + new_len, old_len - new_len)
            return addr
        if not self.enough_memory(new_len - old_len):
            return -errno.ENOMEM
        end = addr + old_len
        if self._free(end, addr + new_len) and addr + new_len <= MMAP_BASE:
            self.map_fixed(end, addr + new_len - end, vma.prot, vma.name)
            return addr
        if not flags & MREMAP_MAYMOVE:
            return -errno.ENOMEM
        start = self._unmapped_area(new_len)
        if start is None:
            return -errno.ENOMEM
        self.map_fixed(start, new_len, vma.prot, vma.name)
        for off in range(0, old_len, COPY_CHUNK):
            n = min(COPY_CHUNK, old_len - off)
            if self.machine.backed_bytes(addr + off, addr + off + n):
                self.machine.write(start + off, self.machine.read(addr + off, n))
        self.unmap(addr, old_len)
        return start

    def sys_munmap(self, addr, length) -> int:
        if addr % PAGE or not length or addr + page_up(length) > TASK_SIZE:
            return -errno.EINVAL
        self.unmap(addr, length)
        return 0

    def sys_mprotect(self, addr, length, prot) -> int:
        if addr % PAGE or prot & ~PROT_MASK:
            return -errno.EINVAL
        end = addr + page_up(length)
        if end < addr or end > TASK_SIZE:
            return -errno.ENOMEM
        pos = addr
        while pos < end:                  # all of it must be mapped
            vma = self.vma_at(pos)
            if vma is None:
                return -errno.ENOMEM
            pos = vma.end
        pieces = []
        for vma in self.vmas:
            if vma.end <= addr or vma.start >= end:
                pieces.append(vma)
                continue
            lo, hi = max(vma.start, addr), min(vma.end, end)
            self.machine.protect(lo, hi - lo, prot)
            if vma.start < lo:
                pieces.append(Vma(vma.start, lo, vma.prot, vma.name, vma.file_backed))
            pieces.append(Vma(lo, hi, prot, vma.name, vma.file_backed))
            if hi < vma.end:
                pieces.append(Vma(hi, vma.end, vma.prot, vma.name, vma.file_backed))
        self.vmas = sorted(pieces, key=lambda v: v.start)
        return 0
