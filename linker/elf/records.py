"""On-disk ELF records, each declared once with the spec's field names.

The 32- and 64-bit forms sit side by side; a :class:`RecordLayout` picks the right
``struct`` formats for one (class, byte order) pair.
"""

from __future__ import annotations

import struct
from typing import NamedTuple, TypeAlias

from .constants import ElfClass, ElfData

# A file's contents as the reader and the checks take them: bytes, or a (read-only)
# memoryview of an mmap, or a bytearray being patched
BytesLike: TypeAlias = "bytes | bytearray | memoryview"


class Ehdr(NamedTuple):
    e_ident: bytes
    e_type: int
    e_machine: int
    e_version: int
    e_entry: int
    e_phoff: int
    e_shoff: int
    e_flags: int
    e_ehsize: int
    e_phentsize: int
    e_phnum: int
    e_shentsize: int
    e_shnum: int
    e_shstrndx: int


class Shdr(NamedTuple):
    sh_name: int
    sh_type: int
    sh_flags: int
    sh_addr: int
    sh_offset: int
    sh_size: int
    sh_link: int
    sh_info: int
    sh_addralign: int
    sh_entsize: int


class Sym(NamedTuple):
    st_name: int
    st_value: int
    st_size: int
    st_info: int
    st_other: int
    st_shndx: int


class Rel(NamedTuple):
    r_offset: int
    r_info: int


class Rela(NamedTuple):
    r_offset: int
    r_info: int
    r_addend: int


# (format without byte-order prefix, field order as stored)
_EHDR = {32: "16sHHIIIIIHHHHHH", 64: "16sHHIQQQIHHHHHH"}
_SHDR = {32: "IIIIIIIIII", 64: "IIQQQQIIQQ"}
# Elf32_Sym: name value size info other shndx; Elf64_Sym: name info other shndx value size
_SYM = {32: "IIIBBH", 64: "IBBHQQ"}
_REL = {32: "II", 64: "QQ"}
_RELA = {32: "IIi", 64: "QQq"}


class RecordLayout:
    """Record formats and helpers for one ELF class and byte order.

    (Not :class:`linker.load.layout.Layout`, which is where the loader puts sections.)
    """

    def __init__(self, bits: int, little: bool = True) -> None:
        if bits not in (32, 64):
            raise ValueError("bits must be 32 or 64")
        self.bits = bits
        self.little = little
        order = "<" if little else ">"
        self.order = order
        self.ehdr = struct.Struct(order + _EHDR[bits])
        self.shdr = struct.Struct(order + _SHDR[bits])
        self.sym = struct.Struct(order + _SYM[bits])
        self.rel = struct.Struct(order + _REL[bits])
        self.rela = struct.Struct(order + _RELA[bits])
        self.addr = struct.Struct(order + ("I" if bits == 32 else "Q"))
        self.u16 = struct.Struct(order + "H")
        self.u32 = struct.Struct(order + "I")
        self.s32 = struct.Struct(order + "i")
        self.u64 = struct.Struct(order + "Q")
        self.word_size = bits // 8
        self.addr_mask = (1 << bits) - 1

    @classmethod
    def for_ident(cls, ei_class: int, ei_data: int) -> RecordLayout:
        return cls(32 if ei_class == ElfClass.ELFCLASS32 else 64,
                   ei_data != ElfData.ELFDATA2MSB)

    def __repr__(self) -> str:
        return f"RecordLayout({self.bits}, {'LSB' if self.little else 'MSB'})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, RecordLayout)
                and (self.bits, self.little) == (other.bits, other.little))

    def __hash__(self) -> int:
        return hash((self.bits, self.little))

    def unpack_ehdr(self, data: BytesLike, offset: int = 0) -> Ehdr:
        return Ehdr._make(self.ehdr.unpack_from(data, offset))

    def unpack_shdr(self, data: BytesLike, offset: int) -> Shdr:
        return Shdr._make(self.shdr.unpack_from(data, offset))

    def unpack_sym(self, data: BytesLike, offset: int) -> Sym:
        if self.bits == 32:
            return Sym._make(self.sym.unpack_from(data, offset))
        name, info, other, shndx, value, size = self.sym.unpack_from(data, offset)
        return Sym(name, value, size, info, other, shndx)

    def iter_syms(self, data: BytesLike) -> list[Sym]:
        """Every symbol record of a whole table (``data`` a multiple of the record size)."""
        if self.bits == 32:
            return [Sym._make(t) for t in self.sym.iter_unpack(data)]
        return [Sym(n, v, s, i, o, x) for n, i, o, x, v, s in self.sym.iter_unpack(data)]

    # r_info split, per class
    def r_sym(self, info: int) -> int:
        return info >> 8 if self.bits == 32 else info >> 32

    def r_type(self, info: int) -> int:
        return info & 0xFF if self.bits == 32 else info & 0xFFFFFFFF

    def r_info(self, sym: int, typ: int) -> int:
        return (sym << 8 | typ) if self.bits == 32 else (sym << 32 | typ)



LAYOUT64 = RecordLayout(64, True)
LAYOUT32 = RecordLayout(32, True)


def st_bind(info: int) -> int:
    return info >> 4


def st_type(info: int) -> int:
    return info & 0xF


def st_visibility(other: int) -> int:
    return other & 0x3
