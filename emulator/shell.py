"""The scenario shell: busybox 1.35 ``sh`` and the applets a module scenario runs.

``kmodsim script SCENARIO.sh MODULE...`` and ``kmodsim shell`` run what
``../shared/tools/realkernel`` runs in the real guest: Debian 12's busybox-static 1.35
(``sh`` is ash) executing ``sh /scenario.sh 2>&1`` in ``/mods``, with the serial console as
its output. This module is that shell. It parses and runs the ash subset below and the
busybox applets a module scenario uses, printing what busybox prints byte for byte, and it
reaches the simulated kernel only through ``System``: syscall-shaped methods that return
``0`` or ``-errno`` as the kernel does (the shell owns no kernel state).

What it runs
  * ash: lists with ``;`` ``&`` (run in the foreground) ``&&`` ``||`` ``|`` ``!`` and
    newlines, ``#`` comments, '' "" and backslash quoting, ``$NAME ${NAME}
    ${NAME:-w}`` (``- = + ?``, with and without ``:``), ``${#NAME} ${NAME#p} ${NAME%p}``,
    ``$? $# $@ $* $0..$9 $$``, ``$(...)`` and backquotes, ``$((...))``, field splitting,
    globs (``* ? [...]``) over the scratch files and the System's directories, assignments,
    redirections ``< > >| >> <> N>&M N>&- N<&M <<WORD <<-WORD`` (``/dev/null`` included;
    ``exec`` with only redirections keeps them), ``if``,
    ``while``, ``until``, ``for``, ``case``, ``{ }``, ``( )`` and functions. Builtins:
    echo, printf, test/[, true, false, :, cd, pwd, exit, return, break, continue, shift,
    set (``set -- ARGS``), export, unset, local, read, eval, ``.``.
  * applets, each a process (``System.spawn``/``System.reap`` around it): insmod, rmmod,
    lsmod, modprobe, modinfo, depmod, dmesg, cat, head, ls, sleep; and the text applets
    stat (-c), grep (egrep, fgrep; GNU BRE and ERE with POSIX leftmost-longest matches),
    wc, tail, sort, uniq, cut, tr, seq, basename, dirname, tee. ``APPLET --help`` prints
    the usage and exits 0. Any other busybox applet says it is not simulated (rc 127)
    rather than pretend. An applet's stdout is stdio's: line-buffered on the console,
    fully buffered (4096 bytes) elsewhere, so ``grep x f > /sys/...`` makes one write(2).
  * files: a scratch in-memory filesystem holding the guest's initramfs (``/bin /dev /mods
    /proc /root /sys /tmp``, ``/init``, ``/scenario.sh``; the modules in ``/mods``), a
    tmpfs as the guest's rootfs is (directory sizes, /root 0700, /init 0755). Paths under
    ``/proc``, ``/sys`` and ``/dev`` go to the System, except ``/dev/null`` and
    ``/dev/zero``, which the shell answers itself.
  * not simulated, and said so on stderr (``kmodsim: ...``), never faked: running programs
    (an ELF executable such as ./finit), ``set`` options, ``ls -l``, ``cat -n``, modprobe/
    modinfo/depmod with a /lib/modules tree (the guest has none), ``stat`` without -c or
    with inodes, device numbers or times, ``stat -f``, ``tail -f``, ``grep -o -v``, sed,
    awk and the other applets.

The console
  The kernel's console and the scenario's output are the same serial line, and a kernel
  line reaches the console while the syscall that printed it runs. So after every System
  call the shell drains ``System.console_drain()`` and writes those bytes to the console
  right then: before anything the command prints afterwards, and whatever the command's
  redirections (``insmod x.ko >/dev/null 2>&1`` still shows an oops). ``Shell.flush_console``
  does the same for a kernel that prints between syscalls.

Killed processes
  A System method raises ``TaskKilled(signo)`` when the calling task dies (an oops in a
  module's init kills insmod with SIGKILL). The shell then does what ash does: it prints
  ``strsignal(signo)`` (``Killed``, ``Segmentation fault``) on the command's stderr, after
  the task is reaped, and ``$?`` becomes ``128 + signo``.

The busybox facts behind the applets (busybox 1.35.0 source, Debian's static config, and
runs in the real guest) are written next to the code that reproduces them.
"""

from __future__ import annotations

import bz2
import errno as E
import functools
import gzip
import lzma
import posixpath
import re
import zlib
from dataclasses import dataclass
from typing import Callable, Protocol

# ---------------------------------------------------------------------------------------
# The interface to the simulated kernel
# ---------------------------------------------------------------------------------------

# open(2) flags (x86-64); delete_module(2) takes O_NONBLOCK, O_EXCL and O_TRUNC (force)
O_RDONLY = 0o0
O_WRONLY = 0o1
O_RDWR = 0o2
O_CREAT = 0o100
O_EXCL = 0o200
O_TRUNC = 0o1000
O_APPEND = 0o2000
O_NONBLOCK = 0o4000

# syslog(2) actions (include/linux/syslog.h) that busybox dmesg uses
SYSLOG_ACTION_READ_ALL = 3
SYSLOG_ACTION_READ_CLEAR = 4
SYSLOG_ACTION_CONSOLE_LEVEL = 8
SYSLOG_ACTION_SIZE_BUFFER = 10

SIGINT = 2
SIGKILL = 9
SIGSEGV = 11
SIGPIPE = 13


class TaskKilled(Exception):
    """Raised by a System method when the task that called it dies (signal ``signo``)."""

    def __init__(self, signo: int = SIGKILL, core_dumped: bool = False):
        super().__init__(f"task killed by signal {signo}")
        self.signo = signo
        self.core_dumped = core_dumped


@dataclass(frozen=True)
class Stat:
    """What ``stat(2)`` says about a kernel-owned path (the part the shell looks at).

    ``kind`` is the file type as ls -l shows it: "" means "d" for a directory and "-" (a
    regular file) otherwise; "c" and "b" are device nodes (``rdev`` their major, minor),
    "l" a symbolic link, "p" a fifo, "s" a socket. Everything is owned by root (uid and
    gid 0), as in the guest.
    """

    is_dir: bool
    mode: int = 0o444  # permission bits: test -r/-w/-x as root, ls -p, stat %a
    size: int = 0      # test -s, stat %s (sysfs attributes say 4096, procfs files 0)
    kind: str = ""
    rdev: tuple = (0, 0)

    @property
    def type(self) -> str:
        return self.kind or ("d" if self.is_dir else "-")


class System(Protocol):
    """The simulated kernel as the scenario shell sees it: syscalls, 0 or -errno.

    Modules (the shell never parses a module; it hands over the file's bytes):
      finit_module  finit_module(2) on a file whose contents are ``image`` (what
                    kernel_read_file would read); ``args`` exactly as busybox builds them
                    ("a=1 b=2 ": every argument and a space). insmod calls it first and,
                    on any failure, init_module with the (decompressed) file
      init_module   init_module(2) with ``image`` copied from user memory
      delete_module delete_module(2); busybox rmmod passes O_NONBLOCK|O_EXCL (+O_TRUNC for -f)
      Not asked, since the kernel would refuse before looking: finit_module on a directory
      (EINVAL) and ``rmmod -a``'s delete_module(NULL) (EFAULT).
    Kernel files (absolute, normalised paths under /proc, /sys and /dev; the shell reads
    /proc/modules, /proc/sys/kernel/tainted for lsmod and /proc/sys/kernel/osrelease for
    what busybox gets from uname(2)):
      stat          Stat, or -errno (ENOENT, ENOTDIR); a device node says so (kind "c",
                    rdev), a procfs file has size 0 (stat -c %s %F, tail -c's lseek)
      list_dir      the names in a directory (no "." and ".."), or -errno (ENOTDIR...),
                    in readdir order (grep -r follows it; ls and globs sort)
      open          a file descriptor >= 0 or -errno; O_RDONLY on a directory succeeds
                    (read then fails with EISDIR); O_WRONLY|O_CREAT|O_TRUNC is the shell's ">"
      read          up to ``count`` bytes (b"" at the end), or -errno
      write         one write(2): bytes taken, or -errno (a sysfs store's error)
      close         close(2)
    The log and the console:
      syslog        syslog(2): READ_ALL/READ_CLEAR return the raw records (bytes like
                    b"<6>[    3.220283] text\\n", at most ``length`` bytes, the newest);
                    SIZE_BUFFER returns the buffer size; CONSOLE_LEVEL (``length`` is the
                    level) returns 0 or -EINVAL
      console_drain the console lines printed since the last call, as the console shows
                    them (b"[    1.959126] BUG: ...\\n"): the shell writes them out at once
    Time and processes:
      sleep         let ``seconds`` pass (the sleep applet)
      spawn         the shell forks a process for an applet: a new task named ``comm``
                    (the applet's name, or "exe" for the applets busybox re-execs as
                    /proc/self/exe: dmesg, depmod, sleep) becomes ``current`` for the
                    calls that follow; returns its pid. Builtins run in the shell's task
      reap          that task has exited and the shell has waited for it
    Any method may raise TaskKilled when the calling task dies.
    """

    def finit_module(self, image: bytes, args: str, flags: int) -> int: ...
    def init_module(self, image: bytes, args: str) -> int: ...
    def delete_module(self, name: str, flags: int) -> int: ...
    def stat(self, path: str) -> Stat | int: ...
    def list_dir(self, path: str) -> list[str] | int: ...
    def open(self, path: str, flags: int) -> int: ...
    def read(self, fd: int, count: int) -> bytes | int: ...
    def write(self, fd: int, data: bytes) -> int: ...
    def close(self, fd: int) -> None: ...
    def syslog(self, action: int, length: int = 0) -> bytes | int: ...
    def console_drain(self) -> bytes: ...
    def sleep(self, seconds: float) -> None: ...
    def spawn(self, comm: str) -> int: ...
    def reap(self, pid: int) -> None: ...


KERNEL_MOUNTS = ("/proc", "/sys", "/dev")
# the memory devices the shell answers itself (major, minor): nothing of the simulated
# kernel is behind them
SHELL_DEVICES = {"/dev/null": (1, 3), "/dev/zero": (1, 5)}

# glibc 2.36 strerror(3) and strsignal(3): busybox-static links glibc
STRERROR = {
    1: "Operation not permitted", 2: "No such file or directory", 3: "No such process",
    4: "Interrupted system call", 5: "Input/output error", 6: "No such device or address",
    7: "Argument list too long", 8: "Exec format error", 9: "Bad file descriptor",
    10: "No child processes", 11: "Resource temporarily unavailable",
    12: "Cannot allocate memory", 13: "Permission denied", 14: "Bad address",
    15: "Block device required", 16: "Device or resource busy", 17: "File exists",
    18: "Invalid cross-device link", 19: "No such device", 20: "Not a directory",
    21: "Is a directory", 22: "Invalid argument", 23: "Too many open files in system",
    24: "Too many open files", 25: "Inappropriate ioctl for device", 26: "Text file busy",
    27: "File too large", 28: "No space left on device", 29: "Illegal seek",
    30: "Read-only file system", 31: "Too many links", 32: "Broken pipe",
    33: "Numerical argument out of domain", 34: "Numerical result out of range",
    35: "Resource deadlock avoided", 36: "File name too long", 37: "No locks available",
    38: "Function not implemented", 39: "Directory not empty",
    40: "Too many levels of symbolic links", 42: "No message of desired type",
    61: "No data available", 62: "Timer expired", 71: "Protocol error", 74: "Bad message",
    75: "Value too large for defined data type",
    84: "Invalid or incomplete multibyte or wide character", 95: "Operation not supported",
    110: "Connection timed out", 125: "Operation canceled",
    126: "Required key not available", 127: "Key has expired",
    128: "Key has been revoked", 129: "Key was rejected by service",
}
STRSIGNAL = {
    1: "Hangup", 2: "Interrupt", 3: "Quit", 4: "Illegal instruction",
    5: "Trace/breakpoint trap", 6: "Aborted", 7: "Bus error",
    8: "Floating point exception", 9: "Killed", 10: "User defined signal 1",
    11: "Segmentation fault", 12: "User defined signal 2", 13: "Broken pipe",
    14: "Alarm clock", 15: "Terminated", 16: "Stack fault", 24: "CPU time limit exceeded",
    25: "File size limit exceeded", 31: "Bad system call",
}


def strerror(err: int) -> str:
    err = abs(err)
    return STRERROR.get(err, f"Unknown error {err}")


def strsignal(signo: int) -> str:
    return STRSIGNAL.get(signo, f"Unknown signal {signo}")


# ---------------------------------------------------------------------------------------
# The scratch filesystem (the guest's initramfs)
# ---------------------------------------------------------------------------------------

def normpath(path: str) -> str:
    """``/a/./b/../c//`` -> ``/a/c``, textually, as ash's cd and our lookups do."""
    path = posixpath.normpath(path)
    return "/" + path.lstrip("/") if path.startswith("/") else path


def is_kernel_path(path: str) -> bool:
    return any(path == m or path.startswith(m + "/") for m in KERNEL_MOUNTS)


class ScratchFs:
    """Directories and regular files in memory: everything outside /proc, /sys, /dev."""

    def __init__(self):
        self._nodes: dict[str, bytearray | None] = {"/": None}  # None: a directory
        self.modes: dict[str, int] = {}  # permission bits other than 0755 (dirs), 0644

    def mkdir(self, path: str) -> None:
        parent = posixpath.dirname(path)
        if parent not in self._nodes:
            self.mkdir(parent)
        self._nodes[path] = None

    def put(self, path: str, data: bytes) -> None:
        self.mkdir(posixpath.dirname(path))
        self._nodes[path] = bytearray(data)

    def kind(self, path: str) -> str | None:
        """"d" for a directory, "f" for a file, None when absent."""
        if path not in self._nodes:
            return None
        return "d" if self._nodes[path] is None else "f"

    def data(self, path: str) -> bytes | int:
        node = self._nodes.get(path, -E.ENOENT)
        if node is None:
            return -E.EISDIR
        return node if isinstance(node, int) else bytes(node)

    def list_dir(self, path: str) -> list[str] | int:
        kind = self.kind(path)
        if kind != "d":
            return -E.ENOENT if kind is None else -E.ENOTDIR
        prefix = path.rstrip("/") + "/"
        return sorted(p[len(prefix):] for p in self._nodes
                      if p != "/" and posixpath.dirname(p) == path)

    def open_write(self, path: str, append: bool) -> bytearray | int:
        """The node a ``>``/``>>`` writes to, created or truncated; or -errno."""
        kind = self.kind(path)
        if kind == "d":
            return -E.EISDIR
        parent = posixpath.dirname(path)
        if self.kind(parent) != "d":
            return -E.ENOENT if self.kind(parent) is None else -E.ENOTDIR
        if kind is None or not append:
            self._nodes[path] = bytearray()
        return self._nodes[path]


# ---------------------------------------------------------------------------------------
# Open files: what fds 0, 1 and 2 of a command point at
# ---------------------------------------------------------------------------------------

class Handle:
    """An open file description; read/write return bytes or a count, or -errno."""

    console = False  # a tty: ls prints columns

    def read(self, count: int) -> bytes | int:
        return -E.EBADF

    def write(self, data: bytes) -> int:
        return -E.EBADF

    def close(self) -> None:
        pass


class ConsoleHandle(Handle):
    """The serial console: the scenario's stdin, stdout and stderr."""

    console = True

    def __init__(self, shell: Shell):
        self._shell = shell

    def read(self, count: int) -> bytes:
        return b""  # nobody types on the guest's console

    def write(self, data: bytes) -> int:
        self._shell._emit(data)
        return len(data)


class NullHandle(Handle):
    def read(self, count: int) -> bytes:
        return b""

    def write(self, data: bytes) -> int:
        return len(data)


class ZeroHandle(Handle):
    """/dev/zero: reads give NUL bytes without end, writes vanish."""

    def read(self, count: int) -> bytes:
        return bytes(count)

    def write(self, data: bytes) -> int:
        return len(data)


class BufferHandle(Handle):
    """A pipe or a command substitution's output: written whole, then read."""

    def __init__(self, data: bytes = b""):
        self.data = bytearray(data)
        self._pos = 0

    def read(self, count: int) -> bytes:
        chunk = bytes(self.data[self._pos:self._pos + count])
        self._pos += len(chunk)
        return chunk

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)


class ScratchHandle(Handle):
    """A scratch file or directory opened for reading, or a file opened for writing."""

    def __init__(self, node: bytearray | None):
        self._node = node  # None: a directory
        self._pos = 0

    @property
    def size(self) -> int:
        return len(self._node) if self._node is not None else 0

    def read(self, count: int) -> bytes | int:
        if self._node is None:
            return -E.EISDIR
        chunk = bytes(self._node[self._pos:self._pos + count])
        self._pos += len(chunk)
        return chunk

    def write(self, data: bytes) -> int:
        self._node += data
        return len(data)


class KernelHandle(Handle):
    """A file descriptor the System gave out."""

    def __init__(self, shell: Shell, fd: int):
        self._shell = shell
        self._fd = fd

    def read(self, count: int) -> bytes | int:
        return self._shell._sys("read", self._fd, count)

    def write(self, data: bytes) -> int:
        return self._shell._sys("write", self._fd, data)

    def close(self) -> None:
        self._shell._sys("close", self._fd)


def full_write(handle: Handle, data: bytes) -> int:
    """busybox full_write: 0, or -errno of the write(2) that failed."""
    while data:
        n = handle.write(data)
        if n < 0:
            return n
        if n == 0:
            return -E.EIO
        data = data[n:]
    return 0


def read_all(handle: Handle, chunk: int = 4096) -> bytes | int:
    out = bytearray()
    while True:
        data = handle.read(chunk)
        if isinstance(data, int):
            return data
        if not data:
            return bytes(out)
        out += data


# ---------------------------------------------------------------------------------------
# Parsing: ash's grammar, one top-level command line at a time
# ---------------------------------------------------------------------------------------

class ShellSyntaxError(Exception):
    """``syntax error: <message>``, found while the lexer was on ``line``."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.message = message
        self.line = line


# Word parts (tuples, so a parsed word is plain data a notebook can print):
#   ("lit", text, quoted)
#   ("var", name, op, arg_parts, quoted)      op: None "-" ":-" "=" ":=" "+" ":+" "?" ":?"
#                                             "len" "#" "##" "%" "%%"
#   ("cmd", source, quoted, line)             $(...) and `...`
#   ("arith", source, quoted)                 $((...))

@dataclass
class Word:
    parts: tuple
    text: str  # the source text

    @property
    def plain(self) -> bool:
        return all(p[0] == "lit" and not p[2] for p in self.parts)


@dataclass
class Redirect:
    fd: int | None
    op: str
    target: Word


@dataclass
class Simple:
    assigns: list  # [(name, Word)]
    words: list
    redirects: list
    line: int


@dataclass
class Pipeline:
    commands: list
    negate: bool = False


@dataclass
class AndOr:
    first: Pipeline
    rest: list  # [("&&" | "||", Pipeline)]


@dataclass
class Sequence:
    items: list


@dataclass
class If:
    clauses: list  # [(condition, body)]
    otherwise: Sequence | None


@dataclass
class Loop:
    condition: Sequence
    body: Sequence
    until: bool


@dataclass
class For:
    name: str
    words: list | None  # None: "$@"
    body: Sequence
    line: int


@dataclass
class Case:
    word: Word
    arms: list  # [([pattern Words], body | None)]
    line: int


@dataclass
class Group:
    body: Sequence
    subshell: bool


@dataclass
class Redirected:
    command: object
    redirects: list


@dataclass
class FunctionDef:
    name: str
    body: object


@dataclass
class Token:
    kind: str   # "word" "op" "redir" "newline" "eof"
    text: str
    line: int
    word: Word | None = None
    fd: int | None = None

    def keyword(self) -> str | None:
        if self.kind == "word" and self.word.plain and self.text in RESERVED:
            return self.text
        return None

    def describe(self) -> str:
        """How ash's ``syntax error: unexpected X`` names the token."""
        if self.kind == "newline":
            return "newline"
        if self.kind == "eof":
            return "end of file"
        if self.kind == "word" and not self.keyword():
            return "word"
        return f'"{self.text}"'


OPERATORS = ("&&", "||", ";;", "&", "|", ";", "(", ")")
REDIR_OPS = ("<<-", "<<", "<>", "<&", "<", ">>", ">&", ">|", ">")
RESERVED = frozenset(("if", "then", "else", "elif", "fi", "do", "done", "case", "esac",
                      "while", "until", "for", "{", "}", "!", "in"))
CLOSERS = frozenset(("then", "else", "elif", "fi", "do", "done", "esac", "}"))
WORD_END = frozenset(" \t\n;&|<>()")
SPECIAL_PARAMS = "?#$!@*-"
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ASSIGN_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")


class Parser:
    """ash's recursive-descent parser over one source text.

    ``command_line()`` returns the next top-level list (to the end of its line, or further
    when a compound command or a trailing ``&&``/``|`` continues it), as ash parses and
    runs a script one command line at a time: a syntax error further down does not stop
    the lines before it from running.
    """

    def __init__(self, text: str, line: int = 1):
        self.src = text
        self.pos = 0
        self.line = line
        self._pushed: list[Token] = []  # read ahead, pushed back (last in, first out)
        self._heredocs: list[Redirect] = []  # << seen on this line, bodies still to read

    # -- errors and tokens ----------------------------------------------------------------

    def fail(self, message: str, line: int | None = None):
        raise ShellSyntaxError(message, self.line if line is None else line)

    def unexpected(self, token: Token, expecting: str | None = None):
        message = f"unexpected {token.describe()}"
        if expecting:
            message += f' (expecting "{expecting}")'
        self.fail(message, token.line)

    def next(self) -> Token:
        if self._pushed:
            return self._pushed.pop()
        return self._lex()

    def push(self, token: Token) -> None:
        self._pushed.append(token)

    def peek(self) -> Token:
        token = self.next()
        self.push(token)
        return token

    def skip_newlines(self) -> Token:
        token = self.next()
        while token.kind == "newline":
            token = self.next()
        return token

    # -- the lexer ------------------------------------------------------------------------

    def _lex(self) -> Token:
        src = self.src
        while True:
            while self.pos < len(src) and src[self.pos] in " \t":
                self.pos += 1
            if src.startswith("\\\n", self.pos):
                self.pos += 2
                self.line += 1
                continue
            if self.pos < len(src) and src[self.pos] == "#":
                end = src.find("\n", self.pos)
                self.pos = len(src) if end < 0 else end
            break
        if self.pos >= len(src):
            return Token("eof", "", self.line)
        if src[self.pos] == "\n":
            self.pos += 1
            self.line += 1
            token = Token("newline", "\n", self.line)
            self._read_heredoc_bodies()
            return token
        for op in OPERATORS:
            if src.startswith(op, self.pos):
                self.pos += len(op)
                return Token("op", op, self.line)
        redir = self._redir_op()
        if redir:
            return Token("redir", redir, self.line)
        word = self._read_word()
        if word.text.isdigit() and word.plain:
            redir = self._redir_op()
            if redir:
                return Token("redir", redir, self.line, fd=int(word.text))
        return Token("word", word.text, self.line, word=word)

    def _redir_op(self) -> str | None:
        for op in REDIR_OPS:
            if self.src.startswith(op, self.pos):
                self.pos += len(op)
                return op
        return None

    def _eof_in(self, message: str):
        self.line += self.src.count("\n", self.pos)
        self.pos = len(self.src)
        self.fail(message)

    def _read_word(self) -> Word:
        start = self.pos
        parts = self._read_parts(stop=WORD_END, quoted=False)
        return Word(tuple(parts), self.src[start:self.pos])

    def _read_parts(self, stop, quoted: bool) -> list:
        """Word parts up to a character in ``stop`` (unquoted) or the end."""
        src, parts, lit = self.src, [], []

        def flush():
            if lit:
                parts.append(("lit", "".join(lit), quoted))
                lit.clear()

        while self.pos < len(src):
            c = src[self.pos]
            if c in stop:
                break
            if c == "\\":
                nxt = src[self.pos + 1:self.pos + 2]
                if nxt == "\n":
                    self.pos += 2
                    self.line += 1
                elif nxt:
                    flush()
                    parts.append(("lit", nxt, True))
                    self.pos += 2
                else:
                    lit.append(c)
                    self.pos += 1
            elif c == "'" and not quoted:
                end = src.find("'", self.pos + 1)
                if end < 0:
                    self._eof_in("unterminated quoted string")
                flush()
                text = src[self.pos + 1:end]
                self.line += text.count("\n")
                parts.append(("lit", text, True))
                self.pos = end + 1
            elif c == '"' and not quoted:
                flush()
                self.pos += 1
                parts.extend(self._read_dquoted())
            elif c == "$":
                flush()
                parts.append(self._read_dollar(quoted))
            elif c == "`":
                flush()
                parts.append(self._read_backquote(quoted))
            else:
                if c == "\n":
                    self.line += 1
                lit.append(c)
                self.pos += 1
        flush()
        return parts

    def _read_dquoted(self, terminator: str | None = '"') -> list:
        """The inside of "..." (or of a here-document, ``terminator`` None: to the end):
        $, ` and \\ stay special; \\ escapes only $ ` \\ newline (and " inside "...")."""
        src, parts, lit = self.src, [], []
        escapable = ("$", "`", "\\", "\n") + ((terminator,) if terminator else ())

        def flush():
            if lit:
                parts.append(("lit", "".join(lit), True))
                lit.clear()

        while True:
            if self.pos >= len(src):
                if terminator is None:
                    break
                self._eof_in("unterminated quoted string")
            c = src[self.pos]
            if c == terminator:
                self.pos += 1
                break
            if c == "\\" and src[self.pos + 1:self.pos + 2] in escapable:
                if src[self.pos + 1] == "\n":
                    self.line += 1
                else:
                    lit.append(src[self.pos + 1])
                self.pos += 2
            elif c == "$":
                flush()
                parts.append(self._read_dollar(True))
            elif c == "`":
                flush()
                parts.append(self._read_backquote(True))
            else:
                if c == "\n":
                    self.line += 1
                lit.append(c)
                self.pos += 1
        flush()
        if not parts:
            parts.append(("lit", "", True))  # "" is still a field ("$@" alone is not)
        return parts

    def _read_dollar(self, quoted: bool) -> tuple:
        src, pos = self.src, self.pos
        nxt = src[pos + 1:pos + 2]
        if nxt == "{":
            return self._read_braced(quoted)
        if src.startswith("$((", pos):
            start = pos + 3
            end = self._matching_paren(start, arith=True)
            self.pos = end + 2
            return ("arith", src[start:end], quoted)
        if nxt == "(":
            line = self.line
            start = pos + 2
            end = self._matching_paren(start, arith=False)
            self.pos = end + 1
            self._check_substitution(src[start:end], line)
            return ("cmd", src[start:end], quoted, line)
        match = NAME_RE.match(src, pos + 1)
        if match:
            self.pos = match.end()
            return ("var", match.group(), None, (), quoted)
        if nxt and (nxt.isdigit() or nxt in SPECIAL_PARAMS):
            self.pos = pos + 2
            return ("var", nxt, None, (), quoted)
        self.pos = pos + 1
        return ("lit", "$", quoted)

    def _matching_paren(self, start: int, arith: bool) -> int:
        """Index of the ``)`` (``))`` for arithmetic) closing a ``$(``; quotes respected."""
        src, depth, i = self.src, 0, start
        while i < len(src):
            c = src[i]
            if c == "\\":
                i += 2
                continue
            if c in "'\"" and not arith:
                end = src.find(c, i + 1)
                if end < 0:
                    break
                i = end + 1
                continue
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0 and (not arith or src.startswith("))", i)):
                    self.line += src.count("\n", start, i)
                    return i
                depth -= 1
            i += 1
        self.pos = start
        self._eof_in('unexpected end of file (expecting ")")')

    def _read_braced(self, quoted: bool) -> tuple:
        src = self.src
        i = self.pos + 2
        length = src.startswith("#", i) and src[i + 1:i + 2] not in ("}", "")
        if length:
            i += 1
        match = NAME_RE.match(src, i)
        if match:
            name, i = match.group(), match.end()
        elif i < len(src) and (src[i].isdigit() or src[i] in SPECIAL_PARAMS):
            name, i = src[i], i + 1
        else:
            self.pos = i
            self._missing_brace_or_bad(i)
        if length:
            if not src.startswith("}", i):
                self.pos = i
                self._missing_brace_or_bad(i)
            self.pos = i + 1
            return ("var", name, "len", (), quoted)
        op = None
        for candidate in (":-", ":=", ":+", ":?", "##", "%%", "-", "=", "+", "?", "#", "%"):
            if src.startswith(candidate, i):
                op, i = candidate, i + len(candidate)
                break
        self.pos = i
        arg = ()
        if op:
            # a pattern (# ## % %%) is unquoted even inside "...": only quotes within
            # the braces make its characters literal
            pattern = op in ("#", "##", "%", "%%")
            arg = tuple(self._read_parts(stop="}", quoted=True) if quoted and not pattern
                        else self._read_brace_arg())
        if not src.startswith("}", self.pos):
            self._missing_brace_or_bad(self.pos)
        self.pos += 1
        return ("var", name, op, arg, quoted)

    def _read_brace_arg(self) -> list:
        """The word after ``${NAME:-``: like a word, but blanks are part of it."""
        return self._read_parts(stop="}", quoted=False)

    def _missing_brace_or_bad(self, i: int):
        end = self.src.find("}", i)
        if end < 0:
            self._eof_in("missing '}'")
        self.fail("bad substitution")

    def _read_backquote(self, quoted: bool) -> tuple:
        src, line = self.src, self.line
        i, out = self.pos + 1, []
        while True:
            if i >= len(src):
                self._eof_in("EOF in backquote substitution")
            c = src[i]
            if c == "`":
                break
            if c == "\\" and src[i + 1:i + 2] in ("$", "`", "\\") + (('"',) if quoted else ()):
                out.append(src[i + 1])
                i += 2
                continue
            out.append(c)
            i += 1
        self.line += src.count("\n", self.pos, i)
        self.pos = i + 1
        self._check_substitution("".join(out), line)
        return ("cmd", "".join(out), quoted, line)

    @staticmethod
    def _check_substitution(source: str, line: int) -> None:
        """ash parses a command substitution with the command around it: a syntax error
        inside stops the whole command line before any of it runs."""
        parser = Parser(source, line)
        while parser.command_line() is not None:
            pass

    # -- the grammar ----------------------------------------------------------------------

    def command_line(self):
        """The next top-level list, or None at the end of the text."""
        token = self.skip_newlines()
        if token.kind == "eof":
            return None
        self.push(token)
        node = self.list_(newline_ends=True)
        token = self.next()
        if token.kind not in ("newline", "eof"):
            self.unexpected(token)
        return node

    def _starts_command(self, token: Token) -> bool:
        if token.kind in ("redir",):
            return True
        if token.kind == "op":
            return token.text == "("
        if token.kind == "word":
            return token.keyword() not in CLOSERS
        return False

    def list_(self, newline_ends: bool = False) -> Sequence:
        """and-or lists separated by ; & (and newlines inside compound commands)."""
        items = []
        while True:
            token = self.next() if newline_ends else self.skip_newlines()
            if not self._starts_command(token):
                if not items and token.kind != "eof":
                    self.unexpected(token)
                self.push(token)  # at the end of the text the caller says what it expected
                break
            self.push(token)
            items.append(self.and_or())
            token = self.next()
            if token.kind == "op" and token.text in (";", "&"):
                continue
            if token.kind == "newline" and not newline_ends:
                continue
            self.push(token)
            break
        return Sequence(items)

    def and_or(self) -> AndOr:
        first = self.pipeline()
        rest = []
        while True:
            token = self.next()
            if token.kind == "op" and token.text in ("&&", "||"):
                rest.append((token.text, self.pipeline(after_op=True)))
                continue
            self.push(token)
            return AndOr(first, rest)

    def pipeline(self, after_op: bool = False) -> Pipeline:
        token = self.skip_newlines() if after_op else self.next()
        negate = token.keyword() == "!"
        if not negate:
            self.push(token)
        commands = [self.command()]
        while True:
            token = self.next()
            if token.kind == "op" and token.text == "|":
                token = self.skip_newlines()
                self.push(token)
                commands.append(self.command())
                continue
            self.push(token)
            return Pipeline(commands, negate)

    def command(self):
        token = self.next()
        keyword = token.keyword()
        compound = {"if": self._if, "while": self._while, "until": self._while,
                    "for": self._for, "case": self._case, "{": self._brace}.get(keyword)
        if compound:
            return self._redirected(compound(token))
        if token.kind == "op" and token.text == "(":
            body = self.list_()
            self._expect(")")
            return self._redirected(Group(body, subshell=True))
        if token.kind == "word" and keyword is None and NAME_RE.fullmatch(token.text) \
                and token.word.plain:
            after = self.next()
            if after.kind == "op" and after.text == "(":
                close = self.next()
                if not (close.kind == "op" and close.text == ")"):
                    self.unexpected(close, ")")
                body_token = self.skip_newlines()
                self.push(body_token)
                return FunctionDef(token.text, self.command())
            self.push(after)
        if not self._starts_command(token):
            self.unexpected(token)
        self.push(token)
        return self.simple()

    def _redirected(self, node):
        redirects = []
        while True:
            token = self.next()
            if token.kind != "redir":
                self.push(token)
                break
            redirects.append(self._redirect(token))
        return Redirected(node, redirects) if redirects else node

    def _redirect(self, token: Token) -> Redirect:
        target = self.next()
        if target.kind != "word":
            self.unexpected(target)
        redirect = Redirect(token.fd, token.text, target.word)
        if token.text in ("<<", "<<-"):
            self._heredocs.append(redirect)  # the body follows the end of this line
        return redirect

    def _read_heredoc_bodies(self) -> None:
        """The lines after a ``<<WORD`` line up to a line that is WORD (tabs stripped
        first with ``<<-``); a quoted WORD keeps the body as it is, otherwise it is
        expanded like the inside of double quotes. At the end of the text the body is
        whatever was left."""
        pending, self._heredocs = self._heredocs, []
        for redirect in pending:
            delimiter = "".join(p[1] for p in redirect.target.parts if p[0] == "lit")
            quoted = not redirect.target.plain
            lines = []
            while self.pos < len(self.src):
                end = self.src.find("\n", self.pos)
                end = len(self.src) if end < 0 else end
                line = self.src[self.pos:end]
                self.pos = min(end + 1, len(self.src))
                self.line += 1 if end < len(self.src) else 0
                if redirect.op == "<<-":
                    line = line.lstrip("\t")
                if line == delimiter:
                    break
                lines.append(line + "\n")
            body = "".join(lines)
            if quoted:
                parts = (("lit", body, True),)
            else:
                parts = tuple(Parser(body, self.line - len(lines))._read_dquoted(None))
            redirect.target = Word(parts, body)

    def simple(self) -> Simple:
        assigns, words, redirects, line = [], [], [], None
        while True:
            token = self.next()
            if line is None:
                line = token.line  # ash: the line the lexer is on after the first token
            if token.kind == "redir":
                redirects.append(self._redirect(token))
            elif token.kind == "word":
                match = ASSIGN_RE.match(token.text)
                if not words and match and self._unquoted_prefix(token.word, match.end()):
                    assigns.append((match.group(1), _strip_prefix(token.word, match.end())))
                else:
                    words.append(token.word)
            else:
                self.push(token)
                break
        if not (assigns or words or redirects):
            self.unexpected(self.peek())
        return Simple(assigns, words, redirects, line)

    @staticmethod
    def _unquoted_prefix(word: Word, length: int) -> bool:
        first = word.parts[0]
        return first[0] == "lit" and not first[2] and len(first[1]) >= length

    def _expect(self, closer: str) -> Token:
        token = self.skip_newlines()
        if token.keyword() == closer or token.kind == "op" and token.text == closer:
            return token
        self.unexpected(token, closer)

    def _if(self, token: Token) -> If:
        clauses = []
        condition = self.list_()
        self._expect("then")
        clauses.append((condition, self.list_()))
        otherwise = None
        while True:
            token = self.skip_newlines()
            keyword = token.keyword()
            if keyword == "elif":
                condition = self.list_()
                self._expect("then")
                clauses.append((condition, self.list_()))
            elif keyword == "else":
                otherwise = self.list_()
                self._expect("fi")
                break
            elif keyword == "fi":
                break
            else:
                self.unexpected(token, "fi")
        return If(clauses, otherwise)

    def _while(self, token: Token) -> Loop:
        condition = self.list_()
        self._expect("do")
        body = self.list_()
        self._expect("done")
        return Loop(condition, body, until=token.text == "until")

    def _for(self, token: Token) -> For:
        line = self.line
        name = self.next()
        if name.kind != "word" or not NAME_RE.fullmatch(name.text):
            self.fail("bad for loop variable")
        token = self.skip_newlines()
        words = None
        if token.keyword() == "in":
            words = []
            while True:
                token = self.next()
                if token.kind != "word":
                    break
                words.append(token.word)
            if not (token.kind == "newline" or token.kind == "op" and token.text == ";"):
                self.unexpected(token)
        elif not (token.kind == "op" and token.text == ";"):
            self.push(token)
        self._expect("do")
        body = self.list_()
        self._expect("done")
        return For(name.text, words, body, line)

    def _case(self, token: Token) -> Case:
        line = self.line
        subject = self.next()
        if subject.kind != "word":
            self.unexpected(subject)
        token = self.skip_newlines()
        if token.keyword() != "in":
            self.unexpected(token, "in")
        arms = []
        while True:
            token = self.skip_newlines()
            if token.keyword() == "esac":
                break
            if token.kind == "op" and token.text == "(":
                token = self.next()
            patterns = []
            while True:
                if token.kind != "word":
                    self.unexpected(token, ")")
                patterns.append(token.word)
                token = self.next()
                if token.kind == "op" and token.text == "|":
                    token = self.next()
                    continue
                if token.kind == "op" and token.text == ")":
                    break
                self.unexpected(token, ")")
            token = self.skip_newlines()
            body = None
            if not (token.kind == "op" and token.text == ";;" or token.keyword() == "esac"):
                self.push(token)
                body = self.list_()
                token = self.skip_newlines()
            arms.append((patterns, body))
            if token.keyword() == "esac":
                break
            if not (token.kind == "op" and token.text == ";;"):
                self.unexpected(token, ";;")
        return Case(subject.word, arms, line)

    def _brace(self, token: Token) -> Group:
        body = self.list_()
        self._expect("}")
        return Group(body, subshell=False)


def _strip_prefix(word: Word, length: int) -> Word:
    """The value word of ``NAME=value``: the word without its first ``length`` chars."""
    first = word.parts[0]
    rest = first[1][length:]
    parts = ((("lit", rest, False),) if rest else ()) + word.parts[1:]
    return Word(parts, word.text[length:])


def parse(text: str) -> list:
    """All the command lines of a text (for tests and notebooks); raises ShellSyntaxError."""
    parser, nodes = Parser(text), []
    while (node := parser.command_line()) is not None:
        nodes.append(node)
    return nodes


# ---------------------------------------------------------------------------------------
# Patterns (globs, case, ${NAME#pattern})
# ---------------------------------------------------------------------------------------

GLOB_CHARS = "*?["


def pattern_regex(chars: list, anchored: bool = True) -> re.Pattern:
    """A regex for a shell pattern given as (char, quoted) pairs; quoted chars are literal."""
    out, i = [], 0
    while i < len(chars):
        ch, quoted = chars[i]
        if quoted:
            out.append(re.escape(ch))
        elif ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            end, klass = _bracket(chars, i)
            if end is None:
                out.append(re.escape(ch))
            else:
                out.append(klass)
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("(?s)" + "".join(out) + (r"\Z" if anchored else ""))


def _bracket(chars: list, start: int):
    """A ``[...]`` class starting at ``start``: (index of ``]``, regex) or (None, None)."""
    i = start + 1
    negate = i < len(chars) and chars[i][0] in "!^" and not chars[i][1]
    if negate:
        i += 1
    members, first = [], True
    while i < len(chars):
        ch, quoted = chars[i]
        if ch == "]" and not quoted and not first:
            body = "".join(members)
            return i, f"[{'^' if negate else ''}{body}]"
        if ch == "-" and not quoted and members and i + 1 < len(chars) \
                and chars[i + 1][0] != "]":
            members.append("-")
        else:
            members.append(re.escape(ch) if ch not in "-" else r"\-")
        first = False
        i += 1
    return None, None


def has_glob(chars: list) -> bool:
    return any(ch in GLOB_CHARS and not quoted for ch, quoted in chars)


# ---------------------------------------------------------------------------------------
# Arithmetic: $((...)) with C precedence, 64-bit, as ash's math.c
# ---------------------------------------------------------------------------------------

ARITH_TOKEN = re.compile(r"\s*(0[xX][0-9a-fA-F]+|\d+|[A-Za-z_][A-Za-z0-9_]*|"
                         r"<<=|>>=|\*\*|<<|>>|<=|>=|==|!=|&&|\|\||\+=|-=|\*=|/=|%=|&=|\^=|"
                         r"\|=|\+\+|--|[-+*/%<>&^|!~()?:=,])")
BINARY = {  # operator: (precedence, function); higher binds tighter
    "||": (1, lambda a, b: int(bool(a) or bool(b))),
    "&&": (2, lambda a, b: int(bool(a) and bool(b))),
    "|": (3, lambda a, b: a | b), "^": (4, lambda a, b: a ^ b), "&": (5, lambda a, b: a & b),
    "==": (6, lambda a, b: int(a == b)), "!=": (6, lambda a, b: int(a != b)),
    "<": (7, lambda a, b: int(a < b)), "<=": (7, lambda a, b: int(a <= b)),
    ">": (7, lambda a, b: int(a > b)), ">=": (7, lambda a, b: int(a >= b)),
    "<<": (8, lambda a, b: a << (b & 63)), ">>": (8, lambda a, b: a >> (b & 63)),
    "+": (9, lambda a, b: a + b), "-": (9, lambda a, b: a - b),
    "*": (10, lambda a, b: a * b), "/": (10, None), "%": (10, None),
    "**": (11, lambda a, b: a ** b if b >= 0 else 0),
}
ASSIGN_OPS = ("=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "^=", "|=")


class ArithError(Exception):
    pass


def wrap64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >> 63 else value


class Arith:
    """Evaluates one expression; variables come from and go to ``getvar``/``setvar``."""

    def __init__(self, text: str, getvar: Callable, setvar: Callable):
        self.tokens, pos = [], 0
        text = text.rstrip()
        while pos < len(text):
            match = ARITH_TOKEN.match(text, pos)
            if not match:
                raise ArithError("arithmetic syntax error")
            self.tokens.append(match.group(1))
            pos = match.end()
        self.i = 0
        self.getvar, self.setvar = getvar, setvar

    def evaluate(self) -> int:
        if not self.tokens:
            return 0
        value = self.comma()
        if self.i != len(self.tokens):
            raise ArithError("arithmetic syntax error")
        return value

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self):
        token = self.peek()
        if token is None:
            raise ArithError("arithmetic syntax error")
        self.i += 1
        return token

    def comma(self) -> int:
        value = self.assignment()
        while self.peek() == ",":
            self.take()
            value = self.assignment()
        return value

    def assignment(self) -> int:
        token = self.peek()
        if token and NAME_RE.fullmatch(token) and self.i + 1 < len(self.tokens) \
                and self.tokens[self.i + 1] in ASSIGN_OPS:
            self.i += 2
            op = self.tokens[self.i - 1]
            value = self.assignment()
            if op != "=":
                value = self.apply(op[:-1], self.variable(token), value)
            self.setvar(token, str(value))
            return value
        return self.conditional()

    def conditional(self) -> int:
        value = self.binary(1)
        if self.peek() == "?":
            self.take()
            yes = self.assignment()
            if self.take() != ":":
                raise ArithError("arithmetic syntax error")
            no = self.assignment()
            return yes if value else no
        return value

    def binary(self, level: int) -> int:
        value = self.unary()
        return self._climb(value, level)

    def _climb(self, left: int, level: int) -> int:
        while True:
            op = self.peek()
            if op not in BINARY or BINARY[op][0] < level:
                return left
            self.take()
            precedence = BINARY[op][0]
            right = self.unary()
            while self.peek() in BINARY and (BINARY[self.peek()][0] > precedence or
                                             self.peek() == "**" and op == "**"):
                right = self._climb(right, BINARY[self.peek()][0])
            left = self.apply(op, left, right)

    def apply(self, op: str, a: int, b: int) -> int:
        if op in ("/", "%"):
            if b == 0:
                raise ArithError("divide by zero")
            q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
            return wrap64(q if op == "/" else a - q * b)
        return wrap64(BINARY[op][1](a, b))

    def unary(self) -> int:
        token = self.take()
        if token in ("+", "-", "!", "~"):
            value = self.unary()
            return {"+": value, "-": wrap64(-value), "!": int(not value), "~": ~value}[token]
        if token in ("++", "--"):
            name = self.take()
            value = self.variable(name) + (1 if token == "++" else -1)
            self.setvar(name, str(value))
            return value
        if token == "(":
            value = self.comma()
            if self.take() != ")":
                raise ArithError("arithmetic syntax error")
            return value
        if token[0].isdigit():
            return self.number(token)
        if NAME_RE.fullmatch(token):
            value = self.variable(token)
            if self.peek() in ("++", "--"):
                self.setvar(token, str(value + (1 if self.take() == "++" else -1)))
            return value
        raise ArithError("arithmetic syntax error")

    @staticmethod
    def number(text: str) -> int:
        try:
            if text[:2] in ("0x", "0X"):
                return wrap64(int(text, 16))
            if len(text) > 1 and text[0] == "0":
                return wrap64(int(text, 8))
            return wrap64(int(text))
        except ValueError:
            raise ArithError("arithmetic syntax error") from None

    def variable(self, name: str, depth: int = 0) -> int:
        value = (self.getvar(name) or "").strip()
        if not value:
            return 0
        if re.fullmatch(r"[-+]?(0[xX][0-9a-fA-F]+|\d+)", value):
            sign = -1 if value[0] == "-" else 1
            return sign * self.number(value.lstrip("+-"))
        if NAME_RE.fullmatch(value) and depth < 100:
            return self.variable(value, depth + 1)
        raise ArithError("arithmetic syntax error")


# ---------------------------------------------------------------------------------------
# Control flow inside the shell
# ---------------------------------------------------------------------------------------

class ExitShell(Exception):
    def __init__(self, status: int):
        self.status = status


class ReturnFromFunction(Exception):
    def __init__(self, status: int):
        self.status = status


class LoopControl(Exception):
    def __init__(self, kind: str, levels: int):
        self.kind = kind  # "break" or "continue"
        self.levels = levels


class FatalError(Exception):
    """An error that ends a non-interactive shell with status 2 (expansion errors)."""


class AppletExit(Exception):
    """xfunc_die(): the applet ends with ``status`` (its message is already out)."""

    def __init__(self, status: int):
        self.status = status


class NotSimulated(Exception):
    """The scenario asked for something kmodsim does not simulate: said, never faked."""


# ---------------------------------------------------------------------------------------
# The shell
# ---------------------------------------------------------------------------------------

GUEST_INIT = """#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null
cd /mods
dmesg -c >/dev/null
echo "=== SCENARIO"
sh /scenario.sh 2>&1
echo "=== DMESG"
dmesg
echo "=== END"
poweroff -f
"""

IFS_WHITESPACE = " \t\n"


class Shell:
    """One busybox ``sh`` process in the guest, over a System.

    ``Shell(system, modules)`` sets up the guest realkernel boots: the scratch initramfs
    with ``modules`` (name -> bytes) in /mods, the working directory /mods and the
    environment init gets from the kernel (HOME=/, TERM=linux). ``run_script(text)`` runs a
    scenario as ``sh /scenario.sh`` and returns its exit status; ``run_interactive(line)``
    runs one line the way an interactive ash would (no line numbers in messages, a syntax
    error does not end the shell). Output goes to ``write`` (bytes), by default into
    ``self.output``; the scenario's stdout and stderr are both the console, as in the guest.
    """

    def __init__(self, system: System, modules: dict | None = None, *,
                 write: Callable[[bytes], None] | None = None, script_name: str = "/scenario.sh",
                 cwd: str = "/mods"):
        self.system = system
        self.output = bytearray()
        self._write = write or self.output.extend
        self.fs = ScratchFs()
        # realkernel's cpio, plus the /root the kernel's built-in initramfs adds
        for directory in ("/bin", "/dev", "/mods", "/proc", "/root", "/sys", "/tmp"):
            self.fs.mkdir(directory)
        self.fs.put("/init", GUEST_INIT.encode())
        self.fs.modes.update({"/root": 0o700, "/init": 0o755})
        for name, data in (modules or {}).items():
            self.fs.put(posixpath.join("/mods", name), data)
        self.script_name = script_name
        self.arg0 = script_name
        self.interactive = False
        self.cwd = cwd
        self.vars = {"HOME": "/", "TERM": "linux", "PATH": "/sbin:/usr/sbin:/bin:/usr/bin",
                     "IFS": IFS_WHITESPACE, "PS1": "# ", "PS2": "> ", "PS4": "+ ",
                     "OPTIND": "1", "PWD": cwd}
        self.exported = {"HOME", "TERM", "PWD"}
        self.positional: list[str] = []
        self.functions: dict[str, object] = {}
        self.status = 0
        self.pid = 1
        self.lineno = 0
        self.commandname: str | None = script_name
        self.console = ConsoleHandle(self)
        self.fds: dict[int, Handle] = {0: self.console, 1: self.console, 2: self.console}
        self._cmdsub_status: int | None = None
        self._local_frames: list[dict] = []
        self._loop_depth = 0

    # -- running --------------------------------------------------------------------------

    def run_script(self, text: str) -> int:
        """``sh /scenario.sh``: parse and run one command line after another."""
        self.fs.put(self.script_name, text.encode("utf-8", "surrogateescape"))
        self.arg0 = self.commandname = self.script_name
        self.interactive = False
        status = self._run_text(text, stop_on_syntax_error=True)
        self.flush_console()
        return status

    def run_interactive(self, line: str) -> int:
        """One line typed at an interactive ``sh`` prompt; ExitShell propagates on ``exit``."""
        self.arg0, self.commandname, self.interactive = "sh", None, True
        status = self._run_text(line, stop_on_syntax_error=False, interactive=True)
        self.flush_console()
        return status

    def _run_text(self, text: str, stop_on_syntax_error: bool, interactive: bool = False) -> int:
        parser = Parser(text)
        while True:
            try:
                node = parser.command_line()
            except ShellSyntaxError as exc:
                self.lineno = exc.line
                self.commandname = None if interactive else self.arg0
                self._error(f"syntax error: {exc.message}")
                self.status = 2
                if stop_on_syntax_error:
                    return 2
                return self.status
            if node is None:
                return self.status
            try:
                self.status = self.run(node)
            except ExitShell as exc:
                if interactive:
                    raise
                return exc.status
            except ReturnFromFunction as exc:
                return exc.status
            except LoopControl:
                self.status = 0
            except FatalError:
                self.status = 2
                if not interactive:
                    return 2
            except TaskKilled as exc:
                # the shell itself died (a builtin's syscall): its parent, init's sh, says so
                self._signal_message(exc, self.console)
                return 128 + exc.signo

    def flush_console(self) -> None:
        """Write out the kernel lines that reached the console since the last System call."""
        data = self.system.console_drain()
        if data:
            self._write(data)

    def _emit(self, data: bytes) -> None:
        self.flush_console()
        self._write(data)

    def _sys(self, name: str, *args):
        """Call the System; what the call printed on the console comes out right after it."""
        try:
            return getattr(self.system, name)(*args)
        finally:
            self.flush_console()

    # -- messages -------------------------------------------------------------------------

    def _error(self, message: str, command: str | None = None) -> None:
        """ash's ash_vmsg: ``arg0: [command: ][line N: ]message`` on stderr."""
        name = command or self.commandname
        text = f"{self.arg0}: "
        if name:
            if name != self.arg0:
                text += f"{name}: "
            if not self.interactive:
                text += f"line {self.lineno}: "
        self._puts(2, text + message + "\n")

    def _puts(self, fd: int, text: str | bytes) -> int:
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
        handle = self.fds.get(fd)
        return full_write(handle, data) if handle else -E.EBADF

    def _signal_message(self, exc: TaskKilled, handle: Handle) -> None:
        """What ash prints when a foreground job dies of a signal (not SIGINT/SIGPIPE)."""
        if exc.signo in (SIGINT, SIGPIPE):
            return
        text = strsignal(exc.signo) + (" (core dumped)" if exc.core_dumped else "")
        full_write(handle, (text + "\n").encode())

    # -- the tree walk --------------------------------------------------------------------

    def run(self, node) -> int:
        handler = getattr(self, "_run_" + type(node).__name__)
        return handler(node)

    def _run_Sequence(self, node: Sequence) -> int:
        status = self.status
        for item in node.items:
            status = self.status = self.run(item)
        return status

    def _run_AndOr(self, node: AndOr) -> int:
        status = self.status = self.run(node.first)
        for op, pipeline in node.rest:
            if (op == "&&") == (status == 0):
                status = self.status = self.run(pipeline)
        return status

    def _run_Pipeline(self, node: Pipeline) -> int:
        if len(node.commands) == 1:
            status = self.run(node.commands[0])
        else:
            status = self._run_pipe(node.commands)
        return int(not status) if node.negate else status

    def _run_pipe(self, commands: list) -> int:
        """Each element runs in a subshell; they run one after the other here, each one's
        output buffered as the next one's input (ash runs them at once; the bytes that
        reach the console are the same unless an element reads what a later one writes)."""
        data = None
        status = 0
        for index, command in enumerate(commands):
            last = index == len(commands) - 1
            fds = dict(self.fds)
            if data is not None:
                fds[0] = BufferHandle(data)
            sink = None if last else BufferHandle()
            if sink is not None:
                fds[1] = sink
            status = self._subshell(lambda c=command: self.run(c), fds)
            data = bytes(sink.data) if sink is not None else None
        return status

    def _subshell(self, body: Callable[[], int], fds: dict | None = None) -> int:
        """Run ``body`` in a forked copy of the shell: its variables, cwd and exit stay in it."""
        saved = (dict(self.vars), set(self.exported), list(self.positional),
                 dict(self.functions), self.cwd, self.fds, self._local_frames,
                 self._loop_depth)
        self.fds = fds if fds is not None else dict(self.fds)
        self._local_frames, self._loop_depth = [], 0
        try:
            return body()
        except ExitShell as exc:
            return exc.status
        except ReturnFromFunction as exc:
            return exc.status
        except LoopControl:
            return 0
        except FatalError:
            return 2
        except TaskKilled as exc:
            self._signal_message(exc, saved[5].get(2, self.console))
            return 128 + exc.signo
        finally:
            (self.vars, self.exported, self.positional, self.functions, self.cwd,
             self.fds, self._local_frames, self._loop_depth) = saved

    def _run_Group(self, node: Group) -> int:
        if node.subshell:
            return self._subshell(lambda: self.run(node.body))
        return self.run(node.body)

    def _run_Redirected(self, node: Redirected) -> int:
        return self._with_redirects(node.redirects, lambda: self.run(node.command))

    def _run_FunctionDef(self, node: FunctionDef) -> int:
        self.functions[node.name] = node.body
        return 0

    def _run_If(self, node: If) -> int:
        for condition, body in node.clauses:
            if self.run(condition) == 0:
                return self.run(body)
        return self.run(node.otherwise) if node.otherwise else 0

    def _run_Loop(self, node: Loop) -> int:
        status = 0
        self._loop_depth += 1
        try:
            while (self.run(node.condition) == 0) != node.until:
                try:
                    status = self.run(node.body)
                except LoopControl as exc:
                    if exc.levels > 1:
                        raise LoopControl(exc.kind, exc.levels - 1) from None
                    if exc.kind == "break":
                        break
        finally:
            self._loop_depth -= 1
        return status

    def _run_For(self, node: For) -> int:
        self.lineno = node.line
        values = list(self.positional) if node.words is None else self.expand_words(node.words)
        status = 0
        self._loop_depth += 1
        try:
            for value in values:
                self.setvar(node.name, value)
                try:
                    status = self.run(node.body)
                except LoopControl as exc:
                    if exc.levels > 1:
                        raise LoopControl(exc.kind, exc.levels - 1) from None
                    if exc.kind == "break":
                        break
        finally:
            self._loop_depth -= 1
        return status

    def _run_Case(self, node: Case) -> int:
        self.lineno = node.line
        subject = self.expand_text(node.word)
        for patterns, body in node.arms:
            for pattern in patterns:
                if pattern_regex(self._pattern_chars(pattern)).match(subject):
                    return self.run(body) if body else 0
        return 0

    def _run_Simple(self, node: Simple) -> int:
        self.lineno = node.line
        self._cmdsub_status = None
        argv = self.expand_words(node.words)
        if not argv:
            for name, word in node.assigns:
                self.setvar(name, self.expand_text(word))
            status = self._cmdsub_status or 0
            return self._with_redirects(node.redirects, lambda: status)
        if argv == ["exec"]:
            return self._exec_redirects(node.redirects)
        values = [(name, self.expand_text(word)) for name, word in node.assigns]
        saved = {name: self.vars.get(name) for name, _ in values}
        for name, value in values:
            self.vars[name] = value
        try:
            return self._with_redirects(node.redirects, lambda: self._execute(argv))
        finally:
            for name, value in saved.items():
                if value is None:
                    self.vars.pop(name, None)
                else:
                    self.vars[name] = value

    def _exec_redirects(self, redirects: list) -> int:
        """``exec`` with redirections only: they stay for the rest of the shell."""
        opened = []
        for redirect in redirects:
            if not self._redirect(redirect, opened):
                return 1
        return 0

    def _execute(self, argv: list[str]) -> int:
        name = argv[0]
        if name == "exec":  # the command replaces the shell: run it, then the shell is gone
            raise ExitShell(self._execute(argv[1:]) if len(argv) > 1 else 0)
        if name in self.functions:
            return self._call_function(name, argv)
        if name in BUILTINS:
            saved, self.commandname = self.commandname, name
            try:
                return BUILTINS[name](self, argv)
            finally:
                self.commandname = saved
        applet = name[len("/bin/"):] if name.startswith("/bin/") else name
        if applet in APPLETS:
            return self._run_applet(applet, argv)
        return self._not_runnable(name)

    def _not_runnable(self, name: str) -> int:
        if "/" in name:
            path = self._abspath(name)
            stat = self._stat(path)
            if not isinstance(stat, int):
                if is_program(self.fs.data(path)):
                    self._puts(2, f"kmodsim: {name}: running programs is not simulated\n")
                    return 127
                # a .ko or a directory: execve fails with EACCES
                self._error(f"{name}: Permission denied")
                return 126
        elif name in BUSYBOX_APPLETS:
            self._puts(2, f"kmodsim: {name}: busybox applet not simulated\n")
            return 127
        self._error(f"{name}: not found")
        return 127

    def _call_function(self, name: str, argv: list[str]) -> int:
        saved = self.positional
        self.positional = argv[1:]
        self._local_frames.append({})
        try:
            return self.run(self.functions[name])
        except ReturnFromFunction as exc:
            return exc.status
        finally:
            for var, value in self._local_frames.pop().items():
                if value is None:
                    self.vars.pop(var, None)
                else:
                    self.vars[var] = value
            self.positional = saved

    def _run_applet(self, name: str, argv: list[str]) -> int:
        """Fork (System.spawn), run the applet, wait (System.reap); print a fatal signal.

        comm: NOEXEC applets set it to their name (set_task_comm); the others are exec'd
        as /proc/self/exe, so the kernel names them "exe".
        """
        comm = name if name in NOEXEC_APPLETS else "exe"
        pid = self._sys("spawn", comm)
        killed = None
        app = Applet(self, name)
        try:
            try:
                if argv[1:] == ["--help"] and name in USAGE:
                    app.usage(0)  # show_usage_if_dash_dash_help: exit 0
                status = APPLETS[name](app, argv)
            except AppletExit as exc:
                status = exc.status
            app.flush()  # exit(): stdio writes out what it holds, errors unreported
        except NotSimulated as exc:
            self._puts(2, f"kmodsim: {exc}\n")
            status = 127
        except TaskKilled as exc:
            killed, status = exc, 128 + exc.signo
        finally:
            self._sys("reap", pid)
        if killed:
            self._signal_message(killed, self.fds[2])
        return status & 0xFF

    # -- redirections ---------------------------------------------------------------------

    def _with_redirects(self, redirects: list, body: Callable[[], int]) -> int:
        if not redirects:
            return body()
        saved, opened = self.fds, []
        self.fds = dict(saved)
        try:
            for redirect in redirects:
                if not self._redirect(redirect, opened):
                    return 1
            return body()
        finally:
            self.fds = saved
            for handle in opened:
                handle.close()

    def _redirect(self, redirect: Redirect, opened: list) -> bool:
        op = redirect.op
        fd = redirect.fd if redirect.fd is not None else (0 if op[0] == "<" else 1)
        target = self.expand_text(redirect.target)
        if op in ("<<", "<<-"):
            self.fds[fd] = BufferHandle(target.encode("utf-8", "surrogateescape"))
            return True
        if op in (">&", "<&"):
            if target == "-":
                self.fds.pop(fd, None)
                return True
            if target.isdigit():
                source = self.fds.get(int(target))
                if source is None:
                    self._error(f"{target}: Bad file descriptor")
                    return False
                self.fds[fd] = source
                return True
            op = ">" if op == ">&" else "<"
        path = self._abspath(target)
        if op == "<":
            handle = self._open(path, O_RDONLY)
        elif op == "<>":
            handle = self._open(path, O_RDWR | O_CREAT)
        else:
            handle = self._open(path, O_WRONLY | O_CREAT | (O_APPEND if op == ">>" else O_TRUNC))
        if isinstance(handle, int):
            if op == "<":
                self._error(f"can't open {target}: {errmsg(-handle, 'no such file')}", self.arg0)
            else:
                self._error(f"can't create {target}: {errmsg(-handle, 'nonexistent directory')}",
                            self.arg0)
            return False
        opened.append(handle)
        self.fds[fd] = handle
        return True

    # -- files ----------------------------------------------------------------------------

    def _abspath(self, path: str) -> str:
        return normpath(posixpath.join(self.cwd, path)) if path else ""

    def _stat(self, path: str) -> Stat | int:
        if path in SHELL_DEVICES:
            return Stat(is_dir=False, mode=0o666, kind="c", rdev=SHELL_DEVICES[path])
        if is_kernel_path(path) and path not in KERNEL_MOUNTS:
            return self._sys("stat", path)
        kind = self.fs.kind(path)
        if kind is None:
            parent = posixpath.dirname(path)
            return -E.ENOTDIR if self.fs.kind(parent) == "f" else -E.ENOENT
        if kind == "d":
            # the guest's rootfs is a tmpfs: a directory's size is 20 per entry, "." and
            # ".." included (BOGO_DIRENT_SIZE)
            entries = self.fs.list_dir(path)
            return Stat(is_dir=True, mode=self.fs.modes.get(path, 0o755),
                        size=20 * (len(entries) + 2))
        return Stat(is_dir=False, mode=self.fs.modes.get(path, 0o644),
                    size=len(self.fs.data(path)))

    def _list_dir(self, path: str) -> list[str] | int:
        if is_kernel_path(path):
            return self._sys("list_dir", path)
        names = self.fs.list_dir(path)
        return names

    def _open(self, path: str, flags: int) -> Handle | int:
        if not path:
            return -E.ENOENT
        if path == "/dev/null":
            return NullHandle()
        if path == "/dev/zero":
            return ZeroHandle()
        if is_kernel_path(path) and path not in KERNEL_MOUNTS:
            fd = self._sys("open", path, flags)
            return fd if fd < 0 else KernelHandle(self, fd)
        if flags & (O_WRONLY | O_RDWR):
            node = self.fs.open_write(path, append=bool(flags & O_APPEND))
            return node if isinstance(node, int) else ScratchHandle(node)
        kind = self.fs.kind(path)
        if kind is None:
            return -E.ENOENT
        if kind == "d":
            return ScratchHandle(None)
        return ScratchHandle(bytearray(self.fs.data(path)))

    def read_file(self, path: str) -> bytes | int:
        """A whole file's bytes (open + read to the end), or -errno."""
        handle = self._open(self._abspath(path), O_RDONLY)
        if isinstance(handle, int):
            return handle
        try:
            return read_all(handle)
        finally:
            handle.close()

    def release(self) -> str:
        """uname -r, as the System's /proc/sys/kernel/osrelease says."""
        data = self.read_file("/proc/sys/kernel/osrelease")
        return data.decode().strip() if isinstance(data, bytes) else ""

    # -- variables ------------------------------------------------------------------------

    def getvar(self, name: str) -> str | None:
        if name == "?":
            return str(self.status)
        if name == "#":
            return str(len(self.positional))
        if name == "$":
            return str(self.pid)
        if name == "!":
            return ""
        if name == "-":
            return ""
        if name in ("@", "*"):
            return " ".join(self.positional)
        if name.isdigit():
            index = int(name)
            if index == 0:
                return self.arg0 if self.arg0 != "sh" or not self.interactive else "sh"
            return self.positional[index - 1] if index <= len(self.positional) else None
        return self.vars.get(name)

    def setvar(self, name: str, value: str) -> None:
        self.vars[name] = value

    # -- expansion ------------------------------------------------------------------------

    def expand_words(self, words: list) -> list[str]:
        fields = []
        for word in words:
            fields.extend(self.expand_word(word))
        return fields

    def expand_word(self, word: Word) -> list[str]:
        """Parameter, command and arithmetic expansion, field splitting, globbing and
        quote removal of one word: zero or more fields."""
        result = []
        for chars in self._fields(word.parts):
            result.extend(self._glob_field(chars))
        return result

    def expand_text(self, word: Word) -> str:
        """One word expanded without field splitting or globbing (assignments, redirections,
        case subjects)."""
        return "".join(self._part_text(part) for part in word.parts)

    def _part_text(self, part: tuple) -> str:
        if part[0] == "lit":
            return part[1]
        value = self._part_value(part)
        return " ".join(value) if isinstance(value, list) else value

    def _fields(self, parts: tuple) -> list[list]:
        """Fields as lists of (char, quoted) pairs."""
        fields, current, started = [], [], False
        ifs = self.vars.get("IFS", IFS_WHITESPACE)
        for part in parts:
            if part[0] == "lit":
                current.extend((c, part[2]) for c in part[1])
                started = started or bool(part[1]) or part[2]
                continue
            value = self._part_value(part)
            quoted = part[-2] if part[0] == "cmd" else part[-1]
            if isinstance(value, list):  # "$@"
                for index, item in enumerate(value):
                    if index:
                        fields.append(current)
                        current = []
                    current.extend((c, True) for c in item)
                    started = True
                continue
            if quoted:
                current.extend((c, True) for c in value)
                started = True
                continue
            pieces = split_fields(value, ifs)
            if not pieces:
                if value and started and value[0] in ifs:
                    fields.append(current)
                    current, started = [], False
                continue
            if value[0] in ifs and started:
                fields.append(current)
                current = []
            for index, piece in enumerate(pieces):
                if index:
                    fields.append(current)
                    current = []
                current.extend((c, False) for c in piece)
            started = True
            if value[-1] in ifs:
                fields.append(current)
                current, started = [], False
        if started:
            fields.append(current)
        return fields

    def _part_value(self, part: tuple) -> str | list:
        kind = part[0]
        if kind == "cmd":
            return self._command_substitution(part[1], part[3])
        if kind == "arith":
            return self._arithmetic(part[1])
        _, name, op, arg, quoted = part
        if name == "@" and quoted and op is None:
            return list(self.positional)
        value = self.getvar(name)
        if op is None:
            return value or ""
        if op == "len":
            return str(len(value or ""))
        unset = value is None or (op[0] == ":" and value == "")
        bare = op.lstrip(":")
        if bare == "-":
            return self._arg_text(arg) if unset else value
        if bare == "=":
            if unset:
                value = self._arg_text(arg)
                self.setvar(name, value)
            return value
        if bare == "+":
            return "" if unset else self._arg_text(arg)
        if bare == "?":
            if unset:
                message = self._arg_text(arg) or "parameter not set"
                self._error(f"{name}: {message}")
                raise FatalError()
            return value
        return self._remove_pattern(value or "", op, arg)

    def _arg_text(self, arg: tuple) -> str:
        return "".join(self._part_text(part) for part in arg)

    def _remove_pattern(self, value: str, op: str, arg: tuple) -> str:
        chars = []
        for part in arg:
            if part[0] == "lit":
                chars.extend((c, part[2]) for c in part[1])
            else:
                chars.extend((c, True) for c in self._part_text(part))
        regex = pattern_regex(chars)
        cuts = range(len(value) + 1)
        if op in ("#", "##"):
            for n in (reversed(cuts) if op == "##" else cuts):
                if regex.match(value[:n]):
                    return value[n:]
        else:
            for n in (cuts if op == "%%" else reversed(cuts)):
                if regex.match(value[n:]):
                    return value[:n]
        return value

    def _pattern_chars(self, word: Word) -> list:
        chars = []
        for part in word.parts:
            if part[0] == "lit":
                chars.extend((c, part[2]) for c in part[1])
            else:
                quoted = part[-2] if part[0] == "cmd" else part[-1]
                chars.extend((c, quoted) for c in self._part_text(part))
        return chars

    def _command_substitution(self, source: str, line: int) -> str:
        sink = BufferHandle()
        fds = dict(self.fds)
        fds[1] = sink
        saved_line = self.lineno

        def body():
            parser = Parser(source, line)
            status = 0
            while True:
                try:
                    node = parser.command_line()
                except ShellSyntaxError as exc:
                    self.lineno = exc.line
                    self._error(f"syntax error: {exc.message}")
                    return 2
                if node is None:
                    return status
                status = self.status = self.run(node)

        self._cmdsub_status = self._subshell(body, fds)
        self.lineno = saved_line
        return bytes(sink.data).decode("utf-8", "surrogateescape").rstrip("\n")

    def _arithmetic(self, source: str) -> str:
        text = self._arg_text(tuple(Parser(source)._read_parts(stop="", quoted=True)))
        try:
            return str(Arith(text, self.getvar, self.setvar).evaluate())
        except ArithError as exc:
            self._error(str(exc))
            raise FatalError() from None

    # -- globbing -------------------------------------------------------------------------

    def _glob_field(self, chars: list) -> list[str]:
        text = "".join(c for c, _ in chars)
        if not has_glob(chars):
            return [text]
        matches = self._glob(chars)
        return matches if matches else [text]

    def _glob(self, chars: list) -> list[str]:
        components, current = [], []
        for c, quoted in chars:
            if c == "/":
                components.append(current)
                current = []
            else:
                current.append((c, quoted))
        components.append(current)
        absolute = not components[0] and len(components) > 1
        if absolute:
            components = components[1:]
        paths = ["/" if absolute else ""]
        for index, component in enumerate(components):
            last = index == len(components) - 1
            if not component:
                if last:  # a trailing "/": directories only
                    paths = [p + "/" for p in paths
                             if isinstance(self._stat(self._abspath(p)), Stat)
                             and self._stat(self._abspath(p)).is_dir]
                continue
            paths = self._glob_step(paths, component)
            if not paths:
                return []
        return sorted(paths)

    def _glob_step(self, bases: list[str], component: list) -> list[str]:
        def join(base, name):
            if not base:
                return name
            return base + name if base.endswith("/") else base + "/" + name

        if not has_glob(component):
            name = "".join(c for c, _ in component)
            found = []
            for base in bases:
                path = join(base, name)
                if not isinstance(self._stat(self._abspath(path) or "/"), int):
                    found.append(path)
            return found
        regex = pattern_regex(component)
        dot = component[0][0] == "."
        found = []
        for base in bases:
            names = self._list_dir(self._abspath(base) if base else self.cwd)
            if isinstance(names, int):
                continue
            if dot:
                names = [".", ".."] + list(names)
            for name in names:
                if name.startswith(".") and not dot:
                    continue
                if regex.match(name):
                    found.append(join(base, name))
        return found


def split_fields(value: str, ifs: str) -> list[str]:
    """Field splitting of an unquoted expansion (IFS whitespace; other IFS chars delimit)."""
    if not ifs:
        return [value] if value else []
    white = "".join(c for c in ifs if c in IFS_WHITESPACE)
    other = "".join(c for c in ifs if c not in IFS_WHITESPACE)
    if not other:
        return value.split() if white == IFS_WHITESPACE else \
            [f for f in re.split("[" + re.escape(white) + "]+", value) if f]
    blanks = f"[{re.escape(white)}]*" if white else ""
    pattern = f"{blanks}[{re.escape(other)}]{blanks}" + (f"|[{re.escape(white)}]+" if white else "")
    stripped = value.strip(white)
    if not stripped:
        return []
    fields = re.split(pattern, stripped)
    if fields and fields[-1] == "" and stripped[-1] in other:
        fields.pop()
    return fields


def is_program(data: bytes | int) -> bool:
    """An ELF executable or shared object (e_type 2 or 3): what realkernel's cp would
    leave executable in /mods (a user-space helper such as tests/realkernel/finit.c);
    a module (ET_REL) is not executable there."""
    return isinstance(data, bytes) and data[:4] == b"\x7fELF" and len(data) > 17 \
        and data[16] in (2, 3)


def errmsg(err: int, absent: str) -> str:
    """ash's errmsg(): ENOENT and ENOTDIR get ash's own wording."""
    return absent if err in (E.ENOENT, E.ENOTDIR) else strerror(err)


# ---------------------------------------------------------------------------------------
# Builtins (run inside the shell process)
# ---------------------------------------------------------------------------------------

def builtin_echo(shell: Shell, argv: list[str]) -> int:
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


def builtin_printf(shell: Shell, argv: list[str]) -> int:
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


def builtin_true(shell: Shell, argv: list[str]) -> int:
    return 0


def builtin_false(shell: Shell, argv: list[str]) -> int:
    return 1


def builtin_cd(shell: Shell, argv: list[str]) -> int:
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


def builtin_pwd(shell: Shell, argv: list[str]) -> int:
    shell._puts(1, shell.cwd + "\n")
    return 0


def _number_arg(shell: Shell, argv: list[str], default: int) -> int | None:
    if len(argv) < 2:
        return default
    if not re.fullmatch(r"\d+", argv[1]):
        shell._error(f"Illegal number: {argv[1]}")
        return None
    return int(argv[1])


def builtin_exit(shell: Shell, argv: list[str]) -> int:
    status = _number_arg(shell, argv, shell.status)
    raise ExitShell(2 if status is None else status & 0xFF)


def builtin_return(shell: Shell, argv: list[str]) -> int:
    status = _number_arg(shell, argv, shell.status)
    raise ReturnFromFunction(2 if status is None else status & 0xFF)


def builtin_break(shell: Shell, argv: list[str]) -> int:
    levels = _number_arg(shell, argv, 1)
    if levels is None or levels == 0:
        if levels == 0:
            shell._error("Illegal number: 0")
        return 2
    if shell._loop_depth:
        raise LoopControl(argv[0], min(levels, shell._loop_depth))
    return 0


def builtin_shift(shell: Shell, argv: list[str]) -> int:
    count = _number_arg(shell, argv, 1)
    if count is None:
        return 2
    if count > len(shell.positional):
        return 1
    shell.positional = shell.positional[count:]
    return 0


def builtin_set(shell: Shell, argv: list[str]) -> int:
    if len(argv) == 1:
        for name in sorted(shell.vars):
            shell._puts(1, f"{name}={quote(shell.vars[name])}\n")
        return 0
    if argv[1] == "--":
        shell.positional = argv[2:]
        return 0
    raise_not_simulated(shell, f"set {argv[1]}")
    return 2


def builtin_export(shell: Shell, argv: list[str]) -> int:
    for arg in argv[1:]:
        name, eq, value = arg.partition("=")
        if eq:
            shell.setvar(name, value)
        shell.exported.add(name)
    return 0


def builtin_unset(shell: Shell, argv: list[str]) -> int:
    for name in argv[1:]:
        if name in ("-v", "-f"):
            continue
        if "-f" in argv:
            shell.functions.pop(name, None)
        else:
            shell.vars.pop(name, None)
    return 0


def builtin_local(shell: Shell, argv: list[str]) -> int:
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


def builtin_read(shell: Shell, argv: list[str]) -> int:
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


def builtin_eval(shell: Shell, argv: list[str]) -> int:
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


def builtin_dot(shell: Shell, argv: list[str]) -> int:
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


def raise_not_simulated(shell: Shell, what: str) -> None:
    shell._puts(2, f"kmodsim: {what}: not simulated\n")


def quote(value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_./:=+-]+", value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


# -- test / [ -------------------------------------------------------------------------------

class TestError(Exception):
    pass


UNARY_TESTS = set("-e -f -d -r -w -x -s -L -h -b -c -p -S -z -n -t -g -u -k -O -G".split())
BINARY_TESTS = set("= == != < > -eq -ne -lt -le -gt -ge -nt -ot -ef".split())


def builtin_test(shell: Shell, argv: list[str]) -> int:
    """busybox coreutils/test.c: 0 true, 1 false, 2 and ``sh: message`` on a bad expression."""
    args = argv[1:]
    if argv[0] == "[":
        if not args or args[-1] != "]":
            shell._puts(2, "sh: missing ]\n")
            return 2
        args = args[:-1]
    try:
        return 0 if TestExpr(shell, args).evaluate() else 1
    except TestError as exc:
        shell._puts(2, f"sh: {exc}\n")
        return 2


class TestExpr:
    def __init__(self, shell: Shell, args: list[str]):
        self.shell, self.args, self.i = shell, args, 0

    def evaluate(self) -> bool:
        if not self.args:
            return False
        if len(self.args) == 1:
            return self.args[0] != ""
        value = self.or_()
        if self.i < len(self.args):
            raise TestError(f"{self.args[self.i]}: unknown operand")
        return value

    def peek(self):
        return self.args[self.i] if self.i < len(self.args) else None

    def or_(self) -> bool:
        value = self.and_()
        while self.peek() == "-o":
            self.i += 1
            right = self.and_()
            value = value or right
        return value

    def and_(self) -> bool:
        value = self.not_()
        while self.peek() == "-a":
            self.i += 1
            right = self.not_()
            value = value and right
        return value

    def not_(self) -> bool:
        if self.peek() == "!" and self.i + 1 < len(self.args):
            self.i += 1
            return not self.not_()
        return self.primary()

    def primary(self) -> bool:
        token = self.peek()
        if token is None:
            raise TestError("argument expected")
        if token == "(" and self.i + 1 < len(self.args):
            self.i += 1
            value = self.or_()
            if self.peek() != ")":
                raise TestError("closing paren expected")
            self.i += 1
            return value
        if self.i + 2 < len(self.args) and self.args[self.i + 1] in BINARY_TESTS:
            left, op, right = self.args[self.i:self.i + 3]
            self.i += 3
            return self.binary(left, op, right)
        if token in UNARY_TESTS and self.i + 1 < len(self.args):
            self.i += 2
            return self.unary(token, self.args[self.i - 1])
        self.i += 1
        return token != ""

    def binary(self, left: str, op: str, right: str) -> bool:
        if op in ("=", "=="):
            return left == right
        if op == "!=":
            return left != right
        if op == "<":
            return left < right
        if op == ">":
            return left > right
        if op in ("-nt", "-ot", "-ef"):
            return False
        a, b = self.integer(left), self.integer(right)
        return {"-eq": a == b, "-ne": a != b, "-lt": a < b, "-le": a <= b,
                "-gt": a > b, "-ge": a >= b}[op]

    @staticmethod
    def integer(text: str) -> int:
        if not re.fullmatch(r"\s*[-+]?\d+\s*", text):
            raise TestError(f"{text}: bad number")
        return int(text)

    def unary(self, op: str, arg: str) -> bool:
        if op == "-z":
            return arg == ""
        if op == "-n":
            return arg != ""
        if op == "-t":
            handle = self.shell.fds.get(int(arg)) if arg.isdigit() else None
            return bool(handle and handle.console)
        stat = self.shell._stat(self.shell._abspath(arg))
        if isinstance(stat, int):
            return False
        if op == "-d":
            return stat.is_dir
        if op == "-f":
            return stat.type == "-"
        if op == "-s":
            return stat.size > 0
        if op == "-x":  # root may execute what has any x bit, and enter any directory
            return stat.is_dir or bool(stat.mode & 0o111)
        if op in ("-e", "-r", "-w"):
            return True
        if op in ("-b", "-c", "-p", "-S"):
            return stat.type == {"-b": "b", "-c": "c", "-p": "p", "-S": "s"}[op]
        if op in ("-g", "-u", "-k"):
            return bool(stat.mode & {"-g": 0o2000, "-u": 0o4000, "-k": 0o1000}[op])
        return False  # -L -h: no symbolic links here


BUILTINS = {
    "echo": builtin_echo, "printf": builtin_printf, "true": builtin_true,
    ":": builtin_true, "false": builtin_false, "cd": builtin_cd, "pwd": builtin_pwd,
    "exit": builtin_exit, "return": builtin_return, "break": builtin_break,
    "continue": builtin_break, "shift": builtin_shift, "set": builtin_set,
    "export": builtin_export, "unset": builtin_unset, "local": builtin_local,
    "read": builtin_read, "eval": builtin_eval, ".": builtin_dot, "source": builtin_dot,
    "test": builtin_test, "[": builtin_test, "[[": builtin_test,
}


# ---------------------------------------------------------------------------------------
# Applets (each a process)
# ---------------------------------------------------------------------------------------

BUSYBOX_BANNER = "BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.\n\n"

# bb_show_usage() text of each simulated applet (busybox --help), after the banner
USAGE = {
    "insmod": "Usage: insmod FILE [SYMBOL=VALUE]...\n\nLoad kernel module\n",
    "rmmod": "Usage: rmmod [-wfa] [MODULE]...\n\nUnload kernel modules\n\n"
             "\t-w\tWait until the module is no longer used\n\t-f\tForce unload\n"
             "\t-a\tRemove all unused modules (recursively)\n",
    "lsmod": "Usage: lsmod\n\nList loaded kernel modules\n",
    "modprobe": "Usage: modprobe [-alrqvsDb] MODULE [SYMBOL=VALUE]...\n\n"
                "\t-a\tLoad multiple MODULEs\n\t-l\tList (MODULE is a pattern)\n"
                "\t-r\tRemove MODULE (stacks) or do autoclean\n\t-q\tQuiet\n\t-v\tVerbose\n"
                "\t-s\tLog to syslog\n\t-D\tShow dependencies\n"
                "\t-b\tApply blacklist to module names too\n",
    "modinfo": "Usage: modinfo [-adlpn0] [-F keyword] MODULE\n\n"
               "\t-a\t\tShortcut for '-F author'\n\t-d\t\tShortcut for '-F description'\n"
               "\t-l\t\tShortcut for '-F license'\n\t-p\t\tShortcut for '-F parm'\n"
               "\t-F keyword\tKeyword to look for\n\t-0\t\tNUL terminated output\n",
    "depmod": "Usage: depmod [-n] [-b BASE] [VERSION] [MODFILES]...\n\n"
              "Generate modules.dep, alias, and symbols files\n\n"
              "\t-b BASE\tUse BASE/lib/modules/VERSION\n\t-n\tDry run: print files to stdout\n",
    "dmesg": "Usage: dmesg [-cr] [-n LEVEL] [-s SIZE]\n\n"
             "Print or control the kernel ring buffer\n\n"
             "\t-c\t\tClear ring buffer after printing\n\t-n LEVEL\tSet console logging level\n"
             "\t-s SIZE\t\tBuffer size\n\t-r\t\tPrint raw message buffer\n",
    "cat": "Usage: cat [-nbvteA] [FILE]...\n\nPrint FILEs to stdout\n\n"
           "\t-n\tNumber output lines\n\t-b\tNumber nonempty lines\n"
           "\t-v\tShow nonprinting characters as ^x or M-x\n\t-t\t...and tabs as ^I\n"
           "\t-e\t...and end lines with $\n\t-A\tSame as -vte\n",
    "head": "Usage: head [OPTIONS] [FILE]...\n\n"
            "Print first 10 lines of FILEs (or stdin).\n"
            "With more than one FILE, precede each with a filename header.\n\n"
            "\t-n N[bkm]\tPrint first N lines\n\t-n -N[bkm]\tPrint all except N last lines\n"
            "\t-c [-]N[bkm]\tPrint first N bytes\n\t\t\t(b:*512 k:*1024 m:*1024^2)\n"
            "\t-q\t\tNever print headers\n\t-v\t\tAlways print headers\n",
    "ls": "Usage: ls [-1AaCxdLHRFplinshrSXvctu] [-w WIDTH] [FILE]...\n\n"
          "List directory contents\n\n\t-1\tOne column output\n"
          "\t-a\tInclude names starting with .\n\t-A\tLike -a, but exclude . and ..\n"
          "\t-x\tList by lines\n\t-d\tList directory names, not contents\n"
          "\t-L\tFollow symlinks\n\t-H\tFollow symlinks on command line\n\t-R\tRecurse\n"
          "\t-p\tAppend / to directory names\n"
          "\t-F\tAppend indicator (one of */=@|) to names\n\t-l\tLong format\n"
          "\t-i\tList inode numbers\n\t-n\tList numeric UIDs and GIDs instead of names\n"
          "\t-s\tList allocated blocks\n\t-lc\tList ctime\n\t-lu\tList atime\n"
          "\t--full-time\tList full date/time\n\t-h\tHuman readable sizes (1K 243M 2G)\n"
          "\t--group-directories-first\n\t-S\tSort by size\n\t-X\tSort by extension\n"
          "\t-v\tSort by version\n\t-t\tSort by mtime\n\t-tc\tSort by ctime\n"
          "\t-tu\tSort by atime\n\t-r\tReverse sort order\n\t-w N\tFormat N columns wide\n"
          "\t--color[={always,never,auto}]\n",
    "sleep": "Usage: sleep [N]...\n\nPause for a time equal to the total of the args given,"
             " where each arg can\nhave an optional suffix of (s)econds, (m)inutes, (h)ours,"
             " or (d)ays\n",
    "stat": "Usage: stat [-ltf] [-c FMT] FILE...\n\n"
            "Display file (default) or filesystem status\n\n"
            "\t-c FMT\tUse the specified format\n\t-f\tDisplay filesystem status\n"
            "\t-L\tFollow links\n\t-t\tTerse display\n\nFMT sequences for files:\n"
            " %a\tAccess rights in octal\n %A\tAccess rights in human readable form\n"
            " %b\tNumber of blocks allocated (see %B)\n"
            " %B\tSize in bytes of each block reported by %b\n %d\tDevice number in decimal\n"
            " %D\tDevice number in hex\n %f\tRaw mode in hex\n %F\tFile type\n %g\tGroup ID\n"
            " %G\tGroup name\n %h\tNumber of hard links\n %i\tInode number\n %n\tFile name\n"
            " %N\tFile name, with -> TARGET if symlink\n %o\tI/O block size\n"
            " %s\tTotal size in bytes\n %t\tMajor device type in hex\n"
            " %T\tMinor device type in hex\n %u\tUser ID\n %U\tUser name\n"
            " %x\tTime of last access\n %X\tTime of last access as seconds since Epoch\n"
            " %y\tTime of last modification\n"
            " %Y\tTime of last modification as seconds since Epoch\n %z\tTime of last change\n"
            " %Z\tTime of last change as seconds since Epoch\n\n"
            "FMT sequences for file systems:\n %a\tFree blocks available to non-superuser\n"
            " %b\tTotal data blocks\n %c\tTotal file nodes\n %d\tFree file nodes\n"
            " %f\tFree blocks\n %i\tFile System ID in hex\n %l\tMaximum length of filenames\n"
            " %n\tFile name\n %s\tBlock size (for faster transfer)\n"
            " %S\tFundamental block size (for block counts)\n %t\tType in hex\n"
            " %T\tType in human readable form\n",
    "grep": "Usage: grep [-HhnlLoqvsrRiwFEz] [-m N] [-A|B|C N] "
            "{ PATTERN | -e PATTERN... | -f FILE... } [FILE]...\n"
            "\nSearch for PATTERN in FILEs (or stdin)\n\n\t-H\tAdd 'filename:' prefix\n"
            "\t-h\tDo not add 'filename:' prefix\n\t-n\tAdd 'line_no:' prefix\n"
            "\t-l\tShow only names of files that match\n"
            "\t-L\tShow only names of files that don't match\n"
            "\t-c\tShow only count of matching lines\n"
            "\t-o\tShow only the matching part of line\n"
            "\t-q\tQuiet. Return 0 if PATTERN is found, 1 otherwise\n"
            "\t-v\tSelect non-matching lines\n\t-s\tSuppress open and read errors\n"
            "\t-r\tRecurse\n\t-R\tRecurse and dereference symlinks\n\t-i\tIgnore case\n"
            "\t-w\tMatch whole words only\n\t-x\tMatch whole lines only\n"
            "\t-F\tPATTERN is a literal (not regexp)\n\t-E\tPATTERN is an extended regexp\n"
            "\t-z\tNUL terminated input\n\t-m N\tMatch up to N times per file\n"
            "\t-A N\tPrint N lines of trailing context\n"
            "\t-B N\tPrint N lines of leading context\n\t-C N\tSame as '-A N -B N'\n"
            "\t-e PTRN\tPattern to match\n\t-f FILE\tRead pattern from file\n",
    "wc": "Usage: wc [-cmlwL] [FILE]...\n\n"
          "Count lines, words, and bytes for FILEs (or stdin)\n\n\t-c\tCount bytes\n"
          "\t-m\tCount characters\n\t-l\tCount newlines\n\t-w\tCount words\n"
          "\t-L\tPrint longest line length\n",
    "tail": "Usage: tail [OPTIONS] [FILE]...\n\nPrint last 10 lines of FILEs (or stdin) to.\n"
            "With more than one FILE, precede each with a filename header.\n\n"
            "\t-c [+]N[bkm]\tPrint last N bytes\n\t-n N[bkm]\tPrint last N lines\n"
            "\t-n +N[bkm]\tStart on Nth line and print the rest\n"
            "\t\t\t(b:*512 k:*1024 m:*1024^2)\n\t-q\t\tNever print headers\n"
            "\t-v\t\tAlways print headers\n\t-f\t\tPrint data as file grows\n"
            "\t-F\t\tSame as -f, but keep retrying\n"
            "\t-s SECONDS\tWait SECONDS between reads with -f\n",
    "sort": "Usage: sort [-nrugMcszbdfiokt] [-o FILE] "
            "[-k START[.OFS][OPTS][,END[.OFS][OPTS]] [-t CHAR] [FILE]...\n"
            "\nSort lines of text\n\n\t-o FILE\tOutput to FILE\n"
            "\t-c\tCheck whether input is sorted\n\t-b\tIgnore leading blanks\n"
            "\t-f\tIgnore case\n\t-i\tIgnore unprintable characters\n"
            "\t-d\tDictionary order (blank or alphanumeric only)\n\t-n\tSort numbers\n"
            "\t-g\tGeneral numerical sort\n\t-M\tSort month\n\t-V\tSort version\n"
            "\t-t CHAR\tField separator\n\t-k N[,M] Sort by Nth field\n"
            "\t-r\tReverse sort order\n\t-s\tStable (don't sort ties alphabetically)\n"
            "\t-u\tSuppress duplicate lines\n\t-z\tNUL terminated input and output\n",
    "uniq": "Usage: uniq [-cduiz] [-f,s,w N] [FILE [OUTFILE]]\n\nDiscard duplicate lines\n\n"
            "\t-c\tPrefix lines by the number of occurrences\n"
            "\t-d\tOnly print duplicate lines\n\t-u\tOnly print unique lines\n"
            "\t-i\tIgnore case\n\t-z\tNUL terminated output\n\t-f N\tSkip first N fields\n"
            "\t-s N\tSkip first N chars (after any skipped fields)\n"
            "\t-w N\tCompare N characters in line\n",
    "cut": "Usage: cut [OPTIONS] [FILE]...\n\nPrint selected fields from FILEs to stdout\n\n"
           "\t-b LIST\tOutput only bytes from LIST\n"
           "\t-c LIST\tOutput only characters from LIST\n"
           "\t-d SEP\tField delimiter for input (default -f TAB, -F run of whitespace)\n"
           "\t-O SEP\tField delimiter for output (default = -d for -f, one space for -F)\n"
           "\t-D\tDon't sort/collate sections or match -fF lines without delimiter\n"
           "\t-f LIST\tPrint only these fields (-d is single char)\n"
           "\t-F LIST\tPrint only these fields (-d is regex)\n"
           "\t-s\tOutput only lines containing delimiter\n\t-n\tIgnored\n",
    "tr": "Usage: tr [-cds] STRING1 [STRING2]\n\n"
          "Translate, squeeze, or delete characters from stdin, writing to stdout\n\n"
          "\t-c\tTake complement of STRING1\n\t-d\tDelete input characters coded STRING1\n"
          "\t-s\tSqueeze multiple output characters of STRING2 into one character\n",
    "seq": "Usage: seq [-w] [-s SEP] [FIRST [INC]] LAST\n\n"
           "Print numbers from FIRST to LAST, in steps of INC.\nFIRST, INC default to 1.\n\n"
           "\t-w\tPad to last with leading zeros\n\t-s SEP\tString separator\n",
    "basename": "Usage: basename FILE [SUFFIX] | -a FILE... | -s SUFFIX FILE...\n\n"
                "Strip directory path and SUFFIX from FILE\n\n\t-a\t\tAll arguments are FILEs\n"
                "\t-s SUFFIX\tRemove SUFFIX (implies -a)\n",
    "dirname": "Usage: dirname FILENAME\n\nStrip non-directory suffix from FILENAME\n",
    "tee": "Usage: tee [-ai] [FILE]...\n\nCopy stdin to each FILE, and also to stdout\n\n"
           "\t-a\tAppend to the given FILEs, don't overwrite\n"
           "\t-i\tIgnore interrupt signals (SIGINT)\n",
    "egrep": "No help available\n",
    "fgrep": "No help available\n",
}

# APPLET_NOEXEC (and APPLET_NOFORK, which are NOEXEC too) in busybox 1.35: ash (without
# FEATURE_SH_NOFORK) forks and runs them without exec (set_task_comm)
NOEXEC_APPLETS = frozenset(("insmod", "rmmod", "lsmod", "modprobe", "modinfo", "ls", "head", "cat",
                            "stat", "sort", "cut", "seq", "basename", "dirname"))

# `busybox --list` of Debian's busybox-static 1.35 (the guest's /bin), for honest messages
BUSYBOX_APPLETS = frozenset("""
[ [[ acpid adjtimex ar arch arp arping ascii ash awk base64 basename bc blkdiscard blockdev
brctl bunzip2 busybox bzcat bzip2 cal cat chgrp chmod chown chroot chvt clear cmp cp cpio
crc32 crond crontab cttyhack cut date dc dd deallocvt depmod devmem df diff dirname dmesg
dnsdomainname dos2unix dpkg dpkg-deb du dumpkmap dumpleases echo ed egrep env expand expr
factor fallocate false fatattr fdisk fgrep find findfs fold free freeramdisk fsfreeze fstrim
ftpget ftpput getopt getty grep groups gunzip gzip halt head hexdump hostid hostname httpd
hwclock i2cdetect i2cdump i2cget i2cset i2ctransfer id ifconfig ifdown ifup init insmod ionice
ip ipcalc ipneigh kill killall klogd last less link linux32 linux64 linuxrc ln loadfont
loadkmap logger login logname logread losetup ls lsmod lsscsi lzcat lzma lzop md5sum mdev
microcom mim mkdir mkdosfs mke2fs mkfifo mknod mkpasswd mkswap mktemp modinfo modprobe more
mount mt mv nameif nc netstat nl nologin nproc nsenter nslookup nuke od openvt partprobe
passwd paste patch pidof ping ping6 pivot_root poweroff printf ps pwd rdate readlink realpath
reboot renice reset resume rev rm rmdir rmmod route rpm rpm2cpio run-init run-parts sed seq
setkeycodes setpriv setsid sh sha1sum sha256sum sha3sum sha512sum shred shuf sleep sort
ssl_client start-stop-daemon stat strings stty su sulogin svc svok swapoff swapon switch_root
sync sysctl syslogd tac tail tar taskset tc tee telnet telnetd test tftp time timeout top
touch tr traceroute traceroute6 true truncate ts tty tunctl ubirename udhcpc udhcpd uevent
umount uname uncompress unexpand uniq unix2dos unlink unlzma unshare unxz unzip uptime usleep
uudecode uuencode vconfig vi w watch watchdog wc wget which who whoami xargs xxd xz xzcat yes
zcat""".split())


class Applet:
    """An applet's process: its name (for messages), stdout (stdio) and stderr.

    ``write`` is stdio's stdout: line-buffered on the console (a tty), fully buffered
    (BUFSIZ 4096) elsewhere, so a grep redirected into a sysfs file or /dev/kmsg makes
    one write(2) as the real one does; ``out`` writes at once (full_write, xwrite).
    Messages on stderr flush stdout first (bb_verror_msg's fflush_all); so does the exit.
    """

    STDIO_BUFSIZ = 4096

    def __init__(self, shell: Shell, name: str):
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


def try_finit_module(shell: Shell, path: str, options: str) -> int:
    """open(O_RDONLY) then finit_module; nonzero when either failed. A directory opens
    but the kernel refuses it (EINVAL, nothing logged) before reading it: not asked."""
    if is_kernel_path(path):
        return -E.EINVAL  # kmodsim does not hand kernel files to finit_module
    if shell.fs.kind(path) != "f":
        return -E.ENOENT
    return shell._sys("finit_module", shell.fs.data(path), options, 0)


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
    kinds = ((b"\x1f\x8b", gzip.decompress, "corrupted data"),
             (b"BZ", bz2.decompress, "bunzip error -3"),
             (b"\xfd7zXZ\x00", lzma.decompress, "corrupted data"))
    for magic, unpack, complaint in kinds:
        if data.startswith(magic[:2]) and (len(magic) == 2 or data.startswith(magic)):
            try:
                return unpack(data)
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
    if app.shell.fs.kind(path) != "f":
        app.die(f"can't open '{path}': {strerror(E.ENOENT)}")
    raise NotSimulated("modinfo with a modules.dep")


def applet_depmod(app: Applet, argv: list[str]) -> int:
    """busybox depmod: chdir(BASE, default "/"), then chdir("lib/modules/VERSION")."""
    options, args = app.getopt(argv, "aAb:eF:nruqC:")
    xchdir(app, options.get("b", "/"))
    version = args[0] if args and re.match(r"\d+\.\d+\.\d+", args[0]) else app.shell.release()
    base = app.shell._abspath(options.get("b", "/"))
    relative = "lib/modules/" + version
    if app.shell.fs.kind(normpath(posixpath.join(base, relative))) != "d":
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


# -- file applets ---------------------------------------------------------------------------

def open_input(app: Applet, name: str) -> Handle | int:
    if name == "-":
        return app.shell.fds.get(0, NullHandle())
    return app.shell._open(app.shell._abspath(name), O_RDONLY)


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


# -- POSIX regular expressions (glibc regex) in Python's re ----------------------------------

class RegexError(Exception):
    """The pattern does not compile (glibc would say why; busybox grep says "bad regex")."""


# character classes of the C locale (busybox is built without locale support)
REGEX_CLASSES = {
    "alpha": bytes(range(65, 91)) + bytes(range(97, 123)),
    "upper": bytes(range(65, 91)),
    "lower": bytes(range(97, 123)),
    "digit": b"0123456789",
    "xdigit": b"0123456789ABCDEFabcdef",
    "alnum": b"0123456789" + bytes(range(65, 91)) + bytes(range(97, 123)),
    "space": b" \t\n\v\f\r",
    "blank": b" \t",
    "punct": bytes(c for c in range(33, 127) if not chr(c).isalnum()),
    "print": bytes(range(32, 127)),
    "graph": bytes(range(33, 127)),
    "cntrl": bytes(range(32)) + b"\x7f",
}


# GNU regex's zero-width operators in Python's re (Python's own \B never matches an empty
# string; glibc's does)
GNU_ASSERTIONS = {"b": r"\b", "B": r"(?:(?<=\w)(?=\w)|(?<!\w)(?!\w))", "<": r"\b(?=\w)",
                  ">": r"\b(?<=\w)", "`": r"\A", "'": r"\Z"}


def _re_byte(c: int) -> str:
    return chr(c) if chr(c).isalnum() and c < 128 else f"\\x{c:02x}"


class PosixRegex:
    """A glibc regular expression (GNU BRE as busybox grep compiles it with RE_SYNTAX_GREP,
    or ERE), translated to Python's re over bytes, with POSIX leftmost-longest matches.

    The GNU grammar, as the guest's grep shows it: BRE has \\( \\) \\| \\{m,n\\} \\+ \\?
    and * (literal first in an expression, as are \\+ \\? \\{ there); ^ and $ anchor only
    at the ends of an expression. ERE has ( ) | {m,n} + ? * anywhere, drops a repetition
    (or a "{") with nothing before it, takes an unmatched ) and an invalid {...} literally
    ("{}" is an error). An anchor is no atom: a repetition after one counts as first in
    an expression (a\\>* is a, end of word, "*"). Both know
    [...] with [:class:] [=c=] [.c.] (backslash literal inside), back-references \\1-\\9,
    \\w \\W \\s \\S \\b \\B \\< \\> \\` \\', and \\c as c for any other c. "." and [^...]
    match a newline too; ^ and $ also match at a newline inside a -z record
    (re_compile_pattern sets newline_anchor).
    """

    def __init__(self, pattern: bytes, extended: bool, icase: bool = False,
                 posix: bool = False):
        """``posix``: regcomp(REG_EXTENDED) rather than GNU egrep syntax: a repetition
        of nothing is an error."""
        source, self._context, self._variable, self.anchored = \
            self._translate(pattern, extended, posix)
        self._flags = re.DOTALL | re.MULTILINE | (re.IGNORECASE if icase else 0)
        self._source = source.encode("ascii")
        try:
            self.rx = re.compile(self._source, self._flags)
        except (re.error, OverflowError, RecursionError) as exc:
            raise RegexError(str(exc)) from None

    # -- matching ---------------------------------------------------------------------

    def search(self, data: bytes, pos: int = 0) -> tuple[int, int] | None:
        """re_search from ``pos`` over the whole of ``data``: the leftmost match and, of
        those starting there, the longest (Python's own choice is the first alternative)."""
        match = self.rx.search(data, pos)
        if match is None:
            return None
        start, end = match.span()
        if self._variable:
            for longer in range(len(data), end, -1):
                if self._matches_exactly(data, start, longer):
                    return start, longer
        return start, end

    def fullmatch(self, data: bytes) -> bool:
        return self.rx.fullmatch(data) is not None

    def _matches_exactly(self, data: bytes, start: int, end: int) -> bool:
        if not self._context:  # nothing looks past the end: a shorter subject is the same
            return self.rx.fullmatch(data, start, end) is not None
        rest = len(data) - end
        anchored = re.compile(b"(?:" + self._source + b")(?=[\\s\\S]{%d}\\Z)" % rest, self._flags)
        return anchored.match(data, start) is not None

    # -- translation ------------------------------------------------------------------

    @staticmethod
    def _translate(pattern: bytes, ere: bool, posix: bool = False) -> tuple:
        """(Python source, whether it looks at what follows a match, whether a match can
        vary in length, whether it has anchors)."""
        out: list[str] = []
        atom_at = None        # where the last atom starts in out (None: no atom yet)
        quantified = False    # the last atom already carries a repetition
        prev = "start"        # "start" (of an expression), "anchor" (after one), "atom",
        #                       "dropped" (after an ERE repetition of nothing)
        # open groups: [out position, number, completed groups when it opened, those
        # completed in its earlier alternatives]; a back-reference must name a group
        # completed in the same alternative (glibc's completed_bkref_map)
        groups: list[list] = []
        top = [0, 0, set(), set()]
        done: set[int] = set()
        opened = 0
        context = variable = anchors = False
        i, n = 0, len(pattern)

        def open_group():
            nonlocal prev, atom_at, opened
            opened += 1
            groups.append([len(out), opened, set(done), set()])
            out.append("(")
            prev, atom_at = "start", None

        def close_group():
            nonlocal atom_at, quantified, prev
            at, number, _, earlier = groups.pop()
            out.append(")")
            done.update(earlier)
            done.add(number)
            atom_at, quantified, prev = at, False, "atom"

        def alternative():
            nonlocal prev, atom_at, variable
            frame = groups[-1] if groups else top
            frame[3].update(done)
            done.clear()
            done.update(frame[2])
            out.append("|")
            prev, atom_at, variable = "start", None, True

        def literal(c: int):
            nonlocal atom_at, quantified, prev
            atom_at, quantified, prev = len(out), False, "atom"
            out.append(_re_byte(c))

        def repeat(text: str):
            nonlocal quantified, variable
            if quantified:  # a** or a+*: repeat the repetition
                out[atom_at:] = ["(?:" + "".join(out[atom_at:]) + ")"]
            out.append(text)
            quantified, variable = True, True

        def interval(j: int, close: bytes) -> tuple[str, int] | None:
            """{m}, {m,}, {m,n} or {,n} from pattern[j:] up to ``close``."""
            if pattern[j:j + len(close)] == close:
                raise RegexError("Invalid content of \\{\\}")  # "{}"
            match = re.match(rb"(\d*)(,?)(\d*)" + re.escape(close), pattern[j:])
            if not match or (not match.group(1) and not match.group(2)):
                return None
            low = int(match.group(1) or 0)
            high = int(match.group(3)) if match.group(3) else (None if match.group(2) else low)
            if high is not None and high < low or max(low, high or 0) > 0x7FFF:
                raise RegexError("Invalid content of \\{\\}")
            text = "{%d}" % low if high == low and not match.group(2) else \
                "{%d,%s}" % (low, "" if high is None else high)
            return text, j + match.end()

        while i < n:
            c = pattern[i]
            ch = chr(c)
            if ch == "\\":
                if i + 1 >= n:
                    raise RegexError("Trailing backslash")
                e = chr(pattern[i + 1])
                i += 2
                if not ere and e == "(":
                    open_group()
                elif not ere and e == ")":
                    if not groups:
                        raise RegexError("Unmatched ) or \\)")
                    close_group()
                elif not ere and e == "|":
                    alternative()
                elif not ere and e in "+?" and prev == "atom":
                    repeat(e)
                elif not ere and e == "{" and prev == "atom":
                    found = interval(i, b"\\}")
                    if found is None:
                        raise RegexError("Unmatched \\{")
                    repeat(found[0])
                    i = found[1]
                elif e in "123456789":
                    if int(e) not in done:
                        raise RegexError("Invalid back reference")
                    atom_at, quantified, prev = len(out), False, "atom"
                    out.append(f"(?:\\{e})")
                    variable = True
                elif e in "wWsS":
                    atom_at, quantified, prev = len(out), False, "atom"
                    out.append("\\" + e)
                elif e in "bB<>`'":
                    out.append(GNU_ASSERTIONS[e])
                    context = context or e in "bB<>'"
                    anchors = anchors or e in "`'"
                    prev, atom_at = "anchor", None
                else:
                    literal(ord(e))
            elif ch == "[":
                members, negate, i = PosixRegex._bracket(pattern, i + 1)
                atom_at, quantified, prev = len(out), False, "atom"
                out.append("[" + ("^" if negate else "") +
                           "".join(_re_byte(b) for b in sorted(members)) + "]")
            elif ch == ".":
                atom_at, quantified, prev = len(out), False, "atom"
                out.append(".")
                i += 1
            elif ch == "*" or ere and ch in "+?":
                i += 1
                if prev == "atom":
                    repeat(ch)
                elif not ere:
                    literal(c)
                elif posix:
                    raise RegexError("Invalid preceding regular expression")
                else:  # GNU ERE: a repetition of nothing is dropped
                    prev = "dropped"
            elif ere and ch == "{":
                if prev != "atom":  # like a repetition of nothing: dropped
                    prev = "dropped"
                    i += 1
                    continue
                found = interval(i + 1, b"}")
                if found is None:  # not an interval: RE_INVALID_INTERVAL_ORD
                    literal(c)
                    i += 1
                else:
                    repeat(found[0])
                    i = found[1]
            elif ch == "^" and (ere or prev == "start"):
                out.append("^")
                prev, atom_at, anchors = "anchor", None, True
                i += 1
            elif ch == "$" and (ere or i + 1 == n or pattern[i + 1:i + 3] in (b"\\)", b"\\|")):
                out.append("$")
                context = anchors = True
                prev, atom_at = "anchor", None
                i += 1
            elif ere and ch == "(":
                open_group()
                i += 1
            elif ere and ch == ")" and groups and prev != "dropped":
                # (after a dropped repetition the parser wants an expression: ")" is one)
                close_group()
                i += 1
            elif ere and ch == "|":
                alternative()
                i += 1
            else:
                literal(c)
                i += 1
        if groups:
            raise RegexError("Unmatched ( or \\(")
        return "".join(out), context, variable, anchors

    @staticmethod
    def _bracket(pattern: bytes, i: int) -> tuple[set, bool, int]:
        """A bracket expression from just after its "[": (byte values, negated, end)."""
        n = len(pattern)
        negate = i < n and pattern[i] == ord("^")
        if negate:
            i += 1
        members: set[int] = set()
        first = True

        def element(j: int) -> tuple[int | bytes, int]:
            """One element at j: a byte, or the bytes of a [:class:] (and where it ends)."""
            if pattern[j:j + 2] in (b"[.", b"[=", b"[:"):
                kind = pattern[j + 1:j + 2]
                end = pattern.find(kind + b"]", j + 2)
                if end < 0:
                    raise RegexError("Unmatched [, [^, [:, [., or [=")
                name = pattern[j + 2:end]
                if kind == b":":
                    if name.decode("latin-1") not in REGEX_CLASSES:
                        raise RegexError("Invalid character class name")
                    return REGEX_CLASSES[name.decode("latin-1")], end + 2
                if len(name) != 1:
                    raise RegexError("Invalid collation character")
                return name[0], end + 2
            return pattern[j], j + 1

        while True:
            if i >= n:
                raise RegexError("Unmatched [, [^, [:, [., or [=")
            if pattern[i] == ord("]") and not first:
                return members, negate, i + 1
            first = False
            low, i = element(i)
            if isinstance(low, bytes):
                members.update(low)
                continue
            if pattern[i:i + 1] == b"-" and i + 1 < n and pattern[i + 1] != ord("]"):
                high, i = element(i + 1)
                if isinstance(high, bytes) or high < low:
                    raise RegexError("Invalid range end")
                members.update(range(low, high + 1))
            else:
                members.add(low)


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


def account_name(shell: Shell, path: str, ident: int) -> str:
    """bb_internal getpwuid/getgrgid (USE_BB_PWD_GRP): the name on /etc/passwd's or
    /etc/group's line for ``ident``; the guest has no /etc, hence ``UNKNOWN``."""
    data = shell.fs.data(path)
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


# -- grep -----------------------------------------------------------------------------------

def is_word_byte(c: int | None) -> bool:
    """isalnum(c) || c == '_' in the C locale (None: the end of the line)."""
    return c is not None and (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c == 95)


class Grep:
    """busybox grep (FEATURE_GREP_CONTEXT, EXTRA_COMPAT: GNU re_search, -z)."""

    def __init__(self, app: Applet, options: set, patterns: list, before: int, after: int,
                 max_matches: int, invert: bool):
        self.app = app
        self.options = options
        self.patterns = patterns          # [[pattern bytes, PosixRegex or None]]
        self.before, self.after = before, after
        self.max_matches = max_matches
        self.invert = invert
        self.print_filename = False
        self.did_print_line = False
        self.last_line_printed = 0
        self.before_buf: list = [None] * before
        self.delim = b"\0" if "z" in options else b"\n"

    def regex(self, entry: list) -> PosixRegex:
        """Compiled at its first use, as grep_file() does: a bad one dies right then."""
        if entry[1] is None:
            try:
                entry[1] = PosixRegex(entry[0], "E" in self.options, "i" in self.options)
            except RegexError:
                self.app.die(f"bad regex '{bytes_text(entry[0])}'")
        return entry[1]

    def print_line(self, name: str, line: bytes, linenum: int, decoration: str) -> None:
        if linenum < 1:
            return
        if (self.before or self.after) and self.did_print_line \
                and self.last_line_printed != linenum - 1:
            self.app.write(b"--\n")
        self.did_print_line = True
        self.last_line_printed = linenum
        prefix = ""
        if self.print_filename:
            prefix += name + decoration
        if "n" in self.options:
            prefix += f"{linenum}{decoration}"
        self.app.write(arg_bytes(prefix) + line + self.delim)

    def fixed_match(self, line: bytes, pattern: bytes) -> bool:
        """-F: strstr/strcasestr on the line as a C string, then the -x/-w checks."""
        text = c_string(line)
        hay, needle = (text.lower(), pattern.lower()) if "i" in self.options else (text, pattern)
        start = 0
        while True:
            if start > len(text):
                # -w moved past the line's NUL (an empty pattern): strstr then reads the
                # getline buffer beyond it, and the real grep ends up matching
                return True
            at = hay.find(needle, start)
            if at < 0:
                return False
            if "x" in self.options:
                return at == 0 and len(text) == len(pattern)
            if "w" not in self.options:
                return True
            before = text[at - 1] if at else None
            after = text[at + len(pattern)] if at + len(pattern) < len(text) else None
            if not is_word_byte(before) and not is_word_byte(after):
                return True
            start = at + 1

    def regex_match(self, line: bytes, regex: PosixRegex) -> tuple[bool, tuple | None]:
        """re_search with -x / -w as grep_file() checks them: (found, the match used)."""
        if "x" in self.options:
            return regex.fullmatch(line), regex.search(line)
        start_pos = 0
        while True:
            span = regex.search(line, start_pos)
            if span is None:
                return False, None
            if "w" not in self.options:
                return True, span
            start, end = span
            before = line[start - 1] if start else None
            after = line[end] if end < len(line) else None
            if not is_word_byte(before) and not is_word_byte(after):
                return True, span
            if end <= start_pos:
                return False, span
            start_pos = end

    def grep_file(self, name: str, data: bytes) -> bool:
        app, options = self.app, self.options
        nmatches = linenum = 0
        print_after = 0
        curpos = 0
        for line in split_lines(data, self.delim):
            linenum += 1
            found, used, span = False, None, None
            for entry in self.patterns:
                used = entry
                if "F" in options:
                    found = self.fixed_match(line, entry[0])
                else:
                    found, span = self.regex_match(line, self.regex(entry))
                if found:
                    break
            if found != self.invert:
                nmatches += 1
                if options & {"q", "l", "L"}:
                    if "q" in options:
                        raise AppletExit(0)
                    if "l" in options:
                        app.write(arg_bytes(name) + b"\n")
                        return True
                    return False
                if "m" in options and nmatches > self.max_matches:
                    break
                if "c" not in options:
                    if self.before:
                        prevpos = self.before - 1 if curpos == 0 else curpos - 1
                        if self.before_buf[prevpos] is not None:
                            number, idx = linenum - self.before, curpos
                            while self.before_buf[idx] is None:
                                idx, number = (idx + 1) % self.before, number + 1
                            while self.before_buf[idx] is not None:
                                self.print_line(name, self.before_buf[idx], number, "-")
                                self.before_buf[idx] = None
                                idx, number = (idx + 1) % self.before, number + 1
                    print_after = self.after
                    if "o" in options:
                        self.print_matches(name, line, linenum, used, span)
                    else:
                        self.print_line(name, line, linenum, ":")
            elif print_after:
                self.print_line(name, line, linenum, "-")
                print_after -= 1
            elif self.before:
                self.before_buf[curpos] = line
                curpos = (curpos + 1) % self.before
            if "m" in options and not print_after and nmatches == self.max_matches:
                break
        if "c" in options:
            app.write((name + ":" if self.print_filename else "") + f"{nmatches}\n")
        if "L" in options:
            app.write(arg_bytes(name) + b"\n")
            return True
        return nmatches != 0

    def print_matches(self, name: str, line: bytes, linenum: int, entry: list, span) -> None:
        """-o: -F prints the pattern once; a regex prints each non-empty match, the first
        being the one found (checked for -w/-x), the next ones searched from its end."""
        if "F" in self.options:
            self.print_line(name, entry[0], linenum, ":")
            return
        regex = self.regex(entry)
        while span is not None:
            start, end = span
            if end > start:
                self.print_line(name, line[start:end], linenum, ":")
            if end >= len(line):
                break
            if end == start:
                end += 1
            span = regex.search(line, end)


GREP_SPEC = "lnqvscFiHhe:f:LorRm:wxA:B:C:EzaI"


def applet_grep(app: Applet, argv: list[str]) -> int:
    """busybox grep: -HhnlLcoqvsrRiwxFEz -m N -A/-B/-C N -e PATTERN -f FILE (and egrep,
    fgrep). Patterns are GNU BRE (or ERE), compiled when first used ("bad regex 'P'",
    rc 2); a file that does not open says ``grep: F: strerror`` (not with -s) and makes
    the rc 2 unless -q found a match; a directory reads as empty. rc 0 matched, 1 not."""
    app.exit_status = 2
    pairs, args = app.getopt_list(argv, GREP_SPEC, longopts={"color": True})
    options, texts, files = set(), [], []
    max_matches = after = before = context = 0
    for option, value in pairs:
        if option == "--color":
            continue
        if option in "mABC":
            value = app.number(value)
        if option == "H":
            options.discard("h")
        elif option == "C":
            options -= {"A", "B"}
            context = value
        elif option == "A":
            after = value
        elif option == "B":
            before = value
        elif option == "m":
            max_matches = value
        elif option == "e":
            texts.append(arg_bytes(value))
        elif option == "f":
            files.append(value)
        options.add(option)
    if "C" in options:
        after = after if "A" in options else context
        before = before if "B" in options else context
    if options & {"c", "q", "l", "L"}:
        options.discard("n")
        before = after = 0
    invert = "v" in options
    patterns = []
    for text in texts:
        for piece in text.split(b"\n"):
            patterns.insert(0, [piece, None])
    for name in files:
        handle, data = read_input(app, name)
        if handle is None:
            raise AppletExit(2)
        for line in split_lines(data):
            patterns.insert(0, [c_string(line), None])
    if files and not patterns:
        patterns.append([b".*" if "x" in options else b"", None])
        invert = not invert
    if app.name == "fgrep":
        options.add("F")
    if app.name == "egrep":
        options.add("E")
    if "o" in options and invert:
        raise NotSimulated("grep -o -v (busybox prints stale matches, or crashes)")
    if not patterns:
        if not args:
            app.usage()
        for piece in arg_bytes(args.pop(0)).split(b"\n"):
            patterns.insert(0, [piece, None])
    grep = Grep(app, options, patterns, before, after, max_matches, invert)
    grep.print_filename = len(args) > 1
    if "H" in options:
        grep.print_filename = True
    if "h" in options:
        grep.print_filename = False
    matched = open_errors = False
    for name in args or ["-"]:
        if name == "-":
            matched |= grep.grep_file("(standard input)", read_input(app, "-")[1])
            continue
        if options & {"r", "R"}:
            stat = app.shell._stat(app.shell._abspath(name))
            if isinstance(stat, Stat) and stat.is_dir:
                if "h" not in options:
                    grep.print_filename = True
                found, failed = grep_dir(grep, name)
                matched, open_errors = matched or found, open_errors or failed
                continue
        handle, data = read_input(app, name, warn="s" not in options)
        if handle is None:
            open_errors = True
            continue
        matched |= grep.grep_file(name, data)
    if open_errors:
        return 2
    return 0 if matched else 1


def grep_dir(grep: Grep, directory: str) -> tuple[bool, bool]:
    """recursive_action(ACTION_RECURSE | ACTION_DEPTHFIRST): the entries in the order the
    directory lists them (the System's list_dir stands for readdir), files grepped,
    subdirectories entered. (matched, open errors)."""
    shell = grep.app.shell
    entries = shell._list_dir(shell._abspath(directory))
    if isinstance(entries, int):
        if "s" not in grep.options:
            grep.app.error(f"{directory}: {strerror(entries)}")
        return False, False
    matched = failed = False
    for entry in entries:
        path = directory + entry if directory.endswith("/") else f"{directory}/{entry}"
        stat = shell._stat(shell._abspath(path))
        if isinstance(stat, Stat) and stat.is_dir:
            found, bad = grep_dir(grep, path)
            matched, failed = matched or found, failed or bad
            continue
        handle, data = read_input(grep.app, path, warn="s" not in grep.options)
        if handle is None:
            failed = True
            continue
        matched |= grep.grep_file(path, data)
    return matched, failed


# -- wc, tail, sort, uniq, cut, tr ----------------------------------------------------------

def applet_wc(app: Applet, argv: list[str]) -> int:
    """busybox wc: -l -w -c (-m counts bytes: no unicode in the guest's environment) -L.
    Columns " %9u" (the first without its space; a lone count of one file as "%u"),
    then " NAME"; "total" after two or more files. A word is a run of printable non-space
    bytes ended by white space (other bytes do neither). A file that does not open:
    ``wc: F: strerror``; a read error (a directory): the same, and its counts shown."""
    options, names = app.getopt(argv, "lwmcL")
    order = "lwmcL"
    chosen = [o for o in order if o in options] or ["l", "w", "c"]
    stdin = not names
    names = names or ["-"]
    lone = len(names) == 1 and len(chosen) == 1
    totals = dict.fromkeys(order, 0)
    status = 0
    for name in names:
        handle = open_input(app, name)
        if isinstance(handle, int):
            app.error(f"{name}: {strerror(handle)}")
            status = 1
            continue
        data, err = read_until_error(handle)
        if name != "-":
            handle.close()
        if err:
            app.error(f"{name}: {strerror(err)}")
            status = 1
        counts = wc_counts(data)
        for key in order:
            totals[key] = max(totals[key], counts[key]) if key == "L" else \
                totals[key] + counts[key]
        app.write(wc_line(chosen, counts, lone, None if stdin else name))
    if len(names) > 1:
        app.write(wc_line(chosen, totals, False, "total"))
    return app.fflush_stdout_and_exit(status)


def wc_counts(data: bytes) -> dict:
    counts = {"l": data.count(b"\n"), "w": 0, "m": len(data), "c": len(data), "L": 0}
    in_word, linepos = False, 0
    for c in data:
        if 32 <= c <= 126:
            linepos += 1
            if c != 32:
                in_word = True
                continue
        elif 9 <= c <= 13:
            if c == 9:
                linepos = (linepos | 7) + 1
            else:
                counts["L"] = max(counts["L"], linepos)
                if c != 11:
                    linepos = 0
        else:
            continue
        counts["w"] += in_word
        in_word = False
    counts["L"] = max(counts["L"], linepos)
    counts["w"] += in_word
    return counts


def wc_line(chosen: list, counts: dict, lone: bool, name: str | None) -> str:
    fields = [("%u" if lone else "%9u") % counts[chosen[0]]]
    fields += ["%9u" % counts[key] for key in chosen[1:]]
    return " ".join(fields) + (f" {name}\n" if name is not None else "\n")


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
        return handle.size if isinstance(handle, ScratchHandle) else 0
    stat = app.shell._stat(app.shell._abspath(name))
    return stat.size if isinstance(stat, Stat) and not stat.is_dir else 0


SORT_KEY_FLAGS = "ngMbrdfi"


def applet_sort(app: Applet, argv: list[str]) -> int:
    """busybox sort (FEATURE_SORT_BIG): -n -g -M -V -r -u -c -s -z -b -d -f -i -o FILE
    -t CHAR -k START[.CHAR][OPTS][,END[.CHAR][OPTS]]. Lines compare by their keys
    (strcmp, atof, strtod, month), then, unless -s, by the whole line with strcmp; -r
    reverses the lot. A file that does not open ends it: ``sort: F: strerror``, rc 2."""
    app.exit_status = 2
    pairs, names = app.getopt_list(argv, "ngMVucszbrdfimS:T:o:k:t:")
    flags = {option for option, _ in pairs}
    keys_text = [value for option, value in pairs if option == "k"]
    output = [value for option, value in pairs if option == "o"]
    separator = [value for option, value in pairs if option == "t"]
    if len(output) > 1 or len(separator) > 1:
        app.usage()
    sep = None
    if separator:
        sep = arg_bytes(separator[0])
        if len(sep) != 1:
            app.die("bad -t parameter")
    global_flags = set(flags)
    if "b" in flags:
        global_flags.add("bb")
    keys = [sort_parse_key(app, text) for text in keys_text] or [((1, 0, 0, 0), set())]
    lines = []
    delim = b"\0" if "z" in flags else b"\n"
    for name in names or ["-"]:
        handle, data = read_input(app, name)
        if handle is None:
            raise AppletExit(2)
        lines += [c_string(line) for line in split_lines(data, delim)]

    def compare(x: tuple, y: tuple, tie_break: bool = True) -> int:
        result, used = 0, global_flags
        for key_range, key_flags in keys:
            used = key_flags or global_flags
            result = sort_compare(sort_key(x[1], key_range, used, sep),
                                  sort_key(y[1], key_range, used, sep), used)
            if result:
                break
        if result == 0:
            if "s" in flags:
                result = 1 if x[0] > y[0] else -1
            elif tie_break:
                used = global_flags
                result = (x[1] > y[1]) - (x[1] < y[1])
        return -result if "r" in used else result

    try:
        return sort_output(app, flags, lines, delim, output, compare)
    except SortTypeError:
        app.die("unknown sort type")


def sort_output(app: Applet, flags: set, lines: list, delim: bytes, output: list,
                compare: Callable) -> int:
    """sort -c, or sort (and -u) and print (to -o FILE)."""
    indexed = list(enumerate(lines))
    if "c" in flags:
        allowed = -1 if "u" in flags else 0
        for index in range(1, len(indexed)):
            if compare(indexed[index - 1], indexed[index]) > allowed:
                app.flush()
                app.shell._puts(2, f"Check line {index}\n")
                return 1
        return 0
    indexed.sort(key=functools.cmp_to_key(compare))
    if "u" in flags:
        unique = indexed[:1]
        for item in indexed[1:]:
            if compare(unique[-1], item, tie_break=False) != 0:
                unique.append(item)
        indexed = unique
    data = b"".join(line + delim for _, line in indexed)
    if output:  # opened once all input is read: sort -o F F works
        handle = app.shell._open(app.shell._abspath(output[0]), O_WRONLY | O_CREAT | O_TRUNC)
        if isinstance(handle, int):
            app.die(f"can't open '{output[0]}': {strerror(handle)}")
        err = write_stdio(handle, data)
        handle.close()
        if err < 0:
            app.error(f"standard output: {strerror(err)}")
        return 0
    app.write(data)
    return app.fflush_stdout_and_exit(0)


def sort_parse_key(app: Applet, text: str) -> tuple:
    """-k START[.C][OPTS][,END[.C][OPTS]]: ((start field, start char, end field, end
    char), flags); b after the comma strips trailing blanks."""
    key_range, key_flags, pos, part = [0, 0, 0, 0], set(), 0, 0

    def number() -> int:
        nonlocal pos
        match = re.match(r"\d+", text[pos:])
        if not match or int(match.group()) == 0 or int(match.group()) > 0x7FFFFFFF:
            app.die("bad field specification")
        pos += match.end()
        return int(match.group())

    while pos < len(text):
        key_range[2 * part] = number()
        if text[pos:pos + 1] == ".":
            pos += 1
            key_range[2 * part + 1] = number()
        while pos < len(text):
            c = text[pos]
            if c == "," and part == 0:
                part = 1
                pos += 1
                break
            if c not in "ngMVucszbrdfimS:T:o:k:*t:":
                app.die("unknown key option")
            if c not in SORT_KEY_FLAGS:
                app.die("unknown sort type")
            key_flags.add("bb" if c == "b" and part else c)
            pos += 1
    return tuple(key_range), key_flags


def sort_key(line: bytes, key_range: tuple, flags: set, sep: bytes | None) -> bytes:
    """get_key(): the part of the line the key covers, after -b/-d/-i/-f."""
    if key_range == (1, 0, 0, 0) and not flags & {"b", "d", "f", "i", "bb"}:
        return line
    length = len(line)
    start = end = 0
    for part in range(2):
        field = key_range[2 * part]
        if not field:
            end = length
        else:
            end, last = 0, None
            for _ in range(1, field + part):
                if sep is not None:
                    while True:  # to past the separator; at the end ch is the NUL
                        if end >= length:
                            last = None
                            break
                        last = line[end]
                        end += 1
                        if last == sep[0]:
                            break
                else:
                    while end < length and line[end] in b" \t\n\v\f\r":
                        end += 1
                    while end < length and line[end] not in b" \t\n\v\f\r":
                        end += 1
            if part and last:
                end -= 1
        if part == 0:
            start = end
    if "b" in flags:
        while start < length and line[start] in b" \t\n\v\f\r":
            start += 1
    if "bb" in flags:
        while end > start and line[end - 1] in b" \t\n\v\f\r":
            end -= 1
    if key_range[3]:
        end = min(key_range[3], length)
    if key_range[1]:
        start = min(start + key_range[1] - 1, length)
    key = line[start:max(end, start)]
    if "d" in flags:
        key = bytes(c for c in key if c in b" \t\n\v\f\r" or chr(c).isalnum() and c < 128)
    if "i" in flags:
        key = bytes(c for c in key if 32 <= c <= 126)
    if "f" in flags:
        key = key.upper()
    return key


MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
               "september", "october", "november", "december")


def sort_month(key: bytes) -> int | None:
    """strptime(key, "%b"): the month (0-11) a full or abbreviated name starts with
    (no white space skipped)."""
    text = key.decode("latin-1").lower()
    for number, (short, full) in enumerate(zip(MONTHS, MONTH_NAMES)):
        if text.startswith(full) or text.startswith(short):
            return number
    return None


class SortTypeError(Exception):
    """Two of -n -g -M -V on one key: "unknown sort type" at the first comparison."""


def sort_compare(x: bytes, y: bytes, flags: set) -> int:
    kinds = flags & {"n", "g", "M", "V"}
    if len(kinds) > 1:
        raise SortTypeError()  # compare_keys() dies when it first compares such a key
    if "n" in kinds:
        dx, dy = strtod_prefix(x)[0], strtod_prefix(y)[0]
        return (dx > dy) - (dx < dy)
    if "g" in kinds:
        (dx, nx), (dy, ny) = strtod_prefix(x), strtod_prefix(y)
        if not nx:
            return 0 if not ny else -1
        if not ny:
            return 1
        if dx != dx:
            return 0 if dy != dy else -1
        if dy != dy:
            return 1
        return (dx > dy) - (dx < dy)
    if "M" in kinds:
        mx, my = sort_month(x), sort_month(y)
        if mx is None:
            return 0 if my is None else -1
        if my is None:
            return 1
        return mx - my
    if "V" in kinds:
        return strverscmp(x, y)
    return (x > y) - (x < y)


# glibc strverscmp's automaton: states normal, integral, fractional, leading zeros (each
# a multiple of 3, plus the class of the byte: other 0, digit 1-9 1, "0" 2)
VERS_NEXT = (0, 3, 9, 0, 3, 3, 0, 6, 6, 0, 6, 9)
VERS_CMP, VERS_LEN = 2, 3
VERS_RESULT = (VERS_CMP, VERS_CMP, VERS_CMP, VERS_CMP, VERS_LEN, VERS_CMP, VERS_CMP, VERS_CMP,
               VERS_CMP,
               VERS_CMP, -1, -1, 1, VERS_LEN, VERS_LEN, 1, VERS_LEN, VERS_LEN,
               VERS_CMP, VERS_CMP, VERS_CMP, VERS_CMP, VERS_CMP, VERS_CMP, VERS_CMP, VERS_CMP,
               VERS_CMP,
               VERS_CMP, 1, 1, -1, VERS_CMP, VERS_CMP, -1, VERS_CMP, VERS_CMP)


def strverscmp(x: bytes, y: bytes) -> int:
    """glibc strverscmp (sort -V): digit runs compare as numbers, runs with leading
    zeros as fractions."""
    def at(text: bytes, i: int) -> int:
        return text[i] if i < len(text) else 0

    def kind(c: int) -> int:
        return (c == 48) + (48 <= c <= 57)

    i = 0
    c1, c2 = at(x, 0), at(y, 0)
    state = kind(c1)
    while c1 == c2:
        if c1 == 0:
            return 0
        state = VERS_NEXT[state]
        i += 1
        c1, c2 = at(x, i), at(y, i)
        state += kind(c1)
    result = VERS_RESULT[state * 3 + kind(c2)]
    if result == VERS_CMP:
        return c1 - c2
    if result == VERS_LEN:  # the longer run of digits is the bigger number
        k = i + 1
        while 48 <= at(x, k) <= 57:
            if not 48 <= at(y, k) <= 57:
                return 1
            k += 1
        return -1 if 48 <= at(y, k) <= 57 else c1 - c2
    return result


def applet_uniq(app: Applet, argv: list[str]) -> int:
    """busybox uniq: -c ("%7lu "), -d, -u, -i, -z, -f N, -s N, -w N; [INPUT [OUTPUT]].
    An input that does not open: ``uniq: can't open 'F': strerror``, rc 1; a read error
    ends with ``uniq: F: I/O error``."""
    pairs, names = app.getopt_list(argv, "cduf:s:w:iz")
    options, skip_fields, skip_chars, max_chars = set(), 0, 0, 0x7FFFFFFF
    for option, value in pairs:
        if option in "fsw":
            number = app.number(value)
            if option == "f":
                skip_fields = number
            elif option == "s":
                skip_chars = number
            else:
                max_chars = number
        options.add(option)
    shell = app.shell
    handle = shell.fds.get(0, NullHandle())
    if names and names[0] != "-":
        handle = shell._open(shell._abspath(names[0]), O_RDONLY)
        if isinstance(handle, int):
            app.die(f"can't open '{names[0]}': {strerror(handle)}")
    output = None
    if len(names) > 1:
        if len(names) > 2:
            app.usage()
        if names[1] != "-":
            output = shell._open(shell._abspath(names[1]), O_WRONLY | O_CREAT | O_TRUNC)
            if isinstance(output, int):
                app.die(f"can't open '{names[1]}': {strerror(output)}")
    data, err = read_until_error(handle)
    if names and names[0] != "-":
        handle.close()
    eol = b"\0" if "z" in options else b"\n"

    def compared(line: bytes) -> bytes:
        pos = 0
        for _ in range(skip_fields):
            while pos < len(line) and line[pos] in b" \t\n\v\f\r":
                pos += 1
            while pos < len(line) and line[pos] not in b" \t\n\v\f\r":
                pos += 1
        pos = min(pos + skip_chars, len(line))
        key = line[pos:pos + max_chars]
        return key.lower() if "i" in options else key

    lines = [c_string(line) for line in split_lines(data)]
    result = bytearray()
    index = 0
    while index < len(lines):
        first, dups = lines[index], 0
        key = compared(first)
        index += 1
        while index < len(lines) and compared(lines[index]) == key:
            dups += 1
            index += 1
        if ("u" if dups else "d") not in options:
            result += (b"%7u " % (dups + 1) if "c" in options else b"") + first + eol
    if output is not None:
        err_out = write_stdio(output, bytes(result))
        output.close()
    else:
        app.write(bytes(result))
        err_out = 0
    if err:
        app.die(f"{names[0] if names else '(null)'}: I/O error")
    if err_out < 0:
        app.error(f"standard output: {strerror(err_out)}")
        return 0
    return app.fflush_stdout_and_exit(0)


def applet_cut(app: Applet, argv: list[str]) -> int:
    """busybox cut: -b/-c LIST (bytes), -f LIST with -d CHAR (TAB) and -s, -O SEP, -D,
    -F LIST (-d an ERE, default [[:space:]]+). LISTs N, N-, N-M, -M joined by commas.
    Fields come out joined with -O (default: all of -d); a line without the delimiter
    comes out whole unless -s. Files that do not open: ``cut: F: strerror``, rc 1."""
    pairs, names = app.getopt_list(argv, "b:c:f:d:O:sDF:n")
    options = {}
    modes = []
    for option, value in pairs:
        if option in "bcfF":
            modes.append(option)
            if len(set(modes)) > 1:
                app.usage()
        options[option] = value
    delim = arg_bytes(options.get("d", "")) or (b"[[:space:]]+" if "F" in options else b"\t")
    odelim = arg_bytes(options["O"]) if "O" in options else (b" " if "F" in options else delim)
    if not modes:
        app.die("expected a list of bytes, characters, or fields")
    mode = modes[-1]
    if mode in "bc":
        if "s" in options:
            app.die("suppressing non-delimited lines makes sense only when operating on fields")
        if "d" in options:
            app.die("a delimiter may be specified only when operating on fields")
    ranges = []
    for item in options[mode].split(","):
        if not item:
            continue
        first, dash, last = item.partition("-")
        start = app.number(first) if first else 0
        start = start - 1 if start else 0
        if not dash:
            end = start
        elif not last:
            end = 0x7FFFFFFF
        else:
            end = app.number(last)
            if end < start:
                app.die(f"{end}<{start}")
            end -= 1
        ranges.append((start, end))
    if not ranges:
        app.die("missing list of positions")
    if "D" not in options:
        ranges.sort(key=lambda r: r[0])
    regex = None
    status = 0
    for name in names or ["-"]:
        handle, data = read_input(app, name)
        if handle is None:
            status = 1
            continue
        if mode == "F" and regex is None:  # xregcomp(REG_EXTENDED) in cut_file()
            try:
                regex = PosixRegex(delim, extended=True, posix=True)
            except RegexError as exc:
                app.die(f"bad regex '{bytes_text(delim)}': {exc}")
            if regex.anchored:
                raise NotSimulated("cut -F with an anchored delimiter")
        for line in split_lines(data):
            out = cut_line(c_string(line), mode, ranges, delim, odelim, regex, options)
            if out is not None:
                app.write(out)
    return app.fflush_stdout_and_exit(status)


def cut_line(line: bytes, mode: str, ranges: list, delim: bytes, odelim: bytes,
             regex: PosixRegex | None, options: dict) -> bytes | None:
    """cut_file() for one line: what it prints, newline included (None: nothing)."""
    if mode in "bc":
        printed, out = set(), bytearray()
        for start, end in ranges:
            for pos in range(start, min(end + 1, len(line))):
                if pos not in printed:
                    printed.add(pos)
                    out.append(line[pos])
        return bytes(out) + b"\n"
    if delim[:1] == b"\n":
        raise NotSimulated("cut -d with a newline")
    out, linelen = bytearray(), len(line)
    shoe = regex is not None
    uu = start = end = nout = dcount = 0
    pos = 0
    while True:
        if end == linelen or dcount > ranges[pos][1]:
            pos += 1
            if pos >= len(ranges):
                break
            if "D" in options:
                start = dcount = uu = 0
            end = 0
        if uu == linelen:
            if not pos and not dcount and not shoe:
                if "s" in options:
                    return None
            elif dcount < ranges[pos][0]:
                start = linelen
            end = linelen
        else:
            if shoe:
                span = regex.search(line[uu:])  # regexec(line + uu, NOTBOL|NOTEOL)
                if span is None:
                    uu = linelen
                    continue
                end, uu = uu + span[0], uu + span[1]
            else:
                end = uu
                uu += 1
                if line[end] != delim[0]:
                    continue
            dcount += 1
            if dcount - 1 < ranges[pos][0]:
                start = uu
                continue
        if end != start or not shoe:
            out += (odelim if nout else b"") + line[start:end]
            nout += 1
        start = uu
        if not dcount:
            break
    return bytes(out) + b"\n"


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


def escape_sequence(text: bytes, i: int) -> tuple[int, int]:
    """bb_process_escape_sequence at text[i:] (just after a backslash): the byte and
    where the sequence ends; \\NUL and an unknown \\z give a backslash and end at i."""
    if text[i:i + 1] == b"x":
        match = re.match(rb"[0-9a-fA-F]{1,2}", text[i + 1:])
        if not match:
            return ord("\\"), i
        return int(match.group(), 16), i + 1 + match.end()
    value, j = 0, i
    while j < len(text) and j - i < 3 and 48 <= text[j] <= 55:
        if value * 8 + text[j] - 48 > 255:
            break
        value = value * 8 + text[j] - 48
        j += 1
    if j > i:
        return value, j
    simple = {ord("a"): 7, ord("b"): 8, ord("e"): 27, ord("f"): 12, ord("n"): 10,
              ord("r"): 13, ord("t"): 9, ord("v"): 11, ord("\\"): 92}
    if i < len(text) and text[i] in simple:
        return simple[text[i]], i + 1
    return ord("\\"), i


def tr_expand(app: Applet, arg: bytes) -> bytes:
    """expand(): ranges a-z, escapes, [:class:] and [=c=]; other [ are plain."""
    out = bytearray()
    text = bytearray(arg)
    i = 0
    while i < len(text):
        if text[i] == ord("\\"):
            value, end = escape_sequence(bytes(text), i + 1)
            i = end - 1
            text[i] = value
        if text[i + 1:i + 2] == b"-":
            if i + 2 >= len(text):
                out.append(text[i])
                i += 1
                continue
            low, high = text[i], text[i + 2]
            i += 3
            if high == ord("\\"):
                high, i = escape_sequence(bytes(text), i)
            out += bytes(range(low, high + 1))
            continue
        if text[i] == ord("[") and i + 1 < len(text):
            kind = text[i + 1]
            if kind == ord(":"):
                name = bytes(text[i + 2:i + 2 + (8 if text[i + 2:i + 3] == b"x" else 7)])
                classes = {b"alpha:]": "alpha", b"alnum:]": "alnum", b"digit:]": "digit",
                           b"lower:]": "lower", b"upper:]": "upper", b"space:]": "space",
                           b"blank:]": "blank", b"punct:]": "punct", b"cntrl:]": "cntrl",
                           b"xdigit:]": "xdigit"}
                if name in classes:
                    out += tr_class(classes[name])
                    i += 2 + len(name)
                    continue
            elif kind == ord("="):
                if i + 2 >= len(text):
                    app.usage()
                out.append(text[i + 2])
                if text[i + 3:i + 5] != b"=]":
                    app.usage()
                i += 5
                continue
        out.append(text[i])
        i += 1
    return bytes(out)


def tr_class(name: str) -> bytes:
    """The bytes of a tr class, in expand()'s order."""
    digits, upper, lower = b"0123456789", bytes(range(65, 91)), bytes(range(97, 123))
    if name == "alpha":
        return upper + lower
    if name == "alnum":
        return digits + upper + lower
    if name in ("digit", "upper", "lower"):
        return {"digit": digits, "upper": upper, "lower": lower}[name]
    if name == "space":
        return b"\t\n\v\f\r "
    if name == "blank":
        return b"\t "
    if name == "punct":
        return bytes(c for c in range(33, 127) if not chr(c).isalnum())
    if name == "cntrl":
        return bytes(range(32)) + b"\x7f"
    return digits + b"ABCDEF" + b"abcdef"  # xdigit


def applet_tr(app: Applet, argv: list[str]) -> int:
    """busybox tr: -c/-C, -d, -s; STRING2 shorter than STRING1 repeats its last byte
    (nothing given: "0"). Bytes in, bytes out."""
    options, args = app.getopt(argv, "+Ccds")
    if not args:
        app.usage()
    set1 = tr_expand(app, arg_bytes(args[0]))
    if options.keys() & {"c", "C"}:
        set1 = bytes(c for c in range(256) if c not in set1)
    vector = list(range(256))
    set2 = b""
    if len(args) > 1:
        if not args[1]:
            app.die("STRING2 cannot be empty")
        set2 = tr_expand(app, arg_bytes(args[1]))
        last = ord("0")
        for index, c in enumerate(set1):
            if index < len(set2):
                last = set2[index]
            vector[c] = last
    invec, outvec = set(set1), set(set2)
    stdin = app.shell.fds.get(0, NullHandle())
    last = None
    while True:  # TR_BUFSIZ (8192) read, translated, written
        data = stdin.read(8192)
        if isinstance(data, int):
            app.die(f"read error: {strerror(data)}")
        if not data:
            return 0
        out = bytearray()
        for c in data:
            if "d" in options and c in invec:
                continue
            coded = vector[c]
            if "s" in options and last == coded and (c in invec or coded in outvec):
                continue
            out.append(coded)
            last = coded
        if out:
            app.out(bytes(out))


def applet_seq(app: Applet, argv: list[str]) -> int:
    """busybox seq [-w] [-s SEP] [FIRST [INC]] LAST: "%0*.*f", the precision from the
    fractional digits of FIRST and INC; the usage for anything strtod does not take."""
    options, args = app.getopt(argv, "+ws:")
    if not 1 <= len(args) <= 3:
        app.usage()
    values = []
    for text in args:
        value, used = strtod_prefix(arg_bytes(text))
        overflow = abs(value) == float("inf") and not re.search(r"(?i)inf", text)
        if used != len(arg_bytes(text)) or overflow:  # trailing junk, or ERANGE
            app.usage()
        values.append(value)
    first, increment = 1.0, 1.0
    if len(args) == 3:
        first, increment, last = values
    elif len(args) == 2:
        first, last = values
    else:
        last = values[0]
    width = frac = 0
    for index, text in enumerate(args):
        dot = text.find(".")
        w = len(text) if dot < 0 else dot
        width = max(width, w)
        if index < len(args) - 1:
            frac = max(frac, len(text) - w)
    if frac:
        frac -= 1
        if frac:
            width += frac + 1
    if "w" not in options:
        width = 0
    if increment == 0 and first <= last:
        raise NotSimulated("seq that never ends")
    sep = options.get("s", "\n")
    out, n, value = [], 0, first
    while (value <= last) if increment >= 0 else (value >= last):
        out.append("%0*.*f" % (width, frac, value))
        n += 1
        value = first + n * increment
        if n > 10_000_000:
            raise NotSimulated("seq of more than ten million numbers")
    if n:
        app.write(sep.join(out) + "\n")
    return fflush_all(app)


def applet_basename(app: Applet, argv: list[str]) -> int:
    """busybox basename FILE [SUFFIX] | -a FILE... | -s SUFFIX FILE...: trailing slashes
    go, "/" stays; one full_write per name."""
    pairs, args = app.getopt_list(argv, "+as:")
    if not args:
        app.usage()
    suffix = None
    for option, value in pairs:
        if option == "s":
            suffix = arg_bytes(value)
    names = [arg_bytes(a) for a in args]
    index = 0
    while True:
        path = names[index].rstrip(b"/") or names[index][:1]
        slash = path.rfind(b"/")
        base = path if slash < 0 or path == b"/" else path[slash + 1:]
        index += 1
        if not pairs and index < len(names):
            suffix = names[index]
            if index + 1 < len(names):
                app.usage()
        if suffix is not None and len(base) > len(suffix) and base.endswith(suffix):
            base = base[:-len(suffix)]
        if app.out(base + b"\n") < 0:
            return 1
        if not pairs or index >= len(names):
            return 0


def applet_dirname(app: Applet, argv: list[str]) -> int:
    """busybox dirname FILENAME: glibc dirname() ("." without a slash, "/" for "/",
    a leading "//" kept)."""
    args = argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if len(args) != 1:
        app.usage()
    path = arg_bytes(args[0])
    app.write(posix_dirname(path) + b"\n")
    return fflush_all(app)


def posix_dirname(path: bytes) -> bytes:
    """glibc dirname(): "." without a slash; trailing slashes ignored; "/" for what is
    only slashes, except that exactly two leading ones stay "//"."""
    last = path.rfind(b"/")
    if 0 < last == len(path) - 1:
        run = last
        while run > 0 and path[run - 1] == ord("/"):
            run -= 1
        if run:
            last = path.rfind(b"/", 0, run)
    if last < 0:
        return b"."
    run = last
    while run > 0 and path[run - 1] == ord("/"):
        run -= 1
    if run:
        return path[:run]
    return path[:2] if last == 1 else path[:1]


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

APPLETS = {
    "insmod": applet_insmod, "rmmod": applet_rmmod, "lsmod": applet_lsmod,
    "modprobe": applet_modprobe, "modinfo": applet_modinfo, "depmod": applet_depmod,
    "dmesg": applet_dmesg, "cat": applet_cat, "head": applet_head, "ls": applet_ls,
    "sleep": applet_sleep, "stat": applet_stat, "grep": applet_grep, "egrep": applet_grep,
    "fgrep": applet_grep, "wc": applet_wc, "tail": applet_tail, "sort": applet_sort,
    "uniq": applet_uniq, "cut": applet_cut, "tr": applet_tr, "seq": applet_seq,
    "basename": applet_basename, "dirname": applet_dirname, "tee": applet_tee,
}
