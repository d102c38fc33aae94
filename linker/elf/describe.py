"""Numbers to names, and GNU readelf's views of a parsed ELF file.

This is the only place where the reader's numbers become names: section types, flag key
letters, symbol types, bindings and visibilities, ``Ndx`` values, relocation types per
machine, and the header's ``Class:``/``Data:``/``OS/ABI:`` strings.

The views (:func:`file_header`, :func:`section_headers`, :func:`relocations`,
:func:`symbol_tables`) return text that is byte-for-byte what GNU binutils 2.40 prints for
``readelf -W`` with ``-h``, ``-S``, ``-r`` and ``-s``, run in the C locale. Names from the
file are ``latin-1`` strings (one character per byte), so the text encodes back to the
exact bytes with ``text.encode("latin-1")``.

Every table below was checked against readelf's own output (the tests sweep the fields
through readelf and compare). readelf knows many more machines than the ones named here;
for those, the machine name, flag suffixes and relocation names fall back to what readelf
prints for an unknown value, so the output stays well-formed but may differ.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

from ..bits import sign_extend
from .constants import (DF_1_PIE, DT_FLAGS_1, DT_NULL, EF_ARM_PIC, EF_ARM_RELEXEC, EI_ABIVERSION,
                        EI_CLASS, EI_DATA, EI_OSABI, EI_VERSION, ELFOSABI_FREEBSD, ELFOSABI_GNU,
                        ELFOSABI_NONE, ELFOSABI_SOLARIS, EM, ET, PN_XNUM, R_386, R_X86_64, SHF,
                        SHF_ARM_PURECODE, SHF_GNU_MBIND, SHF_MASKOS, SHF_MASKPROC, SHF_PPC_VLE,
                        SHN, SHN_HIOS, SHN_HIPROC, SHN_LOOS, SHN_LOPROC, SHN_MIPS_SCOMMON,
                        SHN_MIPS_SUNDEFINED, SHN_X86_64_LCOMMON, SHT, SHT_HIOS, SHT_HIPROC,
                        SHT_HIUSER, SHT_LOOS, SHT_LOPROC, SHT_LOUSER, STB, STB_HIOS, STB_HIPROC,
                        STB_LOOS, STB_LOPROC, STO_AARCH64_VARIANT_PCS, STO_RISCV_VARIANT_CC, STT,
                        STT_ARM_TFUNC, STT_HIOS, STT_HIPROC, STT_LOOS, STT_LOPROC,
                        STT_PARISC_MILLICODE, STT_SPARC_REGISTER)

if TYPE_CHECKING:
    from .reader import ElfFile, Relocation, RelocationSection, Section, Symbol
    from .records import Shdr

# -- e_ident and the file header ---------------------------------------------------------

_CLASS = {0: "none", 1: "ELF32", 2: "ELF64"}
_DATA = {0: "none", 1: "2's complement, little endian", 2: "2's complement, big endian"}

_OSABI = {
    0: "UNIX - System V", 1: "UNIX - HP-UX", 2: "UNIX - NetBSD", 3: "UNIX - GNU",
    6: "UNIX - Solaris", 7: "UNIX - AIX", 8: "UNIX - IRIX", 9: "UNIX - FreeBSD",
    10: "UNIX - TRU64", 11: "Novell - Modesto", 12: "UNIX - OpenBSD", 13: "VMS - OpenVMS",
    14: "HP - Non-Stop Kernel", 15: "AROS", 16: "FenixOS", 17: "Nuxi CloudABI",
    18: "Stratus Technologies OpenVOS",
}
# values >= 64 are per machine: (e_machine, EI_OSABI)
_OSABI_MACHINE: dict[tuple[int, int], str] = {
    (EM.EM_ARM, 97): "ARM", (EM.EM_ARM, 65): "ARM FDPIC",
    (224, 64): "AMD HSA", (224, 65): "AMD PAL", (224, 66): "AMD Mesa3D",
    (140, 64): "Bare-metal C6000", (140, 65): "Linux C6000",
    (105, 255): "Standalone App", (221, 255): "Standalone App",
}

_FILE_TYPE = {
    0: "NONE (None)", 1: "REL (Relocatable file)", 2: "EXEC (Executable file)",
    3: "DYN (Shared object file)", 4: "CORE (Core file)",
}

# The usual machines; readelf knows about two hundred more.
_MACHINE = {
    0: "None", 2: "Sparc", 3: "Intel 80386", 4: "MC68000", 6: "Intel MCU", 8: "MIPS R3000",
    10: "MIPS R4000 big-endian", 15: "HPPA", 18: "Sparc v8+", 20: "PowerPC", 21: "PowerPC64",
    22: "IBM S/390", 40: "ARM", 42: "Renesas / SuperH SH", 43: "Sparc v9", 50: "Intel IA-64",
    62: "Advanced Micro Devices X86-64", 83: "Atmel AVR 8-bit microcontroller",
    92: "OpenRISC 1000", 94: "Tensilica Xtensa Processor",
    105: "Texas Instruments msp430 microcontroller", 113: "Altera Nios II",
    164: "QUALCOMM DSP6 Processor", 180: "Intel L1OM", 181: "Intel K1OM", 183: "AArch64",
    189: "Xilinx MicroBlaze", 195: "ARCv2", 224: "AMD GPU", 243: "RISC-V", 247: "Linux BPF",
    252: "C-SKY", 258: "LoongArch",
}

_X86_64_LIKE = (EM.EM_X86_64, EM.EM_L1OM, EM.EM_K1OM)


def class_name(ei_class: int) -> str:
    return _CLASS.get(ei_class, "<unknown: %x>" % ei_class)


def data_name(ei_data: int) -> str:
    return _DATA.get(ei_data, "<unknown: %x>" % ei_data)


def ident_version(version: int) -> str:
    if version == 1:
        return "1 (current)"
    return "%d <unknown>" % version if version else "0"


def osabi_name(osabi: int, machine: int) -> str:
    if osabi in _OSABI:
        return _OSABI[osabi]
    if osabi >= 64 and (machine, osabi) in _OSABI_MACHINE:
        return _OSABI_MACHINE[(machine, osabi)]
    return "<unknown: %x>" % osabi


def file_type_name(e_type: int, pie: bool = False) -> str:
    if e_type == ET.ET_DYN and pie:
        return "DYN (Position-Independent Executable file)"
    if e_type in _FILE_TYPE:
        return _FILE_TYPE[e_type]
    if e_type >= 0xFF00:
        return "Processor Specific: (%x)" % e_type
    if e_type >= 0xFE00:
        return "OS Specific: (%x)" % e_type
    return "<unknown>: %x" % e_type


def machine_name(e_machine: int) -> str:
    return _MACHINE.get(e_machine, "<unknown>: 0x%x" % e_machine)


def _riscv_flags(flags: int) -> list[str]:
    out = []
    if flags & 0x1:
        out.append("RVC")
    if flags & 0x8:
        out.append("RVE")
    if flags & 0x10:
        out.append("TSO")
    out.append({0x0: "soft-float ABI", 0x2: "single-float ABI", 0x4: "double-float ABI",
                0x6: "quad-float ABI"}[flags & 0x6])
    return out


# EABI version (top byte) -> its name and the meaning of its flag bits; ``None``: readelf
# leaves the bits of that version alone
_ARM_EABI: dict[int, tuple[str, dict[int, str] | None]] = {
    0: ("GNU EABI", {0x4: "interworking enabled", 0x8: "uses APCS/26", 0x10: "uses APCS/float",
                     0x40: "8 bit structure alignment", 0x80: "uses new ABI",
                     0x100: "uses old ABI", 0x200: "software FP", 0x400: "VFP",
                     0x800: "Maverick FP"}),
    1: ("Version1 EABI", {0x4: "sorted symbol tables"}),
    2: ("Version2 EABI", {0x4: "sorted symbol tables", 0x8: "dynamic symbols use segment index",
                          0x10: "mapping symbols precede others"}),
    3: ("Version3 EABI", None),
    4: ("Version4 EABI", {0x400000: "LE8", 0x800000: "BE8"}),
    5: ("Version5 EABI", {0x200: "soft-float ABI", 0x400: "hard-float ABI", 0x400000: "LE8",
                          0x800000: "BE8"}),
}


def _arm_flags(flags: int) -> list[str]:
    out = []
    if flags & EF_ARM_RELEXEC:
        out.append("relocatable executable")
    if flags & EF_ARM_PIC:
        out.append("position independent")
    name, meanings = _ARM_EABI.get(flags >> 24, ("<unrecognized EABI>", {}))
    out.append(name)
    if meanings is None:
        return out
    rest = flags & 0x00FFFFFF & ~(EF_ARM_RELEXEC | EF_ARM_PIC)
    unknown = False
    for bit in range(24):
        if rest & 1 << bit:
            if 1 << bit in meanings:
                out.append(meanings[1 << bit])
            else:
                unknown = True
    if unknown:
        out.append("<unknown>")
    return out


def _ppc_flags(flags: int) -> list[str]:
    known = ((0x80000000, "emb"), (0x10000, "relocatable"), (0x8000, "relocatable-lib"))
    return [name for bit, name in known if flags & bit]


def machine_flags(e_machine: int, e_flags: int) -> str:
    """The ``, ...`` suffix readelf appends to ``Flags:`` (empty for x86).

    Decoded for RISC-V, ARM, PowerPC and s390; MIPS, LoongArch and the rest print bare.
    """
    parts = None
    if not e_flags:
        return ""
    if e_machine == EM.EM_RISCV:
        parts = _riscv_flags(e_flags)
    elif e_machine == EM.EM_ARM:
        parts = _arm_flags(e_flags)
    elif e_machine == EM.EM_PPC:
        parts = _ppc_flags(e_flags)
    elif e_machine == EM.EM_PPC64 and e_flags & 0x3:
        parts = ["abiv%d" % (e_flags & 0x3)]
    elif e_machine == EM.EM_S390 and e_flags & 0x1:
        parts = ["highgprs"]
    return "".join(", " + p for p in parts) if parts else ""


# -- sections -------------------------------------------------------------------------

_SECTION_TYPE = {
    SHT.SHT_NULL: "NULL", SHT.SHT_PROGBITS: "PROGBITS", SHT.SHT_SYMTAB: "SYMTAB",
    SHT.SHT_STRTAB: "STRTAB", SHT.SHT_RELA: "RELA", SHT.SHT_RELR: "RELR", SHT.SHT_HASH: "HASH",
    SHT.SHT_DYNAMIC: "DYNAMIC", SHT.SHT_NOTE: "NOTE", SHT.SHT_NOBITS: "NOBITS",
    SHT.SHT_REL: "REL", SHT.SHT_SHLIB: "SHLIB", SHT.SHT_DYNSYM: "DYNSYM",
    SHT.SHT_INIT_ARRAY: "INIT_ARRAY", SHT.SHT_FINI_ARRAY: "FINI_ARRAY",
    SHT.SHT_PREINIT_ARRAY: "PREINIT_ARRAY", SHT.SHT_GNU_HASH: "GNU_HASH",
    SHT.SHT_GROUP: "GROUP", SHT.SHT_SYMTAB_SHNDX: "SYMTAB SECTION INDICES",
    SHT.SHT_GNU_verdef: "VERDEF", SHT.SHT_GNU_verneed: "VERNEED", SHT.SHT_GNU_versym: "VERSYM",
    0x6FFFFFF0: "VERSYM", 0x6FFFFFFC: "VERDEF", 0x7FFFFFFD: "AUXILIARY", 0x7FFFFFFF: "FILTER",
    SHT.SHT_GNU_LIBLIST: "GNU_LIBLIST",
}
_SECTION_TYPE_OS = {0x6FFF4700: "GNU_INCREMENTAL_INPUTS", SHT.SHT_GNU_ATTRIBUTES: "GNU_ATTRIBUTES"}
_SECTION_TYPE_SOLARIS = {
    0x6FFFFFEE: "SUNW_ancillary", 0x6FFFFFEF: "SUNW_capchain", 0x6FFFFFF1: "SUNW_symsort",
    0x6FFFFFF2: "SUNW_tlssort", 0x6FFFFFF3: "SUNW_LDYNSYM", 0x6FFFFFF4: "SUNW_dof",
    0x6FFFFFF5: "SUNW_cap", 0x6FFFFFF8: "SUNW_DEBUGSTR", 0x6FFFFFF9: "SUNW_DEBUG",
    0x6FFFFFFA: "SUNW_move", 0x6FFFFFFB: "SUNW_COMDAT",
}
_SECTION_TYPE_PROC: dict[int, dict[int, str]] = {
    EM.EM_X86_64: {SHT.SHT_X86_64_UNWIND: "X86_64_UNWIND"},
    EM.EM_AARCH64: {0x70000003: "AARCH64_ATTRIBUTES"},
    EM.EM_ARM: {0x70000001: "ARM_EXIDX", 0x70000002: "ARM_PREEMPTMAP",
                0x70000003: "ARM_ATTRIBUTES", 0x70000004: "ARM_DEBUGOVERLAY",
                0x70000005: "ARM_OVERLAYSECTION"},
    EM.EM_RISCV: {0x70000003: "RISCV_ATTRIBUTES"},
}
_SECTION_TYPE_PROC[EM.EM_L1OM] = _SECTION_TYPE_PROC[EM.EM_K1OM] = _SECTION_TYPE_PROC[EM.EM_X86_64]


def _c_alt_hex(value: int) -> str:
    """C's ``%#x``: no prefix for zero."""
    return "%#x" % value if value else "0"


def section_type_name(sh_type: int, machine: int, osabi: int = ELFOSABI_NONE) -> str:
    if sh_type in _SECTION_TYPE:
        return _SECTION_TYPE[sh_type]
    if SHT_LOPROC <= sh_type <= SHT_HIPROC:
        name = _SECTION_TYPE_PROC.get(machine, {}).get(sh_type)
        return name or "LOPROC+" + _c_alt_hex(sh_type - SHT_LOPROC)
    if SHT_LOOS <= sh_type <= SHT_HIOS:
        table = _SECTION_TYPE_SOLARIS if osabi == ELFOSABI_SOLARIS else _SECTION_TYPE_OS
        name = table.get(sh_type)
        return name or "LOOS+" + _c_alt_hex(sh_type - SHT_LOOS)
    if SHT_LOUSER <= sh_type <= SHT_HIUSER:
        return "LOUSER+" + _c_alt_hex(sh_type - SHT_LOUSER)
    return "%08x: <unknown>" % sh_type


def entry_size(section: Section, bits: int) -> int:
    """``sh_entsize`` as readelf uses it: for symbol, relocation and group sections readelf
    replaces any other value by the record size (and says so on stderr)."""
    fixed = _ENTRY_SIZE.get(section.sh_type)
    return fixed[bits == 64] if fixed else section.sh_entsize


_ENTRY_SIZE: dict[int, tuple[int, int]] = {
    SHT.SHT_SYMTAB: (16, 24), SHT.SHT_DYNSYM: (16, 24), SHT.SHT_REL: (8, 16),
    SHT.SHT_RELA: (12, 24), SHT.SHT_RELR: (4, 8), SHT.SHT_GROUP: (4, 4)}


# key letters of the generic flags, lowest bit first
_FLAG_KEYS = {
    0x1: "W", 0x2: "A", 0x4: "X", 0x10: "M", 0x20: "S", 0x40: "I", 0x80: "L", 0x100: "O",
    0x200: "G", 0x400: "T", 0x800: "C", 0x80000000: "E",
}


def _machine_flag_key(flag: int, machine: int) -> str | None:
    if machine in _X86_64_LIKE and flag == SHF.SHF_X86_64_LARGE:
        return "l"
    if machine == EM.EM_ARM and flag == SHF_ARM_PURECODE:
        return "y"
    if machine == EM.EM_PPC and flag == SHF_PPC_VLE:
        return "v"
    return None


def section_flags_key(sh_flags: int, machine: int, osabi: int = ELFOSABI_NONE) -> str:
    """The ``Flg`` column: one key letter per flag bit, lowest bit first."""
    out = []
    while sh_flags:
        flag = sh_flags & -sh_flags
        sh_flags &= ~flag
        key = _FLAG_KEYS.get(flag) or _machine_flag_key(flag, machine)
        if key is None:
            if flag & SHF_MASKOS:
                if flag == SHF.SHF_GNU_RETAIN and osabi in (ELFOSABI_GNU, ELFOSABI_FREEBSD):
                    key = "R"
                elif flag == SHF_GNU_MBIND and osabi in (ELFOSABI_NONE, ELFOSABI_GNU,
                                                         ELFOSABI_FREEBSD):
                    key = "D"
                else:
                    key = "o"
                    sh_flags &= ~SHF_MASKOS
            elif flag & SHF_MASKPROC:
                # readelf clears the mask as a 32-bit unsigned value, so this also drops
                # every flag above bit 31 ("o" keeps them: its mask is a signed int)
                key = "p"
                sh_flags &= ~SHF_MASKPROC & 0xFFFFFFFF
            else:
                key = "x"
        out.append(key)
    return "".join(out)


def flags_footer(machine: int, osabi: int = ELFOSABI_NONE) -> str:
    """The ``Key to Flags:`` block under ``-S``."""
    last = "  "
    if osabi in (ELFOSABI_GNU, ELFOSABI_FREEBSD):
        last += "R (retain), "
    if osabi in (ELFOSABI_NONE, ELFOSABI_GNU, ELFOSABI_FREEBSD):
        last += "D (mbind), "
    if machine in _X86_64_LIKE:
        last += "l (large), "
    elif machine == EM.EM_ARM:
        last += "y (purecode), "
    elif machine == EM.EM_PPC:
        last += "v (VLE), "
    last += "p (processor specific)\n"
    return ("Key to Flags:\n"
            "  W (write), A (alloc), X (execute), M (merge), S (strings), I (info),\n"
            "  L (link order), O (extra OS processing required), G (group), T (TLS),\n"
            "  C (compressed), x (unknown), o (OS specific), E (exclude),\n" + last)


# -- symbols --------------------------------------------------------------------------

_SYMBOL_TYPE = {0: "NOTYPE", 1: "OBJECT", 2: "FUNC", 3: "SECTION", 4: "FILE", 5: "COMMON",
                6: "TLS", 8: "RELC", 9: "SRELC"}
_SYMBOL_BIND = {0: "LOCAL", 1: "GLOBAL", 2: "WEAK"}
_VISIBILITY = {0: "DEFAULT", 1: "INTERNAL", 2: "HIDDEN", 3: "PROTECTED"}
_VISIBILITY_SOLARIS = {**_VISIBILITY, 4: "EXPORTED", 5: "SINGLETON", 6: "ELIMINATE"}


def symbol_type_name(stt: int, machine: int, osabi: int = ELFOSABI_NONE) -> str:
    if stt in _SYMBOL_TYPE:
        return _SYMBOL_TYPE[stt]
    if STT_LOPROC <= stt <= STT_HIPROC:
        if machine == EM.EM_ARM and stt == STT_ARM_TFUNC:
            return "THUMB_FUNC"
        if machine == EM.EM_SPARCV9 and stt == STT_SPARC_REGISTER:
            return "REGISTER"
        if machine == EM.EM_PARISC and stt == STT_PARISC_MILLICODE:
            return "PARISC_MILLI"
        return "<processor specific>: %d" % stt
    if STT_LOOS <= stt <= STT_HIOS:
        if stt == STT.STT_GNU_IFUNC and osabi in (ELFOSABI_GNU, ELFOSABI_FREEBSD):
            return "IFUNC"
        return "<OS specific>: %d" % stt
    return "<unknown>: %d" % stt


def symbol_bind_name(stb: int, osabi: int = ELFOSABI_NONE) -> str:
    if stb in _SYMBOL_BIND:
        return _SYMBOL_BIND[stb]
    if STB_LOPROC <= stb <= STB_HIPROC:
        return "<processor specific>: %d" % stb
    if STB_LOOS <= stb <= STB_HIOS:
        if stb == STB.STB_GNU_UNIQUE and osabi == ELFOSABI_GNU:
            return "UNIQUE"
        return "<OS specific>: %d" % stb
    return "<unknown>: %d" % stb


def visibility_name(stv: int) -> str:
    return _VISIBILITY[stv & 3]


_MIPS_OTHER = {0x04: "OPTIONAL", 0x08: "MIPS PLT", 0x20: "MIPS PIC", 0x80: "MICROMIPS",
               0xA0: "MICROMIPS, MIPS PIC", 0xF0: "MIPS16"}


def symbol_other_name(other: int, machine: int) -> str:
    """What readelf shows in brackets for the ``st_other`` bits above the visibility."""
    if machine == EM.EM_AARCH64 and other & STO_AARCH64_VARIANT_PCS:
        rest = other & ~STO_AARCH64_VARIANT_PCS
        return "VARIANT_PCS" + (" | %x" % rest if rest else "")
    if machine == EM.EM_RISCV:
        # readelf names the flag alone, and prints any other bits bare, without the flag
        if other == STO_RISCV_VARIANT_CC:
            return "VARIANT_CC"
        return "%x" % (other & ~STO_RISCV_VARIANT_CC)
    if machine == EM.EM_PPC64 and other & ~0xE0 == 0 and 1 <= other >> 5 <= 6:
        # the local entry point's offset, encoded as a power of two
        return "<localentry>: %d" % (1 if other >> 5 == 1 else 1 << (other >> 5))
    if machine == EM.EM_MIPS and other in _MIPS_OTHER:
        return _MIPS_OTHER[other]
    return "<other>: %x" % other


def section_index_name(shndx: int, machine: int, shnum: int, reserved: bool | None = None) -> str:
    """The ``Ndx`` column of ``-s``: ``UND``, ``ABS``, ``COM`` or a number.

    ``reserved`` says whether ``shndx`` is a reserved index (``>= SHN_LORESERVE``) straight
    from ``st_shndx``; an index read from ``SHT_SYMTAB_SHNDX`` never is, however large (so
    readelf prints a real section 0xff05 as ``65285``). By default it is judged by value.
    """
    if reserved is None:
        reserved = shndx >= SHN.SHN_LORESERVE
    if shndx == SHN.SHN_UNDEF:
        return "UND"
    if not reserved:
        return "bad section index[%3d]" % shndx if shnum and shndx >= shnum else "%3d" % shndx
    if shndx == SHN.SHN_ABS:
        return "ABS"
    if shndx == SHN.SHN_COMMON:
        return "COM"
    if machine in _X86_64_LIKE and shndx == SHN_X86_64_LCOMMON:
        return "LARGE_COM"
    if machine == EM.EM_MIPS and shndx == SHN_MIPS_SCOMMON:
        return "SCOM"
    if machine == EM.EM_MIPS and shndx == SHN_MIPS_SUNDEFINED:
        return "SUND"
    if SHN_LOPROC <= shndx <= SHN_HIPROC:
        return "PRC[0x%04x]" % (shndx & 0xFFFF)
    if SHN_LOOS <= shndx <= SHN_HIOS:
        return "OS [0x%04x]" % (shndx & 0xFFFF)
    return "RSV[0x%04x]" % (shndx & 0xFFFF)


def is_reserved_index(sym: Symbol, extended: bool) -> bool:
    """Whether readelf reads ``sym``'s section index as a reserved one (ABS, COMMON...).

    ``extended`` says whether the symbol table has an ``SHT_SYMTAB_SHNDX`` companion, from
    which ``SHN_XINDEX`` symbols take their real index.
    """
    if sym.st_shndx == SHN.SHN_XINDEX and extended:
        return False
    return sym.st_shndx >= SHN.SHN_LORESERVE


def _has_shndx_table(elf: ElfFile, symtab: Section) -> bool:
    return any(s.sh_type == SHT.SHT_SYMTAB_SHNDX and s.sh_link == symtab.index
               for s in elf.sections)


def section_symbol_name(sym: Symbol, machine: int, elf: ElfFile, reserved: bool) -> str:
    """How ``-r`` names a section symbol that has no name of its own."""
    shndx = sym.shndx
    if not reserved:
        if shndx < elf.shnum and elf.sections:
            return elf.sections[shndx].name
        return "<section 0x%x>" % shndx
    if shndx == SHN.SHN_ABS:
        return "ABS"
    if shndx == SHN.SHN_COMMON:
        return "COMMON"
    if machine == EM.EM_MIPS and shndx == SHN_MIPS_SCOMMON:
        return "SCOMMON"
    if machine == EM.EM_MIPS and shndx == SHN_MIPS_SUNDEFINED:
        return "SUNDEF"
    if machine in _X86_64_LIKE and shndx == SHN_X86_64_LCOMMON:
        return "LARGE_COMMON"
    # readelf keeps reserved indexes in a 32-bit field, moved up to 0xffffff00
    return "<section 0x%x>" % (shndx | 0xFFFF0000)


# -- relocation types -----------------------------------------------------------------

# readelf's names where they are not the constants' enum names
_RELOC_EXTRA: dict[int, dict[int, str]] = {
    EM.EM_386: {7: "R_386_JUMP_SLOT", 200: "R_386_USED_BY_INTEL_200",
                250: "R_386_GNU_VTINHERIT", 251: "R_386_GNU_VTENTRY"},
    EM.EM_X86_64: {39: "R_X86_64_PC32_BND", 40: "R_X86_64_PLT32_BND",
                   250: "R_X86_64_GNU_VTINHERIT", 251: "R_X86_64_GNU_VTENTRY"},
}
# Intel MCU shares i386's relocations; L1OM and K1OM share x86-64's
_RELOC_ENUM: dict[int, type[IntEnum]] = {EM.EM_386: R_386, EM.EM_IAMCU: R_386,
                                         EM.EM_X86_64: R_X86_64, EM.EM_L1OM: R_X86_64,
                                         EM.EM_K1OM: R_X86_64}
_RELOC_EXTRA[EM.EM_IAMCU] = _RELOC_EXTRA[EM.EM_386]
_RELOC_EXTRA[EM.EM_L1OM] = _RELOC_EXTRA[EM.EM_K1OM] = _RELOC_EXTRA[EM.EM_X86_64]

# The other Linux architectures' psABI names, as runs of consecutive numbers: ``@N`` gives
# the number of the name after it, the prefix is left off. (Checked against readelf by the
# tests; MIPS, SuperH, LoongArch and the rest print as ``unrecognized``.)
_RELOC_RUNS: dict[int, tuple[str, str]] = {
    EM.EM_AARCH64: ("R_AARCH64_", """
        @0 NONE P32_ABS32 P32_ABS16 P32_PREL32 P32_PREL16 P32_MOVW_UABS_G0 P32_MOVW_UABS_G0_NC
        P32_MOVW_UABS_G1 P32_MOVW_SABS_G0 P32_LD_PREL_LO19 P32_ADR_PREL_LO21
        P32_ADR_PREL_PG_HI21 P32_ADD_ABS_LO12_NC P32_LDST8_ABS_LO12_NC P32_LDST16_ABS_LO12_NC
        P32_LDST32_ABS_LO12_NC P32_LDST64_ABS_LO12_NC P32_LDST128_ABS_LO12_NC P32_TSTBR14
        P32_CONDBR19 P32_JUMP26 P32_CALL26 P32_MOVW_PREL_G0 P32_MOVW_PREL_G0_NC P32_MOVW_PREL_G1
        P32_GOT_LD_PREL19 P32_ADR_GOT_PAGE P32_LD32_GOT_LO12_NC P32_LD32_GOTPAGE_LO14 @80
        P32_TLSGD_ADR_PREL21 P32_TLSGD_ADR_PAGE21 P32_TLSGD_ADD_LO12_NC P32_TLSLD_ADR_PREL21
        P32_TLSLD_ADR_PAGE21 P32_TLSLD_ADD_LO12_NC @87 P32_TLSLD_MOVW_DTPREL_G1
        P32_TLSLD_MOVW_DTPREL_G0 P32_TLSLD_MOVW_DTPREL_G0_NC P32_TLSLD_ADD_DTPREL_HI12
        P32_TLSLD_ADD_DTPREL_LO12 P32_TLSLD_ADD_DTPREL_LO12_NC @103
        P32_TLSIE_ADR_GOTTPREL_PAGE21 P32_TLSIE_LD32_GOTTPREL_LO12_NC
        P32_TLSIE_LD_GOTTPREL_PREL19 P32_TLSLE_MOVW_TPREL_G1 P32_TLSLE_MOVW_TPREL_G0
        P32_TLSLE_MOVW_TPREL_G0_NC P32_TLSLE_ADD_TPREL_HI12 P32_TLSLE_ADD_TPREL_LO12
        P32_TLSLE_ADD_TPREL_LO12_NC P32_TLSLE_LDST8_TPREL_LO12 P32_TLSLE_LDST8_TPREL_LO12_NC
        P32_TLSLE_LDST16_TPREL_LO12 P32_TLSLE_LDST16_TPREL_LO12_NC P32_TLSLE_LDST32_TPREL_LO12
        P32_TLSLE_LDST32_TPREL_LO12_NC P32_TLSLE_LDST64_TPREL_LO12
        P32_TLSLE_LDST64_TPREL_LO12_NC @122 P32_TLSDESC_LD_PREL19 P32_TLSDESC_ADR_PREL21
        P32_TLSDESC_ADR_PAGE21 P32_TLSDESC_LD32_LO12_NC P32_TLSDESC_ADD_LO12_NC P32_TLSDESC_CALL
        @180 P32_COPY P32_GLOB_DAT P32_JUMP_SLOT P32_RELATIVE P32_TLS_DTPMOD P32_TLS_DTPREL
        P32_TLS_TPREL P32_TLSDESC P32_IRELATIVE @256 NULL ABS64 ABS32 ABS16 PREL64 PREL32 PREL16
        MOVW_UABS_G0 MOVW_UABS_G0_NC MOVW_UABS_G1 MOVW_UABS_G1_NC MOVW_UABS_G2 MOVW_UABS_G2_NC
        MOVW_UABS_G3 MOVW_SABS_G0 MOVW_SABS_G1 MOVW_SABS_G2 LD_PREL_LO19 ADR_PREL_LO21
        ADR_PREL_PG_HI21 ADR_PREL_PG_HI21_NC ADD_ABS_LO12_NC LDST8_ABS_LO12_NC TSTBR14 CONDBR19
        @282 JUMP26 CALL26 LDST16_ABS_LO12_NC LDST32_ABS_LO12_NC LDST64_ABS_LO12_NC MOVW_PREL_G0
        MOVW_PREL_G0_NC MOVW_PREL_G1 MOVW_PREL_G1_NC MOVW_PREL_G2 MOVW_PREL_G2_NC MOVW_PREL_G3
        @299 LDST128_ABS_LO12_NC MOVW_GOTOFF_G0 MOVW_GOTOFF_G0_NC MOVW_GOTOFF_G1
        MOVW_GOTOFF_G1_NC MOVW_GOTOFF_G2 MOVW_GOTOFF_G2_NC MOVW_GOTOFF_G3 GOTREL64 GOTREL32
        GOT_LD_PREL19 LD64_GOTOFF_LO15 ADR_GOT_PAGE LD64_GOT_LO12_NC LD64_GOTPAGE_LO15 @512
        TLSGD_ADR_PREL21 TLSGD_ADR_PAGE21 TLSGD_ADD_LO12_NC TLSGD_MOVW_G1 TLSGD_MOVW_G0_NC
        TLSLD_ADR_PREL21 TLSLD_ADR_PAGE21 TLSLD_ADD_LO12_NC TLSLD_MOVW_G1 TLSLD_MOVW_G0_NC
        TLSLD_LD_PREL19 TLSLD_MOVW_DTPREL_G2 TLSLD_MOVW_DTPREL_G1 TLSLD_MOVW_DTPREL_G1_NC
        TLSLD_MOVW_DTPREL_G0 TLSLD_MOVW_DTPREL_G0_NC TLSLD_ADD_DTPREL_HI12 TLSLD_ADD_DTPREL_LO12
        TLSLD_ADD_DTPREL_LO12_NC TLSLD_LDST8_DTPREL_LO12 TLSLD_LDST8_DTPREL_LO12_NC
        TLSLD_LDST16_DTPREL_LO12 TLSLD_LDST16_DTPREL_LO12_NC TLSLD_LDST32_DTPREL_LO12
        TLSLD_LDST32_DTPREL_LO12_NC TLSLD_LDST64_DTPREL_LO12 TLSLD_LDST64_DTPREL_LO12_NC
        TLSIE_MOVW_GOTTPREL_G1 TLSIE_MOVW_GOTTPREL_G0_NC TLSIE_ADR_GOTTPREL_PAGE21
        TLSIE_LD64_GOTTPREL_LO12_NC TLSIE_LD_GOTTPREL_PREL19 TLSLE_MOVW_TPREL_G2
        TLSLE_MOVW_TPREL_G1 TLSLE_MOVW_TPREL_G1_NC TLSLE_MOVW_TPREL_G0 TLSLE_MOVW_TPREL_G0_NC
        TLSLE_ADD_TPREL_HI12 TLSLE_ADD_TPREL_LO12 TLSLE_ADD_TPREL_LO12_NC TLSLE_LDST8_TPREL_LO12
        TLSLE_LDST8_TPREL_LO12_NC TLSLE_LDST16_TPREL_LO12 TLSLE_LDST16_TPREL_LO12_NC
        TLSLE_LDST32_TPREL_LO12 TLSLE_LDST32_TPREL_LO12_NC TLSLE_LDST64_TPREL_LO12
        TLSLE_LDST64_TPREL_LO12_NC TLSDESC_LD_PREL19 TLSDESC_ADR_PREL21 TLSDESC_ADR_PAGE21
        TLSDESC_LD64_LO12 TLSDESC_ADD_LO12 TLSDESC_OFF_G1 TLSDESC_OFF_G0_NC TLSDESC_LDR
        TLSDESC_ADD TLSDESC_CALL TLSLE_LDST128_TPREL_LO12 TLSLE_LDST128_TPREL_LO12_NC
        TLSLD_LDST128_DTPREL_LO12 TLSLD_LDST128_DTPREL_LO12_NC @1024 COPY GLOB_DAT JUMP_SLOT
        RELATIVE TLS_DTPMOD64 TLS_DTPREL64 TLS_TPREL64 TLSDESC IRELATIVE
    """),
    EM.EM_ARM: ("R_ARM_", """
        @0 NONE PC24 ABS32 REL32 LDR_PC_G0 ABS16 ABS12 THM_ABS5 ABS8 SBREL32 THM_CALL THM_PC8
        BREL_ADJ TLS_DESC THM_SWI8 XPC25 THM_XPC22 TLS_DTPMOD32 TLS_DTPOFF32 TLS_TPOFF32 COPY
        GLOB_DAT JUMP_SLOT RELATIVE GOTOFF32 BASE_PREL GOT_BREL PLT32 CALL JUMP24 THM_JUMP24
        BASE_ABS ALU_PCREL7_0 ALU_PCREL15_8 ALU_PCREL23_15 LDR_SBREL_11_0 ALU_SBREL_19_12
        ALU_SBREL_27_20 TARGET1 SBREL31 V4BX TARGET2 PREL31 MOVW_ABS_NC MOVT_ABS MOVW_PREL_NC
        MOVT_PREL THM_MOVW_ABS_NC THM_MOVT_ABS THM_MOVW_PREL_NC THM_MOVT_PREL THM_JUMP19
        THM_JUMP6 THM_ALU_PREL_11_0 THM_PC12 ABS32_NOI REL32_NOI ALU_PC_G0_NC ALU_PC_G0
        ALU_PC_G1_NC ALU_PC_G1 ALU_PC_G2 LDR_PC_G1 LDR_PC_G2 LDRS_PC_G0 LDRS_PC_G1 LDRS_PC_G2
        LDC_PC_G0 LDC_PC_G1 LDC_PC_G2 ALU_SB_G0_NC ALU_SB_G0 ALU_SB_G1_NC ALU_SB_G1 ALU_SB_G2
        LDR_SB_G0 LDR_SB_G1 LDR_SB_G2 LDRS_SB_G0 LDRS_SB_G1 LDRS_SB_G2 LDC_SB_G0 LDC_SB_G1
        LDC_SB_G2 MOVW_BREL_NC MOVT_BREL MOVW_BREL THM_MOVW_BREL_NC THM_MOVT_BREL THM_MOVW_BREL
        TLS_GOTDESC TLS_CALL TLS_DESCSEQ THM_TLS_CALL PLT32_ABS GOT_ABS GOT_PREL GOT_BREL12
        GOTOFF12 GOTRELAX GNU_VTENTRY GNU_VTINHERIT THM_JUMP11 THM_JUMP8 TLS_GD32 TLS_LDM32
        TLS_LDO32 TLS_IE32 TLS_LE32 TLS_LDO12 TLS_LE12 TLS_IE12GP @128 ME_TOO THM_TLS_DESCSEQ
        @132 THM_ALU_ABS_G0_NC THM_ALU_ABS_G1_NC THM_ALU_ABS_G2_NC THM_ALU_ABS_G3_NC THM_BF16
        THM_BF12 THM_BF18 @160 IRELATIVE GOTFUNCDESC GOTOFFFUNCDESC FUNCDESC FUNCDESC_VALUE
        TLS_GD32_FDPIC TLS_LDM32_FDPIC TLS_IE32_FDPIC @249 RXPC25 RSBREL32 THM_RPC22 RREL32
        RABS32 RPC24 RBASE
    """),
    EM.EM_RISCV: ("R_RISCV_", """
        @0 NONE 32 64 RELATIVE COPY JUMP_SLOT TLS_DTPMOD32 TLS_DTPMOD64 TLS_DTPREL32
        TLS_DTPREL64 TLS_TPREL32 TLS_TPREL64 @16 BRANCH JAL CALL CALL_PLT GOT_HI20 TLS_GOT_HI20
        TLS_GD_HI20 PCREL_HI20 PCREL_LO12_I PCREL_LO12_S HI20 LO12_I LO12_S TPREL_HI20
        TPREL_LO12_I TPREL_LO12_S TPREL_ADD ADD8 ADD16 ADD32 ADD64 SUB8 SUB16 SUB32 SUB64 @43
        ALIGN RVC_BRANCH RVC_JUMP RVC_LUI GPREL_I GPREL_S TPREL_I TPREL_S RELAX SUB6 SET6 SET8
        SET16 SET32 32_PCREL IRELATIVE
    """),
    EM.EM_PPC: ("R_PPC_", """
        @0 NONE ADDR32 ADDR24 ADDR16 ADDR16_LO ADDR16_HI ADDR16_HA ADDR14 ADDR14_BRTAKEN
        ADDR14_BRNTAKEN REL24 REL14 REL14_BRTAKEN REL14_BRNTAKEN GOT16 GOT16_LO GOT16_HI
        GOT16_HA PLTREL24 COPY GLOB_DAT JMP_SLOT RELATIVE LOCAL24PC UADDR32 UADDR16 REL32 PLT32
        PLTREL32 PLT16_LO PLT16_HI PLT16_HA SDAREL16 SECTOFF SECTOFF_LO SECTOFF_HI SECTOFF_HA
        ADDR30 @67 TLS DTPMOD32 TPREL16 TPREL16_LO TPREL16_HI TPREL16_HA TPREL32 DTPREL16
        DTPREL16_LO DTPREL16_HI DTPREL16_HA DTPREL32 GOT_TLSGD16 GOT_TLSGD16_LO GOT_TLSGD16_HI
        GOT_TLSGD16_HA GOT_TLSLD16 GOT_TLSLD16_LO GOT_TLSLD16_HI GOT_TLSLD16_HA GOT_TPREL16
        GOT_TPREL16_LO GOT_TPREL16_HI GOT_TPREL16_HA GOT_DTPREL16 GOT_DTPREL16_LO
        GOT_DTPREL16_HI GOT_DTPREL16_HA TLSGD TLSLD @101 EMB_NADDR32 EMB_NADDR16 EMB_NADDR16_LO
        EMB_NADDR16_HI EMB_NADDR16_HA EMB_SDAI16 EMB_SDA2I16 EMB_SDA2REL EMB_SDA21 EMB_MRKREF
        EMB_RELSEC16 EMB_RELST_LO EMB_RELST_HI EMB_RELST_HA EMB_BIT_FLD EMB_RELSDA @119 PLTSEQ
        PLTCALL @216 VLE_REL8 VLE_REL15 VLE_REL24 VLE_LO16A VLE_LO16D VLE_HI16A VLE_HI16D
        VLE_HA16A VLE_HA16D VLE_SDA21 VLE_SDA21_LO VLE_SDAREL_LO16A VLE_SDAREL_LO16D
        VLE_SDAREL_HI16A VLE_SDAREL_HI16D VLE_SDAREL_HA16A VLE_SDAREL_HA16D VLE_ADDR20 @246
        REL16DX_HA @248 IRELATIVE REL16 REL16_LO REL16_HI REL16_HA GNU_VTINHERIT GNU_VTENTRY
        TOC16
    """),
    EM.EM_PPC64: ("R_PPC64_", """
        @0 NONE ADDR32 ADDR24 ADDR16 ADDR16_LO ADDR16_HI ADDR16_HA ADDR14 ADDR14_BRTAKEN
        ADDR14_BRNTAKEN REL24 REL14 REL14_BRTAKEN REL14_BRNTAKEN GOT16 GOT16_LO GOT16_HI
        GOT16_HA @19 COPY GLOB_DAT JMP_SLOT RELATIVE @24 UADDR32 UADDR16 REL32 PLT32 PLTREL32
        PLT16_LO PLT16_HI PLT16_HA @33 SECTOFF SECTOFF_LO SECTOFF_HI SECTOFF_HA REL30 ADDR64
        ADDR16_HIGHER ADDR16_HIGHERA ADDR16_HIGHEST ADDR16_HIGHESTA UADDR64 REL64 PLT64 PLTREL64
        TOC16 TOC16_LO TOC16_HI TOC16_HA TOC PLTGOT16 PLTGOT16_LO PLTGOT16_HI PLTGOT16_HA
        ADDR16_DS ADDR16_LO_DS GOT16_DS GOT16_LO_DS PLT16_LO_DS SECTOFF_DS SECTOFF_LO_DS
        TOC16_DS TOC16_LO_DS PLTGOT16_DS PLTGOT16_LO_DS TLS DTPMOD64 TPREL16 TPREL16_LO
        TPREL16_HI TPREL16_HA TPREL64 DTPREL16 DTPREL16_LO DTPREL16_HI DTPREL16_HA DTPREL64
        GOT_TLSGD16 GOT_TLSGD16_LO GOT_TLSGD16_HI GOT_TLSGD16_HA GOT_TLSLD16 GOT_TLSLD16_LO
        GOT_TLSLD16_HI GOT_TLSLD16_HA GOT_TPREL16_DS GOT_TPREL16_LO_DS GOT_TPREL16_HI
        GOT_TPREL16_HA GOT_DTPREL16_DS GOT_DTPREL16_LO_DS GOT_DTPREL16_HI GOT_DTPREL16_HA
        TPREL16_DS TPREL16_LO_DS TPREL16_HIGHER TPREL16_HIGHERA TPREL16_HIGHEST TPREL16_HIGHESTA
        DTPREL16_DS DTPREL16_LO_DS DTPREL16_HIGHER DTPREL16_HIGHERA DTPREL16_HIGHEST
        DTPREL16_HIGHESTA TLSGD TLSLD TOCSAVE ADDR16_HIGH ADDR16_HIGHA TPREL16_HIGH
        TPREL16_HIGHA DTPREL16_HIGH DTPREL16_HIGHA REL24_NOTOC ADDR64_LOCAL ENTRY PLTSEQ PLTCALL
        PLTSEQ_NOTOC PLTCALL_NOTOC PCREL_OPT REL24_P9NOTOC @128 D34 D34_LO D34_HI30 D34_HA30
        PCREL34 GOT_PCREL34 PLT_PCREL34 PLT_PCREL34_NOTOC ADDR16_HIGHER34 ADDR16_HIGHERA34
        ADDR16_HIGHEST34 ADDR16_HIGHESTA34 REL16_HIGHER34 REL16_HIGHERA34 REL16_HIGHEST34
        REL16_HIGHESTA34 D28 PCREL28 TPREL34 DTPREL34 GOT_TLSGD_PCREL34 GOT_TLSLD_PCREL34
        GOT_TPREL_PCREL34 GOT_DTPREL_PCREL34 @240 REL16_HIGH REL16_HIGHA REL16_HIGHER
        REL16_HIGHERA REL16_HIGHEST REL16_HIGHESTA REL16DX_HA JMP_IREL IRELATIVE REL16 REL16_LO
        REL16_HI REL16_HA GNU_VTINHERIT GNU_VTENTRY
    """),
    EM.EM_S390: ("R_390_", """
        @0 NONE 8 12 16 32 PC32 GOT12 GOT32 PLT32 COPY GLOB_DAT JMP_SLOT RELATIVE GOTOFF32 GOTPC
        GOT16 PC16 PC16DBL PLT16DBL PC32DBL PLT32DBL GOTPCDBL 64 PC64 GOT64 PLT64 GOTENT
        GOTOFF16 GOTOFF64 GOTPLT12 GOTPLT16 GOTPLT32 GOTPLT64 GOTPLTENT PLTOFF16 PLTOFF32
        PLTOFF64 TLS_LOAD TLS_GDCALL TLS_LDCALL TLS_GD32 TLS_GD64 TLS_GOTIE12 TLS_GOTIE32
        TLS_GOTIE64 TLS_LDM32 TLS_LDM64 TLS_IE32 TLS_IE64 TLS_IEENT TLS_LE32 TLS_LE64 TLS_LDO32
        TLS_LDO64 TLS_DTPMOD TLS_DTPOFF TLS_TPOFF 20 GOT20 GOTPLT20 TLS_GOTIE20 IRELATIVE
        PC12DBL PLT12DBL PC24DBL PLT24DBL @250 GNU_VTINHERIT GNU_VTENTRY
    """),
}


def _parse_runs(prefix: str, text: str) -> dict[int, str]:
    names: dict[int, str] = {}
    number = 0
    for token in text.split():
        if token.startswith("@"):
            number = int(token[1:])
            continue
        names[number] = prefix + token
        number += 1
    return names


_RELOC_NAMES = {machine: _parse_runs(*runs) for machine, runs in _RELOC_RUNS.items()}


def reloc_type_name(machine: int, r_type: int) -> str | None:
    """The psABI name of relocation ``r_type`` on ``machine``, or ``None`` if unknown."""
    if machine in _RELOC_NAMES:
        return _RELOC_NAMES[machine].get(r_type)
    names = _RELOC_EXTRA.get(machine, {})
    if r_type in names:
        return names[r_type]
    enum = _RELOC_ENUM.get(machine)
    if enum is not None:
        try:
            return enum(r_type).name
        except ValueError:
            return None
    return None


# -- names from the file --------------------------------------------------------------

def printable(name: str) -> str:
    """A name as readelf prints it: control characters as ``^X``, other bytes as they are."""
    if name.isprintable() and name.isascii():
        return name
    out = []
    for ch in name:
        c = ord(ch)
        if c < 0x20 or c == 0x7F:
            out.append("^" + chr((c + 0x40) & 0xFF))
        else:
            out.append(ch)
    return "".join(out)


def _padded(name: str, width: int) -> str:
    """readelf's ``print_symbol`` with a negative width, in wide mode: never truncated."""
    text = printable(name)
    return text + " " * (width - len(text)) if len(text) < width else text


# -- the views ------------------------------------------------------------------------

def _ident(elf: ElfFile) -> bytes:
    return elf.header.e_ident


def _osabi(elf: ElfFile) -> int:
    return _ident(elf)[EI_OSABI]


def file_header(elf: ElfFile) -> str:
    """``readelf -h``."""
    h = elf.header
    ident = h.e_ident
    lines = [
        "ELF Header:",
        "  Magic:   " + "".join("%2.2x " % b for b in ident),
        "  Class:                             " + class_name(ident[EI_CLASS]),
        "  Data:                              " + data_name(ident[EI_DATA]),
        "  Version:                           " + ident_version(ident[EI_VERSION]),
        "  OS/ABI:                            " + osabi_name(ident[EI_OSABI], h.e_machine),
        "  ABI Version:                       %d" % ident[EI_ABIVERSION],
        "  Type:                              " + file_type_name(h.e_type, _is_pie(elf)),
        "  Machine:                           " + machine_name(h.e_machine),
        "  Version:                           0x%x" % h.e_version,
        "  Entry point address:               0x%x" % h.e_entry,
        # readelf prints file offsets with a signed 64-bit %ld
        "  Start of program headers:          %d (bytes into file)" % sign_extend(h.e_phoff, 64),
        "  Start of section headers:          %d (bytes into file)" % sign_extend(h.e_shoff, 64),
        "  Flags:                             0x%x%s" % (h.e_flags,
                                                         machine_flags(h.e_machine, h.e_flags)),
        "  Size of this header:               %u (bytes)" % h.e_ehsize,
        "  Size of program headers:           %u (bytes)" % h.e_phentsize,
        "  Number of program headers:         %u" % h.e_phnum + _phnum_note(elf),
        "  Size of section headers:           %u (bytes)" % h.e_shentsize,
        "  Number of section headers:         %u" % h.e_shnum + _shnum_note(elf),
        "  Section header string table index: %u" % h.e_shstrndx + _shstrndx_note(elf),
    ]
    return "\n".join(lines) + "\n"


def _is_pie(elf: ElfFile) -> bool:
    """A shared object whose ``.dynamic`` has ``DF_1_PIE`` in ``DT_FLAGS_1``."""
    if elf.header.e_type != ET.ET_DYN:
        return False
    for section in elf.sections_of_type(SHT.SHT_DYNAMIC):
        data = section.data
        word = elf.layout.addr
        for off in range(0, len(data) - 2 * word.size + 1, 2 * word.size):
            tag, val = word.unpack_from(data, off)[0], word.unpack_from(data, off + word.size)[0]
            if tag == DT_FLAGS_1:
                return bool(val & DF_1_PIE)
            if tag == DT_NULL:
                break
        break
    return False


def _section0(elf: ElfFile) -> Shdr | None:
    return elf.sections[0].header if elf.header.e_shoff and elf.sections else None


def _phnum_note(elf: ElfFile) -> str:
    sh0 = _section0(elf)
    if sh0 is not None and elf.header.e_phnum == PN_XNUM and sh0.sh_info:
        return " (%u)" % sh0.sh_info
    return ""


def _shnum_note(elf: ElfFile) -> str:
    # extended numbering: the real count lives in section 0's sh_size
    sh0 = _section0(elf)
    return " (%u)" % sh0.sh_size if sh0 is not None and elf.header.e_shnum == 0 else ""


def _shstrndx_note(elf: ElfFile) -> str:
    sh0 = _section0(elf)
    h = elf.header
    note, index, count = "", h.e_shstrndx, h.e_shnum
    if sh0 is not None:
        if index == SHN.SHN_XINDEX:
            index = sh0.sh_link
            note = " (%u)" % index
        if count == 0:
            count = sh0.sh_size
    if index != SHN.SHN_UNDEF and index >= count:
        note += " <corrupt: out of range>"
    return note


def section_headers(elf: ElfFile, with_count: bool = True) -> str:
    """``readelf -S``; ``with_count=False`` drops the first line, as ``-h -S`` does."""
    if not elf.sections:
        return "\nThere are no sections in this file.\n"
    shnum = len(elf.sections)
    out = []
    if with_count:
        out.append("There %s %d section header%s, starting at offset %s:\n" % (
            "are" if shnum > 1 else "is", shnum, "s" if shnum > 1 else "",
            _c_alt_hex(elf.header.e_shoff)))
    out.append("\nSection Header%s:\n" % ("s" if shnum > 1 else ""))
    machine, osabi = elf.header.e_machine, _osabi(elf)
    out.append("  [Nr] Name              Type            %s Off    Size   ES Flg Lk Inf Al\n"
               % ("Addr    " if elf.layout.bits == 32 else "Address         "))
    for s in elf.sections:
        out.append(_section_line(s, machine, osabi, elf.layout.bits))
    out.append(flags_footer(machine, osabi))
    return "".join(out)


def _section_line(section: Section, machine: int, osabi: int, bits: int) -> str:
    h = section.header
    addr = "%08x" % h.sh_addr if bits == 32 else "%016x" % h.sh_addr
    return "  [%2u] %s %-15s %s %6.6x %6.6x %2.2x %3s %2u %3u %2u\n" % (
        section.index, _padded(section.name, 17), section_type_name(h.sh_type, machine, osabi),
        addr, h.sh_offset, h.sh_size, entry_size(section, bits),
        section_flags_key(h.sh_flags, machine, osabi), h.sh_link, h.sh_info, h.sh_addralign)


def symbol_tables(elf: ElfFile) -> str:
    """``readelf -s``: every ``SHT_SYMTAB`` and ``SHT_DYNSYM`` section, in section order."""
    if not elf.sections:
        return "\nDynamic symbol information is not available for displaying symbols.\n"
    out = []
    for s in elf.sections:
        if s.sh_type in (SHT.SHT_SYMTAB, SHT.SHT_DYNSYM):
            out.append(_symbol_table(elf, s))
    return "".join(out)


def _symbol_table(elf: ElfFile, section: Section) -> str:
    name = printable(section.name)
    count = section.sh_size // entry_size(section, elf.layout.bits)
    out = ["\nSymbol table '%s' contains %d %s:\n" % (name, count, _entries(count))]
    if elf.layout.bits == 32:
        out.append("   Num:    Value  Size Type    Bind   Vis      Ndx Name\n")
    else:
        out.append("   Num:    Value          Size Type    Bind   Vis      Ndx Name\n")
    machine, osabi = elf.header.e_machine, _osabi(elf)
    vfmt = "%08x" if elf.layout.bits == 32 else "%016x"
    extended = _has_shndx_table(elf, section)
    for sym in elf.symbols_of(section):
        out.append(_symbol_line(elf, sym, machine, osabi, vfmt, extended))
    return "".join(out)


def _symbol_line(elf: ElfFile, sym: Symbol, machine: int, osabi: int, vfmt: str,
                 extended: bool) -> str:
    reserved = is_reserved_index(sym, extended)
    size = "%5d" % sym.st_size if sym.st_size <= 99999 else "0x%x" % sym.st_size
    vis = sym.st_other & 3
    other = ""
    if osabi == ELFOSABI_SOLARIS:
        # Solaris uses the whole st_other for its own visibilities
        vis_name = _VISIBILITY_SOLARIS.get(sym.st_other, "<unknown>")
    else:
        vis_name = visibility_name(vis)
        if sym.st_other ^ vis:
            other = " [%s] " % symbol_other_name(sym.st_other ^ vis, machine)
    if sym.type == STT.STT_SECTION and sym.st_name == 0 and not reserved and sym.shndx < elf.shnum:
        name = elf.sections[sym.shndx].name
    else:
        name = sym.name
    return "%6d: %s %s %-7s %-6s %-7s%s %4s %s\n" % (
        sym.index, vfmt % sym.st_value, size, symbol_type_name(sym.type, machine, osabi),
        symbol_bind_name(sym.bind, osabi), vis_name, other,
        section_index_name(sym.shndx, machine, elf.shnum, reserved), printable(name))


def relocations(elf: ElfFile) -> str:
    """``readelf -r``: every ``SHT_REL``/``SHT_RELA`` section with entries."""
    out, dumped = [], False
    for rs in elf.relocation_sections:
        if rs.section.sh_size:
            text, listed = _relocation_section(elf, rs)
            out.append(text)
            dumped |= listed
    if not dumped:
        # also when every section was skipped for a bad symbol table link
        out.append("\nThere are no relocations in this file.\n")
    return "".join(out)


_REL_HEADER = {
    32: " Offset     Info    Type                Sym. Value  Symbol's Name",
    64: "    Offset             Info             Type               Symbol's Value  Symbol's Name",
}


def _entries(count: int) -> str:
    return "entry" if count == 1 else "entries"


def _relocation_section(elf: ElfFile, rs: RelocationSection) -> tuple[str, bool]:
    """``(text, listed)``: ``listed`` is false when readelf skips the entries."""
    sec = rs.section
    count = sec.sh_size // entry_size(sec, elf.layout.bits)
    out = ["\nRelocation section '%s' at offset %s contains %d %s:\n" % (
        printable(sec.name), _c_alt_hex(sec.sh_offset), count, _entries(count))]
    bits = elf.layout.bits
    out.append(_REL_HEADER[bits] + (" + Addend\n" if rs.is_rela else "\n"))
    symbols: list[Symbol] | None = None
    strtab_size, extended = 0, False
    link = sec.sh_link
    if link != 0 and link < elf.shnum:
        symsec = elf.sections[link]
        if symsec.sh_type not in (SHT.SHT_SYMTAB, SHT.SHT_DYNSYM):
            return out[0], False
        symbols = elf.symbols_of(symsec)
        strtab_size = len(elf.string_table(symsec.sh_link))
        extended = _has_shndx_table(elf, symsec)
    machine = elf.header.e_machine
    for r in rs.entries:
        out.append(_relocation_line(elf, r, rs.is_rela, symbols, (strtab_size, extended),
                                    machine, bits))
    return "".join(out), True


def _addend(addend: int, bits: int) -> tuple[str, int]:
    mask = (1 << 64) - 1
    value = addend & mask
    if value >> 63:
        return "-", (-value) & mask
    return "+", value


def _relocation_line(elf: ElfFile, r: Relocation, is_rela: bool, symbols: list[Symbol] | None,
                     symtab_facts: tuple[int, bool], machine: int, bits: int) -> str:
    strtab_size, extended = symtab_facts
    if bits == 32:
        line = "%8.8x  %8.8x " % (r.r_offset & 0xFFFFFFFF, r.r_info & 0xFFFFFFFF)
    else:
        line = "%16.16x  %16.16x " % (r.r_offset, r.r_info)
    name = reloc_type_name(machine, r.type)
    line += "unrecognized: %-7x" % r.type if name is None else "%-22s" % name
    if r.sym:
        if symbols is None or r.sym >= len(symbols):
            return line + "\n"
        sym = symbols[r.sym]
        if sym.type == STT.STT_GNU_IFUNC:
            # the value column shows the resolver that the relocation will call
            width = 8 if bits == 32 else 14
            name = printable(sym.name) if 0 < sym.st_name < strtab_size else "??"
            line += " " + name + "()" + " " * (width + 1 - len(name) if len(name) <= width else 1)
        else:
            line += " " + ("%08x   " % sym.st_value if bits == 32 else "%016x " % sym.st_value)
        if sym.st_name == 0:
            if sym.type == STT.STT_SECTION:
                reserved = is_reserved_index(sym, extended)
                line += printable(section_symbol_name(sym, machine, elf, reserved))
            else:
                line += "<null>"
        elif sym.st_name < strtab_size:
            line += printable(sym.name)
        # else: readelf reports the bad name offset on stderr and prints no name
        if is_rela:
            sign, value = _addend(r.addend or 0, bits)   # RELA: never None
            line += " %s %x" % (sign, value)
    elif is_rela:
        sign, value = _addend(r.addend or 0, bits)
        line += " " * (12 if bits == 32 else 20) + ("-" if sign == "-" else "") + "%x" % value
    return line + "\n"
