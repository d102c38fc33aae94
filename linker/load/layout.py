"""``layout_sections``, ``layout_symtab`` and ``move_module`` of Linux 6.1.

Sections are placed, in section-index order within each pass, by the kernel's mask table:
text, read-only data, ro-after-init data, writable data, leftovers; first for the core
allocation, then for init (names starting ``.init``). Each group ends page-aligned
(``strict_align``: CONFIG_STRICT_MODULE_RWX). ``layout_symtab`` then reserves the core
kallsyms copy (core symbols, their names and type bytes) at the end of core, and puts the
full symbol and string tables plus ``struct mod_kallsyms`` and the type bytes in init.
x86-64 keeps data in the core allocation (``data_layout`` is ``core_layout`` in 6.1).
"""

from __future__ import annotations

import errno
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
        return -(-size // self.page_size) * self.page_size


def module_init_layout_section(name: str, unload: bool = True) -> bool:
    # module_init_section(): ".init" prefix; ".exit" only when unloading is compiled out
    return name.startswith(".init") or (not unload and name.startswith(".exit"))


def _get_offset(size: int, sh: Shdr) -> tuple[int, int]:
    align = sh.sh_addralign or 1
    off = -(-size // align) * align
    return off, off + sh.sh_size


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
    strtab_size = int((name_len[core] + 1).sum())
    align = symsec.sh_addralign or 1
    symoffs = -(-lay.core_size // align) * align
    stroffs = symoffs + ndst * sym_size
    core_typeoffs = stroffs + strtab_size
    lay.core_size = lay.align(core_typeoffs + ndst)
    off, lay.init_size = _get_offset(lay.init_size, strsec.header)
    lay.placements[strsec.index] = Placement(strsec.index, strsec.name, "init", off,
                                             strsec.sh_size, "init_data")
    # struct mod_kallsyms { Elf_Sym *symtab; unsigned int num_symtab; char *strtab; char *typetab; }
    mks = mod_kallsyms_size or 4 * word
    kalign = word
    lay.init_size = -(-lay.init_size // kalign) * kalign
    mod_kallsyms_init_off = lay.init_size
    lay.init_size += mks
    init_typeoffs = lay.init_size
    lay.init_size = lay.align(lay.init_size + nsrc)
    lay.symtab = dict(symoffs=symoffs, stroffs=stroffs, core_typeoffs=core_typeoffs, ndst=ndst,
                      mod_kallsyms_init_off=mod_kallsyms_init_off, init_typeoffs=init_typeoffs)
    return lay


def _name_lengths(strtab: bytes, st_name: np.ndarray) -> np.ndarray:
    """strlen(strtab + st_name) for every symbol, without a Python loop."""
    if not len(st_name):
        return np.zeros(0, dtype=np.int64)
    tab = np.frombuffer(strtab + b"\0", dtype=np.uint8)
    nuls = np.flatnonzero(tab == 0)
    start = np.minimum(st_name.astype(np.int64), len(tab) - 1)
    return nuls[np.searchsorted(nuls, start)] - start


@dataclass
class Image:
    """The module's memory: the core and init allocations and where each section went."""

    core: bytearray
    init: bytearray
    core_addr: int
    init_addr: int | None
    sections: dict[int, tuple[str, int, int]]   # section index -> (alloc name, offset, address)
    layout: Layout

    def buffer(self, alloc: str) -> bytearray:
        return self.core if alloc == "core" else self.init

    def base(self, alloc: str) -> int | None:
        return self.core_addr if alloc == "core" else self.init_addr

    def section_bytes(self, index: int) -> bytes:
        alloc, off, _ = self.sections[index]
        size = self.layout.placements[index].size
        return bytes(self.buffer(alloc)[off:off + size])

    def address_of(self, index: int) -> int:
        return self.sections[index][2]

    def locate(self, addr: int) -> tuple[bytearray, int] | tuple[None, None]:
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
    """Allocate core (and init if non-empty), zero them, copy every SHF_ALLOC section in."""
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
    core_addr = core.start if core is not None else 0
    init_addr = init.start if init is not None else (None if not lay.init_size else core_addr + lay.core_size)
    img = Image(bytearray(lay.core_size), bytearray(lay.init_size), core_addr, init_addr, {}, lay)
    data = info.elf.data
    for idx, p in lay.placements.items():
        s = info.elf.sections[idx]
        buf = img.buffer(p.alloc)
        if s.sh_type != SHT.SHT_NOBITS:
            buf[p.offset:p.offset + s.sh_size] = data[s.sh_offset:s.sh_offset + s.sh_size]
        # a section placed in init means init_size > 0, so init has an address
        img.sections[idx] = (p.alloc, p.offset, img.base(p.alloc) + p.offset)  # type: ignore[operator]
    return img


def warn_percpu_alignment(kernel: LinkKernel, mod_name: str | None, align: int, page: int) -> None:
    kernel.printk(LOGLEVEL_WARNING, f"{mod_name}: per-cpu alignment {align} > {page}")
