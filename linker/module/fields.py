"""Reading pointer fields of an unrelocated object.

In a relocatable module a pointer field (``kernel_param.name``, ``kernel_symbol.name_offset``,
``this_module.init``) holds zero, or for REL an implicit addend; what it points at is said by
the relocation aimed at that field. This module answers "what does the field at this offset
refer to" as *symbol + addend*, which is what a reader of metadata needs. Nothing is written:
applying relocations is the linker's job (``linker/reloc``), not the reader's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..elf.constants import SHN, STT
from ..elf.reader import cstring_at

if TYPE_CHECKING:
    from ..elf.reader import ElfFile, Section, Symbol


@dataclass(frozen=True)
class FieldRef:
    """Where a field points before linking: ``symbol`` (a Symbol) plus ``addend``."""

    symbol: Symbol
    addend: int
    rel_type: int

    @property
    def shndx(self) -> int:
        return self.symbol.shndx

    @property
    def section_offset(self) -> int:
        """Offset inside the symbol's section (for a defined symbol)."""
        return self.symbol.st_value + self.addend

    @property
    def is_undefined(self) -> bool:
        return self.symbol.shndx == SHN.SHN_UNDEF

    def describe(self, elf: ElfFile) -> str:
        """``name`` or ``name+0x10``; section symbols are named by their section."""
        sym = self.symbol
        if sym.type == STT.STT_SECTION and 0 < sym.shndx < len(elf.sections):
            named = symbol_at(elf, sym.shndx, self.section_offset)
            if named is not None:
                return named.name
            return f"{elf.sections[sym.shndx].name}{self.addend:+#x}" if self.addend else \
                elf.sections[sym.shndx].name
        return sym.name if self.addend == 0 else f"{sym.name}{self.addend:+#x}"


class FieldMap:
    """Relocations aimed at one section, indexed by the offset they patch."""

    def __init__(self, elf: ElfFile, section: Section | None) -> None:
        self.elf = elf
        self.section = section
        self._by_offset: dict[int, FieldRef] = {}
        if section is None:
            return
        symbols = elf.symbols
        for rsec in elf.relocation_sections:
            if rsec.target_index != section.index:
                continue
            for rel in rsec.entries:
                if rel.sym >= len(symbols):
                    continue
                addend = rel.addend
                if addend is None:  # REL: the addend is the field's current contents
                    addend = self._implicit_addend(rel.r_offset)
                self._by_offset[rel.r_offset] = FieldRef(symbols[rel.sym], addend, rel.type)

    def _implicit_addend(self, offset: int) -> int:
        assert self.section is not None   # only called while reading the section's relocations
        data = self.section.data
        layout = self.elf.layout
        if offset + 4 > len(data):
            return 0
        return layout.s32.unpack_from(data, offset)[0]

    def get(self, offset: int) -> FieldRef | None:
        return self._by_offset.get(offset)

    def __len__(self) -> int:
        return len(self._by_offset)

    def items(self) -> list[tuple[int, FieldRef]]:
        """``(offset, FieldRef)`` pairs in offset order."""
        return sorted(self._by_offset.items())


def field_map(elf: ElfFile, section: Section | None) -> FieldMap:
    """The :class:`FieldMap` of ``section``, built once per file."""
    cache: dict[int | None, FieldMap] = elf.__dict__.setdefault("_field_maps", {})
    key = section.index if section is not None else None
    if key not in cache:
        cache[key] = FieldMap(elf, section)
    return cache[key]


def string_at(elf: ElfFile, ref: FieldRef | None) -> str | None:
    """The NUL-terminated string a :class:`FieldRef` points at, or ``None``."""
    if ref is None or not 0 < ref.shndx < len(elf.sections):
        return None
    # bytes: the readers of metadata (ModuleInfo) give ElfFile bytes, never a memoryview
    data = elf.sections[ref.shndx].data
    off = ref.section_offset
    if not 0 <= off < len(data):
        return None
    return cstring_at(data, off).decode("latin-1")  # type: ignore[arg-type]


def symbol_at(elf: ElfFile, shndx: int, offset: int,
              aliases: tuple[str, ...] = ("init_module", "cleanup_module")) -> Symbol | None:
    """The defined symbol of section ``shndx`` starting at ``offset``.

    Functions win over other types, and a real name over the ``aliases`` that
    ``module_init``/``module_exit`` create, so ``init_module`` reads as ``my_init``.
    """
    def rank(sym: Symbol) -> tuple[bool, bool]:
        return (sym.type == STT.STT_FUNC, sym.name not in aliases)

    # the symbols by (section, value), built once per file: a descriptor or __param with a
    # relocation per field would otherwise cost fields x symbols
    index: dict[tuple[int, int], list[Symbol]] | None = elf.__dict__.get("_symbols_at")
    if index is None:
        index = elf.__dict__["_symbols_at"] = {}
        for sym in elf.symbols:
            if sym.type not in (STT.STT_SECTION, STT.STT_FILE):
                index.setdefault((sym.shndx, sym.st_value), []).append(sym)
    best = None
    for sym in index.get((shndx, offset), ()):
        if best is None or rank(sym) > rank(best):
            best = sym
    return best
