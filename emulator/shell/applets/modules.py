"""The applets that talk to the kernel: insmod, rmmod, lsmod, modprobe, modinfo, depmod
(the module utilities), dmesg (the log) and sleep (time)."""

from __future__ import annotations

import errno as E
import lzma
import posixpath
import re
import zlib

from linker.module.unpack import TooLarge, unpack_bzip2, unpack_gzip, unpack_xz

from ...vfs import is_kernel_path
from ..control import NotSimulated
from ..handles import read_all
from ..process import ShellProcess
from ..syscalls import (O_EXCL, O_NONBLOCK, O_RDONLY, O_TRUNC, SYSLOG_ACTION_CONSOLE_LEVEL,
                        SYSLOG_ACTION_READ_ALL, SYSLOG_ACTION_READ_CLEAR,
                        SYSLOG_ACTION_SIZE_BUFFER, Stat, normpath, strerror)
from .applet import Applet


# -- module applets -------------------------------------------------------------------------

def moderror(err: int) -> str:
    """busybox modutils.c moderror(): insmod's wording of init_module's errno."""
    special = {-1: "no such module", E.ENOEXEC: "invalid module format",
               E.ENOENT: "unknown symbol in module, or unknown parameter",
               E.ESRCH: "module has wrong symbol version",
               E.ENOSYS: "kernel does not support requested operation"}
    return special.get(err, strerror(err))


def module_options(args: list[str]) -> str:
    """parse_cmdline_module_options(argv, quote_spaces=0), as insmod calls it: every
    argument followed by one space, nothing quoted. ``p="a b"`` reaches the kernel as
    ``p=a b `` (the kernel then sees ``p=a`` and an unknown parameter ``b``, as the real
    guest shows). modprobe's quote_spaces=1 would re-quote it; insmod does not."""
    return "".join(arg + " " for arg in args)


def filename2modname(name: str) -> str:
    """busybox filename2modname: up to the first ".", "-" -> "_" (255 chars at most)."""
    out = []
    for c in name[:255]:
        if c == ".":
            break
        out.append("_" if c == "-" else c)
    return "".join(out)


def applet_insmod(app: Applet, argv: list[str]) -> int:
    """busybox insmod_main + bb_init_module (FEATURE_2_4_MODULES and TRY_MMAP off).

    finit_module(fd, options, 0) first; on any failure, read the file (decompressing
    gzip/bzip2/xz) and init_module(image, options). The kernel thus runs a failing load
    twice (a bad parameter is logged twice). The message names the file as given;
    $? is insmod's return value: the errno of init_module (ENOEXEC -> 8), or 256 - errno
    when the file cannot be read (ENOENT -> 254).
    """
    if len(argv) < 2:
        app.usage()
    filename, options = argv[1], module_options(argv[2:])
    shell = app.shell
    path = shell._abspath(filename)
    rc = try_finit_module(shell, path, options)
    if rc == 0:
        return 0
    image = read_module_image(app, path, filename)
    if isinstance(image, int):
        rc = image  # -errno: open/read failed
    else:
        rc = -shell._sys("init_module", image, options)
    if rc:
        app.error(f"can't insert '{filename}': {moderror(rc)}")
    return rc & 0xFF


def try_finit_module(shell: ShellProcess, path: str, options: str) -> int:
    """open(O_RDONLY) then finit_module; nonzero when either failed. A directory opens
    but the kernel refuses it (EINVAL, nothing logged) before reading it: not asked."""
    if is_kernel_path(path):
        return -E.EINVAL  # kmodsim does not hand kernel files to finit_module
    stat = shell._stat(path)
    if not isinstance(stat, Stat) or stat.type != "-":
        return -E.ENOENT
    image = shell.read_file(path)
    if isinstance(image, int):
        return image
    return shell._sys("finit_module", image, options, 0)


def read_module_image(app: Applet, path: str, filename: str) -> bytes | int:
    """xmalloc_open_zipped_read_close: the module's bytes, or -errno if it cannot be
    opened; "short read" (die, rc 1) below two bytes, or on a directory."""
    handle = app.shell._open(path, O_RDONLY)
    if isinstance(handle, int):
        return handle
    try:
        data = read_all(handle)
    finally:
        handle.close()
    if isinstance(data, int) or len(data) < 2:
        app.die("short read")
    return decompress_module(app, data, filename)


def decompress_module(app: Applet, data: bytes, filename: str) -> bytes | int:
    """open_zipped: gzip, bzip2 and xz are unpacked (busybox's SEAMLESS_* are on)."""
    kinds = ((b"\x1f\x8b", unpack_gzip, "corrupted data"),
             (b"BZ", unpack_bzip2, "bunzip error -3"),
             (b"\xfd7zXZ\x00", lambda d: unpack_xz(d, auto=True), "corrupted data"))
    for magic, unpack, complaint in kinds:
        if data.startswith(magic[:2]) and (len(magic) == 2 or data.startswith(magic)):
            try:
                return unpack(data)
            except TooLarge:        # what busybox's xmalloc gets for a bomb: no memory
                app.error(f"read error from '{filename}': {strerror(E.ENOMEM)}")
                return -E.ENOMEM
            except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error):
                app.error(complaint)
                app.error(f"read error from '{filename}': {strerror(E.ENOMEM)}")
                return -E.ENOMEM
    if data.startswith(b"\xfd7") and len(data) < 6:
        app.die("short read")
    return data


def applet_rmmod(app: Applet, argv: list[str]) -> int:
    """busybox rmmod_main: flags O_NONBLOCK|O_EXCL, -w drops O_NONBLOCK, -f adds O_TRUNC.
    Each argument: basename, then filename2modname ("hello-debug.ko" -> "hello_debug");
    the first failure dies with ``can't unload module 'NAME': strerror`` (rc 1)."""
    options, names = app.getopt(argv, "wfas")
    flags = O_NONBLOCK | O_EXCL
    if "w" in options:
        flags &= ~O_NONBLOCK
    if "f" in options:
        flags |= O_TRUNC
    if "a" in options:
        # delete_module(NULL): 6.1 fails the name copy with EFAULT, which rmmod ignores
        return 0
    if not names:
        app.usage()
    for name in names:
        modname = filename2modname(posixpath.basename(name.rstrip("/")) or name)
        rc = app.shell._sys("delete_module", modname, flags)
        if rc:
            app.die(f"can't unload module '{modname}': {strerror(rc)}")
    return 0


def applet_lsmod(app: Applet, argv: list[str]) -> int:
    """busybox lsmod (FEATURE_LSMOD_PRETTY_2_6_OUTPUT, FEATURE_CHECK_TAINTED_MODULE).

    Header ``%-24sSize  Used by`` then ``    Tainted: %c%c%c`` from bits 0-2 of
    /proc/sys/kernel/tainted (P/G, F, S) or ``    Not tainted``; each /proc/modules line
    as ``%-19s %8s %2s %s`` of its first four fields, the used-by list without its
    trailing comma (``-`` becomes empty).
    """
    shell = app.shell
    modules = shell.read_file("/proc/modules")
    if isinstance(modules, int):
        app.error(f"can't open '/proc/modules': {strerror(modules)}")
    header = "%-24sSize  Used by" % "Module" + taint_summary(shell.read_file(
        "/proc/sys/kernel/tainted"))
    app.out(header)
    if isinstance(modules, int):
        return 0
    for number, raw in enumerate(modules.decode("utf-8", "surrogateescape").split("\n"), 1):
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) < 4:
            app.error(f"bad line {number}: {len(fields)} tokens found, 4 needed")
            continue
        name, size, refs, users = fields[:4]
        app.out("%-19s %8s %2s %s\n" % (name, size, refs, users[:-1]))
    return 0


def taint_summary(tainted: bytes | int) -> str:
    value = 0
    if isinstance(tainted, bytes):
        match = re.match(rb"\s*([-+]?\d+)", tainted)
        value = int(match.group(1)) if match else 0
    if not value:
        return "    Not tainted\n"
    return "    Tainted: %s%s%s\n" % ("P" if value & 1 else "G", "F" if value & 2 else " ",
                                      "S" if value & 4 else " ")


def applet_modprobe(app: Applet, argv: list[str]) -> int:
    """busybox modprobe chdir()s to /lib/modules/`uname -r` first; the guest has no
    /lib/modules, so every modprobe ends there."""
    app.getopt(argv, "vqsalrDb")
    xchdir(app, "/lib/modules")
    xchdir(app, "/lib/modules/" + app.shell.release())
    raise NotSimulated("modprobe with a /lib/modules tree")


def applet_modinfo(app: Applet, argv: list[str]) -> int:
    """busybox modinfo opens /lib/modules/`uname -r`/modules.dep before anything else,
    even for a path to a .ko; the guest has none."""
    options, args = app.getopt(argv, "0F:nadlp")
    if not args:
        app.usage()
    path = f"/lib/modules/{app.shell.release()}/modules.dep"
    stat = app.shell._stat(path)
    if not isinstance(stat, Stat) or stat.type != "-":
        app.die(f"can't open '{path}': {strerror(E.ENOENT)}")
    raise NotSimulated("modinfo with a modules.dep")


def applet_depmod(app: Applet, argv: list[str]) -> int:
    """busybox depmod: chdir(BASE, default "/"), then chdir("lib/modules/VERSION")."""
    options, args = app.getopt(argv, "aAb:eF:nruqC:")
    xchdir(app, options.get("b", "/"))
    version = args[0] if args and re.match(r"\d+\.\d+\.\d+", args[0]) else app.shell.release()
    base = app.shell._abspath(options.get("b", "/"))
    relative = "lib/modules/" + version
    stat = app.shell._stat(normpath(posixpath.join(base, relative)))
    if not isinstance(stat, Stat) or not stat.is_dir:
        app.die(f"can't change directory to '{relative}': {strerror(E.ENOENT)}")
    raise NotSimulated("depmod with a /lib/modules tree")


def xchdir(app: Applet, path: str) -> None:
    stat = app.shell._stat(app.shell._abspath(path))
    if isinstance(stat, Stat) and not stat.is_dir:
        stat = -E.ENOTDIR
    if isinstance(stat, int):
        app.die(f"can't change directory to '{path}': {strerror(stat)}")


def applet_dmesg(app: Applet, argv: list[str]) -> int:
    """busybox dmesg (FEATURE_DMESG_PRETTY): syslog(READ_ALL or READ_CLEAR) into a buffer
    of max(16K, SIZE_BUFFER) bytes; without -r each line's ``<N>`` prefix is dropped;
    a final newline is added if missing. -n LEVEL: syslog(CONSOLE_LEVEL)."""
    options, _ = app.getopt(argv, "cs:n:r")
    shell = app.shell
    if "n" in options:
        level = app.number(options["n"])
        if shell._sys("syslog", SYSLOG_ACTION_CONSOLE_LEVEL, level) != 0:
            app.die("klogctl: Invalid argument")
        return 0
    if "s" in options:
        size = app.number(options["s"])
    else:
        size = shell._sys("syslog", SYSLOG_ACTION_SIZE_BUFFER, 0)
    size = min(max(size, 16 * 1024), 16 * 1024 * 1024)
    action = SYSLOG_ACTION_READ_CLEAR if "c" in options else SYSLOG_ACTION_READ_ALL
    data = shell._sys("syslog", action, size)
    if isinstance(data, int):
        app.die(f"klogctl: {strerror(data)}")
    if not data:
        return 0
    if "r" not in options:
        data = re.sub(rb"(?m)^<[^>\n]*>", b"", data)
    if not data.endswith(b"\n"):
        data += b"\n"
    app.out(data)
    return 0


# -- time -----------------------------------------------------------------------------------

def applet_sleep(app: Applet, argv: list[str]) -> int:
    """busybox sleep (FANCY_SLEEP, FLOAT_DURATION): the sum of N[smhd] arguments."""
    if len(argv) < 2:
        app.usage()
    total = 0.0
    for arg in argv[1:]:
        match = re.fullmatch(r"(\d*\.?\d*)([smhd]?)", arg)
        if not match or not match.group(1) or match.group(1) == ".":
            if "." in arg:
                app.usage()
            app.die(f"invalid number '{arg}'")
        total += float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600,
                                           "d": 86400}[match.group(2)]
    app.shell._sys("sleep", total)
    return 0
