"""The ELF reader: ELF32 and ELF64, either byte order, relocatable objects first.

``ElfFile(data)`` checks the structure up front (the kernel's ``elf_validity_check`` in the
file's own class, plus extended section numbering) and then reads everything else lazily:
a modinfo over thousands of modules touches only the section headers and two sections.

Every offset and count is checked against the file before it is used, so corrupt input ends
in an :class:`~linker.errors.ElfError` (ENOEXEC) with a one-line message, never an
exception from deep inside, a hang, or an allocation larger than the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from os import PathLike

from ..errors import ElfError
from . import validate
from .constants import EI_CLASS, EI_DATA, EI_NIDENT, ELFMAG, SHF, SHN, SHT, ElfClass, ElfData
from .records import BytesLike, Ehdr, RecordLayout, Shdr, Sym, st_bind, st_type, st_visibility


# The longest name (of a section or a symbol) the reader makes a str of, in bytes. A name
# runs to its NUL, so a crafted string table can give each of 65535 sections, or each
# symbol, the same megabyte of name; the kernel only strcmp()s names (and printk cuts a line
# at 1024 bytes). A longer name is cut there. The Debian corpus's longest: 37 and 89 bytes.
MAX_NAME = 1024


def cstring_at(table: bytes, offset: int, limit: int = MAX_NAME) -> bytes:
    """The NUL-terminated string at ``offset`` of ``table``, at most ``limit`` bytes of it
    (``table`` is bytes: its ``find`` stops looking ``limit`` bytes on)."""
    end = table.find(b"\0", offset, offset + limit)
    return table[offset:end if end >= 0 else min(len(table), offset + limit)]


class Section:
    """One section header with its name resolved; ``data`` is read on demand.

    The header's fields are also attributes (``s.sh_type``, ``s.sh_flags``...).
    """

    __slots__ = ("elf", "index", "name", "header", "sh_name", "sh_type", "sh_flags", "sh_addr",
                 "sh_offset", "sh_size", "sh_link", "sh_info", "sh_addralign", "sh_entsize")

    def __init__(self, elf: ElfFile, index: int, name: str, header: Shdr) -> None:
        self.elf = elf
        self.index = index
        self.name = name
        self.header = header
        (self.sh_name, self.sh_type, self.sh_flags, self.sh_addr, self.sh_offset, self.sh_size,
         self.sh_link, self.sh_info, self.sh_addralign, self.sh_entsize) = header

    @property
    def is_alloc(self) -> bool:
        return bool(self.header.sh_flags & SHF.SHF_ALLOC)

    @property
    def file_size(self) -> int:
        """Bytes the section occupies in the file (0 for SHT_NOBITS)."""
        return 0 if self.header.sh_type == SHT.SHT_NOBITS else self.header.sh_size

    @property
    def data(self) -> bytes | memoryview:
        if self.header.sh_type == SHT.SHT_NOBITS or self.header.sh_type == SHT.SHT_NULL:
            return b""
        start = self.header.sh_offset
        return self.elf.data[start:start + self.header.sh_size]

    def __repr__(self) -> str:
        return f"<Section [{self.index}] {self.name!r} type={self.header.sh_type} size={self.header.sh_size:#x}>"


class Symbol:
    """One ``.symtab`` entry with its name and its real section index."""

    __slots__ = ("index", "name", "st_name", "st_value", "st_size", "st_info", "st_other",
                 "st_shndx", "shndx")

    def __init__(self, index: int, name: str, sym: Sym, shndx: int) -> None:
        self.index = index
        self.name = name
        self.st_name, self.st_value, self.st_size, self.st_info, self.st_other, self.st_shndx = sym
        # st_shndx, or the SHT_SYMTAB_SHNDX entry when st_shndx is SHN_XINDEX
        self.shndx = shndx

    @property
    def bind(self) -> int:
        return st_bind(self.st_info)

    @property
    def type(self) -> int:
        return st_type(self.st_info)

    @property
    def visibility(self) -> int:
        return st_visibility(self.st_other)

    @property
    def is_undefined(self) -> bool:
        return self.shndx == SHN.SHN_UNDEF

    def __repr__(self) -> str:
        return f"<Symbol [{self.index}] {self.name!r} value={self.st_value:#x} shndx={self.shndx}>"


class Relocation:
    """One REL or RELA entry; ``addend`` is ``None`` for REL (it lives in the field)."""

    __slots__ = ("index", "r_offset", "r_info", "sym", "type", "addend")

    def __init__(self, index: int, r_offset: int, r_info: int, sym: int, typ: int,
                 addend: int | None) -> None:
        self.index = index
        self.r_offset = r_offset
        self.r_info = r_info
        self.sym = sym
        self.type = typ
        self.addend = addend

    def __repr__(self) -> str:
        return (f"<Relocation off={self.r_offset:#x} type={self.type} sym={self.sym}"
                f" addend={self.addend}>")


class RelocationSection:
    """A ``SHT_REL``/``SHT_RELA`` section with the section it patches and its entries."""

    def __init__(self, elf: ElfFile, section: Section) -> None:
        self.elf = elf
        self.section = section
        self.is_rela = section.sh_type == SHT.SHT_RELA

    @property
    def name(self) -> str:
        return self.section.name

    @property
    def target_index(self) -> int:
        return self.section.sh_info

    @property
    def target(self) -> Section | None:
        """The section patched, or ``None`` when ``sh_info`` is out of range (the kernel skips it)."""
        idx = self.section.sh_info
        return self.elf.sections[idx] if 0 < idx < len(self.elf.sections) else None

    @property
    def symtab_index(self) -> int:
        return self.section.sh_link

    @cached_property
    def entries(self) -> list[Relocation]:
        layout = self.elf.layout
        rec = layout.rela if self.is_rela else layout.rel
        data = self.section.data
        usable = len(data) - len(data) % rec.size
        r_sym, r_type = layout.r_sym, layout.r_type
        out = []
        for i, t in enumerate(rec.iter_unpack(data[:usable])):
            info = t[1]
            out.append(Relocation(i, t[0], info, r_sym(info), r_type(info),
                                  t[2] if self.is_rela else None))
        return out

    def __len__(self) -> int:
        return self.section.sh_size // (self.elf.layout.rela if self.is_rela else self.elf.layout.rel).size

    def __iter__(self) -> Iterator[Relocation]:
        return iter(self.entries)


class SectionGroup:
    """A ``SHT_GROUP`` section: its flag word, signature symbol and member indexes."""

    def __init__(self, elf: ElfFile, section: Section) -> None:
        self.elf = elf
        self.section = section
        words = [elf.layout.u32.unpack_from(section.data, off)[0]
                 for off in range(0, section.sh_size - section.sh_size % 4, 4)]
        self.flags = words[0] if words else 0
        self.members = words[1:]

    @property
    def signature(self) -> str | None:
        """The group's signature: the name of symbol ``sh_info`` of table ``sh_link``."""
        elf = self.elf
        link = self.section.sh_link
        if not 0 < link < len(elf.sections):
            return None
        syms = elf.symbols_of(elf.sections[link])
        idx = self.section.sh_info
        return syms[idx].name if idx < len(syms) else None


class ElfFile:
    """A parsed ELF object. ``data`` is any bytes-like object holding the whole file."""

    def __init__(self, data: BytesLike,
                 checked: tuple[RecordLayout, Ehdr, list[Shdr]] | None = None) -> None:
        """``checked``: ``(layout, ehdr, shdrs)`` from a validity check that already ran over
        these very bytes in the file's own layout (the loader's), so it is not done twice."""
        # bytes, or a read-only memoryview (of an mmap, say: a .ko's debug info is most of
        # the file, and a loader never touches it)
        self.data: bytes | memoryview = (data if isinstance(data, (bytes, memoryview))
                                         else bytes(data))
        if checked is not None and checked[0] == RecordLayout.for_ident(self.data[EI_CLASS],
                                                                        self.data[EI_DATA]):
            self.layout, self.header, self._shdrs = checked
            self.shnum, self.shstrndx = len(self._shdrs), self.header.e_shstrndx
            return
        self.layout, self.header = self._read_header()
        self.shnum, self.shstrndx = self._section_counts()
        self._check_structure()

    @classmethod
    def from_path(cls, path: str | PathLike[str]) -> ElfFile:
        with open(path, "rb") as fh:
            return cls(fh.read())

    # -- structure ------------------------------------------------------------------

    def _read_header(self) -> tuple[RecordLayout, Ehdr]:
        data = self.data
        if len(data) >= EI_NIDENT and bytes(data[:4]) == ELFMAG:
            ei_class, ei_data = data[EI_CLASS], data[EI_DATA]
            if ei_class not in (ElfClass.ELFCLASS32, ElfClass.ELFCLASS64):
                raise ElfError("Invalid ELF class %u in e_ident" % ei_class)
            if ei_data not in (ElfData.ELFDATA2LSB, ElfData.ELFDATA2MSB):
                raise ElfError("Invalid ELF data encoding %u in e_ident" % ei_data)
            layout = RecordLayout.for_ident(ei_class, ei_data)
        else:
            layout = RecordLayout(64, True)
        validate.check_header_len(data, layout)
        validate.check_magic(data)
        ehdr = layout.unpack_ehdr(data)
        if ehdr.e_shoff:
            validate.check_shentsize(ehdr, layout)
        return layout, ehdr

    def _section_counts(self) -> tuple[int, int]:
        """``(shnum, shstrndx)``, following extended numbering through section 0."""
        ehdr, data, layout = self.header, self.data, self.layout
        shnum, shstrndx = ehdr.e_shnum, ehdr.e_shstrndx
        if ehdr.e_shoff == 0:
            return 0, 0
        if shnum == 0 or shstrndx == SHN.SHN_XINDEX:
            validate.check_shdr_bounds(len(data), ehdr.e_shoff, 1, layout)
            sh0 = layout.unpack_shdr(data, ehdr.e_shoff)
            if shnum == 0:
                shnum = sh0.sh_size
            if shstrndx == SHN.SHN_XINDEX:
                shstrndx = sh0.sh_link
        return shnum, shstrndx

    @property
    def extended_numbering(self) -> bool:
        """True when the counts live in section 0 (``e_shnum == 0`` or ``SHN_XINDEX``)."""
        return self.header.e_shoff != 0 and (
            self.header.e_shnum == 0 or self.header.e_shstrndx == SHN.SHN_XINDEX)

    def _check_structure(self) -> None:
        data, layout = self.data, self.layout
        if self.shnum == 0:
            self._shdrs = []
            return
        validate.check_shdr_bounds(len(data), self.header.e_shoff, self.shnum, layout)
        validate.check_shstrndx(self.shstrndx, self.shnum)
        shdrs = validate.read_shdrs(data, self.header.e_shoff, self.shnum, layout)
        strhdr = shdrs[self.shstrndx]
        validate.check_shstrtab(data, strhdr, layout)
        validate.check_section0(shdrs[0], self.extended_numbering)
        validate.check_sections(shdrs, strhdr, len(data), layout)
        self._shdrs = shdrs

    # -- sections -------------------------------------------------------------------

    @property
    def elf_class(self) -> int:
        return self.layout.bits

    @property
    def e_machine(self) -> int:
        return self.header.e_machine

    @property
    def e_type(self) -> int:
        return self.header.e_type

    @cached_property
    def shstrtab(self) -> bytes:
        if not self._shdrs:
            return b""
        h = self._shdrs[self.shstrndx]
        return bytes(self.data[h.sh_offset:h.sh_offset + h.sh_size])

    def section_name(self, sh_name: int) -> str:
        tab = self.shstrtab
        if sh_name >= len(tab):
            return "<corrupt>"
        return cstring_at(tab, sh_name).decode("latin-1")

    @cached_property
    def sections(self) -> list[Section]:
        return [Section(self, i, self.section_name(h.sh_name), h) for i, h in enumerate(self._shdrs)]

    @cached_property
    def _by_name(self) -> dict[str, Section]:
        index: dict[str, Section] = {}
        for s in self.sections:
            index.setdefault(s.name, s)
        return index

    def section_by_name(self, name: str, alloc_only: bool = False) -> Section | None:
        """The first section called ``name`` (the kernel's ``find_sec`` with ``alloc_only``)."""
        if not alloc_only:
            return self._by_name.get(name)
        for s in self.sections[1:]:
            if s.name == name and s.is_alloc:
                return s
        return None

    def sections_of_type(self, sh_type: int) -> list[Section]:
        return [s for s in self.sections if s.sh_type == sh_type]

    # -- strings and symbols --------------------------------------------------------

    def string_table(self, index: int) -> bytes:
        """The bytes of string table ``index`` (empty when the index is out of range)."""
        if not 0 < index < len(self.sections):
            return b""
        return bytes(self.sections[index].data)

    @staticmethod
    def cstring(table: bytes, offset: int) -> str | None:
        if offset >= len(table):
            return None
        return cstring_at(table, offset).decode("latin-1")

    @cached_property
    def symtab(self) -> Section | None:
        """The first ``SHT_SYMTAB`` section, as the kernel's ``setup_load_info`` picks it."""
        for s in self.sections:
            if s.sh_type == SHT.SHT_SYMTAB:
                return s
        return None

    @cached_property
    def symbols(self) -> list[Symbol]:
        return self.symbols_of(self.symtab) if self.symtab is not None else []

    def symbols_of(self, symtab: Section) -> list[Symbol]:
        cache: dict[int, list[Symbol]] = self.__dict__.setdefault("_symcache", {})
        if symtab.index in cache:
            return cache[symtab.index]
        layout = self.layout
        data = symtab.data
        usable = len(data) - len(data) % layout.sym.size
        strtab = self.string_table(symtab.sh_link)
        shndx_table = self._shndx_table(symtab.index)
        out = []
        for i, sym in enumerate(layout.iter_syms(data[:usable])):
            name = self.cstring(strtab, sym.st_name)
            shndx = sym.st_shndx
            if shndx == SHN.SHN_XINDEX and shndx_table is not None:
                shndx = shndx_table[i] if i < len(shndx_table) else 0
            out.append(Symbol(i, "<corrupt>" if name is None else name, sym, shndx))
        cache[symtab.index] = out
        return out

    def _shndx_table(self, symtab_index: int) -> list[int] | None:
        for s in self.sections:
            if s.sh_type == SHT.SHT_SYMTAB_SHNDX and s.sh_link == symtab_index:
                d = s.data
                u32 = self.layout.u32
                return [u32.unpack_from(d, o)[0] for o in range(0, len(d) - len(d) % 4, 4)]
        return None

    # -- relocations and groups -----------------------------------------------------

    @cached_property
    def relocation_sections(self) -> list[RelocationSection]:
        return [RelocationSection(self, s) for s in self.sections
                if s.sh_type in (SHT.SHT_REL, SHT.SHT_RELA)]

    @cached_property
    def groups(self) -> list[SectionGroup]:
        return [SectionGroup(self, s) for s in self.sections if s.sh_type == SHT.SHT_GROUP]

    def read_addr(self, offset: int) -> int:
        return self.layout.addr.unpack_from(self.data, offset)[0]

    def __repr__(self) -> str:
        return f"<ElfFile ELF{self.layout.bits} machine={self.e_machine} sections={self.shnum}>"
