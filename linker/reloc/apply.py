"""Applying relocations: one at a time (the stepper) or a section at a time (the fast path).

Both paths take the same :class:`~linker.reloc.table.RelType` entries, so they cannot
disagree; a test runs both over every sample and a corpus sample and compares the bytes.

The place being patched is a window of a ``bytearray`` (the module's core or init
allocation). ``P`` is its address in the simulated kernel.
"""

from __future__ import annotations

import errno as _errno
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..bits import MASK64
from ..errors import KmodError
from .table import RelocArch, RelType

# ``plan_vector``'s answer: per relocation type, the byte positions to write and their bytes
Plan = list[tuple[np.ndarray, np.ndarray]]
# ``apply_section_scalar``'s callback: ``on_step(index, rtype, S, A, P, applied)``
OnStep = Callable[[int, RelType, int, int, int, "Applied"], Any]


class RelocationError(KmodError):
    """The kernel refused a relocation: every line it printed, in order, and ENOEXEC."""

    errno = _errno.ENOEXEC

    def __init__(self, lines: Sequence[str], index: int | None = None) -> None:
        super().__init__(lines[0])
        self.lines = list(lines)
        self.index = index  # the relocation's index inside its section


@dataclass(frozen=True)
class Applied:
    """One applied relocation: what was there, what was computed, what is there now."""

    value: int          # the formula's result, modulo 2**64
    width: int
    before: bytes
    after: bytes


def read_addend(buf: bytearray | bytes, offset: int, width: int) -> int:
    """REL: the addend is the place's contents, sign-extended (i386 fields are 32-bit)."""
    return int.from_bytes(buf[offset:offset + width], "little", signed=True)


def check_place(buf_len: int, offset: int, width: int, sec_size: int, sec_offset: int,
                rel_index: int, section_name: str) -> None:
    if offset < 0 or offset - sec_offset + width > sec_size or offset + width > buf_len:
        raise RelocationError([
            f"kmodsim: relocation {rel_index} of {section_name} patches {width} bytes at "
            f"offset {offset - sec_offset:#x}, outside the {sec_size:#x}-byte section"], rel_index)


def apply_one(rtype: RelType, buf: bytearray, offset: int, S: int, A: int, P: int,
              module_name: str, rel_index: int | None = None) -> Applied:
    """Apply one relocation to ``buf[offset:]`` exactly as the kernel does; return what changed.

    Raises :class:`RelocationError` with the kernel's lines for a non-zero place or an
    overflow. The write happens before the overflow check, as in 6.1.
    """
    width = rtype.width
    before = bytes(buf[offset:offset + width])
    value = rtype.value(S & MASK64, A, P) & MASK64
    if width == 0:
        return Applied(value, 0, b"", b"")
    if rtype.zero_target and any(before):
        # 6.1 prints val before a PC-relative type subtracts loc: S + A
        raise RelocationError([nonzero_target_line(rtype.number, P, (S + A) & MASK64)], rel_index)
    buf[offset:offset + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    if rtype.overflow is not None and rtype.overflow(value):
        raise RelocationError(overflow_lines(rtype.number, value, module_name), rel_index)
    return Applied(value, width, before, bytes(buf[offset:offset + width]))


def nonzero_target_line(rtype: int, place: int, value: int) -> str:
    # 6.1 prints the place with %p: hashed unless no_hash_pointers; we print it plain
    return ("module: x86/modules: Skipping invalid relocation target, existing value is nonzero "
            f"for type {rtype}, loc {place:016x}, val {value:x}")


def overflow_lines(rtype: int, value: int, module_name: str) -> list[str]:
    return [f"module: overflow in relocation type {rtype} val {value:x}",
            f"module: `{module_name}' likely not compiled with -mcmodel=kernel"]


# --------------------------------------------------------------------------- fast path

_WIDTH_COLS = {w: np.arange(w, dtype=np.int64) for w in (1, 2, 4, 8)}


def plan_vector(arch: RelocArch, buf_u8: np.ndarray, places: np.ndarray, limits: np.ndarray,
                P: np.ndarray, r_type: np.ndarray, r_sym: np.ndarray, addend: np.ndarray | None,
                symvals: np.ndarray) -> Plan | None:
    """Compute a batch of relocations with numpy, writing nothing; return a plan or None.

    ``places`` are offsets into ``buf_u8`` (one allocation), ``limits`` the end offset of
    each relocation's target section there, ``P`` the places' addresses; ``addend`` is None
    for REL. Returns ``None`` whenever the batch cannot be done in one sweep with the kernel's
    exact outcome: an unknown type, a place outside its section, two places that overlap (one
    relocation would see another's write), a non-zero place, an overflow. The caller then
    applies the relocations one by one (:func:`apply_section_scalar`), which reports the first
    failure exactly as the kernel does. The fast path never decides an error on its own.
    """
    n = len(places)
    if n == 0:
        return []
    if int(r_type.max()) >= 256 or int(r_type.min()) < 0:
        return None
    width_of = _width_table(arch)
    widths = width_of[r_type]
    if (widths < 0).any():
        return None  # an unknown type: the scalar path reports it in order
    if ((places + widths) > limits).any() or (places < 0).any():
        return None
    written = widths > 0
    wp, ww = places[written], widths[written]
    order = np.argsort(wp, kind="stable")
    wp, ww = wp[order], ww[order]
    if len(wp) > 1 and ((wp[:-1] + ww[:-1]) > wp[1:]).any():
        return None
    # group by type with one stable sort: each type's relocations become a slice
    order = np.argsort(r_type, kind="stable")
    t_sorted = r_type[order]
    cuts = (np.flatnonzero(t_sorted[1:] != t_sorted[:-1]) + 1).tolist()
    pl_s, S_s, P_s = places[order], symvals[r_sym[order]], P[order]
    A_s = addend[order].astype(np.uint64) if addend is not None else None
    plan: Plan = []
    for lo, hi in zip([0, *cuts], [*cuts, n]):
        rt = arch.types[int(t_sorted[lo])]   # every type is known: checked above
        if rt.width == 0:
            continue
        cols = pl_s[lo:hi, None] + _WIDTH_COLS[rt.width]
        current = buf_u8[cols]
        if rt.zero_target and current.any():
            return None
        if A_s is None:
            A = current.copy().view(f"<i{rt.width}").reshape(-1).astype(np.int64).astype(np.uint64)
        else:
            A = A_s[lo:hi]
        with np.errstate(over="ignore"):
            value = rt.value(S_s[lo:hi], A, P_s[lo:hi])
        if rt.overflow is not None and rt.overflow(value).any():
            return None
        plan.append((cols, value.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :rt.width]))
    return plan


def _width_table(arch: RelocArch, cache: dict[int, np.ndarray] = {}) -> np.ndarray:
    """``width[type]`` for types 0..255, -1 where the architecture has no such type."""
    table = cache.get(id(arch))
    if table is None:
        table = np.full(256, -1, dtype=np.int64)
        for number, rt in arch.types.items():
            table[number] = rt.width
        cache[id(arch)] = table
    return table


def commit_vector(buf_u8: np.ndarray, plan: Plan) -> None:
    for cols, raw in plan:
        buf_u8[cols] = raw


def apply_section_scalar(arch: RelocArch, buf: bytearray, sec_offset: int, sec_size: int,
                         sec_addr: int, entries: Iterable[tuple[int, int, int, int | None]],
                         symvals: Sequence[int] | np.ndarray, module_name: str,
                         section_name: str, on_step: OnStep | None = None) -> dict[str, int]:
    """Apply relocations one by one in section order; ``entries`` yields
    ``(r_offset, r_type, r_sym, addend_or_None)``. Returns ``{type name: count}``.

    ``on_step(index, rtype, S, A, P, applied)`` is called after each relocation (the stepper).
    """
    counts: dict[str, int] = {}
    for i, (r_offset, r_type, r_sym, addend) in enumerate(entries):
        rt = arch.get(r_type)
        if rt is None:
            raise RelocationError([arch.unknown_message % (module_name, r_type)], i)
        place = sec_offset + r_offset
        check_place(len(buf), place, rt.width, sec_size, sec_offset, i, section_name)
        A = read_addend(buf, place, rt.width) if addend is None else addend
        S = int(symvals[r_sym])
        P = (sec_addr + r_offset) & MASK64
        applied = apply_one(rt, buf, place, S, A & MASK64, P, module_name, i)
        counts[rt.name] = counts.get(rt.name, 0) + 1
        if on_step is not None:
            on_step(i, rt, S, A, P, applied)
    return counts
