"""``kmodsim modinfo`` against kmod 30's ``modinfo`` (the oracle), and hand-checked values.

The comparisons call the command in-process (``conftest.run_cli``: ``emulator.cli.main``
with stdout and stderr captured as bytes); ``test_entry_point_in_a_child_process`` runs the
real ``python -m emulator.cli`` and checks that it prints the same bytes and exit status.
"""

import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, SAMPLES, golden_modules, run_cli, sample_objects

KO_FILES = [p for p in sample_objects() if p.suffix == ".ko"] + \
    sorted(SAMPLES.glob("linux/signed/*.ko")) + golden_modules()
OPTION_SETS = [[], ["-0"], ["-p"], ["-F", "vermagic"], ["-F", "parm"], ["-n"], ["-a"],
               ["-F", "signature"], ["-F", "nonexistent"]]


def kmodsim(*args, cwd=None):
    """``kmodsim ARGS`` run in this process: ``returncode``, ``stdout`` and ``stderr`` bytes."""
    return run_cli(*args, cwd=cwd)


def kmodsim_process(*args):
    """``kmodsim ARGS`` as a child process, ``python -m emulator.cli`` from the project root."""
    return subprocess.run([sys.executable, "-m", "emulator.cli", *map(str, args)],
                          capture_output=True, cwd=ROOT)


@pytest.mark.skipif(shutil.which("modinfo") is None, reason="kmod's modinfo is not installed")
@pytest.mark.parametrize("opts", OPTION_SETS, ids=" ".join)
def test_same_bytes_as_kmod(opts):
    assert KO_FILES, "no sample modules found"
    for path in KO_FILES:
        ours = kmodsim("modinfo", *opts, path)
        real = subprocess.run(["modinfo", *opts, str(path)], capture_output=True)
        assert ours.stdout == real.stdout, path
        assert ours.stderr == real.stderr, path
        assert (ours.returncode == 0) == (real.returncode == 0), path


@pytest.mark.skipif(shutil.which("modinfo") is None, reason="kmod's modinfo is not installed")
def test_errors_match_kmod(tmp_path):
    (tmp_path / "junk.ko").write_bytes(b"junk" * 10)
    good = (SAMPLES / "linux/hello_debug/hello_debug.ko").read_bytes()
    (tmp_path / "cut-off.ko").write_bytes(good[:100])
    cases = ["junk.ko", "cut-off.ko", "missing.ko"]
    for name in cases:
        ours = kmodsim("modinfo", name, cwd=tmp_path)
        real = subprocess.run(["modinfo", name], capture_output=True, cwd=tmp_path)
        assert (ours.stdout, ours.stderr) == (real.stdout, real.stderr), name
        assert ours.returncode == real.returncode == 1


@pytest.mark.parametrize("args", [
    ["modinfo", SAMPLES / "linux/signed/hello_signed.ko"],
    ["modinfo", "-p", SAMPLES / "linux/params/params.ko", SAMPLES / "linux/no-such.ko"],
], ids=["signed", "params-and-an-error"])
def test_entry_point_in_a_child_process(args):
    """The real command, start-up and exit status included, prints what the in-process runs
    (which every other test here uses) print; and what kmod's modinfo prints, where it is."""
    child = kmodsim_process(*args)
    here = kmodsim(*args)
    assert (child.stdout, child.stderr, child.returncode) == \
        (here.stdout, here.stderr, here.returncode)
    if shutil.which("modinfo") is not None:
        real = subprocess.run(["modinfo", *map(str, args[1:])], capture_output=True)
        assert (child.stdout, child.stderr) == (real.stdout, real.stderr)
        assert child.returncode == real.returncode


def test_params_lines_by_hand():
    out = kmodsim("modinfo", "-p", SAMPLES / "linux/params/params.ko").stdout.decode()
    lines = out.splitlines()
    # kmod prints parameters newest-first: the reverse of their order in .modinfo
    assert lines[0].startswith("p_byte:") and lines[0].endswith("(byte)")
    assert "p_ints:Up to 4 ints, comma separated (array of int)" in lines
    assert any(line.startswith("p_string:") and line.endswith("(string)") for line in lines)
    assert len(lines) == 16


def test_signature_fields_by_hand():
    out = kmodsim("modinfo", SAMPLES / "linux/signed/hello_signed.ko").stdout.decode()
    assert "sig_id:         PKCS#7\n" in out
    assert "signer:         kmodsim sample signing key\n" in out
    assert "sig_key:        4B:4D:4F:44:53:49:4D:01\n" in out  # the serial set in the Makefile
    assert "sig_hashalgo:   sha256\n" in out
    sig = out.split("signature:      ", 1)[1]
    rows = sig.rstrip("\n").split("\n\t\t")
    assert all(len(r) == 20 * 3 for r in rows[:-1])  # 20 bytes a row, "XX:" each
    assert len(sig.replace("\n\t\t", "").strip().split(":")) == 256  # RSA-2048


def test_hobby_object_has_no_modinfo():
    r = kmodsim("modinfo", SAMPLES / "hobby/hello.o")
    assert r.returncode == 1
    assert r.stdout.decode().startswith("filename:       ")
    assert r.stderr == b"modinfo: ERROR: could not get modinfo from 'hello': No such file or directory\n"


def test_long_key_padding():
    from linker.module.kmod_format import format_modinfo
    # printf("%s:%-*s", key, 15 - keylen, ""): a key longer than 15 still gets |15-len| spaces
    assert format_modinfo([("a_very_long_key_name", "v")]) == "a_very_long_key_name:     v\n"
    assert format_modinfo([("license", "GPL")]) == "license:        GPL\n"
    assert format_modinfo([("x", "1")], sep="\0") == "x=1\0"
