"""Module metadata read from the samples, checked against values worked out by hand."""

import pytest
from conftest import SAMPLES, golden_modules, sample_objects

from linker.module import ModuleInfo
from linker.module.kmod_format import kmod_section
from linker.module.modinfo import modinfo_entries, split_strings
from linker.module.signature import MODULE_SIG_STRING, read_signature, split_trailer


def info(rel):
    return ModuleInfo.from_path(SAMPLES / rel)


def test_modinfo_keys_in_file_order():
    keys = [k for k, _ in info("linux/hello_debug/hello_debug.ko").modinfo]
    assert keys[-3:] == ["retpoline", "name", "vermagic"]
    assert {"version", "srcversion", "license", "author", "description"} <= set(keys)
    m = info("linux/hello_debug/hello_debug.ko")
    assert m.get("vermagic") == "6.1.0-56-amd64 SMP preempt mod_unload modversions "
    assert m.name == "hello_debug"


def test_modinfo_string_splitting():
    # leading padding skipped, runs of NULs separate, a last string without NUL still counts
    assert split_strings(b"\0\0a=1\0\0\0b=2\0c") == ["a=1", "b=2", "c"]
    assert modinfo_entries(b"flag\0k=v=w\0") == [("flag", ""), ("k", "v=w")]


@pytest.mark.parametrize("path", sample_objects() + golden_modules(), ids=lambda p: p.name)
def test_reader_and_kmod_walk_agree(path):
    data = path.read_bytes()
    err, raw = kmod_section(data, ".modinfo")
    assert ModuleInfo(data).modinfo == (modinfo_entries(raw) if err == 0 else [])


def test_versions_and_exports_pair_up():
    exporter = info("linux/exporter/exporter.ko")
    importer = info("linux/importer/importer.ko")
    exports = {e.name: e for e in exporter.exports}
    assert set(exports) == {"kmodsim_add", "kmodsim_calls", "kmodsim_greet", "kmodsim_secret"}
    assert not exports["kmodsim_add"].gpl_only and exports["kmodsim_greet"].gpl_only
    assert exports["kmodsim_secret"].namespace == "KMODSIM_DEMO"
    assert exports["kmodsim_add"].namespace == ""
    # the first __kcrctab word, read with `readelf -x __kcrctab`: 8c59979f little-endian
    assert exports["kmodsim_add"].crc == 0x9F97598C
    wanted = {v.name: v.crc for v in importer.versions}
    for name, exp in exports.items():
        assert wanted[name] == exp.crc
    # modpost adds module_layout to every module (6.1: not necessarily first, as the
    # reference notes claimed; it is last in hello_debug and the golden hello_mod)
    assert "module_layout" in wanted and wanted["module_layout"] == 0x9060323F
    assert {"kmodsim_add", "kmodsim_secret"} <= set(importer.undefined_symbols)


def test_params_types_and_permissions():
    params = {p.name: p for p in info("linux/params/params.ko").params}
    assert len(params) == 16
    assert params["p_int"].type == "int" and params["p_int"].perm == 0o644
    assert params["p_long"].perm == 0 and params["p_charp"].type == "charp"
    assert params["p_ints"].type == "array of int" and params["p_ints"].array_max == 4
    assert params["p_ints"].array_elemsize == 4 and params["p_ints"].array_num == "n_ints"
    assert params["p_names"].type == "array of charp" and params["p_names"].array_elemsize == 8
    assert params["p_string"].type == "string" and params["p_string"].string_maxlen == 16
    assert all(p.level == -1 and p.flags == 0 for p in params.values())
    # __param is 40-byte records, newest first in the section (the linker's order)
    assert [p.offset for p in info("linux/params/params.ko").params][:2] == [0, 40]


def test_linux_descriptor():
    d = info("linux/hello_debug/hello_debug.ko").descriptor
    assert d.section == ".gnu.linkonce.this_module" and d.size == 0x380
    assert d.name == "hello_debug"
    assert d.init.target == "init_module" and d.exit.target == "cleanup_module"
    assert d.init.offset == 0x138 and d.exit.offset == 0x350  # offsetof(struct module, init/exit)


def test_hobby_descriptor_and_common():
    d = info("hobby/hello.o").descriptor
    assert (d.section, d.size, d.init.offset, d.exit.offset) == (".this_module", 8, 0, 4)
    assert d.init.function.startswith("init") or "init" in d.init.function
    common = info("hobby/common.o")
    assert [s.name for s in common.common_symbols] == ["shared_counter"]
    assert common.undefined_symbols == ["monitor_write"]


def test_signature_trailer():
    path = SAMPLES / "linux/signed/hello_signed.ko"
    data = path.read_bytes()
    unsigned = (SAMPLES / "linux/hello_debug/hello_debug.ko").read_bytes()
    sig = read_signature(data)
    assert sig.header.id_type == 2 and sig.header.algo == sig.header.hash == 0
    assert sig.elf_len == len(unsigned) and data[:sig.elf_len] == unsigned
    assert len(data) == sig.elf_len + sig.header.sig_len + 12 + len(MODULE_SIG_STRING)
    assert sig.signer == b"kmodsim sample signing key" and sig.key_id == bytes.fromhex("4b4d4f4453494d01")
    assert sig.hash_algo == "sha256" and len(sig.signature) == 256
    assert read_signature(unsigned) is None and split_trailer(unsigned) is None
    assert read_signature((SAMPLES / "linux/signed/hello_signed_sha512.ko").read_bytes()).hash_algo == "sha512"
    # the ELF reader sees the image without the signature
    assert ModuleInfo(data).elf.data == unsigned


def test_bad_signature_blob_is_not_shown():
    data = bytearray((SAMPLES / "linux/signed/hello_signed.ko").read_bytes())
    sig = read_signature(bytes(data))
    start = sig.elf_len
    data[start:start + 16] = b"\xff" * 16  # wreck the DER
    broken = read_signature(bytes(data))
    assert broken is not None and not broken.kmod_visible and broken.problem
