"""An applet's process (:class:`Applet`: stdio, messages, getopt, usage) and what the
applets share: opening and reading an input, lines, C strings, glibc's printf and strtod,
stdio's buffered writes."""

from __future__ import annotations

import re

from ..control import AppletExit, NotSimulated
from ..handles import Handle, NullHandle, full_write
from ..process import ShellProcess
from ..syscalls import O_RDONLY, strerror
from .usage import BUSYBOX_BANNER, USAGE


class Applet:
    """An applet's process: its name (for messages), stdout (stdio) and stderr.

    ``write`` is stdio's stdout: line-buffered on the console (a tty), fully buffered
    (BUFSIZ 4096) elsewhere, so a grep redirected into a sysfs file or /dev/kmsg makes
    one write(2) as the real one does; ``out`` writes at once (full_write, xwrite).
    Messages on stderr flush stdout first (bb_verror_msg's fflush_all); so does the exit.
    """

    STDIO_BUFSIZ = 4096

    def __init__(self, shell: ShellProcess, name: str):
        self.shell = shell
        self.name = name
        self._stdout = bytearray()
        self.exit_status = 1  # xfunc_error_retval: what a usage or fatal error exits with

    @property
    def tty(self) -> bool:
        return self.shell.fds.get(1, NullHandle()).console

    def out(self, data: str | bytes) -> int:
        self.flush()
        return self.shell._puts(1, data)

    def write(self, data: str | bytes) -> None:
        """printf/puts/fwrite to stdout."""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        if self.tty:
            self.shell._puts(1, data)
            return
        self._stdout += data
        if len(self._stdout) >= self.STDIO_BUFSIZ:
            self.flush()

    def flush(self) -> int:
        """fflush(stdout): 0, or -errno of the write(2) that failed (the data is dropped)."""
        if not self._stdout:
            return 0
        data, self._stdout = bytes(self._stdout), bytearray()
        return self.shell._puts(1, data)

    def fflush_stdout_and_exit(self, status: int) -> int:
        """libbb fflush_stdout_and_exit: a failed flush says ``standard output: strerror``."""
        err = self.flush()
        if err < 0:
            self.error(f"standard output: {strerror(err)}")
        return status

    def error(self, message: str) -> None:
        """bb_error_msg: ``applet: message`` (stdio flushed first: program order)."""
        self.flush()
        self.shell._puts(2, f"{self.name}: {message}\n")

    def die(self, message: str, status: int | None = None):
        self.error(message)
        raise AppletExit(self.exit_status if status is None else status)

    def usage(self, status: int | None = None):
        """bb_show_usage: the banner and usage on stderr, exit xfunc_error_retval."""
        self.flush()
        self.shell._puts(2, BUSYBOX_BANNER + USAGE[self.name])
        raise AppletExit(self.exit_status if status is None else status)

    def getopt(self, argv: list[str], spec: str) -> tuple[dict, list[str]]:
        """getopt32 for ``spec`` like "cs:n:r": {option: value or True}, operands."""
        pairs, args = self.getopt_list(argv, spec)
        return dict(pairs), args

    def getopt_list(self, argv: list[str], spec: str, longopts: dict | None = None,
                    ) -> tuple[list, list[str]]:
        """glibc getopt_long as getopt32 drives it: [(option, value or True)] in command-line
        order, and the operands. glibc permutes (options may follow operands) unless
        ``spec`` starts with "+" (stop at the first operand). ``longopts`` maps a long name
        to whether it takes an optional ``=VALUE`` (returned as ("--name", value)); a
        unique prefix of a long name is accepted, as glibc does. Errors print glibc's
        message and the usage (exit ``exit_status``)."""
        permute = not spec.startswith("+")
        spec = spec.lstrip("+")
        longopts = longopts or {}
        pairs, args, i = [], list(argv[1:]), 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                del args[i]
                break
            if not arg.startswith("-") or arg == "-":
                if not permute:
                    break
                i += 1
                continue
            del args[i]
            if arg.startswith("--"):
                name, eq, value = arg[2:].partition("=")
                found = [n for n in longopts if n == name] or \
                    [n for n in longopts if n.startswith(name)]
                if len(found) != 1:
                    self.shell._puts(2, f"{self.name}: unrecognized option '{arg}'\n")
                    self.usage()
                pairs.append(("--" + found[0], value if eq else True))
                continue
            j = 1
            while j < len(arg):
                letter = arg[j]
                at = spec.find(letter)
                if at < 0 or letter == ":":
                    self.error(f"invalid option -- '{letter}'")
                    self.usage()
                if spec[at + 1:at + 2] == ":":
                    value = arg[j + 1:]
                    if not value:
                        if i >= len(args):
                            self.error(f"option requires an argument -- '{letter}'")
                            self.usage()
                        value = args.pop(i)
                    pairs.append((letter, value))
                    break
                pairs.append((letter, True))
                j += 1
        return pairs, args

    def number(self, text: str, low: int = 0, high: int = (1 << 31) - 1) -> int:
        """xatoi_positive / xatou: ``invalid number 'x'`` and the range check."""
        if not re.fullmatch(r"\d+", text):
            self.die(f"invalid number '{text}'")
        value = int(text)
        if not low <= value <= high:
            self.die(f"number {text} is not in {low}..{high} range")
        return value


# -- an input: a FILE operand, or "-" for stdin ---------------------------------------------

def open_input(app: Applet, name: str) -> Handle | int:
    if name == "-":
        return app.shell.fds.get(0, NullHandle())
    return app.shell._open(app.shell._abspath(name), O_RDONLY)


# -- text applets: the common parts ---------------------------------------------------------

def arg_bytes(text: str) -> bytes:
    """An argument as the bytes execve passed (the shell keeps them surrogate-escaped)."""
    return text.encode("utf-8", "surrogateescape")


def bytes_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def read_input(app: Applet, name: str, warn: bool = True) -> tuple[Handle | None, bytes]:
    """Open ``name`` ("-": stdin) and read it all, as fopen + getline to EOF do: a read
    error (a directory's EISDIR) ends the input like EOF. Returns (None, b"") after the
    open failed, having said ``applet: NAME: strerror`` (fopen_or_warn) if ``warn``."""
    handle = open_input(app, name)
    if isinstance(handle, int):
        if warn:
            app.error(f"{name}: {strerror(handle)}")
        return None, b""
    data, _ = read_until_error(handle)
    if name != "-":
        handle.close()
    return handle, data


def read_until_error(handle: Handle) -> tuple[bytes, int]:
    """Everything readable, and 0 or the -errno that stopped the reading."""
    out = bytearray()
    while True:
        data = handle.read(4096)
        if isinstance(data, int):
            return bytes(out), data
        if not data:
            return bytes(out), 0
        out += data


def split_lines(data: bytes, delim: bytes = b"\n") -> list[bytes]:
    """getline/xmalloc_fgetline: the lines without their delimiter (a last line without
    one counts)."""
    if not data:
        return []
    lines = data.split(delim)
    if lines[-1] == b"":
        lines.pop()
    return lines


def lines_keepends(data: bytes) -> list[bytes]:
    """The lines with their newlines (only b"\\n" ends one; bytes.splitlines would also
    split at \\r)."""
    return re.findall(rb"[^\n]*\n|[^\n]+$", data)


def c_string(data: bytes) -> bytes:
    """What C's string functions see of a line: up to its first NUL."""
    return data.split(b"\0", 1)[0]


def c_format(spec: str, value) -> str:
    """One printf conversion ``%[flags][width][.precision]conv`` as glibc formats it,
    for conversions d i u o x X s c (Python's % differs on %#o and ignores some flags)."""
    match = re.fullmatch(r"%([-+ #0I]*)(\d*)(?:\.(\d*))?([diuoxXsc])", spec)
    if not match:
        raise NotSimulated(f"printf conversion {spec}")
    flags, width, precision, conv = match.groups()
    width = int(width or 0)
    precision = None if precision is None else int(precision or 0)
    if conv in "sc":
        text = value if conv == "s" else value[:1]
        if conv == "s" and precision is not None:
            text = text[:precision]
        return text.ljust(width) if "-" in flags else text.rjust(width)
    value = int(value)
    digits = format(abs(value), {"d": "d", "i": "d", "u": "d", "o": "o", "x": "x",
                                 "X": "X"}[conv])
    if precision is not None:
        digits = "" if precision == 0 and value == 0 else digits.rjust(precision, "0")
    prefix = ""
    if conv in "di":
        prefix = "-" if value < 0 else "+" if "+" in flags else " " if " " in flags else ""
    if "#" in flags:
        if conv == "o" and not digits.startswith("0"):
            digits = "0" + digits
        elif conv in "xX" and value:
            prefix = "0" + conv
    if "-" in flags:
        return (prefix + digits).ljust(width)
    if "0" in flags and precision is None:
        return prefix + digits.rjust(width - len(prefix), "0")
    return (prefix + digits).rjust(width)


STRTOD = re.compile(
    rb"[ \t\n\v\f\r]*([-+]?)(?:"
    rb"(0[xX](?=\.?[0-9a-fA-F])[0-9a-fA-F]*(?:\.[0-9a-fA-F]*)?(?:[pP][-+]?\d+)?)|"
    rb"((?=\.?\d)\d*(?:\.\d*)?(?:[eE][-+]?\d+)?)|"
    rb"([iI][nN][fF](?:[iI][nN][iI][tT][yY])?)|"
    rb"([nN][aA][nN](?:\([0-9A-Za-z_]*\))?))")


def strtod_prefix(text: bytes) -> tuple[float, int]:
    """glibc strtod on a C string: the value and how many bytes it used (0: no number).
    Leading white space, a sign, decimal or hexadecimal (0x, with a p exponent) digits,
    inf/infinity and nan(...)."""
    match = STRTOD.match(text)
    if not match:
        return 0.0, 0
    sign, hexa, decimal, inf, nan = match.groups()
    negative = sign == b"-"
    if hexa:
        mantissa, _, exponent = hexa[2:].lower().partition(b"p")
        whole, _, frac = mantissa.partition(b".")
        value = float(int(whole or b"0", 16)) + (int(frac, 16) / 16 ** len(frac) if frac else 0)
        value *= 2.0 ** int(exponent or b"0")
    elif decimal is not None:
        value = float(decimal)
    elif inf:
        value = float("inf")
    else:
        value = float("nan")
    return (-value if negative else value), match.end()


def fflush_all(app: Applet) -> int:
    """``return fflush_all();``: EOF (exit status 255) when the flush failed."""
    return 255 if app.flush() < 0 else 0


def write_stdio(handle: Handle, data: bytes) -> int:
    """A fully buffered stdio stream's writes: BUFSIZ (4096) bytes at a time."""
    for start in range(0, len(data), Applet.STDIO_BUFSIZ):
        err = full_write(handle, data[start:start + Applet.STDIO_BUFSIZ])
        if err < 0:
            return err
    return 0
