"""The applets that show files: cat, head, ls, stat (-c), tail and tee."""

from __future__ import annotations

import errno as E
import posixpath
import re

from ...vfs import is_kernel_path
from ..control import NotSimulated
from ..handles import FileHandle, Handle, NullHandle, full_write
from ..process import ShellProcess
from ..syscalls import O_APPEND, O_CREAT, O_TRUNC, O_WRONLY, Stat, normpath, strerror
from .applet import (Applet, arg_bytes, bytes_text, c_format, lines_keepends, open_input,
                     read_until_error)


# -- file applets ---------------------------------------------------------------------------

def applet_cat(app: Applet, argv: list[str]) -> int:
    """busybox cat: ``can't open 'X': strerror`` and ``read error: strerror`` (a
    directory opens, then read fails with EISDIR); the next file is still printed; rc 1."""
    options, names = app.getopt(argv, "nbvteAu")
    if set(options) - {"u"}:
        raise NotSimulated(f"cat -{''.join(sorted(set(options) - {'u'}))}")
    status = 0
    for name in names or ["-"]:
        handle = open_input(app, name)
        if isinstance(handle, int):
            app.error(f"can't open '{name}': {strerror(handle)}")
            status = 1
            continue
        try:
            while True:
                data = handle.read(4096)
                if isinstance(data, int):
                    app.error(f"read error: {strerror(data)}")
                    status = 1
                    break
                if not data:
                    break
                err = app.out(data)
                if err < 0:
                    app.error(f"write error: {strerror(err)}")
                    status = 1
                    break
        finally:
            if name != "-":
                handle.close()
    return status


def applet_head(app: Applet, argv: list[str]) -> int:
    """busybox head (FEATURE_FANCY_HEAD): -n N, -c N, -N, -n -N, -q, -v; headers
    ``==> NAME <==`` (a blank line before all but the first) with more than one file;
    ``head: NAME: strerror`` when it cannot open, ``Input/output error`` on a read error."""
    args = list(argv)
    if len(args) > 1 and re.fullmatch(r"-\d.*", args[1]):
        args[1:2] = ["-n", args[1][1:]]
    options, names = app.getopt(args, "n:c:qv")
    count_text = options.get("c", options.get("n", "10"))
    negative = count_text.startswith("-")
    count = head_count(app, count_text.lstrip("-+"))
    names = names or ["-"]
    headers = len(names) > 1
    if "q" in options:
        headers = False
    if "v" in options:
        headers = True
    status, first = 0, True
    for name in names:
        handle = open_input(app, name)
        if isinstance(handle, int):
            app.error(f"{name}: {strerror(handle)}")
            status = 1
            continue
        if headers:
            label = "standard input" if name == "-" else name
            app.out(("" if first else "\n") + f"==> {label} <==\n")
        first = False
        # stdio reads 4096 bytes at a time and head stops once it has its count (head -c
        # N /dev/zero ends); all but the last N needs everything
        limit = None if negative else count
        data = read_stream(handle, limit=limit, lines="c" not in options)
        if name != "-":
            handle.close()
        if isinstance(data, int):
            app.error(f"{name}: {strerror(E.EIO)}")
            status = 1
            continue
        app.out(head_select(data, count, "c" in options, negative))
    return status


def read_stream(handle: Handle, limit: int | None = None, lines: bool = False,
                chunk: int = 4096) -> bytes | int:
    """Read to the end, as stdio does (``chunk`` at a time), or until ``limit`` bytes
    (``lines``: newlines) are in; -errno if a read fails."""
    out = bytearray()
    while limit is None or (out.count(b"\n") if lines else len(out)) < limit:
        data = handle.read(chunk)
        if isinstance(data, int):
            return data
        if not data:
            break
        out += data
    return bytes(out)


def head_count(app: Applet, text: str) -> int:
    match = re.fullmatch(r"(\d+)(b|k|m)?", text)
    if not match:
        app.die(f"invalid number '{text}'")
    return int(match.group(1)) * {None: 1, "b": 512, "k": 1024, "m": 1024 * 1024}[match.group(2)]


def head_select(data: bytes, count: int, in_bytes: bool, negative: bool) -> bytes:
    if in_bytes:
        return data[:max(len(data) - count, 0)] if negative else data[:count]
    lines = lines_keepends(data)
    return b"".join(lines[:max(len(lines) - count, 0)] if negative else lines[:count])


def applet_ls(app: Applet, argv: list[str]) -> int:
    """busybox ls without -l: one name a line when stdout is not a tty, else columns
    (terminal width 80 - 1, column width = longest name + 2, filled down the columns;
    -x across). Files given first, then each directory (``NAME:`` headers when more
    than one argument); a missing one is ``ls: NAME: strerror`` and rc 1."""
    options, names = app.getopt(argv, "1AaCxdLHRFplinshrSXvctuw:")
    unsupported = set(options) - set("1AaCxdLHFpw")
    if unsupported:
        raise NotSimulated(f"ls -{''.join(sorted(unsupported))}")
    shell = app.shell
    width = app.number(options["w"]) if "w" in options else 80 - 1
    columns = not ("1" in options or not app.tty and "C" not in options and "x" not in options)
    layout = dict(columns=columns, across="x" in options, width=width,
                  slash="p" in options or "F" in options)
    status, files, dirs = 0, [], []
    for name in names or ["."]:
        stat = shell._stat(shell._abspath(name))
        if isinstance(stat, int):
            app.error(f"{name}: {strerror(stat)}")
            status = 1
            continue
        (dirs if stat.is_dir and "d" not in options else files).append((name, stat))
    if files:
        app.out(ls_format(sorted(files), **layout))
    show_names = len(names) > 1
    for index, (name, _) in enumerate(sorted(dirs)):
        if show_names:
            app.out(("\n" if files or index else "") + f"{name}:\n")
        entries = shell._list_dir(shell._abspath(name))
        if isinstance(entries, int):
            app.error(f"{name}: {strerror(entries)}")
            status = 1
            continue
        if "a" in options:
            entries = [".", ".."] + list(entries)
        elif "A" not in options:
            entries = [e for e in entries if not e.startswith(".")]
        listed = []
        for entry in sorted(entries):
            stat = shell._stat(shell._abspath(posixpath.join(name, entry)))
            listed.append((entry, stat if isinstance(stat, Stat) else Stat(False)))
        app.out(ls_format(listed, **layout))
    return status


def ls_format(entries: list, columns: bool, across: bool, width: int, slash: bool) -> str:
    """display_files() of busybox ls."""
    if not entries:
        return ""
    names = [name + ("/" if slash and stat.is_dir else "") for name, stat in entries]
    if not columns:
        return "".join(name + "\n" for name in names)
    column_width = max(len(name) for name in names) + 2
    ncols = max(width // column_width, 1)
    nrows = -(-len(names) // ncols)
    out = []
    for row in range(nrows):
        line, next_tab = "", 0
        for col in range(ncols):
            index = row * ncols + col if across else col * nrows + row
            if index < len(names):
                line = line.ljust(next_tab)  # pad to where this column starts
                next_tab = len(line) + column_width
                line += names[index]
        out.append(line + "\n")
    return "".join(out)


# -- stat -----------------------------------------------------------------------------------

# the %-sequences of stat -c the simulation cannot answer: inodes, device numbers, times
STAT_UNSIMULATED = frozenset("dDixXyYzZ")
STAT_TYPE_BITS = {"-": 0o100000, "d": 0o040000, "c": 0o020000, "b": 0o060000,
                  "p": 0o010000, "l": 0o120000, "s": 0o140000}
STAT_TYPE_NAMES = {"d": "directory", "c": "character special file", "b": "block special file",
                   "p": "fifo", "l": "symbolic link", "s": "socket"}


def mode_string(kind: str, mode: int) -> str:
    """bb_mode_string: ``drwxr-xr-x``, with s/S t/T for set-id and sticky bits."""
    chars = [kind]
    for shift, special, mark in ((6, 0o4000, "s"), (3, 0o2000, "s"), (0, 0o1000, "t")):
        bits = mode >> shift
        chars.append("r" if bits & 4 else "-")
        chars.append("w" if bits & 2 else "-")
        execute = bits & 1
        if mode & special:
            chars.append(mark if execute else mark.upper())
        else:
            chars.append("x" if execute else "-")
    return "".join(chars)


def account_name(shell: ShellProcess, path: str, ident: int) -> str:
    """bb_internal getpwuid/getgrgid (USE_BB_PWD_GRP): the name on /etc/passwd's or
    /etc/group's line for ``ident``; the guest has no /etc, hence ``UNKNOWN``."""
    data = shell.read_file(path)
    if isinstance(data, bytes):
        for line in data.split(b"\n"):
            fields = line.split(b":")
            if len(fields) >= 3 and fields[2] == str(ident).encode():
                return bytes_text(fields[0])
    return "UNKNOWN"


def applet_stat(app: Applet, argv: list[str]) -> int:
    """busybox stat (FEATURE_STAT_FORMAT): -c FMT per file, as print_it() does: the text
    between %-sequences as is, each %[#-+. 0-9I]X through printf, %% a "%", a "%" at the
    very end printed and no newline; otherwise a newline ends each file's line. A file
    that cannot be stat'ed: ``stat: can't stat 'F': strerror`` and rc 1 (the others are
    still shown). Without -c (or with -t, -f, or sequences for inodes, devices, blocks or
    times) it is not simulated: the simulation keeps none of those."""
    options, names = app.getopt(argv, "tLfc:")
    if not names:
        app.usage()
    if "f" in options:
        raise NotSimulated("stat -f")
    if "c" not in options:
        raise NotSimulated("stat without -c (inodes, devices and times are not simulated)")
    fmt = arg_bytes(options["c"])
    pieces = stat_parse(fmt)
    for piece in pieces:
        if isinstance(piece, tuple) and piece[1] in STAT_UNSIMULATED:
            raise NotSimulated(f"stat -c %{piece[1]}")
    shell, ok = app.shell, True
    for name in names:
        path = shell._abspath(name)
        stat = shell._stat(path) if path else -E.ENOENT
        if isinstance(stat, int):
            app.error(f"can't stat '{name}': {strerror(stat)}")
            ok = False
            continue
        out = bytearray()
        for piece in pieces:
            if isinstance(piece, bytes):
                out += piece
            else:
                out += arg_bytes(stat_field(app, piece[0], piece[1], name, path, stat))
        app.write(bytes(out))
    return 0 if ok else 1


def stat_parse(fmt: bytes) -> list:
    """print_it()'s walk over the format: bytes to print and (modifiers, letter) pairs;
    the newline puts() adds is the last piece unless the format ends in a lone "%"."""
    pieces, pos = [], 0
    while True:
        at = fmt.find(b"%", pos)
        if at < 0:
            pieces.append(fmt[pos:] + b"\n")
            return pieces
        pieces.append(fmt[pos:at])
        end = at + 1
        while end < len(fmt) and chr(fmt[end]) in "#-+.I 0123456789":
            end += 1
        if end >= len(fmt):
            pieces.append(b"%")
            return pieces
        letter = chr(fmt[end])
        pieces.append(b"%" if letter == "%" else (bytes_text(fmt[at + 1:end]), letter))
        pos = end + 1


def stat_field(app: Applet, mods: str, letter: str, name: str, path: str, stat: Stat) -> str:
    kind = stat.type
    if letter in "nN":
        return c_format(f"%{mods}s", name)
    if letter == "a":
        return c_format(f"%{mods}o", stat.mode & 0o7777)
    if letter == "A":
        return c_format(f"%{mods}s", mode_string(kind, stat.mode))
    if letter == "f":
        return c_format(f"%{mods}x", STAT_TYPE_BITS.get(kind, 0) | stat.mode & 0o7777)
    if letter == "F":
        if kind == "-":
            text = "regular empty file" if stat.size == 0 else "regular file"
        else:
            text = STAT_TYPE_NAMES.get(kind, "weird file")
        return c_format(f"%{mods}s", text)
    if letter in "ug":
        return c_format(f"%{mods}u", 0)
    if letter in "UG":
        return c_format(f"%{mods}s", account_name(
            app.shell, "/etc/passwd" if letter == "U" else "/etc/group", 0))
    if letter == "s":
        return c_format(f"%{mods}u", stat.size)
    if letter == "B":
        return c_format(f"%{mods}u", 512)
    if letter == "o":  # st_blksize: procfs says 1024, sysfs, devtmpfs and tmpfs a page
        return c_format(f"%{mods}u", 1024 if path == "/proc" or path.startswith("/proc/")
                        else 4096)
    if letter == "b":  # st_blocks: only the rootfs (tmpfs) has pages behind its files
        blocks = 0
        if kind == "-" and not is_kernel_path(path):
            blocks = -(-stat.size // 4096) * 8
        return c_format(f"%{mods}u", blocks)
    if letter in "tT":
        return c_format(f"%{mods}x", stat.rdev[0 if letter == "t" else 1])
    if letter == "h":
        return c_format(f"%{mods}u", link_count(app, path, stat))
    return c_format(f"%{mods}c", letter)


def link_count(app: Applet, path: str, stat: Stat) -> int:
    """st_nlink: 1 for a file; 2 and one per subdirectory for a directory, as tmpfs,
    devtmpfs and sysfs (kernfs) count them; 1 for a /proc/sys directory (sysctl). The rest
    of procfs counts its own way (/proc: processes): not simulated."""
    if not stat.is_dir:
        return 1
    if path.startswith("/proc/sys"):
        return 1
    if path == "/proc" or path.startswith("/proc/"):
        raise NotSimulated("stat %h of a /proc directory")
    entries = app.shell._list_dir(path)
    if isinstance(entries, int):
        return 2
    subdirs = 0
    for entry in entries:
        child = app.shell._stat(normpath(posixpath.join(path, entry)))
        subdirs += isinstance(child, Stat) and child.is_dir
    return 2 + subdirs


# -- tail, tee -----------------------------------------------------------------------------

def size_suffix_number(app: Applet, text: str) -> int:
    """xatou_sfx with b (512), k (1024), m (1024*1024)."""
    match = re.fullmatch(r"(\d+)([bkm]?)", text)
    if not match:
        app.die(f"invalid number '{text}'")
    value = int(match.group(1)) * {"": 1, "b": 512, "k": 1024, "m": 1 << 20}[match.group(2)]
    if value > 0xFFFFFFFF:
        app.die(f"number {text} is not in 0..4294967295 range")
    return value


def applet_tail(app: Applet, argv: list[str]) -> int:
    """busybox tail (FANCY_TAIL): -n [+]N, -c [+]N (b k m suffixes), -N, -q, -v. Files
    that do not open (``tail: can't open 'F': strerror``) are dropped, so one left out of
    two has no header; none left: ``tail: no files``. Headers ``==> F <==`` with a blank
    line before all but the first. A read error: ``tail: read error: strerror``, rc 1.
    -c N on a file with a size seeks to size - N first: a sysfs attribute (4096 bytes as
    stat says, much less to read) gives nothing there, as on the real kernel."""
    args = list(argv)
    from_top = False
    count_text = None
    if len(args) > 1 and len(args[1]) > 1 and args[1][0] in "+-" and args[1][1].isdigit():
        count_text = args.pop(1)
    options, names = app.getopt(args, "fc:n:qs:vF")
    if options.keys() & {"f", "F"}:
        raise NotSimulated("tail -f")
    in_bytes = "c" in options
    for key in ("c", "n"):
        if key in options:
            count_text = options[key]
    count = 10
    if count_text is not None:
        if count_text[:1] == "+":
            from_top = True
        count = size_suffix_number(app, count_text[1:] if count_text[:1] in "+-" else count_text)
    threshold = 1
    if "q" in options:
        threshold = float("inf")
    if "v" in options:
        threshold = 0
    status = 0
    opened = []
    for name in names or ["-"]:
        handle = open_input(app, name)
        if isinstance(handle, int):
            app.error(f"can't open '{name}': {strerror(handle)}")
            status = 1
            continue
        opened.append((name, handle))
    if not opened:
        app.die("no files")
    header = "==> %s <==\n"
    for name, handle in opened:
        if len(opened) > threshold:
            app.out(header % ("standard input" if name == "-" and not names else name))
            header = "\n==> %s <==\n"
        data, err = read_until_error(handle)
        if name != "-":
            handle.close()
        size = tail_seekable_size(app, name, handle)
        if not from_top and in_bytes and size:
            if count:
                app.out(data[max(size - count, 0):][:count])
            continue
        if err:
            app.error(f"read error: {strerror(err)}")
            status = 1
        if from_top:
            if in_bytes:
                app.out(data[max(count - 1, 0):])
            else:
                app.out(b"".join(lines_keepends(data)[max(count - 1, 0):]))
        elif count:
            if in_bytes:
                app.out(data[-count:])
            else:
                app.out(b"".join(lines_keepends(data)[-count:]))
    return status


def tail_seekable_size(app: Applet, name: str, handle: Handle) -> int:
    """What lseek(fd, 0, SEEK_END) returns: a named file's st_size (0 for a pipe)."""
    if name == "-":  # stdin: a file only if redirected from one
        size = handle.seek_end() if isinstance(handle, FileHandle) else 0
        return max(size, 0)
    stat = app.shell._stat(app.shell._abspath(name))
    return stat.size if isinstance(stat, Stat) and not stat.is_dir else 0


def applet_tee(app: Applet, argv: list[str]) -> int:
    """busybox tee [-ai] FILE...: each read of stdin (up to COMMON_BUFSIZE) written to
    stdout then to each file, unbuffered; a file that does not open: ``tee: F:
    strerror``, rc 1; a file whose write failed: ``tee: F: I/O error`` at the end."""
    options, names = app.getopt(argv, "ia")
    shell = app.shell
    flags = O_WRONLY | O_CREAT | (O_APPEND if "a" in options else O_TRUNC)
    status = 0
    outputs = []  # [name, handle, failed]
    for name in names:
        if name == "-":
            outputs.append([name, shell.fds.get(1), False])
            continue
        handle = shell._open(shell._abspath(name), flags)
        if isinstance(handle, int):
            app.error(f"{name}: {strerror(handle)}")
            status = 1
            continue
        outputs.append([name, handle, False])
    stdin = shell.fds.get(0, NullHandle())
    stdout_failed = False
    try:
        while True:
            data = stdin.read(1024)
            if isinstance(data, int):
                status = 1
                break
            if not data:
                break
            stdout_failed |= app.out(data) < 0
            for entry in outputs:
                if entry[1] is not None and full_write(entry[1], data) < 0:
                    entry[2] = True
    finally:
        for name, handle, _ in outputs:
            if name != "-" and handle is not None:
                handle.close()
    for name, _, failed in outputs:
        if failed:
            app.die(f"{name}: I/O error")
    return status
