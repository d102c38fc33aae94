"""ELF constants, spelled as in the gABI, the psABIs and the kernel's ``elf.h``.

Numbers stay numbers in the parsed records; only the describe layer turns them into names.
This is the one home of every ELF constant the linker uses: the other modules import them
from here. Values that name a kind of thing are enum members; range bounds (``*_LOOS`` ...
``*_HIPROC``) and processor- or OS-specific values, which reuse each other's numbers, are
plain module constants.

``SHF`` members are ``IntFlag``s: an operator on one builds a new enum member (some 30 times
slower than on an ``int``), and ``~`` of one keeps only the bits ``SHF`` knows. Code that
tests flags per section or per symbol takes ``int(SHF.SHF_ALLOC)`` once, as
:mod:`linker.elf.validate` does.
"""

from enum import IntEnum, IntFlag

ELFMAG = b"\x7fELF"
EI_NIDENT = 16

# e_ident indices
EI_CLASS = 4
EI_DATA = 5
EI_VERSION = 6
EI_OSABI = 7
EI_ABIVERSION = 8


class ElfClass(IntEnum):
    ELFCLASSNONE = 0
    ELFCLASS32 = 1
    ELFCLASS64 = 2


class ElfData(IntEnum):
    ELFDATANONE = 0
    ELFDATA2LSB = 1
    ELFDATA2MSB = 2


# e_ident[EI_OSABI]
ELFOSABI_NONE = 0
ELFOSABI_GNU = 3
ELFOSABI_SOLARIS = 6
ELFOSABI_FREEBSD = 9


class ET(IntEnum):
    ET_NONE = 0
    ET_REL = 1
    ET_EXEC = 2
    ET_DYN = 3
    ET_CORE = 4


class EM(IntEnum):
    EM_NONE = 0
    EM_SPARC = 2
    EM_386 = 3
    EM_IAMCU = 6
    EM_486 = 6              # the kernel's name for 6 (include/uapi/linux/elf-em.h)
    EM_MIPS = 8
    EM_PARISC = 15
    EM_PPC = 20
    EM_PPC64 = 21
    EM_S390 = 22
    EM_ARM = 40
    EM_SPARCV9 = 43
    EM_X86_64 = 62
    EM_L1OM = 180
    EM_K1OM = 181
    EM_AARCH64 = 183
    EM_RISCV = 243


# e_flags, per machine
EF_ARM_RELEXEC = 0x1
EF_ARM_PIC = 0x20


class SHN(IntEnum):
    SHN_UNDEF = 0
    SHN_LORESERVE = 0xFF00
    # kernel-private (include/uapi/linux/elf.h): a livepatch symbol, resolved by livepatch
    SHN_LIVEPATCH = 0xFF20
    SHN_ABS = 0xFFF1
    SHN_COMMON = 0xFFF2
    SHN_XINDEX = 0xFFFF


SHN_LOPROC, SHN_HIPROC = 0xFF00, 0xFF1F
SHN_LOOS, SHN_HIOS = 0xFF20, 0xFF3F
SHN_X86_64_LCOMMON = 0xFF02
SHN_MIPS_SCOMMON = 0xFF03
SHN_MIPS_SUNDEFINED = 0xFF04


class SHT(IntEnum):
    SHT_NULL = 0
    SHT_PROGBITS = 1
    SHT_SYMTAB = 2
    SHT_STRTAB = 3
    SHT_RELA = 4
    SHT_HASH = 5
    SHT_DYNAMIC = 6
    SHT_NOTE = 7
    SHT_NOBITS = 8
    SHT_REL = 9
    SHT_SHLIB = 10
    SHT_DYNSYM = 11
    SHT_INIT_ARRAY = 14
    SHT_FINI_ARRAY = 15
    SHT_PREINIT_ARRAY = 16
    SHT_GROUP = 17
    SHT_SYMTAB_SHNDX = 18
    SHT_RELR = 19
    SHT_GNU_ATTRIBUTES = 0x6FFFFFF5
    SHT_GNU_HASH = 0x6FFFFFF6
    SHT_GNU_LIBLIST = 0x6FFFFFF7
    SHT_GNU_verdef = 0x6FFFFFFD
    SHT_GNU_verneed = 0x6FFFFFFE
    SHT_GNU_versym = 0x6FFFFFFF
    SHT_X86_64_UNWIND = 0x70000001


SHT_LOOS, SHT_HIOS = 0x60000000, 0x6FFFFFFF
SHT_LOPROC, SHT_HIPROC = 0x70000000, 0x7FFFFFFF
SHT_LOUSER, SHT_HIUSER = 0x80000000, 0xFFFFFFFF


class SHF(IntFlag):
    SHF_WRITE = 0x1
    SHF_ALLOC = 0x2
    SHF_EXECINSTR = 0x4
    SHF_MERGE = 0x10
    SHF_STRINGS = 0x20
    SHF_INFO_LINK = 0x40
    SHF_LINK_ORDER = 0x80
    SHF_OS_NONCONFORMING = 0x100
    SHF_GROUP = 0x200
    SHF_TLS = 0x400
    SHF_COMPRESSED = 0x800
    SHF_X86_64_LARGE = 0x10000000
    SHF_GNU_RETAIN = 0x200000
    SHF_EXCLUDE = 0x80000000
    # kernel-private, set by the module loader on .data..ro_after_init and __jump_table
    SHF_RO_AFTER_INIT = 0x00200000
    # kernel-private: a relocation section that livepatch applies, not the module loader
    SHF_RELA_LIVEPATCH = 0x00100000


SHF_MASKOS = 0x0FF00000
SHF_MASKPROC = 0xF0000000
SHF_GNU_MBIND = 0x01000000
SHF_ARM_PURECODE = 0x20000000
SHF_PPC_VLE = 0x10000000

GRP_COMDAT = 0x1


class STB(IntEnum):
    STB_LOCAL = 0
    STB_GLOBAL = 1
    STB_WEAK = 2
    STB_GNU_UNIQUE = 10


STB_LOOS, STB_HIOS = 10, 12
STB_LOPROC, STB_HIPROC = 13, 15


class STT(IntEnum):
    STT_NOTYPE = 0
    STT_OBJECT = 1
    STT_FUNC = 2
    STT_SECTION = 3
    STT_FILE = 4
    STT_COMMON = 5
    STT_TLS = 6
    STT_GNU_IFUNC = 10


STT_LOOS, STT_HIOS = 10, 12
STT_LOPROC, STT_HIPROC = 13, 15
STT_ARM_TFUNC = 13
STT_PARISC_MILLICODE = 13
STT_SPARC_REGISTER = 13     # kmod and modpost call it STT_REGISTER


class STV(IntEnum):
    STV_DEFAULT = 0
    STV_INTERNAL = 1
    STV_HIDDEN = 2
    STV_PROTECTED = 3


# st_other bits above the visibility, per machine
STO_AARCH64_VARIANT_PCS = 0x80
STO_RISCV_VARIANT_CC = 0x80

# program headers and the dynamic section (readelf -h looks at them)
PN_XNUM = 0xFFFF
DT_NULL = 0
DT_FLAGS_1 = 0x6FFFFFFB
DF_1_PIE = 0x08000000


class R_386(IntEnum):
    R_386_NONE = 0
    R_386_32 = 1
    R_386_PC32 = 2
    R_386_GOT32 = 3
    R_386_PLT32 = 4
    R_386_COPY = 5
    R_386_GLOB_DAT = 6
    R_386_JMP_SLOT = 7
    R_386_RELATIVE = 8
    R_386_GOTOFF = 9
    R_386_GOTPC = 10
    R_386_32PLT = 11
    R_386_TLS_TPOFF = 14
    R_386_TLS_IE = 15
    R_386_TLS_GOTIE = 16
    R_386_TLS_LE = 17
    R_386_TLS_GD = 18
    R_386_TLS_LDM = 19
    R_386_16 = 20
    R_386_PC16 = 21
    R_386_8 = 22
    R_386_PC8 = 23
    R_386_TLS_GD_32 = 24
    R_386_TLS_GD_PUSH = 25
    R_386_TLS_GD_CALL = 26
    R_386_TLS_GD_POP = 27
    R_386_TLS_LDM_32 = 28
    R_386_TLS_LDM_PUSH = 29
    R_386_TLS_LDM_CALL = 30
    R_386_TLS_LDM_POP = 31
    R_386_TLS_LDO_32 = 32
    R_386_TLS_IE_32 = 33
    R_386_TLS_LE_32 = 34
    R_386_TLS_DTPMOD32 = 35
    R_386_TLS_DTPOFF32 = 36
    R_386_TLS_TPOFF32 = 37
    R_386_SIZE32 = 38
    R_386_TLS_GOTDESC = 39
    R_386_TLS_DESC_CALL = 40
    R_386_TLS_DESC = 41
    R_386_IRELATIVE = 42
    R_386_GOT32X = 43


class R_X86_64(IntEnum):
    R_X86_64_NONE = 0
    R_X86_64_64 = 1
    R_X86_64_PC32 = 2
    R_X86_64_GOT32 = 3
    R_X86_64_PLT32 = 4
    R_X86_64_COPY = 5
    R_X86_64_GLOB_DAT = 6
    R_X86_64_JUMP_SLOT = 7
    R_X86_64_RELATIVE = 8
    R_X86_64_GOTPCREL = 9
    R_X86_64_32 = 10
    R_X86_64_32S = 11
    R_X86_64_16 = 12
    R_X86_64_PC16 = 13
    R_X86_64_8 = 14
    R_X86_64_PC8 = 15
    R_X86_64_DTPMOD64 = 16
    R_X86_64_DTPOFF64 = 17
    R_X86_64_TPOFF64 = 18
    R_X86_64_TLSGD = 19
    R_X86_64_TLSLD = 20
    R_X86_64_DTPOFF32 = 21
    R_X86_64_GOTTPOFF = 22
    R_X86_64_TPOFF32 = 23
    R_X86_64_PC64 = 24
    R_X86_64_GOTOFF64 = 25
    R_X86_64_GOTPC32 = 26
    R_X86_64_GOT64 = 27
    R_X86_64_GOTPCREL64 = 28
    R_X86_64_GOTPC64 = 29
    R_X86_64_GOTPLT64 = 30
    R_X86_64_PLTOFF64 = 31
    R_X86_64_SIZE32 = 32
    R_X86_64_SIZE64 = 33
    R_X86_64_GOTPC32_TLSDESC = 34
    R_X86_64_TLSDESC_CALL = 35
    R_X86_64_TLSDESC = 36
    R_X86_64_IRELATIVE = 37
    R_X86_64_RELATIVE64 = 38
    R_X86_64_GOTPCRELX = 41
    R_X86_64_REX_GOTPCRELX = 42
