"""The kernel's file layer: ``k.fs``, open files, and what is behind each path.

One layer under the scenario shell (through :class:`emulator.system.KernelSystem`), user
programs (their file syscalls) and Python (``k.open``)::

    k.fs.open(path, flags, mode=0) -> OpenFile | -errno
    k.fs.stat(path) -> Stat | -errno        k.fs.list_dir(path) -> [names] | -errno
    k.fs.mknod(path, mode, rdev) -> 0 | -errno  (mode carries S_IFCHR/S_IFBLK/S_IFREG;
                                    rdev a dev_t or a (major, minor) pair)
    k.fs.unlink(path), k.fs.mkdir(path, mode) -> 0 | -errno
    k.fs.mount(source, target, fstype) -> 0 | -errno   (debugfs on /sys/kernel/debug)
    k.fs.scratch() -> the scratch user buffer's address (SCRATCH_ADDR, mapped on first use)

Paths are absolute. Behind them: the guest's rootfs (``k.vfs``: its initramfs, a tmpfs,
regular files, directories and the device nodes ``mknod`` makes), and the kernel's own file
systems mounted by the guest's /init: devtmpfs on /dev (the memory devices null, zero,
kmsg, console, one node per device a module creates), procfs on /proc (the kernel's files,
``/proc/<pid>/{comm,status,cmdline}``, the modules' entries) and sysfs on /sys (modules,
classes, kobjects and their attributes), debugfs on /sys/kernel/debug once mounted
(:mod:`emulator.kernelfs` resolves those paths).

An :class:`OpenFile` is a ``struct file``: ``pos`` is its f_pos, and

    read(ubuf, count) / write(ubuf, count)   read(2)/write(2) with a buffer in the calling
                                 process's memory (a guest user address): the count or -errno
    read_bytes(count) / write_bytes(data)   the same for Python callers (bytes in and out;
                                 module code sees a user buffer in a scratch page kmodsim
                                 maps at SCRATCH_ADDR)
    pread(ubuf, count, offset) / pwrite(...)   f_pos untouched (ESPIPE where no offset)
    llseek(offset, whence), ioctl(cmd, arg), poll(), getdents(), stat(), release()

A character device's ``file_operations`` run in the CPU (:mod:`emulator.fops`); a module
function that oopses kills the caller: ``TaskKilled`` (or ``KernelPanic``) is raised, as a
System method raises it for the shell.
"""

from __future__ import annotations

import errno
import posixpath

from . import fops, kernelfs
from .kapi.sysfs import WELL_KNOWN, setup_well_known
from .machine import PAGE, PROT_READ, PROT_WRITE
from .openfile import (DEFAULT_POLLMASK, DT_BLK, DT_CHR, DT_DIR, DT_FIFO, DT_REG,
                       DT_UNKNOWN, MAX_RW_COUNT, MEM_DEVICES, MEM_NODES, O_ACCMODE, O_APPEND,
                       O_CREAT, O_DIRECTORY, O_EXCL, O_LARGEFILE, O_NOCTTY, O_NONBLOCK,
                       O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, POLLERR, POLLHUP, POLLIN, POLLOUT,
                       POLLPRI, POLLRDNORM, POLLWRNORM, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO,
                       S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, SCRATCH_ADDR, SCRATCH_SIZE,
                       SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE, SEEK_SET, DirFile, MemDevFile,
                       Node, OpenFile, RegularFile, TextFile, mkdev, type_of)
from .vfs import KERNEL_MOUNTS, Stat

# --------------------------------------------------------------------------- the layer

class FileLayer:
    """``k.fs``: paths to files (see the module docstring)."""

    def __init__(self, k):
        self.k = k
        self.dev_nodes = {}      # devtmpfs nodes made with mknod: name -> (kind, rdev, mode)
        self._scratch = False
        self.mounts = {}         # what the guest mounted besides its /init's: path -> type
        self.debugfs = {}        # debugfs's entries (emulator.kapi.debugfs)

    def symbol_resolved(self, name):
        """A module links against kernel symbol ``name``: kernel_kobj & co. get their
        kobjects then (set up at boot, they would back a block of kernel data every kernel
        pays for)."""
        if name in WELL_KNOWN:
            setup_well_known(self.k)

    # -- the user buffer Python callers go through ------------------------------------

    def scratch(self):
        """The scratch user buffer's address, mapped on first use."""
        if not self._scratch:
            self.k.machine.map(SCRATCH_ADDR, SCRATCH_SIZE, PROT_READ | PROT_WRITE,
                               "user buffer (kmodsim's, for Python callers)")
            self._scratch = True
        return SCRATCH_ADDR

    # -- names ------------------------------------------------------------------------

    @staticmethod
    def _split(path):
        path = posixpath.normpath(path)
        return path, [p for p in path.split("/") if p]

    def _kernel_owns(self, path, mount_point=False):
        return any(path == m or path.startswith(m + "/") for m in KERNEL_MOUNTS) and \
            (mount_point or path not in KERNEL_MOUNTS)

    def node(self, path):
        """The kernel's Node at ``path`` (under /proc, /sys or /dev), or None."""
        return kernelfs.node(self, path)

    def stat(self, path):
        path, _ = self._split(path)
        if not self._kernel_owns(path):
            return self.k.vfs.stat(path)
        node = self.node(path)
        if node is None:
            return -errno.ENOENT
        size = node.size
        if size is None:   # procfs files say 0, sysfs attributes a page
            size = 0 if node.is_dir or path.startswith("/proc") else 4096
        return Stat(node.is_dir, node.mode, size, node.kind, node.rdev)

    def list_dir(self, path):
        path, _ = self._split(path)
        if not self._kernel_owns(path, mount_point=True):
            return self.k.vfs.list(path)
        node = self.node(path)
        if node is None:
            return -errno.ENOENT
        if not node.is_dir:
            return -errno.ENOTDIR
        return list(node.entries())

    def mknod(self, path, mode, rdev=0):
        """mknod(2): a character or block node (or a regular file, or a fifo) at ``path``;
        ``rdev`` a dev_t (major << 20 | minor) or a (major, minor) pair."""
        path, parts = self._split(path)
        if isinstance(rdev, int):
            rdev = (rdev >> 20, rdev & 0xFFFFF)
        kind = type_of(mode)
        if mode & S_IFMT not in (0, S_IFREG, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK):
            return -errno.EINVAL
        if self._kernel_owns(path, mount_point=True):
            if parts[0] != "dev" or len(parts) != 2:
                return -errno.EEXIST if self.node(path) is not None else -errno.EPERM
            if self.node(path) is not None:
                return -errno.EEXIST
            self.dev_nodes[parts[1]] = (kind, rdev, mode & 0o7777)
            return 0
        return self.k.vfs.mknod(path, mode & 0o7777, kind, rdev)

    def unlink(self, path):
        path, parts = self._split(path)
        if self._kernel_owns(path, mount_point=True):
            if parts[0] == "dev" and len(parts) == 2 and parts[1] in self.dev_nodes:
                del self.dev_nodes[parts[1]]
                return 0
            node = self.node(path)
            if node is None:
                return -errno.ENOENT
            return -errno.EISDIR if node.is_dir else -errno.EPERM
        return self.k.vfs.unlink(path)

    def mkdir(self, path, mode=0o755):
        path, _ = self._split(path)
        if self._kernel_owns(path, mount_point=True):
            return -errno.EEXIST if self.node(path) is not None else -errno.EPERM
        return self.k.vfs.mkdir(path, mode)

    def mount(self, source, target, fstype, flags=0, data=None):
        """mount(2), for the file systems a module lab mounts: debugfs on
        /sys/kernel/debug. Another type is ENODEV; a target that is not a directory
        ENOENT/ENOTDIR; mounting it twice EBUSY."""
        target, _ = self._split(target)
        if fstype != "debugfs":
            return -errno.ENODEV
        st = self.stat(target)
        if isinstance(st, int):
            return st
        if not st.is_dir:
            return -errno.ENOTDIR
        if target != "/sys/kernel/debug":
            return -errno.EPERM      # kmodsim keeps debugfs at its usual place only
        if target in self.mounts:
            return -errno.EBUSY
        self.mounts[target] = fstype
        return 0

    # -- open -------------------------------------------------------------------------

    def open(self, path, flags=O_RDONLY, mode=0o644):
        """open(2): an OpenFile, or -errno. May raise TaskKilled/KernelPanic (a module's
        open oopsed)."""
        path, _ = self._split(path)
        if self._kernel_owns(path):
            return self._open_kernel(path, flags)
        return self._open_rootfs(path, flags, mode)

    def _open_rootfs(self, path, flags, mode):
        """open(2) on the rootfs: O_TRUNC starts the file anew (a new inode with the old
        one's mode under the name: a descriptor still open on the old one keeps it); a
        device node opens its device; a directory opens for reading only."""
        vfs = self.k.vfs
        inode = vfs.lookup(path)
        if not isinstance(inode, int) and inode.kind and not flags & O_EXCL:
            return self.open_device(path, inode.kind, inode.rdev, flags)
        if not isinstance(inode, int) and flags & O_CREAT and flags & O_EXCL:
            return -errno.EEXIST
        if not isinstance(inode, int) and inode.is_dir:
            if flags & O_ACCMODE != O_RDONLY:
                return -errno.EISDIR
            return DirFile(self, path, flags, vfs.list(path))
        if flags & O_DIRECTORY:
            return -errno.ENOTDIR if not isinstance(inode, int) else inode
        if flags & (O_WRONLY | O_RDWR):
            if isinstance(inode, int):
                if not flags & O_CREAT:
                    return inode
                inode = vfs.create(path, mode & 0o7777)
            elif flags & O_TRUNC:
                vfs.unlink(path)
                inode = vfs.create(path, inode.mode)
            return inode if isinstance(inode, int) else RegularFile(self, path, flags, inode, True)
        if isinstance(inode, int):
            if flags & O_CREAT:
                inode = vfs.create(path, mode & 0o7777)
                if isinstance(inode, int):
                    return inode
            else:
                return inode
        return RegularFile(self, path, flags, inode, False)

    def _open_kernel(self, path, flags):
        node = self.node(path)
        if node is None:
            return -errno.ENOENT if not flags & O_CREAT else -errno.EACCES
        if node.kind in ("c", "b"):
            return self.open_device(path, node.kind, node.rdev, flags)
        if node.open is not None:        # it checks for itself (procfs: root opens anything)
            return node.open(self, path, flags)
        writing = flags & O_ACCMODE in (O_WRONLY, O_RDWR)
        if node.dac_override and not node.is_dir:
            return TextFile(self, path, flags, node)
        if writing and (node.is_dir or not node.mode & 0o222):
            return -errno.EISDIR if node.is_dir else -errno.EACCES
        if not writing and not node.is_dir and not node.mode & 0o444:
            return -errno.EACCES
        if node.is_dir:
            return DirFile(self, path, flags, list(node.entries()))
        return TextFile(self, path, flags, node)

    def open_device(self, path, kind, rdev, flags):
        """chrdev_open (or blkdev_open): the driver behind (major, minor); -ENXIO when
        there is none."""
        if kind != "c":
            return -errno.ENXIO          # no block devices in the guest
        name = MEM_DEVICES.get(tuple(rdev))
        if name is not None:
            return MemDevFile(self, path, flags, name)
        return fops.open_chrdev(self, path, tuple(rdev), flags)

    # -- /dev/kmsg --------------------------------------------------------------------

    def kmsg_write(self, data):
        """devkmsg_write: an optional ``<N>`` prefix (facility << 3 | level), user facility."""
        text = bytes(data).decode("latin-1")
        level, facility = 4, 1
        if text.startswith("<"):
            end = text.find(">")
            if end > 1 and text[1:end].isdigit():
                u = int(text[1:end])
                level, facility = u & 7, u >> 3 or 1
                text = text[end + 1:]
        self.k.printk(level, text.rstrip("\n"))
        self.k.log[-1].facility = facility
        return len(data)


# --------------------------------------------------------------------------- k.open

class PyFile:
    """``k.open(path)``: an open file for notebooks and graders, bytes in and out; errors
    raise OSError with the errno (a module that oopses raises TaskKilled)."""

    def __init__(self, file):
        self.file = file

    @staticmethod
    def _check(rc):
        if isinstance(rc, int) and rc < 0:
            raise OSError(-rc, errno.errorcode.get(-rc, str(-rc)))
        return rc

    def read(self, count=PAGE):
        return self._check(self.file.read_bytes(count))

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        return self._check(self.file.write_bytes(data))

    def ioctl(self, cmd, arg=0):
        """ioctl(2). ``arg`` an int is passed as it is; a bytearray (or bytes) is put in
        the user buffer and its address passed: a bytearray gets what the driver wrote
        back (``_IOR``), as a C caller's struct would."""
        if isinstance(arg, (bytes, bytearray)):
            k = self.file.k
            ubuf = k.fs.scratch() + SCRATCH_SIZE - PAGE      # clear of read/write's bytes
            k.machine.write(ubuf, bytes(arg[:PAGE]))
            rc = self.file.ioctl(cmd, ubuf)
            if isinstance(arg, bytearray):
                arg[:PAGE] = k.machine.read(ubuf, min(len(arg), PAGE))
            return self._check(rc)
        return self._check(self.file.ioctl(cmd, arg))

    def lseek(self, offset, whence=SEEK_SET):
        return self._check(self.file.llseek(offset, whence))

    seek = lseek

    def poll(self):
        return self.file.poll()

    @property
    def pos(self):
        return self.file.pos

    def close(self):
        if not self.file.closed:
            self._check(self.file.release())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def kernel_open(k, path, flags=O_RDWR):
    """``k.open``: a PyFile, or OSError."""
    file = k.fs.open(path, flags)
    PyFile._check(file)
    return PyFile(file)


# the API, and the constants callers (the user-programs side, notebooks) take from here
__all__ = ["FileLayer", "PyFile", "kernel_open", "OpenFile", "Node", "RegularFile", "DirFile",
           "TextFile", "MemDevFile", "SCRATCH_ADDR", "SCRATCH_SIZE", "DEFAULT_POLLMASK",
           "MAX_RW_COUNT", "MEM_DEVICES", "MEM_NODES", "mkdev", "type_of",
           "O_ACCMODE", "O_RDONLY", "O_WRONLY", "O_RDWR", "O_CREAT", "O_EXCL", "O_NOCTTY",
           "O_TRUNC", "O_APPEND", "O_NONBLOCK", "O_DIRECTORY", "O_LARGEFILE",
           "SEEK_SET", "SEEK_CUR", "SEEK_END", "SEEK_DATA", "SEEK_HOLE",
           "S_IFMT", "S_IFSOCK", "S_IFLNK", "S_IFREG", "S_IFBLK", "S_IFDIR", "S_IFCHR", "S_IFIFO",
           "POLLIN", "POLLPRI", "POLLOUT", "POLLERR", "POLLHUP", "POLLRDNORM", "POLLWRNORM",
           "DT_UNKNOWN", "DT_FIFO", "DT_CHR", "DT_DIR", "DT_BLK", "DT_REG"]
