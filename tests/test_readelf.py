"""``kmodsim readelf`` against GNU binutils 2.40 ``readelf -W``, byte for byte.

readelf is the oracle: every comparison runs the real tool (in the C locale) on the same
file and asserts equal stdout. The inputs are the committed samples, the seed modules in
``../shared``, objects gcc builds here, and objects written by the small ELF builder below,
which sweeps the fields that readelf turns into names (section types and flags, symbol
types, bindings, st_other, Ndx values, relocation types, addends) in both classes and byte
orders. Everything that needs readelf 2.40 skips without it; ``@pytest.mark.corpus`` runs
over the Debian modules when ``KMODSIM_CORPUS=1``.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emulator import cli
from emulator.cli import readelf as cli_readelf
from linker.elf import describe
from linker.elf.reader import ElfFile
from linker.elf.records import RecordLayout as Layout

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SAMPLES = ROOT / "samples"
SEEDS = ROOT.parent / "shared" / "golden" / "seed-modules"
OPTIONS = ("-h", "-S", "-s", "-r")
_VIEW = {"-h": "header", "-S": "sections", "-s": "symbols", "-r": "relocs"}


def _readelf_version():
    if shutil.which("readelf") is None:
        return None
    out = subprocess.run(["readelf", "--version"], capture_output=True, text=True).stdout
    return out.split("\n", 1)[0].split()[-1] if out else None


READELF_OK = _readelf_version() == "2.40"
needs_readelf = pytest.mark.skipif(not READELF_OK, reason="needs GNU readelf 2.40")


def readelf(path, *opts):
    env = dict(os.environ, LC_ALL="C")
    return subprocess.run(["readelf", "-W", *opts, str(path)], capture_output=True, env=env).stdout


def ours(path, *opts):
    elf = ElfFile.from_path(path)
    return cli_readelf.render(elf, **{_VIEW[o]: True for o in opts}).encode("latin-1")


def assert_same(path, *opts):
    want, got = readelf(path, *opts), ours(path, *opts)
    if got != want:
        import difflib
        diff = "\n".join(difflib.unified_diff(want.decode("latin-1").splitlines(),
                                              got.decode("latin-1").splitlines(),
                                              "readelf", "kmodsim", lineterm="", n=1))
        pytest.fail(f"{path} {' '.join(opts)} differs:\n{diff[:4000]}")


# -- a small ELF writer ------------------------------------------------------------------

class ElfBuilder:
    """Writes an ELF relocatable object section by section, any class, order or machine.

    ``.shstrtab`` is added last by :meth:`build`; header fields can be overridden there to
    make odd or corrupt files.
    """

    def __init__(self, bits=64, little=True, machine=62, osabi=0, e_flags=0):
        self.layout = Layout(bits, little)
        self.machine, self.osabi, self.e_flags = machine, osabi, e_flags
        self.sections = [dict(name="", sh_type=0, data=b"", size=None)]

    def section(self, name, sh_type, data=b"", flags=0, link=0, info=0, align=1, entsize=0,
                addr=0, size=None):
        self.sections.append(dict(name=name, sh_type=sh_type, data=bytes(data), flags=flags,
                                  link=link, info=info, align=align, entsize=entsize,
                                  addr=addr, size=size))
        return len(self.sections) - 1

    def symtab(self, symbols, name=".symtab", sh_type=2, local_count=None):
        """``symbols``: ``(name, value, size, info, other, shndx)`` tuples after the null one.

        A name may be an ``int``: then it is the raw ``st_name`` offset.
        """
        strtab = bytearray(b"\0")
        recs = [(0, 0, 0, 0, 0, 0)]
        for sname, value, size, info, other, shndx in symbols:
            if isinstance(sname, int):
                off = sname
            elif sname:
                off = len(strtab)
                strtab += sname.encode("latin-1") + b"\0"
            else:
                off = 0
            recs.append((off, value, size, info, other, shndx))
        strndx = self.section(name.replace("sym", "str"), 3, strtab)
        L = self.layout
        data = b"".join(L.sym.pack(*r) if L.bits == 32 else
                        L.sym.pack(r[0], r[3], r[4], r[5], r[1], r[2]) for r in recs)
        locals_ = local_count if local_count is not None else 1 + sum(
            1 for s in symbols if s[3] >> 4 == 0)
        return self.section(name, sh_type, data, link=strndx, info=locals_,
                            align=L.word_size, entsize=L.sym.size)

    def relocs(self, name, target, symtab, entries, rela=True, entsize=None):
        """``entries``: ``(offset, sym, type, addend)``; the addend is ignored for REL."""
        L = self.layout
        rec = L.rela if rela else L.rel
        data = b"".join(rec.pack(o, L.r_info(s, t), a) if rela else rec.pack(o, L.r_info(s, t))
                        for o, s, t, a in entries)
        return self.section(name, 4 if rela else 9, data, flags=0x40, link=symtab, info=target,
                            align=L.word_size, entsize=rec.size if entsize is None else entsize)

    def build(self, **over):
        L = self.layout
        shstr = bytearray(b"\0")
        names = []
        for s in self.sections[1:]:
            names.append(len(shstr))
            shstr += s["name"].encode("latin-1") + b"\0"
        names.append(len(shstr))
        shstr += b".shstrtab\0"
        sections = self.sections + [dict(name=".shstrtab", sh_type=3, data=bytes(shstr),
                                         flags=0, link=0, info=0, align=1, entsize=0, addr=0,
                                         size=None)]
        out = bytearray(L.ehdr.size)
        shdrs = [L.shdr.pack(0, 0, 0, 0, 0, over.pop("sh0_size", 0), over.pop("sh0_link", 0),
                             over.pop("sh0_info", 0), 0, 0)]
        for i, s in enumerate(sections[1:]):
            align = max(s["align"], 1)
            while len(out) % min(align, 8):
                out.append(0)
            offset = len(out)
            if s["sh_type"] != 8:
                out += s["data"]
            size = s["size"] if s["size"] is not None else len(s["data"])
            shdrs.append(L.shdr.pack(names[i], s["sh_type"], s["flags"], s["addr"], offset, size,
                                     s["link"], s["info"], s["align"], s["entsize"]))
        while len(out) % 8:
            out.append(0)
        shoff = len(out)
        out += b"".join(shdrs)
        ident = bytearray(b"\x7fELF" + bytes(12))
        ident[4] = 1 if L.bits == 32 else 2
        ident[5] = 1 if L.little else 2
        ident[6] = over.pop("ei_version", 1)
        ident[7] = self.osabi
        ident[8] = over.pop("abiversion", 0)
        fields = dict(e_type=1, e_machine=self.machine, e_version=1, e_entry=0, e_phoff=0,
                      e_shoff=shoff, e_flags=self.e_flags, e_ehsize=L.ehdr.size, e_phentsize=0,
                      e_phnum=0, e_shentsize=L.shdr.size, e_shnum=len(shdrs),
                      e_shstrndx=len(shdrs) - 1)
        assert set(over) <= set(fields), set(over) - set(fields)
        fields.update(over)
        out[:L.ehdr.size] = L.ehdr.pack(bytes(ident), *fields.values())
        return bytes(out)


def st_info(bind, typ):
    return bind << 4 | typ


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# machine, class, byte order: the ones kmodsim loads plus a spread of others
MACHINES = [
    (62, 64, True), (3, 32, True), (183, 64, True), (40, 32, True), (243, 64, True),
    (21, 64, False), (20, 32, False), (22, 64, False), (40, 32, False), (42, 32, True),
    (258, 64, True), (999, 64, True), (6, 32, True), (180, 64, True),
]
OSABIS = (0, 3, 6, 9, 97)
# machines whose relocation names kmodsim does not know (it prints "unrecognized: N")
NO_RELOC_NAMES = (42, 258)


def _machine_id(m):
    return f"em{m[0]}-{m[1]}{'le' if m[2] else 'be'}"


def sweep_object(machine, bits, little, osabi):
    """One object that puts many values of every named field in front of readelf."""
    b = ElfBuilder(bits, little, machine, osabi)
    text = b.section(".text", 1, b"\x90" * 64, flags=0x6, align=16)
    b.section(".data", 1, b"\0" * 16, flags=0x3, align=8)
    b.section(".bss", 8, flags=0x3, size=0x20, align=32)
    # section types: the named ones and each range's edges
    types = [0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 0x5FFFFFFF,
             0x60000000, 0x6FFF4700, 0x6FFFFFF0, 0x6FFFFFF5, 0x6FFFFFF6, 0x6FFFFFF7, 0x6FFFFFFC,
             0x6FFFFFFD, 0x6FFFFFFE, 0x6FFFFFFF] + list(range(0x70000000, 0x70000010)) + [
             0x7FFFFFFD, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]
    for t in types:
        b.section("t%x" % t, t, b"")
    # flags: every bit alone, then some mixes
    nbits = 64 if bits == 64 else 32
    for bit in range(nbits):
        b.section("f%d" % bit, 1, b"", flags=1 << bit)
    for flags in (0x7, 0xFFF, 0x0FF00000, 0xF0000000, 0x30200003, 0x01200000, (1 << nbits) - 1):
        b.section("m%x" % flags, 1, b"", flags=flags)
    b.section("name with\x01ctrl\x7f and \xe9 bytes and a very long tail", 1, b"")
    b.section("", 1, b"")
    nsec = len(b.sections) + 3     # + .strtab, .symtab, .rela, .shstrtab - 1
    syms = [("file.c", 0, 0, st_info(0, 4), 0, 0xFFF1), ("", 0, 0, st_info(0, 3), 0, text),
            ("", 0, 0, st_info(0, 3), 0, 0xFFF1), ("", 0, 0, st_info(0, 3), 0, 0xFFF2),
            ("", 0, 0, st_info(0, 3), 0, 0xFF02), ("", 0, 0, st_info(0, 3), 0, 0xFF03),
            ("", 0, 0, st_info(0, 3), 0, 0xFF04), ("", 0, 0, st_info(0, 3), 0, 0xFF10),
            ("", 0, 0, st_info(0, 2), 0, text), ("named_section", 0, 0, st_info(0, 3), 0, text)]
    syms += [("info%d" % i, i, i * 1000, i, 0, text) for i in range(256)]
    syms += [("other%d" % i, 0, 0, st_info(1, 2), i, text) for i in range(256)]
    shndxs = [0, 1, nsec - 1, nsec, nsec + 1, 0xFEFF, 0xFF00, 0xFF01, 0xFF02, 0xFF03, 0xFF04,
              0xFF1F, 0xFF20, 0xFF3F, 0xFF40, 0xFFF0, 0xFFF1, 0xFFF2, 0xFFF3, 0xFFFF]
    syms += [("ndx%x" % n, 0, 0, st_info(1, 1), 0, n) for n in shndxs]
    syms += [("big", (1 << bits) - 1, 99999, st_info(1, 1), 0, text),
             ("bigger", 0, 100000, st_info(1, 1), 0, text),
             ("huge", 0, (1 << bits) - 1, st_info(1, 1), 0, text),
             ("a_very_long_symbol_name_that_is_far_wider_than_the_name_column_" * 2, 0, 0,
              st_info(1, 0), 0, 0),
             ("ctrl\x1b[31m\x7f\xff", 0, 0, st_info(1, 0), 0, 0),
             (0x7FFFFF, 0, 0, st_info(1, 0), 0, 0)]
    symtab = b.symtab(syms)
    nsyms = len(syms) + 1
    addends = [0, 1, 4, -4, 0x7FFFFFFF, -0x80000000, -1]
    if bits == 64:
        addends += [0x7FFFFFFFFFFFFFFF, -0x8000000000000000]
    # every relocation type, against symbols of every kind (sections, IFUNCs, odd names)
    entries = [(i * 4, 1 + (i * 7) % (nsyms - 1), i, addends[i % len(addends)]) for i in range(256)]
    entries += [(0x10, 0, 1, a) for a in addends]
    entries += [(0x20, nsyms, 1, 5), (0x20, nsyms + 100, 2, -5), ((1 << bits) - 1, nsyms - 1, 1, 0)]
    b.relocs(".rela.text", text, symtab, entries, rela=True)
    b.relocs(".rel.text", text, symtab, entries[:300], rela=False)
    b.relocs(".rela.one", text, symtab, entries[:1], rela=True)
    b.relocs(".rela.empty", text, symtab, [], rela=True)
    return b.build()


@needs_readelf
@pytest.mark.parametrize("osabi", OSABIS)
@pytest.mark.parametrize("machine", MACHINES, ids=_machine_id)
def test_field_sweep(tmp_path, machine, osabi):
    path = write(tmp_path, "sweep.o", sweep_object(*machine, osabi))
    for opt in OPTIONS:
        if opt == "-r" and machine[0] in NO_RELOC_NAMES:
            continue
        assert_same(path, opt)


@needs_readelf
def test_mips_symbol_other(tmp_path):
    """MIPS names its own st_other bits (its section types and relocations are not named)."""
    b = ElfBuilder(32, False, 8)
    text = b.section(".text", 1, b"\0" * 8, flags=0x6)
    b.symtab([("o%d" % i, 0, 0, st_info(1, 2), i, text) for i in range(256)]
             + [("", 0, 0, st_info(0, 3), 0, n) for n in (0xFF03, 0xFF04, 0xFF05)])
    assert_same(write(tmp_path, "mips.o", b.build()), "-s")


# -- header odds and ends ------------------------------------------------------------

def _small(bits=64, little=True, machine=62, osabi=0, e_flags=0, **over):
    b = ElfBuilder(bits, little, machine, osabi, e_flags)
    text = b.section(".text", 1, b"\xc3", flags=0x6)
    st = b.symtab([("f", 0, 1, st_info(1, 2), 0, text)])
    b.relocs(".rela.text", text, st, [(0, 1, 2, -4)])
    return b.build(**over)


HEADER_CASES = {
    "ei_version0": dict(ei_version=0),
    "ei_version7": dict(ei_version=7),
    "abiversion": dict(abiversion=3),
    "type_none": dict(e_type=0), "type_exec": dict(e_type=2), "type_dyn": dict(e_type=3),
    "type_core": dict(e_type=4), "type_5": dict(e_type=5), "type_os": dict(e_type=0xFE01),
    "type_proc": dict(e_type=0xFF07),
    "version2": dict(e_version=2), "entry": dict(e_entry=0x401000),
    "phoff": dict(e_phoff=64, e_phnum=0), "phnum_xnum": dict(e_phnum=0xFFFF, sh0_info=7),
    "shstrndx_xindex": dict(e_shstrndx=0xFFFF, sh0_link=5),
    "flags": dict(e_flags=0x12345678),
}


@needs_readelf
@pytest.mark.parametrize("case", sorted(HEADER_CASES))
def test_header_fields(tmp_path, case):
    path = write(tmp_path, "h.o", _small(**HEADER_CASES[case]))
    assert_same(path, "-h")
    assert_same(path, "-h", "-S", "-r", "-s")


FLAG_CASES = [(243, 64, f) for f in (0x0, 0x1, 0x2, 0x5, 0x6, 0x9, 0x15, 0x20, 0xFFFFFFFF)]
FLAG_CASES += [(40, 32, eabi << 24 | low) for eabi in (0, 1, 2, 3, 4, 5, 6, 0xFF)
               for low in (0, 0x1, 0x20, 0x4, 0x8, 0x10, 0x40, 0x200, 0x400, 0x800, 0xC00000,
                           0x1000, 0x6, 0xFFFFFF)]
FLAG_CASES += [(20, 32, f) for f in (0x8000, 0x10000, 0x80000000, 0x80018000, 0x7FFF)]
FLAG_CASES += [(m, 64, f) for m in (21, 22, 183, 62) for f in (0, 1, 2, 3, 0xFFFFFFFF)]
FLAG_CASES += [(3, 32, 0xFFFFFFFF)]


@needs_readelf
@pytest.mark.parametrize("machine,bits,flags", FLAG_CASES)
def test_machine_flags(tmp_path, machine, bits, flags):
    path = write(tmp_path, "f.o", _small(bits, True, machine, e_flags=flags))
    assert_same(path, "-h")


@needs_readelf
@pytest.mark.parametrize("machine", sorted(describe._MACHINE) + [999, 0xFFFF])
def test_machine_names(tmp_path, machine):
    path = write(tmp_path, "m.o", _small(machine=machine))
    assert_same(path, "-h")


@needs_readelf
@pytest.mark.parametrize("bits", (32, 64))
def test_extended_numbering(tmp_path, bits):
    """More than 0xff00 sections: e_shnum is 0, the count and shstrndx live in section 0."""
    b = ElfBuilder(bits, True, 62 if bits == 64 else 3)
    for i in range(0xFF10):
        b.section(".s%d" % i, 1, b"", flags=0x2)
    n = len(b.sections)
    syms = [("", 0, 0, st_info(0, 3), 0, i) for i in (1, 0xFEFF, 0xFF00, 0xFF05, n - 1)]
    symtab_index = len(b.sections) + 1
    symtab = b.symtab(syms + [("x", 0, 0, st_info(1, 1), 0, 0xFFFF)])
    shndx = b"".join(b.layout.u32.pack(v) for v in [0, 0, 0, 0, 0, 0, n + 2])
    b.section(".symtab_shndx", 18, shndx, link=symtab, align=4, entsize=4)
    assert symtab == symtab_index
    b.relocs(".rela.s0", 1, symtab, [(0, i, 1, 0) for i in range(1, 7)], rela=True)
    total = len(b.sections) + 1
    path = write(tmp_path, "many.o", b.build(e_shnum=0, sh0_size=total,
                                             e_shstrndx=0xFFFF, sh0_link=total - 1))
    for opt in OPTIONS:
        assert_same(path, opt)


@needs_readelf
def test_no_sections_no_relocations_no_symbols(tmp_path):
    b = ElfBuilder()
    b.section(".text", 1, b"\xc3", flags=0x6)
    path = write(tmp_path, "plain.o", b.build())
    bare = write(tmp_path, "bare.o", ElfBuilder().build(e_shoff=0, e_shnum=0, e_shstrndx=0))
    for opts in [(o,) for o in OPTIONS] + [("-h", "-S"), OPTIONS]:
        assert_same(path, *opts)
        assert_same(bare, *opts)


@needs_readelf
@pytest.mark.parametrize("rela", (True, False))
def test_relocation_oddities(tmp_path, rela):
    b = ElfBuilder()
    text = b.section(".text", 1, b"\0" * 16, flags=0x6)
    data = b.section(".data", 1, b"\0" * 16, flags=0x3)
    st = b.symtab([("f", 0, 1, st_info(1, 2), 0, text)])
    b.relocs(".rela.nolink", text, 0, [(0, 1, 2, 3), (4, 0, 1, -1)], rela=rela)
    b.relocs(".rela.tostrtab", text, st - 1, [(0, 1, 2, 3)], rela=rela)
    b.relocs(".rela.todata", data, data, [(0, 1, 2, 3)], rela=rela)
    b.relocs(".rela.badlink", text, 200, [(0, 1, 2, 3)], rela=rela)
    path = write(tmp_path, "r.o", b.build())
    assert_same(path, "-r")


@needs_readelf
def test_minimal_section_headers(tmp_path):
    b = ElfBuilder()
    data = b.build()
    path = write(tmp_path, "one.o", data)
    assert_same(path, "-S")
    assert_same(path, "-h", "-S")


# -- real objects -------------------------------------------------------------------------

def _objects(root, patterns=("*.o", "*.ko")):
    return sorted(p for pat in patterns for p in root.rglob(pat)) if root.is_dir() else []


SAMPLE_OBJECTS = _objects(SAMPLES)
SEED_MODULES = sorted(SEEDS.glob("*/*.ko")) if SEEDS.is_dir() else []


@needs_readelf
@pytest.mark.parametrize("path", SAMPLE_OBJECTS, ids=lambda p: str(p.relative_to(SAMPLES)))
@pytest.mark.parametrize("opt", OPTIONS)
def test_samples(path, opt):
    assert_same(path, opt)


@needs_readelf
@pytest.mark.shared
@pytest.mark.skipif(not SEED_MODULES, reason="../shared seed modules absent")
@pytest.mark.parametrize("opt", OPTIONS)
def test_seed_modules(opt):
    for path in SEED_MODULES:
        assert_same(path, opt)


C_SOURCE = r"""
#include <stdint.h>
int counter = 3;
static int hidden_state;
extern int external_value;
__thread int per_thread;
static const char message[] = "hello";
int buffer[30000];
int common_thing __attribute__((common));
__attribute__((weak)) int weak_function(void) { return 1; }
__attribute__((visibility("hidden"))) int hidden_function(int x) { return x * 2; }
__attribute__((visibility("protected"))) int protected_function(int x) { return x * 3; }
static int helper(int x) { return x + hidden_state++; }
inline int inline_everywhere(int x) { return x + 1; }
int (*pointer)(int) = helper;
const char *strings[] = { message, "world", "again" };
static int impl(int x) { return x; }
static int (*resolve(void))(int) { return impl; }
int chosen(int) __attribute__((ifunc("resolve")));
int api(int x) {
    return helper(x) + counter + external_value + per_thread + buffer[x] + message[1]
           + inline_everywhere(x) + pointer(x) + chosen(x);
}
"""

CXX_SOURCE = r"""
template <typename T> T twice(T v) { return v + v; }
struct Widget { virtual ~Widget() {} virtual int get() const { return 42; } };
int use(int x) { Widget w; return twice(x) + twice<long>(x) + w.get(); }
"""


def _compile(tmp_path, name, source, *flags, compiler="gcc", suffix=".c"):
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed")
    src = tmp_path / (name + suffix)
    src.write_text(source)
    obj = tmp_path / (name + ".o")
    r = subprocess.run([compiler, "-c", "-o", str(obj), str(src), *flags], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"{compiler} {' '.join(flags)} failed: {r.stderr.decode()[:200]}")
    return obj


GCC_BUILDS = {
    "x86_64": ("-O2",), "x86_64_pic": ("-O1", "-fPIC"), "x86_64_debug": ("-g", "-O0"),
    "i386": ("-m32", "-O2"), "i386_pic": ("-m32", "-fPIC"),
    "sections": ("-O2", "-ffunction-sections", "-fdata-sections"),
    "large_model": ("-O2", "-mcmodel=large"),
    "kernel_like": ("-O2", "-mcmodel=kernel", "-mno-red-zone", "-fno-pic"),
}


@needs_readelf
@pytest.mark.parametrize("build", sorted(GCC_BUILDS))
def test_gcc_objects(tmp_path, build):
    obj = _compile(tmp_path, build, C_SOURCE, *GCC_BUILDS[build])
    for opt in OPTIONS:
        assert_same(obj, opt)


@needs_readelf
@pytest.mark.parametrize("flags", [(), ("-m32",)], ids=("x86_64", "i386"))
def test_comdat_groups(tmp_path, flags):
    """C++ templates and vtables land in COMDAT groups (SHT_GROUP, SHF_GROUP members)."""
    obj = _compile(tmp_path, "cxx", CXX_SOURCE, "-O0", "-ffunction-sections", *flags,
                   compiler="g++", suffix=".cc")
    assert any(s.sh_type == 17 for s in ElfFile.from_path(obj).sections)
    for opt in OPTIONS:
        assert_same(obj, opt)


ASM_SOURCE = """
    .text
    .globl entry
entry:
    .word 0
    .data
    .globl value
value:
    .word 1
    .section .data.rel,"aw"
    .dc.a entry
    .dc.a value + 8
    .dc.a undefined_elsewhere - 4
"""

CROSS_AS = ["s390x-linux-gnu-as", "powerpc-linux-gnu-as",
            "aarch64-linux-gnu-as", "riscv64-linux-gnu-as", "arm-linux-gnueabihf-as"]


@needs_readelf
@pytest.mark.parametrize("assembler", CROSS_AS)
def test_cross_assembled(tmp_path, assembler):
    """Big-endian and other machines, when a cross assembler happens to be installed."""
    if shutil.which(assembler) is None:
        pytest.skip(f"{assembler} not installed")
    src = tmp_path / "x.s"
    src.write_text(ASM_SOURCE)
    obj = tmp_path / "x.o"
    subprocess.run([assembler, "-o", str(obj), str(src)], check=True, capture_output=True)
    for opt in OPTIONS:
        assert_same(obj, opt)


# -- the command line ---------------------------------------------------------------------

def _cli(capsysbinary, *argv):
    rc = cli.main(["readelf", *map(str, argv)])
    out, err = capsysbinary.readouterr()
    return rc, out, err.decode()


@needs_readelf
@pytest.mark.parametrize("opts", (["-hS"], ["-W", "-s", "-h"], ["-rsSh"], ["-Sr"], ["-sW"],
                                  ["--file-header", "--relocs"], ["--syms", "--sections"]))
def test_cli_matches_readelf(tmp_path, capsysbinary, opts):
    one = write(tmp_path, "one.o", _small())
    two = write(tmp_path, "two.o", _small(32, False, 20))
    for files in ([one], [one, two]):
        rc, out, err = _cli(capsysbinary, *opts, *files)
        env = dict(os.environ, LC_ALL="C")
        want = subprocess.run(["readelf", "-W", *opts, *map(str, files)], capture_output=True,
                              env=env).stdout
        assert (rc, err) == (0, "")
        assert out == want


def test_cli_errors(tmp_path, capsysbinary):
    good = write(tmp_path, "good.o", _small())
    text = write(tmp_path, "text.o", b"hello world, not an ELF file\n")
    corrupt = write(tmp_path, "corrupt.o", _small()[:80])
    missing = tmp_path / "missing.o"
    rc, out, err = _cli(capsysbinary, "-h", good, text, missing, corrupt, tmp_path)
    assert rc == 1
    assert out.count(b"\nFile: ") == 1 and out.startswith(b"\nFile: " + bytes(good) + b"\n")
    lines = err.splitlines()
    assert lines[0] == f"kmodsim readelf: {text}: Failed to read file's magic number"
    assert lines[1] == f"kmodsim readelf: {missing}: No such file or directory"
    assert lines[2].startswith(f"kmodsim readelf: {corrupt}: ")
    assert lines[3] == f"kmodsim readelf: {tmp_path}: is not an ordinary file"
    assert len(lines) == 4 and "Traceback" not in err


def test_cli_needs_a_view(tmp_path, capsysbinary):
    rc, out, err = _cli(capsysbinary, "-W", write(tmp_path, "g.o", _small()))
    assert rc == 1 and out == b"" and err.startswith("kmodsim readelf: ")


def test_cli_subprocess(tmp_path):
    """End to end through ``python -m emulator.cli``: stdout bytes and the exit status."""
    path = write(tmp_path, "g.o", _small())
    r = subprocess.run([sys.executable, "-m", "emulator.cli", "readelf", "-hSrs", str(path)],
                       capture_output=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ours(path, "-h", "-S", "-r", "-s")


# -- describe, without readelf --------------------------------------------------------------

def test_describe_names():
    assert describe.section_type_name(4, 62) == "RELA"
    assert describe.section_type_name(0x70000001, 62) == "X86_64_UNWIND"
    assert describe.section_type_name(0x70000001, 3) == "LOPROC+0x1"
    assert describe.section_flags_key(0x6, 62) == "AX"
    assert describe.section_flags_key(0x10000003, 62) == "WAl"
    assert describe.section_flags_key(0x10000003, 3) == "WAp"
    assert describe.section_index_name(0, 62, 10) == "UND"
    assert describe.section_index_name(0xFFF1, 62, 10) == "ABS"
    assert describe.section_index_name(0xFFF2, 62, 10) == "COM"
    assert describe.section_index_name(12, 62, 10) == "bad section index[ 12]"
    assert describe.reloc_type_name(62, 4) == "R_X86_64_PLT32"
    assert describe.reloc_type_name(3, 43) == "R_386_GOT32X"
    assert describe.reloc_type_name(62, 200) is None
    assert describe.symbol_type_name(10, 62, 3) == "IFUNC"
    assert describe.symbol_bind_name(10, 3) == "UNIQUE"
    assert describe.printable("a\x01b\x7f") == "a^Ab^\xbf"
    assert "l (large)" in describe.flags_footer(62) and "l (large)" not in describe.flags_footer(3)


# -- the Debian module corpus ------------------------------------------------------------------

def _corpus(arch):
    if os.environ.get("KMODSIM_CORPUS") != "1":
        pytest.skip("set KMODSIM_CORPUS=1 to compare over the Debian module corpus")
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import readelf_corpus
    finally:
        sys.path.pop(0)
    root = readelf_corpus.corpus_dir(arch)
    if root is None:
        pytest.skip(f"Debian {arch} modules not available")
    return readelf_corpus, root


@needs_readelf
@pytest.mark.corpus
@pytest.mark.parametrize("arch,every", [("amd64", 1), ("i386", 4)])
def test_debian_corpus(arch, every):
    bench, root = _corpus(arch)
    files = bench.collect([root])[::every]
    assert len(files) > 500
    total, bad = bench.compare(files)
    assert not bad, [(str(p), o) for p, o, _, _ in bad[:20]]
