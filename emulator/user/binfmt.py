"""``load_elf_binary``: a static x86-64 ELF executable checked and laid out as 6.1 does it.

:func:`parse_executable` reads the ELF header and program headers and makes the checks
``fs/binfmt_elf.c`` makes before the point of no return (ENOEXEC for what is not an x86-64
executable, ENOENT for a dynamically linked one whose interpreter the guest does not have,
ENOMEM for what cannot be mapped); :func:`map_segments` maps each ``PT_LOAD`` with its
permissions into a process's address space (:class:`~emulator.user.mm.AddressSpace`);
:func:`create_elf_tables` writes argv, envp and the auxiliary vector on the new stack as
``create_elf_tables`` and ``copy_strings`` lay them out.

Addresses are fixed (the guest's kernel randomises them; kmodsim is deterministic): an
``ET_EXEC`` where its headers say, a static-pie (``ET_DYN``) at ``ELF_ET_DYN_BASE``, the
stack top at ``STACK_TOP``.
"""

from __future__ import annotations

import errno
import hashlib
import struct
from dataclasses import dataclass

from ..machine import PAGE, PROT_EXEC, PROT_READ, PROT_WRITE

ET_EXEC, ET_DYN = 2, 3
EM_X86_64 = 62
ELFCLASS32, ELFCLASS64, ELFDATA2LSB = 1, 2, 1
PT_LOAD, PT_INTERP, PT_PHDR, PT_GNU_STACK = 1, 3, 6, 0x6474E551
PF_X, PF_W, PF_R = 1, 2, 4

# the user half as kmodsim lays it out (x86-64, 4-level paging, no randomisation)
TASK_SIZE = 0x7FFF_FFFF_F000          # STACK_TOP: the top of the user stack
STACK_TOP = TASK_SIZE
ELF_ET_DYN_BASE = 0x5555_5555_4000    # where a static-pie is loaded
USER_IMAGE_LIMIT = 0x7E00_0000_0000   # PT_LOAD segments end below this
MMAP_MIN_ADDR = 0x10000               # vm.mmap_min_addr on Debian
# the reference guest's RAM as __vm_enough_memory counts it (MemTotal 466396 kB, no swap):
# a mapping bigger than this fails with ENOMEM (OVERCOMMIT_GUESS)
TOTALRAM_BYTES = 466396 * 1024

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")

# auxiliary vector keys (include/uapi/linux/auxvec.h, arch/x86/include/uapi/asm/auxvec.h)
AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ = 0, 3, 4, 5, 6
AT_BASE, AT_FLAGS, AT_ENTRY = 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN, AT_MINSIGSTKSZ = 23, 25, 26, 31, 51
# boot_cpu_data's CPUID.1:EDX (ELF_HWCAP) and ELF_HWCAP2 (HWCAP2_FSGSBASE) of a 64-bit CPU
ELF_HWCAP = 0x178BFBFF
ELF_HWCAP2 = 0x2
MINSIGSTKSZ = 0xD30               # get_sigframe_size() with the XSAVE features QEMU offers
ELF_PLATFORM = b"x86_64"
CLOCKS_PER_SEC = 100              # USER_HZ
MAX_ARG_STRLEN = 32 * PAGE        # one argument or environment string
ARG_MAX = (8 << 20) // 4          # a quarter of the 8 MiB stack rlimit (bprm_stack_limits)


class ExecError(Exception):
    """execve failed before the point of no return: ``errno`` is what it returns."""

    def __init__(self, err, message="", not_simulated=False):
        super().__init__(message or errno.errorcode.get(err, str(err)))
        self.errno = err
        self.not_simulated = not_simulated    # the real kernel would run it: say so


@dataclass(frozen=True)
class Elf64_Phdr:
    p_type: int
    p_flags: int
    p_offset: int
    p_vaddr: int
    p_paddr: int
    p_filesz: int
    p_memsz: int
    p_align: int


@dataclass(frozen=True)
class Executable:
    """What ``load_elf_binary`` learnt from the headers."""

    e_type: int
    e_entry: int
    e_phoff: int
    e_phnum: int
    phdrs: tuple
    interpreter: str | None


@dataclass
class Loaded:
    """Where the image went: the load bias, its entry, AT_PHDR, the start of brk, and the
    mappings made (start, end, perms) for the segfault line's ``in prog[start+size]``."""

    bias: int
    entry: int
    phdr_addr: int
    brk: int
    segments: list


def parse_executable(data: bytes) -> Executable:
    """The checks of ``load_elf_binary`` up to the interpreter; ExecError(ENOEXEC) else."""
    if data[:4] != b"\x7fELF":
        raise ExecError(errno.ENOEXEC, "not an ELF file")
    if data[4:6] == bytes([ELFCLASS32, ELFDATA2LSB]) and data[18:20] == b"\x03\x00":
        # IA32_EMULATION runs it on the real kernel; kmodsim runs 64-bit programs only
        raise ExecError(errno.ENOEXEC, "32-bit (i386) programs are not simulated",
                        not_simulated=True)
    if len(data) < _EHDR.size:
        raise ExecError(errno.ENOEXEC, "not an ELF file")
    (ident, e_type, e_machine, _version, e_entry, e_phoff, _shoff, _flags, _ehsize,
     e_phentsize, e_phnum, _shentsize, _shnum, _shstrndx) = _EHDR.unpack_from(data)
    if ident[4] != ELFCLASS64 or ident[5] != ELFDATA2LSB or e_machine != EM_X86_64:
        raise ExecError(errno.ENOEXEC, "not an x86-64 executable")
    if e_type not in (ET_EXEC, ET_DYN):
        raise ExecError(errno.ENOEXEC, "neither ET_EXEC nor ET_DYN")
    # elf_read_phdrs: the size must be right and the table at most 64 KiB
    if e_phentsize != _PHDR.size or not 1 <= e_phnum <= 65536 // _PHDR.size:
        raise ExecError(errno.ENOEXEC, "bad program header table")
    if e_phoff + e_phnum * _PHDR.size > len(data):
        raise ExecError(errno.EIO, "program headers past the end of the file")
    phdrs = tuple(Elf64_Phdr(*_PHDR.unpack_from(data, e_phoff + i * _PHDR.size))
                  for i in range(e_phnum))
    interpreter = None
    for ph in phdrs:
        if ph.p_type == PT_INTERP:
            if ph.p_filesz < 2 or ph.p_filesz > 4096 or ph.p_offset + ph.p_filesz > len(data):
                raise ExecError(errno.ENOEXEC, "bad PT_INTERP")
            raw = data[ph.p_offset:ph.p_offset + ph.p_filesz]
            if raw[-1] != 0:
                raise ExecError(errno.ENOEXEC, "bad PT_INTERP")
            interpreter = raw[:-1].decode("latin-1")
            break
    for ph in phdrs:
        if ph.p_type != PT_LOAD:
            continue
        if ph.p_filesz > ph.p_memsz or ph.p_offset + ph.p_filesz > len(data) \
                or (ph.p_vaddr - ph.p_offset) % PAGE:
            raise ExecError(errno.EINVAL if ph.p_filesz <= ph.p_memsz else errno.ENOEXEC,
                            "bad PT_LOAD")
    if not any(ph.p_type == PT_LOAD for ph in phdrs):
        raise ExecError(errno.ENOEXEC, "no PT_LOAD")
    return Executable(e_type, e_entry, e_phoff, e_phnum, phdrs, interpreter)


def _prot(flags):
    return ((PROT_READ if flags & PF_R else 0) | (PROT_WRITE if flags & PF_W else 0)
            | (PROT_EXEC if flags & PF_X else 0))


def map_segments(exe: Executable, data: bytes, mm, name: str) -> Loaded:
    """Map every PT_LOAD (``elf_map``, ``padzero``, ``set_brk``): file bytes page by page
    from their page-aligned offset, the rest of the last page zeroed, the bss beyond it
    anonymous. A segment that shares a page with the one before it takes it over (MAP_FIXED)."""
    loads = [ph for ph in exe.phdrs if ph.p_type == PT_LOAD]
    low = min(ph.p_vaddr for ph in loads) & ~(PAGE - 1)
    high = max(ph.p_vaddr + ph.p_memsz for ph in loads)
    bias = ELF_ET_DYN_BASE - low if exe.e_type == ET_DYN else 0
    if low + bias < MMAP_MIN_ADDR:
        raise ExecError(errno.EPERM, "below mmap_min_addr")
    if high + bias > USER_IMAGE_LIMIT or high < low:
        raise ExecError(errno.ENOMEM, "the image does not fit in the user half")
    total = sum(_page_up(ph.p_vaddr + ph.p_memsz) - (ph.p_vaddr & ~(PAGE - 1)) for ph in loads)
    if total > TOTALRAM_BYTES:
        raise ExecError(errno.ENOMEM, "the image is bigger than the guest's memory")
    segments = []
    for ph in loads:
        start = (ph.p_vaddr + bias) & ~(PAGE - 1)
        end = _page_up(ph.p_vaddr + bias + ph.p_memsz)
        if end <= start:
            continue
        prot = _prot(ph.p_flags)
        mm.map_fixed(start, end - start, prot, name, file_backed=True)
        file_start = ph.p_offset & ~(PAGE - 1)
        file_end = ph.p_offset + ph.p_filesz
        if file_end > file_start:
            mm.machine.write(start, data[file_start:file_end])
        if ph.p_memsz > ph.p_filesz:        # padzero: the rest of the file's last page
            zero_from = ph.p_vaddr + bias + ph.p_filesz
            zero_to = min(_page_up(zero_from), end)
            if zero_to > zero_from:
                mm.machine.write(zero_from, bytes(zero_to - zero_from))
        segments.append((start, end, prot))
    phdr_addr = _phdr_addr(exe, loads) + bias
    return Loaded(bias, exe.e_entry + bias, phdr_addr, _page_up(high + bias), segments)


def _phdr_addr(exe, loads):
    """AT_PHDR: PT_PHDR's address, else where the segment holding e_phoff maps it."""
    for ph in exe.phdrs:
        if ph.p_type == PT_PHDR:
            return ph.p_vaddr
    for ph in loads:
        if ph.p_offset <= exe.e_phoff < ph.p_offset + ph.p_filesz:
            return exe.e_phoff - ph.p_offset + ph.p_vaddr
    return 0


def _page_up(n):
    return (n + PAGE - 1) & ~(PAGE - 1)


def random_bytes(path: str, pid: int) -> bytes:
    """AT_RANDOM's 16 bytes: from the path and the pid, the same on every run."""
    return hashlib.sha256(f"kmodsim AT_RANDOM {pid} {path}".encode()).digest()[:16]


def create_elf_tables(machine, sp_top: int, filename: bytes, argv: list, envp: list,
                      exe: Executable, loaded: Loaded, at_random: bytes) -> int:
    """The new stack, as ``do_execveat_common`` copies the strings (the file name at the
    top, then envp, then argv, each below the last) and ``create_elf_tables`` adds the
    platform string, AT_RANDOM's bytes, the auxiliary vector, envp, argv and argc; the
    stack pointer the program starts with (16-byte aligned)."""
    if len(filename) >= MAX_ARG_STRLEN or any(len(s) >= MAX_ARG_STRLEN for s in argv + envp) \
            or sum(len(s) + 1 + 8 for s in argv + envp) > ARG_MAX:
        raise ExecError(errno.E2BIG, "argument list too long")
    p = sp_top - 8

    def push_string(s):
        nonlocal p
        p -= len(s) + 1
        machine.write(p, s + b"\0")
        return p

    execfn = push_string(filename)
    env_addrs = [push_string(s) for s in reversed(envp)][::-1]
    arg_addrs = [push_string(s) for s in reversed(argv)][::-1]
    p &= ~0xF                                          # arch_align_stack
    p -= len(ELF_PLATFORM) + 1
    platform = p
    machine.write(platform, ELF_PLATFORM + b"\0")
    p -= 16
    rand = p
    machine.write(rand, at_random)
    auxv = [(AT_MINSIGSTKSZ, MINSIGSTKSZ), (AT_HWCAP, ELF_HWCAP), (AT_PAGESZ, PAGE),
            (AT_CLKTCK, CLOCKS_PER_SEC), (AT_PHDR, loaded.phdr_addr), (AT_PHENT, _PHDR.size),
            (AT_PHNUM, exe.e_phnum), (AT_BASE, 0), (AT_FLAGS, 0), (AT_ENTRY, loaded.entry),
            (AT_UID, 0), (AT_EUID, 0), (AT_GID, 0), (AT_EGID, 0), (AT_SECURE, 0),
            (AT_RANDOM, rand), (AT_HWCAP2, ELF_HWCAP2), (AT_EXECFN, execfn),
            (AT_PLATFORM, platform), (AT_NULL, 0)]
    sp = p - len(auxv) * 16
    items = (len(argv) + 1) + (len(envp) + 1) + 1
    sp = (sp - items * 8) & ~0xF                       # STACK_ROUND
    words = [len(argv), *arg_addrs, 0, *env_addrs, 0]
    for key, value in auxv:
        words += [key, value]
    machine.write(sp, struct.pack(f"<{len(words)}Q", *words))
    return sp
