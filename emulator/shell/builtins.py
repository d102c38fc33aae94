"""Builtins (run inside the shell process): echo, printf, true, false, :, cd, pwd, exit,
return, break, continue, shift, set, export, unset, local, read, eval, ``.`` (source), and
test/[ from :mod:`.testexpr`; ``BUILTINS`` maps each name to its function."""

from __future__ import annotations

import errno as E
import re

from .control import ExitShell, FatalError, LoopControl, ReturnFromFunction
from .patterns import IFS_WHITESPACE, split_fields
from .process import ShellProcess
from .syntax import Parser, ShellSyntaxError
from .syscalls import Stat, strerror
from .testexpr import builtin_test


def builtin_echo(shell: ShellProcess, argv: list[str]) -> int:
    """busybox coreutils/echo.c (FEATURE_FANCY_ECHO): -n, -e, -E; one write(2)."""
    args = argv[1:]
    newline, escapes = True, False
    while args and args[0].startswith("-") and len(args[0]) > 1 \
            and all(c in "neE" for c in args[0][1:]):
        for c in args[0][1:]:
            if c == "n":
                newline = False
            else:
                escapes = c == "e"
        args = args[1:]
    out, stop = [], False
    for index, arg in enumerate(args):
        if index:
            out.append(" ")
        if escapes:
            text, stop = process_escapes(arg, echo=True)
            out.append(text)
            if stop:
                break
        else:
            out.append(arg)
    if newline and not stop:
        out.append("\n")
    err = shell._puts(1, "".join(out))
    if err < 0:
        shell._puts(2, f"sh: write error: {strerror(err)}\n")
        return 1
    return 0


def byte_char(value: int) -> str:
    """The character that stands for one byte in the shell's strings: bytes that are not
    ASCII are kept surrogate-escaped, so \\240 writes the byte 0xa0, not UTF-8."""
    return chr(value) if value < 0x80 else chr(0xDC00 + value)


def process_escapes(text: str, echo: bool = False) -> tuple[str, bool]:
    """bb_process_escape_sequence over a string: (result, saw \\c)."""
    out, i = [], 0
    simple = {"a": "\a", "b": "\b", "e": "\x1b", "f": "\f", "n": "\n", "r": "\r",
              "t": "\t", "v": "\v", "\\": "\\"}
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 >= len(text):
            out.append(c)
            i += 1
            continue
        i += 1
        if text[i] == "c":
            return "".join(out), True
        if echo and text[i] == "0" and i + 1 < len(text) and text[i + 1] in "01234567":
            i += 1
        if text[i] == "x":
            digits = re.match(r"[0-9a-fA-F]{1,2}", text[i + 1:])
            if digits:
                out.append(byte_char(int(digits.group(), 16)))
                i += 1 + len(digits.group())
            else:
                out.append("\\")
            continue
        digits = re.match(r"[0-7]{1,3}", text[i:])
        if digits:
            value, used = 0, 0
            for d in digits.group():
                if value * 8 + int(d) > 255:
                    break
                value, used = value * 8 + int(d), used + 1
            out.append(byte_char(value))
            i += used
            continue
        if text[i] in simple:
            out.append(simple[text[i]])
            i += 1
        else:
            out.append("\\")
    return "".join(out), False


def builtin_printf(shell: ShellProcess, argv: list[str]) -> int:
    """busybox printf: the format is reused until the arguments run out."""
    if len(argv) < 2:
        shell._puts(2, "printf: usage: printf FORMAT [ARGUMENT...]\n")
        return 2
    fmt, args, out, status = argv[1], argv[2:], [], 0
    spec = re.compile(r"%([-+ #0]*)(\d*|\*)(?:\.(\d*|\*))?([diouxXcsb%])")
    while True:
        used = 0
        pos = 0
        stop = False
        for match in spec.finditer(fmt):
            text, stop = process_escapes(fmt[pos:match.start()])
            out.append(text)
            pos = match.end()
            if stop:
                break
            flags, width, precision, conv = match.groups()
            if conv == "%":
                out.append("%")
                continue
            if width == "*":
                width, used = (args[used] if used < len(args) else "0"), used + 1
            if precision == "*":
                precision, used = (args[used] if used < len(args) else "0"), used + 1
            arg = args[used] if used < len(args) else ""
            used += 1
            pyspec = "%" + flags + width + ("." + precision if precision is not None else "")
            if conv in "diouxX":
                try:
                    number = int(arg, 0) if arg else 0
                except ValueError:
                    shell._puts(2, f"printf: invalid number '{arg}'\n")
                    number, status = 0, 1
                out.append((pyspec + ("d" if conv in "iu" else conv)) % number)
            elif conv == "c":
                out.append(arg[:1])
            elif conv == "b":
                text, stop = process_escapes(arg, echo=True)
                out.append((pyspec + "s") % text)
                if stop:
                    break
            else:
                out.append((pyspec + "s") % arg)
        if not stop:
            text, stop = process_escapes(fmt[pos:])
            out.append(text)
        args = args[used:]
        if stop or not args or used == 0:
            break
    if shell._puts(1, "".join(out)) < 0:
        # printf writes through stdio; ash's evalbuiltin ORs ferror(stdout) into the
        # status after flushing, and says nothing (a sysfs store refusing "5\n\n")
        status |= 1
    return status


def builtin_true(shell: ShellProcess, argv: list[str]) -> int:
    return 0


def builtin_false(shell: ShellProcess, argv: list[str]) -> int:
    return 1


def builtin_cd(shell: ShellProcess, argv: list[str]) -> int:
    args = [a for a in argv[1:] if a not in ("-L", "-P")]
    target = args[0] if args else shell.vars.get("HOME", "/")
    announce = target == "-"
    if announce:
        target = shell.vars.get("OLDPWD", shell.cwd)
    path = shell._abspath(target)
    stat = shell._stat(path)
    if isinstance(stat, Stat) and not stat.is_dir:
        stat = -E.ENOTDIR
    if isinstance(stat, int):
        shell._error(f"can't cd to {target}: {strerror(stat)}")
        return 2
    shell.vars["OLDPWD"], shell.cwd = shell.cwd, path
    shell.vars["PWD"] = path
    if announce:
        shell._puts(1, path + "\n")
    return 0


def builtin_pwd(shell: ShellProcess, argv: list[str]) -> int:
    shell._puts(1, shell.cwd + "\n")
    return 0


def _number_arg(shell: ShellProcess, argv: list[str], default: int) -> int | None:
    if len(argv) < 2:
        return default
    if not re.fullmatch(r"\d+", argv[1]):
        shell._error(f"Illegal number: {argv[1]}")
        return None
    return int(argv[1])


def builtin_exit(shell: ShellProcess, argv: list[str]) -> int:
    status = _number_arg(shell, argv, shell.status)
    raise ExitShell(2 if status is None else status & 0xFF)


def builtin_return(shell: ShellProcess, argv: list[str]) -> int:
    status = _number_arg(shell, argv, shell.status)
    raise ReturnFromFunction(2 if status is None else status & 0xFF)


def builtin_break(shell: ShellProcess, argv: list[str]) -> int:
    levels = _number_arg(shell, argv, 1)
    if levels is None or levels == 0:
        if levels == 0:
            shell._error("Illegal number: 0")
        return 2
    if shell._loop_depth:
        raise LoopControl(argv[0], min(levels, shell._loop_depth))
    return 0


def builtin_shift(shell: ShellProcess, argv: list[str]) -> int:
    count = _number_arg(shell, argv, 1)
    if count is None:
        return 2
    if count > len(shell.positional):
        return 1
    shell.positional = shell.positional[count:]
    return 0


def builtin_set(shell: ShellProcess, argv: list[str]) -> int:
    if len(argv) == 1:
        for name in sorted(shell.vars):
            shell._puts(1, f"{name}={quote(shell.vars[name])}\n")
        return 0
    if argv[1] == "--":
        shell.positional = argv[2:]
        return 0
    raise_not_simulated(shell, f"set {argv[1]}")
    return 2


def builtin_export(shell: ShellProcess, argv: list[str]) -> int:
    for arg in argv[1:]:
        name, eq, value = arg.partition("=")
        if eq:
            shell.setvar(name, value)
        shell.exported.add(name)
    return 0


def builtin_unset(shell: ShellProcess, argv: list[str]) -> int:
    for name in argv[1:]:
        if name in ("-v", "-f"):
            continue
        if "-f" in argv:
            shell.functions.pop(name, None)
        else:
            shell.vars.pop(name, None)
    return 0


def builtin_local(shell: ShellProcess, argv: list[str]) -> int:
    if not shell._local_frames:
        shell._error("not in a function")
        return 2
    frame = shell._local_frames[-1]
    for arg in argv[1:]:
        name, eq, value = arg.partition("=")
        frame.setdefault(name, shell.vars.get(name))
        if eq:
            shell.setvar(name, value)
    return 0


def builtin_read(shell: ShellProcess, argv: list[str]) -> int:
    """read [-r] NAME...: one line from stdin, split like fields, the rest to the last."""
    args = argv[1:]
    raw = bool(args) and args[0] == "-r"
    if raw:
        args = args[1:]
    names = args or ["REPLY"]
    handle = shell.fds.get(0)
    line, eof = bytearray(), True
    while handle is not None:
        byte = handle.read(1)
        if isinstance(byte, int) or not byte:
            break
        if byte == b"\n":
            if not raw and line.endswith(b"\\"):
                line.pop()
                continue
            eof = False
            break
        line += byte
    text = line.decode("utf-8", "surrogateescape")
    if not raw:
        text = re.sub(r"\\(.)", r"\1", text)
    ifs = shell.vars.get("IFS", IFS_WHITESPACE)
    text = text.strip(IFS_WHITESPACE if ifs == IFS_WHITESPACE else "")
    for index, name in enumerate(names):
        if index == len(names) - 1:
            shell.setvar(name, text.strip())
            break
        pieces = text.split(None, 1) if ifs == IFS_WHITESPACE else split_fields(text, ifs)[:1]
        shell.setvar(name, pieces[0] if pieces else "")
        text = pieces[1] if len(pieces) > 1 else ""
    return 1 if eof and not line else (1 if eof else 0)


def builtin_eval(shell: ShellProcess, argv: list[str]) -> int:
    source = " ".join(argv[1:])
    saved = shell.commandname
    shell.commandname = shell.arg0 if not shell.interactive else None
    try:
        parser, status = Parser(source, shell.lineno), 0
        while (node := parser.command_line()) is not None:
            status = shell.status = shell.run(node)
        return status
    except ShellSyntaxError as exc:
        shell._error(f"syntax error: {exc.message}")
        raise FatalError() from None
    finally:
        shell.commandname = saved


def builtin_dot(shell: ShellProcess, argv: list[str]) -> int:
    if len(argv) < 2:
        return 0
    data = shell.read_file(argv[1])
    if isinstance(data, int):
        shell._error(f"can't open '{argv[1]}'")
        raise FatalError()
    saved = shell.commandname
    try:
        shell.commandname = argv[1]
        parser, status = Parser(data.decode("utf-8", "surrogateescape")), 0
        while (node := parser.command_line()) is not None:
            status = shell.status = shell.run(node)
        return status
    except ReturnFromFunction as exc:
        return exc.status
    finally:
        shell.commandname = saved


def raise_not_simulated(shell: ShellProcess, what: str) -> None:
    shell._puts(2, f"kmodsim: {what}: not simulated\n")


def quote(value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_./:=+-]+", value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


BUILTINS = {
    "echo": builtin_echo, "printf": builtin_printf, "true": builtin_true,
    ":": builtin_true, "false": builtin_false, "cd": builtin_cd, "pwd": builtin_pwd,
    "exit": builtin_exit, "return": builtin_return, "break": builtin_break,
    "continue": builtin_break, "shift": builtin_shift, "set": builtin_set,
    "export": builtin_export, "unset": builtin_unset, "local": builtin_local,
    "read": builtin_read, "eval": builtin_eval, ".": builtin_dot, "source": builtin_dot,
    "test": builtin_test, "[": builtin_test, "[[": builtin_test,
}
