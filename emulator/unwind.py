"""Module stack frames, found the way 6.1's ORC unwinder finds them.

objtool gives every module two tables (``arch/x86/include/asm/orc_types.h``):

* ``.orc_unwind_ip``: s32 each, place-relative (``ip = &entry + entry``), one per code
  location where the stack layout changes;
* ``.orc_unwind``: the matching 6-byte ``struct orc_entry``::

      s16 sp_offset; s16 bp_offset;
      unsigned sp_reg:4, bp_reg:4, type:2, end:1;   (little-endian bit-fields, packed)

The kernel sorts both at load (``unwind_module_init``) and looks an address up with
``__orc_find``: the rightmost entry whose ip is <= the address. ``unwind_next_frame`` then
computes the caller's SP from ``sp_reg + sp_offset``, reads the return address just below it
(type CALL) and the caller's BP if the entry says where it was saved.

This module reads the tables from a loaded module's memory and walks frames over the
emulated stack; :mod:`emulator.faults` scans the stack as ``show_trace_log_lvl`` does and
uses :class:`Unwinder` to decide which addresses are reliable. Nothing here knows the
kernel's own (vmlinux) ORC data: a walk ends where it returns into the kernel.
"""

import struct
from dataclasses import dataclass, field

from linker.bits import MASK64

# ORC_REG_* (orc_types.h)
ORC_REG_UNDEFINED = 0
ORC_REG_PREV_SP = 1
ORC_REG_DX = 2
ORC_REG_DI = 3
ORC_REG_BP = 4
ORC_REG_SP = 5
ORC_REG_R10 = 6
ORC_REG_R13 = 7
ORC_REG_BP_INDIRECT = 8
ORC_REG_SP_INDIRECT = 9

# UNWIND_HINT_TYPE_* (include/linux/objtool.h), orc_entry.type
UNWIND_HINT_TYPE_CALL = 0
UNWIND_HINT_TYPE_REGS = 1
UNWIND_HINT_TYPE_REGS_PARTIAL = 2

ORC_ENTRY_SIZE = 6
WORD = 8

# pt_regs offsets (arch/x86/include/asm/ptrace.h) the unwinder reads from a REGS frame
PT_REGS_IP, PT_REGS_SP = 16 * WORD, 19 * WORD
IRET_FRAME_OFFSET = PT_REGS_IP          # iret frame: ip, cs, flags, sp, ss


@dataclass(frozen=True)
class OrcEntry:
    sp_offset: int
    bp_offset: int
    sp_reg: int
    bp_reg: int
    type: int
    end: int

    @classmethod
    def unpack(cls, raw):
        sp_offset, bp_offset, bits = struct.unpack("<hhH", raw[:ORC_ENTRY_SIZE])
        return cls(sp_offset, bp_offset, bits & 0xF, (bits >> 4) & 0xF,
                   (bits >> 8) & 0x3, (bits >> 10) & 0x1)

    def pack(self):
        bits = (self.sp_reg & 0xF) | (self.bp_reg & 0xF) << 4 | (self.type & 3) << 8 | \
               (self.end & 1) << 10
        return struct.pack("<hhH", self.sp_offset, self.bp_offset, bits)

    @property
    def is_terminator(self):
        """A section's weak end marker: sorted before a real entry at the same address."""
        return self.sp_reg == ORC_REG_UNDEFINED and not self.end


# unwind_orc.c: IP == 0 (a call through a NULL pointer) and a fresh function entry
NULL_ORC_ENTRY = OrcEntry(WORD, 0, ORC_REG_SP, ORC_REG_UNDEFINED, UNWIND_HINT_TYPE_CALL, 0)
FUNCTION_ENTRY = NULL_ORC_ENTRY
ORC_FP_ENTRY = OrcEntry(16, -16, ORC_REG_BP, ORC_REG_PREV_SP, UNWIND_HINT_TYPE_CALL, 0)


@dataclass
class OrcTable:
    """One module's sorted table: absolute ips and their entries."""

    ips: list = field(default_factory=list)
    entries: list = field(default_factory=list)

    @classmethod
    def from_sections(cls, ip_raw, ip_addr, orc_raw):
        """Decode ``.orc_unwind_ip`` (at ``ip_addr``) and ``.orc_unwind`` and sort them as
        ``unwind_module_init`` does (``orc_sort_cmp``: terminators first among equals)."""
        n = min(len(ip_raw) // 4, len(orc_raw) // ORC_ENTRY_SIZE)
        rows = []
        for i in range(n):
            rel = struct.unpack_from("<i", ip_raw, 4 * i)[0]
            entry = OrcEntry.unpack(orc_raw[ORC_ENTRY_SIZE * i:ORC_ENTRY_SIZE * (i + 1)])
            rows.append(((ip_addr + 4 * i + rel) & MASK64, 0 if entry.is_terminator else 1, entry))
        rows.sort(key=lambda r: (r[0], r[1]))
        return cls([r[0] for r in rows], [r[2] for r in rows])

    def find(self, ip):
        """``__orc_find``: the rightmost entry with ip <= ``ip``; the first one if none is
        (the kernel's search starts from the first entry); None for an empty table."""
        if not self.ips:
            return None
        lo, hi, found = 0, len(self.ips) - 1, 0
        while lo <= hi:
            mid = (lo + hi) // 2
            if self.ips[mid] <= ip:
                found, lo = mid, mid + 1
            else:
                hi = mid - 1
        return self.entries[found]


def module_orc_table(machine, lm):
    """The ORC table of a loaded module, read from its relocated memory (or None)."""
    info, img = lm.info, lm.image
    ip_idx, orc_idx = info.find_sec(".orc_unwind_ip"), info.find_sec(".orc_unwind")
    if not ip_idx or not orc_idx or ip_idx not in img.sections or orc_idx not in img.sections:
        return None
    ip_addr, orc_addr = img.address_of(ip_idx), img.address_of(orc_idx)
    ip_size = lm.layout.placements[ip_idx].size
    orc_size = lm.layout.placements[orc_idx].size
    # unwind_module_init WARNs when the two tables disagree; and a table larger than the
    # module's whole memory (a NOBITS section whose size wrapped the 32-bit layout) is not
    # one the kernel could have sorted: no ORC data for this module then
    if (ip_size % 4 or orc_size % ORC_ENTRY_SIZE or ip_size // 4 != orc_size // ORC_ENTRY_SIZE
            or ip_size + orc_size > lm.layout.core_size + lm.layout.init_size):
        return None
    try:
        return OrcTable.from_sections(machine.read(ip_addr, ip_size), ip_addr,
                                      machine.read(orc_addr, orc_size))
    except Exception:  # the table's memory is gone (a freed module)
        return None


@dataclass
class UnwindState:
    """``struct unwind_state``, the parts the x86-64 ORC unwinder uses."""

    ip: int
    sp: int
    bp: int
    regs: object = None        # address of a pt_regs on the stack, or a dict of the trap's
    full_regs: bool = False
    signal: bool = False
    error: bool = False
    done: bool = False

    def return_address_ptr(self):
        """``unwind_get_return_address_ptr``: the stack slot the current ip came from."""
        if self.done:
            return None
        if self.regs is not None and not isinstance(self.regs, dict):
            return self.regs + PT_REGS_IP
        if self.regs is not None:
            return None        # the trap's own registers: not on the scanned stack
        return self.sp - WORD if self.sp else None


class Unwinder:
    """``unwind_next_frame`` over emulated memory.

    ``find_orc(ip)`` returns an :class:`OrcEntry` or None (no table knows the address);
    ``read(addr)`` a stack word or None when ``addr`` is not on the stack being walked;
    ``stop(ip)`` says the walk has reached code kmodsim does not unwind (the kernel).
    """

    def __init__(self, find_orc, read, stop=lambda ip: False):
        self.find_orc, self.read, self.stop = find_orc, read, stop

    def start(self, regs):
        """``__unwind_start`` from a trap's registers, then skip the regs frame."""
        state = UnwindState(regs["RIP"], regs["RSP"], regs["RBP"], regs=dict(regs),
                            full_regs=True, signal=True)
        self.next(state)
        return state

    def start_at_call(self, sp):
        """The state of a function just entered by ``call``: its caller's ip is at [sp]."""
        ip = self.read(sp)
        if ip is None:
            return UnwindState(0, sp, 0, error=True, done=True)
        return UnwindState(ip, sp + WORD, 0)

    def next(self, state):
        """One frame up; False when the walk ends (done), with ``error`` if it went wrong."""
        if state.done:
            return False
        if self.stop(state.ip):
            state.done = True
            return False
        orc = NULL_ORC_ENTRY if state.ip == 0 else \
            self.find_orc(state.ip if state.signal else state.ip - 1)
        if orc is None:
            orc, state.error = ORC_FP_ENTRY, True
        if orc.sp_reg == ORC_REG_UNDEFINED:
            return self._end(state, error=not orc.end)
        prev_sp = state.sp
        sp = self._caller_sp(state, orc)
        if sp is None:
            return self._end(state, error=True)
        if orc.type == UNWIND_HINT_TYPE_CALL:
            ip = self.read(sp - WORD)
            if ip is None:
                return self._end(state, error=True)
            state.ip, state.sp, state.regs, state.signal = ip, sp, None, False
        elif orc.type == UNWIND_HINT_TYPE_REGS:
            ip, new_sp = self.read(sp + PT_REGS_IP), self.read(sp + PT_REGS_SP)
            if ip is None or new_sp is None:
                return self._end(state, error=True)
            state.ip, state.sp, state.regs = ip, new_sp, sp
            state.full_regs, state.signal = True, True
        elif orc.type == UNWIND_HINT_TYPE_REGS_PARTIAL:
            base = sp - IRET_FRAME_OFFSET
            ip, new_sp = self.read(base + PT_REGS_IP), self.read(base + PT_REGS_SP)
            if ip is None or new_sp is None:
                return self._end(state, error=True)
            state.ip, state.sp, state.regs = ip, new_sp, base
            state.full_regs, state.signal = False, True
        else:
            return self._end(state, error=True)
        if orc.bp_reg == ORC_REG_PREV_SP:
            bp = self.read(sp + orc.bp_offset)
            if bp is None:
                return self._end(state, error=True)
            state.bp = bp
        elif orc.bp_reg == ORC_REG_BP:
            bp = self.read(state.bp + orc.bp_offset)
            if bp is None:
                return self._end(state, error=True)
            state.bp = bp
        elif orc.bp_reg != ORC_REG_UNDEFINED:
            return self._end(state, error=True)
        if state.sp <= prev_sp:   # "stack going in the wrong direction?"
            return self._end(state, error=True)
        return True

    def _caller_sp(self, state, orc):
        regs = state.regs if isinstance(state.regs, dict) else None
        if orc.sp_reg == ORC_REG_SP:
            return state.sp + orc.sp_offset
        if orc.sp_reg == ORC_REG_BP:
            return state.bp + orc.sp_offset
        if orc.sp_reg == ORC_REG_SP_INDIRECT:
            base = self.read(state.sp)
            return None if base is None else base + orc.sp_offset
        if orc.sp_reg == ORC_REG_BP_INDIRECT:
            return self.read(state.bp + orc.sp_offset)
        named = {ORC_REG_R10: "R10", ORC_REG_R13: "R13", ORC_REG_DI: "RDI", ORC_REG_DX: "RDX"}
        if orc.sp_reg in named and regs is not None:
            return regs[named[orc.sp_reg]]
        return None

    @staticmethod
    def _end(state, error):
        state.error = state.error or error
        state.done = True
        return False


def walk(unwinder, state, limit=4096):
    """Every (ip, slot) the unwinder visits from ``state``: ``slot`` is the stack address
    the return address was read from (None for a trap's own registers)."""
    frames = []
    while not state.done and len(frames) < limit:
        frames.append((state.ip, state.return_address_ptr()))
        if not unwinder.next(state):
            break
    return frames


__all__ = ["OrcEntry", "OrcTable", "UnwindState", "Unwinder", "module_orc_table", "walk",
           "NULL_ORC_ENTRY", "FUNCTION_ENTRY", "ORC_FP_ENTRY", "ORC_REG_SP", "ORC_REG_BP",
           "ORC_REG_UNDEFINED", "ORC_REG_PREV_SP", "UNWIND_HINT_TYPE_CALL",
           "UNWIND_HINT_TYPE_REGS"]
