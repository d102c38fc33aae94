"""The committed sample objects are what samples/README.md says they are.

binutils' readelf is the oracle here (not kmodsim's own ELF reader), so these tests
also catch a sample that was rebuilt with the wrong flags.  Skipped without readelf.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
HOBBY = SAMPLES / "hobby"
LINUX = SAMPLES / "linux"

HOBBY_OBJECTS = ["hello.o", "counter.o", "common.o"]
LINUX_MODULES = [
    "hello_debug",
    "params",
    "oops_null",
    "exporter",
    "importer",
    "tasks",
    "license_proprietary",
    "chardev",
    "miscdev",
    "proc_oops",
]
VERMAGIC = "6.1.0-56-amd64 SMP preempt mod_unload modversions "
EXPORTED = ["kmodsim_add", "kmodsim_calls", "kmodsim_greet", "kmodsim_secret"]

READELF = shutil.which("readelf")
pytestmark = pytest.mark.skipif(READELF is None, reason="binutils readelf not installed")


@lru_cache(maxsize=None)
def readelf(path: Path, *args: str) -> str:
    env = dict(os.environ, LC_ALL="C")
    out = subprocess.run(
        [READELF, "-W", *args, str(path)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return out.stdout


def header(path: Path) -> dict[str, str]:
    fields = {}
    for line in readelf(path, "-h").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


# "  [ 6] .this_module      PROGBITS        00000000 00008c 000008 00  WA  0   0  4"
_SECTION = re.compile(
    r"^\s*\[\s*(\d+)\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s"
)


def sections(path: Path) -> dict[str, dict]:
    result = {}
    for line in readelf(path, "-S").splitlines():
        m = _SECTION.match(line)
        if m and m.group(1) != "0":
            result[m.group(2)] = {
                "index": int(m.group(1)),
                "type": m.group(3),
                "offset": int(m.group(5), 16),
                "size": int(m.group(6), 16),
            }
    return result


def section_bytes(path: Path, name: str) -> bytes:
    sec = sections(path)[name]
    assert sec["type"] != "NOBITS"
    with open(path, "rb") as f:
        f.seek(sec["offset"])
        return f.read(sec["size"])


def relocations(path: Path) -> list[tuple[str, str, str]]:
    """(relocation section, type, symbol name or '') for every entry."""
    result = []
    current = None
    for line in readelf(path, "-r").splitlines():
        m = re.match(r"^Relocation section '([^']+)'", line)
        if m:
            current = m.group(1)
            continue
        fields = line.split()
        if len(fields) >= 3 and fields[2].startswith("R_"):
            symbol = fields[4] if len(fields) >= 5 else ""
            result.append((current, fields[2], symbol))
    return result


def symbols(path: Path) -> list[dict]:
    result = []
    for line in readelf(path, "-s").splitlines():
        fields = line.split()
        if len(fields) >= 7 and fields[0].endswith(":") and fields[0][:-1].isdigit():
            result.append(
                {
                    "value": fields[1],
                    "size": fields[2],
                    "type": fields[3],
                    "bind": fields[4],
                    "ndx": fields[6],
                    "name": fields[7] if len(fields) >= 8 else "",
                }
            )
    return result


def modinfo(path: Path) -> list[str]:
    return [s.decode() for s in section_bytes(path, ".modinfo").split(b"\0") if s]


def ko(name: str) -> Path:
    return LINUX / name / f"{name}.ko"


# ----------------------------------------------------------------------------- hobby


@pytest.mark.parametrize("name", HOBBY_OBJECTS)
def test_hobby_object_is_elf32_i386_relocatable(name):
    path = HOBBY / name
    assert path.is_file(), f"{path} missing: run make -C samples/hobby"
    h = header(path)
    assert h["Class"] == "ELF32"
    assert h["Data"].startswith("2's complement, little endian")
    assert h["Machine"] == "Intel 80386"
    assert h["Type"].startswith("REL")
    assert (HOBBY / name.replace(".o", ".c")).is_file()


@pytest.mark.parametrize("name", HOBBY_OBJECTS)
def test_hobby_this_module_section(name):
    secs = sections(HOBBY / name)
    assert ".this_module" in secs
    assert secs[".this_module"]["type"] == "PROGBITS"
    assert secs[".this_module"]["size"] == 8  # {init, exit}: two 32-bit pointers
    # both pointers are relocated
    rels = [r for r in relocations(HOBBY / name) if r[0] == ".rel.this_module"]
    assert len(rels) == 2
    assert all(r[1] == "R_386_32" for r in rels)


@pytest.mark.parametrize("name", HOBBY_OBJECTS)
def test_hobby_only_seed_relocation_types(name):
    rels = relocations(HOBBY / name)
    assert rels
    assert {r[1] for r in rels} <= {"R_386_32", "R_386_PC32"}
    # REL, never RELA, on i386
    assert all(r[0].startswith(".rel.") for r in rels)
    # monitor_write is the only undefined symbol the hobby kernel provides
    undefined = {s["name"] for s in symbols(HOBBY / name) if s["ndx"] == "UND" and s["name"]}
    assert undefined == {"monitor_write"}


def test_hobby_hello_strings_are_seed_004s():
    strings = b"".join(
        section_bytes(HOBBY / "hello.o", n)
        for n in sections(HOBBY / "hello.o")
        if n.startswith(".rodata")
    )
    assert b"Hello from hello.ko!\n\0" in strings
    assert b"Goodbye from hello.ko.\n\0" in strings


def test_hobby_counter_has_every_relocation_shape():
    path = HOBBY / "counter.o"
    secs = sections(path)
    assert secs[".bss"]["type"] == "NOBITS" and secs[".bss"]["size"] > 0
    assert secs[".data"]["size"] > 0
    assert ".rodata" in secs and ".rodata.str1.1" in secs
    rels = relocations(path)
    kinds = {(sec, typ, sym) for sec, typ, sym in rels}
    # calls: to the kernel, to a global function, to a static one in another section
    assert (".rel.text", "R_386_PC32", "monitor_write") in kinds
    assert (".rel.text", "R_386_PC32", "counter_step") in kinds
    assert (".rel.text", "R_386_PC32", ".text.helpers") in kinds
    # data references from code
    for target in (".bss", "step", "ops", ".rodata.str1.1"):
        assert (".rel.text", "R_386_32", target) in kinds, target
    assert (".rel.text.helpers", "R_386_32", ".rodata") in kinds
    # function-pointer table in .data
    assert (".rel.data", "R_386_32", ".text") in kinds


def test_hobby_common_symbol():
    syms = {s["name"]: s for s in symbols(HOBBY / "common.o")}
    assert syms["shared_counter"]["ndx"] == "COM"
    assert syms["shared_counter"]["type"] == "OBJECT"
    assert syms["shared_counter"]["bind"] == "GLOBAL"
    assert syms["shared_counter"]["size"] == "4"
    # hello and counter are -fno-common: no COMMON symbols there
    for name in ("hello.o", "counter.o"):
        assert all(s["ndx"] != "COM" for s in symbols(HOBBY / name))


# ----------------------------------------------------------------------------- linux


@pytest.mark.parametrize("name", LINUX_MODULES)
def test_linux_module_is_elf64_x86_64_relocatable(name):
    path = ko(name)
    assert path.is_file(), f"{path} missing: run make -C samples/linux"
    h = header(path)
    assert h["Class"] == "ELF64"
    assert h["Machine"] == "Advanced Micro Devices X86-64"
    assert h["Type"].startswith("REL")
    assert (LINUX / name / "Kbuild").is_file()
    assert (LINUX / name / f"{name}.c").is_file()


@pytest.mark.parametrize("name", LINUX_MODULES)
def test_linux_module_sections(name):
    secs = sections(ko(name))
    for required in (".gnu.linkonce.this_module", ".modinfo", "__versions",
                     ".init.text", ".exit.text"):
        assert required in secs, required
    # struct module in 6.1 x86-64 (Debian config)
    assert secs[".gnu.linkonce.this_module"]["size"] == 0x380
    # __versions is an array of {unsigned long crc; char name[56]}
    assert secs["__versions"]["size"] % 64 == 0


@pytest.mark.parametrize("name", LINUX_MODULES)
def test_linux_module_modinfo(name):
    info = modinfo(ko(name))
    assert f"vermagic={VERMAGIC}" in info
    assert f"name={name}" in info
    assert "retpoline=Y" in info
    assert any(i.startswith("license=") for i in info)
    assert any(i.startswith("depends=") for i in info)


@pytest.mark.parametrize("name", LINUX_MODULES)
def test_linux_module_is_unsigned(name):
    data = ko(name).read_bytes()
    assert not data.endswith(b"~Module signature appended~\n")


def test_hello_debug():
    path = ko("hello_debug")
    info = modinfo(path)
    assert "version=1.2.3" in info
    assert any(re.fullmatch(r"srcversion=[0-9A-F]{23}", i) for i in info)
    assert "__dyndbg" in sections(path)
    undefined = {s["name"] for s in symbols(path) if s["ndx"] == "UND"}
    assert "__dynamic_pr_debug" in undefined


def test_params():
    path = ko("params")
    secs = sections(path)
    assert "__param" in secs
    assert secs["__param"]["size"] == 16 * 40  # 16 struct kernel_param
    info = modinfo(path)
    parmtypes = dict(i[len("parmtype="):].split(":", 1) for i in info if i.startswith("parmtype="))
    expected = {
        "p_byte": "byte", "p_short": "short", "p_ushort": "ushort", "p_int": "int",
        "p_uint": "uint", "p_long": "long", "p_ulong": "ulong", "p_ullong": "ullong",
        "p_hexint": "hexint", "p_charp": "charp", "p_bool": "bool",
        "p_invbool": "invbool", "p_bint": "bint", "p_string": "string",
        "p_ints": "array of int", "p_names": "array of charp",
    }
    assert parmtypes == expected
    described = {i[len("parm="):].split(":", 1)[0] for i in info if i.startswith("parm=")}
    assert described == set(expected)


def test_oops_null_writes_through_null():
    # the init stores through a pointer loaded from .bss (which stays zero)
    kinds = {(sec, sym) for sec, _, sym in relocations(ko("oops_null"))}
    assert (".rela.init.text", ".bss") in kinds
    assert sections(ko("oops_null"))[".bss"]["type"] == "NOBITS"


def test_exporter():
    path = ko("exporter")
    secs = sections(path)
    for name in ("__ksymtab", "__ksymtab_gpl", "__ksymtab_strings",
                 "__kcrctab", "__kcrctab_gpl"):
        assert name in secs, name
    # struct kernel_symbol with PREL32 relocations: three 32-bit offsets
    assert secs["__ksymtab"]["size"] == 2 * 12
    assert secs["__ksymtab_gpl"]["size"] == 2 * 12
    strings = section_bytes(path, "__ksymtab_strings").split(b"\0")
    for sym in EXPORTED:
        assert sym.encode() in strings
    assert b"KMODSIM_DEMO" in strings
    defined = {s["name"] for s in symbols(path) if s["ndx"] not in ("UND", "ABS")}
    assert set(EXPORTED) <= defined


def test_importer():
    path = ko("importer")
    undefined = {s["name"] for s in symbols(path) if s["ndx"] == "UND" and s["name"]}
    assert set(EXPORTED) <= undefined
    info = modinfo(path)
    assert "depends=exporter" in info
    assert "import_ns=KMODSIM_DEMO" in info
    versions = section_bytes(path, "__versions")
    names = {versions[i + 8:i + 64].split(b"\0")[0].decode() for i in range(0, len(versions), 64)}
    assert set(EXPORTED) <= names


def test_importer_crcs_match_exporter():
    exporter, importer = ko("exporter"), ko("importer")
    crcs = {}
    for sym in symbols(exporter):
        if sym["name"].startswith("__crc_"):
            table = next(n for n, v in sections(exporter).items() if v["index"] == int(sym["ndx"]))
            offset = int(sym["value"], 16)
            crcs[sym["name"][len("__crc_"):]] = section_bytes(exporter, table)[offset:offset + 4]
    assert set(crcs) == set(EXPORTED)
    versions = section_bytes(importer, "__versions")
    wanted = {}
    for i in range(0, len(versions), 64):
        wanted[versions[i + 8:i + 64].split(b"\0")[0].decode()] = versions[i:i + 4]
    for name in EXPORTED:
        assert wanted[name] == crcs[name], name


def test_tasks_uses_current_task():
    undefined = {s["name"] for s in symbols(ko("tasks")) if s["ndx"] == "UND"}
    assert "current_task" in undefined


def test_license_proprietary():
    assert "license=Proprietary" in modinfo(ko("license_proprietary"))
