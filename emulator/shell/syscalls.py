"""The interface to the simulated kernel: the System protocol and what comes with it.

The flags and syslog actions the applets pass, the signals the shell names,
:class:`TaskKilled`, the :class:`System` protocol itself, glibc's texts for errno values and
signals, and how a path is written when it reaches the System (absolute, normalised).
"""

from __future__ import annotations

import posixpath
from typing import Protocol

from ..vfs import Stat  # stat(2)'s answer: the kernel's file layer defines it

# open(2) flags (x86-64); delete_module(2) takes O_NONBLOCK, O_EXCL and O_TRUNC (force)
O_RDONLY = 0o0
O_WRONLY = 0o1
O_RDWR = 0o2
O_CREAT = 0o100
O_EXCL = 0o200
O_TRUNC = 0o1000
O_APPEND = 0o2000
O_NONBLOCK = 0o4000

# lseek(2) whence: tail -c asks where the end of its standard input is
SEEK_SET, SEEK_CUR, SEEK_END = 0, 1, 2

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
    Files (absolute, normalised paths; the System decides what is behind each: the kernel's
    own files under /proc, /sys and /dev, the guest's rootfs everywhere else. The shell
    reads /proc/modules, /proc/sys/kernel/tainted for lsmod and /proc/sys/kernel/osrelease
    for what busybox gets from uname(2); only /dev/null and /dev/zero it answers itself):
      stat          Stat, or -errno (ENOENT, ENOTDIR); a device node says so (kind "c",
                    rdev), a procfs file has size 0 (stat -c %s %F, tail -c's lseek)
      list_dir      the names in a directory (no "." and ".."), or -errno (ENOTDIR...),
                    in readdir order (grep -r follows it; ls and globs sort)
      open          a file descriptor >= 0 or -errno; O_RDONLY on a directory succeeds
                    (read then fails with EISDIR); O_WRONLY|O_CREAT|O_TRUNC is the shell's ">"
      read          up to ``count`` bytes (b"" at the end), or -errno
      write         one write(2): bytes taken, or -errno (a sysfs store's error)
      lseek         lseek(2): the new offset, or -errno (ESPIPE: no size to seek to; tail
                    asks (0, SEEK_END) of a standard input that may be a file)
      close         close(2)
      mknod         mknod(2): ``mode`` with its file type (S_IFCHR, S_IFBLK...), ``rdev`` a
                    dev_t (major << 20 | minor); 0 or -errno (EEXIST...)
      unlink        unlink(2)
      mount         mount(2) of ``fstype`` (debugfs) on ``target``: 0 or -errno
    The guest's initramfs (not a syscall: what realkernel packs before the guest boots):
      unpack_initramfs  ``files`` (absolute path -> bytes) put into the rootfs, parent
                    directories made: the modules in /mods when the shell starts, the
                    scenario at its path in run_script
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
                    (the applet's name: NOEXEC ones set it, the others are exec'd
                    by it: dmesg, depmod, sleep, tail) becomes ``current`` for the
                    calls that follow; returns its pid. Builtins run in the shell's task.
                    With ``argv`` the task has exec'd (its /proc/<pid>/cmdline), without
                    it it is a forked copy of the shell (its cmdline is the shell's)
      reap          that task has exited and the shell has waited for it
      execve        (a System over a kernel that runs programs) the spawned task execs
                    the program ``filename`` (as typed, or $PATH's) with ``argv``, ``envp`` (["NAME=value"...]), the
                    working directory and the shell's open files (fd -> Handle) and runs it:
                    its exit status, or -errno when the exec fails (the shell prints ash's
                    message); TaskKilled when a signal kills it
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
    def lseek(self, fd: int, offset: int, whence: int) -> int: ...
    def close(self, fd: int) -> None: ...
    def mknod(self, path: str, mode: int, rdev: int) -> int: ...
    def unlink(self, path: str) -> int: ...
    def mount(self, source: str, target: str, fstype: str, flags: int = 0) -> int: ...
    def unpack_initramfs(self, files: dict[str, bytes]) -> None: ...
    def syslog(self, action: int, length: int = 0) -> bytes | int: ...
    def console_drain(self) -> bytes: ...
    def sleep(self, seconds: float) -> None: ...
    def spawn(self, comm: str, argv: list[str] | None = None) -> int: ...
    def reap(self, pid: int) -> None: ...


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


# paths as the shell hands them to the System

def normpath(path: str) -> str:
    """``/a/./b/../c//`` -> ``/a/c``, textually, as ash's cd and our lookups do."""
    path = posixpath.normpath(path)
    return "/" + path.lstrip("/") if path.startswith("/") else path
