"""Module parameters (``emulator/kapi/kernel_params.py``) against Linux 6.1 and its real output.

Two kinds of tests:

* tables for the pieces, read from the kernel source: ``next_arg`` (``lib/cmdline.c``),
  ``kstrtoXX`` and ``kstrtobool`` (``lib/kstrtox.c``), each setter and getter;
* replays of ``tests/realkernel/params*.sh``, which loaded ``samples/linux/params/params.ko``
  (one parameter of every type) into Debian's 6.1.0-56-amd64 kernel with busybox insmod,
  read and wrote ``/sys/module/params/parameters/*``, and whose output is kept next to them
  as ``params*.real.txt``. Each step is replayed over a fake memory holding the module's
  variables and ``__param`` section as ``params.c`` lays them out (``ParamsModule``), and
  must give the same kernel log lines (level and text), the same errno, the same values
  (``params_init`` prints them) and the same sysfs files and contents.

What the replay leaves out of the real log, and why: the once-per-boot taint notices (the
loader's); the end of the boot (``tsc:``, ``clocksource:``); ``pr_debug`` lines (level 7: ``dyndbg=+p`` on a module named ``params`` also
turns on kernel/params.c's own debug lines, whose dynamic-debug module name is ``params``
too; they print hashed pointers). busybox insmod retries a failed ``finit_module`` with
``init_module``, so a failed load's lines are in the log twice: the replay expects that.

Regenerate the goldens (about 20 s each; needs qemu and ``../shared/tools/realkernel``) with
``KMODSIM_UPDATE_REALKERNEL=1 python -m pytest tests/test_params.py``.
"""

import errno
import os
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import pytest

from linker.loglevels import LOGLEVEL_ERR, LOGLEVEL_INFO, LOGLEVEL_NOTICE, LOGLEVEL_WARNING

from emulator.kapi.kernel_params import (
    I386, X86_64, Param, ParamHeap,
    ParamOpsError, c_buffer, cstr, kernel_parse_args, kstrtobool, kstrtoll, kstrtoull, kstrtox,
    next_arg, param_free, param_get, param_set, param_store, parse_args, parse_module_args,
    read_params, split_args, sysfs_params)

ROOT = Path(__file__).resolve().parent.parent
REAL = Path(__file__).resolve().parent / "realkernel"
PARAMS_KO = ROOT / "samples" / "linux" / "params" / "params.ko"
REALKERNEL_TOOL = ROOT.parent / "shared" / "tools" / "realkernel"
UPDATE = bool(os.environ.get("KMODSIM_UPDATE_REALKERNEL"))
SCENARIOS = sorted(p.stem for p in REAL.glob("params*.sh"))
SYSFS = "/sys/module/params/parameters/"

EINVAL, ERANGE, ENOSPC = -errno.EINVAL, -errno.ERANGE, -errno.ENOSPC


# ---------------------------------------------------------------------------------------
# next_arg

@pytest.mark.parametrize("args, expected, rest", [
    (b"", [], None),
    (b"   ", [], None),
    (b"a=1", [(b"a", b"1")], None),
    (b"  a=1   b=2  ", [(b"a", b"1"), (b"b", b"2")], None),
    (b"a=1\tb=2\nc=3\x0bd=4\x0ce=5\rf", [(b"a", b"1"), (b"b", b"2"), (b"c", b"3"),
                                       (b"d", b"4"), (b"e", b"5"), (b"f", None)], None),
    (b"a=x\xa0b", [(b"a", b"x"), (b"b", None)], None),        # 0xA0 is a space in lib/ctype.c
    (b"a=x\x1cb", [(b"a", b"x\x1cb")], None),                # but 0x1c-0x1f are not
    (b"flag", [(b"flag", None)], None),
    (b"a=", [(b"a", b"")], None),
    (b"a==b", [(b"a", b"=b")], None),
    (b"=x", [(b"=x", None)], None),                          # '=' at 0 is "no '=' yet"
    (b"=x=y", [(b"=x", b"y")], None),
    (b'a="b c"', [(b"a", b"b c")], None),
    (b'"a=b c"', [(b"a", b"b c")], None),
    (b'a=b" "c', [(b"a", b'b" "c')], None),                  # quotes inside stay
    (b'a="x y",z', [(b"a", b'x y",z')], None),               # only a closing quote at the end goes
    (b'a="7,8"', [(b"a", b"7,8")], None),
    (b'a="', [(b"a", b"")], None),
    (b'"a', [(b"a", None)], None),
    (b'"a b', [(b"a b", None)], None),                       # unterminated: to the end
    (b'a="b c', [(b"a", b"b c")], None),
    (b'"a"=b', [(b'a"', b"b")], None),
    (b"a -- b c", [(b"a", None)], b"b c"),
    (b"a=1 -- ", [(b"a", b"1")], b""),
    (b'a "--" b', [(b"a", None)], b"b"),
    (b"--=5 b", [(b"--", b"5"), (b"b", None)], None),
    (b"---", [(b"---", None)], None),
    (b"a=1\0b=2", [(b"a", b"1")], None),                     # strndup_user stops at NUL
    ("é=à b", [("é".encode(), b"\xc3"), (b"b", None)], None),  # UTF-8 "à" is C3 A0: A0 splits
])
def test_split_args(args, expected, rest):
    got, after = split_args(args)
    assert got == expected
    assert after == rest


def test_next_arg_writes_nuls_like_the_kernel():
    buf = c_buffer(b'a="b c" d')
    param, val, nxt = next_arg(buf, 0)
    assert (param, val, nxt) == (0, 3, 8)
    assert bytes(buf) == b'a\0"b c\0\0d\0'
    assert cstr(buf, val) == b"b c"


# ---------------------------------------------------------------------------------------
# kstrtox

@pytest.mark.parametrize("s, size, signed, expected", [
    (b"0", 4, True, 0),
    (b"42", 4, True, 42),
    (b"+5", 4, True, 5),
    (b"5\n", 4, True, 5),
    (b"5\n\n", 4, True, EINVAL),
    (b"\n", 4, True, EINVAL),
    (b"", 4, True, EINVAL),
    (b"+", 4, True, EINVAL),
    (b"-", 4, True, EINVAL),
    (b" 5", 4, True, EINVAL),
    (b"5 ", 4, True, EINVAL),
    (b"010", 4, True, 8),
    (b"08", 4, True, EINVAL),
    (b"0x10", 4, True, 16),
    (b"0X1f", 4, True, 31),
    (b"0x", 4, True, EINVAL),
    (b"0xg", 4, True, EINVAL),
    (b"12abc", 4, True, EINVAL),
    (b"0x7fffffff", 4, True, 0x7FFFFFFF),
    (b"0x80000000", 4, True, ERANGE),
    (b"-0x80000000", 4, True, -0x80000000),
    (b"-2147483648", 4, True, -2147483648),
    (b"-2147483649", 4, True, ERANGE),
    (b"2147483648", 4, True, ERANGE),
    (b"-0", 4, True, 0),
    (b"--5", 4, True, EINVAL),
    (b"-+5", 4, True, EINVAL),
    (b"+-5", 4, True, EINVAL),
    (b"4294967295", 4, False, 4294967295),
    (b"4294967296", 4, False, ERANGE),
    (b"-1", 4, False, EINVAL),
    (b"-0", 4, False, EINVAL),
    (b"255", 1, False, 255),
    (b"256", 1, False, ERANGE),
    (b"0377", 1, False, 255),
    (b"32767", 2, True, 32767),
    (b"-32768", 2, True, -32768),
    (b"32768", 2, True, ERANGE),
    (b"65535", 2, False, 65535),
    (b"65536", 2, False, ERANGE),
    (b"18446744073709551615", 8, False, (1 << 64) - 1),
    (b"18446744073709551616", 8, False, ERANGE),
    (b"0xFFFFFFFFFFFFFFFF", 8, False, (1 << 64) - 1),
    (b"0x10000000000000000", 8, False, ERANGE),
    (b"99999999999999999999abc", 8, False, ERANGE),   # overflow is seen before the junk
    (b"9223372036854775807", 8, True, (1 << 63) - 1),
    (b"9223372036854775808", 8, True, ERANGE),
    (b"-9223372036854775808", 8, True, -(1 << 63)),
    (b"-9223372036854775809", 8, True, ERANGE),
    (b"-18446744073709551615", 8, True, ERANGE),
    (b"-0x8000000000000000", 8, True, -(1 << 63)),
    (b"0000000000000000000000000000000000000000012", 4, True, 10),
])
def test_kstrtox(s, size, signed, expected):
    rc, value = kstrtox(s, size, signed)
    assert (rc if rc else value) == expected


@pytest.mark.parametrize("s, base, expected", [
    (b"ff", 16, 255),
    (b"0xff", 16, 255),
    (b"0x", 16, EINVAL),           # an explicit base 16 skips "0x" even with nothing after
    (b"777", 8, 511),
    (b"8", 8, EINVAL),
    (b"101", 2, 5),
    (b"0x10", 10, EINVAL),
])
def test_kstrtoull_base(s, base, expected):
    rc, value = kstrtoull(s, base)
    assert (rc if rc else value) == expected


def test_kstrtoll_sign_before_radix():
    assert kstrtoll(b"-0x10") == (0, -16)
    assert kstrtoll(b"+0x10") == (0, 16)
    assert kstrtoll(b"-010") == (0, -8)


@pytest.mark.parametrize("s, expected", [
    (b"y", True), (b"Y", True), (b"yes", True), (b"t", True), (b"T", True), (b"true", True),
    (b"1", True), (b"1x", True), (b"on", True), (b"oN", True), (b"ON", True),
    (b"n", False), (b"N", False), (b"no", False), (b"f", False), (b"F", False),
    (b"0", False), (b"0x", False), (b"off", False), (b"OFF", False), (b"oF", False),
    (b"", EINVAL), (b"o", EINVAL), (b"ox", EINVAL), (b"junk", EINVAL), (b"2", EINVAL),
    (b"e", EINVAL), (b"enable", EINVAL), (b"d", EINVAL),    # e/E/d/D came after 6.1
    (b" y", EINVAL), (None, EINVAL),
])
def test_kstrtobool(s, expected):
    rc, value = kstrtobool(s)
    assert (rc if rc else value) == expected


# ---------------------------------------------------------------------------------------
# a fake machine: memory, kmalloc, printk

class FakeMemory:
    """One flat region of emulated memory; anything outside it is a bug in the code."""

    def __init__(self, base=0xFFFFFFFFC0000000, size=0x40000):
        self.base, self.data = base, bytearray(size)

    def _off(self, addr, size):
        off = addr - self.base
        assert 0 <= off and off + size <= len(self.data), f"access outside memory at {addr:#x}"
        return off

    def read(self, addr, size):
        off = self._off(addr, size)
        return bytes(self.data[off:off + size])

    def write(self, addr, data):
        off = self._off(addr, len(data))
        self.data[off:off + len(data)] = data

    def read_cstring(self, addr, limit=4096):
        off = self._off(addr, 1)
        end = self.data.find(0, off, off + limit)
        return bytes(self.data[off:end if end >= 0 else off + limit])


class FakeKmalloc:
    """A bump allocator inside FakeMemory that refuses double and foreign frees."""

    def __init__(self, mem, start, size):
        self.mem, self.cursor, self.end = mem, start, start + size
        self.live, self.freed = set(), []

    def kmalloc(self, size):
        addr = self.cursor
        if addr + size > self.end:
            return 0
        self.cursor = (addr + size + 7) & ~7
        self.live.add(addr)
        return addr

    def kfree(self, addr):
        assert addr in self.live, f"kfree of {addr:#x}, which kmalloc did not return"
        self.live.remove(addr)
        self.freed.append(addr)


class Log(list):
    """printk as the ring buffer keeps it: a record is cut to LOG_LINE_MAX (992) bytes
    including its 2-byte level prefix and newline (kernel/printk/printk.c vprintk_store)."""

    def __call__(self, level, text):
        raw = (text.encode("utf-8", "surrogateescape") + b"\n")[:992 - 1 - 2]
        self.append((level, raw.removesuffix(b"\n").decode("latin-1")))


# ---------------------------------------------------------------------------------------
# samples/linux/params/params.c, laid out in fake memory

OPS_BASE = {8: 0xFFFFFFFF82000000, 4: 0xC2000000}       # the kernel's param_ops_* objects
OPS_NAMES = ["param_ops_byte", "param_ops_short", "param_ops_ushort", "param_ops_int",
             "param_ops_uint", "param_ops_long", "param_ops_ulong", "param_ops_ullong",
             "param_ops_hexint", "param_ops_charp", "param_ops_bool", "param_ops_invbool",
             "param_ops_bint", "param_ops_string", "param_array_ops", "param_ops_bool_enable_only"]
OPS_ADDR = {size: {name: base + 0x20 * i for i, name in enumerate(OPS_NAMES)}
            for size, base in OPS_BASE.items()}
OPS_BY_ADDR = {addr: name for names in OPS_ADDR.values() for name, addr in names.items()}


class Image:
    """Places bytes one after the other in FakeMemory, like a module's sections."""

    def __init__(self, mem, start):
        self.mem, self.cursor = mem, start

    def place(self, data, align=8):
        addr = (self.cursor + align - 1) // align * align
        self.mem.write(addr, data)
        self.cursor = addr + len(data)
        return addr


class ParamsModule:
    """params.ko's variables (with params.c's defaults) and its ``__param`` section."""

    # (name, type, perm, C type size or None, default)
    VARIABLES = [("p_byte", "byte", 0o444, 1, 0xFE), ("p_short", "short", 0o644, 2, -300),
                 ("p_ushort", "ushort", 0o600, 2, 65000), ("p_int", "int", 0o644, 4, -42),
                 ("p_uint", "uint", 0o444, 4, 4000000000),
                 ("p_long", "long", 0, "long", -1234567890123),
                 ("p_ulong", "ulong", 0o444, "long", 18000000000000000000),
                 ("p_ullong", "ullong", 0o600, 8, 0x0123456789ABCDEF),
                 ("p_hexint", "hexint", 0o644, 4, 0xCAFE),
                 ("p_charp", "charp", 0, None, b"the worm"),
                 ("p_bool", "bool", 0o644, 1, 1), ("p_invbool", "invbool", 0o444, 1, 0),
                 ("p_bint", "bint", 0o600, 4, 1)]
    def __init__(self, mem, start, abi=X86_64):
        self.mem, self.abi = mem, abi
        img = Image(mem, start)
        ptr = abi.ptr_size
        lay = abi.kernel_param
        self.var = {}
        entries = []
        for name, typ, perm, size, default in self.VARIABLES:
            size = abi.long_size if size == "long" else size
            if typ == "charp":
                data = self._ptr(img.place(default + b"\0", 1))
            else:
                data = (default % (1 << 8 * size)).to_bytes(size, "little")  # as C truncates
            self.var[name] = img.place(data, max(len(data), 1))
            entries.append((name, f"param_ops_{typ}", perm, self.var[name]))
        self.var["p_string"] = img.place(b"fixed buffer".ljust(16, b"\0"))
        kps = img.place(struct.pack("<I", 16).ljust(abi.kparam_string["string"], b"\0")
                        + self._ptr(self.var["p_string"]))
        entries.append(("p_string", "param_ops_string", 0o644, kps))
        self.var["p_ints"] = img.place(struct.pack("<4i", 10, 20, 0, 0))
        self.var["n_ints"] = img.place(struct.pack("<I", 2), 4)
        entries.append(("p_ints", "param_array_ops", 0o444,
                        self._array(img, 4, 4, "n_ints", "param_ops_int", "p_ints")))
        alpha = img.place(b"alpha\0", 1)
        self.var["p_names"] = img.place(self._ptr(alpha) + bytes(2 * ptr))
        self.var["n_names"] = img.place(struct.pack("<I", 1), 4)
        entries.append(("p_names", "param_array_ops", 0o600,
                        self._array(img, 3, ptr, "n_names", "param_ops_charp", "p_names")))
        this_module = img.place(bytes(64))
        section = bytearray()
        for name, ops, perm, arg in entries:
            rec = bytearray(lay["size"])
            for key, value in (("name", img.place(name.encode() + b"\0", 1)), ("mod", this_module),
                               ("ops", OPS_ADDR[ptr][ops]), ("arg", arg)):
                rec[lay[key]:lay[key] + ptr] = self._ptr(value)
            struct.pack_into("<HbB", rec, lay["perm"], perm, -1, 0)
            section += rec
        self.param_addr = img.place(bytes(section))
        self.param_size = len(section)
        self.params = read_params(mem, self.param_addr, self.param_size, OPS_BY_ADDR.get, abi)
        self.by_name = {kp.name: kp for kp in self.params}

    def _ptr(self, value):
        return value.to_bytes(self.abi.ptr_size, "little")

    def _array(self, img, max_, elemsize, num, ops, elem):
        arr = self.abi.kparam_array
        data = bytearray(arr["size"])
        struct.pack_into("<II", data, 0, max_, elemsize)
        for key, value in (("num", self.var[num]), ("ops", OPS_ADDR[self.abi.ptr_size][ops]),
                           ("elem", self.var[elem])):
            data[arr[key]:arr[key] + self.abi.ptr_size] = self._ptr(value)
        return img.place(bytes(data))

    # what params_init prints, read straight from memory
    def u(self, name, size, signed=False, index=0):
        return int.from_bytes(self.mem.read(self.var[name] + index * size, size), "little",
                              signed=signed)

    def c_string(self, ptr):
        return b"(null)" if ptr == 0 else self.mem.read_cstring(ptr, 1 << 16)

    def init_output(self):
        L = self.abi.long_size
        P = self.abi.ptr_size
        lines = [
            b"params: byte=%d short=%d ushort=%d" % (
                self.u("p_byte", 1), self.u("p_short", 2, True), self.u("p_ushort", 2)),
            b"params: int=%d uint=%d long=%d ulong=%d ullong=%d" % (
                self.u("p_int", 4, True), self.u("p_uint", 4), self.u("p_long", L, True),
                self.u("p_ulong", L), self.u("p_ullong", 8)),
            b"params: hexint=0x%x charp=%s" % (self.u("p_hexint", 4),
                                               self.c_string(self.u("p_charp", P))),
            b"params: bool=%d invbool=%d bint=%d" % (self.u("p_bool", 1), self.u("p_invbool", 1),
                                                     self.u("p_bint", 4, True)),
            b'params: string="%s"' % self.mem.read_cstring(self.var["p_string"]),
        ]
        lines += [b"params: ints[%d]=%d" % (i, self.u("p_ints", 4, True, i))
                  for i in range(self.u("n_ints", 4))]
        lines += [b"params: names[%d]=%s" % (i, self.c_string(self.u("p_names", P, index=i)))
                  for i in range(self.u("n_names", 4))]
        log = Log()
        for line in lines:
            log(LOGLEVEL_INFO, line.decode("utf-8", "surrogateescape"))
        return list(log)


class Machine:
    """Fake memory and kmalloc, and params.ko loaded fresh on each ``insmod``."""

    def __init__(self, abi=X86_64):
        self.abi = abi
        self.mem = FakeMemory(0xFFFFFFFFC0000000 if abi.ptr_size == 8 else 0xF8000000)
        self.kmalloc = FakeKmalloc(self.mem, self.mem.base + 0x20000, 0x20000)
        self.heap = ParamHeap(self.kmalloc)
        self.module = None

    def insmod(self, args):
        """Returns (rc, log lines): parse_args's lines, then params_init's if it loaded."""
        module = ParamsModule(self.mem, self.mem.base + 0x1000, self.abi)
        log = Log()
        rc = parse_args("params", args, module.params, self.mem, self.heap, log)
        if rc == 0:
            self.module = module
            return rc, list(log) + module.init_output()
        for kp in module.params:           # the failed module's memory goes away
            param_free(kp, self.mem, self.heap)
        return rc, list(log)

    def rmmod(self):
        for kp in self.module.params:
            param_free(kp, self.mem, self.heap)
        self.module = None
        # what is left is still on the kernel's kmalloced_params list: array elements past
        # the count (a failed array write counts them out, a shorter one leaves them)
        assert self.kmalloc.live == set(self.heap.kmalloced)

    def sysfs(self):
        """``stat -c '%a %n'`` and ``grep -H ''`` over the parameters directory."""
        files = sorted(sysfs_params(self.module.params), key=lambda kp: kp.name)
        modes = [f"{kp.perm:o} {SYSFS}{kp.name}" for kp in files]
        return modes, [line for kp in files for line in self.read(kp.name)]

    def read(self, name):
        data = param_get(self.module.by_name[name], self.mem)
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        return [f"{SYSFS}{name}:{line.decode('latin-1')}" for line in lines]


# ---------------------------------------------------------------------------------------
# the real kernel's runs

ONCE_PER_BOOT = re.compile(r"^params: (loading out-of-tree module taints kernel\.|module "
                           r"verification failed: .*)$")
NOISE = re.compile(r"^(tsc:|clocksource:)")    # the boot finishing meanwhile (as scenario-diff)


@dataclass
class Step:
    kind: str                    # "load", "write", "write2", "printf"
    number: int
    arg: str                     # load: the option string; writes: the value
    param: str = ""
    output: list = field(default_factory=list)     # what the shell printed, after the marker
    log: list = field(default_factory=list)        # (level, text) the kernel logged meanwhile

    @property
    def rc(self):
        return int(next(line[3:] for line in self.output if line.startswith("rc=")))

    def section(self, title):
        """The lines after ``@@ <title>`` up to the unload's ``rc=``."""
        if f"@@ {title}" not in self.output:
            return None
        lines = self.output[self.output.index(f"@@ {title}") + 1:]
        return lines[:next(i for i, line in enumerate(lines) if line.startswith("rc="))]

    def before(self, title):
        """The output up to ``@@ <title>``."""
        if f"@@ {title}" not in self.output:
            return self.output
        return self.output[:self.output.index(f"@@ {title}")]

    @property
    def write_data(self):
        newlines = {"write": b"\n", "write2": b"\n\n", "printf": b""}[self.kind]
        return self.arg.encode("latin-1") + newlines


STEP = re.compile(r"^@@ step (\d+) (load|write2|write|printf)( [a-z_]+)? <(.*)>$", re.S)
RAW = re.compile(r"^<(\d+)>\[[ \d.]+\] (.*)$", re.S)


def parse_real(text):
    """The steps of a realkernel output; the log is cut at the ``@@ step N`` markers."""
    steps, part, by_marker, current = [], "start", {}, None
    for line in text.split("\n"):
        if line == "@@ raw dmesg":
            part = "raw"
        elif line.startswith("=== "):
            part = "scenario" if line == "=== SCENARIO" else "other"
        elif part == "scenario":
            m = STEP.match(line)
            if m:
                steps.append(Step(m.group(2), int(m.group(1)), m.group(4),
                                  (m.group(3) or "").strip()))
                by_marker[f"@@ step {m.group(1)} {m.group(2)}{m.group(3) or ''}"] = steps[-1]
            elif steps:
                steps[-1].output.append(line)
        elif part == "raw":
            m = RAW.match(line)
            if m is None:
                continue
            prio, msg = int(m.group(1)), m.group(2)
            if prio >> 3 == 1 and msg.startswith("@@ "):
                current = by_marker.get(msg)          # None for "@@ step N unload"
            elif (prio & 7 != 7 and not ONCE_PER_BOOT.match(msg) and not NOISE.match(msg)
                  and current is not None):
                current.log.append((prio & 7, msg))
    return steps


def regenerate(scenario):
    if not REALKERNEL_TOOL.exists() or shutil.which("qemu-system-x86_64") is None:
        pytest.skip("regenerating needs ../shared/tools/realkernel and qemu")
    out = subprocess.run([str(REALKERNEL_TOOL), str(REAL / f"{scenario}.sh"), str(PARAMS_KO)],
                         check=True, capture_output=True, timeout=600).stdout
    if b"=== END" not in out:
        raise RuntimeError(f"realkernel did not finish {scenario}")
    (REAL / f"{scenario}.real.txt").write_bytes(out)


@lru_cache(maxsize=None)
def real_steps(scenario):
    path = REAL / f"{scenario}.real.txt"
    if UPDATE:
        regenerate(scenario)
    if not path.exists():
        pytest.skip(f"{path.name} is missing (set KMODSIM_UPDATE_REALKERNEL=1 to make it)")
    # bytes as they are: a scenario passes a raw 0xA0
    return parse_real(path.read_bytes().decode("latin-1"))


def test_scenarios_exist():
    assert SCENARIOS == ["params1", "params2", "params3"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_replay(scenario):
    """Every step of the scenario, in one machine: log lines, errno, values, sysfs."""
    machine = Machine()
    for step in real_steps(scenario):
        where = f"{scenario} step {step.number} {step.kind} {step.param} <{step.arg[:60]}>"
        if step.kind == "load":
            if machine.module is not None:
                machine.rmmod()
            rc, lines = machine.insmod(step.arg.encode("latin-1"))
            assert rc == -step.rc, where
            if rc:
                # busybox insmod: "can't insert" with strerror, and the retry logs it all again
                assert f"insmod: can't insert 'params.ko': {os.strerror(-rc)}" in step.output, where
                lines = lines * 2
            assert step.log == lines, where
        else:
            kp = machine.module.by_name[step.param]
            log = Log()
            if kp.perm & 0o222:
                rc = param_store(kp, step.write_data, machine.mem, machine.heap, log)
                assert (rc == len(step.write_data)) == (step.rc == 0), where
                if rc < 0 and any(line.startswith("sh: write error") for line in step.output):
                    assert f"sh: write error: {os.strerror(-rc)}" in step.output, where
            else:
                assert step.rc != 0 and "Permission denied" in step.output[0], where
            assert step.log == list(log), where
            readback = [line for line in step.before("sysfs") if line.startswith(SYSFS)]
            assert readback == machine.read(step.param), where
        if step.section("sysfs") is not None:
            modes, contents = machine.sysfs()
            assert step.section("sysfs") == modes + contents, where
    if machine.module is not None:
        machine.rmmod()


def test_real_runs_show_what_the_reference_did_not_say():
    """Facts only the real kernel's output settled (see the module docstring of params.py)."""
    log1 = [m for s in real_steps("params1") for _, m in s.log]
    # an unknown "foo.bar" is reported as 'foo': the dynamic-debug callback cut it in place
    assert "params: unknown parameter 'foo' ignored" in log1
    # busybox ends every argument with a space, so a trailing "--" leaves ''
    assert "params: parameters '' after `--' ignored" in log1
    log2 = [m for s in real_steps("params2") for _, m in s.log]
    # param_array leaves its value cut at the first comma
    assert "params: `1' invalid for parameter `p_ints'" in log2
    # %#08x in the kernel prints 0x even for 0
    sysfs1 = [line for s in real_steps("params1") for line in s.section("sysfs") or []]
    assert f"{SYSFS}p_hexint:0x000000" in sysfs1


# ---------------------------------------------------------------------------------------
# setters, getters and parse_args, one behaviour each

@pytest.fixture
def machine():
    m = Machine()
    m.insmod(b"")
    return m


def run(machine, args):
    module = ParamsModule(machine.mem, machine.mem.base + 0x1000)
    log = Log()
    result = parse_module_args("params", args, module.params, machine.mem, machine.heap, log)
    return result, log, module


def get(module, mem, name):
    return param_get(module.by_name[name], mem)


def test_defaults_read_back(machine):
    m = machine.module
    assert [get(m, machine.mem, n) for n in ("p_byte", "p_short", "p_long", "p_hexint", "p_charp",
                                             "p_bool", "p_invbool", "p_bint", "p_string",
                                             "p_ints", "p_names")] == [
        b"254\n", b"-300\n", b"-1234567890123\n", b"0x00cafe\n", b"the worm\n", b"Y\n", b"Y\n",
        b"1\n", b"fixed buffer\n", b"10,20\n", b"alpha\n"]


def test_read_params_fields(machine):
    kp = machine.module.by_name
    assert (kp["p_int"].ops, kp["p_int"].perm, kp["p_int"].level, kp["p_int"].flags) == \
        ("param_ops_int", 0o644, -1, 0)
    assert (kp["p_ints"].elem_ops, kp["p_ints"].max, kp["p_ints"].elemsize) == \
        ("param_ops_int", 4, 4)
    assert kp["p_names"].num == machine.module.var["n_names"]
    assert (kp["p_string"].maxlen, kp["p_string"].string) == (16, machine.module.var["p_string"])
    assert [p.name for p in machine.module.params][:3] == ["p_byte", "p_short", "p_ushort"]


def test_read_params_ignores_a_partial_entry(machine):
    m = machine.module
    assert len(read_params(machine.mem, m.param_addr, m.param_size + 39, OPS_BY_ADDR.get)) == 16
    assert read_params(machine.mem, m.param_addr, 40, OPS_BY_ADDR.get, bits=64)[0].abi is X86_64


def test_i386_layout_and_long():
    machine = Machine(I386)
    rc, _ = machine.insmod(b"p_long=-2147483648 p_ulong=4294967295 p_names=a,b p_string=s")
    assert rc == 0
    m = machine.module
    assert m.by_name["p_names"].elemsize == 4
    assert get(m, machine.mem, "p_long") == b"-2147483648\n"
    assert get(m, machine.mem, "p_names") == b"a,b\n"
    assert machine.insmod(b"p_long=2147483648")[0] == ERANGE
    assert machine.insmod(b"p_ulong=4294967296")[0] == ERANGE


def test_a_param_made_by_hand():
    """Param without read_params: an unsigned long at an address, and a bare kmalloc."""
    mem = FakeMemory()
    kmalloc = FakeKmalloc(mem, mem.base + 0x1000, 0x1000)
    count = Param("count", "param_ops_ulong", 0o644, arg=mem.base + 0x10)
    name = Param("name", "param_ops_charp", 0o444, arg=mem.base + 0x18)
    log = Log()
    assert parse_args("m", "count=0x10 name=x count=+7", [count, name], mem, kmalloc, log) == 0
    assert (param_get(count, mem), param_get(name, mem), log) == (b"7\n", b"x\n", [])
    assert param_set(count, "-1", mem, kmalloc) == EINVAL


def test_charp_replaces_and_frees_only_what_it_allocated(machine):
    kp, mem, heap = machine.module.by_name["p_charp"], machine.mem, machine.heap
    assert param_set(kp, "one", mem, heap) == 0          # the static default is not freed
    first = X86_64.read_ptr(mem, kp.arg)
    assert param_set(kp, b"two", mem, heap) == 0
    assert machine.kmalloc.freed == [first]
    assert param_get(kp, mem) == b"two\n"
    param_free(kp, mem, heap)
    assert not machine.kmalloc.live


def test_charp_length_limit(machine):
    kp, log = machine.module.by_name["p_charp"], Log()
    assert param_set(kp, "x" * 1024, machine.mem, machine.heap, log) == 0
    assert param_set(kp, "x" * 1025, machine.mem, machine.heap, log) == ENOSPC
    assert log == [(LOGLEVEL_ERR, "p_charp: string parameter too long")]


def test_charp_null_and_bad_pointers(machine):
    kp = machine.module.by_name["p_charp"]
    for ptr, shown in ((0, b"(null)\n"), (0x10, b"(efault)\n"), ((1 << 64) - 22, b"(efault)\n")):
        X86_64.write_ptr(machine.mem, kp.arg, ptr)
        assert param_get(kp, machine.mem) == shown


def test_charp_out_of_memory(machine):
    kp = machine.module.by_name["p_charp"]
    machine.kmalloc.end = machine.kmalloc.cursor
    assert param_set(kp, "x", machine.mem, machine.heap) == -errno.ENOMEM


def test_string_fits_maxlen_minus_one(machine):
    kp, log = machine.module.by_name["p_string"], Log()
    assert param_set(kp, "a" * 15, machine.mem, machine.heap, log) == 0
    assert param_set(kp, "a" * 16, machine.mem, machine.heap, log) == ENOSPC
    assert log == [(LOGLEVEL_ERR, "p_string: string doesn't fit in 15 chars.")]
    assert param_get(kp, machine.mem) == b"a" * 15 + b"\n"


def test_bare_name_needs_noarg(machine):
    kp = machine.module.by_name
    for name in ("p_int", "p_invbool", "p_charp", "p_string", "p_ints"):
        assert param_set(kp[name], None, machine.mem, machine.heap) == EINVAL, name
    for name in ("p_bool", "p_bint"):
        assert param_set(kp[name], None, machine.mem, machine.heap) == 0, name


def test_bool_enable_only(machine):
    kp = replace(machine.module.by_name["p_bool"], ops="param_ops_bool_enable_only")
    machine.mem.write(kp.arg, b"\0")
    assert param_set(kp, "n", machine.mem, machine.heap) == 0
    assert param_set(kp, None, machine.mem, machine.heap) == 0
    assert param_get(kp, machine.mem) == b"Y\n"
    assert param_set(kp, "n", machine.mem, machine.heap) == -errno.EROFS
    assert param_set(kp, "junk", machine.mem, machine.heap) == EINVAL


def test_array_failure_keeps_the_elements_before_it(machine):
    kp, log = machine.module.by_name["p_names"], Log()
    assert param_set(kp, "1,2,3,4", machine.mem, machine.heap, log) == EINVAL
    assert log == [(LOGLEVEL_ERR, "p_names: can only take 3 arguments")]
    assert param_get(kp, machine.mem) == b"1,2,3\n"
    assert param_set(kp, "a,b", machine.mem, machine.heap) == 0
    assert len(machine.kmalloc.freed) == 2              # 1 and 2 replaced; 3 still counted out
    param_free(kp, machine.mem, machine.heap)
    assert len(machine.kmalloc.live) == 1               # "3": beyond num, as in the kernel


def test_array_without_count_pointer(machine):
    kp = replace(machine.module.by_name["p_ints"], num=0)
    assert param_set(kp, "5,6", machine.mem, machine.heap) == 0
    assert param_get(kp, machine.mem) == b"5,6,0,0\n"     # all max elements are shown


def test_sysfs_store_returns_the_length(machine):
    kp = machine.module.by_name["p_int"]
    assert param_store(kp, b"7\n", machine.mem, machine.heap) == 2
    assert param_store(kp, b"7\n\n", machine.mem, machine.heap) == EINVAL
    assert param_get(kp, machine.mem) == b"7\n"


def test_unsafe_parameter_taints(machine):
    taints, log = [], Log()
    params = [replace(kp, flags=1) if kp.name == "p_int" else kp for kp in machine.module.params]
    assert parse_args("params", "p-int=3", params, machine.mem, machine.heap, log,
                      add_taint=taints.append) == 0
    assert log == [(LOGLEVEL_NOTICE, "Setting dangerous option p_int - tainting kernel")]
    assert taints == ["U"]


def test_hardware_parameter_under_lockdown(machine):
    params = [replace(kp, flags=2) if kp.name == "p_int" else kp for kp in machine.module.params]
    log = Log()
    assert parse_args("params", "p_int=3", params, machine.mem, machine.heap, log,
                      locked_down=True) == -errno.EPERM
    assert log == [(LOGLEVEL_ERR, "params: `3' invalid for parameter `p_int'")]


def test_level_outside_the_range_is_skipped(machine):
    params = [replace(kp, level=127) if kp.name == "p_int" else kp for kp in machine.module.params]
    assert parse_args("params", "p_int=x", params, machine.mem, machine.heap, Log()) == EINVAL
    assert kernel_parse_args("params", b"p_int=x", params, machine.mem, machine.heap, Log(),
                             levels=(-1, 0)) == (0, None)


def test_unknown_without_callback_is_an_error(machine):
    log = Log()
    assert kernel_parse_args("setup", b"nosuch=1", machine.module.params, machine.mem,
                             machine.heap, log) == (-errno.ENOENT, None)
    assert log == [(LOGLEVEL_ERR, "setup: Unknown parameter `nosuch'")]


def test_async_probe_and_dyndbg(machine):
    result, log, _ = run(machine, b"async_probe dyndbg other.dyndbg=-p dyndbg= x.y.dyndbg=1")
    assert result.rc == 0 and result.async_probe is True
    assert result.dyndbg == [("params", "+p"), ("other", "-p"), ("params", "")]
    assert log == [(LOGLEVEL_WARNING, "params: unknown parameter 'x' ignored")]
    assert run(machine, b"async_probe=0")[0].async_probe is False
    assert run(machine, b"async_probe=junk")[0].async_probe is True
    assert run(machine, b"p_int=1")[0].async_probe is None


def test_error_before_dashes_wins(machine):
    result, log, _ = run(machine, b"p_int=x -- p_int=1")
    assert (result.rc, result.after_dashes) == (EINVAL, None)
    result, log, _ = run(machine, b"p_int=1 -- p_int=2 junk")
    assert (result.rc, result.after_dashes) == (0, "p_int=2 junk")
    assert log == [(LOGLEVEL_WARNING, "params: parameters 'p_int=2 junk' after `--' ignored")]


def test_custom_ops(machine):
    kp = replace(machine.module.by_name["p_int"], ops=None, ops_addr=0xFFFFFFFFC0001234)
    with pytest.raises(ParamOpsError):
        parse_args("params", "p_int=1", [kp], machine.mem, machine.heap, Log())

    class Custom:
        seen = []

        def flags(self, param):
            return 1

        def set(self, param, val):
            self.seen.append(val)
            return 0

        def get(self, param):
            return b"custom\n"

    custom = Custom()
    assert parse_args("params", "p_int p_int=5", [kp], machine.mem, machine.heap, Log(),
                      custom=custom) == 0
    assert custom.seen == [None, b"5"]
    assert param_get(kp, machine.mem, custom=custom) == b"custom\n"


def test_printk_text_keeps_raw_bytes(machine):
    log = []
    module = ParamsModule(machine.mem, machine.mem.base + 0x1000)
    parse_args("params", b"p_int=\xff", module.params, machine.mem, machine.heap,
               lambda level, text: log.append(text))
    assert log[0].encode("utf-8", "surrogateescape") == \
        b"params: `\xff' invalid for parameter `p_int'"


def test_an_array_parameter_with_the_modules_own_element_ops_unloads():
    """lis3lv02d's axes: an array whose elements use the module's kernel_param_ops. rmmod's
    destroy_params ended in a ParamOpsError traceback (corpus run); the module's ->free is
    not run (such ops leave it NULL), and the module unloads."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import corpus
    tree = corpus.corpus_dir("amd64")
    found = sorted(tree.rglob("lis3lv02d.ko*")) if tree else []
    if not found:
        pytest.skip("the Debian module corpus is not available")
    from emulator.kernel import Kernel
    with Kernel() as k:
        assert k.insmod(str(found[0])).ok
        gone = k.rmmod("lis3lv02d")
        assert gone.rc == 0 and gone.signal is None
