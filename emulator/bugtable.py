"""A module's ``__bug_table``: where each ``BUG()``/``WARN()`` of its code is described.

Each ``struct bug_entry`` (x86-64, CONFIG_GENERIC_BUG_RELATIVE_POINTERS) is 12 bytes:
``bug_addr_disp`` and ``file_disp`` (s32, each relative to its own field), ``line`` and
``flags`` (u16). ``find_bug`` looks an address up as the kernel's does, entry by entry; the
table's size comes from the module's section header, so it is searched in bounded chunks,
vectorised, and the never-touched (all-zero) stretches of a huge NOBITS table are answered
by arithmetic instead of being read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linker.bits import MASK64
from linker.load.pipeline import LinkedModule

BUG_ENTRY_SIZE = 12
BUGFLAG_WARNING, BUGFLAG_ONCE, BUGFLAG_DONE, BUGFLAG_NO_CUT_HERE = 1, 2, 4, 8
_CHUNK = (1 << 20) // BUG_ENTRY_SIZE * BUG_ENTRY_SIZE    # whole entries per read


@dataclass
class BugEntry:
    """One ``struct bug_entry``, decoded at its address in module memory."""

    entry_addr: int
    bug_addr: int
    file: str | None
    line: int
    flags: int

    def set_flags(self, machine, flags):
        machine.write_int(self.entry_addr + 10, 2, flags)
        self.flags = flags


def decode_bug_entry(raw, entry_addr):
    """(bug_addr, file_addr, line, flags) of 12 bytes at ``entry_addr``: both pointers are
    relative to their own field (``bug_addr``: ``&bug_addr_disp + bug_addr_disp``)."""
    bug_disp = int.from_bytes(raw[0:4], "little", signed=True)
    file_disp = int.from_bytes(raw[4:8], "little", signed=True)
    line = int.from_bytes(raw[8:10], "little")
    flags = int.from_bytes(raw[10:12], "little")
    return ((entry_addr + bug_disp) & MASK64, (entry_addr + 4 + file_disp) & MASK64, line, flags)


def _table(mod):
    """(address, size) of a module's __bug_table, or None (a hobby module has none)."""
    lm = mod.linked
    if not isinstance(lm, LinkedModule):
        return None
    idx = lm.info.find_sec("__bug_table")
    if not idx or idx not in lm.image.sections:
        return None
    return lm.image.address_of(idx), lm.layout.placements[idx].size


def _entry(m, entry_addr):
    try:
        raw = m.read(entry_addr, BUG_ENTRY_SIZE)
    except Exception:
        return None
    bug_addr, file_addr, line, flags = decode_bug_entry(raw, entry_addr)
    try:
        file = m.read_cstring(file_addr).decode("latin-1")
    except Exception:
        file = None
    return BugEntry(entry_addr, bug_addr, file, line, flags)


def bug_table(k, mod):
    """The module's ``__bug_table`` as BugEntry records (a small table: tests, tools)."""
    where = _table(mod)
    if where is None:
        return []
    base, size = where
    entries = (_entry(k.machine, base + off)
               for off in range(0, size - BUG_ENTRY_SIZE + 1, BUG_ENTRY_SIZE))
    return [e for e in entries if e is not None]


def _search(m, base, count, bugaddr):
    """The index of the first of ``count`` entries at ``base`` whose bug address is
    ``bugaddr``, or None."""
    for first in range(0, count, _CHUNK // BUG_ENTRY_SIZE):
        n = min(_CHUNK // BUG_ENTRY_SIZE, count - first)
        at = base + first * BUG_ENTRY_SIZE
        # entry i matches when its displacement is bugaddr - (at + 12 i), which must fit s32
        delta = (bugaddr - at) & MASK64
        if delta >= 1 << 63:
            delta -= 1 << 64
        lo_i = max(0, -((-(delta - (1 << 31) + 1)) // BUG_ENTRY_SIZE))
        hi_i = min(n, (delta + (1 << 31)) // BUG_ENTRY_SIZE + 1)
        if lo_i >= hi_i:
            continue
        try:
            raw = m.read(at + lo_i * BUG_ENTRY_SIZE, (hi_i - lo_i) * BUG_ENTRY_SIZE)
        except Exception:
            return None
        disp = np.frombuffer(raw, dtype="<i4")[0::3].astype(np.int64)
        want = delta - BUG_ENTRY_SIZE * np.arange(lo_i, hi_i, dtype=np.int64)
        hits = np.flatnonzero(disp == want)
        if hits.size:
            return first + lo_i + int(hits[0])
    return None


def find_bug(k, bugaddr):
    """``find_bug``: the entry for the ``ud2`` at ``bugaddr`` in any module's table."""
    for mod in k.modules:
        if mod.state == "UNFORMED":
            continue
        where = _table(mod)
        if where is None:
            continue
        base, size = where
        i = _search(k.machine, base, size // BUG_ENTRY_SIZE, bugaddr)
        if i is not None:
            return _entry(k.machine, base + i * BUG_ENTRY_SIZE)
    return None


__all__ = ["BUG_ENTRY_SIZE", "BUGFLAG_DONE", "BUGFLAG_NO_CUT_HERE", "BUGFLAG_ONCE",
           "BUGFLAG_WARNING", "BugEntry", "bug_table", "decode_bug_entry", "find_bug"]
