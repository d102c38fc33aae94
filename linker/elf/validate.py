"""Linux 6.1's ``elf_validity_check`` and its helper, check for check.

The kernel reads the file through its own native ``Elf_Ehdr``/``Elf_Shdr`` (Elf64 on
x86-64, Elf32 on i386) whatever ``EI_CLASS`` says, and checks neither ``EI_CLASS``,
``EI_DATA`` nor the versions: a 32-bit file given to a 64-bit kernel fails on
``e_machine`` instead. Each failure is ENOEXEC with 6.1's message (kernel/module/main.c,
6.1.192). The reader (:mod:`linker.elf.reader`) runs the same checks in the file's own
class, and additionally accepts extended section numbering, which 6.1 refuses.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NoReturn

from ..errors import ElfError
from .constants import ELFMAG, ET, SHF, SHN, SHT
from .records import BytesLike, Ehdr, RecordLayout, Shdr


def _fail(fmt: str, *args: object) -> NoReturn:
    raise ElfError(fmt % args)


def check_header_len(data: BytesLike, layout: RecordLayout) -> None:
    if len(data) < layout.ehdr.size:
        _fail("Invalid ELF header len %lu" % len(data))


def check_magic(data: BytesLike) -> None:
    if bytes(data[:4]) != ELFMAG:
        _fail("Invalid ELF header magic: != %s", ELFMAG.decode("latin-1"))


def check_type(ehdr: Ehdr) -> None:
    if ehdr.e_type != ET.ET_REL:
        _fail("Invalid ELF header type: %u != %u", ehdr.e_type, ET.ET_REL)


def check_arch(ehdr: Ehdr, machines: Collection[int]) -> None:
    if ehdr.e_machine not in machines:
        _fail("Invalid architecture in ELF header: %u", ehdr.e_machine)


def check_shentsize(ehdr: Ehdr, layout: RecordLayout) -> None:
    if ehdr.e_shentsize != layout.shdr.size:
        _fail("Invalid ELF section header size")


def check_shdr_bounds(data_len: int, shoff: int, shnum: int, layout: RecordLayout) -> None:
    if shoff >= data_len or shnum * layout.shdr.size > data_len - shoff:
        _fail("Invalid ELF section header overflow")


def check_shstrndx(shstrndx: int, shnum: int) -> None:
    if shstrndx == SHN.SHN_UNDEF or shstrndx >= shnum:
        _fail("Invalid ELF section name index: %d || e_shstrndx (%d) >= e_shnum (%d)",
              shstrndx, shstrndx, shnum)


def section_in_file(shdr: Shdr, data_len: int, layout: RecordLayout) -> bool:
    """``validate_section_offset``: offset + size neither wraps nor passes the end."""
    end = (shdr.sh_offset + shdr.sh_size) & (2 ** layout.bits - 1)
    return not (end < shdr.sh_offset or end > data_len)


def check_shstrtab(data: BytesLike, strhdr: Shdr, layout: RecordLayout) -> None:
    if not section_in_file(strhdr, len(data), layout):
        _fail("Invalid ELF section hdr(type %u)", strhdr.sh_type)
    if strhdr.sh_size == 0:
        _fail("empty section name table")
    if data[strhdr.sh_offset + strhdr.sh_size - 1] != 0:
        _fail("ELF Spec violation: section name table isn't null terminated")


def check_section0(sh0: Shdr, extended: bool = False) -> None:
    # with extended numbering, section 0 legitimately carries the real counts
    size_ok = extended or sh0.sh_size == 0
    if sh0.sh_type != SHT.SHT_NULL or not size_ok or sh0.sh_addr != 0:
        _fail("ELF Spec violation: section 0 type(%d)!=SH_NULL or non-zero len or addr",
              sh0.sh_type)


_NULL, _NOBITS, _SYMTAB, _ALLOC = int(SHT.SHT_NULL), int(SHT.SHT_NOBITS), int(SHT.SHT_SYMTAB), \
    int(SHF.SHF_ALLOC)


def check_sections(shdrs: list[Shdr], strhdr: Shdr, data_len: int, layout: RecordLayout) -> None:
    shnum = len(shdrs)
    for i in range(1, shnum):
        shdr = shdrs[i]
        if shdr.sh_type == _NULL or shdr.sh_type == _NOBITS:
            continue
        if shdr.sh_type == _SYMTAB and (shdr.sh_link == 0 or shdr.sh_link >= shnum):
            _fail("Invalid ELF sh_link!=SHN_UNDEF(%d) or (sh_link(%d) >= hdr->e_shnum(%d)",
                  shdr.sh_link, shdr.sh_link, shnum)
        if not section_in_file(shdr, data_len, layout):
            _fail("Invalid ELF section in module (section %u type %u)", i, shdr.sh_type)
        if shdr.sh_flags & _ALLOC and shdr.sh_name >= strhdr.sh_size:
            _fail("Invalid ELF section name in module (section %u type %u)", i, shdr.sh_type)


def read_shdrs(data: BytesLike, shoff: int, shnum: int, layout: RecordLayout) -> list[Shdr]:
    size = layout.shdr.size
    return [Shdr._make(t) for t in layout.shdr.iter_unpack(data[shoff:shoff + shnum * size])]


def elf_validity_check(data: BytesLike, layout: RecordLayout,
                       machines: Collection[int]) -> tuple[Ehdr, list[Shdr]]:
    """The kernel's check, exactly: ``layout`` is the kernel's native one.

    Returns the section headers as the kernel sees them. Raises :class:`ElfError`.
    """
    check_header_len(data, layout)
    check_magic(data)
    ehdr = layout.unpack_ehdr(data)
    check_type(ehdr)
    check_arch(ehdr, machines)
    check_shentsize(ehdr, layout)
    check_shdr_bounds(len(data), ehdr.e_shoff, ehdr.e_shnum, layout)
    check_shstrndx(ehdr.e_shstrndx, ehdr.e_shnum)
    shdrs = read_shdrs(data, ehdr.e_shoff, ehdr.e_shnum, layout)
    strhdr = shdrs[ehdr.e_shstrndx]
    check_shstrtab(data, strhdr, layout)
    check_section0(shdrs[0])
    check_sections(shdrs, strhdr, len(data), layout)
    return ehdr, shdrs


def native_layout(bits: int) -> RecordLayout:
    return RecordLayout(bits, True)
