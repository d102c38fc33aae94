"""On-disk ELF records, each declared once with the spec's field names.

The 32- and 64-bit forms sit side by side; a :class:`Layout` picks the right
``struct`` formats for one (class, byte order) pair.
"""

import struct
from collections import namedtuple

from .constants import ElfClass, ElfData

Ehdr = namedtuple("Ehdr", (
    "e_ident e_type e_machine e_version e_entry e_phoff e_shoff e_flags "
    "e_ehsize e_phentsize e_phnum e_shentsize e_shnum e_shstrndx"))
Shdr = namedtuple("Shdr", (
    "sh_name sh_type sh_flags sh_addr sh_offset sh_size sh_link sh_info "
    "sh_addralign sh_entsize"))
Sym = namedtuple("Sym", "st_name st_value st_size st_info st_other st_shndx")
Rel = namedtuple("Rel", "r_offset r_info")
Rela = namedtuple("Rela", "r_offset r_info r_addend")

# (format without byte-order prefix, field order as stored)
_EHDR = {32: "16sHHIIIIIHHHHHH", 64: "16sHHIQQQIHHHHHH"}
_SHDR = {32: "IIIIIIIIII", 64: "IIQQQQIIQQ"}
# Elf32_Sym: name value size info other shndx; Elf64_Sym: name info other shndx value size
_SYM = {32: "IIIBBH", 64: "IBBHQQ"}
_REL = {32: "II", 64: "QQ"}
_RELA = {32: "IIi", 64: "QQq"}


class Layout:
    """Record formats and helpers for one ELF class and byte order."""

    def __init__(self, bits, little=True):
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
    def for_ident(cls, ei_class, ei_data):
        return cls(32 if ei_class == ElfClass.ELFCLASS32 else 64,
                   ei_data != ElfData.ELFDATA2MSB)

    def __repr__(self):
        return f"Layout({self.bits}, {'LSB' if self.little else 'MSB'})"

    def __eq__(self, other):
        return isinstance(other, Layout) and (self.bits, self.little) == (other.bits, other.little)

    def __hash__(self):
        return hash((self.bits, self.little))

    def unpack_ehdr(self, data, offset=0):
        return Ehdr._make(self.ehdr.unpack_from(data, offset))

    def unpack_shdr(self, data, offset):
        return Shdr._make(self.shdr.unpack_from(data, offset))

    def unpack_sym(self, data, offset):
        if self.bits == 32:
            return Sym._make(self.sym.unpack_from(data, offset))
        name, info, other, shndx, value, size = self.sym.unpack_from(data, offset)
        return Sym(name, value, size, info, other, shndx)

    def iter_syms(self, data):
        """Every symbol record of a whole table (``data`` a multiple of the record size)."""
        if self.bits == 32:
            return [Sym._make(t) for t in self.sym.iter_unpack(data)]
        return [Sym(n, v, s, i, o, x) for n, i, o, x, v, s in self.sym.iter_unpack(data)]

    # r_info split, per class
    def r_sym(self, info):
        return info >> 8 if self.bits == 32 else info >> 32

    def r_type(self, info):
        return info & 0xFF if self.bits == 32 else info & 0xFFFFFFFF

    def r_info(self, sym, typ):
        return (sym << 8 | typ) if self.bits == 32 else (sym << 32 | typ)


LAYOUT64 = Layout(64, True)
LAYOUT32 = Layout(32, True)


def st_bind(info):
    return info >> 4


def st_type(info):
    return info & 0xF


def st_visibility(other):
    return other & 0x3
