"""Select the reference kernel's *pure library code* and write it as a profile side file.

    python -m linker.profiles.kernelcode --vmlinuz ~/.cache/realkernel/6.1.0-56-amd64/boot/vmlinuz-6.1.0-56-amd64
    python -m linker.profiles.kernelcode --deb linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb
    python -m linker.profiles.kernelcode --vmlinuz ... --check     # exit 1 if the blob is stale

Some kernel functions only compute: ``sort``, ``rb_insert_color``, ``kstrtoint``,
``crc32_le``, ``bitmap_weight``, ``sscanf``. Rather than rewrite each in Python, kmodsim can
run the reference kernel's own machine code for them in the emulated CPU, at their real
addresses, with only the *boundary* (allocation, printk, locks: functions kmodsim
implements in Python) left to Python. This module decides which functions qualify, from
the Debian ``vmlinuz`` (its xz payload is the ``vmlinux`` ELF) and the System.map the profile
ships (``NAME.kallsyms.gz``), and writes their bytes, patched as the booted kernel patches
them, to ``data/NAME.kernelcode.xz`` (read by ``emulator/kernelcode.py``).

A function is *pure* when, found by disassembling it linearly from its System.map address
to the next symbol with capstone:

* each direct call or jump leaves it only for another pure function or a boundary function
  (``BOUNDARY``, names kmodsim implements in Python; the emulator re-checks each at run
  time and drops what depends on one it lacks); an indirect call through a retpoline
  thunk is fine (the pointer comes from the caller, as sort's ``cmp``: a pointer loaded
  from ``.data`` is caught by the next rule);
* every address it names (RIP-relative or absolute operand, address-sized immediate) is
  in ``.rodata``, in ``.text`` (a function pointer: then a dependency like a call), or in
  one of the few writable-section objects of ``DATA_ALLOWED``; per-CPU (``%gs:``)
  operands only at the stack protector's canary ``%gs:0x28``;
* it holds no privileged or host-dependent instruction (``cli``, ``rdmsr``, ``cpuid``,
  ``rdtsc``, ``rdrand``...), no SSE/AVX register, no ``ud2`` (a BUG/WARN site: the report
  would need the kernel's ``__bug_table``), no ``__ex_table`` entry (user-memory access),
  no jump-label (``__jump_table``) or static-call site: those sites hold the unpatched
  form in the file, and which way the booted kernel patched them depends on its state.

``.altinstructions`` sites are allowed: the unpatched instruction is the one for a CPU
without the feature (``call __sw_hweight64`` instead of ``popcnt``), correct on any CPU;
each selected function's alternative features are listed in the manifest. Three kinds of
site are patched as the booted kernel patches them: ``call __fentry__`` at a function's
entry becomes the 5-byte NOP (``ftrace_init``), ``jmp __x86_return_thunk`` becomes
``ret; int3...`` (``apply_returns``, as kmodsim does for modules), and
``call/jmp __x86_indirect_thunk_REG`` becomes ``call/jmp *%REG`` padded with NOPs
(``apply_retpolines`` on a CPU that needs no retpoline), so that returns and a callback's
calls never leave the emulated CPU. The ORC rows of the shipped functions come along, so an
oops's call trace unwinds through them as the kernel's own unwinder does.

The output is the same bytes for the same inputs (sorted, xz with fixed settings).
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import hashlib
import io
import json
import lzma
import struct
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
PROFILE = "linux-6.1.0-56-amd64"
DEB_PACKAGE = "linux-image-6.1.0-56-amd64"
VMLINUZ_IN_DEB = "./boot/vmlinuz-6.1.0-56-amd64"
MAGIC = b"KMODSIM-KERNELCODE-1\n"
GENERATOR_VERSION = 3
XZ_MAGIC = b"\xfd7zXZ\x00"
MASK64 = (1 << 64) - 1

# Names kmodsim implements in Python (emulator/kapi): kernel code may call them; the call
# lands on the Python handler at the function's real address. tests/test_kernelcode.py
# checks each still has a handler; the emulator drops a function whose closure reaches
# one that has none.
BOUNDARY = frozenset("""
    _printk vprintk __warn_printk __dynamic_pr_debug dump_stack panic add_taint
    __stack_chk_fail fortify_panic __check_object_size
    __kmalloc __kmalloc_node kmalloc_trace kmalloc_node_trace kmalloc_large kfree kfree_const
    krealloc ksize kmemdup kstrdup kvmalloc_node kvfree vmalloc vzalloc vfree kasprintf
    kmem_cache_alloc kmem_cache_free kmem_cache_create kmem_cache_destroy
    __cond_resched mutex_lock mutex_unlock mutex_trylock mutex_lock_interruptible
    __mutex_init _raw_spin_lock _raw_spin_unlock _raw_spin_lock_irqsave
    _raw_spin_unlock_irqrestore _raw_spin_lock_irq _raw_spin_unlock_irq _raw_spin_lock_bh
    _raw_spin_unlock_bh __rcu_read_lock __rcu_read_unlock
    __list_add_valid __list_del_entry_valid
    memcpy memmove memset memcmp strlen strnlen strcmp strncmp strcpy strncpy strscpy strcat
    strncat strchr strrchr strstr strsep
    snprintf vsnprintf scnprintf vscnprintf sprintf vsprintf
    _copy_from_user _copy_to_user
""".split())

# Objects outside .rodata that pure code may read: mapped read-only with their file bytes.
# (None is needed today: _ctype, hex_asc, the crc tables and byte_rev_table are .rodata.)
DATA_ALLOWED: frozenset[str] = frozenset()

THUNK_PREFIX = "__x86_indirect_thunk_"
RETURN_THUNK = "__x86_return_thunk"
FENTRY = "__fentry__"
NOP5 = bytes.fromhex("0f1f440000")       # x86_nops[5]: what ftrace_init writes
RET_INT3 = b"\xc3\xcc\xcc\xcc\xcc"
# instructions a function computing in memory has no business with (or whose result the
# host decides): the function is not selected
PRIVILEGED = frozenset("""
    cli sti hlt in out insb insw insd outsb outsw outsd rdmsr wrmsr cpuid rdtsc rdtscp rdpmc
    rdrand rdseed rdpid swapgs sysret sysretq iretq iret invlpg invpcid wbinvd invd lgdt lidt
    sgdt sidt lldt ltr lmsw clts xgetbv xsetbv xsave xsaves xsavec xsaveopt xrstor xrstors
    fxsave fxrstor fxsave64 fxrstor64 stac clac vmcall vmmcall sysenter sysexit syscall
    monitor mwait umonitor umwait tpause serialize wrpkru rdpkru wrfsbase wrgsbase rdfsbase
    rdgsbase ud2 ud0 ud1 int int1 into enclu encls clflush clflushopt clwb
""".split())
SIMD_REGS = ("xmm", "ymm", "zmm", "mm0", "mm1", "mm2", "mm3", "mm4", "mm5", "mm6", "mm7")
RET_THUNK_REGS = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")


# -- the inputs ---------------------------------------------------------------------------------

def vmlinux_from_vmlinuz(data: bytes) -> bytes:
    """The ``vmlinux`` ELF inside a bzImage: its payload is one xz stream."""
    start = data.find(XZ_MAGIC)
    if start < 0:
        raise ValueError("no xz payload in this vmlinuz")
    return lzma.LZMADecompressor().decompress(data[start:])


def vmlinuz_from_deb(path: Path) -> bytes:
    """``/boot/vmlinuz-*`` from the Debian package (``dpkg-deb --fsys-tarfile``)."""
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(path)], check=True,
                         capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        member = tf.extractfile(VMLINUZ_IN_DEB)
        if member is None:
            raise ValueError(f"{path}: no {VMLINUZ_IN_DEB}")
        return member.read()


@dataclass(frozen=True)
class SectionHeader:
    name: str
    sh_addr: int
    sh_offset: int
    sh_size: int
    sh_type: int
    sh_flags: int

    @property
    def end(self) -> int:
        return self.sh_addr + self.sh_size


SHT_NOBITS = 8
SHF_WRITE = 1


class Vmlinux:
    """The few things read from the vmlinux ELF: section headers and bytes by address."""

    def __init__(self, data: bytes) -> None:
        if data[:4] != b"\x7fELF" or data[4] != 2:
            raise ValueError("not an ELF64 vmlinux")
        self.data = data
        e_shoff, = struct.unpack_from("<Q", data, 0x28)
        e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 0x3A)
        raw = [struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize)
               for i in range(e_shnum)]
        strtab_off = raw[e_shstrndx][4]
        self.sections = []
        for sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, *_ in raw:
            end = data.index(b"\0", strtab_off + sh_name)
            name = data[strtab_off + sh_name:end].decode()
            self.sections.append(SectionHeader(name, sh_addr, sh_offset, sh_size, sh_type, sh_flags))
        self.by_name = {s.name: s for s in self.sections}

    def section_at(self, addr: int) -> SectionHeader | None:
        for s in self.sections:
            if s.sh_addr >= 0xFFFFFFFF80000000 and s.sh_addr <= addr < s.end:
                return s
        return None

    def read(self, addr: int, size: int) -> bytes:
        s = self.section_at(addr)
        if s is None or addr + size > s.end:
            raise ValueError(f"{addr:#x}+{size:#x} is not inside one section")
        if s.sh_type == SHT_NOBITS:
            return bytes(size)
        off = s.sh_offset + addr - s.sh_addr
        return self.data[off:off + size]

    def rel32_table(self, start: int, stop: int, entry: int, fields: int = 1) -> list[tuple[int, ...]]:
        """Entries of a table of self-relative s32 fields (``.return_sites``,
        ``__ex_table``, ``__jump_table``...): each field + its own address."""
        out = []
        raw = self.read(start, stop - start)
        for at in range(0, len(raw) - entry + 1, entry):
            vals = struct.unpack_from(f"<{fields}i", raw, at)
            out.append(tuple((start + at + 4 * i + v) & MASK64 for i, v in enumerate(vals)))
        return out


def read_system_map(text: str) -> list[tuple[int, str, str]]:
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((int(parts[0], 16), parts[1], parts[2]))
    return out


def read_vmlinux_exports(tsv: str) -> dict[str, int]:
    """``name -> addr`` of the exports vmlinux itself provides (the profile's exports.tsv)."""
    out = {}
    for line in tsv.splitlines():
        if line.startswith("#"):
            continue
        name, addr, _crc, _flags, _ns, exporter = line.split("\t")[:6]
        if exporter == "vmlinux" and addr:
            out[name] = int(addr, 16)
    return out


# -- the analysis -------------------------------------------------------------------------------

@dataclass
class Function:
    """One function of ``.text``: ``[addr, end)`` runs to the next symbol (padding included)."""
    addr: int
    end: int
    names: list[str]
    problems: list[str] = field(default_factory=list)   # why it cannot be selected on its own
    callees: set[int] = field(default_factory=set)       # other functions it calls/jumps to/names
    data_refs: set[int] = field(default_factory=set)     # addresses outside .text it names
    features: set[int] = field(default_factory=set)      # .altinstructions cpuid bits
    patches: dict[int, bytes] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.names[0]


class KernelCode:
    """The analysis of one vmlinux with its System.map."""

    def __init__(self, vmlinux: Vmlinux, symbols: list[tuple[int, str, str]],
                 boundary: frozenset[str] = BOUNDARY,
                 data_allowed: frozenset[str] = DATA_ALLOWED) -> None:
        import capstone   # the generator's one dependency beyond the standard library
        self.cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
        self.cs.detail = True
        self.capstone = capstone
        self.vm = vmlinux
        self.text = vmlinux.by_name[".text"]
        self.rodata = vmlinux.by_name[".rodata"]
        self.boundary_names = boundary
        self.symbols = symbols
        self.addr_of = {}
        for addr, _t, name in symbols:
            self.addr_of.setdefault(name, addr)
        # functions of .text, aliases merged
        starts: dict[int, list[str]] = {}
        for addr, typ, name in symbols:
            if typ in "tTwW" and self.text.sh_addr <= addr < self.text.end:
                starts.setdefault(addr, []).append(name)
        self.func_starts = sorted(starts)
        self.functions: dict[int, Function] = {}
        for i, addr in enumerate(self.func_starts):
            end = self.func_starts[i + 1] if i + 1 < len(self.func_starts) else self.text.end
            names = sorted(starts[addr], key=lambda n: (n.startswith("__pfx_"), n))
            self.functions[addr] = Function(addr, end, names)
        # data symbols (for the extent of what a reference touches, and the allowed list)
        self.data_syms = sorted((a, n) for a, t, n in symbols
                                if t in "dDbBrRvV" and a >= 0xFFFFFFFF80000000)
        self.data_starts = [a for a, _ in self.data_syms]
        self.allowed_data = {self.addr_of[n] for n in data_allowed if n in self.addr_of}
        self.boundary = {self.addr_of[n] for n in boundary if n in self.addr_of}
        self.thunks = {a for n, a in self.addr_of.items()
                       if n.startswith(THUNK_PREFIX) or n == RETURN_THUNK}
        self.thunk_reg = {self.addr_of[THUNK_PREFIX + r]: r for r in RET_THUNK_REGS
                          if THUNK_PREFIX + r in self.addr_of}
        self.return_thunk = self.addr_of.get(RETURN_THUNK)
        self.fentry = self.addr_of.get(FENTRY)
        # an operand naming an address in the image (_text.._end) is a reference; other
        # values that merely look like kernel addresses (-1, -EINVAL) are numbers
        self.image_lo = self.addr_of.get("_text", self.text.sh_addr)
        self.image_hi = self.addr_of.get("_end", self.text.end)
        self._sites()

    # .. the tables of patched or special sites ..................................................

    def _table(self, start: str, stop: str, entry: int, fields: int) -> list[tuple[int, ...]]:
        a, b = self.addr_of.get(start), self.addr_of.get(stop)
        if a is None or b is None or b <= a:
            return []
        return self.vm.rel32_table(a, b, entry, fields)

    def _sites(self) -> None:
        """Where the booted kernel patches or needs tables: per function."""
        def section(name, entry):
            s = self.vm.by_name.get(name)
            return {e[0] for e in self.vm.rel32_table(s.sh_addr, s.end, entry, 1)} if s else set()
        self.return_sites = section(".return_sites", 4)          # jmp __x86_return_thunk
        self.retpoline_sites = section(".retpoline_sites", 4)    # call __x86_indirect_thunk_*
        # sorted, for the sites inside one function
        self.ex_sites = sorted(section("__ex_table", 12))
        self.jump_sites = sorted(e[0] for e in self._table("__start___jump_table",
                                                            "__stop___jump_table", 16, 1))
        self.static_call_sites = sorted(e[0] for e in self._table("__start_static_call_sites",
                                                                   "__stop_static_call_sites", 8, 1))
        # struct alt_instr { s32 instr_offset; s32 repl_offset; u16 cpuid; u8 instrlen;
        #                    u8 replacementlen; } (6.1: 12 bytes)
        self.alt_sites: dict[int, int] = {}
        s = self.vm.by_name.get(".altinstructions")
        if s:
            raw = self.vm.read(s.sh_addr, s.sh_size)
            for at in range(0, len(raw) - 11, 12):
                off, _repl, cpuid = struct.unpack_from("<iiH", raw, at)
                self.alt_sites[(s.sh_addr + at + off) & MASK64] = cpuid
        self.alt_addrs = sorted(self.alt_sites)

    def function_at(self, addr: int) -> Function | None:
        i = bisect.bisect_right(self.func_starts, addr) - 1
        if i < 0:
            return None
        f = self.functions[self.func_starts[i]]
        return f if addr < f.end else None

    # .. one function ...........................................................................

    def analyse(self, f: Function) -> None:
        """Fill ``f.problems``, ``callees``, ``data_refs``, ``features``, ``patches``."""
        cs = self.capstone
        X86 = cs.x86
        code = self.vm.read(f.addr, f.end - f.addr)
        for sites, problem in ((self.ex_sites, "exception table (user access)"),
                               (self.jump_sites, "jump label"),
                               (self.static_call_sites, "static call")):
            if _between(sites, f.addr, f.end):
                f.problems.append(problem)
        f.features = {self.alt_sites[a] for a in _between(self.alt_addrs, f.addr, f.end)}
        if any(n.startswith("__SCT__") for n in f.names):
            f.problems.append("static call trampoline")
        pos = 0
        for insn in self.cs.disasm(code, f.addr):
            pos = insn.address + insn.size - f.addr
            mnem = insn.mnemonic
            if mnem == "int3":      # padding after a ret or jmp (SLS), never reached
                continue
            if mnem in PRIVILEGED:
                f.problems.append(f"instruction {mnem}")
                continue
            if any(r in insn.op_str for r in SIMD_REGS):
                f.problems.append("SIMD register")
                continue
            groups = set(insn.groups)
            is_branch = cs.CS_GRP_CALL in groups or cs.CS_GRP_JUMP in groups
            if is_branch and len(insn.operands) == 1 and insn.operands[0].type == X86.X86_OP_IMM:
                self._branch(f, insn, insn.operands[0].imm & MASK64)
                continue
            if is_branch and mnem in ("call", "jmp") and insn.operands[0].type == X86.X86_OP_MEM:
                f.problems.append("indirect branch through memory")
                continue
            for op in insn.operands:
                if op.type == X86.X86_OP_MEM:
                    self._mem(f, insn, op, X86)
                elif op.type == X86.X86_OP_IMM:
                    v = op.imm & MASK64
                    if self.image_lo <= v < self.image_hi:
                        self._ref(f, v)
        if pos < len(code):
            tail = code[pos:]
            if tail.strip(b"\xcc\x90\x00"):
                f.problems.append(f"undecodable at {f.addr + pos:#x}")

    def _branch(self, f: Function, insn, target: int) -> None:
        if f.addr <= target < f.end:
            return
        if target == self.fentry and insn.mnemonic == "call":
            if insn.address == f.addr:
                f.patches[insn.address] = NOP5
                return
            f.problems.append("__fentry__ call inside the body")
            return
        if target == self.return_thunk and insn.mnemonic == "jmp" and insn.size == 5:
            if insn.address in self.return_sites:
                f.patches[insn.address] = RET_INT3
            return
        if target in self.thunk_reg:
            # gcc's -mindirect-branch-cs-prefix: "cs call __x86_indirect_thunk_r14", 6 bytes
            if insn.address in self.retpoline_sites and insn.size in (5, 6):
                f.patches[insn.address] = _indirect(insn.mnemonic, self.thunk_reg[target],
                                                    insn.size)
            return
        callee = self.function_at(target)
        if callee is None:
            f.problems.append(f"branch out of .text to {target:#x}")
            return
        f.callees.add(callee.addr)

    def _mem(self, f: Function, insn, op, X86) -> None:
        mem = op.mem
        if mem.segment == X86.X86_REG_GS:
            if not (mem.base == 0 and mem.index == 0 and mem.disp == 0x28):
                f.problems.append("per-CPU data")
            return
        if mem.segment == X86.X86_REG_FS:
            f.problems.append("fs: segment")
            return
        if mem.base == X86.X86_REG_RIP:
            self._ref(f, (insn.address + insn.size + mem.disp) & MASK64)
        elif self.image_lo <= mem.disp & MASK64 < self.image_hi:
            self._ref(f, mem.disp & MASK64)

    def _ref(self, f: Function, addr: int) -> None:
        if self.text.sh_addr <= addr < self.text.end:
            callee = self.function_at(addr)
            if callee is not None and callee is not f:
                f.callees.add(callee.addr)
            return
        if self.rodata.sh_addr <= addr < self.rodata.end:
            f.data_refs.add(addr)
            return
        obj = self.data_symbol_at(addr)
        if obj is not None and obj[0] in self.allowed_data:
            f.data_refs.add(addr)
            return
        sec = self.vm.section_at(addr)
        what = obj[1] if obj else f"{addr:#x}"
        f.problems.append(f"data {what} in {sec.name if sec else 'no section'}")

    def data_symbol_at(self, addr: int) -> tuple[int, str] | None:
        i = bisect.bisect_right(self.data_starts, addr) - 1
        return self.data_syms[i] if i >= 0 else None

    # .. the closure ............................................................................

    def select(self, roots: list[int]) -> dict[int, Function]:
        """The pure functions among ``roots`` and everything they reach: the greatest set in
        which every function is locally clean and calls only members, boundary functions
        or thunks."""
        seen: dict[int, Function] = {}
        todo = list(roots)
        while todo:
            addr = todo.pop()
            if addr in seen or addr in self.boundary or addr in self.thunks:
                continue
            f = self.functions[addr]
            self.analyse(f)
            seen[addr] = f
            if not f.problems:
                todo.extend(f.callees)
        self.analysed = seen
        pure = {a for a, f in seen.items() if not f.problems}
        changed = True
        while changed:
            changed = False
            for a in list(pure):
                for c in seen[a].callees:
                    if c not in pure and c not in self.boundary and c not in self.thunks:
                        pure.discard(a)
                        changed = True
                        break
        return {a: seen[a] for a in sorted(pure)}

    def blocking(self, addr: int, pure: dict[int, Function]) -> str:
        """Why ``addr`` is not pure: its own first problem, or the first callee that is not."""
        f = self.analysed.get(addr) or self.function_at(addr)
        if f is None:
            return "not in .text"
        if f.problems:
            return f.problems[0]
        for c in sorted(f.callees):
            if c not in pure and c not in self.boundary and c not in self.thunks:
                return f"calls {self.functions[c].name}"
        return "?"

    def orc_rows(self, addrs: list[int], functions: dict[int, Function]) -> list[tuple[int, bytes]]:
        """``(ip, 6-byte ORC entry)`` of every ORC row inside the given functions, by ip."""
        ip_sec, orc_sec = self.vm.by_name[".orc_unwind_ip"], self.vm.by_name[".orc_unwind"]
        ip_raw = self.vm.read(ip_sec.sh_addr, ip_sec.sh_size)
        orc_raw = self.vm.read(orc_sec.sh_addr, orc_sec.sh_size)
        rows = []
        for i in range(min(len(ip_raw) // 4, len(orc_raw) // 6)):
            ip = (ip_sec.sh_addr + 4 * i + struct.unpack_from("<i", ip_raw, 4 * i)[0]) & MASK64
            rows.append((ip, orc_raw[6 * i:6 * i + 6]))
        rows.sort(key=lambda r: r[0])
        ips = [r[0] for r in rows]
        out = []
        for a in addrs:
            out += rows[bisect.bisect_left(ips, a):bisect.bisect_left(ips, functions[a].end)]
        return out

    def data_extent(self, addr: int) -> tuple[int, int]:
        """What a reference to ``addr`` may read: its object (to the next symbol, at most
        64 KiB), and at least the 4 KiB page it is in and the next (strings, tables
        without a symbol of their own)."""
        lo, hi = addr & ~0xFFF, (addr & ~0xFFF) + 0x2000
        obj = self.data_symbol_at(addr)
        if obj is not None:
            i = bisect.bisect_right(self.data_starts, obj[0])
            nxt = self.data_starts[i] if i < len(self.data_starts) else obj[0] + 0x1000
            if nxt - obj[0] <= 0x10000:
                lo, hi = min(lo, obj[0]), max(hi, nxt)
        sec = self.vm.section_at(addr)
        return max(lo, sec.sh_addr), min(hi, sec.end)


def _between(keys: list[int], lo: int, hi: int) -> list[int]:
    """The members of the sorted list ``keys`` in ``[lo, hi)``."""
    return keys[bisect.bisect_left(keys, lo):bisect.bisect_left(keys, hi)]


def _indirect(mnemonic: str, reg: str, size: int) -> bytes:
    """``call/jmp *%reg`` (FF /2, FF /4) padded to ``size`` bytes with NOPs."""
    num = RET_THUNK_REGS.index(reg)
    modrm = 0xC0 | ((2 if mnemonic == "call" else 4) << 3) | (num & 7)
    insn = (b"\x41" if num >= 8 else b"") + bytes([0xFF, modrm])
    return insn + b"\x90" * (size - len(insn))


# -- the output ---------------------------------------------------------------------------------

def merge_spans(spans) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def build(kc: KernelCode, pure: dict[int, Function], source: dict) -> tuple[dict, bytes]:
    """The manifest and the concatenated bytes of each span (code patched)."""
    functions = []
    for addr, f in pure.items():
        functions.append({
            "names": f.names, "addr": f"{addr:#x}", "size": f.end - addr,
            "calls": sorted(kc.functions[c].name for c in f.callees
                            if c in pure),
            "boundary": sorted({n for c in f.callees if c in kc.boundary
                                for n in kc.functions[c].names if n in kc.boundary_names}),
            "features": sorted(f.features),
            # the .rodata it reads, as [start, end) pairs (written when it first runs)
            "data": [[f"{lo:#x}", hi - lo] for lo, hi in
                     merge_spans(kc.data_extent(r) for r in f.data_refs)],
        })
    code_spans = [(a, f.end) for a, f in pure.items()]
    data_spans = [kc.data_extent(r) for f in pure.values() for r in f.data_refs]
    spans = []
    blob = io.BytesIO()
    pure_addrs = sorted(pure)
    for kind, merged in (("code", merge_spans(code_spans)), ("data", merge_spans(data_spans))):
        for lo, hi in merged:
            raw = bytearray(kc.vm.read(lo, hi - lo))
            if kind == "code":
                for f in (pure[a] for a in _between(pure_addrs, lo, hi)):
                    for at, patch in f.patches.items():
                        raw[at - lo:at - lo + len(patch)] = patch
            spans.append({"kind": kind, "addr": f"{lo:#x}", "size": hi - lo})
            blob.write(raw)
    # the ORC entries of the shipped code (.orc_unwind_ip, .orc_unwind), so a call trace
    # unwinds through it as the kernel's does: after the spans, (u64 ip, 6-byte entry) each
    orc = kc.orc_rows(pure_addrs, pure)
    for ip, entry in orc:
        blob.write(struct.pack("<Q", ip) + entry)
    manifest = {
        "generator_version": GENERATOR_VERSION, "profile": PROFILE, "source": source,
        "orc_entries": len(orc),
        "boundary": sorted(kc.boundary_names), "data_allowed": sorted(DATA_ALLOWED),
        "functions": functions, "spans": spans,
    }
    return manifest, blob.getvalue()


def serialize(manifest: dict, payload: bytes) -> bytes:
    head = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    raw = MAGIC + struct.pack("<I", len(head)) + head + payload
    return lzma.compress(raw, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=6)


def deserialize(data: bytes) -> tuple[dict, bytes]:
    raw = lzma.decompress(data)
    if not raw.startswith(MAGIC):
        raise ValueError("not a kmodsim kernel-code file")
    n, = struct.unpack_from("<I", raw, len(MAGIC))
    start = len(MAGIC) + 4
    return json.loads(raw[start:start + n]), raw[start + n:]


def generate(vmlinuz: bytes, system_map: str, exports_tsv: str,
             roots: list[str] | None = None) -> tuple[KernelCode, dict[int, Function], dict, bytes]:
    vmlinux = vmlinux_from_vmlinuz(vmlinuz)
    kc = KernelCode(Vmlinux(vmlinux), read_system_map(system_map))
    exports = read_vmlinux_exports(exports_tsv)
    names = roots if roots is not None else sorted(exports)
    root_addrs = sorted({exports[n] for n in names if n in exports
                         and kc.function_at(exports[n]) is not None
                         and kc.function_at(exports[n]).addr == exports[n]})
    pure = kc.select(root_addrs)
    source = {"package": f"{DEB_PACKAGE} 6.1.192-2",
              "vmlinuz_sha256": hashlib.sha256(vmlinuz).hexdigest(),
              "vmlinux_sha256": hashlib.sha256(vmlinux).hexdigest(),
              "system_map_sha256": hashlib.sha256(system_map.encode()).hexdigest()}
    manifest, payload = build(kc, pure, source)
    return kc, pure, manifest, payload


def default_output() -> Path:
    return DATA_DIR / f"{PROFILE}.kernelcode.xz"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m linker.profiles.kernelcode",
                                 description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--vmlinuz", type=Path, help="the Debian kernel image (bzImage)")
    src.add_argument("--deb", type=Path, help=f"the {DEB_PACKAGE} package (.deb)")
    ap.add_argument("--out", type=Path, default=default_output())
    ap.add_argument("--check", action="store_true", help="exit 1 if --out differs")
    args = ap.parse_args(argv)
    vmlinuz = args.vmlinuz.read_bytes() if args.vmlinuz else vmlinuz_from_deb(args.deb)
    system_map = gzip.decompress((DATA_DIR / f"{PROFILE}.kallsyms.gz").read_bytes()).decode()
    exports_tsv = (DATA_DIR / f"{PROFILE}.exports.tsv").read_text()
    kc, pure, manifest, payload = generate(vmlinuz, system_map, exports_tsv)
    if args.check:      # the contents, not the xz bytes: another liblzma may pack them differently
        same = args.out.exists() and deserialize(args.out.read_bytes()) == (manifest, payload)
        print(f"{args.out}: {'up to date' if same else 'stale'}")
        return 0 if same else 1
    out = serialize(manifest, payload)
    args.out.write_bytes(out)
    print(f"{args.out}: {len(pure)} functions, {len(payload)} bytes of code and data, "
          f"{len(out)} bytes xz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
