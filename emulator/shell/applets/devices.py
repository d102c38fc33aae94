"""The applets that make and copy device files: mknod and dd (busybox 1.35
coreutils/mknod.c and coreutils/dd.c)."""

from __future__ import annotations

import errno as E
import re

from ..handles import FileHandle, Handle, NullHandle, full_write
from ..syscalls import O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, SEEK_CUR, normpath, strerror
from .applet import Applet

S_IFCHR, S_IFBLK, S_IFIFO = 0o020000, 0o060000, 0o010000
UMASK = 0o022       # the guest shell's
# mknod's TYPE letters: u and c are both character devices
MKNOD_TYPES = {"b": S_IFBLK, "c": S_IFCHR, "u": S_IFCHR, "p": S_IFIFO}


def applet_mknod(app: Applet, argv: list[str]) -> int:
    """busybox mknod [-m MODE] NAME TYPE [MAJOR MINOR]: the usage when the operands do
    not fit, ``mknod: NAME: strerror`` when mknod(2) fails; the mode is 0666 (or -m's)
    less the umask."""
    options, args = app.getopt(argv, "m:")
    mode = 0o666
    if "m" in options:
        if not re.fullmatch(r"[0-7]+", options["m"]):
            app.die(f"invalid mode '{options['m']}'")
        mode = int(options["m"], 8)
    else:
        mode &= ~UMASK
    if len(args) < 2 or not args[1] or args[1][0] not in MKNOD_TYPES:
        app.usage()
    kind = MKNOD_TYPES[args[1][0]]
    rest = len(args)
    dev = 0
    if kind != S_IFIFO:
        rest -= 2
        if rest == 2:
            major = _xatoul(app, args[2], 0xFFF)
            minor = _xatoul(app, args[3], 0xFFFFF)
            dev = (major << 20) | minor
    if rest != 2:
        app.usage()
    name = args[0]
    rc = app.shell._sys("mknod", app.shell._abspath(name), kind | mode, dev)
    if rc < 0:
        app.die(f"{name}: {strerror(rc)}")
    return 0


def _xatoul(app: Applet, text: str, high: int) -> int:
    if not re.fullmatch(r"\d+", text):
        app.die(f"invalid number '{text}'")
    value = int(text)
    if value > high:
        app.die(f"number {text} is not in 0..{high} range")
    return value


# -- dd --------------------------------------------------------------------------------------

DD_SUFFIXES = {"c": 1, "w": 2, "b": 512, "kB": 1000, "kD": 1000, "k": 1024, "K": 1024,
               "MB": 1000000, "MD": 1000000, "M": 1 << 20, "GB": 10 ** 9, "GD": 10 ** 9,
               "G": 1 << 30}


def _dd_number(app: Applet, text: str) -> int:
    match = re.fullmatch(r"(\d+)([a-zA-Z]*)", text)
    if not match or (match.group(2) and match.group(2) not in DD_SUFFIXES):
        app.die(f"invalid number '{text}'")
    return int(match.group(1)) * DD_SUFFIXES.get(match.group(2), 1)


def _lseek(handle: Handle, offset: int) -> int:
    """lseek(fd, offset, SEEK_CUR) on one of the System's files; ESPIPE otherwise."""
    if isinstance(handle, FileHandle):
        return handle._syscall("lseek", handle._fd, offset, SEEK_CUR)
    return -E.ESPIPE


def applet_dd(app: Applet, argv: list[str]) -> int:
    """busybox dd: if= of= bs= ibs= obs= count= skip= seek= conv=notrunc,noerror,sync
    status=none|noxfer. skip= seeks the input, reading and dropping blocks when it cannot;
    seek= seeks the output; each block read is written whole. Errors: ``dd: can't open
    'F': strerror``, ``dd: F: strerror`` for a read, write or seek that fails (rc 1). The
    transfer line's time is kmodsim's (the real one's differs on every run)."""
    ops = {}
    for arg in argv[1:]:
        key, eq, value = arg.partition("=")
        if not eq or key not in ("if", "of", "bs", "ibs", "obs", "count", "skip", "seek",
                                 "conv", "status", "iflag", "oflag"):
            app.error(f"unknown operand {arg}")
            app.usage()
        ops[key] = value
    ibs = obs = 512
    if "bs" in ops:
        ibs = obs = _dd_number(app, ops["bs"])
    else:
        ibs = _dd_number(app, ops["ibs"]) if "ibs" in ops else ibs
        obs = _dd_number(app, ops["obs"]) if "obs" in ops else obs
    count = _dd_number(app, ops["count"]) if "count" in ops else None
    skip = _dd_number(app, ops["skip"]) if "skip" in ops else 0
    seek = _dd_number(app, ops["seek"]) if "seek" in ops else 0
    conv = set(filter(None, ops.get("conv", "").split(",")))
    status = ops.get("status", "")
    shell = app.shell
    infile, outfile = ops.get("if"), ops.get("of")
    ifd = shell.fds.get(0, NullHandle())
    if infile is not None:
        ifd = shell._open(shell._abspath(infile), O_RDONLY)
        if isinstance(ifd, int):
            app.die(f"can't open '{infile}': {strerror(ifd)}")
    ofd = None
    if outfile is not None:
        flags = O_WRONLY | O_CREAT | (0 if "notrunc" in conv else O_TRUNC)
        ofd = shell._open(shell._abspath(outfile), flags)
        if isinstance(ofd, int):
            app.die(f"can't open '{outfile}': {strerror(ofd)}")
    inname, outname = infile or "standard input", outfile or "standard output"
    stats = [0, 0, 0, 0, 0]      # in full, in part, out full, out part, bytes
    rc = 0
    try:
        if skip and _lseek(ifd, skip * ibs) < 0:
            for _ in range(skip):
                data = ifd.read(ibs)
                if isinstance(data, int):
                    app.error(f"{inname}: {strerror(data)}")
                    return 1
                if not data:
                    break
        if seek and ofd is not None and _lseek(ofd, seek * obs) < 0:
            err = _lseek(ofd, seek * obs)
            app.die(f"{outname}: {strerror(err)}")
        pending = bytearray()
        while count is None or stats[0] + stats[1] < count:
            data = ifd.read(ibs)
            if isinstance(data, int):
                app.error(f"{inname}: {strerror(data)}")
                rc = 1
                break
            if not data:
                break
            stats[0 if len(data) == ibs else 1] += 1
            if "sync" in conv and len(data) < ibs:
                data += bytes(ibs - len(data))
            pending += data
            while len(pending) >= obs or (pending and ibs == obs):
                block, pending = bytes(pending[:obs]), pending[obs:]
                if not _dd_write(app, ofd, block, stats, obs, outname):
                    rc = 1
                    break
            if rc:
                break
        if pending and not rc:
            if not _dd_write(app, ofd, bytes(pending), stats, obs, outname):
                rc = 1
    finally:
        if infile is not None and not isinstance(ifd, int):
            ifd.close()
        if ofd is not None:
            ofd.close()
    if status != "none":
        app.flush()
        shell._puts(2, f"{stats[0]}+{stats[1]} records in\n{stats[2]}+{stats[3]} records out\n")
        if status != "noxfer":
            shell._puts(2, f"{stats[4]} bytes ({_human(stats[4])}) copied, 0.000100 seconds, "
                           f"{_human(stats[4] * 10000)}/s\n")
    return rc


def _dd_write(app: Applet, ofd, block: bytes, stats: list, obs: int, outname: str) -> bool:
    if ofd is None:
        err = app.out(block)
    else:
        err = full_write(ofd, block)
    if err < 0:
        app.error(f"{outname}: {strerror(err)}")
        return False
    stats[2 if len(block) == obs else 3] += 1
    stats[4] += len(block)
    return True


def _human(n: int) -> str:
    """make_human_readable_str(n, 1, 0): "8B", "1.0KB", "3.5MB"."""
    if n < 1024:
        return f"{n}B"
    for unit in "KMGT":
        n /= 1024
        if n < 1024:
            return f"{n:.1f}{unit}B"
    return f"{n:.1f}PB"


__all__ = ["applet_dd", "applet_mknod", "normpath"]


def applet_mount(app: Applet, argv: list[str]) -> int:
    """busybox mount -t TYPE SOURCE DIR (-o OPTIONS taken and ignored): mount(2);
    ``mount: mounting SOURCE on DIR failed: strerror``. Listing the mounts (no operands)
    and the other forms are not simulated."""
    from ..control import NotSimulated
    args, fstype, i = argv[1:], None, 0
    operands = []
    while i < len(args):
        arg = args[i]
        if arg in ("-t", "-o") and i + 1 < len(args):
            if arg == "-t":
                fstype = args[i + 1]
            i += 2
            continue
        if arg.startswith("-"):
            raise NotSimulated(f"mount {arg}")
        operands.append(arg)
        i += 1
    if len(operands) != 2 or fstype is None:
        raise NotSimulated("mount without -t TYPE SOURCE DIR")
    source, target = operands
    rc = app.shell._sys("mount", source, app.shell._abspath(target), fstype, 0)
    if rc < 0:
        app.die(f"mounting {source} on {target} failed: {strerror(rc)}")
    return 0


# -- kmodsim-irq (not busybox) ----------------------------------------------------------------

def applet_kmodsim_irq(app: Applet, argv: list[str]) -> int:
    """``kmodsim-irq IRQ [COUNT]``: kmodsim only, no busybox or kernel command: interrupt
    line IRQ fires COUNT times (default 1), each time running its handlers in hard
    interrupt context (emulator.kapi.irq.raise_irq), as a device would. A line nobody
    requested: ``kmodsim-irq: no handler on IRQ N``, status 1."""
    args = argv[1:]
    if not 1 <= len(args) <= 2 or not all(re.fullmatch(r"\d{1,4}", a) for a in args):
        app.die("usage: kmodsim-irq IRQ [COUNT]  (kmodsim only: fire an interrupt line)", 2)
    irq, count = int(args[0]), int(args[1]) if len(args) == 2 else 1
    for _ in range(count):
        if not app.shell._sys("raise_irq", irq):
            app.die(f"no handler on IRQ {irq}")
    return 0
