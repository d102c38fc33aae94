"""Check kmodsim's relocated sections against GNU ld's, byte for byte.

GNU ld is the oracle: given the same object, the same section addresses and the same values
for the undefined symbols, it must write the same bytes as kmodsim's ``apply_relocations``.

    kmodsim link --json --dump DIR        placement, symbol values, relocated bytes
        -> patched copy of the object      (section headers only, see below)
        -> linker script + --defsym list  each listed section at kmodsim's address
        -> ld -T script                    GNU ld applies the relocations
        -> output section headers          the bytes of each placed section
        -> compare with DIR/<index>.bin    one Mismatch per differing section

The copy of the object is changed in its section headers only, never in section data, so
every relocation and symbol stays as the module has it:

* every section kmodsim lists is renamed ``.kms.<index>`` (names are not unique: a module may
  have two ``.text``; and ld treats some names specially, ``.gnu.linkonce.*`` as COMDAT,
  ``.eh_frame`` as unwind data it rewrites), so the script can pick it by index;
* ``SHF_MERGE``/``SHF_STRINGS`` are cleared, or ld would merge strings and move them
  (``objcopy --set-section-flags`` also clears them, but it selects sections by name);
  ``SHF_GROUP``, ``SHF_EXCLUDE`` and ``SHF_LINK_ORDER`` are cleared and ``SHT_GROUP`` sections
  become plain data: with one input file there is nothing to deduplicate or order;
* a section kmodsim does not place loses ``SHF_ALLOC``, as ``rewrite_section_headers`` does
  for ``.modinfo`` and ``__versions``, so ld does not put it among the placed ones;
* relocation sections the kernel does not apply become plain data: those for sections that
  are not placed (debug info), those of the per-CPU section (``layout_and_allocate`` clears
  its ``SHF_ALLOC``, so ``apply_relocations`` skips it and ``percpu_modcopy`` copies the
  unrelocated bytes) and livepatch ones (``SHF_RELA_LIVEPATCH``).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SHT_PROGBITS, SHT_RELA, SHT_NOBITS, SHT_REL, SHT_GROUP = 1, 4, 8, 9, 17
SHF_ALLOC = 0x2
SHF_MERGE = 0x10
SHF_STRINGS = 0x20
SHF_LINK_ORDER = 0x80
SHF_GROUP = 0x200
SHF_RELA_LIVEPATCH = 0x00100000
SHF_EXCLUDE = 0x80000000
CLEARED_FLAGS = SHF_MERGE | SHF_STRINGS | SHF_LINK_ORDER | SHF_GROUP | SHF_EXCLUDE
SHN_XINDEX = 0xFFFF
EM_386, EM_X86_64 = 3, 62
EMULATIONS = {EM_386: "elf_i386", EM_X86_64: "elf_x86_64"}

# The whole ld command is  ld -m EMULATION --no-relax -T SCRIPT -o OUT OBJ --defsym=...
# -T replaces ld's default script, so nothing else is placed or defined: no .interp, no
# PROVIDEd _end/__bss_start. --no-relax: ld would otherwise rewrite
# instructions for GOTPCRELX/GOT32X/TLS relocations (modules have none, the kernel refuses
# them, but then ld must not hide one by rewriting it). Nothing else changes a byte: with
# -static, --build-id=none, -z norelro, -z max-page-size=4096, -nostdlib or
# --no-dynamic-linker added, the output file is identical (no shared objects and no PIE means
# no PLT, GOT or dynamic sections; a custom script has no RELRO or build-id; page size moves
# file offsets only), and every symbol is defined, so --unresolved-symbols and
# --noinhibit-exec are not needed either. ld's warnings (an RWX segment when a hobby module
# packs text and data in a page) are ignored; only its exit status counts.
LD_OPTIONS = ("--no-relax",)

# ---------------------------------------------------------------------------------------
# ELF section headers, read and patched in place


@dataclass
class Shdr:
    index: int
    header_offset: int       # where this header sits in the file
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
    name: str = ""


@dataclass
class Headers:
    bits: int
    endian: str              # struct prefix, "<" or ">"
    e_machine: int
    shstrndx: int
    sections: list

    @property
    def shdr_format(self):
        return self.endian + ("IIQQQQIIQQ" if self.bits == 64 else "IIIIIIIIII")

    def write(self, buf, s):
        struct.pack_into(self.shdr_format, buf, s.header_offset, s.sh_name, s.sh_type, s.sh_flags,
                         s.sh_addr, s.sh_offset, s.sh_size, s.sh_link, s.sh_info, s.sh_addralign,
                         s.sh_entsize)


def read_headers(data):
    """The section headers of an ELF file (either class, either byte order), with names."""
    if data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        raise ValueError("not an ELF file")
    bits = 64 if data[4] == 2 else 32
    endian = "<" if data[5] == 1 else ">"
    e_machine = struct.unpack_from(endian + "H", data, 18)[0]
    if bits == 64:
        e_shoff, = struct.unpack_from(endian + "Q", data, 0x28)
        e_shentsize, e_shnum, e_shstrndx = struct.unpack_from(endian + "HHH", data, 0x3A)
    else:
        e_shoff, = struct.unpack_from(endian + "I", data, 0x20)
        e_shentsize, e_shnum, e_shstrndx = struct.unpack_from(endian + "HHH", data, 0x2E)
    h = Headers(bits, endian, e_machine, e_shstrndx, [])
    fmt = h.shdr_format
    first = Shdr(0, e_shoff, *struct.unpack_from(fmt, data, e_shoff))
    count = e_shnum or first.sh_size          # extended numbering keeps the count in [0]
    if e_shstrndx == SHN_XINDEX:
        h.shstrndx = first.sh_link
    for i in range(count):
        at = e_shoff + i * e_shentsize
        h.sections.append(Shdr(i, at, *struct.unpack_from(fmt, data, at)))
    strtab = h.sections[h.shstrndx]
    names = data[strtab.sh_offset:strtab.sh_offset + strtab.sh_size]
    for s in h.sections:
        end = names.find(b"\0", s.sh_name)
        s.name = names[s.sh_name:end if end >= 0 else len(names)].decode("latin-1")
    return h


def placed_name(index):
    return f".kms.{index}"


def prepare_object(data, placed, percpu=()):
    """The object with the section-header changes listed in the module docstring.

    ``placed`` holds the indices kmodsim lists, ``percpu`` the per-CPU one(s) among them.
    New names go into a copy of ``.shstrtab`` appended at the end of the file.
    """
    h = read_headers(data)
    buf = bytearray(data)
    names = bytearray(data[h.sections[h.shstrndx].sh_offset:][:h.sections[h.shstrndx].sh_size])
    for s in h.sections[1:]:
        if s.index in placed:
            s.sh_name = len(names)
            names += placed_name(s.index).encode() + b"\0"
            s.sh_flags |= SHF_ALLOC
        else:
            s.sh_flags &= ~SHF_ALLOC
        s.sh_flags &= ~CLEARED_FLAGS
        if s.sh_type == SHT_GROUP:
            s.sh_type = SHT_PROGBITS
        elif s.sh_type in (SHT_REL, SHT_RELA) and not kernel_applies(s, placed, percpu):
            s.sh_type, s.sh_flags = SHT_PROGBITS, 0
        h.write(buf, s)
    while len(buf) % 8:
        buf += b"\0"
    strtab = h.sections[h.shstrndx]
    strtab.sh_offset, strtab.sh_size = len(buf), len(names)
    h.write(buf, strtab)
    buf += names
    return bytes(buf)


def kernel_applies(rel, placed, percpu):
    return (rel.sh_info in placed and rel.sh_info not in percpu
            and not rel.sh_flags & SHF_RELA_LIVEPATCH)


# ---------------------------------------------------------------------------------------
# the ld run


def linker_script(sections):
    """Each placed section alone in an output section at kmodsim's address."""
    lines = ["SECTIONS", "{"]
    for s in sorted(sections, key=lambda s: (s["addr"], s["index"])):
        name = placed_name(s["index"])
        lines.append(f"  {name} {s['addr']:#x} : {{ *({name}) }}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def defsym_options(symbols, bits):
    """``--defsym`` for each undefined symbol kmodsim resolved (weak ones it left at 0 too).

    The name is quoted: unquoted, ld's expression lexer takes some names for numbers
    (``edd``, ``ed``, ``dd``: hex digits, then a radix letter) and fails with "syntax error".
    """
    mask = (1 << bits) - 1
    return [f'--defsym="{name}"={value & mask:#x}' for name, value in sorted(symbols.items())]


class LdFailed(RuntimeError):
    """ld refused the link: its messages are the exception's text."""


def run_ld(obj, script, symbols, out, emulation, bits):
    cmd = ["ld", "-m", emulation, *LD_OPTIONS, "-T", str(script), "-o", str(out), str(obj),
           *defsym_options(symbols, bits)]
    # the command beside the output, to rerun it by hand
    Path(out).with_suffix(".sh").write_text(shlex.join(cmd) + "\n")
    done = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"))
    if done.returncode != 0:
        raise LdFailed(done.stderr.strip() or f"ld exited with {done.returncode}")
    return done.stderr


def output_sections(data):
    """``{name: (sh_addr, bytes)}`` for the output sections of ld's result."""
    h = read_headers(data)
    out = {}
    for s in h.sections[1:]:
        if s.sh_type == SHT_NOBITS:
            out[s.name] = (s.sh_addr, bytes(s.sh_size))
        else:
            out[s.name] = (s.sh_addr, bytes(data[s.sh_offset:s.sh_offset + s.sh_size]))
    return out


# ---------------------------------------------------------------------------------------
# the comparison


@dataclass
class Mismatch:
    module: str
    section: str
    index: int
    offset: int              # first differing byte, from the section's start
    ours: bytes              # kmodsim's bytes around it
    theirs: bytes            # ld's
    relocation: str = ""     # readelf -r's line for the relocation at that place
    detail: str = ""

    def __str__(self):
        where = f"{self.module} [{self.index}] {self.section} +{self.offset:#x}"
        text = f"{where}: kmodsim {self.ours.hex(' ')} / ld {self.theirs.hex(' ')}"
        if self.detail:
            text += f" ({self.detail})"
        if self.relocation:
            text += f"\n    {self.relocation}"
        return text


@dataclass
class Counts:
    sections: int = 0
    bytes: int = 0
    percpu: int = 0          # per-CPU sections among them


def compare_with_ld(module_path, link_result_json, dump_dir, workdir, ld_emulation=None,
                    counts=None):
    """Link ``module_path`` with ld as kmodsim placed it; the sections that differ.

    ``link_result_json`` is ``kmodsim link --json``'s object (or its text), ``dump_dir`` the
    folder ``--dump`` wrote. ``counts`` (a :class:`Counts`) collects how much was compared.
    Raises :class:`LdFailed` when ld refuses the link.
    """
    result = (json.loads(link_result_json) if isinstance(link_result_json, (str, bytes))
              else link_result_json)
    module_path, dump_dir, workdir = Path(module_path), Path(dump_dir), Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    data = module_path.read_bytes()
    h = read_headers(data)
    emulation = ld_emulation or EMULATIONS[h.e_machine]
    sections = result["sections"]
    placed = {s["index"] for s in sections}
    percpu = {s["index"] for s in sections if s["region"] == "percpu"}
    obj = workdir / "module.o"
    obj.write_bytes(prepare_object(data, placed, percpu))
    script = workdir / "module.ld"
    script.write_text(linker_script(sections))
    out = workdir / "module.out"
    run_ld(obj, script, result["symbols"], out, emulation, h.bits)
    theirs = output_sections(out.read_bytes())
    mismatches = []
    relocs = RelocationLines(module_path, h)
    for s in sections:
        ours = (dump_dir / f"{s['index']}.bin").read_bytes()
        addr, got = theirs.get(placed_name(s["index"]), (s["addr"], b""))
        if counts is not None:
            counts.sections += 1
            counts.bytes += len(ours)
            counts.percpu += s["index"] in percpu
        m = compare_section(result["module"], s, ours, addr, got, relocs)
        if m is not None:
            mismatches.append(m)
    return mismatches


def compare_section(module, s, ours, addr, theirs, relocs):
    index, name = s["index"], s["name"]
    if len(ours) != s["size"]:
        return Mismatch(module, name, index, 0, b"", b"",
                        detail=f"dump has {len(ours)} bytes, --json says {s['size']}")
    if theirs and addr != s["addr"]:
        return Mismatch(module, name, index, 0, b"", b"",
                        detail=f"ld placed it at {addr:#x}, kmodsim at {s['addr']:#x}")
    if ours == theirs:
        return None
    n = min(len(ours), len(theirs))
    first = next((i for i in range(n) if ours[i] != theirs[i]), n)
    differing = sum(1 for i in range(n) if ours[i] != theirs[i])
    detail = f"{differing} of {len(ours)} bytes differ"
    if len(ours) != len(theirs):
        detail = f"kmodsim has {len(ours)} bytes, ld {len(theirs)}; " + detail
    line, start = relocs.at(index, first)
    start = first if start is None else start
    return Mismatch(module, name, index, first, ours[start:start + 8], theirs[start:start + 8],
                    line, detail)


def relocation_width(type_name):
    """Bytes a relocation type writes, from its name (R_X86_64_PC32: 4, R_386_16: 2...)."""
    if type_name.endswith("NONE"):
        return 0
    m = re.search(r"(64|32S?|16|8)$", type_name)
    return {"64": 8, "32": 4, "32S": 4, "16": 2, "8": 1}[m.group(1)] if m else 8


_SECTION_LINE = re.compile(r"^Relocation section '.*' at offset (0x[0-9a-f]+) contains")


class RelocationLines:
    """``readelf -rW`` of the original object, asked only when something differs."""

    def __init__(self, path, headers):
        self.path, self.headers, self._by_target = path, headers, None

    def at(self, target, offset):
        """``(readelf line, r_offset)`` of the relocation that writes ``offset`` in ``target``."""
        for r_offset, width, line in self.lines(target):
            if r_offset <= offset < r_offset + width:
                return line, r_offset
        return "(no relocation writes this byte)", None

    def lines(self, target):
        """``(r_offset, width, readelf line)`` of each relocation applied to ``target``."""
        return self._read().get(target, [])

    def _read(self):
        if self._by_target is not None:
            return self._by_target
        self._by_target = {}
        if shutil.which("readelf") is None:
            return self._by_target
        by_offset = {s.sh_offset: s.sh_info for s in self.headers.sections
                     if s.sh_type in (SHT_REL, SHT_RELA)}
        text = subprocess.run(["readelf", "-rW", str(self.path)], capture_output=True, text=True,
                              env=dict(os.environ, LC_ALL="C")).stdout
        target = None
        for line in text.splitlines():
            m = _SECTION_LINE.match(line)
            if m:
                target = by_offset.get(int(m.group(1), 16))
                continue
            words = line.split()
            if target is not None and len(words) > 2 and re.fullmatch(r"[0-9a-f]{8,16}", words[0]):
                self._by_target.setdefault(target, []).append(
                    (int(words[0], 16), relocation_width(words[2]), line.strip()))
        return self._by_target


# ---------------------------------------------------------------------------------------
# kmodsim's side


class LinkRefused(RuntimeError):
    """kmodsim would not link the module: its stderr is the exception's text."""


def kmodsim_link(module, dump_dir, profile=None, with_=(), run_cli=None):
    """``kmodsim link MODULE --json --dump DIR``, run as a command; its JSON object.

    ``run_cli``, when given, runs the command instead of a child process: called as
    ``run_cli(*argv, cwd=ROOT)``, it returns an object with ``returncode`` and ``stdout`` and
    ``stderr`` bytes (the tests' ``conftest.run_cli``, which calls ``emulator.cli.main``).
    """
    argv = ["link", str(module), "--json", "--dump", str(dump_dir)]
    if profile:
        argv += ["--profile", profile]
    if with_:
        argv += ["--with", *map(str, with_)]
    if run_cli is None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
        done = subprocess.run([sys.executable, "-m", "emulator.cli", *argv], capture_output=True,
                              cwd=ROOT, env=env)
    else:
        done = run_cli(*argv, cwd=ROOT)
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace")
        lines = stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        # the kernel's error lines say why, the last line what was refused (or the crash)
        errors = [line for line in lines[:-1] if line.startswith(("<err>", "<crit>"))][:2]
        raise LinkRefused("; ".join(errors + lines[-1:]))
    return json.loads(done.stdout)


def tools_missing():
    """The binutils this comparison needs that are not installed."""
    return [t for t in ("ld",) if shutil.which(t) is None]
