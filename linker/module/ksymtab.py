"""Symbols a module exports: ``__ksymtab``, ``__ksymtab_gpl``, their CRCs and strings.

On x86-64 (``CONFIG_HAVE_ARCH_PREL32_RELOCATIONS``) a ``struct kernel_symbol`` is three
place-relative ``int``s, ``value_offset``, ``name_offset`` and ``namespace_offset``, each
filled by an ``R_X86_64_PC32`` relocation (``.long sym - .``). Elsewhere (i386) it is three
absolute pointers. Either way each field's relocation names symbol + addend, which is all a
reader needs: the value is that symbol, the name and namespace are strings in
``__ksymtab_strings``. CRCs sit at the same index in ``__kcrctab``/``__kcrctab_gpl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .fields import field_map, string_at

if TYPE_CHECKING:
    from ..elf.reader import ElfFile, Section
    from ..elf.records import RecordLayout

KSYMTAB_SECTIONS = (("__ksymtab", "__kcrctab", False), ("__ksymtab_gpl", "__kcrctab_gpl", True))


@dataclass(frozen=True)
class ExportedSymbol:
    name: str
    # the module symbol the entry's value refers to; after linking (``module_exports``),
    # the address it was relocated to
    symbol: str | int
    gpl_only: bool
    namespace: str       # "" when none
    crc: int | None      # None without modversions


def kernel_symbol_size(layout: RecordLayout) -> int:
    """12 bytes with PREL32 (64-bit x86) or three pointers (12 bytes on 32-bit)."""
    return 12 if layout.bits == 64 else 3 * layout.word_size


def parse_exports(elf: ElfFile) -> list[ExportedSymbol]:
    out = []
    size = kernel_symbol_size(elf.layout)
    field = 4 if elf.layout.bits == 64 else elf.layout.word_size
    for tab_name, crc_name, gpl in KSYMTAB_SECTIONS:
        tab = elf.section_by_name(tab_name)
        if tab is None:
            continue
        fields = field_map(elf, tab)
        crcs = _crcs(elf, elf.section_by_name(crc_name))
        # the entries the file holds (a NOBITS table has none, whatever its sh_size says)
        for i, off in enumerate(range(0, len(tab.data) - size + 1, size)):
            value, name, ns = (fields.get(off + k * field) for k in range(3))
            sym_name = value.symbol.name if value is not None else None
            out.append(ExportedSymbol(
                name=string_at(elf, name) or sym_name or "",
                symbol=sym_name or "",
                gpl_only=gpl,
                namespace=string_at(elf, ns) or "",
                crc=crcs[i] if i < len(crcs) else None))
    return out


def _crcs(elf: ElfFile, section: Section | None) -> list[int]:
    if section is None:
        return []
    data = section.data
    u32 = elf.layout.u32
    return [u32.unpack_from(data, off)[0] for off in range(0, len(data) - 3, 4)]
