"""The scenario shell (emulator/shell/) against busybox 1.35 in the real guest.

The realkernel scenarios tests/realkernel/shell*.sh run here on a FakeSystem that answers
every System call with what the real kernel did in that run (hard-coded below), so what is
compared byte for byte with the ``=== SCENARIO`` part of the golden is the SHELL's output:
its parsing, busybox's messages and exit codes, and where the console lines go. The DMESG
part is the kernel's job and is not looked at. Then unit tests of the parser, expansions,
redirections and applets, and (when /bin/busybox is 1.35) a differential test of shell-only
scripts against the real busybox sh.
"""

import errno as E
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from emulator.shell import (
    O_EXCL, O_NONBLOCK, O_RDWR, O_TRUNC, O_WRONLY,
    SYSLOG_ACTION_CONSOLE_LEVEL, SYSLOG_ACTION_READ_ALL, SYSLOG_ACTION_READ_CLEAR,
    SYSLOG_ACTION_SIZE_BUFFER, AndOr, Parser, Pipeline, PosixRegex, RegexError, Shell,
    ShellSyntaxError, Simple, Stat, TaskKilled, c_format, filename2modname, ls_format,
    module_options, moderror, parse, posix_dirname, process_escapes, strerror, strverscmp,
    taint_summary,
)
from emulator.system import FileSyscalls
from emulator.vfs import Vfs

REALKERNEL = Path(__file__).resolve().parent / "realkernel"
GOLDEN = Path(__file__).resolve().parent.parent.parent / "shared" / "golden" / "seed-modules"

RMMOD = O_NONBLOCK | O_EXCL


# ---------------------------------------------------------------------------------------
# A fake kernel: files, and a script of the calls that change something
# ---------------------------------------------------------------------------------------

@dataclass
class Step:
    """One expected effectful System call: its name and arguments, what the real kernel
    returned, the files it changed (path -> bytes, None removes) and what it put on the
    console; ``kill`` makes the calling task die of that signal instead of returning."""

    call: str
    args: tuple
    result: object = 0
    files: dict = field(default_factory=dict)
    console: bytes = b""
    kill: int = 0


class FakeSystem(FileSyscalls):
    """The System interface over a dict of kernel files and a list of Steps.

    The kernel's files (paths under /proc, /sys and /dev, which FileSyscalls hands to the
    kernel_* methods) are read (stat, list_dir, open for reading, read) from ``files`` (a
    directory is any prefix of a path in it, or a path in ``dirs``); module syscalls,
    writes, syslog reads and console-level changes must come in the order of ``steps``.
    Files in ``readonly`` refuse to open for writing (EACCES), as read-only sysfs
    attributes do. Every other path is the guest's rootfs: a Vfs, as the kernel has.
    """

    def __init__(self, files=None, steps=(), readonly=(), dirs=()):
        super().__init__(Vfs())
        self.files = dict(files or {})
        self.dirs = set(dirs)
        self.readonly = set(readonly)
        self.steps = list(steps)
        self.console = bytearray()
        self.open_files = {}
        self.slept = []
        self.tasks = []

    # the script
    def step(self, call, *args):
        assert self.steps, f"unexpected {call}{args!r}: no more steps"
        expected = self.steps.pop(0)
        assert (expected.call, expected.args) == (call, args), \
            f"expected {expected.call}{expected.args!r}, got {call}{args!r}"
        for path, data in expected.files.items():
            if data is None:
                for name in [p for p in self.files if p == path or p.startswith(path + "/")]:
                    del self.files[name]
            else:
                self.files[path] = data
        self.console += expected.console
        if expected.kill:
            raise TaskKilled(expected.kill)
        return expected.result

    def finit_module(self, image, args, flags):
        return self.step("finit_module", image, args, flags)

    def init_module(self, image, args):
        return self.step("init_module", image, args)

    def delete_module(self, name, flags):
        return self.step("delete_module", name, flags)

    def syslog(self, action, length=0):
        if action == SYSLOG_ACTION_SIZE_BUFFER:
            return 128 * 1024
        return self.step("syslog", action, length)

    # files
    def is_dir(self, path):
        return path in self.dirs or any(p.startswith(path.rstrip("/") + "/") for p in self.files)

    def kernel_stat(self, path):
        if path in self.files:
            return Stat(is_dir=False, mode=0o444 if path in self.readonly else 0o644, size=4096)
        if self.is_dir(path):
            return Stat(is_dir=True, mode=0o755)
        return -E.ENOENT

    def kernel_list_dir(self, path):
        if path in self.files:
            return -E.ENOTDIR
        if not self.is_dir(path):
            return -E.ENOENT
        prefix = path.rstrip("/") + "/"
        names = {p[len(prefix):].split("/")[0] for p in list(self.files) + list(self.dirs)
                 if p.startswith(prefix)}
        return sorted(names)

    def kernel_open(self, path, flags):
        if flags & (O_WRONLY | O_RDWR):
            if path in self.readonly or path not in self.files:
                return -E.EACCES
            content = None
        elif path in self.files:
            content = self.files[path]
        elif self.is_dir(path):
            content = -E.EISDIR
        else:
            return -E.ENOENT
        fd = 3 + len(self.open_files)
        while fd in self.open_files:
            fd += 1
        self.open_files[fd] = [path, content, 0]
        return fd

    def kernel_read(self, fd, count):
        entry = self.open_files[fd]
        if isinstance(entry[1], int):
            return entry[1]
        chunk = entry[1][entry[2]:entry[2] + count]
        entry[2] += len(chunk)
        return chunk

    def kernel_write(self, fd, data):
        return self.step("write", self.open_files[fd][0], data)

    def kernel_close(self, fd):
        del self.open_files[fd]

    # console, time, tasks
    def console_drain(self):
        data, self.console = bytes(self.console), bytearray()
        return data

    def sleep(self, seconds):
        self.slept.append(seconds)

    def spawn(self, comm, argv=None):
        self.tasks.append(comm)
        return 100 + len(self.tasks)

    def reap(self, pid):
        pass


# ---------------------------------------------------------------------------------------
# The realkernel scenarios
# ---------------------------------------------------------------------------------------

def scenario_part(real_txt):
    text = real_txt.read_bytes()
    start = text.index(b"=== SCENARIO\n") + len(b"=== SCENARIO\n")
    return text[start:text.index(b"=== DMESG\n")]


def run_guest(name, system, modules):
    shell = Shell(system, modules)
    status = shell.run_script((REALKERNEL / f"{name}.sh").read_text())
    assert system.steps == [], f"kernel calls that never came: {system.steps}"
    return shell, status


# the module files (the shell only hands their bytes over; the kernel is fake)
MODS = {name: f"\x7fELF {name}".encode() for name in (
    "exporter.ko", "importer.ko", "hello_debug.ko", "params.ko", "license_proprietary.ko",
    "tasks.ko")}


def finit(name, options="", result=0, **kw):
    return Step("finit_module", (MODS[name], options, 0), result, **kw)


def init(name, options="", result=0, **kw):
    return Step("init_module", (MODS[name], options), result, **kw)


def delete(name, result=0, flags=RMMOD, **kw):
    return Step("delete_module", (name, flags), result, **kw)


def modules_file(*lines):
    return {"/proc/modules": "".join(line + "\n" for line in lines).encode()}


EXPORTER = "exporter 16384 0 - Live 0xffffffffc0201000 (OE)"
EXPORTER_USED = "exporter 16384 1 importer, Live 0xffffffffc0201000 (OE)"
IMPORTER = "importer 16384 0 - Live 0xffffffffc0206000 (OE)"
HELLO = "hello_debug 20480 0 - Live 0xffffffffc020f000 (OE)"
PARAMS = "params 16384 0 - Live 0xffffffffc0214000 (OE)"
PROPRIETARY = "license_proprietary 16384 0 - Live 0xffffffffc0219000 (POE)"
OSRELEASE = {"/proc/sys/kernel/osrelease": b"6.1.0-56-amd64\n"}
PARAMETERS = "/sys/module/params/parameters/"


def test_shell1_module_commands():
    """insmod/rmmod/lsmod: every message and $? as busybox in the guest (shell1.real.txt)."""
    untainted = {"/proc/sys/kernel/tainted": b"0\n", **OSRELEASE}
    steps = [
        Step("finit_module", (b"junk\n", "", 0), -E.ENOEXEC),
        Step("init_module", (b"junk\n", ""), -E.ENOEXEC),
        finit("importer.ko", result=-E.ENOENT), init("importer.ko", result=-E.ENOENT),
        finit("exporter.ko", files={**modules_file(EXPORTER),
                                    "/proc/sys/kernel/tainted": b"12288\n"}),
        finit("exporter.ko", result=-E.EEXIST), init("exporter.ko", result=-E.EEXIST),
        finit("importer.ko", files=modules_file(IMPORTER, EXPORTER_USED)),
        finit("hello_debug.ko", files=modules_file(HELLO, IMPORTER, EXPORTER_USED)),
        delete("exporter", -E.EAGAIN),
        delete("nothere", -E.ENOENT),
        delete("hello_debug", files=modules_file(IMPORTER, EXPORTER_USED)),
        delete("importer", files=modules_file(EXPORTER)),
        delete("exporter", files=modules_file()),
        finit("params.ko", "p_int=-7 p_charp=tired p_string=with spaces p_bool=n ",
              files={**modules_file(PARAMS), PARAMETERS + "p_int": b"-7\n",
                     PARAMETERS + "p_string": b"with\n"}),
        delete("params", files={**modules_file(), "/sys/module/params": None}),
        finit("params.ko", "p_int=abc ", -E.EINVAL), init("params.ko", "p_int=abc ", -E.EINVAL),
        finit("params.ko", "p_ints=1,2,3,4,5 ", -E.EINVAL),
        init("params.ko", "p_ints=1,2,3,4,5 ", -E.EINVAL),
        finit("params.ko", "p_string=two words nosuch=1 ",
              files={**modules_file(PARAMS), PARAMETERS + "p_string": b"two\n"}),
        finit("license_proprietary.ko", files={**modules_file(PROPRIETARY, PARAMS),
                                               "/proc/sys/kernel/tainted": b"12289\n"}),
        delete("license_proprietary", flags=RMMOD | O_TRUNC, files=modules_file(PARAMS)),
        delete("params", files=modules_file()),
        delete("nothere", -E.ENOENT),
    ]
    system = FakeSystem({**modules_file(), **untainted}, steps)
    shell, _ = run_guest("shell1", system, MODS)
    assert bytes(shell.output) == scenario_part(REALKERNEL / "shell1.real.txt")
    # busybox's NOEXEC applets name the task after themselves (cat too: the real oops in
    # tests/realkernel/proc_oops.real.txt says "Comm: cat"); exec'd ones by their name
    after_lsmod = system.tasks.index("lsmod")
    assert system.tasks[after_lsmod:after_lsmod + 2] == ["lsmod", "cat"]


def params_sysfs():
    values = {"p_bint": "1", "p_bool": "Y", "p_byte": "254", "p_hexint": "0x00cafe",
              "p_int": "5", "p_ints": "10,20", "p_invbool": "Y", "p_names": "alpha",
              "p_short": "-300", "p_string": "fixed buffer", "p_uint": "4000000000",
              "p_ullong": "81985529216486895", "p_ulong": "18000000000000000000",
              "p_ushort": "65000"}
    files = {PARAMETERS + name: (value + "\n").encode() for name, value in values.items()}
    for name, value in (("coresize", "16384"), ("initsize", "0"), ("initstate", "live"),
                        ("refcnt", "0"), ("taint", "OE"), ("uevent", "")):
        files[f"/sys/module/params/{name}"] = (value + "\n").encode()
    for name in ("holders", "notes", "sections"):
        files[f"/sys/module/params/{name}/.keep"] = b""  # makes them directories
    return files


def test_shell2_shell_constructs():
    """Quoting, expansions, redirections, /tmp files, cat/ls/head, globs in sysfs."""
    steps = [
        finit("params.ko", "p_int=5 ", files=params_sysfs()),
        Step("write", (PARAMETERS + "p_int", b"77\n"), 3, files={PARAMETERS + "p_int": b"77\n"}),
        Step("write", (PARAMETERS + "p_int", b"abc\n"), -E.EINVAL),
        delete("params", files={"/sys/module/params": None}),
    ]
    readonly = {PARAMETERS + name for name in ("p_byte", "p_uint", "p_ulong", "p_invbool",
                                               "p_ints")}
    system = FakeSystem({"/proc/modules": b"", "/proc/sys/kernel/tainted": b"0\n"}, steps,
                        readonly=readonly, dirs={"/sys/module"})
    shell, status = run_guest("shell2", system, MODS)
    assert bytes(shell.output) == scenario_part(REALKERNEL / "shell2.real.txt")
    assert status == 3


KMSG = "/dev/kmsg"


def kernel_lines(expected, prefix=b""):
    """The lines of a golden's SCENARIO part that are ``prefix`` then a kernel timestamp
    ("[    3.137172] "), in order: the kernel's own bytes. Their timestamps change from boot
    to boot, so the fake takes them from the golden instead of repeating them here."""
    stamped = re.compile(re.escape(prefix) + rb"\[ *\d+\.\d{6}\] ")
    return [line for line in expected.splitlines(keepends=True) if stamped.match(line)]


def test_shell3_console_and_dmesg():
    """Console lines land where the kernel printed them, redirections or not; dmesg."""
    expected = scenario_part(REALKERNEL / "shell3.real.txt")
    # dmesg -c's log starts with the /dev/kmsg line and hello_debug's (the scenario shows
    # three of them through head | read); dmesg -r shows the two later /dev/kmsg lines,
    # and dmesg the same without "<12>"; every other stamped line came from the console
    read_back = [line[len(b"read: "):] for line in kernel_lines(expected, b"read: ")]
    cleared = b"<10>" + read_back[0] + b"".join(b"<4>" + line for line in read_back[1:])
    raw = kernel_lines(expected, b"<12>")
    late = b"".join(raw)
    console = iter(line for line in kernel_lines(expected) if b"<12>" + line not in raw)

    def printed(count):
        return b"".join(next(console) for _ in range(count))

    size = 128 * 1024
    steps = [
        Step("write", (KMSG, b"<2>shell3: a critical line\n"), 28, console=printed(1)),
        Step("syslog", (SYSLOG_ACTION_CONSOLE_LEVEL, 8)),
        finit("hello_debug.ko", files={**modules_file(HELLO),
                                       "/proc/sys/kernel/tainted": b"12288\n"},
              console=printed(4)),
        finit("hello_debug.ko", result=-E.EEXIST), init("hello_debug.ko", result=-E.EEXIST),
        delete("hello_debug", files=modules_file(), console=printed(1)),
        Step("syslog", (SYSLOG_ACTION_CONSOLE_LEVEL, 3)),
        finit("exporter.ko", files=modules_file(EXPORTER)),
        finit("importer.ko", files=modules_file(IMPORTER.replace("c0206", "c020a"),
                                                EXPORTER_USED)),
        delete("importer", files=modules_file(EXPORTER)),
        delete("exporter", files=modules_file()),
        delete("nothere", -E.ENOENT),
        Step("syslog", (SYSLOG_ACTION_READ_CLEAR, size), cleared),
        Step("syslog", (SYSLOG_ACTION_READ_ALL, size), b""),
        Step("write", (KMSG, b"<4>shell3: level 4\n"), 19),
        Step("write", (KMSG, b"shell3: no level\n"), 17),
        Step("syslog", (SYSLOG_ACTION_READ_ALL, size), late),
        Step("syslog", (SYSLOG_ACTION_READ_ALL, size), late),
        Step("syslog", (SYSLOG_ACTION_CONSOLE_LEVEL, 9), -E.EINVAL),
        Step("write", (KMSG, b"<1>shell3: alert\n"), 17, console=printed(1)),
    ]
    files = {**modules_file(), "/proc/sys/kernel/tainted": b"0\n", KMSG: b""}
    system = FakeSystem(files, steps)
    shell, _ = run_guest("shell3", system, MODS)
    assert bytes(shell.output) == expected
    assert system.slept == [1.0]


class GuestFiles(FakeSystem):
    """A FakeSystem whose files carry the real guest's modes and types: ``modes`` (path ->
    permission bits), ``kinds`` (path -> (type, rdev), e.g. a character device), ``sizes``
    (procfs files say 0, sysfs ones 4096), ``unreadable`` files (EACCES on open, as a
    write-only sysfs attribute) and ``order`` (directory -> the names in readdir order)."""

    def __init__(self, files=None, steps=(), modes=None, kinds=None, sizes=None,
                 unreadable=(), order=None, **kw):
        super().__init__(files, steps, **kw)
        self.modes, self.kinds, self.sizes = modes or {}, kinds or {}, sizes or {}
        self.unreadable, self.order = set(unreadable), order or {}

    def kernel_stat(self, path):
        stat = super().kernel_stat(path)
        if isinstance(stat, int):
            return stat
        kind, rdev = self.kinds.get(path, ("", (0, 0)))
        size = self.sizes.get(path, 0 if stat.is_dir or kind else stat.size)
        return Stat(stat.is_dir, self.modes.get(path, stat.mode), size, kind, rdev)

    def kernel_list_dir(self, path):
        names = super().kernel_list_dir(path)
        if isinstance(names, int) or path not in self.order:
            return names
        return [n for n in self.order[path] if n in names] + \
            [n for n in names if n not in self.order[path]]

    def kernel_open(self, path, flags):
        if path in self.unreadable and not flags & (O_WRONLY | O_RDWR):
            return -E.EACCES
        return super().kernel_open(path, flags)


# the params module's sysfs parameters as the guest shows them: mode, value
PARAMS_SYSFS = {
    "p_bint": (0o600, "1"), "p_bool": (0o644, "Y"), "p_byte": (0o444, "254"),
    "p_hexint": (0o644, "0x00cafe"), "p_int": (0o644, "-42"), "p_ints": (0o444, "10,20"),
    "p_invbool": (0o444, "Y"), "p_names": (0o600, "alpha"), "p_short": (0o644, "-300"),
    "p_string": (0o644, "fixed buffer"), "p_uint": (0o444, "4000000000"),
    "p_ullong": (0o600, "81985529216486895"), "p_ulong": (0o444, "18000000000000000000"),
    "p_ushort": (0o600, "65000"),
}
# kernfs lists a directory in name-hash order, not alphabetically (the guest's grep -r)
PARAMS_READDIR = ["p_ints", "p_bint", "p_int", "p_byte", "p_bool", "p_uint", "p_ulong",
                  "p_ushort", "p_hexint", "p_string", "p_ullong", "p_invbool", "p_short",
                  "p_names"]


def params_guest(**values):
    """sysfs and procfs of the guest with params.ko loaded (``values`` override)."""
    files = {PARAMETERS + name: ((values.get(name, value)) + "\n").encode()
             for name, (_, value) in PARAMS_SYSFS.items()}
    for name, value in (("coresize", "16384"), ("initsize", "0"), ("initstate", "live"),
                        ("refcnt", "0"), ("taint", "OE"), ("uevent", "")):
        files[f"/sys/module/params/{name}"] = (value + "\n").encode()
    modes = {PARAMETERS + name: mode for name, (mode, _) in PARAMS_SYSFS.items()}
    modes["/sys/module/params/uevent"] = 0o200
    return files, modes


def test_params_show_lists_modes_and_contents():
    """params1.sh's show(): stat -c '%a %n' and grep -H '' over the parameter files, as
    the guest printed them after the first load."""
    files, modes = params_guest()
    steps = [finit("params.ko", files=files)]
    system = GuestFiles({"/proc/modules": b""}, steps, modes=modes,
                        order={PARAMETERS.rstrip("/"): PARAMS_READDIR})
    out, _ = run("insmod params.ko\nstat -c '%a %n' /sys/module/params/parameters/*\n"
                 "grep -H '' /sys/module/params/parameters/*\n", system, MODS)
    golden = scenario_part(REALKERNEL / "params1.real.txt").decode("latin-1")
    first = golden.split("@@ sysfs\n", 1)[1].split("rc=0\n", 1)[0]
    assert out == first


def test_shell4_text_applets_over_kernel_files():
    """stat, grep, wc, tail, head, sort, uniq, cut, tr, seq, basename, dirname, tee over
    sysfs, procfs, /dev and the initramfs, and stdio's buffering into a sysfs store
    (shell4.real.txt): the SCENARIO part byte for byte."""
    expected = scenario_part(REALKERNEL / "shell4.real.txt")
    files, modes = params_guest(p_int="5", p_names="a,b")
    for directory in ("holders", "notes", "sections"):
        files[f"/sys/module/params/{directory}/.keep"] = b""
    proc = {"/proc/modules": b"params 16384 0 - Live 0xffffffffc0203000 (OE)\n",
            "/proc/sys/kernel/tainted": b"12288\n", **OSRELEASE}
    p_int = PARAMETERS + "p_int"

    def store(data, result, value=None):
        return Step("write", (p_int, data), result,
                    files={p_int: value} if value is not None else {})

    image = bytes(208472)  # the size of the params.ko realkernel copied to /mods
    steps = [
        Step("finit_module", (image, "p_int=5 p_names=a,b ", 0), files=files),
        store(b"7\n", 2, b"7\n"), store(b"junk\n", -E.EINVAL),
        store(b"8\n9\n", -E.EINVAL), store(b"8\n", 2, b"8\n"), store(b"9\nx\n", -E.EINVAL),
        store(b"4\n", 2, b"4\n"), store(b"1\n2\n", -E.EINVAL),
        store(b"        1 /proc/modules\n        1 /sys/module/params/parameters/p_int\n"
              b"        2 total\n", -E.EINVAL),
        store(b"4096\n", 5, b"4096\n"),
        Step("write", (KMSG, b"one\ntwo\n"), 8),
        delete("params", files={"/sys/module/params": None}),
    ]
    builtin = {f"/sys/module/builtin{i}" for i in range(64)}  # the kernel's own modules
    system = GuestFiles(
        {**proc, KMSG: b"", "/dev/console": b""}, steps, dirs=builtin | {"/proc/sys/kernel"},
        modes={**modes, "/proc/modules": 0o444, "/proc/sys/kernel": 0o555, KMSG: 0o644,
               "/dev/console": 0o600},
        kinds={KMSG: ("c", (1, 11)), "/dev/console": ("c", (5, 1))},
        sizes={path: 0 for path in proc},
        unreadable={"/sys/module/params/uevent"},
        order={PARAMETERS.rstrip("/"): PARAMS_READDIR,
               "/sys/module/params": ["uevent", "parameters"]})
    shell, _ = run_guest("shell4", system, {"params.ko": image})
    assert bytes(shell.output) == expected


@pytest.mark.shared
def test_seed_golden_oops_killed():
    """The shared golden: an oops in init kills insmod (``Killed``, $? 137) and its
    report reaches the console before the shell's next line."""
    real = GOLDEN / "seeds.real.txt"
    if not real.is_file():
        pytest.skip("../shared golden output is not available")
    expected = scenario_part(real)
    oops = b"".join(kernel_lines(expected))
    mods = {name: f"\x7fELF {name}".encode() for name in
            ("hello_mod.ko", "cmd_mod.ko", "oops_mod.ko")}
    hello = "hello_mod 20480 0 - Live 0xffffffffc0201000 (OE)"
    cmd = "cmd_mod 16384 0 - Live 0xffffffffc0201000 (OE)"
    stuck = "oops_mod 24576 1 - Loading 0xffffffffc0201000 (OE+)"
    steps = [
        Step("finit_module", (mods["hello_mod.ko"], "", 0), files=modules_file(hello)),
        Step("delete_module", ("hello_mod", RMMOD), files=modules_file()),
        Step("finit_module", (mods["cmd_mod.ko"], "", 0), files=modules_file(cmd)),
        Step("delete_module", ("cmd_mod", RMMOD), files=modules_file()),
        Step("finit_module", (mods["cmd_mod.ko"], "str=tired ", 0), files=modules_file(cmd)),
        Step("delete_module", ("cmd_mod", RMMOD), files=modules_file()),
        Step("finit_module", (mods["oops_mod.ko"], "", 0), files=modules_file(stuck),
             console=oops, kill=9),
        Step("delete_module", ("oops_mod", RMMOD), -E.EBUSY),
    ]
    system = FakeSystem({**modules_file(), "/proc/sys/kernel/tainted": b"12288\n"}, steps)
    shell = Shell(system, mods)
    shell.run_script((GOLDEN / "seeds.sh").read_text())
    assert system.steps == []
    assert bytes(shell.output) == expected


# ---------------------------------------------------------------------------------------
# The interface's other promises
# ---------------------------------------------------------------------------------------

def run(script, system=None, modules=None):
    shell = Shell(system or FakeSystem(), modules)
    status = shell.run_script(script)
    return shell.output.decode(), status


def test_killed_task_message_goes_to_the_commands_stderr_and_console_stays():
    """ash prints "Killed" on the command's stderr (here /dev/null); the oops, printed
    by the kernel, still reaches the console."""
    steps = [finit("params.ko", console=b"[    1.0] BUG: oops\n", kill=9)]
    out, _ = run("insmod params.ko 2>/dev/null; echo rc=$?\n"
                 "insmod params.ko > /tmp/x 2>&1; echo rc=$?; cat /tmp/x\n",
                 FakeSystem(steps=steps + [finit("params.ko", kill=11)]), MODS)
    assert out == "[    1.0] BUG: oops\nrc=137\nrc=139\nSegmentation fault\n"


def test_builtin_killed_ends_the_shell():
    steps = [Step("write", (KMSG, b"x\n"), 0, console=b"[ 2.0] Oops\n", kill=9)]
    out, status = run("echo x > /dev/kmsg; echo never\n", FakeSystem({KMSG: b""}, steps))
    assert out == "[ 2.0] Oops\nKilled\n" and status == 137


def test_console_lines_between_syscalls_are_flushed_before_output():
    system = FakeSystem()
    shell = Shell(system)
    system.console += b"[ 0.5] late line\n"
    shell.run_script("echo hi\n")
    assert shell.output == b"[ 0.5] late line\nhi\n"


def test_insmod_retries_with_init_module_and_uses_its_errno():
    steps = [finit("params.ko", "a=1 b ", -E.ENOEXEC), init("params.ko", "a=1 b ", -E.ESRCH)]
    out, _ = run("insmod params.ko a=1 b; echo $?\n", FakeSystem(steps=steps), MODS)
    assert out == "insmod: can't insert 'params.ko': module has wrong symbol version\n3\n"


def test_insmod_succeeds_on_the_retry_silently():
    steps = [finit("params.ko", result=-E.EPERM), init("params.ko")]
    assert run("insmod params.ko; echo $?\n", FakeSystem(steps=steps), MODS)[0] == "0\n"


def test_insmod_decompresses_before_init_module():
    import gzip
    image = b"\x7fELF compressed"
    steps = [Step("finit_module", (gzip.compress(image, mtime=0), "", 0), -E.ENOEXEC),
             Step("init_module", (image, ""), 0)]
    out, _ = run("insmod m.ko.gz; echo $?\n", FakeSystem(steps=steps),
                 {"m.ko.gz": gzip.compress(image, mtime=0)})
    assert out == "0\n"


@pytest.mark.parametrize("content, expected", [
    (b"", "insmod: short read\n1\n"),
    (b"x", "insmod: short read\n1\n"),
])
def test_insmod_short_files(content, expected):
    steps = [Step("finit_module", (content, "", 0), -E.EINVAL)]
    assert run("insmod m.ko; echo $?\n", FakeSystem(steps=steps), {"m.ko": content})[0] \
        == expected


def test_rmmod_names_and_flags():
    steps = [delete("a_b"), delete("c", flags=O_EXCL), delete("d", flags=RMMOD | O_TRUNC)]
    out, _ = run("rmmod /x/a-b.ko; rmmod -w c; rmmod -f d.ko.gz; echo $?\n",
                 FakeSystem(steps=steps))
    assert out == "0\n"


def test_rmmod_invalid_option_prints_usage():
    out, _ = run("rmmod -z x; echo $?\n")
    assert out.startswith("rmmod: invalid option -- 'z'\nBusyBox v1.35.0 (Debian")
    assert out.endswith("\t-a\tRemove all unused modules (recursively)\n1\n")


def test_lsmod_not_tainted_and_bad_lines():
    files = {"/proc/modules": b"a 1 0 - Live 0x0\nbroken line\n", "/proc/sys/kernel/tainted":
             b"0\n"}
    out, _ = run("lsmod\n", FakeSystem(files))
    assert out == ("Module                  Size  Used by    Not tainted\n"
                   "a                          1  0 \n"
                   "lsmod: bad line 2: 2 tokens found, 4 needed\n")


@pytest.mark.parametrize("value, text", [
    (b"0\n", "    Not tainted\n"), (b"1\n", "    Tainted: P  \n"),
    (b"12288\n", "    Tainted: G  \n"), (b"7\n", "    Tainted: PFS\n"), (-E.ENOENT, "    Not tainted\n"),
])
def test_taint_summary(value, text):
    assert taint_summary(value) == text


def test_dmesg_pretty_strips_levels_and_adds_final_newline():
    steps = [Step("syslog", (SYSLOG_ACTION_READ_ALL, 4096 * 4), b"<6>[ 1.0] a\n<12>[ 2.0] b")]
    out, _ = run("dmesg -s 100\n", FakeSystem(steps=steps))
    assert out == "[ 1.0] a\n[ 2.0] b\n"


def test_modprobe_modinfo_depmod_without_lib_modules():
    out, _ = run("modprobe x; echo $?; modinfo -F vermagic x.ko; echo $?; depmod; echo $?\n",
                 FakeSystem(OSRELEASE))
    assert out == (
        "modprobe: can't change directory to '/lib/modules': No such file or directory\n1\n"
        "modinfo: can't open '/lib/modules/6.1.0-56-amd64/modules.dep': "
        "No such file or directory\n1\n"
        "depmod: can't change directory to 'lib/modules/6.1.0-56-amd64': "
        "No such file or directory\n1\n")


def test_unsimulated_applet_says_so():
    out, _ = run("awk x y; echo $?\n")
    assert out == "kmodsim: awk: busybox applet not simulated\n127\n"


def test_sleep_sums_suffixes():
    system = FakeSystem()
    out, _ = run("sleep 1 0.5 2m; echo $?; sleep x; echo $?\n", system)
    assert system.slept == [121.5]
    assert out == "0\nsleep: invalid number 'x'\n1\n"


def test_interactive_messages_have_no_line_numbers():
    shell = Shell(FakeSystem())
    shell.run_interactive("nosuch; cd /nope")
    shell.run_interactive("echo 'open")
    assert shell.output == (b"sh: nosuch: not found\n"
                            b"sh: cd: can't cd to /nope: No such file or directory\n"
                            b"sh: syntax error: unterminated quoted string\n")


# ---------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------

def words(source):
    """The literal text of each word of a one-command source, quotes removed."""
    (node,) = parse(source)
    simple = node.items[0].first.commands[0]
    return [Shell(FakeSystem()).expand_text(word) for word in simple.words]


@pytest.mark.parametrize("source, expected", [
    ("echo a  b\tc", ["echo", "a", "b", "c"]),
    ("echo 'a b' \"c d\" e\\ f", ["echo", "a b", "c d", "e f"]),
    ("echo 'it''s' \"a\\\"b\" '\\n'", ["echo", "its", 'a"b', "\\n"]),
    ("echo \"\\$x \\\\ \\` \\q\"", ["echo", "$x \\ ` \\q"]),
    ("echo a#b # comment", ["echo", "a#b"]),
    ("echo a\\\nb", ["echo", "ab"]),
    ("echo ''", ["echo", ""]),
])
def test_parser_quotes_escapes_comments(source, expected):
    assert words(source) == expected


def test_parser_and_or_pipeline_structure():
    (node,) = parse("a && b || ! c | d; e\n")
    first = node.items[0]
    assert isinstance(first, AndOr)
    assert [op for op, _ in first.rest] == ["&&", "||"]
    last = first.rest[1][1]
    assert isinstance(last, Pipeline) and last.negate and len(last.commands) == 2
    assert node.items[1].first.commands[0].words[0].text == "e"


def test_parser_redirections_and_assignments():
    (node,) = parse("X=1 Y='a b' cmd >out 2>&1 3< in >>log 2>/dev/null\n")
    simple = node.items[0].first.commands[0]
    assert isinstance(simple, Simple)
    assert [name for name, _ in simple.assigns] == ["X", "Y"]
    assert [(r.fd, r.op, r.target.text) for r in simple.redirects] == [
        (None, ">", "out"), (2, ">&", "1"), (3, "<", "in"), (None, ">>", "log"),
        (2, ">", "/dev/null")]


def test_parser_one_command_line_at_a_time():
    parser = Parser("echo a; echo b\nif true\nthen echo c\nfi\necho 'x\n")
    assert len(parser.command_line().items) == 2
    assert parser.command_line() is not None  # the whole if, over three lines
    with pytest.raises(ShellSyntaxError) as info:
        parser.command_line()
    assert (info.value.message, info.value.line) == ("unterminated quoted string", 6)


@pytest.mark.parametrize("source, message, line", [
    ("echo a;;\n", 'unexpected ";;"', 1),
    ("echo a &&\n", "unexpected end of file", 2),
    ("echo >\n", "unexpected newline", 2),
    ("if true; then echo a; fi fi\n", 'unexpected "fi"', 1),
    ("for x in a b; echo $x; done\n", 'unexpected word (expecting "do")', 1),
    ("echo $(echo a\n", 'unexpected end of file (expecting ")")', 2),
    ("echo ${x\n", "missing '}'", 2),
    ("echo `echo a\n", "EOF in backquote substitution", 2),
    ("while true; do\n", 'unexpected end of file (expecting "done")', 2),
    ("if true; then fi\n", 'unexpected "fi"', 1),
    ("| cat\n", 'unexpected "|"', 1),
])
def test_parser_syntax_errors(source, message, line):
    with pytest.raises(ShellSyntaxError) as info:
        parse(source)
    assert (info.value.message, info.value.line) == (message, line)


def test_syntax_error_ends_script_after_earlier_lines_ran():
    out, status = run("echo one\necho 'two\necho three\n")
    assert out == "one\n/scenario.sh: line 4: syntax error: unterminated quoted string\n"
    assert status == 2


# ---------------------------------------------------------------------------------------
# Expansion and execution
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("script, expected", [
    ("true; echo $?; false; echo $?; nosuch 2>/dev/null; echo $?\n", "0\n1\n127\n"),
    ("false || echo or; true && echo and; false && echo no; echo $?\n", "or\nand\n1\n"),
    ("X=a; Y='b  c'; echo $X$Y \"$Y\" ${X}x ${U:-d} ${#Y}\n", "ab c b  c ax d 4\n"),
    ("set -- 'a b' c; for i in \"$@\"; do echo \"[$i]\"; done; echo $#\n", "[a b]\n[c]\n2\n"),
    ("x=$(echo out; echo err >&2); echo \"<$x>\"\n", "err\n<out>\n"),
    ("echo $((3 * (4 + 1))) $((7 / 2)) $((-7 % 3))\n", "15 3 -1\n"),
    ("f() { echo \"f:$1\"; return 5; }; f arg; echo $?\n", "f:arg\n5\n"),
    ("i=0; while [ $i -lt 2 ]; do echo $i; i=$((i+1)); done\n", "0\n1\n"),
    ("case ab in a*) echo A;; *) echo B;; esac\n", "A\n"),
    ("echo -e 'a\\tb\\0101\\c' x; echo -n n; echo\n", "a\tbAn\n"),
    ("cd /tmp && pwd; cd -; echo $PWD\n", "/tmp\n/mods\n/mods\n"),
    ("echo /mods/*.ko /mods/n* '/mods/*'\n", "/mods/a.ko /mods/b.ko /mods/n* /mods/*\n"),
    ("exit 300\n", ""),
    ("f() { echo \"$#:$*\"; }; f; f \"\"; f \"$@\"\n", "0:\n1:\n0:\n"),
    ("x=v\ncat <<EOF\n$x \\$x `echo b`\nEOF\ncat <<'E'\n$x\nE\ncat <<-E\n\t$x\n\tE\n",
     "v $x b\n$x\nv\n"),
    ("exec 2>/dev/null; nosuch; echo $?\n", "127\n"),
])
def test_execution(script, expected):
    out, _ = run(script, modules={"a.ko": b"A", "b.ko": b"B"})
    assert out == expected


def test_programs_and_modules_are_not_run():
    program = b"\x7fELF" + bytes(12) + b"\x02\x00" + bytes(40)  # ET_EXEC
    module = b"\x7fELF" + bytes(12) + b"\x01\x00" + bytes(40)   # ET_REL
    out, _ = run("./finit x.ko; echo $?; ./x.ko; echo $?; /tmp; echo $?\n",
                 modules={"finit": program, "x.ko": module})
    assert out == ("kmodsim: ./finit: running programs is not simulated\n127\n"
                   "/scenario.sh: line 1: ./x.ko: Permission denied\n126\n"
                   "/scenario.sh: line 1: /tmp: Permission denied\n126\n")


def test_redirections_to_scratch_files():
    out, _ = run("echo 1 > /tmp/f; echo 2 >> /tmp/f; cat < /tmp/f\n"
                 "cat /nope 2>&1 >/tmp/g; echo rc=$?; cat /tmp/g\n"
                 "echo x > /nope/f; echo rc=$?; echo y > /tmp; echo rc=$?\n"
                 "cat < /nope; echo rc=$?\n")
    assert out == ("1\n2\ncat: can't open '/nope': No such file or directory\nrc=1\n"
                   "/scenario.sh: line 3: can't create /nope/f: nonexistent directory\nrc=1\n"
                   "/scenario.sh: line 3: can't create /tmp: Is a directory\nrc=1\n"
                   "/scenario.sh: line 4: can't open /nope: no such file\nrc=1\n")


def test_expansion_errors_end_the_script():
    assert run("echo $((1/0)); echo after\n") == (
        "/scenario.sh: line 1: divide by zero\n", 2)
    assert run("echo ${x:?is unset}; echo after\n") == (
        "/scenario.sh: line 1: x: is unset\n", 2)


def test_ls_columns_on_the_console_and_lines_elsewhere():
    mods = {f"m{i}.ko": b"" for i in range(5)}
    out, _ = run("ls; ls | head -n 2; ls -x -w 20\n", modules=mods)
    assert out == ("m0.ko  m1.ko  m2.ko  m3.ko  m4.ko\n"
                   "m0.ko\nm1.ko\n"
                   "m0.ko  m1.ko\nm2.ko  m3.ko\nm4.ko\n")


def test_ls_format_fills_columns_first():
    entries = [(name, Stat(False)) for name in ("a", "bb", "c", "d", "e")]
    assert ls_format(entries, columns=True, across=False, width=9, slash=False) == \
        "a   d\nbb  e\nc\n"
    assert ls_format(entries, columns=True, across=True, width=9, slash=False) == \
        "a   bb\nc   d\ne\n"


def test_head_headers_and_errors():
    out, _ = run("echo 1 > /tmp/a; printf '1\\n2\\n3\\n' > /tmp/b\n"
                 "head -n 2 /tmp/a /nope /tmp/b; echo rc=$?; head -2 /tmp/b; head -c 3 /tmp/b\n")
    assert out == ("==> /tmp/a <==\n1\nhead: /nope: No such file or directory\n"
                   "\n==> /tmp/b <==\n1\n2\nrc=1\n1\n2\n1\n2")


def test_printf_escapes_make_bytes_and_write_errors_set_the_status():
    """printf '\\240' writes the byte 0xa0 (params1.sh passes it to the kernel); a write
    the kernel refuses makes printf's status 1 without a message (ash ORs ferror(stdout)
    in after the builtin), as params3.sh's "5\\n\\n" into p_int shows."""
    shell = Shell(FakeSystem())
    shell.run_script("printf 'a\\240b\\n'; echo -e '\\xff'\n")
    assert bytes(shell.output) == b"a\xa0b\n\xff\n"
    steps = [Step("write", (PARAMETERS + "p_int", b"5\n\n"), -E.EINVAL)]
    out, _ = run("printf '%s\\n\\n' 5 > /sys/module/params/parameters/p_int; echo rc=$?\n",
                 FakeSystem({PARAMETERS + "p_int": b"77\n"}, steps))
    assert out == "rc=1\n"


@pytest.mark.parametrize("pattern, ere, line, span", [
    (b"a\\|ab", False, b"ab", (0, 2)),          # POSIX: the longest at the leftmost start
    (b"(a|ab)(c|bcd)", True, b"abcd", (0, 4)),
    (b"*a", False, b"x*a", (1, 3)),             # BRE: a leading * is literal
    (b"*a", True, b"xa", (1, 2)),               # ERE: dropped
    (b"a\\>*", False, b"a*", (0, 2)),           # no repetition of an anchor: "*" literal
    (b"a\\>+", True, b"a b", (0, 1)),           # ... in ERE dropped
    (b"{1}a", True, b"1}a", (0, 3)),            # ERE: a "{" with nothing before is dropped
    (b"a{1", True, b"a{1", (0, 3)),             # not an interval: literal
    (b"\\{1\\}a", False, b"{1}a", (0, 4)),
    (b"[]a]*", False, b"]a]", (0, 3)),
    (b"[[:digit:]-]", False, b"x-", (1, 2)),
    (b"\\(a\\)\\1", False, b"aa", (0, 2)),
    (b"\\B", False, b"", (0, 0)),               # glibc's \\B matches an empty line
    (b"a.c", False, b"a\nc", (0, 3)),
    (b"\\n", False, b"n", (0, 1)),              # unknown escapes are the character
])
def test_posix_regex_matches_as_glibc(pattern, ere, line, span):
    assert PosixRegex(pattern, ere).search(line) == span


@pytest.mark.parametrize("pattern, ere", [
    (b"a\\{1", False), (b"a\\{x\\}", False), (b"a{}", True), (b"(", True), (b"(+)", True),
    (b"a\\)", False), (b"[b-a]", False), (b"[[:foo:]]", False), (b"\\", False),
    (b"\\(a\\)\\|\\1", False), (b"a{2,1}", True),
])
def test_posix_regex_errors(pattern, ere):
    with pytest.raises(RegexError):
        PosixRegex(pattern, ere)


def test_c_format_and_helpers():
    assert c_format("%#o", 0o644) == "0644" and c_format("%#o", 0) == "0"
    assert c_format("%05s", "ab") == "   ab" and c_format("%.1s", "ab") == "a"
    assert c_format("%-4x", 255) == "ff  " and c_format("%#x", 0) == "0"
    assert c_format("%+d", 5) == "+5" and c_format("%.0d", 0) == ""
    assert [posix_dirname(p) for p in (b"a/", b"//", b"///", b"/", b"", b"a//b//", b"//a")] \
        == [b".", b"//", b"/", b"/", b".", b"a", b"//"]
    assert strverscmp(b"a9", b"a10") < 0 and strverscmp(b"x01", b"x1") < 0


def test_text_applets_say_what_they_do_not_simulate():
    out, _ = run("stat /tmp; echo $?; stat -c '%i %n' /tmp; echo $?; tail -f x; echo $?\n"
                 "echo x | grep -ov y; echo $?; wc --help > /dev/null 2>&1; echo $?\n")
    assert out == ("kmodsim: stat without -c (inodes, devices and times are not simulated)\n127\n"
                   "kmodsim: stat -c %i\n127\nkmodsim: tail -f\n127\n"
                   "kmodsim: grep -o -v (busybox prints stale matches, or crashes)\n127\n0\n")


def test_stat_names_and_zero_device():
    """No /etc in the guest: user and group are UNKNOWN, unless a scenario writes one;
    head stops reading /dev/zero once it has its count."""
    out, _ = run("stat -c '%U:%G %A %F' /tmp /dev/zero\n"
                 "echo root:x:0:0::/root:/bin/sh > /tmp/passwd; stat -c %U /tmp\n"
                 "head -c 4 /dev/zero | tr '\\0' z; echo\n")
    assert out == ("UNKNOWN:UNKNOWN drwxr-xr-x directory\n"
                   "UNKNOWN:UNKNOWN crw-rw-rw- character special file\nUNKNOWN\nzzzz\n")


@pytest.mark.parametrize("args, expected", [
    ([], ""), (["a=1"], "a=1 "), (['p="a b"', "x"], 'p="a b" x '), (["p=a b"], "p=a b "),
])
def test_module_options_joins_without_quoting(args, expected):
    assert module_options(args) == expected


@pytest.mark.parametrize("name, modname", [
    ("hello-debug.ko", "hello_debug"), ("x.ko.xz", "x"), ("plain", "plain"), ("a-b-c", "a_b_c"),
])
def test_filename2modname(name, modname):
    assert filename2modname(name) == modname


def test_moderror_and_strerror():
    assert moderror(E.ENOEXEC) == "invalid module format"
    assert moderror(-E.ENOENT) == "No such file or directory"
    assert moderror(E.ENOENT) == "unknown symbol in module, or unknown parameter"
    assert moderror(E.EEXIST) == "File exists"
    assert strerror(-E.EAGAIN) == "Resource temporarily unavailable"
    assert strerror(512) == "Unknown error 512"


def test_process_escapes():
    assert process_escapes("a\\x41\\101\\z\\", echo=True) == ("aAA\\z\\", False)
    assert process_escapes("x\\cy") == ("x", True)


# ---------------------------------------------------------------------------------------
# Differential: shell-only scripts against the real busybox sh (the guest's binary)
# ---------------------------------------------------------------------------------------

DIFFERENTIAL = [
    "echo plain 'single $X' \"double $?\" back\\ slash \"a\\\"b\" 'it''s' # comment\n"
    "X=one; Y=\"two  words\"; echo $X \"$Y\" $Y ${X}_s \"${Y}\"; echo $UNSET \"[${UNSET}]\"\n",
    "say() { echo \"$# $*\"; for a in \"$@\"; do echo \"[$a]\"; done; return 3; }\n"
    "say hello \"two words\"; echo \"rc=$?\"\n",
    "echo a; echo b &&\necho c\necho \"multi\nline\"; nosuchafter\nfor i in a b\ndo\n"
    "  nosuch$i\ndone\n",
    "[ a; echo $?\n[ 1 -eq x ]; echo $?\ntest a b c; echo $?\nexit abc\n",
    "v=file.tar.gz; echo ${v%.*} ${v%%.*} ${v#*.} ${v##*.} ${v:+alt} ${u-d}\n"
    "i=5; echo $((i++)) $i $((++i)) $((i-=2)) $((i>3?10:20)) $((2**10)) $((010))\n",
    "IFS=:; v=a:b::c; for f in $v; do echo \"[$f]\"; done\n",
    "printf '%5.2s|%-4d|%x|%o|%c\\n' abcdef 42 255 8 xyz; printf '%s-%s\\n' a b c\n",
    "echo 1 | while read l; do echo \"got $l\"; done; ( echo sub; exit 4 ); echo $?\n",
    "cd /nope || echo fail\nx=$(false); echo $?\nshift 3; echo $?\n",
    "echo -e 'tab\\there' \"oct\\0101 hex\\x42 \\c\" never; echo -n -e x; echo -- -n\n",
]


def busybox_135():
    busybox = shutil.which("busybox")
    if busybox is None:
        return None
    banner = subprocess.run([busybox], capture_output=True, text=True).stdout
    return busybox if banner.startswith("BusyBox v1.35.0") else None


@pytest.mark.parametrize("script", DIFFERENTIAL)
def test_differential_against_busybox(script, tmp_path):
    busybox = busybox_135()
    if busybox is None:
        pytest.skip("busybox 1.35 is not installed")
    path = tmp_path / "scenario.sh"
    path.write_text(script)
    real = subprocess.run([busybox, "sh", "-c", f"cd {tmp_path} && sh {path} 2>&1"],
                          capture_output=True).stdout
    shell = Shell(FakeSystem(), script_name=str(path), cwd=str(tmp_path))
    shell.run_script(script)
    assert bytes(shell.output) == real


# the text applets (grep stat wc tail sort uniq cut tr seq basename dirname tee): messages,
# exit codes, regex dialects, option corners; run with an empty environment (no LANG: the
# guest has none, and busybox wc -m would count UTF-8 characters with one)
APPLET_DIFFERENTIAL = [
    "printf 'abc\\nfoo bar\\nFoo\\n{1}a\\na\\n*a\\nb\\nB\\n+a\\nab\\nabc\\n"
    "x^y\\nx$y\\na.c\\n' > g\n"
    "for p in 'a' '^a' 'a$' 'a\\{1\\}' '\\{1\\}a' '*a' '^*a' 'a\\+' '\\+a' 'a\\?b' '"
    "a\\|b' 'x^y' 'x$y' '\\(a\\)\\1' '[[:upper:]]' '[^a-z]' '[]a]' '[a-]' 'a.c' '"
    "a\\.c' '\\<a' 'b\\>' '\\ba' '\\Bb' '\\w\\W' 'a**' '\\(\\)a' '' '.' 'o*'; "
    'do echo "== $p"; grep "$p" g; echo "rc=$?"; done\n',
    "printf 'abc\\nfoo bar\\nFoo\\n{1}a\\na\\n*a\\nb\\nB\\n+a\\nab\\nabc\\n"
    "x^y\\nx$y\\na.c\\n' > g\n"
    "for p in 'a' '{1}a' 'a{1}' '+a' '^*a' 'a|*b' '(*a)' 'x^y' 'x\\^y' 'a**' 'a+*' '"
    "a{,2}c' 'a{1' 'a{x}' ')' 'a|' '()a' 'a\\|b' '(a|ab)(c|bcd)' 'o+' 'b?c' '"
    "[[:alpha:]]+[[:space:]]' 'a{2}' 'x[$^]y'; "
    'do echo "== $p"; grep -E "$p" g; echo "rc=$?"; done\n',
    "printf 'abc\\nfoo bar\\nFoo\\n' > f\n"
    "for p in 'a\\(' '[b-a]' '[[:foo:]]' 'a\\)' 'a\\{1' 'a\\{x\\}' '\\' '[a' '"
    "a\\{2,1\\}' '\\(a\\)\\2'; "
    'do grep "$p" f; echo "rc=$?"; done\n'
    "grep -E '(' f; echo $?; grep -E 'a{2,1}' f; echo $?; grep -E '[' f; echo $?\n",
    "printf 'abc\\nfoo bar\\nFoo\\n' > f; printf 'a\\nab\\nabc\\nb a\\n' > g\n"
    "grep -c a f g; grep -c a f nosuch; echo $?; grep -l a f g nosuch; echo $?; "
    "grep -L a f g /dev/null; echo $?\n"
    "echo a | grep -H a; echo a | grep -c a -; grep -h a f g; grep -nH a f; "
    "grep -n a g f\n"
    "grep -s x nosuch; echo rc=$?; grep -q abc nosuch f; echo rc=$?; grep -q zzz f; "
    "echo rc=$?\n",
    "printf 'a\\nab\\nabc\\nb a\\n{1}a\\n+a\\n' > g\n"
    "grep -w 'a\\|ab' g; grep -o 'a\\|ab' g; grep -x 'a\\|ab' g; grep -w 'a*' g; "
    "echo 'foo bar' | grep -ow 'o*'; echo rc=$?\n"
    "echo 'a ab a' | grep -ow a; echo 'xyz abcabc' | grep -o 'abc'; "
    "echo 'aaa' | grep -o 'a*'; echo test | grep -o ''; echo rc=$?\n",
    "printf 'a\\nab\\nabc\\nb a\\n{1}a\\n+a\\n' > g\n"
    "grep -F -x a g; grep -F -w a g; grep -Fi AB g; grep -Fo a g; grep -F '' g | head -2; "
    "grep -F -w '' g; echo rc=$?\n"
    "grep -F -e a -e b -c g; fgrep -n 'b a' g; egrep 'a|b' g; egrep -c '^a+$' g\n",
    "printf '1\\n2\\n3 x\\n4\\n5\\n6 x\\n7\\n8\\n9\\n10 x\\n11\\n' > c\n"
    "grep -A1 x c; echo ==; grep -B2 x c; echo ==; grep -C1 -n x c; echo ==; "
    "grep -A 1 -B 1 -m 2 x c; echo ==; grep -m1 -c x c; grep -n -m 2 x c\n"
    "grep -C1 -A0 x c; echo ==; grep -A0 -C1 x c\n",
    "printf 'abc\\nABC\\nAbc\\n' > f\n"
    "grep -i abc f; grep -i '[a-c]b' f; grep -vi abc f; echo rc=$?; grep -vc b f; "
    "grep -e a -e B f; grep -ie B f\n",
    "printf 'a\\nb\\n' > pf; echo ab | grep -o -f pf -e ab; echo ab | grep -o -e a -e ab; "
    "echo ab | grep -o -e ab -e a\n"
    ": > empty; grep -f empty pf; echo rc=$?; grep -v -f empty pf; echo rc=$?; "
    "grep -x -f empty pf; echo rc=$?\n"
    "grep -f nosuch pf; echo rc=$?\n",
    "grep; echo rc=$?; grep -y x; echo rc=$?; grep --bogus x; echo rc=$?; grep -m x a; "
    "echo rc=$?; grep -A; echo rc=$?\n"
    "echo xyz | grep --color=auto y; echo xyz | grep --col y; echo rc=$?\n",
    "printf 'a\\0b\\nc\\0d\\n' > z; grep -c b z; grep b z | tr '\\0' @; grep -F b z; "
    "echo rc=$?; printf 'a\\0b\\0' | grep -z b | tr '\\0' @\n",
    "printf 'one\\ntwo\\n' > f; grep o /tmp >/dev/null; echo rc=$?; grep -r o f; "
    "grep -c o . ; echo rc=$?; grep -L o .; echo rc=$?\n",
    "printf 'x\\n' > a; printf 'x\\ny\\n' > b; grep -H -h x a b; grep -h -H x a b; "
    "grep x a b -c; grep -- -x a; echo rc=$?; grep -e -x a; echo rc=$?\n",
    "printf 'hello world\\n' > f; grep 'o w' f; grep 'l\\{2\\}' f; grep -E 'l{2}' f; "
    "grep -E '(l)\\1' f; grep '\\(l\\)\\1' f; grep -E 'w.*d$' f; grep '^h.*d$' f; "
    "grep -x 'hello' f; echo rc=$?\n"
    "grep -o 'l*' f; grep -o -n 'o' f; grep -ob o f; echo rc=$?\n",
    "printf 'abc\\nfoo bar\\nFoo\\n' > f; : > e\n"
    "stat -c '%a %n|%s|%F|%A|%h|%f|%B|%t,%T|%u %g' f e /dev/null nosuch; echo rc=$?\n"
    "stat -c '%5a|%-6s|%#a|x%' f; stat -c '%05n %.2n %q %-5q %%|%-3%|' f; stat -c '' f; "
    "stat -c '%' f; echo; stat -c 'a%-5' f; echo\n"
    "stat; echo rc=$?; stat -c; echo rc=$?; stat -c '%a' nosuch f; echo rc=$?; "
    "stat -c '%F %a %t %T' /dev/zero /dev/null\n",
    "printf 'abc\\nfoo bar\\nFoo\\n' > f; "
    "printf 'a b\\tc\\n\\nd  e\\r\\nlongest line here\\tx\\n' > g; "
    "printf 'no newline' > h\n"
    "wc f; wc -l f; wc -l < f; wc -lc f g; wc -L f g h; wc -w g h; wc -c h; wc -m g; "
    "wc f nosuch; echo rc=$?; wc -x; echo rc=$?\n"
    "cat f | wc; printf '\\x80\\x81 x\\x01y' | wc; wc - < f; wc -lwcL f\n",
    "printf '1\\n2\\n3\\n4\\n5\\n6\\n7\\n8\\n9\\n10\\n11\\n12\\n' > n; "
    "printf 'a\\nb' > p\n"
    "tail n; tail -n 2 n; tail -3 n; tail -n +10 n; tail -c 5 n; tail -c +20 n; "
    "tail -n 2 p; tail -c 1 p; tail -n 0 n; echo rc=$?\n"
    "tail -n 2 n p; tail -q -n 1 n p; tail -v -n 1 p; tail -n 1 n nosuch; echo rc=$?; "
    "tail nosuch; echo rc=$?; tail -n x n; echo rc=$?\n"
    "cat n | tail -n 2; tail -n 1 - < p; echo; tail -c 2k n | head -2; tail -n +0 p; echo; "
    "tail +11 n\n",
    "printf 'b\\na\\nc\\nB\\n10\\n9\\n 2\\na\\n' > s\n"
    "sort s; sort -r s; sort -n s; sort -u s; sort -f s; sort -fu s; sort -rn s; "
    "sort -c s; echo rc=$?; sort s | sort -c; echo rc=$?\n"
    "sort nosuch; echo rc=$?; sort -k x s; echo rc=$?; sort -t ab s; echo rc=$?; "
    "sort -k 1,1x s; echo rc=$?; sort -k 1,2,3 s; echo rc=$?\n",
    "printf 'x 3 b\\ny 1 a\\nz 2 c\\nw 1 d\\n' > k; "
    "printf 'a:3:x\\nb:1:y\\nc:2:z\\nd::w\\n' > t\n"
    "sort -k 2 k; sort -k 2n k; sort -k 2,2n -k 1,1r k; sort -k 3r k; sort -t : -k 2 t; "
    "sort -t : -k 2,2n t; sort -t: -k3 t; sort -k 1.2 k; sort -k 2.1,2.1 k\n"
    "sort -s -k 2,2 k; sort -u -k 2,2 k; sort -b -k 2 k; sort -k2b,2 k; sort -o out k; "
    "cat out; sort -d k; sort -i k\n",
    "printf '1.5\\n-2\\n1e3\\n0x10\\nabc\\n  7\\ninf\\n-inf\\nnan\\n3\\n' > g\n"
    "sort -g g; echo ==; sort -n g; echo ==; "
    "printf 'Feb\\njan\\n mar\\nxyz\\nDecember\\n' | sort -M; "
    "printf 'a10\\na9\\na1.2\\na1.10\\nx01\\nx1\\nx001\\n' | sort -V\n",
    "printf 'a\\na\\nb\\nc\\nc\\nc\\na\\n' > u; printf 'x a\\ny a\\nz b\\n' > v\n"
    "uniq u; uniq -c u; uniq -d u; uniq -u u; uniq -cd u; uniq -f 1 v; uniq -s 2 v; "
    "uniq -w 1 v; printf 'A\\na\\n' | uniq -i; uniq nosuch; echo rc=$?; uniq a b c; "
    "echo rc=$?\n"
    "uniq u out; cat out; cat u | uniq -c; uniq - < u | head -1; uniq -z u | tr '\\0' @; "
    "echo\n",
    "printf 'a:b:c\\nd:e\\nnodelim\\n\\n1:2:3:4:5\\n' > c; "
    "printf 'a\\tb\\tc\\nx\\n' > t\n"
    "cut -d : -f 2 c; cut -d : -f 1,3 c; cut -d : -f 2- c; cut -d : -f -2 c; "
    "cut -s -d : -f 1 c; cut -f 2 t; cut -c 2-3 c; cut -b 1,3 c; cut -c 3- c; "
    "cut -d : -f 3,1 c; cut -D -d : -f 3,1 c\n"
    "cut -d : -O '|' -f 1,2 c; cut -d ':x' -f 1,2 c; cut -d '' -f 2 t\n",
    "printf 'a:b:c\\nd  e\\tf\\n' > c\n"
    "cut f c; echo rc=$?; cut -c 1 -d x c; echo rc=$?; cut -s -c 1 c; echo rc=$?; "
    "cut -f 3-1 c; echo rc=$?; cut -f x c; echo rc=$?; cut -f 1 nosuch c; echo rc=$?; "
    "cut -f '' c; echo rc=$?\n"
    "cut -b 1 -c 2 c; echo rc=$?; cut -F 2 c; cut -F 1,3 -d '[:]' c; cut -F 2 -O - c; "
    "cut -F 1 -d '(' c; echo rc=$?; cut -F 1 -d '*a' c; echo rc=$?\n",
    "echo hello | tr a-y b-z; echo hello | tr -d l; echo hello | tr -s l; "
    "echo 'a  b   c' | tr -s ' '; echo hello | tr 'a-z' 'A-Z'; "
    "echo hello | tr '[:lower:]' '[:upper:]'\n"
    "echo hello | tr -c 'l\\n' x; echo hello | tr -cd 'l'; echo; "
    "echo 'a\\b' | tr '\\\\' /; printf 'a\\tb\\n' | tr '\\t' ' '; echo abc | tr abc x; "
    "echo abc | tr ab '[=x=]'\n"
    "head -c 10 /dev/zero | tr '\\0' y; echo; echo hello | tr; echo rc=$?; "
    "echo hello | tr a ''; echo rc=$?; echo hello | tr -x a; echo rc=$?\n"
    "echo 'a-b' | tr a-b x; echo 'abc' | tr 'a-' 'xy'; echo '[x]' | tr '[x]' 'yzw'; "
    "echo 123 | tr '[:digit:]' 'a-j'; echo 'Hi!' | tr '[:punct:]' '.'; "
    "echo ab | tr '\\141' '\\x42'\n",
    "seq 3; seq 2 4; seq 1 2 7; seq 5 -1 3; seq -w 8 10; seq -s , 3; seq 1.5 3; "
    "seq 0.1 0.1 0.5; seq -w 1 0.5 2; seq 3 1; seq; echo rc=$?; seq x; echo rc=$?; "
    "seq -1 3; echo rc=$?; seq 1 2 3 4; echo rc=$?\n"
    "seq -- -1 1; seq -s '' 3; echo; seq 1e1 1.2e1; seq '' ; echo rc=$?; seq -w -1 1; "
    "seq 0x3\n",
    "basename /a/b/c; basename /a/b/; basename /; basename ''; basename a.txt .txt; "
    "basename .txt .txt; basename -s .c a.c b.c; basename -a x/y z/w; basename; "
    "echo rc=$?; basename a b c; echo rc=$?\n"
    "dirname /a/b/c; dirname a; dirname /; dirname //; dirname a/; dirname -- /x/y; "
    "dirname; echo rc=$?; dirname a b; echo rc=$?\n",
    "echo hi | tee o1 o2; cat o1 o2; echo more | tee -a o1 >/dev/null; cat o1; "
    "echo x | tee /nonexist/y; echo rc=$?; echo x | tee -; echo rc=$?\n",
    "printf 'x\\n' > a; "
    "for a in stat grep wc tail sort uniq cut tr seq basename dirname tee; "
    'do $a --help > /dev/null 2>&1; echo "$a $?"; done\n',
]


@pytest.mark.parametrize("script", APPLET_DIFFERENTIAL)
def test_applets_against_busybox(script, tmp_path):
    busybox = busybox_135()
    if busybox is None:
        pytest.skip("busybox 1.35 is not installed")
    path = tmp_path / "scenario.sh"
    path.write_text(script)
    real = subprocess.run([busybox, "sh", "-c", f"cd {tmp_path} && sh {path} 2>&1"],
                          capture_output=True, env={"PATH": "/usr/bin:/bin"}).stdout
    shell = Shell(FakeSystem(), script_name=str(path), cwd=str(tmp_path))
    shell.run_script(script)
    assert bytes(shell.output) == real
