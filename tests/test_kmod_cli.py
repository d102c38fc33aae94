"""``kmodsim depmod|modprobe|insmod|rmmod|lsmod`` against kmod 30.

depmod is compared byte for byte with the real ``depmod`` (Debian 12's kmod 30) when it is
installed: over the samples, over small synthetic modules built for the corner cases
(modversions or not, weak symbols, a symbol exported twice, duplicate module names,
compression, aliases, a cycle), and with ``KMODSIM_CORPUS=1`` over part and all of the
Debian module tree. The kernel-side tools are checked against kmod's messages, which need
no running kernel to know.
"""

import lzma
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from elfwriter import Sec, build_rel
from emulator.cli import main
from emulator.cli.depmod import is_version_number
from emulator.cli.kmodtools import kernfs_name_hash
from emulator.cli.lsmod import format_lsmod
from emulator.cli.modprobe import options_from_array
from linker.module.depmod import (DepmodConfig, IndexNode, alias_normalize, hash_order,
                                  hash_superfast, index_write, lookup_module, run_depmod)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "linux"
VERSION = "6.1.0-56-amd64"
OUTPUTS = ("modules.dep", "modules.dep.bin", "modules.alias", "modules.alias.bin",
           "modules.softdep", "modules.symbols", "modules.symbols.bin", "modules.builtin.bin",
           "modules.builtin.alias.bin", "modules.devname")
DEBIAN_MODULES = ROOT.parent / "shared" / "tools" / "debian-modules"
# the samples whose depmod output below is what Debian 12's real depmod (kmod 30) wrote
FIXED_SAMPLES = ("exporter", "importer", "params", "hello_debug", "xorshift")


def kmodsim(capsys, *argv):
    """Run ``kmodsim ARGV`` in-process: ``(status, stdout, stderr)``."""
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def real_depmod(*argv):
    if shutil.which("depmod") is None:
        pytest.skip("kmod's depmod is not installed")
    return subprocess.run(["depmod", *map(str, argv)], capture_output=True, text=True,
                          check=False)


def moddir(root):
    return Path(root) / "lib" / "modules" / VERSION


def samples_tree(root, names=None):
    """``ROOT/lib/modules/VERSION/kernel/<sample>/<file>.ko`` for the chosen samples."""
    kernel = moddir(root) / "kernel"
    for ko in sorted(SAMPLES.glob("*/*.ko")):
        if names is None or ko.parent.name in names:
            (kernel / ko.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(ko, kernel / ko.parent.name / ko.name)
    return Path(root)


def copy_tree(src, dst):
    shutil.copytree(src, dst, symlinks=True)
    return Path(dst)


def assert_same_files(real_root, mine_root):
    for name in OUTPUTS:
        real = (moddir(real_root) / name).read_bytes()
        mine = (moddir(mine_root) / name).read_bytes()
        assert mine == real, name


# --------------------------------------------------------------------------- synthetic modules

def fake_module(exports=(), needs=(), weak=(), modinfo=(), crcs=True, versions=(),
                namespaces=()):
    """A 64-bit relocatable with what depmod reads: ``.modinfo``, a symbol table whose
    undefined entries are ``needs``/``weak`` and, for each export, a ``__crc_`` symbol
    (``crcs``) or a ``__ksymtab_strings`` entry (namespace strings too, as 6.1 writes them)."""
    strtab = bytearray(b"\0")
    syms = [struct.pack("<IBBHQQ", 0, 0, 0, 0, 0, 0)]

    def sym(name, info, shndx, value=0):
        syms.append(struct.pack("<IBBHQQ", len(strtab), info, 0, shndx, value, 0))
        strtab.extend(name.encode() + b"\0")
    for i, name in enumerate(exports):
        if crcs:
            sym("__crc_" + name, 0x10, 0xFFF1, 0x1000 + i)   # GLOBAL NOTYPE ABS
    for name in needs:
        sym(name, 0x10, 0)
    for name in weak:
        sym(name, 0x20, 0)
    info = b"".join(f"{k}={v}".encode() + b"\0" for k, v in modinfo)
    secs = [Sec(".text", 1, b"\xc3", flags=6, align=16),
            Sec(".modinfo", 1, info, flags=2),
            Sec(".symtab", 2, b"".join(syms), link=4, info=1, align=8, entsize=24),
            Sec(".strtab", 3, bytes(strtab))]
    if not crcs and exports:
        strings = b"".join(n.encode() + b"\0" for n in list(exports) + list(namespaces))
        secs.append(Sec("__ksymtab_strings", 1, strings, flags=2))
    if versions:
        secs.append(Sec("__versions", 1, b"".join(
            struct.pack("<Q", 0x1234) + n.encode().ljust(56, b"\0") for n in versions),
            flags=2, align=32))
    return bytes(build_rel(secs))


def edge_tree(root):
    """Corner cases of depmod's reading and ordering, in one tree."""
    d = moddir(root)
    files = {
        "kernel/a/alpha.ko": fake_module(
            exports=["alpha_fn"], needs=["beta_fn", "printk", "gamma_fn", "fz_fn"],
            weak=["delta_fn"], versions=["module_layout", "beta_fn"],
            modinfo=[("alias", "pci:v00001234d*"), ("alias", "of:N*T*Cfoo-bar"),
                     ("softdep", "pre: beta"), ("license", "GPL")]),
        "kernel/b/beta.ko": fake_module(exports=["beta_fn", "shared_fn"], needs=["gamma_fn"]),
        "kernel/c/gamma.ko": fake_module(exports=["gamma_fn"], crcs=False,
                                         namespaces=["GAMMA_NS"]),
        "kernel/d/delta-mod.ko": fake_module(
            exports=["delta_fn", "shared_fn"],
            modinfo=[("alias", "devname:delta"), ("alias", "char-major-10-200"),
                     ("alias", "usb:v*p*d[0-9]*dc*"), ("alias", "bad[bracket")]),
        "kernel/d/noname.ko": fake_module(modinfo=[("alias", "devname:lonely")]),
        "kernel/dup/twin.ko": fake_module(exports=["twin_old"]),
        "updates/twin.ko": fake_module(exports=["twin_new"]),
        "kernel/e/user.ko": fake_module(needs=["twin_old", "twin_new", "shared_fn"]),
        "kernel/f/junk.ko": b"this is not an ELF file at all\n",
        "kernel/f/tiny.ko": b"abc",
        "kernel/f/ignored.ko.gz": fake_module(exports=["gz_fn"]),
        "kernel/f/notamodule.o": fake_module(exports=["o_fn"]),
        "build/hidden.ko": fake_module(exports=["hidden_fn"]),
    }
    for rel, data in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_bytes(data)
    (d / "kernel/f/fz.ko.xz").write_bytes(lzma.compress(fake_module(exports=["fz_fn"]),
                                                        format=lzma.FORMAT_XZ))
    return Path(root)


# --------------------------------------------------------------------------- depmod: units

def test_hash_superfast_orders_like_kmod():
    # the order real depmod printed modules.symbols for exporter.ko's four exports
    names = ["kmodsim_add", "kmodsim_calls", "kmodsim_greet", "kmodsim_secret"]
    assert hash_order(names, 2048) == ["kmodsim_secret", "kmodsim_calls", "kmodsim_greet",
                                       "kmodsim_add"]
    assert hash_superfast(b"") == 0
    assert all(0 <= hash_superfast(n.encode()) < 1 << 32 for n in names + ["a", "ab", "abc"])


@pytest.mark.parametrize("alias, want", [
    ("pci:v0000-1", "pci:v0000_1"), ("usb:[a-c]-x", "usb:[a-c]_x"), ("a[b", None), ("a]b", None),
])
def test_alias_normalize(alias, want):
    assert alias_normalize(alias) == want


def test_index_shares_prefixes_and_orders_values():
    idx = IndexNode()
    assert not idx.insert("abc", "m1", 5)
    assert not idx.insert("abd", "m2", 1)
    assert not idx.insert("abc", "m0", 1)
    assert idx.insert("abc", "m1", 9)              # a duplicate value is reported
    node = idx.children[ord("a")]
    assert node.prefix == "b"
    assert [v for _, v in node.children[ord("c")].values] == ["m0", "m1", "m1"]
    data = index_write(idx)
    assert data[:8] == bytes.fromhex("b007f45700020001")


def test_version_number_and_options():
    assert is_version_number("6.1.0-56-amd64") and is_version_number("3.2")
    assert not is_version_number("foo") and not is_version_number("6")
    assert options_from_array(["a=1", "b=x y", "c='q r'"]) == "a=1 b=\"x y\" c='q r'"


def test_depmod_fixed_samples_golden(tmp_path, capsys):
    """Byte-exact without kmod installed: what real depmod wrote for these five samples."""
    root = samples_tree(tmp_path, FIXED_SAMPLES)
    rc, out, err = kmodsim(capsys, "depmod", "-b", root, VERSION)
    assert rc == 0 and out == ""
    assert err == "".join(f"depmod: WARNING: could not open {f} at {moddir(root)}: No such file "
                          f"or directory\n"
                          for f in ("modules.order", "modules.builtin", "modules.builtin.modinfo"))
    assert (moddir(root) / "modules.dep").read_text() == (
        "kernel/xorshift/xorshift.ko:\n"
        "kernel/importer/importer.ko: kernel/exporter/exporter.ko\n"
        "kernel/hello_debug/hello_debug.ko:\n"
        "kernel/exporter/exporter.ko:\n"
        "kernel/params/params.ko:\n")
    assert (moddir(root) / "modules.symbols").read_text() == (
        "# Aliases for symbols, used by symbol_request().\n"
        "alias symbol:kmodsim_secret exporter\n"
        "alias symbol:kmodsim_calls exporter\n"
        "alias symbol:kmodsim_greet exporter\n"
        "alias symbol:kmodsim_add exporter\n")
    assert (moddir(root) / "modules.builtin.bin").read_bytes() == b""


def test_depmod_bad_version_and_missing_tree(tmp_path, capsys):
    rc, out, err = kmodsim(capsys, "depmod", "-b", tmp_path, "foo")
    assert (rc, err) == (1, "depmod: ERROR: Bad version passed foo\n")
    rc, out, err = kmodsim(capsys, "depmod", "-b", tmp_path / "none", VERSION)
    where = f"{tmp_path}/none/lib/modules/{VERSION}"
    assert rc == 1 and err == (f"depmod: ERROR: could not open directory {where}: No such file "
                               f"or directory\ndepmod: FATAL: could not search modules: No such "
                               f"file or directory\n")


# --------------------------------------------------------------------------- depmod vs kmod

def test_depmod_samples_match_real_depmod(tmp_path, capsys):
    real = samples_tree(tmp_path / "real")
    mine = copy_tree(real, tmp_path / "mine")
    ref = real_depmod("-b", real, VERSION)
    assert ref.returncode == 0
    rc, _out, err = kmodsim(capsys, "depmod", "-b", mine, VERSION)
    assert rc == 0
    assert err == ref.stderr.replace(str(real), str(mine))
    assert_same_files(real, mine)
    # -n writes the text files, one after the other, and nothing else
    ref = real_depmod("-n", "-b", real, VERSION)
    rc, out, err = kmodsim(capsys, "depmod", "-n", "-b", real, VERSION)
    assert (rc, out, err) == (0, ref.stdout, ref.stderr)


def test_depmod_edge_cases_match_real_depmod(tmp_path, capsys):
    real = edge_tree(tmp_path / "real")
    mine = copy_tree(real, tmp_path / "mine")
    ref = real_depmod("-b", real, VERSION)
    rc, _out, err = kmodsim(capsys, "depmod", "-b", mine, VERSION)
    assert rc == ref.returncode == 0
    assert err == ref.stderr.replace(str(real), str(mine))
    assert_same_files(real, mine)


# what real depmod -n printed for edge_tree (kmod 30): line order from kmod's name hash,
# dependencies in topological order, shared_fn owned by the later module in that order
EDGE_DEPMOD_N = """\
updates/twin.ko:
kernel/f/junk.ko:
kernel/c/gamma.ko:
kernel/b/beta.ko: kernel/c/gamma.ko
kernel/d/noname.ko:
kernel/a/alpha.ko: kernel/d/delta-mod.ko kernel/f/fz.ko.xz kernel/b/beta.ko kernel/c/gamma.ko
kernel/f/fz.ko.xz:
kernel/d/delta-mod.ko:
kernel/e/user.ko: updates/twin.ko kernel/d/delta-mod.ko
kernel/f/tiny.ko:
# Aliases extracted from modules themselves.
alias devname:lonely noname
alias pci:v00001234d* alpha
alias of:N*T*Cfoo-bar alpha
alias devname:delta delta_mod
alias char-major-10-200 delta_mod
alias usb:v*p*d[0-9]*dc* delta_mod
alias bad[bracket delta_mod
# Soft dependencies extracted from modules themselves.
softdep alpha pre: beta
# Aliases for symbols, used by symbol_request().
alias symbol:gamma_fn gamma
alias symbol:fz_fn fz
alias symbol:alpha_fn alpha
alias symbol:twin_new twin
alias symbol:beta_fn beta
alias symbol:shared_fn delta_mod
alias symbol:GAMMA_NS gamma
alias symbol:delta_fn delta_mod
# Device nodes to trigger on-demand module loading.
delta_mod delta c10:200
"""


def test_depmod_edge_cases_golden(tmp_path, capsys):
    root = edge_tree(tmp_path)
    rc, out, err = kmodsim(capsys, "depmod", "-n", "-b", root, VERSION)
    assert (rc, out) == (0, EDGE_DEPMOD_N)
    d = moddir(root)
    assert err == (f"depmod: WARNING: could not open modules.order at {d}: No such file or "
                   f"directory\n"
                   f"depmod: ERROR: failed to load symbols from {d}/kernel/f/junk.ko: Exec format "
                   f"error\n"
                   f"depmod: ERROR: failed to load symbols from {d}/kernel/f/tiny.ko: Invalid "
                   f"argument\n"
                   f"depmod: ERROR: Module 'noname' has devname (lonely) but lacks major and minor "
                   f"information. Ignoring.\n")


def test_depmod_errsyms_with_symvers_match_real_depmod(tmp_path, capsys):
    root = edge_tree(tmp_path)
    symvers = tmp_path / "Module.symvers"
    symvers.write_text("0x00001234\tprintk\tvmlinux\tEXPORT_SYMBOL\n"
                       "zzzz\tbad_crc\tvmlinux\tEXPORT_SYMBOL\n"
                       "0x00000001\tbeta_fn\tvmlinux\tEXPORT_SYMBOL\n"
                       "0x00000002\tshort_line\tvmlinux\n")
    system_map = tmp_path / "System.map"
    system_map.write_text("ffffffff81000000 r __ksymtab_printk\nbadline\n"
                          "ffffffff81000010 r __ksymtab_beta_fn\nffffffff81000020 T other\n")
    for extra in (["-E", symvers], ["-E", symvers, "-w"], ["-F", system_map]):
        ref = real_depmod("-n", "-e", *extra, "-b", root, VERSION)
        rc, out, err = kmodsim(capsys, "depmod", "-n", "-e", *extra, "-b", root, VERSION)
        assert (rc, out, err) == (ref.returncode, ref.stdout, ref.stderr)
    ref = real_depmod("-n", "-e", "-b", root, VERSION)
    rc, out, err = kmodsim(capsys, "depmod", "-n", "-e", "-b", root, VERSION)
    assert (rc, out, err) == (ref.returncode, ref.stdout, ref.stderr)


def test_depmod_cycle_matches_real_depmod(tmp_path, capsys):
    d = moddir(tmp_path)
    (d / "kernel").mkdir(parents=True)
    (d / "kernel/ping.ko").write_bytes(fake_module(exports=["ping"], needs=["pong"]))
    (d / "kernel/pong.ko").write_bytes(fake_module(exports=["pong"], needs=["ping"]))
    (d / "kernel/leaf.ko").write_bytes(fake_module(needs=["ping"]))
    for a, b in (("a3", "b3"), ("b3", "c3"), ("c3", "a3")):
        (d / f"kernel/{a}.ko").write_bytes(fake_module(exports=[a], needs=[b]))
    ref = real_depmod("-n", "-b", tmp_path, VERSION)
    rc, out, err = kmodsim(capsys, "depmod", "-n", "-b", tmp_path, VERSION)
    assert (rc, out, err) == (ref.returncode, ref.stdout, ref.stderr)
    assert (rc, out) == (1, "")
    assert err.endswith("depmod: ERROR: Cycle detected: b3 -> c3 -> a3 -> b3\n"
                        "depmod: ERROR: Cycle detected: pong -> ping -> pong\n"
                        "depmod: ERROR: Found 5 modules in dependency cycles!\n")


def test_depmod_cycle_into_another_cycle_ends(tmp_path, capsys):
    """kmod 30 never finishes this one (it allocates until killed); kmodsim reports it."""
    d = moddir(tmp_path)
    (d / "kernel").mkdir(parents=True)
    (d / "kernel/ping.ko").write_bytes(fake_module(exports=["ping"], needs=["pong"]))
    (d / "kernel/pong.ko").write_bytes(fake_module(exports=["pong"], needs=["ping"]))
    for a, b in (("a3", "b3"), ("b3", "c3"), ("c3", "a3")):
        (d / f"kernel/{a}.ko").write_bytes(fake_module(exports=[a], needs=[b, "ping"]))
    rc, out, err = kmodsim(capsys, "depmod", "-n", "-b", tmp_path, VERSION)
    assert (rc, out) == (1, "")
    assert "Cycle detected: b3 -> c3 -> a3 -> b3" in err
    assert err.endswith("modules in dependency cycles!\n")


def test_depmod_modules_order_and_verbose(tmp_path, capsys):
    root = samples_tree(tmp_path)
    order = "".join(f"kernel/{n}/{n}.ko\n" for n in ("params", "importer", "exporter"))
    (moddir(root) / "modules.order").write_text(order)
    ref = real_depmod("-n", "-v", "-b", root, VERSION)
    rc, out, err = kmodsim(capsys, "depmod", "-n", "-v", "-b", root, VERSION)
    assert (rc, out, err) == (0, ref.stdout, ref.stderr)
    assert out.index("kernel/params/params.ko:") < out.index("kernel/importer/importer.ko:")


def corpus_dir():
    if os.environ.get("KMODSIM_CORPUS") != "1":
        pytest.skip("set KMODSIM_CORPUS=1 to compare with depmod over the Debian modules")
    try:
        out = subprocess.run([str(DEBIAN_MODULES), "amd64"], capture_output=True, text=True,
                             check=True, timeout=1800).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pytest.skip("the Debian module corpus is not available")
    if not out or not (Path(out) / "kernel").is_dir():
        pytest.skip("the Debian module corpus is not available")
    return Path(out)


@pytest.mark.corpus
def test_depmod_corpus_subset_matches_real_depmod(tmp_path, capsys):
    """About a hundred corpus modules: every 100th, and what each needs."""
    src = corpus_dir()
    full = real_depmod("-n", "-b", src.parent.parent.parent, src.name).stdout
    deps = {}
    for line in full.split("# Aliases")[0].splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
    chosen = set()
    for path in sorted(deps)[::100]:
        chosen.add(path)
        chosen.update(deps[path])
    real = tmp_path / "real"
    for rel in chosen:
        (moddir(real) / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / rel, moddir(real) / rel)
    mine = copy_tree(real, tmp_path / "mine")
    ref = real_depmod("-b", real, VERSION)
    rc, _out, err = kmodsim(capsys, "depmod", "-b", mine, VERSION)
    assert rc == ref.returncode == 0
    assert err == ref.stderr.replace(str(real), str(mine))
    assert_same_files(real, mine)
    assert len(chosen) > 100
    assert sum(1 for line in (moddir(mine) / "modules.dep").read_text().splitlines()
               if line.split(":")[1]) > 50


@pytest.mark.corpus
@pytest.mark.parametrize("with_order", [False, True])
def test_depmod_whole_corpus_matches_real_depmod(tmp_path, capsys, with_order):
    """All 4,023 modules, through a symlink (kmod follows it), with and without the corpus's
    modules.order, modules.builtin and modules.builtin.modinfo."""
    src = corpus_dir()
    trees = []
    for name in ("real", "mine"):
        d = moddir(tmp_path / name)
        d.mkdir(parents=True)
        (d / "kernel").symlink_to(src / "kernel")
        if with_order:
            for f in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
                if (src / f).exists():
                    shutil.copy(src / f, d / f)
        trees.append(tmp_path / name)
    ref = real_depmod("-b", trees[0], VERSION)
    rc, _out, err = kmodsim(capsys, "depmod", "-b", trees[1], VERSION)
    assert rc == ref.returncode == 0
    assert err == ref.stderr.replace(str(trees[0]), str(trees[1]))
    assert_same_files(*trees)


def host_modprobe_config_names():
    """Module names the host's modprobe.d mentions: kmod's modprobe applies that
    configuration, kmodsim does not, so they are left out of the comparison."""
    names = set()
    for d in ("/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d",
              "/lib/modprobe.d"):
        for conf in Path(d).glob("*.conf") if Path(d).is_dir() else ():
            for word in conf.read_text(errors="replace").split():
                names.add(word.replace("-", "_"))
    return names


@pytest.mark.corpus
def test_modprobe_corpus_queries_match_real_modprobe(tmp_path, capsys):
    """modprobe -D (dependencies and softdeps) and -R (aliases) over the Debian tree."""
    src = corpus_dir()
    d = moddir(tmp_path)
    d.mkdir(parents=True)
    (d / "kernel").symlink_to(src / "kernel")
    for f in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
        if (src / f).exists():
            shutil.copy(src / f, d / f)
    rc, _out, _err = kmodsim(capsys, "depmod", "-b", tmp_path, VERSION)
    assert rc == 0
    skip = host_modprobe_config_names()
    names = [line.split(":")[0].rsplit("/", 1)[-1].split(".")[0]
             for line in (d / "modules.dep").read_text().splitlines()]
    aliases = [line.split()[1] for line in (d / "modules.alias").read_text().splitlines()[1:]]
    queries = [["-D", n] for n in names[::40] if n.replace("-", "_") not in skip]
    queries += [["-R", a.replace("*", "x")] for a in aliases[::500]]
    queries += [["-D", "fs-ext4"], ["-D", "crc32c"], ["-R", "unix"], ["-D", "ext3"]]
    for query in queries:
        ref = real_modprobe("-d", tmp_path, "-S", VERSION, *query)
        rc, out, err = kmodsim(capsys, "modprobe", "-d", tmp_path, *query)
        assert (rc, out, err) == (ref.returncode, ref.stdout, ref.stderr), query
    assert len(queries) > 100


def test_run_depmod_api(tmp_path):
    root = samples_tree(tmp_path, ("exporter", "importer"))
    dm = run_depmod(DepmodConfig(str(moddir(root))))
    by_name = {m.modname: m for m in dm.modules}
    assert [d.modname for d in by_name["importer"].deps] == ["exporter"]
    assert dm.symbols["kmodsim_add"].owner is by_name["exporter"]
    assert by_name["exporter"].users == 1


# --------------------------------------------------------------------------- modprobe

@pytest.fixture
def depmod_tree(tmp_path, capsys):
    root = samples_tree(tmp_path)
    rc, _out, _err = kmodsim(capsys, "depmod", "-b", root, VERSION)
    assert rc == 0
    return root


def test_modprobe_loads_dependencies_first(depmod_tree, capsys):
    rc, out, err = kmodsim(capsys, "modprobe", "-d", depmod_tree, "-v", "importer")
    assert (rc, err) == (0, "")
    d = moddir(depmod_tree)
    lines = out.splitlines()
    assert lines[:2] == [f"insmod {d}/kernel/exporter/exporter.ko ",
                         f"insmod {d}/kernel/importer/importer.ko "]
    loaded = out.index("exporter: loaded")
    assert loaded < out.index("importer: 40 + 2 = 42")


def test_modprobe_resolves_names_symbols_and_options(depmod_tree, capsys):
    assert lookup_module(str(moddir(depmod_tree)), "hello-debug") == ["hello_debug"]
    assert lookup_module(str(moddir(depmod_tree)), "symbol:kmodsim_add") == ["exporter"]
    rc, out, _ = kmodsim(capsys, "modprobe", "-d", depmod_tree, "-S", VERSION, "-n", "-v",
                         "importer", "a=1", "b=x y")
    assert rc == 0
    assert out.splitlines()[-1] == f"insmod {moddir(depmod_tree)}/kernel/importer/importer.ko " \
                                   f"a=1 b=\"x y\""
    rc, out, _ = kmodsim(capsys, "modprobe", "-d", depmod_tree, "-R", "symbol:kmodsim_greet")
    assert (rc, out) == (0, "exporter\n")


def real_modprobe(*argv):
    if shutil.which("modprobe") is None:
        pytest.skip("kmod's modprobe is not installed")
    return subprocess.run(["modprobe", *map(str, argv)], capture_output=True, text=True,
                          check=False)


MODPROBE_QUERIES = (["-D", "importer"], ["-n", "-v", "importer", "a=1", "b=x y"],
                    ["-R", "symbol:kmodsim_calls"], ["-D", "symbol:kmodsim_add"],
                    ["-D", "hello-debug"],
                    ["-D", "nosuch"], ["-q", "-D", "nosuch"], ["-a", "-D", "params", "nosuch"],
                    ["-R", "bad[x"], ["-D", "xorshift"], ["-D", "builtin_one"])


def test_modprobe_queries_match_real_modprobe(depmod_tree, capsys):
    """-D, -R, -n -v: no kernel involved, so kmod's own modprobe can answer too."""
    d = moddir(depmod_tree)
    (d / "modules.softdep").write_text("# Soft dependencies extracted from modules themselves.\n"
                                       "softdep importer pre: params post: xorshift\n"
                                       "softdep xorshift pre: nosuch\n")
    (d / "modules.builtin").write_text("kernel/fs/builtin-one.ko\n")
    rc, _out, _err = kmodsim(capsys, "depmod", "-b", depmod_tree, VERSION)
    assert rc == 0
    (d / "modules.softdep").write_text("softdep importer pre: params post: xorshift\n"
                                       "softdep xorshift pre: nosuch\n")
    for query in MODPROBE_QUERIES:
        ref = real_modprobe("-d", depmod_tree, "-S", VERSION, *query)
        rc, out, err = kmodsim(capsys, "modprobe", "-d", depmod_tree, *query)
        assert (rc, out, err) == (ref.returncode, ref.stdout, ref.stderr), query


def test_modprobe_softdeps_and_builtin(depmod_tree, capsys):
    d = moddir(depmod_tree)
    (d / "modules.softdep").write_text("softdep importer pre: params post: xorshift\n")
    rc, out, err = kmodsim(capsys, "modprobe", "-d", depmod_tree, "-D", "importer")
    assert (rc, err) == (0, "")
    # the dependency (with its own softdeps), then the module's pre, itself, its post
    assert [line.split("/")[-1] for line in out.splitlines()] == [
        "exporter.ko ", "params.ko ", "importer.ko ", "xorshift.ko "]
    (d / "modules.builtin").write_text("kernel/fs/builtin-one.ko\n")
    rc, _out, _err = kmodsim(capsys, "depmod", "-b", depmod_tree, VERSION)
    rc, out, err = kmodsim(capsys, "modprobe", "-d", depmod_tree, "-D", "builtin-one")
    assert (rc, out, err) == (0, "builtin builtin_one\n", "")
    rc, out, err = kmodsim(capsys, "modprobe", "-d", depmod_tree, "builtin_one")
    assert (rc, out, err) == (0, "", "")


def test_modprobe_reads_only_the_binary_indexes(depmod_tree, capsys):
    # like libkmod: modules.dep alone (no modules.dep.bin) finds nothing
    (moddir(depmod_tree) / "modules.dep.bin").unlink()
    rc, _out, err = kmodsim(capsys, "modprobe", "-d", depmod_tree, "-D", "importer")
    assert rc == 1 and "FATAL: Module importer not found in directory" in err


def test_modprobe_not_found(depmod_tree, tmp_path, capsys):
    rc, out, err = kmodsim(capsys, "modprobe", "-d", depmod_tree, "nosuch")
    assert rc == 1
    assert err == f"modprobe: FATAL: Module nosuch not found in directory {moddir(depmod_tree)}\n"
    # no modules.dep at all: the same message, as kmod (it does not run depmod)
    rc, _out, err = kmodsim(capsys, "modprobe", "-d", tmp_path / "empty", "importer")
    assert rc == 1 and "FATAL: Module importer not found in directory" in err
    rc, _out, err = kmodsim(capsys, "modprobe", "-q", "-d", depmod_tree, "nosuch")
    assert (rc, err) == (1, "")


def test_modprobe_failure_names_the_module(depmod_tree, capsys):
    (moddir(depmod_tree) / "kernel/exporter/exporter.ko").unlink()
    rc, _out, err = kmodsim(capsys, "modprobe", "-d", depmod_tree, "importer")
    assert rc == 1
    assert err == ("modprobe: ERROR: could not insert 'importer': Unknown symbol in module, "
                   "or unknown parameter (see dmesg)\n")


def test_modprobe_remove(depmod_tree, capsys):
    # not loaded: kmod says nothing and succeeds, unless --first-time
    rc, out, err = kmodsim(capsys, "modprobe", "-d", depmod_tree, "-r", "importer")
    assert (rc, out, err) == (0, "", "")
    rc, _out, err = kmodsim(capsys, "modprobe", "-d", depmod_tree, "-r", "--first-time", "importer")
    assert (rc, err) == (1, "modprobe: FATAL: Module importer is not in kernel.\n")
    rc, _out, err = kmodsim(capsys, "modprobe", "-d", depmod_tree, "-r", "--with", "importer",
                            "exporter")
    assert (rc, err) == (1, "modprobe: FATAL: Module exporter is in use.\n")
    # removing importer also removes exporter, now unused
    rc, out, err = kmodsim(capsys, "modprobe", "-d", depmod_tree, "-r", "-v", "--with", "importer",
                           "importer")
    assert (rc, err) == (0, "")
    assert out.startswith("rmmod importer\nrmmod exporter\n")
    assert out.index("importer: unloaded") < out.index("exporter: unloaded after")


def test_modprobe_already_loaded(depmod_tree, capsys):
    rc, _out, err = kmodsim(capsys, "modprobe", "-d", depmod_tree, "--with", "importer", "importer")
    assert (rc, err) == (0, "")
    rc, _out, err = kmodsim(capsys, "modprobe", "-d", depmod_tree, "--first-time", "--with",
                            "importer", "importer")
    assert (rc, err) == (1, "modprobe: ERROR: could not insert 'importer': Module already in "
                            "kernel\n")


# --------------------------------------------------------------------------- insmod

def test_insmod_errors_in_kmod_words(tmp_path, capsys):
    rc, out, err = kmodsim(capsys, "insmod", tmp_path / "missing.ko")
    assert (rc, out) == (1, "")
    assert err == f"insmod: ERROR: could not load module {tmp_path}/missing.ko: No such file or " \
                  f"directory\n"
    junk = tmp_path / "junk.ko"
    junk.write_bytes(b"not a module, just words\n")
    rc, _out, err = kmodsim(capsys, "insmod", junk)
    assert (rc, err) == (1, f"insmod: ERROR: could not insert module {junk}: Invalid module "
                            f"format\n")
    tiny = tmp_path / "tiny.ko"
    tiny.write_bytes(b"abc")     # shorter than kmod's magic check: EINVAL from kmod itself
    rc, _out, err = kmodsim(capsys, "insmod", tiny)
    assert (rc, err) == (1, f"insmod: ERROR: could not insert module {tiny}: Invalid "
                            f"parameters\n")
    importer = SAMPLES / "importer" / "importer.ko"
    rc, out, err = kmodsim(capsys, "insmod", importer)
    assert (rc, out) == (1, "")
    assert err == f"insmod: ERROR: could not insert module {importer}: Unknown symbol in module\n"
    rc, out, err = kmodsim(capsys, "insmod", "--dmesg", importer)
    assert "importer: Unknown symbol kmodsim_add (err -2)" in out


def test_insmod_success_is_silent(capsys):
    rc, out, err = kmodsim(capsys, "insmod", SAMPLES / "exporter" / "exporter.ko")
    assert (rc, out, err) == (0, "", "")
    rc, out, err = kmodsim(capsys, "insmod", "--dmesg",
                           "--with", SAMPLES / "exporter" / "exporter.ko",
                           SAMPLES / "importer" / "importer.ko")
    assert rc == 0 and "importer: 40 + 2 = 42" in out


def test_insmod_compressed(tmp_path, capsys):
    xz = tmp_path / "exporter.ko.xz"
    xz.write_bytes(lzma.compress((SAMPLES / "exporter" / "exporter.ko").read_bytes(),
                                 format=lzma.FORMAT_XZ))
    rc, out, err = kmodsim(capsys, "insmod", "--dmesg", xz)
    assert (rc, err) == (0, "") and "exporter: loaded" in out


def test_insmod_oops_kills_insmod(capsys):
    rc, out, err = kmodsim(capsys, "insmod", SAMPLES / "oops_null" / "oops_null.ko")
    assert rc == 137 and err == "Killed\n"
    assert "Comm: insmod" in out


# --------------------------------------------------------------------------- lsmod, rmmod

def test_lsmod_format(capsys):
    rc, out, err = kmodsim(capsys, "lsmod")
    assert (rc, out, err) == (0, "Module                  Size  Used by\n", "")
    rc, out, err = kmodsim(capsys, "lsmod", "--with", SAMPLES / "exporter" / "exporter.ko",
                           "--with", SAMPLES / "importer" / "importer.ko")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == "Module                  Size  Used by"
    assert lines[1] == "%-19s %8d  %d" % ("importer", 16384, 0)
    assert lines[2] == "%-19s %8d  %d %s" % ("exporter", 16384, 1, "importer")


def test_sysfs_lists_in_kernfs_hash_order():
    # readdir order (ls -f) of a real /sys/module, on a 6.18 host whose kernfs_name_hash
    # has 6.1's form: the order kmod reads holders in
    listed = ["cpuidle", "cryptomgr", "dns_resolver", "spurious", "compaction", "vt",
              "nf_conntrack", "tcp_cubic"]
    assert sorted(listed, key=lambda n: (kernfs_name_hash(n), n)) == listed


def test_lsmod_reads_proc_and_sys():
    from emulator.cli.kmodtools import Sysfs
    from emulator.kernel import Kernel
    k = Kernel()
    assert k.insmod(str(SAMPLES / "params" / "params.ko")).rc == 0
    text = format_lsmod(Sysfs(k))
    assert text.splitlines()[1].startswith("params ") and text.endswith("  0\n")


def test_rmmod_not_loaded(capsys):
    rc, out, err = kmodsim(capsys, "rmmod", "exporter")
    assert (rc, out, err) == (1, "", "rmmod: ERROR: Module exporter is not currently loaded\n")
    rc, _out, err = kmodsim(capsys, "rmmod", "foo-bar")
    assert (rc, err) == (1, "rmmod: ERROR: Module foo_bar is not currently loaded\n")


def test_rmmod_with_loaded_modules(capsys):
    exporter, importer = SAMPLES / "exporter" / "exporter.ko", SAMPLES / "importer" / "importer.ko"
    rc, _out, err = kmodsim(capsys, "rmmod", "--with", exporter, "--with", importer, "exporter")
    assert (rc, err) == (1, "rmmod: ERROR: Module exporter is in use by: importer\n")
    rc, out, err = kmodsim(capsys, "rmmod", "--dmesg", "--with", exporter, "--with", importer,
                           "importer", exporter)
    assert (rc, err) == (0, "")
    assert "importer: unloaded" in out and "exporter: unloaded after" in out


def test_rmmod_module_without_exit(capsys):
    noexit = SAMPLES / "noexit" / "noexit.ko"
    if not noexit.exists():
        pytest.skip("no noexit sample")
    rc, _out, err = kmodsim(capsys, "rmmod", "--with", noexit, "noexit")
    assert (rc, err) == (1, "rmmod: ERROR: could not remove 'noexit': Device or resource busy\n"
                            "rmmod: ERROR: could not remove module noexit: Device or resource "
                            "busy\n")
