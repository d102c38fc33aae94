"""Everything a module says about itself, gathered from one file, read lazily.

``ModuleInfo`` is the reader's answer to "what is this module": its ``.modinfo`` keys in order,
the symbol versions it expects, the symbols it exports and imports, its parameters, its
descriptor and its signature. It links nothing.
"""

from __future__ import annotations

from functools import cached_property
from os import PathLike
from pathlib import Path

from ..elf import ElfFile
from ..elf.constants import SHN, STB, STT
from ..elf.reader import Symbol
from ..elf.records import BytesLike
from .descriptor import DescriptorFormat, ModuleDescriptor, parse_descriptor
from .ksymtab import ExportedSymbol, parse_exports
from .modinfo import get_modinfo, modinfo_entries
from .params import ParamInfo, parse_params
from .signature import ModuleSignature, read_signature
from .versions import ModVersion, parse_versions


class ModuleInfo:
    """A module file's metadata. ``data`` is the whole file, signature included."""

    def __init__(self, data: BytesLike, path: str | None = None,
                 descriptor_format: DescriptorFormat | None = None) -> None:
        self.data = bytes(data)
        self.path = path
        self._descriptor_format = descriptor_format
        sig = self.signature
        # the ELF image ends where the signature begins (kmod and the kernel both cut it)
        self.elf = ElfFile(self.data[:sig.elf_len] if sig is not None else self.data)

    @classmethod
    def from_path(cls, path: str | PathLike[str],
                  descriptor_format: DescriptorFormat | None = None) -> ModuleInfo:
        path = Path(path)
        return cls(path.read_bytes(), path=str(path), descriptor_format=descriptor_format)

    @cached_property
    def signature(self) -> ModuleSignature | None:
        return read_signature(self.data)

    @cached_property
    def modinfo(self) -> list[tuple[str, str]]:
        """``[(key, value), ...]`` from ``.modinfo``, every entry in file order."""
        sec = self.elf.section_by_name(".modinfo")
        return modinfo_entries(sec.data) if sec is not None else []

    def get(self, key: str) -> str | None:
        return get_modinfo(self.modinfo, key)

    @cached_property
    def name(self) -> str | None:
        return self.get("name") or (self.descriptor.name if self.descriptor else None)

    @cached_property
    def versions(self) -> list[ModVersion]:
        sec = self.elf.section_by_name("__versions")
        return parse_versions(sec.data, self.elf.layout) if sec is not None else []

    @cached_property
    def exports(self) -> list[ExportedSymbol]:
        return parse_exports(self.elf)

    @cached_property
    def params(self) -> list[ParamInfo]:
        return parse_params(self.elf)

    @cached_property
    def descriptor(self) -> ModuleDescriptor | None:
        return parse_descriptor(self.elf, self._descriptor_format)

    @cached_property
    def undefined_symbols(self) -> list[str]:
        """Names the module needs from the kernel or other modules (what depmod reads)."""
        return [s.name for s in self.elf.symbols[1:]
                if s.shndx == SHN.SHN_UNDEF and s.name and s.bind != STB.STB_LOCAL]

    @cached_property
    def common_symbols(self) -> list[Symbol]:
        return [s for s in self.elf.symbols if s.shndx == SHN.SHN_COMMON]

    @cached_property
    def functions(self) -> list[Symbol]:
        return [s for s in self.elf.symbols if s.type == STT.STT_FUNC and s.shndx != SHN.SHN_UNDEF]
