"""Every check of Linux 6.1's ``elf_validity_check``: corrupt one field, expect its message.

The messages and ENOEXEC are 6.1.192's (kernel/module/main.c). Each case is run twice: through
the kernel's check with the kernel's native layout, and through the reader, which runs the
same checks in the file's own class.
"""

import errno
import random

import pytest
from elfwriter import minimal_module, patch

from linker.elf import ElfFile
from linker.elf.records import LAYOUT32, LAYOUT64
from linker.elf.validate import elf_validity_check
from linker.errors import ElfError

# Elf64 field offsets
E_TYPE, E_MACHINE, E_SHOFF, E_SHENTSIZE, E_SHNUM, E_SHSTRNDX = 16, 18, 40, 58, 60, 62
SH_TYPE, SH_FLAGS, SH_ADDR, SH_OFFSET, SH_SIZE, SH_LINK = 4, 8, 16, 24, 32, 40
SHSTRTAB = 4  # the writer puts .shstrtab last: [0] NULL [1] .text [2] .symtab [3] .strtab [4]


def shdr_off(buf, index):
    shoff = int.from_bytes(buf[E_SHOFF:E_SHOFF + 8], "little")
    return shoff + 64 * index


def kernel_check(buf):
    return elf_validity_check(bytes(buf), LAYOUT64, (62,))


def corrupt(name):
    buf = minimal_module()
    if name == "short":
        return buf[:40]
    if name == "magic":
        return patch(buf, 1, "B", ord("X"))
    if name == "type":
        return patch(buf, E_TYPE, "<H", 2)
    if name == "shentsize":
        return patch(buf, E_SHENTSIZE, "<H", 40)
    if name == "shoff":
        return patch(buf, E_SHOFF, "<Q", len(buf) + 8)
    if name == "shnum":
        return patch(buf, E_SHNUM, "<H", 0x7FFF)
    if name == "shstrndx0":
        return patch(buf, E_SHSTRNDX, "<H", 0)
    if name == "shstrndx_big":
        return patch(buf, E_SHSTRNDX, "<H", 5)
    if name == "shstrtab_out":
        return patch(buf, shdr_off(buf, SHSTRTAB) + SH_OFFSET, "<Q", len(buf))
    if name == "shstrtab_empty":
        return patch(buf, shdr_off(buf, SHSTRTAB) + SH_SIZE, "<Q", 0)
    if name == "shstrtab_nul":
        off = int.from_bytes(buf[shdr_off(buf, SHSTRTAB) + SH_OFFSET:][:8], "little")
        size = int.from_bytes(buf[shdr_off(buf, SHSTRTAB) + SH_SIZE:][:8], "little")
        return patch(buf, off + size - 1, "B", ord("x"))
    if name == "section0":
        return patch(buf, shdr_off(buf, 0) + SH_TYPE, "<I", 1)
    if name == "section0_addr":
        return patch(buf, shdr_off(buf, 0) + SH_ADDR, "<Q", 0x1000)
    if name == "symtab_link0":
        return patch(buf, shdr_off(buf, 2) + SH_LINK, "<I", 0)
    if name == "symtab_link_big":
        return patch(buf, shdr_off(buf, 2) + SH_LINK, "<I", 9)
    if name == "section_out":
        return patch(buf, shdr_off(buf, 1) + SH_SIZE, "<Q", len(buf))
    if name == "section_wrap":
        buf = patch(buf, shdr_off(buf, 1) + SH_OFFSET, "<Q", 2**64 - 1)
        return patch(buf, shdr_off(buf, 1) + SH_SIZE, "<Q", 2)
    if name == "alloc_name":
        return patch(buf, shdr_off(buf, 1), "<I", 0x1000)
    raise AssertionError(name)


CASES = [
    ("short", "Invalid ELF header len 40"),
    ("magic", "Invalid ELF header magic: != \x7fELF"),
    ("type", "Invalid ELF header type: 2 != 1"),
    ("shentsize", "Invalid ELF section header size"),
    ("shoff", "Invalid ELF section header overflow"),
    ("shnum", "Invalid ELF section header overflow"),
    ("shstrndx0", "Invalid ELF section name index: 0 || e_shstrndx (0) >= e_shnum (5)"),
    ("shstrndx_big", "Invalid ELF section name index: 5 || e_shstrndx (5) >= e_shnum (5)"),
    ("shstrtab_out", "Invalid ELF section hdr(type 3)"),
    ("shstrtab_empty", "empty section name table"),
    ("shstrtab_nul", "ELF Spec violation: section name table isn't null terminated"),
    ("section0", "ELF Spec violation: section 0 type(1)!=SH_NULL or non-zero len or addr"),
    ("section0_addr", "ELF Spec violation: section 0 type(0)!=SH_NULL or non-zero len or addr"),
    ("symtab_link0", "Invalid ELF sh_link!=SHN_UNDEF(0) or (sh_link(0) >= hdr->e_shnum(5)"),
    ("symtab_link_big", "Invalid ELF sh_link!=SHN_UNDEF(9) or (sh_link(9) >= hdr->e_shnum(5)"),
    ("section_out", "Invalid ELF section in module (section 1 type 1)"),
    ("section_wrap", "Invalid ELF section in module (section 1 type 1)"),
    ("alloc_name", "Invalid ELF section name in module (section 1 type 1)"),
]


@pytest.mark.parametrize("name,message", CASES)
def test_kernel_check_message(name, message):
    with pytest.raises(ElfError) as exc:
        kernel_check(corrupt(name))
    assert exc.value.message == message
    assert exc.value.errno == errno.ENOEXEC
    assert exc.value.rc == -8


@pytest.mark.parametrize("name,message", [c for c in CASES if c[0] != "type"])
def test_reader_refuses_with_same_message(name, message):
    with pytest.raises(ElfError) as exc:
        ElfFile(corrupt(name))
    assert exc.value.message == message


def test_valid_module_passes_both():
    buf = minimal_module()
    ehdr, shdrs = kernel_check(buf)
    assert ehdr.e_shnum == len(shdrs) == 5
    assert [s.name for s in ElfFile(buf).sections] == ["", ".text", ".symtab", ".strtab", ".shstrtab"]


def test_arch_check_uses_kernel_layout():
    # an ELF32 i386 object given to the x86-64 kernel fails on e_machine, as on the real kernel
    with pytest.raises(ElfError, match=r"^Invalid architecture in ELF header: 3$"):
        kernel_check(minimal_module(bits=32) + b"\0" * 64)
    # the i386 kernel reads Elf32 and accepts it
    ehdr, _ = elf_validity_check(bytes(minimal_module(bits=32)), LAYOUT32, (3, 6))
    assert ehdr.e_machine == 3


def test_nobits_and_null_sections_are_not_bounds_checked():
    buf = minimal_module()
    patch(buf, shdr_off(buf, 1) + SH_TYPE, "<I", 8)  # .text becomes NOBITS
    patch(buf, shdr_off(buf, 1) + SH_SIZE, "<Q", 1 << 40)
    kernel_check(buf)
    assert ElfFile(buf).sections[1].data == b""


def test_extended_numbering_read_but_refused_by_kernel():
    buf = minimal_module()
    patch(buf, shdr_off(buf, 0) + SH_SIZE, "<Q", 5)       # real count in section 0
    patch(buf, shdr_off(buf, 0) + SH_LINK, "<I", SHSTRTAB)  # real shstrndx in section 0
    patch(buf, E_SHNUM, "<H", 0)
    patch(buf, E_SHSTRNDX, "<H", 0xFFFF)
    elf = ElfFile(buf)
    assert elf.extended_numbering and elf.shnum == 5 and elf.shstrndx == SHSTRTAB
    assert elf.symbols[1].name == "f"
    with pytest.raises(ElfError, match=r"e_shstrndx \(65535\) >= e_shnum \(0\)"):
        kernel_check(buf)


def test_big_endian_and_elf32_read():
    for bits, little in ((32, True), (64, False), (32, False)):
        elf = ElfFile(minimal_module(bits, little))
        assert elf.layout.bits == bits and elf.layout.little == little
        assert elf.symbols[1].name == "f" and elf.symbols[1].st_size == 1


@pytest.mark.parametrize("seed", range(6))
def test_random_corruption_never_escapes(seed, samples_dir):
    """Truncate or flip bytes of real samples: the reader answers ElfError or reads fine."""
    from linker.module import ModuleInfo
    rng = random.Random(seed)
    paths = sorted(samples_dir.glob("hobby/*.o")) + sorted(samples_dir.glob("linux/*/*.ko"))
    if not paths:
        pytest.skip("no samples")
    for _ in range(40):
        data = bytearray(rng.choice(paths).read_bytes())
        if rng.random() < 0.3:
            data = data[:rng.randrange(len(data))]
        # aim at the headers most of the time: that is where the offsets and counts are
        for _ in range(rng.randrange(1, 8)):
            if rng.random() < 0.6:
                pos = rng.randrange(min(len(data), 64)) if rng.random() < 0.5 else \
                    rng.randrange(max(len(data) - 4096, 0), len(data)) if data else 0
            else:
                pos = rng.randrange(len(data)) if data else 0
            if pos < len(data):
                data[pos] = rng.randrange(256)
        try:
            info = ModuleInfo(data)
            info.modinfo, info.versions, info.exports, info.params, info.descriptor
            [r.entries for r in info.elf.relocation_sections]
        except ElfError as exc:
            assert exc.errno == errno.ENOEXEC and "\n" not in exc.message
