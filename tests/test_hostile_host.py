"""Issue 10, part 3: nothing a module contains makes kmodsim read the host's files.

``--explain`` shows a source line. The file name comes from the module's DWARF, which is
guest data: these modules are copies of ``oops_null.ko`` whose line program names
``/etc/passwd``, ``/proc/self/environ``, ``/dev/zero``, ``../../../../etc/passwd``, or
whose directory holds a symlink out of it. The text must come only from a regular file
under the module's directory or a ``--source-dir``; otherwise the ``source:`` line says
why it is not shown. No host content, no crash, no hang.
"""

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from conftest import SAMPLES, run_cli
from modpatch import poke

from emulator.faults import explain_fault
from emulator.sources import (MAX_SOURCE_BYTES, _read_source_line, find_source, printable,
                              source_roots)
from emulator.kernel import Kernel
from linker.elf.reader import ElfFile

OOPS_NULL = SAMPLES / "linux/oops_null/oops_null.ko"
SOURCE = SAMPLES / "linux/oops_null/oops_null.c"
DIR, NAME = "samples/linux/oops_null", "oops_null.c"     # what its DWARF says
LINE = 21                                                 # the faulting store
TOKEN = "kmodsim-secret-token-3f9a1c"


# --------------------------------------------------------------------------- crafting

def rename_source(data, directory, name):
    """oops_null.ko with its line programs' directory ``samples/linux/oops_null`` and file
    ``oops_null.c`` (in ``.debug_line_str``) renamed: each string overwritten in place,
    NUL-padded, so nothing else in the file moves."""
    assert len(directory) <= len(DIR) and len(name) <= len(NAME)
    sec = next(s for s in ElfFile(data).sections if s.name == ".debug_line_str")
    raw = data[sec.sh_offset:sec.sh_offset + sec.sh_size]
    for old, new in ((DIR, directory), (NAME, name)):
        old_b, new_b = old.encode() + b"\0", new.encode("latin-1") + b"\0"
        at, hits = 0, 0
        while (at := raw.find(old_b, at)) >= 0:
            if at == 0 or raw[at - 1] == 0:          # a whole string, not a tail
                data = poke(data, ".debug_line_str", at, new_b.ljust(len(old_b), b"\0"))
                hits += 1
            at += 1
        assert hits, old
    return data


def hostile(tmp_path, directory, name, sub="mod"):
    """The renamed module, alone in ``tmp_path/sub``: its path."""
    d = tmp_path / sub
    d.mkdir(parents=True, exist_ok=True)
    path = d / "oops_null.ko"
    path.write_bytes(rename_source(OOPS_NULL.read_bytes(), directory, name))
    return path


def explain(path, **kw):
    k = Kernel()
    assert k.insmod(str(path)).signal == 9
    started = time.monotonic()
    text = explain_fault(k, **kw)
    assert time.monotonic() - started < 10
    return text


def source_of(text):
    return next(line for line in text.splitlines() if line.startswith("  source:"))


def host_lines(path):
    try:
        return [line for line in Path(path).read_text(errors="replace").splitlines()
                if len(line) > 6]
    except OSError:
        return []


@pytest.fixture
def secret(tmp_path):
    """A file outside every allowed directory, every line of which is recognisable."""
    d = tmp_path / "outside"
    d.mkdir()
    f = d / "oops_null.c"
    f.write_text("".join(f"SECRET {TOKEN} line {i}\n" for i in range(1, 60)))
    return f


# --------------------------------------------------------------------------- the samples

def test_sample_source_is_shown_beside_the_module():
    text = explain(OOPS_NULL)
    assert source_of(text) == f"  source:      {DIR}/{NAME}:{LINE}    *target = 0x6b6d6f64UL;"


def test_a_copy_elsewhere_shows_no_source_and_says_why(tmp_path):
    copy = tmp_path / "oops_null.ko"
    shutil.copy(OOPS_NULL, copy)
    assert source_of(explain(copy)) == (
        f"  source:      {DIR}/{NAME}:{LINE} (not shown: outside the module's directory; "
        "give --source-dir)")
    # --source-dir: the longest tail of the DWARF name found under it wins
    assert source_of(explain(copy, source_dirs=[SOURCE.parent])).endswith("*target = 0x6b6d6f64UL;")
    assert source_of(explain(copy, source_dirs=[SAMPLES.parent])).endswith(
        "*target = 0x6b6d6f64UL;")


def test_a_module_loaded_from_bytes_needs_source_dir():
    k = Kernel()
    assert k.init_module(OOPS_NULL.read_bytes()).signal == 9
    assert "(not shown: the module's file is not known; give --source-dir)" in explain_fault(k)
    assert "*target = 0x6b6d6f64UL;" in explain_fault(k, source_dirs=[SOURCE.parent])


# --------------------------------------------------------------------------- hostile names

@pytest.mark.parametrize("directory, name, why", [
    ("/etc", "passwd", "an absolute path in the debug info is never followed"),
    ("/proc/self", "environ", "an absolute path in the debug info is never followed"),
    ("/dev", "zero", "an absolute path in the debug info is never followed"),
    ("/dev", "stdin", "an absolute path in the debug info is never followed"),
    ("/sys/kernel", "notes", "an absolute path in the debug info is never followed"),
    ("../../../../etc", "passwd", "'..' in the debug info is never followed"),
    ("../../../..", "etc/passwd", "'..' in the debug info is never followed"),
])
def test_debug_info_paths_never_reach_the_host(tmp_path, monkeypatch, directory, name, why):
    monkeypatch.setenv("KMODSIM_GRADER_TOKEN", TOKEN)
    monkeypatch.chdir("/")            # the old lookup also tried the name from the cwd
    path = hostile(tmp_path, directory, name)
    text = explain(path)
    assert source_of(text) == (f"  source:      {directory}/{name}:{LINE} "
                               f"(not shown: {why}; give --source-dir)")
    assert TOKEN not in text
    for line in host_lines("/etc/passwd"):
        assert line not in text
    # a --source-dir of / does not make them readable either: /proc, /dev and /sys never
    text = explain(path, source_dirs=["/"])
    assert TOKEN not in text and "SECRET" not in text
    if directory.startswith(("/proc", "/dev", "/sys")):
        assert "is under /proc, /dev or /sys" in text or "leads outside" in text \
            or "not shown" in text


def test_dotdot_to_a_file_beside_the_parent(tmp_path, monkeypatch, secret):
    # outside/oops_null.c is ../outside/oops_null.c from the module's directory
    path = hostile(tmp_path, "../outside", NAME)
    monkeypatch.chdir(path.parent)
    text = explain(path)
    assert TOKEN not in text
    assert "(not shown: '..' in the debug info is never followed; give --source-dir)" in text


def test_absolute_path_to_a_readable_file(tmp_path):
    # an absolute name that exists and would show a line: still never opened as it stands
    short = Path(tempfile.mkdtemp(prefix="k", dir="/tmp"))
    try:
        assert len(str(short)) <= len(DIR)
        (short / "s.c").write_text("".join(f"SECRET {TOKEN} line {i}\n" for i in range(1, 60)))
        path = hostile(tmp_path, str(short), "s.c")
        text = explain(path)
        assert TOKEN not in text
        assert f"{short}/s.c:{LINE} (not shown: an absolute path in the debug info" in text
    finally:
        shutil.rmtree(short)


def test_symlink_beside_the_module_pointing_out(tmp_path, secret):
    d = tmp_path / "mod"
    d.mkdir()
    shutil.copy(OOPS_NULL, d / "oops_null.ko")
    (d / NAME).symlink_to(secret)
    text = explain(d / "oops_null.ko")
    assert TOKEN not in text
    assert "(not shown: oops_null.c in the module's directory leads outside it (a symlink))" in text


def test_symlinked_directory_pointing_out(tmp_path, secret):
    # mod/samples -> outside/..., so samples/linux/oops_null/oops_null.c resolves outside
    evil = tmp_path / "outside" / "tree"
    (evil / "linux/oops_null").mkdir(parents=True)
    (evil / "linux/oops_null" / NAME).symlink_to(secret)
    d = tmp_path / "mod"
    d.mkdir()
    shutil.copy(OOPS_NULL, d / "oops_null.ko")
    (d / "samples").symlink_to(evil)
    text = explain(d / "oops_null.ko")
    assert TOKEN not in text and "leads outside it (a symlink)" in text


def test_symlink_to_etc_passwd_and_proc(tmp_path, monkeypatch):
    monkeypatch.setenv("KMODSIM_GRADER_TOKEN", TOKEN)
    d = tmp_path / "mod"
    d.mkdir()
    shutil.copy(OOPS_NULL, d / "oops_null.ko")
    for target in ("/etc/passwd", "/proc/self/environ", "/dev/zero"):
        (d / NAME).unlink(missing_ok=True)
        (d / NAME).symlink_to(target)
        text = explain(d / "oops_null.ko")
        assert TOKEN not in text and "leads outside it (a symlink)" in text
        for line in host_lines("/etc/passwd"):
            assert line not in text


def test_symlink_inside_the_directory_is_followed(tmp_path):
    d = tmp_path / "mod"
    (d / "src").mkdir(parents=True)
    shutil.copy(OOPS_NULL, d / "oops_null.ko")
    shutil.copy(SOURCE, d / "src" / NAME)
    (d / NAME).symlink_to(Path("src") / NAME)
    assert source_of(explain(d / "oops_null.ko")).endswith("*target = 0x6b6d6f64UL;")


def test_a_directory_or_fifo_named_like_the_source(tmp_path):
    d = tmp_path / "mod"
    d.mkdir()
    shutil.copy(OOPS_NULL, d / "oops_null.ko")
    (d / NAME).mkdir()
    assert "oops_null.c in the module's directory is not a regular file" in explain(d / "oops_null.ko")
    (d / NAME).rmdir()
    os.mkfifo(d / NAME)                     # opening it would block: never opened
    assert "is not a regular file" in explain(d / "oops_null.ko")


def test_control_characters_in_the_name_are_escaped(tmp_path):
    path = hostile(tmp_path, "x\x1b[2J", "\x07a.c")
    line = source_of(explain(path))
    assert "\x1b" not in line and "\x07" not in line
    assert "x\\x1b[2J/\\x07a.c:21" in line


def test_corrupt_line_program_is_no_crash(tmp_path):
    data = OOPS_NULL.read_bytes()
    sec = next(s for s in ElfFile(data).sections if s.name == ".debug_line")
    for offset, raw in ((0, b"\xff" * 12), (12, b"\xff" * 40), (40, bytes(range(200, 256)))):
        path = tmp_path / f"c{offset}" / "oops_null.ko"
        path.parent.mkdir()
        path.write_bytes(poke(data, ".debug_line", offset, raw[:sec.sh_size - offset]))
        text = explain(path)
        assert "kmodsim explain:" in text and "code:" in text


# --------------------------------------------------------------------------- the pieces

def test_find_source_refuses_special_roots_and_names():
    roots = source_roots(["/proc/self", "/dev", "/sys"], None)
    assert find_source("environ", roots)[0] is None
    assert "under /proc, /dev or /sys" in find_source("environ", roots)[1]
    assert find_source("zero", roots)[0] is None
    # / as a --source-dir: the name selects proc/self/environ under it, which is refused
    assert find_source("/proc/self/environ", source_roots(["/"]))[0] is None
    assert find_source("/dev/zero", source_roots(["/"]))[0] is None
    assert find_source("a\0b", source_roots(["/tmp"])) == (None, "no file name in the debug info")
    assert find_source("?", source_roots(["/tmp"]))[0] is None


def test_read_is_bounded(tmp_path):
    assert _read_source_line("/dev/zero", 1) == (None, "not a regular file")
    big = tmp_path / "big.c"
    with open(big, "wb") as fh:
        fh.write(b"x" * (MAX_SOURCE_BYTES + 100) + b"\nlast\n")
    text, note = _read_source_line(str(big), 2)
    assert text is None and "past the first" in note
    small = tmp_path / "s.c"
    small.write_bytes(b"one\ntwo\nthree")
    assert _read_source_line(str(small), 3) == ("three", None)
    assert _read_source_line(str(small), 2) == ("two", None)
    assert _read_source_line(str(small), 4) == (None, "the file has no line 4")
    assert _read_source_line(str(small), 0)[0] is None


def test_printable():
    assert printable("a\tb") == "a\tb"
    assert printable("\x1b[0m") == "\\x1b[0m"
    assert printable("x" * 500).endswith("...") and len(printable("x" * 500)) == 203


# --------------------------------------------------------------------------- the command

def test_cli_explain_of_hostile_module(tmp_path, monkeypatch):
    monkeypatch.setenv("KMODSIM_GRADER_TOKEN", TOKEN)
    for directory, name in (("/etc", "passwd"), ("/proc/self", "environ"), ("/dev", "zero")):
        path = hostile(tmp_path / name, directory, name)
        r = run_cli("run", "--explain", path)
        out = r.stdout.decode() + r.stderr.decode()
        assert r.returncode == 137 and "Traceback" not in out
        assert TOKEN not in out and "not shown: an absolute path" in out
        for line in host_lines("/etc/passwd"):
            assert line not in out
    # an unrelated --source-dir opens no way out either (one the user names is trusted)
    (tmp_path / "empty").mkdir()
    r = run_cli("run", "--explain", hostile(tmp_path / "sd", "../../../../etc", "passwd"),
                "--source-dir", tmp_path / "empty")
    out = r.stdout.decode()
    assert "Traceback" not in r.stderr.decode()
    for line in host_lines("/etc/passwd"):
        assert line not in out
    r = run_cli("run", "--explain", OOPS_NULL, "--source-dir", tmp_path / "missing")
    assert r.returncode == 2 and b"--source-dir: not a directory" in r.stderr
