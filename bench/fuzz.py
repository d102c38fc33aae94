"""A mutation fuzzer for kmodsim's readers, loader and emulator, run in-process.

    python bench/fuzz.py [--seed N] [--inputs N | --seconds S] [--paths P,P...]
                         [--jobs N] [--corpus N] [--crashes DIR] [--replay INDEX]

Each input is one of the seed modules (the committed samples, and with ``--corpus N`` N
modules of the Debian corpus) with one to four mutations applied: bit flips, byte values,
truncation, ELF header fields, section header fields (types, flags, offsets, sizes, links,
alignments), NOBITS sizes from 256 MiB to 2**64-1 (on the sections the loader walks:
``__ksymtab``, ``__mcount_loc``, ``.return_sites``, ``__param``, ``.bss``, per-CPU data...),
section names (a section renamed ``__param``, ``__ksymtab``...), symbol and relocation
fields, ``.modinfo``, ``__versions``, the module descriptor, the signature trailer, and
splices of other seeds. Input ``i`` of campaign ``--seed S`` depends only on ``(S, i)`` and
the seed list, so any input can be rebuilt (``--replay i``).

Every input goes through each chosen path, in-process:

``readelf``  ``ElfFile`` and the four views of ``kmodsim readelf -hSrs``;
``modinfo``  kmod's view (``kmodsim modinfo``), ``ModuleInfo`` and depmod's reader;
``link``     ``link_module`` into a fresh ``LinkKernel`` (hobby objects: the sectioned and
             in-place hobby loaders and their report);
``relocs``   the relocation stepper, every step described (``kmodsim relocs``);
``run``      a fresh ``Kernel``: ``init_module``, then ``delete_module`` if it loaded
             (``--budget`` seconds per syscall), then ``dmesg`` and ``/proc/modules``.

An outcome is ``ok``, ``refused`` (a ``KmodError``: the loader's refusal; for run also a
non-zero rc, a killed caller or kmodsim's memory limit), or a crash: any other exception
(a traceback), an input slower than its limit (``--slow``; for run, a syscall longer than
its budget plus 1 s), a hang (killed after ``--kill`` seconds, with faulthandler's traceback),
a worker that dies (a native crash) or host memory over ``--max-rss`` (the peak resident
size of the worker during that input, measured by resetting the high-water mark before
each input; ``RLIMIT_AS`` is a backstop). A crash's signature is its kind, exception type
and innermost kmodsim frame; each distinct one is saved once under ``--crashes`` (every
crashing input of the run path is saved) with a ``.txt`` saying how to rebuild it.

Work is split into chunks run by ``--jobs`` forked workers; a worker that dies is replaced
and its chunk resumed after the input that killed it. The summary gives inputs and
inputs/s per path, outcome counts, the peak host memory, and the distinct crashes.
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import hashlib
import importlib
import json
import mmap
import os
import random
import resource
import select
import signal
import struct
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from linker.elf.reader import ElfFile            # noqa: E402
from linker.errors import KmodError              # noqa: E402

PATHS = ("readelf", "modinfo", "link", "relocs", "run")
DEFAULT_PATHS = ("readelf", "modinfo", "link")
PROFILE64, PROFILE32, PROFILE_HOBBY = "linux-6.1.0-56-amd64", "linux-6.1.0-50-686", "hobby-i386"
MiB = 1 << 20

# --------------------------------------------------------------------------- seeds


@dataclass
class Section:
    index: int
    name: str
    hdr_off: int          # where its header is in the file
    sh_type: int
    sh_flags: int
    sh_offset: int
    sh_size: int
    sh_entsize: int


@dataclass
class Seed:
    """One pristine module and where its records are, for the mutators."""

    name: str
    data: bytes
    profile: str
    bits: int = 64
    little: bool = True
    shoff: int = 0
    shentsize: int = 64
    sections: list[Section] = field(default_factory=list)
    shstrtab: Section | None = None
    symtab: Section | None = None
    rels: list[Section] = field(default_factory=list)
    by_name: dict[str, Section] = field(default_factory=dict)

    @property
    def hobby(self):
        return self.profile == PROFILE_HOBBY

    @classmethod
    def parse(cls, name, data, profile):
        seed = cls(name, data, profile)
        elf = ElfFile(data)
        seed.bits, seed.little = elf.layout.bits, elf.layout.little
        seed.shoff, seed.shentsize = elf.header.e_shoff, elf.layout.shdr.size
        for s in elf.sections:
            sec = Section(s.index, s.name, seed.shoff + s.index * seed.shentsize, s.sh_type,
                          s.sh_flags, s.sh_offset, s.sh_size, s.sh_entsize)
            seed.sections.append(sec)
            seed.by_name.setdefault(s.name, sec)
            if s.sh_type in (4, 9):
                seed.rels.append(sec)
        seed.shstrtab = seed.sections[elf.shstrndx] if seed.sections else None
        if elf.symtab is not None:
            seed.symtab = seed.sections[elf.symtab.index]
        return seed


def sample_seeds():
    """The committed samples: Linux modules (x86-64), seed 004's hobby objects (i386), the
    huge-.bss modules recorded on the real kernel."""
    out = []
    for p in sorted((ROOT / "samples" / "linux").glob("*/*.ko")):
        out.append((f"samples/linux/{p.parent.name}/{p.name}", p, PROFILE64))
    for p in sorted((ROOT / "samples" / "hobby").glob("*.o")):
        out.append((f"samples/hobby/{p.name}", p, PROFILE_HOBBY))
    for p in sorted((ROOT / "tests" / "realkernel" / "bigbss").glob("*.ko")):
        out.append((f"tests/realkernel/bigbss/{p.name}", p, PROFILE64))
    return out


def corpus_seeds(count, seed, max_size=300_000):
    """``count`` modules of the Debian corpus (amd64, and an eighth of them i386), chosen
    by ``seed`` among those of at most ``max_size`` bytes; [] without the corpus."""
    if count <= 0:
        return []
    from corpus import PROFILES, corpus_dir
    out = []
    rng = random.Random(f"corpus/{seed}")
    for arch, share in (("amd64", count - count // 8), ("i386", count // 8)):
        d = corpus_dir(arch)
        if d is None or share <= 0:
            continue
        files = sorted(p for p in d.rglob("*.ko") if p.stat().st_size <= max_size)
        for p in rng.sample(files, min(share, len(files))):
            out.append((f"{arch}:{p.relative_to(d)}", p, PROFILES[arch]))
    return out


def load_seeds(corpus=0, seed=0):
    seeds = []
    for name, path, profile in sample_seeds() + corpus_seeds(corpus, seed):
        try:
            seeds.append(Seed.parse(name, path.read_bytes(), profile))
        except (OSError, KmodError):
            continue
    return seeds


# --------------------------------------------------------------------------- mutations

SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS, SHT_REL = 1, 2, 3, 4, 8, 9
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4

INTERESTING = (0, 1, 2, 3, 4, 7, 8, 12, 16, 24, 40, 64, 0x7F, 0x80, 0xFF, 0x100, 0xFFF, 0x1000,
               0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
               0x100000000, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000, 0xFFFFFFFFFFFFFFFF)
BIG_SIZES = (256 * MiB, 256 * MiB + 12, 460 * MiB, 512 * MiB, 1000 * MiB, 1 << 30, 1008 * MiB,
             (1 << 32) - 4096, (1 << 32) - 1, 1 << 32, (1 << 32) + 4096, (1 << 32) + 256 * MiB,
             1 << 40, (1 << 63) - 1, 1 << 63, (1 << 64) - 4096, (1 << 64) - 1)
# sections whose contents the loader (or the emulator after it) walks entry by entry
WALKED = ("__ksymtab", "__ksymtab_gpl", "__kcrctab", "__kcrctab_gpl", "__ksymtab_strings",
          "__mcount_loc", ".return_sites", "__param", ".bss", ".data..percpu", "__versions",
          ".modinfo", ".gnu.linkonce.this_module", ".this_module", "__ex_table", "__jump_table",
          ".init.data", ".data", ".rodata", "__bug_table", ".symtab", ".strtab",
          ".static_call_sites", ".retpoline_sites", ".call_sites", "__dyndbg",
          ".init_array", ".ctors", ".orc_unwind", ".orc_unwind_ip", ".altinstructions",
          "_ftrace_events", "__tracepoints_ptrs", ".BTF", ".note.gnu.build-id")
SHDR_FIELDS = {  # name: (offset in Elf32_Shdr, in Elf64_Shdr, size 32, size 64)
    "sh_name": (0, 0, 4, 4), "sh_type": (4, 4, 4, 4), "sh_flags": (8, 8, 4, 8),
    "sh_addr": (12, 16, 4, 8), "sh_offset": (16, 24, 4, 8), "sh_size": (20, 32, 4, 8),
    "sh_link": (24, 40, 4, 4), "sh_info": (28, 44, 4, 4), "sh_addralign": (32, 48, 4, 8),
    "sh_entsize": (36, 56, 4, 8)}
EHDR_FIELDS = {  # name: (offset 32, offset 64, size 32, size 64)
    "ei_class": (4, 4, 1, 1), "ei_data": (5, 5, 1, 1), "ei_version": (6, 6, 1, 1),
    "ei_osabi": (7, 7, 1, 1), "e_type": (16, 16, 2, 2), "e_machine": (18, 18, 2, 2),
    "e_version": (20, 20, 4, 4), "e_entry": (24, 24, 4, 8), "e_phoff": (28, 32, 4, 8),
    "e_shoff": (32, 40, 4, 8), "e_flags": (36, 48, 4, 4), "e_ehsize": (40, 52, 2, 2),
    "e_phnum": (44, 56, 2, 2), "e_shentsize": (46, 58, 2, 2), "e_shnum": (48, 60, 2, 2),
    "e_shstrndx": (50, 62, 2, 2)}
SYM_FIELDS = {  # name: (offset 32, offset 64, size 32, size 64)
    "st_name": (0, 0, 4, 4), "st_value": (4, 8, 4, 8), "st_size": (8, 16, 4, 8),
    "st_info": (12, 4, 1, 1), "st_other": (13, 5, 1, 1), "st_shndx": (14, 6, 2, 2)}
SHN_VALUES = (0, 1, 2, 0xFF00, 0xFF20, 0xFFF1, 0xFFF2, 0xFFFF, 0xFF1F, 200, 0xFEFF)
SPECIAL_NAMES = ("__param", "__ksymtab", "__ksymtab_gpl", "__kcrctab", "__mcount_loc",
                 ".return_sites", ".data..percpu", ".modinfo", "__versions", ".init.text",
                 ".gnu.linkonce.this_module", ".this_module", ".symtab", ".strtab", ".bss",
                 ".exit.text", ".text", "__ksymtab_strings", ".rel.text", ".rela.text",
                 "__jump_table", ".data..ro_after_init", ".init.data")
MODINFO_STRINGS = (b"name=", b"name=fuzz", b"vermagic=6.1.0-56-amd64 SMP preempt mod_unload modversions ",
                   b"vermagic=", b"license=GPL", b"license=Proprietary", b"intree=Y",
                   b"retpoline=Y", b"staging=Y", b"livepatch=Y", b"test=Y", b"depends=",
                   b"depends=a,b,,c", b"parm=p:", b"parm=:x", b"parm=p", b"parmtype=p:int",
                   b"parmtype=p:", b"import_ns=X", b"alias=*", b"=", b"description=" + b"x" * 300,
                   b"\xff\xfe", b"srcversion=", b"name=" + b"n" * 80)
SIG_MAGIC = b"~Module signature appended~\n"


class Mutator:
    """The input being built: a bytearray and the seed's record positions."""

    def __init__(self, rng, seed, seeds):
        self.rng, self.seed, self.seeds = rng, seed, seeds
        self.data = bytearray(seed.data)
        self.order = "<" if seed.little else ">"
        self.notes = []

    # -- helpers
    def value(self, size, around=()):
        """An interesting value for a field of ``size`` bytes (``around``: values nearby)."""
        r = self.rng.random()
        if around and r < 0.3:
            v = self.rng.choice(around) + self.rng.choice((-8, -4, -1, 0, 0, 1, 4, 8))
        elif r < 0.85:
            v = self.rng.choice(INTERESTING)
        else:
            v = self.rng.getrandbits(8 * size)
        return v & ((1 << (8 * size)) - 1)

    def put(self, offset, size, value):
        if 0 <= offset and offset + size <= len(self.data):
            fmt = {1: "B", 2: "H", 4: "I", 8: "Q"}[size]
            struct.pack_into(self.order + fmt, self.data, offset, value & ((1 << (8 * size)) - 1))

    def get(self, offset, size):
        """A field of the pristine seed (the input may be cut short already)."""
        fmt = {1: "B", 2: "H", 4: "I", 8: "Q"}[size]
        return struct.unpack_from(self.order + fmt, self.seed.data, offset)[0]

    def pick_section(self, prefer=WALKED, p=0.5):
        secs = self.seed.sections[1:] or self.seed.sections
        if not secs:
            return None
        if self.rng.random() < p:
            named = [s for s in secs if s.name in prefer]
            if named:
                return self.rng.choice(named)
        return self.rng.choice(secs)

    def set_shdr(self, sec, fname, value):
        o32, o64, s32, s64 = SHDR_FIELDS[fname]
        b64 = self.seed.bits == 64
        self.put(sec.hdr_off + (o64 if b64 else o32), s64 if b64 else s32, value)
        self.notes.append(f"[{sec.index}]{sec.name}.{fname}={value:#x}")

    def write_name(self, sec, new):
        """Give section ``sec`` the name ``new``: point sh_name at an existing string, or
        write the name over a name at least as long."""
        tab = self.seed.shstrtab
        if tab is None:
            return
        raw = self.seed.data[tab.sh_offset:tab.sh_offset + tab.sh_size]
        want = new.encode() + b"\0"
        pos = raw.find(want)
        if pos >= 0 and (pos == 0 or True):
            self.set_shdr(sec, "sh_name", pos)
            self.notes[-1] = f"[{sec.index}]{sec.name} renamed {new}"
            return
        longer = [s for s in self.seed.sections[1:] if len(s.name) >= len(new)
                  and s.name not in SPECIAL_NAMES]
        if not longer:
            return
        victim = self.rng.choice(longer)
        hdr = self.seed.data[victim.hdr_off:victim.hdr_off + 4]
        name_off = struct.unpack(self.order + "I", hdr)[0]
        start = tab.sh_offset + name_off
        self.data[start:start + len(want)] = want
        self.set_shdr(sec, "sh_name", name_off)
        self.notes[-1] = f"[{sec.index}]{sec.name} renamed {new} (over {victim.name})"

    # -- the mutations
    def bitflip(self):
        n = self.rng.choice((1, 1, 2, 4, 8, 16))
        for _ in range(n):
            pos = self.rng.randrange(len(self.data))
            self.data[pos] ^= 1 << self.rng.randrange(8)
        self.notes.append(f"bitflip x{n}")

    def bytevals(self):
        for _ in range(self.rng.randint(1, 8)):
            pos = self.rng.randrange(len(self.data))
            self.data[pos] = self.rng.choice((0, 1, 0x7F, 0x80, 0xFF, self.rng.randrange(256)))
        self.notes.append("byte values")

    def truncate(self):
        secs = self.seed.sections
        r = self.rng.random()
        if r < 0.2:
            n = self.rng.randrange(0, 80)
        elif r < 0.6 and secs:
            s = self.rng.choice(secs)
            n = s.sh_offset + self.rng.choice((0, 1, s.sh_size // 2, max(s.sh_size - 1, 0)))
        elif r < 0.8:
            n = self.seed.shoff + self.rng.randrange(0, max(1, len(secs) * self.seed.shentsize))
        else:
            n = self.rng.randrange(len(self.data))
        del self.data[n:]
        self.notes.append(f"truncated to {n}")

    def ehdr(self):
        fname = self.rng.choice(list(EHDR_FIELDS))
        o32, o64, s32, s64 = EHDR_FIELDS[fname]
        b64 = self.seed.bits == 64
        off, size = (o64, s64) if b64 else (o32, s32)
        around = (len(self.data), self.seed.shoff, len(self.seed.sections))
        v = self.value(size, around)
        self.put(off, size, v)
        self.notes.append(f"{fname}={v:#x}")

    def shdr(self):
        sec = self.pick_section(p=0.4)
        if sec is None:
            return
        fname = self.rng.choice(list(SHDR_FIELDS))
        o32, o64, s32, s64 = SHDR_FIELDS[fname]
        size = s64 if self.seed.bits == 64 else s32
        around = (len(self.data), sec.sh_size, sec.sh_offset, len(self.seed.sections),
                  self.rng.choice(self.seed.sections).sh_offset)
        if fname == "sh_type" and self.rng.random() < 0.7:
            v = self.rng.choice((0, 1, 2, 3, 4, 8, 9, 11, 17, 18, 0x6FFFFFF6, 0x70000001))
        elif fname == "sh_flags" and self.rng.random() < 0.7:
            v = sec.sh_flags ^ self.rng.choice((1, 2, 4, 6, 0x10, 0x20, 0x200, 0x100000,
                                                 0x200000, 0x80000000))
        elif fname in ("sh_link", "sh_info") and self.rng.random() < 0.7:
            v = self.rng.choice((0, 1, len(self.seed.sections) - 1, len(self.seed.sections),
                                 self.rng.randrange(len(self.seed.sections) + 1), 0xFFFF, 0xFFFFFFFF))
        elif fname == "sh_addralign" and self.rng.random() < 0.7:
            v = self.rng.choice((0, 1, 3, 6, 12, 4096, 8192, 1 << 21, 1 << 31, 1 << 32, 1 << 62,
                                 (1 << 64) - 1 if size == 8 else (1 << 32) - 1))
        else:
            v = self.value(size, around)
        self.set_shdr(sec, fname, v & ((1 << (8 * size)) - 1))

    def nobits(self):
        """A section the loader walks becomes NOBITS (or keeps its type) of a huge size."""
        sec = self.pick_section(p=0.85)
        if sec is None:
            return
        if self.rng.random() < 0.8:
            self.set_shdr(sec, "sh_type", SHT_NOBITS)
        size = self.rng.choice(BIG_SIZES) + self.rng.choice((0, 0, 0, 8, 12, 24, 40, 64))
        if self.seed.bits == 32:
            size &= 0xFFFFFFFF
        self.set_shdr(sec, "sh_size", size & 0xFFFFFFFFFFFFFFFF)
        if self.rng.random() < 0.3 and not sec.sh_flags & SHF_ALLOC:
            self.set_shdr(sec, "sh_flags", sec.sh_flags | SHF_ALLOC)

    def rename(self):
        sec = self.pick_section(p=0.3)
        if sec is not None:
            self.write_name(sec, self.rng.choice(SPECIAL_NAMES))

    def symbol(self):
        st = self.seed.symtab
        if st is None or not st.sh_size:
            return
        ent = 24 if self.seed.bits == 64 else 16
        n = st.sh_size // ent
        i = self.rng.randrange(n)
        fname = self.rng.choice(list(SYM_FIELDS))
        o32, o64, s32, s64 = SYM_FIELDS[fname]
        b64 = self.seed.bits == 64
        off, size = (o64, s64) if b64 else (o32, s32)
        if fname == "st_shndx" and self.rng.random() < 0.7:
            v = self.rng.choice(SHN_VALUES + (len(self.seed.sections), len(self.seed.sections) - 1))
        elif fname == "st_info" and self.rng.random() < 0.6:
            v = self.rng.choice((0x00, 0x10, 0x20, 0x12, 0x11, 0x1A, 0x03, 0x04, 0x0A, 0xF0))
        else:
            v = self.value(size, (st.sh_size, len(self.data)))
        self.put(st.sh_offset + i * ent + off, size, v)
        self.notes.append(f"sym[{i}].{fname}={v:#x}")

    def reloc(self):
        if not self.seed.rels:
            return
        rs = self.rng.choice(self.seed.rels)
        b64 = self.seed.bits == 64
        rela = rs.sh_type == SHT_RELA
        ent = (24 if rela else 16) if b64 else (12 if rela else 8)
        n = rs.sh_size // ent
        if not n:
            return
        i = self.rng.randrange(n)
        base = rs.sh_offset + i * ent
        word = 8 if b64 else 4
        what = self.rng.choice(("r_offset", "r_offset", "sym", "type", "addend", "many"))
        tgt_size = 0
        info_link = self.get(rs.hdr_off + (44 if b64 else 28), 4)
        if 0 < info_link < len(self.seed.sections):
            tgt_size = self.seed.sections[info_link].sh_size
        if what == "r_offset":
            v = self.value(word, (tgt_size, tgt_size - word, 1 << 63, (1 << 64) - 1))
            self.put(base, word, v)
        elif what in ("sym", "type"):
            info = self.get(base + word, word)
            shift, tmask = (32, 0xFFFFFFFF) if b64 else (8, 0xFF)
            sym, typ = info >> shift, info & tmask
            nsyms = (self.seed.symtab.sh_size // (24 if b64 else 16)) if self.seed.symtab else 0
            if what == "sym":
                sym = self.rng.choice((0, 1, nsyms - 1, nsyms, nsyms + 1, 0xFFFFFF,
                                       0xFFFFFFFF if b64 else 0xFFFFFF, self.rng.randrange(nsyms + 2)))
                sym &= (0xFFFFFFFF if b64 else 0xFFFFFF)
            else:
                typ = self.rng.choice((0, 1, 2, 4, 9, 10, 11, 24, 37, 42, 43, 255,
                                       tmask, self.rng.randrange(64)))
            v = (sym << shift) | typ
            self.put(base + word, word, v)
        elif what == "addend" and rela:
            v = self.value(word)
            self.put(base + 2 * word, word, v)
        else:   # several entries' offsets at once, pointing at one place (overlaps)
            place = self.get(base, word)
            for _ in range(self.rng.randint(2, 6)):
                j = self.rng.randrange(n)
                self.put(rs.sh_offset + j * ent, word, place + self.rng.choice((0, 1, 2, 4)))
            v = place
        self.notes.append(f"{rs.name}[{i}].{what}={v:#x}")

    def modinfo(self):
        sec = self.seed.by_name.get(".modinfo")
        if sec is None or not sec.sh_size or sec.sh_type == SHT_NOBITS:
            return self.bytevals()
        start, size = sec.sh_offset, sec.sh_size
        r = self.rng.random()
        if r < 0.2:    # no NUL at all
            self.data[start:start + size] = (b"x" * size)
            self.notes.append(".modinfo without NUL")
            return
        if r < 0.35:   # every NUL becomes '='
            self.data[start:start + size] = bytes(self.data[start:start + size]).replace(b"\0", b"=")
            self.notes.append(".modinfo NULs to '='")
            return
        blob = b"\0".join(self.rng.choice(MODINFO_STRINGS) for _ in range(self.rng.randint(1, 6)))
        pos = start + self.rng.randrange(size)
        blob = blob[:start + size - pos]
        self.data[pos:pos + len(blob)] = blob
        self.notes.append(f".modinfo+{pos - start:#x}={blob[:40]!r}")

    def versions(self):
        sec = self.seed.by_name.get("__versions")
        if sec is None or sec.sh_size < 64 or sec.sh_type == SHT_NOBITS:
            return self.bytevals()
        i = self.rng.randrange(sec.sh_size // 64)
        base = sec.sh_offset + 64 * i
        word = 8 if self.seed.bits == 64 else 4
        r = self.rng.random()
        if r < 0.4:
            self.put(base, word, self.value(word))
        elif r < 0.7:
            self.data[base + word:base + 64] = b"A" * (64 - word)
        else:
            name = self.rng.choice((b"module_layout", b"_printk", b"", b"__fentry__"))
            self.data[base + word:base + 64] = name.ljust(64 - word, b"\0")
        self.notes.append(f"__versions[{i}] changed")

    def section_bytes(self):
        """Random bytes inside a section the loader reads (ksymtab, descriptor, param...)."""
        sec = self.pick_section(p=0.9)
        if sec is None or not sec.sh_size or sec.sh_type == SHT_NOBITS:
            return self.bytevals()
        for _ in range(self.rng.randint(1, 6)):
            off = self.rng.randrange(sec.sh_size)
            width = self.rng.choice((1, 4, 8))
            if off + width <= sec.sh_size:
                self.put(sec.sh_offset + off, width, self.value(width))
        if self.rng.random() < 0.2:   # a run of non-NUL bytes (strings without an end)
            off = self.rng.randrange(sec.sh_size)
            n = min(self.rng.randint(1, 200), sec.sh_size - off)
            self.data[sec.sh_offset + off:sec.sh_offset + off + n] = b"Z" * n
        self.notes.append(f"bytes of {sec.name}")

    def signature(self):
        """Append (or corrupt) a module signature trailer."""
        body = bytearray(self.data)
        if body.endswith(SIG_MAGIC) and self.rng.random() < 0.6:
            hdr = len(body) - len(SIG_MAGIC) - 12
            if hdr >= 0:
                pos = hdr + self.rng.randrange(12)
                body[pos] = self.rng.randrange(256)
                self.data = body
                self.notes.append(f"signature header byte {pos - hdr}")
                return
        sig_len = self.rng.choice((0, 1, 10, 100, len(body) - 12, len(body), 0xFFFFFFFF,
                                   self.rng.randrange(1 << 16)))
        sig = bytes(self.rng.randrange(256) for _ in range(self.rng.choice((0, 4, 32, 64))))
        if self.rng.random() < 0.5:   # a DER SEQUENCE with a random length
            sig = b"\x30\x82" + self.rng.randrange(1 << 16).to_bytes(2, "big") + sig
        id_type = self.rng.choice((2, 2, 2, 0, 1, 3))
        fields = [0, 0, id_type, 0, 0, 0, 0, 0]
        if self.rng.random() < 0.2:
            fields[self.rng.randrange(8)] = self.rng.randrange(1, 256)
        hdr = bytes(fields[:3]) + bytes([fields[3], fields[4]]) + bytes(3) + \
            (sig_len & 0xFFFFFFFF).to_bytes(4, "big")
        self.data = body + sig + hdr + SIG_MAGIC
        self.notes.append(f"signature sig_len={sig_len:#x} id_type={id_type}")

    def splice(self):
        other = self.rng.choice(self.seeds)
        if not other.data:
            return
        n = self.rng.randint(1, min(4096, len(other.data)))
        src = self.rng.randrange(len(other.data) - n + 1)
        dst = self.rng.randrange(len(self.data))
        self.data[dst:dst + n] = other.data[src:src + n]
        self.notes.append(f"splice {n} bytes of {other.name}")

    def percpu(self):
        sec = self.pick_section(prefer=(".data", ".bss", ".rodata", ".data..percpu"), p=0.8)
        if sec is None:
            return
        self.write_name(sec, ".data..percpu")
        if self.rng.random() < 0.7:
            self.set_shdr(sec, "sh_size", self.rng.choice(
                (0, 1, 4096, 8192, 8193, 32768, 32769, 1 << 20, 1 << 30, (1 << 64) - 1)
                if self.seed.bits == 64 else (0, 8192, 8193, 1 << 30, 0xFFFFFFFF)))
        if self.rng.random() < 0.4:
            self.set_shdr(sec, "sh_addralign", self.rng.choice((0, 3, 4096, 8192, 1 << 40)
                                                               if self.seed.bits == 64 else (0, 3, 8192)))


MUTATIONS = (("bitflip", 8), ("bytevals", 4), ("truncate", 3), ("ehdr", 4), ("shdr", 14),
             ("nobits", 8), ("rename", 7), ("symbol", 9), ("reloc", 12), ("modinfo", 5),
             ("versions", 3), ("section_bytes", 8), ("signature", 3), ("splice", 2),
             ("percpu", 3))
_NAMES = [n for n, w in MUTATIONS for _ in range(w)]


def make_input(campaign_seed, index, seeds):
    """``(seed, bytes, [what was changed])`` of input ``index``: depends on nothing else."""
    rng = random.Random(f"{campaign_seed}/{index}")
    seed = seeds[rng.randrange(len(seeds))]
    m = Mutator(rng, seed, seeds)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        if not m.data:
            break
        getattr(m, rng.choice(_NAMES))()
    return seed, bytes(m.data), m.notes


# --------------------------------------------------------------------------- the paths

_profiles = {}


def profile(name):
    p = _profiles.get(name)
    if p is None:
        from linker.profiles import load_profile
        p = _profiles[name] = load_profile(name)
    return p


def path_readelf(data, seed):
    from linker.elf import describe
    from linker.errors import ElfError
    try:
        elf = ElfFile(data)
    except ElfError:
        return "refused"
    describe.file_header(elf)
    describe.section_headers(elf, with_count=False)
    describe.relocations(elf)
    describe.symbol_tables(elf)
    return "ok"


def path_modinfo(data, seed):
    from linker.module.depmod import KmodElf, elf_dependency_symbols, elf_exported_symbols, elf_info
    from linker.module.kmod_format import (format_modinfo, invalid_param_lines, kmod_info_list,
                                           kmod_section)
    from linker.module.metadata import ModuleInfo
    from linker.module.modinfo import modinfo_entries
    outcome = "ok"
    err, raw = (22, None) if len(data) < 6 else kmod_section(data, ".modinfo")
    if err:
        outcome = "refused"
    else:
        items = kmod_info_list(modinfo_entries(raw), data)
        invalid_param_lines(items)
        format_modinfo(items, None, "\n")
        format_modinfo(items, "parm", "\0")
    try:
        mi = ModuleInfo(data)
        (mi.modinfo, mi.name, mi.versions, mi.exports, mi.params, mi.descriptor,
         mi.undefined_symbols, mi.common_symbols, mi.functions, mi.signature)
    except KmodError:
        outcome = "refused"
    try:
        e = KmodElf(data)
        elf_exported_symbols(e)
        elf_dependency_symbols(e)
        elf_info(e)
    except KmodError:
        outcome = "refused"
    return outcome


def path_link(data, seed):
    from linker.load import LinkKernel, link_module
    p = profile(seed.profile)
    if seed.hobby:
        from linker.load.hobby import hobby_report, link_hobby
        outcome = "ok"
        try:
            link_hobby(data, LinkKernel(p), "fuzz")
        except KmodError:
            outcome = "refused"
        try:
            hobby_report(data, p, "fuzz")       # the in-place loader, the sectioned one, both
        except KmodError:
            outcome = "refused"
        return outcome
    try:
        lm = link_module(data, LinkKernel(p))
    except KmodError:
        return "refused"
    lm.placed_sections()
    return "ok"


def path_relocs(data, seed):
    from linker.load import LinkKernel
    from linker.load.stepper import stepper_for
    try:
        st = stepper_for(data, kernel=LinkKernel(profile(seed.profile)), name="fuzz")
    except KmodError:
        return "refused"
    st.plan()
    for n, step in enumerate(st):
        if n < 64:
            step.text()
    st.finish()
    return "refused" if st.error else "ok"


RUN_BUDGET = 1.0      # seconds of wall clock per syscall of the run path


class OverBudget(Exception):
    pass


def path_run(data, seed):
    from emulator.errors import MemoryLimitExceeded
    from emulator.kernel import Kernel
    if seed.profile not in (PROFILE64, PROFILE_HOBBY):
        return "skipped"           # the i386 Linux profile links only
    k = Kernel(seed.profile, timeout_s=RUN_BUDGET)
    try:
        t = time.perf_counter()
        r = k.init_module(data, name="fuzz")
        slow = time.perf_counter() - t
        if r.ok:
            mods = list(k.modules)
            if mods:
                t = time.perf_counter()
                k.delete_module(mods[0].name)
                slow = max(slow, time.perf_counter() - t)
        k.dmesg()
        k.proc_modules()
        if slow > RUN_BUDGET + 1.0:
            raise OverBudget(f"a syscall took {slow:.2f} s, budget {RUN_BUDGET} s")
        return "ok" if r.ok else "refused"
    except MemoryLimitExceeded:
        return "refused"
    finally:
        k.close()


RUNNERS = {"readelf": path_readelf, "modinfo": path_modinfo, "link": path_link,
           "relocs": path_relocs, "run": path_run}


# --------------------------------------------------------------------------- one worker

def _frame_signature(frames):
    """The innermost frame inside the project (else the innermost): ``file:function``."""
    chosen = None
    for filename, lineno, func in frames:
        try:
            rel = str(Path(filename).resolve().relative_to(ROOT))
        except ValueError:
            continue
        chosen = (rel, lineno, func)
    if chosen is None and frames:
        chosen = frames[-1]
    if chosen is None:
        return "?", "?"
    return f"{chosen[0]}:{chosen[2]}", f"{chosen[0]}:{chosen[1]}"


def exception_signature(exc):
    frames = [(f.filename, f.lineno, f.name) for f in traceback.extract_tb(exc.__traceback__)]
    where, line = _frame_signature(frames)
    return f"{type(exc).__name__} {where}", line


def parse_fault_trace(text):
    """faulthandler's dump: the kind (timeout, native crash) and the innermost project frame
    of the thread that was running (``Current thread``, or the first one listed)."""
    kind = "Hang" if "Timeout" in text else "Worker" if text.startswith("Worker failure") \
        else "Fatal"
    block = text
    if "Current thread" in text:
        block = text[text.index("Current thread"):]
    frames = []
    for line in block.splitlines()[1:]:
        line = line.strip()
        if not line.startswith("File "):
            if frames:
                break
            continue
        try:
            fn = line.split('"')[1]
            lineno = int(line.split("line ")[1].split()[0].rstrip(","))
            func = line.rsplit(" in ", 1)[1]
        except (IndexError, ValueError):
            continue
        frames.append((fn, lineno, func))
    frames.reverse()      # most recent call first in the dump
    where, line = _frame_signature(frames)
    return f"{kind} {where}", line


def _read_hwm_kb():
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _reset_hwm():
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


@dataclass
class Config:
    seed: int = 0
    paths: tuple = DEFAULT_PATHS
    kill: float = 20.0            # seconds: an input still running is a hang
    slow: float = 3.0             # seconds: an input (readelf/modinfo/link/relocs) slower is a crash
    max_rss_mb: int = 600         # peak resident size of a worker during one input
    as_limit_mb: int = 6144       # RLIMIT_AS of a worker (a backstop)
    report_every: int = 64


SLOT = struct.Struct("<qqd")      # input index, path number, start time


def worker(cfg, seeds, start, end, slot_mem, slot, wfd, trace_path):
    """Run inputs ``start..end-1``; write ``D`` (done), ``C`` (crash) lines to ``wfd``."""
    try:
        resource.setrlimit(resource.RLIMIT_AS, (cfg.as_limit_mb * MiB, cfg.as_limit_mb * MiB))
    except (ValueError, OSError):
        pass
    tf = open(trace_path, "w")
    faulthandler.enable(file=tf)
    can_hwm = _reset_hwm()
    # what the parent loaded (profiles, modules) is never garbage: keep the collector off it,
    # so the collection after each input (a module's image lives in reference cycles) is cheap
    gc.collect()
    gc.freeze()
    counts = Counter()
    times = Counter()
    peak = {}
    since = start

    def send(line):
        os.write(wfd, (line + "\n").encode())

    def flush(done):
        nonlocal since
        send("D " + json.dumps({"done": done, "counts": [[k[0], k[1], v] for k, v in counts.items()],
                                "times": dict(times), "peak": peak}))
        counts.clear()
        times.clear()
        peak.clear()
        since = done + 1

    last = time.monotonic()
    for i in range(start, end):
        seed, data, notes = make_input(cfg.seed, i, seeds)
        for pno, path in enumerate(cfg.paths):
            SLOT.pack_into(slot_mem, slot * SLOT.size, i, pno, time.time())
            if can_hwm:
                _reset_hwm()
            faulthandler.dump_traceback_later(cfg.kill, exit=True, file=tf)
            t0 = time.perf_counter()
            crash = None
            try:
                outcome = RUNNERS[path](data, seed)
            except KmodError:
                outcome = "refused"
            except (Exception, RecursionError) as exc:     # a traceback: what we look for
                outcome = "crash"
                sig, line = exception_signature(exc)
                crash = {"sig": sig, "line": line,
                         "trace": "".join(traceback.format_exception(exc))[-4000:]}
            finally:
                faulthandler.cancel_dump_traceback_later()
            gc.collect()
            dt = time.perf_counter() - t0
            hwm = _read_hwm_kb() // 1024 if can_hwm else 0
            if crash is None and path != "run" and dt > cfg.slow:
                outcome = "crash"
                crash = {"sig": f"Slow {path}", "line": "", "trace": f"{dt:.2f} s"}
            if crash is None and hwm > cfg.max_rss_mb:
                outcome = "crash"
                crash = {"sig": f"HostMemory {path}", "line": "", "trace": f"peak {hwm} MB"}
            counts[(path, outcome)] += 1
            times[path] += dt
            if hwm > peak.get(path, (0, 0))[0]:
                peak[path] = (hwm, i)
            if crash is not None:
                crash.update(index=i, path=path, seed=seed.name, notes=notes, seconds=round(dt, 3),
                             peak_mb=hwm)
                send("C " + json.dumps(crash))
        now = time.monotonic()
        if i - since + 1 >= cfg.report_every or now - last > 1.0:
            flush(i)
            last = now
    if since < end:
        flush(end - 1)
    tf.close()


# --------------------------------------------------------------------------- the campaign

class Campaign:
    def __init__(self, cfg, seeds, jobs=2, crash_dir=None, chunk=2000, max_worker_rss_mb=3000,
                 verbose=True):
        self.cfg, self.seeds, self.jobs = cfg, seeds, jobs
        self.crash_dir = Path(crash_dir) if crash_dir else None
        self.chunk, self.max_worker_rss = chunk, max_worker_rss_mb
        self.verbose = verbose
        self.counts = Counter()           # (path, outcome) -> n
        self.times = Counter()            # path -> seconds spent
        self.peak = {}                    # path -> MB
        self.crashes = {}                 # signature -> {"count", "first", "examples"}
        self.crash_keys = set()           # (index, path) already counted
        self.done_inputs = 0
        self.wall = 0.0

    def record_crash(self, c):
        key = (c["index"], c["path"])
        if key in self.crash_keys:
            return
        self.crash_keys.add(key)
        sig = f'{c["path"]}: {c["sig"]}'
        entry = self.crashes.get(sig)
        if entry is None:
            entry = self.crashes[sig] = {"count": 0, "first": c, "indexes": []}
            if self.verbose:
                print(f"  new crash [{c['path']}] {c['sig']}  (input {c['index']}, {c['seed']}: "
                      f"{'; '.join(c['notes'])})", flush=True)
        entry["count"] += 1
        if len(entry["indexes"]) < 50:
            entry["indexes"].append(c["index"])
        self.save(sig, c, first=entry["count"] == 1)

    def save(self, sig, c, first):
        if self.crash_dir is None or not (first or c["path"] == "run"):
            return
        self.crash_dir.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha1(sig.encode()).hexdigest()[:10]
        stem = self.crash_dir / f"{c['path']}-{h}-{c['index']}"
        seed, data, notes = make_input(self.cfg.seed, c["index"], self.seeds)
        stem.with_suffix(".bin").write_bytes(data)
        stem.with_suffix(".txt").write_text(
            f"{sig}\nrebuild: python bench/fuzz.py --seed {self.cfg.seed} --replay {c['index']}"
            f" --paths {c['path']}\nseed module: {seed.name} ({seed.profile})\nmutations: "
            f"{'; '.join(notes)}\n\n{c.get('trace', '')}\n")

    def run(self, start, end):
        ctx_mem = mmap.mmap(-1, SLOT.size * self.jobs)
        todo = [(s, min(s + self.chunk, end)) for s in range(start, end, self.chunk)]
        todo.reverse()
        running = {}          # pid -> dict
        free_slots = list(range(self.jobs))
        t0 = time.monotonic()
        last_print = t0
        while todo or running:
            while todo and free_slots:
                s, e = todo.pop()
                slot = free_slots.pop()
                r, w = os.pipe()
                trace = f"/tmp/kmodsim-fuzz-{os.getpid()}-{slot}.trace"
                SLOT.pack_into(ctx_mem, slot * SLOT.size, s, 0, time.time())
                pid = os.fork()
                if pid == 0:
                    os.close(r)
                    code = 0
                    try:
                        worker(self.cfg, self.seeds, s, e, ctx_mem, slot, w, trace)
                    except BaseException:
                        with open(trace, "a") as fh:     # the fuzzer's own failure, not an input's
                            fh.write("Worker failure\n" + traceback.format_exc())
                        code = 70
                    finally:
                        os._exit(code)
                os.close(w)
                running[pid] = {"slot": slot, "start": s, "end": e, "fd": r, "buf": b"",
                                "next": s, "trace": trace}
            fds = {st["fd"]: pid for pid, st in running.items()}
            ready, _, _ = select.select(list(fds), [], [], 0.2)
            for fd in ready:
                st = running[fds[fd]]
                chunk = os.read(fd, 1 << 16)
                st["buf"] += chunk
                *lines, st["buf"] = st["buf"].split(b"\n")
                for line in lines:
                    self._line(st, line.decode())
            for pid, st in list(running.items()):
                self._check_rss(pid, st)
                got, status = os.waitpid(pid, os.WNOHANG)
                if got == 0:
                    continue
                # drain what is left in its pipe
                while True:
                    chunk = os.read(st["fd"], 1 << 16)
                    if not chunk:
                        break
                    st["buf"] += chunk
                for line in st["buf"].split(b"\n"):
                    if line:
                        self._line(st, line.decode())
                os.close(st["fd"])
                del running[pid]
                free_slots.append(st["slot"])
                if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
                    continue
                idx, pno, _ = SLOT.unpack_from(ctx_mem, st["slot"] * SLOT.size)
                self._worker_died(st, idx, pno, status)
                if idx + 1 < st["end"]:
                    todo.append((idx + 1, st["end"]))
                if st["next"] < idx:      # inputs done but not yet reported: run them again
                    todo.append((st["next"], idx))
            now = time.monotonic()
            if self.verbose and now - last_print > 30:
                last_print = now
                self.wall = now - t0
                print(f"  {self.done_inputs} inputs, {self.done_inputs / self.wall:.0f}/s, "
                      f"{sum(e['count'] for e in self.crashes.values())} crashes "
                      f"({len(self.crashes)} distinct)", flush=True)
        self.wall = time.monotonic() - t0
        return self

    def _line(self, st, line):
        kind, _, payload = line.partition(" ")
        if kind == "D":
            d = json.loads(payload)
            for path, outcome, n in d["counts"]:
                self.counts[(path, outcome)] += n
            for path, t in d["times"].items():
                self.times[path] += t
            for path, (mb, index) in d["peak"].items():
                if mb > self.peak.get(path, (0, 0))[0]:
                    self.peak[path] = (mb, index)
            self.done_inputs += d["done"] + 1 - st["next"]
            st["next"] = d["done"] + 1
        elif kind == "C":
            self.record_crash(json.loads(payload))

    def _check_rss(self, pid, st):
        try:
            with open(f"/proc/{pid}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"VmRSS:"):
                        if int(line.split()[1]) // 1024 > self.max_worker_rss:
                            os.kill(pid, signal.SIGKILL)
                            st["killed_rss"] = True
                        break
        except (OSError, ValueError):
            pass

    def _worker_died(self, st, idx, pno, status):
        path = self.cfg.paths[pno]
        try:
            text = Path(st["trace"]).read_text(errors="replace")
        except OSError:
            text = ""
        if st.get("killed_rss"):
            sig, line = f"HostMemory {path} (worker over {self.max_worker_rss} MB)", ""
        elif text.strip():
            sig, line = parse_fault_trace(text)
        else:
            sig, line = f"Died {path} (status {status:#x})", ""
        seed, _, notes = make_input(self.cfg.seed, idx, self.seeds)
        self.counts[(path, "crash")] += 1
        self.done_inputs += 1
        self.record_crash({"index": idx, "path": path, "sig": sig, "line": line,
                           "seed": seed.name, "notes": notes, "trace": text[-4000:]})

    # -- the summary
    def summary(self):
        out = []
        total = self.done_inputs
        out.append(f"campaign seed {self.cfg.seed}: {total} inputs in {self.wall:.1f} s "
                   f"({total / max(self.wall, 1e-9):.0f} inputs/s over {self.jobs} workers)")
        for path in self.cfg.paths:
            n = sum(v for (p, _), v in self.counts.items() if p == path)
            outcomes = ", ".join(f"{o} {v}" for (p, o), v in sorted(self.counts.items()) if p == path)
            rate = n / self.times[path] if self.times[path] else 0
            mb, at = self.peak.get(path, (0, 0))
            out.append(f"  {path:8} {n:9} inputs, {rate:7.0f}/s per worker, peak {mb} MB "
                       f"(input {at}): {outcomes}")
        out.append(f"  distinct crashes: {len(self.crashes)}")
        for sig, e in sorted(self.crashes.items(), key=lambda kv: -kv[1]["count"]):
            f = e["first"]
            out.append(f"    {e['count']:6}x {sig} [{f.get('line', '')}] first: input {f['index']} "
                       f"({f['seed']}: {'; '.join(f['notes'])})")
        return "\n".join(out)

    @property
    def crash_count(self):
        return sum(e["count"] for e in self.crashes.values())


def run_campaign(seed=0, inputs=1000, paths=DEFAULT_PATHS, jobs=2, corpus=0, crash_dir=None,
                 start=0, verbose=False, **cfg_kw):
    """A campaign from Python (tests): returns the finished :class:`Campaign`."""
    seeds = load_seeds(corpus, seed)
    cfg = Config(seed=seed, paths=tuple(paths), **cfg_kw)
    _warm(paths)
    chunk = max(50, inputs // (4 * jobs))
    return Campaign(cfg, seeds, jobs, crash_dir, chunk=chunk, verbose=verbose).run(start, start + inputs)


def _warm(paths):
    """Import (and load the profiles) before forking, so each worker starts at once."""
    for module in ("linker.elf.describe", "linker.load.hobby", "linker.load.stepper",
                   "linker.module.depmod", "linker.module.kmod_format",
                   "linker.module.metadata"):
        importlib.import_module(module)
    for name in (PROFILE64, PROFILE32, PROFILE_HOBBY):
        try:
            p = profile(name)
            if hasattr(p.exports, "index"):
                p.exports.index()
        except KmodError:
            pass
    if "run" in paths:
        importlib.import_module("emulator.kernel")


def replay(cfg, seeds, index, out=None):
    seed, data, notes = make_input(cfg.seed, index, seeds)
    print(f"input {index}: {seed.name} ({seed.profile}), {len(data)} bytes: {'; '.join(notes)}")
    if out:
        Path(out).write_bytes(data)
        print(f"written to {out}")
    for path in cfg.paths:
        t = time.perf_counter()
        try:
            outcome = RUNNERS[path](data, seed)
        except KmodError as exc:
            outcome = f"refused: {exc.message}"
        except Exception:
            outcome = "CRASH"
            traceback.print_exc()
        print(f"  {path}: {outcome} ({time.perf_counter() - t:.3f} s, peak {_read_hwm_kb() // 1024} MB)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    ap.add_argument("--inputs", type=int, default=10000, help="how many inputs (default 10000)")
    ap.add_argument("--start", type=int, default=0, help="first input index")
    ap.add_argument("--paths", default=",".join(DEFAULT_PATHS),
                    help=f"comma-separated, from {','.join(PATHS)} (default {','.join(DEFAULT_PATHS)})")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--corpus", type=int, default=0, help="add N Debian corpus modules as seeds")
    ap.add_argument("--crashes", default=str(HERE / "fuzz-crashes"),
                    help="where crashing inputs are saved (default bench/fuzz-crashes)")
    ap.add_argument("--kill", type=float, default=20.0, help="seconds before an input is a hang")
    ap.add_argument("--slow", type=float, default=3.0,
                    help="seconds an input of a linker path may take (run: its budget + 1 s)")
    ap.add_argument("--max-rss", type=int, default=600, help="MB of peak host memory per input")
    ap.add_argument("--budget", type=float, default=None, help="run path: seconds per syscall (default 1)")
    ap.add_argument("--replay", type=int, default=None, metavar="INDEX",
                    help="rebuild input INDEX, run it in this process and show any traceback")
    ap.add_argument("--write", metavar="FILE", help="with --replay: write the input to FILE")
    ap.add_argument("--json", metavar="FILE", help="write the summary and crashes as JSON")
    args = ap.parse_args(argv)
    paths = tuple(p for p in args.paths.split(",") if p)
    bad = [p for p in paths if p not in PATHS]
    if bad:
        ap.error(f"unknown path(s): {', '.join(bad)}")
    global RUN_BUDGET
    if args.budget is not None:
        RUN_BUDGET = args.budget
    seeds = load_seeds(args.corpus, args.seed)
    cfg = Config(seed=args.seed, paths=paths, kill=args.kill, slow=args.slow,
                 max_rss_mb=args.max_rss)
    if args.replay is not None:
        replay(cfg, seeds, args.replay, args.write)
        return 0
    print(f"{len(seeds)} seed modules, paths {','.join(paths)}, {args.jobs} workers, "
          f"inputs {args.start}..{args.start + args.inputs - 1} of campaign {args.seed}", flush=True)
    _warm(paths)
    chunk = min(2000, max(50, args.inputs // (4 * args.jobs)))
    camp = Campaign(cfg, seeds, args.jobs, args.crashes, chunk=chunk).run(args.start,
                                                                         args.start + args.inputs)
    print(camp.summary())
    if args.json:
        Path(args.json).write_text(json.dumps({
            "seed": args.seed, "inputs": camp.done_inputs, "wall": camp.wall, "jobs": args.jobs,
            "counts": {f"{p}/{o}": v for (p, o), v in camp.counts.items()},
            "times": dict(camp.times), "peak_mb": camp.peak,
            "crashes": {s: {"count": e["count"], "first": e["first"], "indexes": e["indexes"]}
                        for s, e in camp.crashes.items()}}, indent=1))
    return 1 if camp.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
