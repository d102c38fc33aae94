"""Open files (``struct file``) and the kernel's made-up files (Node): the bottom of the
file layer (:mod:`emulator.files` has the whole story).

:class:`OpenFile` is what ``k.fs.open`` returns; the kinds here are backed by Python (the
rootfs's regular files, directories, the text files of procfs and sysfs, the memory
devices); :mod:`emulator.fops` adds the ones whose operations are a module's.
"""

from __future__ import annotations

import errno
import posixpath
from dataclasses import dataclass

from .kapi.uaccess import TASK_SIZE_MAX, access_ok, get_user_bytes, put_user_bytes

# open(2) flags (x86-64)
O_ACCMODE, O_RDONLY, O_WRONLY, O_RDWR = 3, 0, 1, 2
O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC, O_APPEND = 0o100, 0o200, 0o400, 0o1000, 0o2000
O_NONBLOCK, O_DIRECTORY, O_LARGEFILE = 0o4000, 0o200000, 0o100000
SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE = 0, 1, 2, 3, 4
# file types (the high bits of st_mode) and mknod's
S_IFMT, S_IFSOCK, S_IFLNK, S_IFREG, S_IFBLK = 0o170000, 0o140000, 0o120000, 0o100000, 0o060000
S_IFDIR, S_IFCHR, S_IFIFO = 0o040000, 0o020000, 0o010000
# poll(2) bits; what a file without ->poll says (DEFAULT_POLLMASK)
POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLRDNORM, POLLWRNORM = 1, 2, 4, 8, 0x10, 0x40, 0x100
DEFAULT_POLLMASK = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM
MAX_RW_COUNT = 0x7FFFF000          # INT_MAX & PAGE_MASK: rw_verify_area's cap
# d_type of getdents64
DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG = 0, 1, 2, 4, 6, 8

# the scratch user buffer Python callers' reads and writes go through (1 MiB of the user half;
# user programs live below 0x7e00_0000_0000, their stack near 0x7fff_ffff_f000)
SCRATCH_ADDR, SCRATCH_SIZE = 0x7F00_0000_0000, 1 << 20
assert SCRATCH_ADDR + SCRATCH_SIZE < TASK_SIZE_MAX

# the memory devices (drivers/char/mem.c) and the console: (major, minor) -> name
MEM_DEVICES = {(1, 3): "null", (1, 5): "zero", (1, 11): "kmsg", (5, 1): "console"}
MEM_NODES = {"null": ((1, 3), 0o666), "zero": ((1, 5), 0o666), "kmsg": ((1, 11), 0o644),
             "console": ((5, 1), 0o600)}


def mkdev(major, minor):
    return (major << 20) | minor


def type_of(mode):
    """The Stat kind of a mode's file type bits."""
    return {S_IFCHR: "c", S_IFBLK: "b", S_IFIFO: "p", S_IFSOCK: "s", S_IFLNK: "l"}.get(
        mode & S_IFMT, "")


@dataclass
class Node:
    """A file the kernel makes up (procfs, sysfs, devtmpfs): its text (read), its store
    function (write), its mode; a directory lists ``entries``; ``open`` makes the open
    file itself (a module's proc_ops or kobject attribute); ``kind``/``rdev`` for a node."""

    read: object = None     # callable() -> bytes
    write: object = None    # callable(bytes) -> int (bytes taken or -errno)
    mode: int = 0o444
    is_dir: bool = False
    entries: object = None  # callable() -> list of names, for directories
    size: int | None = None  # what stat says; None: 0 for /proc, 4096 for /sys
    kind: str = ""          # "c" for a character device
    rdev: tuple = (0, 0)
    open: object = None     # callable(fs, path, flags) -> OpenFile | -errno
    dac_override: bool = False   # root opens it whatever the mode (debugfs, not sysfs)


# --------------------------------------------------------------------------- open files

class OpenFile:
    """A ``struct file``. Subclasses backed by Python implement ``_read(count)`` and
    ``_write(data)`` (bytes); the user-memory calls are built on them here."""

    seekable = False

    def __init__(self, fs, path, flags):
        self.fs, self.k, self.path, self.flags = fs, fs.k, path, flags
        self.pos = 0
        self.closed = False

    @property
    def readable(self):
        return self.flags & O_ACCMODE in (O_RDONLY, O_RDWR)

    @property
    def writable(self):
        return self.flags & O_ACCMODE in (O_WRONLY, O_RDWR)

    # -- read(2), write(2) against user memory -----------------------------------------

    def read(self, ubuf, count):
        """read(2): bytes put at user address ``ubuf``, or -errno."""
        if not self.readable:
            return -errno.EBADF
        count = min(count, MAX_RW_COUNT)
        if not access_ok(ubuf, count):
            return -errno.EFAULT
        data = self._read(min(count, SCRATCH_SIZE))
        if isinstance(data, int):
            return data
        done = put_user_bytes(self.k, self.k.machine, ubuf, data)
        if done < len(data):        # the rest did not reach the user: not read
            self._unread(len(data) - done)
            if not done:
                return -errno.EFAULT
        return done

    def write(self, ubuf, count):
        """write(2): bytes taken from user address ``ubuf``, or -errno."""
        if not self.writable:
            return -errno.EBADF
        count = min(count, MAX_RW_COUNT, SCRATCH_SIZE)
        if not access_ok(ubuf, count):
            return -errno.EFAULT
        data = bytearray()
        while len(data) < count:
            piece = get_user_bytes(self.k, self.k.machine, ubuf + len(data), count - len(data))
            if not piece:
                break
            data += piece
        if len(data) < count and not data:
            return -errno.EFAULT
        return self._write(bytes(data))

    # -- the same for Python callers ----------------------------------------------------

    def read_bytes(self, count):
        if not self.readable:
            return -errno.EBADF
        return self._read(min(count, MAX_RW_COUNT, SCRATCH_SIZE))

    def write_bytes(self, data):
        if not self.writable:
            return -errno.EBADF
        return self._write(bytes(data[:SCRATCH_SIZE]))

    def _read(self, count):
        return -errno.EINVAL

    def _write(self, data):
        return -errno.EINVAL

    def _unread(self, n):
        self.pos -= n

    def pread(self, ubuf, count, offset):
        """pread64(2): read at ``offset``, f_pos untouched; ESPIPE where there is no offset."""
        return self._at(offset, self.read, ubuf, count)

    def pwrite(self, ubuf, count, offset):
        """pwrite64(2): as pread."""
        return self._at(offset, self.write, ubuf, count)

    def _at(self, offset, transfer, ubuf, count):
        if not self.seekable:
            return -errno.ESPIPE
        if offset < 0:
            return -errno.EINVAL
        saved, self.pos = self.pos, offset
        try:
            return transfer(ubuf, count)
        finally:
            self.pos = saved

    def stat(self):
        """fstat(2): what stat says of the file's path (a node: its device numbers)."""
        return self.fs.stat(self.path)

    def llseek(self, offset, whence):
        return -errno.ESPIPE

    def ioctl(self, cmd, arg):
        return -errno.ENOTTY

    def poll(self):
        return DEFAULT_POLLMASK

    def getdents(self):
        """[(name, d_type)] of a directory (with "." and ".."), or -ENOTDIR."""
        return -errno.ENOTDIR

    def release(self):
        self.closed = True
        return 0

    close = release


class RegularFile(OpenFile):
    """A file of the rootfs, as kmodsim's rootfs files have always behaved (the shell's
    tests pin it): a file opened only for reading reads as it was when it was opened (a
    copy). A write goes at f_pos (at the end with O_APPEND). Reading a file opened O_WRONLY
    or writing one opened O_RDONLY is EBADF."""

    seekable = True

    def __init__(self, fs, path, flags, inode, writable):
        super().__init__(fs, path, flags)
        self.vfs, self.inode = fs.k.vfs, inode
        self.copy = None if writable else bytearray(self.vfs.read(inode))

    def _read(self, count):
        if self.copy is not None:
            data = bytes(self.copy[self.pos:self.pos + count])
        else:
            data = self.vfs.read(self.inode, self.pos, count)
        self.pos += len(data)
        return data

    def _write(self, data):
        """At f_pos (O_APPEND: at the end), which moves past what was written."""
        if self.copy is not None:
            return -errno.EBADF
        offset = None if self.flags & O_APPEND else self.pos
        n = self.vfs.write(self.inode, data, offset)
        if n > 0:
            self.pos = (self.inode.size if offset is None else offset + n)
        return n

    def llseek(self, offset, whence):
        size = len(self.copy) if self.copy is not None else self.inode.size
        base = {SEEK_SET: 0, SEEK_CUR: self.pos, SEEK_END: size}.get(whence)
        if base is None or base + offset < 0:
            return -errno.EINVAL
        self.pos = base + offset
        return self.pos


class DirFile(OpenFile):
    """A directory opened for reading: getdents lists it; read says EISDIR."""

    def __init__(self, fs, path, flags, names):
        super().__init__(fs, path, flags)
        self.names = names

    def _read(self, count):
        return -errno.EISDIR

    def getdents(self):
        out = [(".", DT_DIR), ("..", DT_DIR)]
        for name in self.names:
            st = self.fs.stat(posixpath.join(self.path, name))
            dtype = DT_UNKNOWN if isinstance(st, int) else \
                {"d": DT_DIR, "c": DT_CHR, "b": DT_BLK, "p": DT_FIFO, "-": DT_REG}.get(st.type, 0)
            out.append((name, dtype))
        return out

    def llseek(self, offset, whence):
        if whence == SEEK_SET and offset >= 0:
            self.pos = offset
            return offset
        return -errno.EINVAL


class TextFile(OpenFile):
    """A procfs or sysfs file kmodsim writes itself: its text is made at the first read
    (as a seq_file fills its buffer), a write goes to the node's store function whole."""

    def __init__(self, fs, path, flags, node):
        super().__init__(fs, path, flags)
        self.node, self.text = node, None

    def _read(self, count):
        if self.node.is_dir:
            return -errno.EISDIR
        if self.text is None:
            text = self.node.read()
            if isinstance(text, int):       # the show function's error
                return text
            self.text = bytes(text or b"")
        data = self.text[self.pos:self.pos + count]
        self.pos += len(data)
        return data

    def _write(self, data):
        if self.node.write is None:
            return -errno.EIO
        return self.node.write(data)

    def _unread(self, n):
        self.pos -= n


class MemDevFile(OpenFile):
    """/dev/null, /dev/zero, /dev/kmsg (writes are printk records), /dev/console."""

    def __init__(self, fs, path, flags, name):
        super().__init__(fs, path, flags)
        self.name = name

    def _read(self, count):
        if self.name == "zero":
            return bytes(count)
        if self.name == "kmsg":
            return -errno.EAGAIN if self.flags & O_NONBLOCK else b""
        return b""

    def _unread(self, n):
        pass

    def _write(self, data):
        if self.name == "kmsg":
            return self.fs.kmsg_write(data)
        if self.name == "console":
            self.k.log.console_write(bytes(data))
        return len(data)

    def llseek(self, offset, whence):
        if self.name in ("null", "zero"):
            self.pos = 0
            return 0
        return -errno.ESPIPE


