"""A process's open files: its descriptor table and the open files behind it.

The files a program opens are the kernel file layer's (``k.fs``, :mod:`emulator.files`):
``read(ubuf, count)`` and ``write(ubuf, count)`` move bytes between the file and the
calling process's memory at the user address ``ubuf``; ``llseek``, ``ioctl``, ``poll``,
``getdents``, ``release``, and ``pos``. :class:`HandleFile` gives the same shape to an open
file the shell hands the program (its standard input, output and error: the console, a
redirection's file, a pipe), with what ``fstat`` says of it.
"""

from __future__ import annotations

import errno
import posixpath
import struct

from ..shell.syscalls import normpath
from ..vfs import Stat

O_ACCMODE, O_RDWR, O_CREAT, O_TRUNC, O_CLOEXEC = 3, 2, 0o100, 0o1000, 0o2000000
POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 1, 4, 8, 0x10, 0x20
POLLRDNORM, POLLWRNORM = 0x40, 0x100
TCGETS, TCSETS, TCSETSW, TCSETSF = 0x5401, 0x5402, 0x5403, 0x5404
TIOCGWINSZ, TIOCGPGRP = 0x5413, 0x540F
DT_DIR = 4
CHUNK = 64 << 10          # the most bytes moved through Python at once
# the serial console's termios as the guest's getty-less console has it (n_tty defaults,
# 115200 8N1): c_iflag ICRNL|IXON, c_oflag OPOST|ONLCR, c_cflag B115200|CS8|CREAD|HUPCL|CLOCAL,
# c_lflag ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN, N_TTY, INIT_C_CC
CONSOLE_TERMIOS = struct.pack("<IIIIB19s", 0x500, 0x5, 0x1CB2, 0x8A3B, 0,
                              bytes([3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23,
                                     22, 0, 0, 0]))


class HandleFile:
    """One of the shell's open files (emulator.shell.handles) as an open file of the
    program ``proc``: the console, a file a redirection opened, a pipe's buffer, /dev/null.
    The shell closes it, not the program."""

    flags = O_RDWR
    path = ""
    pos = 0

    def __init__(self, proc, handle, stat: Stat):
        self.proc, self.handle, self.stat = proc, handle, stat

    def write_bytes(self, data):
        return self.handle.write(data)

    def read(self, ubuf, count):
        proc = self.proc
        if not proc.mm.accessible(ubuf, count, 2):      # PROT_WRITE
            return -errno.EFAULT
        data = self.handle.read(min(count, CHUNK))
        if isinstance(data, int):
            return data
        return len(data) if proc.write_user(ubuf, data) else -errno.EFAULT

    def write(self, ubuf, count):
        data = self.proc.read_user(ubuf, min(count, CHUNK))
        if data is None:
            return -errno.EFAULT
        return self.handle.write(data) if data else 0

    def llseek(self, offset, whence):
        return -errno.ESPIPE

    def poll(self):
        return POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM

    def getdents(self):
        return -errno.ENOTDIR

    def release(self):
        pass

    def ioctl(self, cmd, arg):
        proc = self.proc
        if not self.handle.console:
            return -errno.ENOTTY
        if cmd == TCGETS:
            return 0 if proc.write_user(arg, CONSOLE_TERMIOS) else -errno.EFAULT
        if cmd == TIOCGWINSZ:          # a serial console has no size: 0 rows, 0 columns
            return 0 if proc.write_user(arg, bytes(8)) else -errno.EFAULT
        if cmd in (TCSETS, TCSETSW, TCSETSF):
            return 0 if proc.read_user(arg, len(CONSOLE_TERMIOS)) is not None else -errno.EFAULT
        if cmd == TIOCGPGRP:
            return 0 if proc.write_user(arg, struct.pack("<i", proc.ppid)) else -errno.EFAULT
        return -errno.ENOTTY


def resolve(cwd: str, path: str) -> str:
    """A path as the process names it, made absolute and normalised."""
    return normpath(posixpath.join(cwd, path))


class FdTable:
    """``files_struct``: descriptor -> [OpenFile, close-on-exec]; an OpenFile shared by
    several descriptors (dup) is released when the last one closes."""

    NR_OPEN = 1024                     # RLIMIT_NOFILE's soft limit

    def __init__(self):
        self.fds: dict[int, list] = {}
        self.refs: dict[int, int] = {}     # id(OpenFile) -> descriptors pointing at it

    def get(self, fd: int):
        """The open file (the file layer's OpenFile, or a HandleFile) behind ``fd``."""
        entry = self.fds.get(fd)
        return entry[0] if entry else None

    def install(self, file, lowest: int = 0, cloexec=False, fd=None) -> int:
        if fd is None:
            fd = lowest
            while fd in self.fds:
                fd += 1
        if fd >= self.NR_OPEN:
            return -errno.EMFILE
        if fd in self.fds:
            self.close(fd)
        self.fds[fd] = [file, cloexec]
        self.refs[id(file)] = self.refs.get(id(file), 0) + 1
        return fd

    def close(self, fd: int) -> int:
        entry = self.fds.pop(fd, None)
        if entry is None:
            return -errno.EBADF
        file = entry[0]
        self.refs[id(file)] -= 1
        if not self.refs[id(file)]:
            del self.refs[id(file)]
            file.release()
        return 0

    def close_all(self):
        for fd in sorted(self.fds):
            self.close(fd)
