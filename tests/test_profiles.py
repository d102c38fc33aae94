"""Kernel profiles: the shipped data, the loader, user profiles, errors, the generator."""

import json
import lzma
import os
import subprocess
import sys
from pathlib import Path

import pytest

from linker.errors import ProfileError
from linker.profiles import (DEFAULT_PROFILE, Export, clear_cache, list_profiles,
                             load_profile, parse_binding)
from linker.profiles import generate

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
KERNEL = SHARED / "kernel"
MODULES_CACHE = Path(os.environ.get("DEBIAN_MODULES_CACHE",
                                    Path.home() / ".cache" / "debian-modules"))

AMD64 = "linux-6.1.0-56-amd64"
I686 = "linux-6.1.0-50-686"
HOBBY = "hobby-i386"

needs_shared = pytest.mark.skipif(not KERNEL.is_dir(), reason="../shared/kernel is not available")


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture(scope="module")
def amd64():
    return load_profile(AMD64)


@pytest.fixture(scope="module")
def i686():
    return load_profile(I686)


@pytest.fixture(scope="module")
def hobby():
    return load_profile(HOBBY)


# -- the shipped profiles --------------------------------------------------------------------

def test_list_profiles():
    assert set(list_profiles()) >= {AMD64, I686, HOBBY}
    assert DEFAULT_PROFILE == AMD64


@pytest.mark.parametrize("name", [AMD64, I686, HOBBY])
def test_profiles_load(name):
    p = load_profile(name)
    assert p.name == name
    assert p.page_size == 4096
    assert p.descriptor.offsetof("init") is not None
    assert "init" in p.descriptor.fields and "exit" in p.descriptor.fields


def test_default_profile_and_cache():
    p = load_profile()
    assert p.name == AMD64
    assert load_profile(AMD64) is p
    clear_cache()
    assert load_profile(AMD64) is not p


def test_amd64_facts(amd64):
    p = amd64
    assert (p.arch, p.elf_class, p.e_machine, p.endian) == ("x86_64", 64, 62, "little")
    assert p.calling_convention == "sysv"
    assert p.vermagic == "6.1.0-56-amd64 SMP preempt mod_unload modversions "
    assert p.release == "6.1.0-56-amd64"
    assert p.version.startswith("#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2")
    assert p.runnable and p.kind == "linux"
    assert p.module_area.start == 0xFFFFFFFFC0000000
    assert p.checks["modversions"] and p.checks["vermagic"] and p.checks["license"]


def test_amd64_descriptor(amd64):
    d = amd64.descriptor
    assert (d.section, d.struct, d.size) == (".gnu.linkonce.this_module", "module", 896)
    assert (d.offsetof("state"), d.offsetof("name"), d.offsetof("init"), d.offsetof("exit")) == (
        0, 24, 312, 848)
    assert d.fields["name"].size == 56
    with pytest.raises(ProfileError):
        d.offsetof("no_such_field")


# Independently checked: pahole 1.24 on the same vmlinux BTF, and real modules' relocations.
@pytest.mark.parametrize("struct_name, path, offset", [
    ("task_struct", "comm", 2976),
    ("task_struct", "pid", 2416),
    ("task_struct", "tgid", 2420),
    ("task_struct", "tasks", 2192),
    ("task_struct", "stack", 32),
    ("task_struct", "real_parent", 2432),
    ("list_head", "prev", 8),
    ("module", "refcnt", 856),
    ("module", "core_layout", 320),
    ("module", "init_layout", 400),
    ("module", "core_layout.size", 328),   # through module_layout
    ("kernel_param", "arg", 32),
    ("kernel_param", "perm", 24),
    ("kparam_array", "elem", 24),
    ("kparam_string", "string", 8),
    ("kernel_param_ops", "get", 16),
    ("kernel_symbol", "namespace_offset", 8),
    ("modversion_info", "name", 8),
])
def test_amd64_offsets(amd64, struct_name, path, offset):
    assert amd64.offsetof(struct_name, path) == offset


@pytest.mark.parametrize("struct_name, size", [
    ("kernel_param", 40), ("modversion_info", 64), ("module", 896), ("list_head", 16),
    ("kparam_array", 32), ("kparam_string", 16), ("kernel_param_ops", 32), ("kernel_symbol", 12),
    ("task_struct", 9792)])
def test_amd64_sizes(amd64, struct_name, size):
    assert amd64.sizeof(struct_name) == size


def test_amd64_modversion_info_layout(amd64):
    crc, name = amd64.field("modversion_info", "crc"), amd64.field("modversion_info", "name")
    assert (crc.offset, crc.size, name.offset, name.size) == (0, 8, 8, 56)


def test_bitfield_record(amd64):
    f = amd64.field("_ddebug", "lineno")
    assert (f.offset, f.bit_offset, f.bit_size) == (32, 256, 18)


def test_struct_errors(amd64):
    with pytest.raises(ProfileError, match="no struct"):
        amd64.sizeof("no_such_struct")
    with pytest.raises(ProfileError, match="no field"):
        amd64.offsetof("task_struct", "no_such_field")
    with pytest.raises(ProfileError, match="not a struct"):
        amd64.offsetof("task_struct", "comm.x")


# Lines of Module.symvers, copied: 0xCRC name exporter type namespace.
SYMVERS_AMD64 = [
    "0x92997ed8\t_printk\tvmlinux\tEXPORT_SYMBOL\t",
    "0x037a0cba\tkfree\tvmlinux\tEXPORT_SYMBOL\t",
    "0x9060323f\tmodule_layout\tvmlinux\tEXPORT_SYMBOL\t",
    "0x039823de\tinit_uts_ns\tvmlinux\tEXPORT_SYMBOL_GPL\t",
    "0x669aff23\tcrypto_cipher_setkey\tvmlinux\tEXPORT_SYMBOL_GPL\tCRYPTO_INTERNAL",
]


@pytest.mark.parametrize("line", SYMVERS_AMD64)
def test_amd64_exports_match_symvers(amd64, line):
    crc, name, exporter, kind, namespace = line.split("\t")
    e = amd64.exports[name]
    assert e.crc == int(crc, 16)
    assert e.exporter == exporter
    assert e.gpl_only == (kind == "EXPORT_SYMBOL_GPL")
    assert e.namespace == (namespace or None)
    assert e.addr is not None and not e.percpu


def test_amd64_export_addresses(amd64):
    assert amd64.exports["_printk"].addr == 0xFFFFFFFF81A07E3D  # System.map
    # kern_path is also a local data symbol; the export is the global function.
    assert amd64.exports["kern_path"].addr == 0xFFFFFFFF8137CF20
    cur = amd64.exports["current_task"]
    assert cur.percpu and cur.addr == 0x1FB80


def test_amd64_module_exports_have_no_address(amd64):
    e = amd64.exports["DAC1064_global_init"]
    assert e.addr is None and e.exporter == "drivers/video/fbdev/matrox/matroxfb_DAC1064"


def test_amd64_export_table(amd64):
    assert len(amd64.exports) == 24683
    assert "_printk" in amd64.exports and "no_such_symbol" not in amd64.exports
    with pytest.raises(KeyError):
        amd64.exports["no_such_symbol"]
    assert isinstance(amd64.exports["kfree"], Export)
    vmlinux = sum(1 for e in amd64.exports.values() if e.exporter == "vmlinux")
    assert vmlinux == 10503


@pytest.mark.parametrize("name, impl", [
    ("_printk", "builtin:printk._printk"),
    ("kfree", "builtin:slab.kfree"),
    ("kmalloc_trace", "builtin:slab.kmalloc_trace"),
    ("param_ops_int", "builtin:params.param_ops_int"),
    ("param_ops_charp", "builtin:params.param_ops_charp"),
    ("__fentry__", "builtin:x86.__fentry__"),
    ("__x86_return_thunk", "builtin:x86.__x86_return_thunk"),
    ("jiffies", "builtin:time.jiffies"),
    ("__stack_chk_fail", "builtin:panic.__stack_chk_fail"),
    ("snprintf", "builtin:vsprintf.snprintf"),
    ("kern_path", None),
    ("no_such_symbol", None),
])
def test_amd64_bindings(amd64, name, impl):
    assert amd64.binding(name) == impl


def test_bindings_are_exports(amd64):
    assert all(name in amd64.exports for name in amd64.bindings)


def test_amd64_config(amd64):
    c = amd64.config
    assert c["CONFIG_MODULE_FORCE_LOAD"] == "y"
    assert c["CONFIG_MODULE_SIG"] == "y"
    assert c["CONFIG_MODULE_SIG_FORCE"] is None
    assert c["CONFIG_MODVERSIONS"] == "y"
    assert c["CONFIG_STRICT_MODULE_RWX"] == "y"
    assert c["CONFIG_MODULE_SIG_HASH"] == "sha256"


def test_kallsyms_is_lazy(amd64):
    assert amd64._kallsyms is None  # load_profile did not read System.map
    k = amd64.kallsyms()
    assert len(k) == 94280
    assert amd64.kallsyms() is k
    assert k.symbolize(0xFFFFFFFF81A07E3D + 5).startswith("_printk+0x5/0x")
    assert k.address("jiffies") == amd64.exports["jiffies"].addr
    assert k.lookup(0x1FB80) is None       # per-CPU offsets are not addresses
    assert k.symbolize(0x10) == "0x10"
    sym, offset, size = k.lookup(0xFFFFFFFF81000000)
    assert (sym.name, offset) == ("_stext", 0)


def test_i686_facts(i686):
    p = i686
    assert (p.arch, p.elf_class, p.e_machine, p.endian) == ("i386", 32, 3, "little")
    assert p.calling_convention == "regparm3"
    assert p.vermagic == "6.1.0-50-686 SMP preempt mod_unload modversions GEODE "
    assert p.runnable is False and "no System.map" in p.not_runnable_reason
    assert p.module_area is None
    d = p.descriptor
    assert (d.size, d.offsetof("name"), d.offsetof("init"), d.offsetof("exit")) == (576, 12, 204, 524)
    assert p.sizeof("kernel_param") == 20 and p.offsetof("kernel_param", "arg") == 16
    assert p.field("modversion_info", "crc").size == 4 and p.offsetof("modversion_info", "name") == 4


def test_i686_exports(i686):
    assert i686.exports["_printk"].crc == 0x070F7896   # its own Module.symvers line
    assert i686.exports["kfree"].crc == 0x037A0CBA
    e = i686.exports["crypto_cipher_setkey"]
    assert e.gpl_only and e.namespace == "CRYPTO_INTERNAL"
    assert len(i686.exports) == 24248
    assert all(e.addr is None for e in i686.exports.values())
    assert all(e.crc is not None for e in i686.exports.values())


def test_hobby(hobby):
    p = hobby
    assert (p.kind, p.arch, p.elf_class, p.e_machine, p.calling_convention) == (
        "hobby", "i386", 32, 3, "cdecl")
    assert p.vermagic is None and not any(p.checks[c] for c in ("vermagic", "modversions", "license"))
    d = p.descriptor
    assert (d.section, d.size, d.offsetof("init"), d.offsetof("exit")) == (".this_module", 8, 0, 4)
    assert list(p.exports) == ["monitor_write"]
    mw = p.exports["monitor_write"]
    assert mw.addr == 0x00101000 and mw.crc is None
    assert p.binding("monitor_write") == "builtin:console.monitor_write"
    assert p.kallsyms().address("monitor_write") == 0x00101000


# -- user profiles -----------------------------------------------------------------------------

def write(path, doc):
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def test_user_profile_over_hobby(tmp_path):
    path = write(tmp_path / "my-hobby.json", {
        "base": HOBBY,
        "bindings": {"monitor_write": "mykernel.console:monitor_write",
                     "kputs": "mykernel.console:kputs"},
        "exports": {"kputs": {"addr": "0x00101100"}},
    })
    p = load_profile(str(path))
    assert p.name == "my-hobby" and p.bases == (HOBBY,)
    assert p.binding("monitor_write") == "mykernel.console:monitor_write"
    assert parse_binding(p.binding("kputs")) == ("python", "mykernel.console:kputs")
    assert p.exports["kputs"].addr == 0x00101100
    assert p.exports["monitor_write"].addr == 0x00101000   # inherited
    assert p.descriptor.section == ".this_module"
    assert load_profile(HOBBY).binding("monitor_write") == "builtin:console.monitor_write"


def test_user_profile_over_amd64(tmp_path):
    path = write(tmp_path / "strict.json", {
        "base": AMD64, "name": "amd64-sig-force",
        "checks": {"signature": "enforce"},
        "config": {"CONFIG_MODULE_SIG_FORCE": "y", "CONFIG_MODULE_FORCE_LOAD": None},
        "bindings": {"msleep": None, "kern_path": "tests.kapi:kern_path"},
        "exports": {"kfree": {"addr": "0xffffffff81000000"}, "vfree": None},
        "structs": {"module": {"size": 900}},
    })
    p = load_profile(path)
    assert p.name == "amd64-sig-force"
    assert p.checks["signature"] == "enforce" and p.checks["modversions"]
    assert p.config["CONFIG_MODULE_SIG_FORCE"] == "y"
    assert p.config["CONFIG_MODULE_FORCE_LOAD"] is None
    assert p.binding("msleep") is None and p.binding("_printk") == "builtin:printk._printk"
    assert p.binding("kern_path") == "tests.kapi:kern_path"
    kfree = p.exports["kfree"]
    assert kfree.addr == 0xFFFFFFFF81000000 and kfree.crc == 0x037A0CBA  # CRC from the table
    assert "vfree" not in p.exports and len(p.exports) == 24682
    assert p.sizeof("module") == 900 and p.offsetof("module", "init") == 312
    assert p.vermagic == load_profile(AMD64).vermagic


def test_user_profile_relative_base_and_folder(tmp_path):
    write(tmp_path / "base.json", {"base": HOBBY, "name": "middle",
                                   "exports": {"kputs": {"addr": 0x101100}}})
    folder = tmp_path / "top"
    folder.mkdir()
    write(folder / "profile.json", {"base": "../base.json", "vermagic": "hobby 1.0"})
    p = load_profile(folder)
    assert p.name == "top" and p.bases == ("middle", HOBBY)
    assert p.vermagic == "hobby 1.0" and "kputs" in p.exports


def test_user_profile_standalone_with_exports_file(tmp_path):
    (tmp_path / "k.tsv").write_text("#name\taddr\tcrc\tflags\tnamespace\texporter\n"
                                    "zeta\t1000\t\t\t\tkernel\nalpha\t2000\tdeadbeef\tG\tNS\tkernel\n")
    hobby_doc = json.loads((generate.DATA_DIR / f"{HOBBY}.json").read_text())
    hobby_doc.update(name="standalone", exports_file="k.tsv", exports={})
    p = load_profile(write(tmp_path / "k.json", hobby_doc))
    assert p.exports["zeta"].addr == 0x1000            # unsorted file: found linearly
    alpha = p.exports["alpha"]
    assert (alpha.crc, alpha.gpl_only, alpha.namespace) == (0xDEADBEEF, True, "NS")
    assert sorted(p.exports) == ["alpha", "zeta"]


# -- errors ----------------------------------------------------------------------------------

def bad_profiles():
    yield "not json", "{ nope"
    yield "not an object", "[1, 2]"
    yield "unknown base", {"base": "no-such-kernel"}
    yield "wrong elf_class", {"base": HOBBY, "elf_class": 33}
    yield "wrong kind", {"base": HOBBY, "kind": "windows"}
    yield "bool as int", {"base": HOBBY, "e_machine": True}
    yield "bad address", {"base": HOBBY, "module_area": {"start": "zero", "end": 1}}
    yield "bad binding", {"base": HOBBY, "bindings": {"monitor_write": "not a binding"}}
    yield "builtin without group", {"base": HOBBY, "bindings": {"monitor_write": "builtin:x"}}
    yield "not runnable, no reason", {"base": HOBBY, "runnable": False}
    yield "descriptor without exit", {"base": HOBBY, "descriptor": {"fields": {"exit": None}}}
    yield "page size", {"base": HOBBY, "page_size": 3000}
    yield "future format", {"base": HOBBY, "format": 2}
    yield "missing exports file", {"base": HOBBY, "exports_file": "nowhere.tsv"}
    yield "struct field type", {"base": HOBBY, "structs": {"module_t": {"size": "big"}}}


@pytest.mark.parametrize("what, doc", list(bad_profiles()), ids=[w for w, _ in bad_profiles()])
def test_malformed_profile(tmp_path, what, doc):
    path = write(tmp_path / "bad.json", doc)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert "\n" not in str(info.value)


def test_bad_export_override(tmp_path):
    p = load_profile(write(tmp_path / "x.json", {"base": HOBBY,
                                                 "exports": {"monitor_write": {"addr": "x"}}}))
    with pytest.raises(ProfileError):
        p.exports["monitor_write"]


def test_base_loop(tmp_path):
    write(tmp_path / "a.json", {"base": "b.json"})
    write(tmp_path / "b.json", {"base": "a.json"})
    with pytest.raises(ProfileError, match="loops"):
        load_profile(tmp_path / "a.json")


def test_exports_file_with_wrong_columns(tmp_path):
    (tmp_path / "k.tsv").write_text("monitor_write\t101000\n")
    with pytest.raises(ProfileError, match="6 tab-separated columns"):
        load_profile(write(tmp_path / "k.json", {"base": HOBBY, "exports_file": "k.tsv"}))


@pytest.mark.parametrize("name", ["no-such-profile", "", None, 42])
def test_unknown_profile(name):
    with pytest.raises(ProfileError):
        load_profile(name)


# -- the generator ---------------------------------------------------------------------------

def test_parse_system_map_percpu():
    text = ("0000000000000000 D __per_cpu_start\n"
            "00000000000001ea A kexec_control_code_size\n"
            "000000000001fb80 D current_task\n"
            "0000000000035000 D __per_cpu_end\n"
            "ffffffff81000000 T _stext\n")
    syms = {s.name: s for s in generate.parse_system_map(text)}
    assert syms["current_task"].percpu and not syms["kexec_control_code_size"].percpu
    assert not syms["_stext"].percpu and not syms["__per_cpu_end"].percpu


def test_build_exports_prefers_global_symbol():
    smap = generate.parse_system_map("ffffffff8137cf20 T kern_path\nffffffff82b3a3c0 d kern_path\n")
    symvers = generate.parse_module_symvers("0x04a093b8\tkern_path\tvmlinux\tEXPORT_SYMBOL\t\n")
    [row] = generate.build_exports(symvers, smap)
    assert row.addr == 0xFFFFFFFF8137CF20


@pytest.mark.parametrize("family, expected", [
    ("CONFIG_MGEODE_LX", "6.1.0-50-686 SMP preempt mod_unload modversions GEODE "),
    ("CONFIG_M686", "6.1.0-50-686 SMP preempt mod_unload modversions 686 "),
])
def test_i386_vermagic_from_config(family, expected):
    config = {"CONFIG_X86_32": "y", "CONFIG_SMP": "y", "CONFIG_PREEMPT_BUILD": "y",
              "CONFIG_MODULE_UNLOAD": "y", "CONFIG_MODVERSIONS": "y", family: "y"}
    assert generate.vermagic_from_config("6.1.0-50-686", config) == expected


def test_parse_config():
    config = generate.parse_config('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="x \\"y\\""\n')
    assert config == {"CONFIG_A": "y", "CONFIG_B": None, "CONFIG_C": 'x "y"'}


def test_gzip_is_deterministic():
    assert generate.gzip_bytes(b"abc" * 1000) == generate.gzip_bytes(b"abc" * 1000)


@needs_shared
@pytest.mark.shared
def test_shipped_data_is_current():
    """The committed profiles are what the generator makes from ../shared today."""
    rc = subprocess.run([sys.executable, "-m", "linker.profiles.generate", "--shared",
                         str(SHARED), "--check"], cwd=ROOT, capture_output=True, text=True)
    assert rc.returncode == 0, rc.stdout + rc.stderr


@needs_shared
@pytest.mark.shared
def test_exports_agree_with_module_symvers(amd64, i686):
    for profile, folder in ((amd64, "debian-6.1.0-56-amd64"), (i686, "debian-6.1.0-50-686")):
        text = lzma.decompress((KERNEL / folder / "Module.symvers.xz").read_bytes()).decode()
        for line in text.splitlines()[::97]:
            crc, name, exporter, kind, namespace = line.split("\t")
            e = profile.exports[name]
            assert (e.crc, e.exporter, e.gpl_only, e.namespace) == (
                int(crc, 16), exporter, kind == "EXPORT_SYMBOL_GPL", namespace or None)


@needs_shared
@pytest.mark.shared
def test_offsets_agree_with_btf(amd64):
    from linker.profiles.btf import parse_btf
    btf = parse_btf(lzma.decompress(
        (KERNEL / "debian-6.1.0-56-amd64" / "vmlinux.btf.xz").read_bytes()))
    for struct_name, info in amd64.structs.items():
        assert info.size == btf.sizeof_struct(struct_name)
        for field, record in info.fields.items():
            assert record.offset == btf.member(struct_name, field).offset


# -- real modules (when shared/tools/debian-modules has unpacked them) -------------------------

def real_modules(arch, release):
    kernel = MODULES_CACHE / arch / "lib" / "modules" / release / "kernel"
    if not kernel.is_dir():
        pytest.skip(f"no unpacked {arch} modules (run shared/tools/debian-modules {arch})")
    return kernel


def modinfo(path):
    from elftools.elf.elffile import ELFFile
    with open(path, "rb") as f:
        data = ELFFile(f).get_section_by_name(".modinfo").data()
    return dict(item.decode().split("=", 1) for item in data.split(b"\0") if b"=" in item)


@pytest.mark.corpus
@pytest.mark.parametrize("name, arch, release", [(AMD64, "amd64", "6.1.0-56-amd64"),
                                                 (I686, "i386", "6.1.0-50-686")])
def test_vermagic_matches_real_modules(name, arch, release):
    kernel = real_modules(arch, release)
    for ko in sorted(kernel.rglob("*.ko"))[:25]:
        assert modinfo(ko)["vermagic"] == load_profile(name).vermagic, ko


@pytest.mark.corpus
def test_i686_descriptor_matches_real_module(i686):
    from elftools.elf.elffile import ELFFile
    from elftools.elf.relocation import RelocationSection
    kernel = real_modules("i386", "6.1.0-50-686")
    with open(kernel / "net" / "key" / "af_key.ko", "rb") as f:
        elf = ELFFile(f)
        sec = elf.get_section_by_name(".gnu.linkonce.this_module")
        assert sec["sh_size"] == i686.descriptor.size
        name_at = i686.descriptor.offsetof("name")
        assert sec.data()[name_at:name_at + 7] == b"af_key\0"
        rel = elf.get_section_by_name(".rel.gnu.linkonce.this_module")
        assert isinstance(rel, RelocationSection)
        symtab = elf.get_section(rel["sh_link"])
        targets = {symtab.get_symbol(r["r_info_sym"]).name: r["r_offset"] for r in rel.iter_relocations()}
        assert targets == {"init_module": i686.descriptor.offsetof("init"),
                           "cleanup_module": i686.descriptor.offsetof("exit")}
