"""ELF reading, written from scratch: records, constants, the reader and the kernel's checks."""

from .reader import ElfFile, Relocation, RelocationSection, Section, SectionGroup, Symbol

__all__ = ["ElfFile", "Relocation", "RelocationSection", "Section", "SectionGroup", "Symbol"]
