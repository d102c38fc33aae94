"""``apply_relocations``: walk the relocation sections in index order, patch the image.

A section is processed when its ``sh_info`` names an allocated section (after the flag
changes of the earlier steps, so ``.modinfo``, ``__versions``, per-CPU data and debug sections
are skipped); ``SHT_REL`` and ``SHT_RELA`` go to the architecture's routine, which accepts
only its own kind. The first failure stops everything, as in the kernel.

``apply_relocations`` patches ``image`` in place (the only step that changes its input) and
returns ``{type name: count}``. ``fast=True`` computes every relocation of an allocation in
one numpy sweep (:func:`~linker.reloc.apply.plan_vector`) and writes only when the whole
module is known to succeed; otherwise, or with ``fast=False``, the relocations are applied
one by one in the kernel's order, which also gives the kernel's first error.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

import numpy as np

from ..elf.constants import SHF, SHT
from ..errors import KmodError
from ..reloc.apply import (RelocationError, apply_section_scalar, commit_vector,
                           plan_vector)
from ..loglevels import LOGLEVEL_ERR

if TYPE_CHECKING:
    from ..elf.reader import Section
    from ..reloc.table import RelocArch
    from .info import LoadInfo
    from .layout import Image
    from .linkkernel import LinkKernel

    # (r_offset, r_type, r_sym, r_addend or None) of one section, as arrays
    RelArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]

# plain ints: tested once per section (an IntFlag operator builds an enum member)
_SHF_ALLOC, _SHF_RELA_LIVEPATCH = int(SHF.SHF_ALLOC), int(SHF.SHF_RELA_LIVEPATCH)

REL_DTYPES = {
    (64, True): np.dtype([("r_offset", "<u8"), ("r_info", "<u8"), ("r_addend", "<i8")]),
    (64, False): np.dtype([("r_offset", "<u8"), ("r_info", "<u8")]),
    (32, True): np.dtype([("r_offset", "<u4"), ("r_info", "<u4"), ("r_addend", "<i4")]),
    (32, False): np.dtype([("r_offset", "<u4"), ("r_info", "<u4")]),
}


def relocation_sections(info: LoadInfo) -> list[tuple[Section, int]]:
    """The relocation sections the kernel applies, in order: ``(rel section, target index)``."""
    out = []
    for s in info.elf.sections[1:]:
        target = s.sh_info
        if target >= info.shnum or not info.sh_flags[target] & _SHF_ALLOC:
            continue
        if s.sh_type in (SHT.SHT_REL, SHT.SHT_RELA):
            out.append((s, target))
    return out


def read_relocations(info: LoadInfo, s: Section) -> RelArrays:
    """``(r_offset, r_type, r_sym, r_addend or None)`` arrays of one section."""
    dtype = REL_DTYPES[(info.elf.layout.bits, s.sh_type == SHT.SHT_RELA)]
    data = s.data
    return _split(info, np.frombuffer(data, dtype=dtype, count=len(data) // dtype.itemsize))


def apply_relocations(info: LoadInfo, image: Image, symvals: np.ndarray, arch: RelocArch,
                      kernel: LinkKernel, mod_name: str, fast: bool = True) -> dict[str, int]:
    """Apply every relocation section; returns ``{type name: count}``."""
    work = []
    for s, target in relocation_sections(info):
        if info.sh_flags[s.index] & _SHF_RELA_LIVEPATCH:
            continue  # livepatch relocations are applied by livepatch, not here
        work.append((s, target, (s.sh_type == SHT.SHT_RELA) == arch.rela))
    counts = _apply_fast(info, work, image, symvals, arch) if fast else None
    if counts is not None:
        return counts
    arrays = [(s, target, read_relocations(info, s) if ok else None) for s, target, ok in work]
    return _apply_scalar(arrays, image, symvals, arch, kernel, mod_name)


def _split(info: LoadInfo, arr: np.ndarray) -> RelArrays:
    """``(r_offset, r_type, r_sym, addend or None)`` from a record array."""
    r_info = arr["r_info"].astype(np.uint64)
    if info.elf.layout.bits == 64:
        r_sym, r_type = (r_info >> np.uint64(32)).astype(np.int64), (r_info & np.uint64(0xFFFFFFFF)).astype(np.int64)
    else:
        r_sym, r_type = (r_info >> np.uint64(8)).astype(np.int64), (r_info & np.uint64(0xFF)).astype(np.int64)
    addend = (arr["r_addend"].astype(np.int64)
              if "r_addend" in arr.dtype.names else None)  # type: ignore[operator]  # REL_DTYPES
    return arr["r_offset"].astype(np.uint64), r_type, r_sym, addend


def _apply_fast(info: LoadInfo, work: list[tuple[Section, int, bool]], image: Image,
                symvals: np.ndarray, arch: RelocArch) -> dict[str, int] | None:
    """Every relocation of an allocation in one numpy sweep: ``{type: count}``, or None
    (nothing written) when it cannot be done that way."""
    if not all(ok for _, _, ok in work):
        return None
    dtype = REL_DTYPES[(info.elf.layout.bits, arch.rela)]
    data = info.elf.data
    by_alloc: dict[str, list[tuple[Section, int]]] = {}
    for s, target, _ in work:
        by_alloc.setdefault(image.sections[target][0], []).append((s, target))
    plans = []
    for alloc, parts in by_alloc.items():
        raw = b"".join(data[s.sh_offset:s.sh_offset + s.sh_size - s.sh_size % dtype.itemsize]
                       for s, _ in parts)
        r_offset, r_type, r_sym, addend = _split(info, np.frombuffer(raw, dtype=dtype))
        if len(r_sym) and int(r_sym.max()) >= len(symvals):
            return None
        counts = [s.sh_size // dtype.itemsize for s, _ in parts]
        secs = [image.sections[t] for _, t in parts]
        sizes = np.repeat(np.array([image.layout.placements[t].size for _, t in parts],
                                   dtype=np.uint64), counts)
        # a place past its section (an r_offset near 2**64 included) is the scalar path's
        # to report; checked on the unsigned offsets, before any sum can overflow
        if len(r_offset) and ((r_offset > sizes).any()
                              or int(r_offset.max()) >= len(image.buffer(alloc))):
            return None
        sec_off = np.repeat(np.array([x[1] for x in secs], dtype=np.int64), counts)
        limits = sec_off + sizes.astype(np.int64)
        with np.errstate(over="ignore"):
            P = np.repeat(np.array([x[2] for x in secs], dtype=np.uint64), counts) + r_offset
        buf = np.frombuffer(image.buffer(alloc), dtype=np.uint8)
        plan = plan_vector(arch, buf, sec_off + r_offset.astype(np.int64), limits, P, r_type,
                           r_sym, addend, symvals)
        if plan is None:
            return None
        plans.append((buf, plan, r_type))
    total: dict[str, int] = {}
    for buf, plan, r_type in plans:
        commit_vector(buf, plan)
        per_type = np.bincount(r_type) if len(r_type) else np.zeros(0, dtype=np.int64)
        for t in np.flatnonzero(per_type).tolist():   # types < 256: plan_vector checked
            name = arch.types[t].name
            total[name] = total.get(name, 0) + int(per_type[t])
    return total


def _apply_scalar(work: list[tuple[Section, int, RelArrays | None]], image: Image,
                  symvals: np.ndarray, arch: RelocArch, kernel: LinkKernel,
                  mod_name: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    nsyms = len(symvals)
    for s, target, arrays in work:
        if arrays is None:
            _fail(kernel, [arch.wrong_kind_message % mod_name], errno.ENOEXEC)
        r_offset, r_type, r_sym, addend = arrays
        bad = np.flatnonzero(r_sym >= nsyms)
        if len(bad):
            _fail(kernel, [f"kmodsim: {mod_name}: relocation {int(bad[0])} of {s.name} refers to "
                           f"symbol {int(r_sym[bad[0]])}, past the end of the symbol table"],
                  errno.ENOEXEC, log=False)
        alloc, sec_off, sec_addr = image.sections[target]
        sec_size = image.layout.placements[target].size
        entries = zip(r_offset.tolist(), r_type.tolist(), r_sym.tolist(),
                      addend.tolist() if addend is not None else [None] * len(r_offset))
        try:
            got = apply_section_scalar(arch, image.buffer(alloc), sec_off, sec_size, sec_addr,
                                       entries, symvals, mod_name, s.name)
        except RelocationError as exc:
            _fail(kernel, exc.lines, errno.ENOEXEC, log=not exc.lines[0].startswith("kmodsim:"))
        for k, v in got.items():
            counts[k] = counts.get(k, 0) + v
    return counts


def _fail(kernel: LinkKernel, lines: Sequence[str], err: int, log: bool = True) -> NoReturn:
    if log:
        for line in lines:
            kernel.printk(LOGLEVEL_ERR, line)
    exc = KmodError(lines[0], err)
    exc.lines = lines  # type: ignore[attr-defined]  # every line, as RelocationError has
    raise exc
