"""Open files: what fds 0, 1 and 2 of a command point at.

The console, /dev/null and /dev/zero (which the shell answers itself), the buffers that
stand for pipes and command substitutions, and the file descriptors the System gives out;
``full_write`` and ``read_all`` as libbb's helpers over them.
"""

from __future__ import annotations

import errno as E
from typing import Callable

from .syscalls import SEEK_END


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

    def __init__(self, emit: Callable[[bytes], None]):
        self._emit = emit  # the shell's: kernel lines pending on the console go out first

    def read(self, count: int) -> bytes:
        return b""  # nobody types on the guest's console

    def write(self, data: bytes) -> int:
        self._emit(data)
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


class FileHandle(Handle):
    """A file descriptor the System gave out: a kernel file or one of the rootfs.
    ``syscall(name, *args)`` is the shell's way to call the System (it flushes the
    console after each call)."""

    def __init__(self, syscall: Callable, fd: int):
        self._syscall = syscall
        self._fd = fd

    def read(self, count: int) -> bytes | int:
        return self._syscall("read", self._fd, count)

    def write(self, data: bytes) -> int:
        return self._syscall("write", self._fd, data)

    def seek_end(self) -> int:
        """lseek(fd, 0, SEEK_END): the size of a file, or -errno (ESPIPE)."""
        return self._syscall("lseek", self._fd, 0, SEEK_END)

    def close(self) -> None:
        self._syscall("close", self._fd)


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
