"""Issue 10: every command given a path it cannot use says so as the real tool would, with
its exit status, never a traceback and never a hang.

The paths: a missing file, a directory, a FIFO nobody writes (what an unreadable file is
to root: opening it would block), /dev/zero (endless), an empty file. The kmod commands
print kmod 30's messages (checked against kmod where it is the same machine's behaviour);
kmodsim's own commands (script, shell, link, relocs) busybox's ``can't open 'X': ...``.
"""

import os
import signal
from contextlib import contextmanager

import pytest
from conftest import SAMPLES, run_cli

HELLO = str(SAMPLES / "linux/hello_debug/hello_debug.ko")
RELEASE = "6.1.0-56-amd64"
NOENT, ISDIR, INVAL = "No such file or directory", "Is a directory", "Invalid argument"


@pytest.fixture
def paths(tmp_path):
    (tmp_path / "dir.ko").mkdir()
    os.mkfifo(tmp_path / "fifo.ko")
    (tmp_path / "empty.ko").write_bytes(b"")
    (tmp_path / "empty.sh").write_bytes(b"")
    return {"missing": str(tmp_path / "missing.ko"), "dir": str(tmp_path / "dir.ko"),
            "fifo": str(tmp_path / "fifo.ko"), "zero": "/dev/zero",
            "empty": str(tmp_path / "empty.ko"), "script": str(tmp_path / "empty.sh")}


@contextmanager
def deadline(seconds):
    """A hang fails the test instead of hanging the suite."""
    def expired(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def kmodsim(*argv):
    with deadline(60):
        r = run_cli(*argv)
    err = r.stderr.decode()
    assert "Traceback" not in err, err
    return r.returncode, err


def insmod_says(prog, what):
    """kmod's two insmod errors: stat failed ("load"), the kernel or kmod refused ("insert")."""
    def message(p):
        if what == NOENT:
            return f"{prog}: ERROR: could not load module {p}: {NOENT}\n"
        return f"{prog}: ERROR: could not insert module {p}: {what}\n"
    return message


def busybox_says(cmd, what):
    return lambda p: f"kmodsim {cmd}: can't open '{p}': {what}\n"


# (kind of path, argv with P for it, exit status, what stderr ends with)
CASES = []
for kind, insmod_what, open_what in (("missing", NOENT, NOENT), ("dir", ISDIR, ISDIR),
                                     ("fifo", "Invalid parameters", INVAL),
                                     ("zero", "Invalid parameters", INVAL),
                                     ("empty", "Invalid parameters", None)):
    CASES += [
        (kind, ["run", "P"], 1, insmod_says("insmod", insmod_what)),
        (kind, ["run", "--with", "P", HELLO], 1, insmod_says("insmod", insmod_what)),
        (kind, ["insmod", "P"], 1, insmod_says("insmod", insmod_what)),
        (kind, ["insmod", "--with", "P", HELLO], 1, insmod_says("insmod", insmod_what)),
        (kind, ["lsmod", "--with", "P"], 1, insmod_says("lsmod", insmod_what)),
        (kind, ["rmmod", "--with", "P", "hello_debug"], 1, insmod_says("rmmod", insmod_what)),
    ]
    if open_what is not None:
        CASES += [
            (kind, ["script", "SCRIPT", "P"], 1, busybox_says("script", open_what)),
            (kind, ["shell", "P"], 1, busybox_says("shell", open_what)),
            (kind, ["link", "P"], 1, busybox_says("link", open_what)),
            (kind, ["link", HELLO, "--with", "P"], 1, busybox_says("link", open_what)),
            (kind, ["link", "--profile", "hobby-i386", "P"], 1, busybox_says("link", open_what)),
            (kind, ["relocs", "P"], 1, busybox_says("relocs", open_what)),
            (kind, ["relocs", HELLO, "--with", "P"], 1, busybox_says("relocs", open_what)),
        ]
CASES += [
    ("missing", ["script", "P"], 1, busybox_says("script", NOENT)),
    ("dir", ["script", "P"], 1, busybox_says("script", ISDIR)),
    ("zero", ["script", "P"], 1, busybox_says("script", "File too large")),
    ("fifo", ["script", "P"], 0, lambda p: ""),           # a pipe nobody writes: read empty
    ("empty", ["script", "P"], 0, lambda p: ""),
    ("empty", ["script", "SCRIPT", "P"], 0, lambda p: ""),  # /mods/empty.ko, never loaded
    ("missing", ["readelf", "-h", "P"], 1, lambda p: f"kmodsim readelf: {p}: {NOENT}\n"),
    ("dir", ["readelf", "-h", "P"], 1, lambda p: f"kmodsim readelf: {p}: is not an ordinary file\n"),
    ("fifo", ["readelf", "-h", "P"], 1, lambda p: f"kmodsim readelf: {p}: is not an ordinary file\n"),
    ("zero", ["readelf", "-h", "P"], 1, lambda p: f"kmodsim readelf: {p}: is not an ordinary file\n"),
    ("empty", ["readelf", "-h", "P"], 1,
     lambda p: f"kmodsim readelf: {p}: Failed to read file's magic number\n"),
    ("missing", ["modinfo", "P"], 1, lambda p: f"modinfo: ERROR: Module {p} not found.\n"),
    ("dir", ["modinfo", "P"], 1, lambda p: f"modinfo: ERROR: Module {p} not found.\n"),
    ("fifo", ["modinfo", "P"], 1, lambda p: f"modinfo: ERROR: Module {p} not found.\n"),
    ("zero", ["modinfo", "P"], 1, lambda p: f"modinfo: ERROR: Module {p} not found.\n"),
    ("empty", ["modinfo", "P"], 1,
     lambda p: f"modinfo: ERROR: could not get modinfo from 'empty': {INVAL}\n"),
    ("empty", ["link", "P"], 1,
     lambda p: f"kmodsim link: {p}: load refused: ENOEXEC (Exec format error)\n"),
    ("empty", ["relocs", "P"], 1,
     lambda p: f"kmodsim relocs: {p}: load refused: ENOEXEC (Exec format error)\n"),
    ("missing", ["depmod", "-n", RELEASE, "P"], 1,
     lambda p: f"depmod: FATAL: could not create module {p}: {NOENT}\n"),
    ("dir", ["depmod", "-n", RELEASE, "P"], 0, None),
    ("fifo", ["depmod", "-n", RELEASE, "P"], 0, None),
    ("zero", ["depmod", "-n", RELEASE, "P"], 0, None),
    ("empty", ["depmod", "-n", RELEASE, "P"], 0, None),
    ("missing", ["depmod", "-n", "-E", "P", RELEASE, HELLO], 1,
     lambda p: f"depmod: FATAL: could not load {p}: {NOENT}\n"),
    ("zero", ["depmod", "-n", "-F", "P", RELEASE, HELLO], 1,
     lambda p: f"depmod: FATAL: could not load {p}: File too large\n"),
    ("missing", ["depmod", "-b", "P"], 1,
     lambda p: f"depmod: FATAL: could not search modules: {NOENT}\n"),
    ("missing", ["modprobe", "-d", "P", "hello_debug"], 1,
     lambda p: f"modprobe: FATAL: Module hello_debug not found in directory "
               f"{p}/lib/modules/{RELEASE}\n"),
    ("missing", ["profile", "P"], 1, None),
    ("dir", ["profile", "P"], 1, None),
    ("fifo", ["profile", "P"], 1, None),
    ("empty", ["profile", "P"], 1, None),
    ("missing", ["run", "--profile", "P", HELLO], 1, None),
]


@pytest.mark.parametrize("kind, argv, status, says", CASES,
                         ids=[f"{c[0]}-{'-'.join(a for a in c[1] if a not in (HELLO,))}"
                              for c in CASES])
def test_bad_paths(paths, kind, argv, status, says):
    p = paths[kind]
    argv = [p if a == "P" else paths["script"] if a == "SCRIPT" else a for a in argv]
    rc, err = kmodsim(*argv)
    assert rc == status, err
    if says is not None:
        assert err.endswith(says(p)), err
    if argv[0] == "depmod" and rc == 0:
        # depmod goes on past a module it cannot read, as kmod does
        what = ISDIR if kind == "dir" else INVAL
        assert f"depmod: ERROR: failed to load symbols from {p}: {what}\n" in err


def test_dump_into_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("")
    rc, err = kmodsim("link", "--dump", target, HELLO)
    assert rc == 1 and err.endswith(f"kmodsim link: --dump: can't create directory '{target}': "
                                    "File exists\n")


def test_depmod_rename_over_a_directory(tmp_path):
    d = tmp_path / "lib/modules" / RELEASE
    (d / "modules.dep").mkdir(parents=True)
    rc, err = kmodsim("depmod", "-b", tmp_path)
    assert rc == 1
    assert err.splitlines()[-1].startswith(f"depmod: FATAL: renameat({d}, modules.dep.")
    assert err.endswith(f", {d}, modules.dep): Is a directory\n")


def test_scenario_from_a_pipe():
    r, w = os.pipe()
    os.write(w, b"echo from a pipe\n")
    os.close(w)
    try:
        with deadline(60):
            out = run_cli("script", f"/dev/fd/{r}")
    finally:
        os.close(r)
    assert out.returncode == 0 and b"=== SCENARIO\nfrom a pipe\n=== DMESG\n" in out.stdout


def test_source_dir_must_be_a_directory(paths):
    rc, err = kmodsim("run", "--explain", "--source-dir", paths["missing"], HELLO)
    assert rc == 2 and "--source-dir: not a directory" in err


def test_depmod_symvers_directory_reads_nothing(paths):
    # kmod's fopen of a directory works and fgets fails: no symbols, no error
    rc, err = kmodsim("depmod", "-n", "-E", paths["dir"], RELEASE, HELLO)
    assert rc == 0 and "FATAL" not in err


def test_kernel_insmod_refuses_what_is_not_a_regular_file(paths):
    from emulator.kernel import Kernel
    k = Kernel()
    with deadline(30):
        for kind, err in (("fifo", 22), ("zero", 22), ("dir", 21), ("missing", 2)):
            with pytest.raises(OSError) as info:
                k.insmod(paths[kind])
            assert info.value.errno == err and info.value.filename == paths[kind]
    assert k.insmod(HELLO).ok
