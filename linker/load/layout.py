"""``layout_sections``, ``layout_symtab`` and ``move_module`` of Linux 6.1.

Sections are placed, in section-index order within each pass, by the kernel's mask table:
text, read-only data, ro-after-init data, writable data, leftovers; first for the core
allocation, then for init (names starting ``.init``). Each group ends page-aligned
(``strict_align``: CONFIG_STRICT_MODULE_RWX). ``layout_symtab`` then reserves the core
kallsyms copy (core symbols, their names and type bytes) at the end of core, and puts the
full symbol and string tables plus ``struct mod_kallsyms`` and the type bytes in init.
x86-64 keeps data in the core allocation (``data_layout`` is ``core_layout`` in 6.1).

The sizes are the kernel's ``unsigned int``s (``struct module_layout``) and every step is
its arithmetic: ``module_get_offset`` adds a section's 64-bit ``sh_size`` into a 32-bit
size, and ``ALIGN`` casts ``sh_addralign`` to that type first, so sizes wrap at 4 GiB, an
alignment of 2**32 truncates to 0 (offset 0) and one that is not a power of two gives the
mask's answer (tests/realkernel/bigsec1: a 2**32 + 4 byte ``.bss`` loads as a 4-byte one).
``move_module`` then refuses, with a ``kmodsim:`` line, a layout whose copies the kernel
would make run past an allocation or over one another: the real kernel oopses there or
corrupts its ``struct module`` (bigsec1, bigsec2).
"""

from __future__ import annotations

import errno
import mmap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..elf.constants import SHF, SHN, SHT
from ..errors import KmodError
from ..loglevels import LOGLEVEL_WARNING

if TYPE_CHECKING:
    from ..elf.reader import ElfFile
    from ..elf.records import Shdr
    from .info import LoadInfo
    from .linkkernel import LinkKernel

# plain ints: every section's flags are tested against every mask, and an operator on an
# IntFlag builds an enum member each time
_SHF_WRITE, _SHF_ALLOC, _SHF_EXECINSTR, _SHF_RO_AFTER_INIT = (
    int(SHF.SHF_WRITE), int(SHF.SHF_ALLOC), int(SHF.SHF_EXECINSTR), int(SHF.SHF_RO_AFTER_INIT))

# (flags needed, flags excluded)
MASKS: tuple[tuple[int, int], ...] = (
    (_SHF_EXECINSTR | _SHF_ALLOC, 0),
    (_SHF_ALLOC, _SHF_WRITE),
    (_SHF_RO_AFTER_INIT | _SHF_ALLOC, 0),
    (_SHF_WRITE | _SHF_ALLOC, 0),
    (_SHF_ALLOC, 0),  # ARCH_SHF_SMALL | SHF_ALLOC with ARCH_SHF_SMALL == 0 on x86
)
CORE_REGIONS = ("core_text", "core_rodata", "core_ro_after_init", "core_data", "core_data")
INIT_REGIONS = ("init_text", "init_rodata", "init_rodata", "init_data", "init_data")

U32 = 0xFFFFFFFF
# an allocation this large or larger is an anonymous mapping, zero pages until written (a
# 400 MiB .bss costs the host what relocations and the emulator write into it, not 400 MiB)
LAZY_BUFFER = 1 << 20


def align_u32(size: int, align: int) -> int:
    """``ALIGN(size, align)`` with ``size`` an ``unsigned int``: the kernel's
    ``__ALIGN_KERNEL_MASK(x, (typeof(x))(a) - 1)``, so ``align`` is cut to 32 bits first."""
    mask = (align - 1) & U32
    return (size + mask) & ~mask & U32


@dataclass
class Placement:
    index: int
    name: str
    alloc: str          # "core" or "init"
    offset: int
    size: int
    region: str


@dataclass
class Layout:
    """Sizes and section offsets as ``struct module_layout`` records them."""

    page_size: int
    placements: dict[int, Placement] = field(default_factory=dict)   # section index -> Placement
    core_size: int = 0
    core_text_size: int = 0
    core_ro_size: int = 0
    core_ro_after_init_size: int = 0
    init_size: int = 0
    init_text_size: int = 0
    init_ro_size: int = 0
    symtab: dict[str, int] = field(default_factory=dict)   # layout_symtab's offsets

    def align(self, size: int) -> int:
        """``strict_align``: ``PAGE_ALIGN`` of an ``unsigned int`` (wraps at 4 GiB)."""
        return align_u32(size, self.page_size)


def module_init_layout_section(name: str, unload: bool = True) -> bool:
    # module_init_section(): ".init" prefix; ".exit" only when unloading is compiled out
    return name.startswith(".init") or (not unload and name.startswith(".exit"))


def _get_offset(size: int, sh: Shdr) -> tuple[int, int]:
    """``module_get_offset``: ``(offset, new size)``, both ``unsigned int``."""
    off = align_u32(size, sh.sh_addralign or 1)
    return off, (off + sh.sh_size) & U32


def layout_sections(info: LoadInfo, page_size: int = 4096, unload: bool = True) -> Layout:
    lay = Layout(page_size)
    flags = info.sh_flags
    # only SHF_ALLOC sections can match a mask; visit them in index order
    cands = [(s.index, s.name, flags[s.index], s.header, module_init_layout_section(s.name, unload))
             for s in info.elf.sections if flags[s.index] & _SHF_ALLOC]
    for init_pass in (False, True):
        size = 0
        regions = INIT_REGIONS if init_pass else CORE_REGIONS
        alloc = "init" if init_pass else "core"
        todo = [c for c in cands if c[4] == init_pass]
        for m, (need, exclude) in enumerate(MASKS):
            rest = []
            for c in todo:
                f = c[2]
                if (f & need) != need or f & exclude:
                    rest.append(c)
                    continue
                off, size = _get_offset(size, c[3])
                lay.placements[c[0]] = Placement(c[0], c[1], alloc, off, c[3].sh_size, regions[m])
            todo = rest
            if m == 0:
                size = lay.align(size)
                if init_pass:
                    lay.init_text_size = size
                else:
                    lay.core_text_size = size
            elif m == 1:
                size = lay.align(size)
                if init_pass:
                    lay.init_ro_size = size
                else:
                    lay.core_ro_size = size
            elif m == 2 and not init_pass:
                size = lay.align(size)
                lay.core_ro_after_init_size = size
            elif m == 4:
                size = lay.align(size)
        if init_pass:
            lay.init_size = size
        else:
            lay.core_size = size
    return lay


def is_core_symbol(syms: np.ndarray, info: LoadInfo, lay: Layout,
                   kallsyms_all: bool = True) -> np.ndarray:
    """``is_core_symbol`` for every symbol at once (a boolean array)."""
    shnum = info.shnum
    shndx = syms["st_shndx"].astype(np.int64)
    ok = (shndx != SHN.SHN_UNDEF) & (shndx < shnum) & (syms["st_name"] != 0)
    sec_alloc = np.zeros(shnum + 1, dtype=bool)
    sec_core = np.zeros(shnum + 1, dtype=bool)
    sec_exec = np.zeros(shnum + 1, dtype=bool)
    for i in range(shnum):
        sec_alloc[i] = bool(info.sh_flags[i] & _SHF_ALLOC)
        sec_exec[i] = bool(info.sh_flags[i] & _SHF_EXECINSTR)
        p = lay.placements.get(i)
        sec_core[i] = p is None or p.alloc == "core"
    idx = np.where(shndx < shnum, shndx, shnum)
    good = sec_alloc[idx] & sec_core[idx]
    if not kallsyms_all:
        good &= sec_exec[idx]
    pcpu = info.index.get("pcpu", 0)
    if kallsyms_all and pcpu:
        good |= shndx == pcpu
    return ok & good


def layout_symtab(info: LoadInfo, lay: Layout, sym_size: int, kallsyms_all: bool = True,
                  mod_kallsyms_size: int | None = None) -> Layout:
    """Reserve the kallsyms copies: core symbols at the end of core, full tables in init."""
    secs = info.elf.sections
    symsec, strsec = secs[info.index["sym"]], secs[info.index["str"]]
    word = info.elf.layout.word_size
    # the symbol table joins init (the kernel sets SHF_ALLOC on it here)
    off, lay.init_size = _get_offset(lay.init_size, symsec.header)
    lay.placements[symsec.index] = Placement(symsec.index, symsec.name, "init", off,
                                             symsec.sh_size, "init_data")
    syms = info.syms
    nsrc = len(syms)
    core = is_core_symbol(syms, info, lay, kallsyms_all)
    if nsrc:
        core[0] = True
    name_len = _name_lengths(info.strtab, syms["st_name"])
    ndst = int(core.sum())
    strtab_size = int((name_len[core] + 1).sum()) & U32
    symoffs = align_u32(lay.core_size, symsec.sh_addralign or 1)
    stroffs = (symoffs + ndst * sym_size) & U32
    core_typeoffs = (stroffs + strtab_size) & U32
    lay.core_size = lay.align((core_typeoffs + ndst) & U32)
    off, lay.init_size = _get_offset(lay.init_size, strsec.header)
    lay.placements[strsec.index] = Placement(strsec.index, strsec.name, "init", off,
                                             strsec.sh_size, "init_data")
    # struct mod_kallsyms { Elf_Sym *symtab; unsigned int num_symtab; char *strtab; char *typetab; }
    mks = mod_kallsyms_size or 4 * word
    lay.init_size = align_u32(lay.init_size, word)     # __alignof__(struct mod_kallsyms)
    mod_kallsyms_init_off = lay.init_size
    lay.init_size = (lay.init_size + mks) & U32
    init_typeoffs = lay.init_size
    lay.init_size = lay.align((lay.init_size + nsrc) & U32)
    lay.symtab = dict(symoffs=symoffs, stroffs=stroffs, core_typeoffs=core_typeoffs, ndst=ndst,
                      mod_kallsyms_init_off=mod_kallsyms_init_off, init_typeoffs=init_typeoffs,
                      nsrc=nsrc, sym_size=sym_size, strtab_size=strtab_size, mod_kallsyms_size=mks)
    return lay


def _name_lengths(strtab: bytes, st_name: np.ndarray) -> np.ndarray:
    """strlen(strtab + st_name) for every symbol, without a Python loop."""
    if not len(st_name):
        return np.zeros(0, dtype=np.int64)
    tab = np.frombuffer(strtab + b"\0", dtype=np.uint8)
    nuls = np.flatnonzero(tab == 0)
    start = np.minimum(st_name.astype(np.int64), len(tab) - 1)
    return nuls[np.searchsorted(nuls, start)] - start


def zeroed(size: int) -> bytearray | mmap.mmap:
    """``size`` zero bytes, as ``move_module``'s memset leaves an allocation: a bytearray,
    or from :data:`LAZY_BUFFER` on an anonymous mapping whose pages cost nothing until
    written (slices, slice assignment, ``len`` and the buffer protocol work on both)."""
    if size >= LAZY_BUFFER:
        # private: pages read before written are the shared zero page (a shared anonymous
        # mapping, mmap's default, backs each page read)
        if hasattr(mmap, "MAP_PRIVATE"):
            return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        return mmap.mmap(-1, size)      # Windows: an anonymous mapping is private already
    return bytearray(size)


@dataclass
class Image:
    """The module's memory: the core and init allocations and where each section went.

    ``core`` and ``init`` are bytearrays, or for an allocation of :data:`LAZY_BUFFER` or
    more an anonymous ``mmap`` (see :func:`zeroed`)."""

    core: bytearray | mmap.mmap
    init: bytearray | mmap.mmap
    core_addr: int
    init_addr: int | None
    sections: dict[int, tuple[str, int, int]]   # section index -> (alloc name, offset, address)
    layout: Layout

    def buffer(self, alloc: str) -> bytearray | mmap.mmap:
        return self.core if alloc == "core" else self.init

    def base(self, alloc: str) -> int | None:
        return self.core_addr if alloc == "core" else self.init_addr

    def section_bytes(self, index: int) -> bytes:
        alloc, off, _ = self.sections[index]
        size = self.layout.placements[index].size
        return bytes(self.buffer(alloc)[off:off + size])

    def address_of(self, index: int) -> int:
        return self.sections[index][2]

    def locate(self, addr: int) -> tuple[bytearray | mmap.mmap, int] | tuple[None, None]:
        """``(buffer, offset)`` holding the address ``addr``, or ``(None, None)``."""
        for alloc, buf in (("core", self.core), ("init", self.init)):
            base = self.base(alloc)
            if base is not None and base <= addr < base + len(buf):
                return buf, addr - base
        return None, None

    def read(self, addr: int, size: int) -> bytes | None:
        buf, off = self.locate(addr)
        return bytes(buf[off:off + size]) if buf is not None and off is not None else None

    def read_cstring(self, addr: int, limit: int = 4096) -> str | None:
        buf, off = self.locate(addr)
        if buf is None or off is None:
            return None
        raw = bytes(buf[off:off + limit])
        return raw.split(b"\0", 1)[0].decode("latin-1")


class HasElf(Protocol):
    """What :func:`move_module` reads of its ``info``: a ``LoadInfo``, or any holder of
    the file (the hobby loader and the stepper pass just that)."""

    @property
    def elf(self) -> ElfFile: ...


def move_module(info: HasElf, lay: Layout, kernel: LinkKernel, name: str) -> Image:
    """Allocate core (and init if non-empty), zero them, copy every SHF_ALLOC section in.

    An allocation ``module_alloc`` refuses is ENOMEM (the area's own messages, if any, are in
    the log). A layout whose copies would run past an allocation or over one another (sizes
    that wrapped at 4 GiB, an alignment of 2**32) is refused with a ``kmodsim:`` line before
    anything is copied: see :func:`check_copies`."""
    area = kernel.module_area
    core = area.alloc(lay.core_size, f"{name} core") if area is not None else None
    if area is not None and core is None:
        raise KmodError(f"{name}: cannot allocate {lay.core_size} bytes of module memory",
                        errno.ENOMEM)
    init = None
    if lay.init_size:
        init = area.alloc(lay.init_size, f"{name} init") if area is not None else None
        if area is not None and init is None:
            area.free(core.start)  # type: ignore[union-attr]  # allocated, or refused above
            raise KmodError(f"{name}: cannot allocate {lay.init_size} bytes of module memory",
                            errno.ENOMEM)
    problem = check_copies(info, lay)
    if problem is not None:
        if area is not None:
            area.free(core.start)  # type: ignore[union-attr]
            if init is not None:
                area.free(init.start)
        raise KmodError(f"kmodsim: {name}: {problem}", errno.ENOEXEC)
    core_addr = core.start if core is not None else 0
    init_addr = init.start if init is not None else (None if not lay.init_size else core_addr + lay.core_size)
    img = Image(zeroed(lay.core_size), zeroed(lay.init_size), core_addr, init_addr, {}, lay)
    data = info.elf.data
    for idx, p in lay.placements.items():
        s = info.elf.sections[idx]
        buf = img.buffer(p.alloc)
        if s.sh_type != SHT.SHT_NOBITS:
            raw = data[s.sh_offset:s.sh_offset + s.sh_size]
            buf[p.offset:p.offset + len(raw)] = raw   # inside: check_copies said so
        # an init that wrapped to 0 bytes has no allocation: the kernel's base is NULL
        base = img.base(p.alloc)
        img.sections[idx] = (p.alloc, p.offset, (base or 0) + p.offset)
    return img


def check_copies(info: HasElf, lay: Layout) -> str | None:
    """What the kernel's ``move_module`` (the ``memcpy`` of each section that is not NOBITS)
    and ``add_kallsyms`` (the symbol tables, ``struct mod_kallsyms``, the type bytes) would
    write out of place, or None. A normal layout never does; one whose 32-bit sizes wrapped,
    or a section aligned to 2**32 (placed at offset 0), makes the kernel copy past the end
    of its allocation (an oops in ``memcpy``: tests/realkernel/bigsec1, ``bssalign``) or over
    its own ``struct module`` (bigsec2), where kmodsim refuses instead (ENOEXEC)."""
    sizes = {"core": lay.core_size, "init": lay.init_size}
    writes: dict[str, list[tuple[int, int, str]]] = {"core": [], "init": []}
    sections = info.elf.sections
    for idx, p in lay.placements.items():
        s = sections[idx]
        if s.sh_type != SHT.SHT_NOBITS and s.sh_size:
            writes[p.alloc].append((p.offset, p.offset + s.sh_size, f"section {s.name} (index {idx})"))
    st = lay.symtab
    if st:
        core_len = st["ndst"] * (st["sym_size"] + 1) + st["strtab_size"]
        if core_len:
            writes["core"].append((st["symoffs"], st["symoffs"] + core_len,
                                   "the core symbol table add_kallsyms copies"))
        writes["init"].append((st["mod_kallsyms_init_off"],
                               st["mod_kallsyms_init_off"] + st["mod_kallsyms_size"],
                               "struct mod_kallsyms"))
        if st["nsrc"]:
            writes["init"].append((st["init_typeoffs"], st["init_typeoffs"] + st["nsrc"],
                                   "the symbol type bytes"))
    for alloc, spans in writes.items():
        size = sizes[alloc]
        spans.sort()
        for lo, hi, what in spans:
            if hi > size:
                return (f"{what} is placed at {alloc}+{lo:#x}..{hi:#x}, past the end of the "
                        f"{size:#x}-byte {alloc} allocation (the layout's 32-bit sizes wrapped "
                        f"or an alignment was cut to 0): the kernel's copy would run off it")
        for (lo, hi, what), (lo2, hi2, what2) in zip(spans, spans[1:]):
            if lo2 < hi:
                return (f"{what2} is placed at {alloc}+{lo2:#x}, inside {what} "
                        f"({alloc}+{lo:#x}..{hi:#x}; the layout's 32-bit sizes wrapped or an "
                        f"alignment was cut to 0): the kernel would copy one over the other")
    return None


def warn_percpu_alignment(kernel: LinkKernel, mod_name: str | None, align: int, page: int,
                          bits: int = 64) -> None:
    # %li of an unsigned long: from 2**(bits-1) on it prints negative
    shown = align - (1 << bits) if align >= 1 << (bits - 1) else align
    kernel.printk(LOGLEVEL_WARNING, f"{mod_name}: per-cpu alignment {shown} > {page}")
