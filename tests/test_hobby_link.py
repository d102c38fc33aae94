"""The hobby kernel's loader (linker/load/hobby.py): sectioned, in place (seed 004), the report.

Expected values are worked out by hand from ``readelf -SWrs`` of the committed samples (the
numbers quoted in the comments); GNU ld, given a linker script that puts every section where
kmodsim put it, is the independent oracle for the relocated bytes.
"""

import errno
import json
import struct
import subprocess

import pytest

from emulator.cli import main as kmodsim
from linker.elf.reader import ElfFile
from linker.errors import KmodError
from linker.load.hobby import (HobbyModule, InPlaceModule, hobby_kernel, hobby_report,
                               inplace_findings, link_hobby, link_inplace)
from elfwriter import Sec, build_rel

M32 = 0xFFFFFFFF
MONITOR_WRITE = 0x00101000
MODULE_AREA = 0x00400000      # profile hobby-i386: module_area.start, the first allocation
HEAP = 0x00200000             # profile hobby-i386: kernel_text.end, the first kmalloc

R_386_32, R_386_PC32, R_386_PLT32 = 1, 2, 4
SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_REL, SHT_NOBITS = 1, 2, 3, 9, 8
AX, WA, A = 0x6, 0x3, 0x2


@pytest.fixture
def hobby(samples_dir):
    def read(name):
        return (samples_dir / "hobby" / name).read_bytes()
    return read


@pytest.fixture
def kernel():
    return hobby_kernel()


def u32(buf, off):
    return struct.unpack_from("<I", buf, off)[0]


def s32(buf, off):
    return struct.unpack_from("<i", buf, off)[0]


def addrs(lm):
    return {name: addr for _, name, addr, _, _ in lm.placed_sections()}


def rel_entries(data, rel_name):
    """``{r_offset: (sym name, type)}`` of one relocation section, from the reader."""
    elf = ElfFile(data)
    rs = next(r for r in elf.relocation_sections if r.name == rel_name)
    return {e.r_offset: (elf.symbols[e.sym].name, e.type) for e in rs.entries}


# --------------------------------------------------------------------------- hand-made objects

def hobby_object(symbol="monitor_write", rtype=R_386_PC32, rel_name=".rel.text",
                 descriptor=".this_module", text_align=16, r_offset=1, extra=()):
    """A 6-byte hobby module: ``call <symbol>; ret`` (rel32 at .text+1) and a module_t whose
    init is .text+0 and exit .text+5 (R_386_32 against the .text section symbol).

    Sections: 1 .text, 2 <rel_name> (sh_info 1), 3 <descriptor>, 4 .rel<descriptor>,
    5 .symtab, 6 .strtab, 7 .shstrtab. Symbols: 1 section .text, 2 init (FUNC at 0),
    3 <symbol> (global, undefined). ``extra`` sections come after .strtab.
    """
    strtab = b"\0init\0" + symbol.encode() + b"\0"
    sym = struct.Struct("<IIIBBH")
    syms = (sym.pack(0, 0, 0, 0, 0, 0) + sym.pack(0, 0, 0, 0x03, 0, 1) +
            sym.pack(1, 0, 5, 0x02, 0, 1) + sym.pack(6, 0, 0, 0x10, 0, 0))
    text = b"\xe8" + struct.pack("<i", -4) + b"\xc3"
    rel = struct.Struct("<II")
    return bytes(build_rel([
        Sec(".text", SHT_PROGBITS, text, flags=AX, align=text_align),
        Sec(rel_name, SHT_REL, rel.pack(r_offset, 3 << 8 | rtype), flags=0x40, link=5, info=1, align=4,
            entsize=8),
        Sec(descriptor, SHT_PROGBITS, struct.pack("<II", 0, 5), flags=WA, align=4),
        Sec(".rel" + descriptor, SHT_REL,
            rel.pack(0, 1 << 8 | R_386_32) + rel.pack(4, 1 << 8 | R_386_32), flags=0x40, link=5, info=3, align=4, entsize=8),
        Sec(".symtab", SHT_SYMTAB, syms, link=6, info=3, align=4, entsize=16),
        Sec(".strtab", SHT_STRTAB, strtab),
        *extra,
    ], bits=32))


def test_hand_made_object_is_what_the_tests_assume():
    elf = ElfFile(hobby_object())
    assert [s.name for s in elf.sections] == ["", ".text", ".rel.text", ".this_module",
                                              ".rel.this_module", ".symtab", ".strtab", ".shstrtab"]
    assert rel_entries(hobby_object(), ".rel.text") == {1: ("monitor_write", R_386_PC32)}


# ================================================================================== sectioned

def test_sectioned_hello_layout(hobby, kernel):
    lm = link_hobby(hobby("hello.o"), kernel, "hello")
    assert isinstance(lm, HobbyModule)
    # text: .text 0x27 bytes; rodata: .rodata.str1.1 0x2e bytes at 0x27 (align 1);
    # data: .data and .bss (empty, align 1) at 0x55, .this_module (align 4) at 0x58
    assert lm.placed_sections() == [
        (1, ".text", 0x00400000, 0x27, "core_text"),
        (3, ".data", 0x00400055, 0, "core_data"),
        (4, ".bss", 0x00400055, 0, "core_data"),
        (5, ".rodata.str1.1", 0x00400027, 0x2E, "core_rodata"),
        (6, ".this_module", 0x00400058, 8, "core_data"),
    ]
    assert lm.layout.core_size == 0x60
    assert {n: h.value for n, h in lm.symbols.resolved.items()} == {"monitor_write": MONITOR_WRITE}
    assert lm.relocations == {"R_386_32": 4, "R_386_PC32": 2}


def test_sectioned_hello_relocated_bytes(hobby, kernel):
    data = hobby("hello.o")
    lm = link_hobby(data, kernel, "hello")
    text = lm.section_bytes(1)
    # .rel.text: 0x4 R_386_32 .rodata.str1.1, 0x9 R_386_PC32 monitor_write,
    #            0x15 R_386_32 .rodata.str1.1, 0x1a R_386_PC32 monitor_write
    assert rel_entries(data, ".rel.text") == {4: ("", R_386_32), 9: ("monitor_write", R_386_PC32),
                                              0x15: ("", R_386_32), 0x1A: ("monitor_write", R_386_PC32)}
    strings = 0x00400027
    rodata = lm.section_bytes(5)
    assert u32(text, 0x4) == strings + rodata.index(b"Goodbye")          # addend 0
    assert u32(text, 0x15) == strings + rodata.index(b"Hello") == strings + 0x18
    # call monitor_write: S + A - P with A = -4 (the rel32 field ends 4 bytes after P)
    assert u32(text, 0x9) == (MONITOR_WRITE - 4 - (0x00400000 + 0x9)) & M32 == 0xFFD00FF3
    assert u32(text, 0x1A) == (MONITOR_WRITE - 4 - (0x00400000 + 0x1A)) & M32
    # .this_module: init = .text + 0x11 (hello_init), exit = .text + 0 (hello_exit)
    assert (lm.init_addr, lm.exit_addr) == (0x00400011, 0x00400000)
    assert lm.section_bytes(6) == struct.pack("<II", 0x00400011, 0x00400000)
    assert (lm.symbol_at(lm.init_addr), lm.symbol_at(lm.exit_addr)) == ("hello_init", "hello_exit")


def test_sectioned_counter(hobby, kernel):
    data = hobby("counter.o")
    lm = link_hobby(data, kernel, "counter")
    # text: .text 0x161 at 0, .text.helpers 0x34 at 0x161; rodata: .rodata.str1.1 0x6b at 0x195,
    # .rodata 0x10 (align 4) at 0x200; data: .data 0x1c at 0x210, .bss 8 at 0x22c,
    # .this_module 8 at 0x234
    assert addrs(lm) == {".text": 0x00400000, ".text.helpers": 0x00400161,
                         ".rodata.str1.1": 0x00400195, ".rodata": 0x00400200, ".data": 0x00400210,
                         ".bss": 0x0040022C, ".this_module": 0x00400234}
    assert lm.relocations == {"R_386_32": 25, "R_386_PC32": 7}
    text, helpers, dat = lm.section_bytes(1), lm.section_bytes(6), lm.section_bytes(3)
    assert lm.section_bytes(5) == bytes(8)                      # .bss: real space, zeroed
    orig = ElfFile(data).sections[1].data
    # 0x88: R_386_32 against the .bss section symbol, addend 4 in the field: ticks
    assert s32(orig, 0x88) == 4 and u32(text, 0x88) == 0x0040022C + 4
    # 0xfb: R_386_32 against total (.bss+0)
    assert u32(text, 0xFB) == 0x0040022C
    # 0x8: R_386_32 against step (.data+0x18)
    assert u32(text, 0x8) == 0x00400210 + 0x18
    # 0xda: call counter_step (.text+0x9a): S + A - P
    assert u32(text, 0xDA) == (0x00400000 + 0x9A - 4 - (0x00400000 + 0xDA)) & M32
    # 0x146: call weighted_sum, against the .text.helpers section symbol
    assert u32(text, 0x146) == (0x00400161 - 4 - (0x00400000 + 0x146)) & M32
    # .text.helpers+0x1a: R_386_32 against .rodata (weights)
    assert u32(helpers, 0x1A) == 0x00400200 + s32(ElfFile(data).sections[6].data, 0x1A)
    # ops[] in .data: {name, fn} x3; fn = op_double (.text+0), op_add (+7), op_square (+0x11)
    assert [u32(dat, o) for o in (4, 12, 20)] == [0x00400000, 0x00400007, 0x00400011]
    assert u32(dat, 0x18) == 3                                  # step = 3, copied, not relocated
    assert (lm.init_addr, lm.exit_addr) == (0x004000B7, 0x00400083)
    assert lm.symbol_at(lm.init_addr) == "counter_init"


def test_sectioned_gives_the_allocation_back(hobby, kernel):
    first = link_hobby(hobby("hello.o"), kernel, "hello")
    again = link_hobby(hobby("counter.o"), kernel, "counter")
    assert first.base == again.base == MODULE_AREA and kernel.module_area.areas == []
    kept = link_hobby(hobby("hello.o"), kernel, "hello", keep=True)
    after = link_hobby(hobby("hello.o"), kernel, "hello")
    # first fit after the kept one and its guard page
    assert (kept.base, after.base) == (MODULE_AREA, MODULE_AREA + 0x2000)


def test_sectioned_refuses_common(hobby, kernel):
    with pytest.raises(KmodError) as ei:
        link_hobby(hobby("common.o"), kernel, "common")
    msg = ei.value.message
    assert ei.value.errno == errno.ENOEXEC
    assert "shared_counter" in msg and "COMMON" in msg and "-fno-common" in msg
    assert kernel.log[-1].text == msg
    assert kernel.module_area.areas == []


def test_sectioned_unknown_symbol(kernel):
    with pytest.raises(KmodError) as ei:
        link_hobby(hobby_object("printk"), kernel, "m")
    assert ei.value.errno == errno.ENOENT
    assert "refers to unknown symbol printk" in ei.value.message
    assert [r.text for r in kernel.log] == ["refers to unknown symbol printk"]
    assert kernel.module_area.areas == []


def test_sectioned_unknown_relocation_type(kernel):
    with pytest.raises(KmodError) as ei:
        link_hobby(hobby_object(rtype=R_386_PLT32), kernel, "m")
    msg = ei.value.message
    assert ei.value.errno == errno.ENOEXEC
    assert ".rel.text entry 0 at .text+0x1" in msg and "type 4 (R_386_PLT32)" in msg
    assert "R_386_32, R_386_PC32" in msg


def test_sectioned_missing_descriptor(kernel):
    with pytest.raises(KmodError) as ei:
        link_hobby(hobby_object(descriptor=".other"), kernel, "m")
    assert ei.value.message == "m: .this_module not found" and ei.value.errno == errno.ENOEXEC


def test_sectioned_hand_made(kernel):
    lm = link_hobby(hobby_object(), kernel, "m")
    # .text (6 bytes, align 16) at 0, .this_module (align 4) at 8
    assert addrs(lm) == {".text": 0x00400000, ".this_module": 0x00400008}
    assert u32(lm.section_bytes(1), 1) == (MONITOR_WRITE - 4 - 0x00400001) & M32
    assert (lm.init_addr, lm.exit_addr) == (0x00400000, 0x00400005)


# =================================================================================== in place

def test_inplace_hello(hobby, kernel):
    data = hobby("hello.o")
    lm = link_inplace(data, kernel, "hello")
    assert isinstance(lm, InPlaceModule) and lm.stopped is None
    assert lm.base == HEAP and lm.size == len(data) + 5       # kmalloc(size + 5)
    # every section at buffer + sh_offset (.text 0x34, .rodata.str1.1 0x5b, .this_module 0x8c)
    assert lm.placed_sections() == [
        (1, ".text", HEAP + 0x34, 0x27, "inplace"),
        (3, ".data", HEAP + 0x5B, 0, "inplace"),
        (4, ".bss", HEAP + 0x5B, 0, "inplace"),
        (5, ".rodata.str1.1", HEAP + 0x5B, 0x2E, "inplace"),
        (6, ".this_module", HEAP + 0x8C, 8, "inplace"),
    ]
    text = lm.section_bytes(1)
    assert u32(text, 0x4) == HEAP + 0x5B
    assert u32(text, 0x15) == HEAP + 0x5B + 0x18
    # *rel_pos += r_value - rel_pos: the same S + A - P
    assert u32(text, 0x9) == (MONITOR_WRITE - 4 - (HEAP + 0x34 + 0x9)) & M32
    assert (lm.init_addr, lm.exit_addr) == (HEAP + 0x34 + 0x11, HEAP + 0x34)
    assert lm.symbol_at(lm.init_addr) == "hello_init"
    assert lm.relocations == {"R_386_32": 4, "R_386_PC32": 2} and lm.skipped == {}
    # the file's other bytes are untouched: only the six relocated fields changed
    changed = [i for i in range(len(data)) if lm.memory.buf[i] != data[i]]
    fields = {0x34 + o + k for o in (4, 9, 0x15, 0x1A) for k in range(4)}
    fields |= {0x8C + k for k in range(8)}
    assert set(changed) <= fields


def test_inplace_counter_bss_lands_on_text_helpers(hobby, kernel):
    data = hobby("counter.o")
    lm = link_inplace(data, kernel, "counter")
    assert lm.stopped is None
    a = addrs(lm)
    # .bss (NOBITS, 8 bytes) and .text.helpers both have sh_offset 0x1b4
    assert a[".bss"] == a[".text.helpers"] == HEAP + 0x1B4
    assert lm.section_bytes(5) == data[0x1B4:0x1BC] != bytes(8)
    text = lm.section_bytes(1)
    # ticks (.bss + 4) is the fifth byte of weighted_sum's code
    assert u32(text, 0x88) == HEAP + 0x1B4 + 4
    assert u32(text, 0xFB) == HEAP + 0x1B4                     # total
    assert (lm.init_addr, lm.exit_addr) == (HEAP + 0x34 + 0xB7, HEAP + 0x34 + 0x83)


def test_inplace_common_stops_outside_the_buffer(hobby, kernel):
    data = hobby("common.o")
    lm = link_inplace(data, kernel, "common")
    # .rel.text #0 is against shared_counter (SHN_COMMON): shdr[0xfff2] lies at
    # e_shoff 0x284 + 0xfff2 * 40, sh_offset 16 bytes further
    where = HEAP + 0x284 + 0xFFF2 * 40 + 16
    assert lm.stopped == (f".rel.text [2] entry 0: symbol 6 has st_shndx 0xfff2, taken for a section "
                          f"index: reads shdr[0xfff2].sh_offset at {where:#010x}, outside the buffer "
                          f"{HEAP:#010x}-{HEAP + len(data) + 5:#010x}")
    assert lm.relocations == {} and lm.init_addr is None
    assert bytes(lm.memory.buf[:len(data)]) == data


def test_inplace_unknown_symbol_gives_up(kernel):
    lm = link_inplace(hobby_object("printk"), kernel, "m")
    assert [r.text for r in lm.log] == ["refers to unknown symbol printk"]
    assert "refers to unknown symbol printk" in lm.stopped and lm.init_addr is None


def test_inplace_skips_unknown_type_silently(kernel):
    data = hobby_object(rtype=R_386_PLT32)
    lm = link_inplace(data, kernel, "m")
    assert lm.stopped is None and lm.log == []
    assert lm.skipped == {"R_386_PLT32": 1} and lm.relocations == {"R_386_32": 2}
    assert s32(lm.section_bytes(1), 1) == -4                   # the addend, never patched
    findings = inplace_findings(lm.elf, kernel.profile, lm.base)
    assert [f.kind for f in findings] == ["reloc-type"]
    assert findings[0].text == (".rel.text [2]: 1 relocation of type 4 (R_386_PLT32) skipped "
                                "silently (the seed's switch has no default): .text+0x1 "
                                "(keeps 0xfffffffc)")


def test_inplace_rel_target_by_name(kernel):
    # sh_info says .text, but the seed strips ".rel" and looks for ".txt"
    lm = link_inplace(hobby_object(rel_name=".rel.txt"), kernel, "m")
    assert lm.stopped.startswith(".rel.txt [2]: its target .txt is not found by name")
    kinds = {f.kind: f.text for f in inplace_findings(lm.elf, kernel.profile, lm.base)}
    assert "target->sh_name at 0x00000000" in kinds["rel-target"]
    # the sectioned loader follows sh_info and has no trouble
    assert link_hobby(hobby_object(rel_name=".rel.txt"), hobby_kernel(), "m").relocations == \
        {"R_386_32": 2, "R_386_PC32": 1}


def test_inplace_missing_descriptor_is_not_caught_by_the_seed(kernel):
    data = hobby_object(descriptor=".other")
    lm = link_inplace(data, kernel, "m")
    # (NULL - shdr) / 40 with shdr = buffer + e_shoff: index -(shdr // 40), read at shdr % 40 + 16
    shdr = HEAP + ElfFile(data).header.e_shoff
    assert lm.log == []                      # the seed's "== 0" check never fires
    assert f"NULL - shdr is {-(shdr // 40)}" in lm.stopped
    assert f"{shdr % 40 + 16:#010x}, outside the buffer" in lm.stopped
    missing = [f for f in inplace_findings(lm.elf, kernel.profile, lm.base) if f.kind == "missing"]
    assert len(missing) == 1 and missing[0].text.startswith(".this_module: no such section")


def test_place_past_its_section(kernel):
    # the call's rel32 said to be at .text+0x10, past the 6 bytes of .text
    data = hobby_object(r_offset=0x10)
    with pytest.raises(KmodError) as ei:
        link_hobby(data, kernel, "m")
    assert "outside the 0x6-byte section" in ei.value.message
    lm = link_inplace(data, hobby_kernel(), "m")
    elf = ElfFile(data)
    # .text at 0x40 (6 bytes), .rel.text at 0x48 (8 bytes), .this_module at 0x50: the seed
    # patches the init pointer
    assert [elf.sections[i].sh_offset for i in (1, 2, 3)] == [0x40, 0x48, 0x50]
    assert lm.stopped is None and lm.steps[0].P == HEAP + 0x50
    place = [f.text for f in inplace_findings(lm.elf, kernel.profile, lm.base) if f.kind == "place"]
    assert place == [".rel.text [2] #0: patches .text+0x10, past its 0x6 bytes; in place that is "
                     "file offset 0x50, which holds .this_module [3] +0x0-0x4"]
    # the PC32 adds monitor_write - P to the init addend (0), then .rel.this_module adds .text:
    # init points 0x10 bytes before monitor_write
    assert lm.init_addr == (0 + MONITOR_WRITE - (HEAP + 0x50) + HEAP + 0x40) & M32 == 0x00100FF0


# ===================================================================================== report

def test_report_hello_finds_nothing(hobby):
    report = hobby_report(hobby("hello.o"), name="hello")
    assert report.findings == [] and report.stopped is None
    assert report.differences == [
        "sectioned at 0x00400000 (0x60 bytes), in place at 0x00200000 (0x421 bytes)",
        "[1] .text: 4 relocated fields differ only by the load address",
        "[6] .this_module: 2 relocated fields differ only by the load address",
    ]


def test_report_counter(hobby):
    report = hobby_report(hobby("counter.o"), name="counter")
    assert [f.kind for f in report.findings] == ["nobits"]
    # total and ticks start as the first 8 code bytes of weighted_sum: 56 53 85 d2 74 2a 89 c6
    assert report.findings[0].text == (
        ".bss [5]: SHT_NOBITS, 0x8 bytes with nothing in the file; in place it is file offset "
        "0x1b4-0x1bc (0x002001b4), which holds .text.helpers [6] +0x0-0x8; total (+0x0) starts as "
        "0xd2855356, ticks (+0x4) starts as 0xc6892a74 instead of 0, and writes to them land there")
    diff = report.differences
    assert "[1] .text: 17 relocated fields differ only by the load address; 5 relocated fields " \
           "reach a different place" in diff
    assert "[1] .text+0x88: R_386_32 against .bss+0x4: sectioned reaches .bss+0x4, in place " \
           ".text.helpers+0x4" in diff
    assert "[1] .text+0xfb: R_386_32 against total: sectioned reaches .bss+0x0, in place " \
           ".text.helpers+0x0" in diff
    assert "[5] .bss: 8 bytes differ outside relocated fields at +0x0-0x8 (sectioned 00 00 00 00 " \
           "00 00 00 00, in place 56 53 85 d2 74 2a 89 c6)" in diff
    # .rodata and .rodata.str1.1 have no relocations: the same bytes in both
    assert not any(".rodata" in line for line in diff)


def test_report_common(hobby):
    data = hobby("common.o")
    report = hobby_report(data, name="common")
    assert [f.kind for f in report.findings] == ["common"]
    text = report.findings[0].text
    assert text.startswith("shared_counter [6]: SHN_COMMON (0xfff2), 4 bytes, align 4")
    assert f"file offset {0x284 + 0xFFF2 * 40 + 16:#x}" in text
    assert f"past the end of the {len(data) + 5:#x}-byte buffer" in text
    assert "3 relocations use it (.rel.text #0, .rel.text #3, .rel.text #4)" in text
    assert report.stopped and "0xfff2" in report.stopped
    assert report.differences[0].startswith("no comparison: the sectioned loader refuses")
    assert report.lines()[-1].startswith("the in-place run stops: ")


def test_report_alignment_with_a_misaligned_buffer(hobby):
    report = hobby_report(hobby("hello.o"), name="hello", buffer_addr=HEAP + 2)
    assert [f.text for f in report.findings] == [
        ".this_module [6]: needs 4-byte alignment; in place it is at 0x0020008e (file offset 0x8c), "
        "2 bytes off"]


def test_report_bss_over_the_section_header_table():
    # a 0x400-byte .bss after .strtab: in the file only .shstrtab, padding and the section
    # header table follow it, then the end of the buffer
    data = hobby_object(extra=[Sec(".bss", SHT_NOBITS, flags=WA, align=4, size=0x400)])
    elf = ElfFile(data)
    bss, shstrtab = elf.sections[7], elf.sections[8]
    assert (bss.name, shstrtab.name) == (".bss", ".shstrtab") and bss.sh_offset == shstrtab.sh_offset
    shoff, end = elf.header.e_shoff, bss.sh_offset + 0x400
    table, names_end = 40 * elf.shnum, shstrtab.sh_offset + shstrtab.sh_size
    assert names_end < shoff and shoff + table == len(data) < end
    report = hobby_report(data, name="m")
    assert [f.text for f in report.findings] == [
        f".bss [7]: SHT_NOBITS, 0x400 bytes with nothing in the file; in place it is file offset "
        f"{bss.sh_offset:#x}-{end:#x} ({HEAP + bss.sh_offset:#010x}), which holds .shstrtab [8] "
        f"+0x0-{shstrtab.sh_size:#x}, padding at file offset {names_end:#x}-{shoff:#x}, the section "
        f"header table +0x0-{table:#x}, kmalloc's 5 spare "
        f"bytes +0x0-0x5, {end - len(data) - 5:#x} bytes past the end of the buffer; "
        f"instead of zeros it starts with {data[bss.sh_offset:][:8].hex(' ')} "
        f"..., and writes to it land there"]


def test_report_unknown_symbol(kernel):
    report = hobby_report(hobby_object("printk"), name="m")
    texts = [f.text for f in report.findings if f.kind == "unknown-symbol"]
    assert texts == ["printk [3]: undefined and not a kernel export (the kernel knows monitor_write); "
                     "at .rel.text #0 the seed prints 'refers to unknown symbol printk' and gives up "
                     "(relocations applied before stay in the buffer it frees)"]
    assert report.differences[0].startswith("no comparison")


# ======================================================================================== CLI

def test_cli_sectioned_text(samples_dir, capsys):
    assert kmodsim(["link", "--profile", "hobby-i386", str(samples_dir / "hobby/counter.o")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("module counter (i386, profile hobby-i386): sectioned, one allocation "
                          "of 0x23c bytes at 0x00400000")
    assert "  [  5] .bss                         0x0040022c      0x8  core_data" in out
    assert "32 relocations applied: R_386_32 25, R_386_PC32 7" in out
    assert "init 0x004000b7 (counter_init), exit 0x00400083 (counter_exit)" in out


def test_cli_inplace_text(samples_dir, capsys):
    assert kmodsim(["link", "--profile", "hobby-i386", "--inplace",
                    str(samples_dir / "hobby/counter.o")]) == 0
    out = capsys.readouterr().out
    assert "  [  5] .bss                         0x002001b4      0x8  inplace" in out
    assert "what loading in place gets wrong (1 finding):" in out
    assert "    .bss [5]: SHT_NOBITS, 0x8 bytes" in out
    assert "  in place vs sectioned:" in out


def test_cli_json(samples_dir, capsys):
    for extra, region in (([], "core_text"), (["--inplace"], "inplace")):
        assert kmodsim(["link", "--profile", "hobby-i386", "--json", *extra,
                        str(samples_dir / "hobby/hello.o")]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert {"module", "arch", "profile", "sections", "symbols", "relocations", "core_size",
                "init_size"} <= set(doc)
        assert doc["module"] == "hello" and doc["arch"] == "i386" and doc["profile"] == "hobby-i386"
        assert doc["sections"][0] == {"index": 1, "name": ".text", "size": 0x27, "region": region,
                                      "addr": MODULE_AREA if not extra else HEAP + 0x34}
        assert doc["symbols"] == {"monitor_write": MONITOR_WRITE}
        assert doc["relocations"]["applied"] == 6
        assert doc["relocations"]["by_type"] == {"R_386_32": 4, "R_386_PC32": 2}
    assert doc["report"] == [] and doc["relocations"]["skipped"] == {} and doc["stopped"] is None


def test_cli_dump(samples_dir, tmp_path, capsys, kernel):
    data = (samples_dir / "hobby/counter.o").read_bytes()
    for extra, lm in (([], link_hobby(data, kernel, "counter")),
                      (["--inplace"], link_inplace(data, kernel, "counter"))):
        d = tmp_path / (extra[0][2:] if extra else "sectioned")
        assert kmodsim(["link", "--profile", "hobby-i386", "--dump", str(d), *extra,
                        str(samples_dir / "hobby/counter.o")]) == 0
        assert sorted(p.name for p in d.iterdir()) == sorted(f"{i}.bin" for i in (1, 3, 5, 6, 8, 9, 11))
        for i, *_ in lm.placed_sections():
            assert (d / f"{i}.bin").read_bytes() == lm.section_bytes(i)
    capsys.readouterr()


def test_cli_errors(samples_dir, tmp_path, capsys):
    common = str(samples_dir / "hobby/common.o")
    assert kmodsim(["link", "--profile", "hobby-i386", common]) == 1
    err = capsys.readouterr().err
    assert "<err> common: shared_counter is a COMMON symbol" in err
    assert err.rstrip().endswith("load refused: ENOEXEC (Exec format error)")

    assert kmodsim(["link", "--profile", "hobby-i386", "--inplace", common]) == 1
    out, err = capsys.readouterr()
    assert "shared_counter [6]: SHN_COMMON (0xfff2)" in out
    assert "seed 004's loader does not finish: .rel.text [2] entry 0" in err

    hello = str(samples_dir / "hobby/hello.o")
    assert kmodsim(["link", "--profile", "hobby-i386", hello, "--with", hello]) == 1
    assert "--with does not apply to the hobby kernel" in capsys.readouterr().err

    bad = tmp_path / "printk.o"
    bad.write_bytes(hobby_object("printk"))
    assert kmodsim(["link", "--profile", "hobby-i386", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "<warn> refers to unknown symbol printk" in err and "ENOENT" in err

    assert kmodsim(["link", "--profile", "hobby-i386", str(tmp_path / "missing.o")]) == 1
    assert "No such file or directory" in capsys.readouterr().err


# ============================================================================ GNU ld as oracle

def ld_link(tmp_path, data, placements):
    """Link ``data`` with ``ld -m elf_i386``, each section where ``placements`` says
    (``{index: addr}``); return ``{index: (addr, bytes)}`` of the output.

    SHF_MERGE is cleared first: ld would otherwise merge "ticks = " into the tail of
    "exit after ticks = " and move strings, which no module loader does.
    """
    elf = ElfFile(data)
    obj = bytearray(data)
    for s in elf.sections:
        if s.sh_flags & 0x30:            # SHF_MERGE | SHF_STRINGS
            struct.pack_into("<I", obj, elf.header.e_shoff + 40 * s.index + 8, s.sh_flags & ~0x30)
    (tmp_path / "in.o").write_bytes(obj)
    lines = [f"  sec{i} {addr:#x} : {{ *({elf.sections[i].name}) }}"
             for i, addr in sorted(placements.items(), key=lambda kv: kv[1])
             if elf.sections[i].sh_size]
    (tmp_path / "hobby.ld").write_text("SECTIONS {\n" + "\n".join(lines) +
                                       "\n  /DISCARD/ : { *(*) }\n}\n")
    subprocess.run(["ld", "-m", "elf_i386", "-T", "hobby.ld", "--defsym",
                    f"monitor_write={MONITOR_WRITE:#x}", "-e", "0", "-o", "out", "in.o"],
                   cwd=tmp_path, check=True, capture_output=True)
    out = ElfFile((tmp_path / "out").read_bytes())
    got = {}
    for s in out.sections:
        if s.name.startswith("sec"):
            raw = bytes(s.sh_size) if s.sh_type == SHT_NOBITS else bytes(s.data)
            got[int(s.name[3:])] = (s.sh_addr, raw)
    return got


def check_against_ld(tmp_path, lm, data, nobits=True):
    placed = {i: addr for i, _, addr, size, _ in lm.placed_sections()}
    got = ld_link(tmp_path, data, placed)
    assert set(got) == {i for i, _, _, size, _ in lm.placed_sections() if size}
    for i, (addr, raw) in got.items():
        if not nobits and lm.elf.sections[i].sh_type == SHT_NOBITS:
            assert addr == placed[i]
            continue
        assert (addr, raw) == (placed[i], lm.section_bytes(i)), lm.elf.sections[i].name


@pytest.mark.parametrize("sample", ["hello.o", "counter.o"])
def test_sectioned_matches_ld(sample, hobby, kernel, tmp_path, need_tool):
    need_tool("ld")
    data = hobby(sample)
    check_against_ld(tmp_path, link_hobby(data, kernel, sample[:-2]), data)


@pytest.mark.parametrize("sample", ["hello.o", "counter.o"])
def test_inplace_matches_ld(sample, hobby, kernel, tmp_path, need_tool):
    # ld, told to put each section at buffer + sh_offset (.bss on top of .text.helpers for
    # counter.o), computes the same relocated bytes as the seed; only the .bss contents differ
    # (ld zero-fills it, the seed's .bss is whatever the file has there)
    need_tool("ld")
    data = hobby(sample)
    check_against_ld(tmp_path, link_inplace(data, kernel, sample[:-2]), data, nobits=False)


@pytest.mark.parametrize("command", ["link", "relocs", "check"])
def test_every_command_takes_an_elf32_object_for_the_hobby_kernel(command):
    """Without --profile, an ELF32 i386 object with no module descriptor is the hobby
    kernel's in every command, as in run (it used to be "Invalid architecture in ELF
    header: 3" everywhere but run)."""
    from conftest import SAMPLES, run_cli
    r = run_cli(command, str(SAMPLES / "hobby/hello.o"))
    out, err = r.stdout.decode(), r.stderr.decode()
    assert "Invalid architecture" not in err
    assert command == "check" or "profile hobby-i386" in out, out + err


def test_an_elf32_linux_module_gets_the_686_profile(tmp_path):
    """An ELF32 i386 object with .gnu.linkonce.this_module is a Linux 686 module: link
    takes linux-6.1.0-50-686 for it by itself (run used to hand it to the hobby kernel)."""
    from emulator.cli.common import default_profile_name
    data = build_rel([Sec(".text", 1, b"\xc3", flags=6),
                      Sec(".gnu.linkonce.this_module", 1, bytes(64), flags=3)], bits=32)
    path = tmp_path / "m.ko"
    path.write_bytes(data)
    assert default_profile_name(str(path)) == "linux-6.1.0-50-686"
    plain = tmp_path / "plain.o"
    plain.write_bytes(build_rel([Sec(".text", 1, b"\xc3", flags=6)], bits=32))
    assert default_profile_name(str(plain)) == "hobby-i386"
    assert default_profile_name(str(tmp_path / "missing.ko")) == "linux-6.1.0-56-amd64"


@pytest.mark.parametrize("command", ["link", "relocs"])
def test_a_pic_object_is_refused_with_the_hint_to_build_it_without_pic(command):
    """hello.c built with -fpie needs _GLOBAL_OFFSET_TABLE_ and GOT relocations: the hobby
    loader refuses it with its own message, and kmodsim says what to change."""
    from conftest import SAMPLES, run_cli
    r = run_cli(command, str(SAMPLES / "hobby/hello_pie.o"))
    err = r.stderr.decode()
    assert r.returncode == 1
    assert "refers to unknown symbol _GLOBAL_OFFSET_TABLE_" in err
    assert ("hello_pie.o: it was compiled as position-independent code (it needs "
            "_GLOBAL_OFFSET_TABLE_, R_386_GOTOFF, R_386_GOTPC)") in err
    assert "-fno-pie -fno-pic" in err
    run = run_cli("run", str(SAMPLES / "hobby/hello_pie.o"))
    assert run.returncode != 0 and "position-independent" in run.stderr.decode()
    assert "position-independent" not in run_cli(command, str(SAMPLES / "hobby/hello.o")).stderr.decode()
