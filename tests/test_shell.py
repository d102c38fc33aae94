"""The scenario shell (emulator/shell.py) against busybox 1.35 in the real guest.

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
    SYSLOG_ACTION_SIZE_BUFFER, AndOr, Parser, Pipeline, Shell, ShellSyntaxError, Simple,
    Stat, TaskKilled, filename2modname, ls_format, module_options, moderror, parse,
    process_escapes, strerror, taint_summary,
)

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


class FakeSystem:
    """The System interface over a dict of kernel files and a list of Steps.

    Reads (stat, list_dir, open for reading, read) are answered from ``files`` (a
    directory is any prefix of a path in it, or a path in ``dirs``); module syscalls,
    writes, syslog reads and console-level changes must come in the order of ``steps``.
    Files in ``readonly`` refuse to open for writing (EACCES), as read-only sysfs
    attributes do.
    """

    def __init__(self, files=None, steps=(), readonly=(), dirs=()):
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

    def stat(self, path):
        if path in self.files:
            return Stat(is_dir=False, mode=0o444 if path in self.readonly else 0o644, size=4096)
        if self.is_dir(path):
            return Stat(is_dir=True, mode=0o755)
        return -E.ENOENT

    def list_dir(self, path):
        if path in self.files:
            return -E.ENOTDIR
        if not self.is_dir(path):
            return -E.ENOENT
        prefix = path.rstrip("/") + "/"
        names = {p[len(prefix):].split("/")[0] for p in list(self.files) + list(self.dirs)
                 if p.startswith(prefix)}
        return sorted(names)

    def open(self, path, flags):
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

    def read(self, fd, count):
        entry = self.open_files[fd]
        if isinstance(entry[1], int):
            return entry[1]
        chunk = entry[1][entry[2]:entry[2] + count]
        entry[2] += len(chunk)
        return chunk

    def write(self, fd, data):
        return self.step("write", self.open_files[fd][0], data)

    def close(self, fd):
        del self.open_files[fd]

    # console, time, tasks
    def console_drain(self):
        data, self.console = bytes(self.console), bytearray()
        return data

    def sleep(self, seconds):
        self.slept.append(seconds)

    def spawn(self, comm):
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
    # busybox's NOEXEC applets name the task after themselves, exec'd ones are "exe"
    # NOEXEC applets name their task after themselves; cat is exec'd as /proc/self/exe
    after_lsmod = system.tasks.index("lsmod")
    assert system.tasks[after_lsmod:after_lsmod + 2] == ["lsmod", "exe"]


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
    out, _ = run("grep x y; echo $?\n")
    assert out == "kmodsim: grep: busybox applet not simulated\n127\n"


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
