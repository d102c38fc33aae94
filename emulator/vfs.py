"""The kernel's file layer: the guest's root file system, a tmpfs holding its initramfs.

``Kernel`` keeps one as ``k.vfs``. It holds what realkernel's guest has in its rootfs:
the directories ``/bin /dev /mods /proc /root /sys /tmp`` and ``/init`` (realkernel's cpio,
plus the ``/root`` the kernel's built-in initramfs adds), and whatever is unpacked into it
afterwards (the modules in ``/mods``, ``/scenario.sh``) or written by the guest (``/tmp``
files). It is a tmpfs as the guest's rootfs is: a directory's size is 20 bytes per entry,
``/root`` is 0700 and ``/init`` 0755, directories are otherwise 0755 and files 0644.

Paths under ``/proc``, ``/sys`` and ``/dev`` are not its business: the kernel's own file
systems are mounted there (:data:`KERNEL_MOUNTS`); ``emulator.system`` sends those paths to
the kernel's nodes and every other one here.

The API is path- and inode-shaped, as the kernel's VFS is, and returns ``-errno`` as the
kernel does: ``lookup``, ``stat``, ``list``, ``mkdir``, ``create``, ``unlink`` take absolute,
normalised paths; ``read`` and ``write`` take the :class:`Inode` that ``lookup`` or
``create`` gave. Open files (descriptors, offsets) are the caller's.
"""

from __future__ import annotations

import errno
import posixpath
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Stat:
    """What ``stat(2)`` says about a path (the part the shell looks at).

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


# where the guest's /init mounts the kernel's own file systems (proc, sysfs, devtmpfs)
KERNEL_MOUNTS = ("/proc", "/sys", "/dev")


def is_kernel_path(path: str) -> bool:
    """A path on one of the kernel's file systems, or one of their mount points."""
    return any(path == m or path.startswith(m + "/") for m in KERNEL_MOUNTS)


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

# realkernel's cpio, plus the /root the kernel's built-in initramfs adds: (path, mode,
# contents or None for a directory), as a cpio archive lists them
GUEST_INITRAMFS = (
    ("/bin", 0o755, None), ("/dev", 0o755, None), ("/mods", 0o755, None),
    ("/proc", 0o755, None), ("/root", 0o700, None), ("/sys", 0o755, None),
    ("/tmp", 0o755, None), ("/init", 0o755, GUEST_INIT.encode()),
)

# the guest's rootfs is a tmpfs: a directory's size is 20 per entry, "." and ".."
# included (BOGO_DIRENT_SIZE)
BOGO_DIRENT_SIZE = 20


@dataclass(eq=False)
class Inode:
    """A directory (``data`` None), a regular file, or a node (``kind`` "c", "b", "p"
    or "s", ``rdev`` its (major, minor)), with its permission bits."""

    mode: int
    data: bytearray | None = field(default=None, repr=False)
    kind: str = ""
    rdev: tuple = (0, 0)

    @property
    def is_dir(self) -> bool:
        return self.data is None

    @property
    def size(self) -> int:
        """The bytes of a file (0 for a directory: what lseek's SEEK_END finds there)."""
        return 0 if self.data is None else len(self.data)


class Vfs:
    """The rootfs: directories and regular files in memory, each inode under its path."""

    def __init__(self, initramfs=GUEST_INITRAMFS):
        self._inodes: dict[str, Inode] = {"/": Inode(0o755)}
        self.unpack(initramfs)

    # -- names ----------------------------------------------------------------------------

    def lookup(self, path: str) -> Inode | int:
        """The inode at ``path``, or -ENOENT."""
        inode = self._inodes.get(path)
        return -errno.ENOENT if inode is None else inode

    def stat(self, path: str) -> Stat | int:
        """Stat, or -ENOENT; -ENOTDIR for a name in a regular file (only the last
        directory of the path is looked at)."""
        inode = self._inodes.get(path)
        if inode is None:
            parent = self._inodes.get(posixpath.dirname(path))
            return -errno.ENOTDIR if parent is not None and not parent.is_dir else -errno.ENOENT
        if inode.is_dir:
            return Stat(is_dir=True, mode=inode.mode,
                        size=BOGO_DIRENT_SIZE * (len(self._children(path)) + 2))
        if inode.kind:
            return Stat(is_dir=False, mode=inode.mode, kind=inode.kind, rdev=inode.rdev)
        return Stat(is_dir=False, mode=inode.mode, size=len(inode.data))

    def list(self, path: str) -> list[str] | int:
        """The names in a directory, sorted (no "." and ".."); -ENOENT, -ENOTDIR."""
        inode = self._inodes.get(path)
        if inode is None or not inode.is_dir:
            return -errno.ENOENT if inode is None else -errno.ENOTDIR
        return self._children(path)

    def _children(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return sorted(p[len(prefix):] for p in self._inodes
                      if p != "/" and posixpath.dirname(p) == path)

    def _parent_error(self, path: str) -> int:
        """0 when the directory ``path`` would be in exists, else -ENOENT or -ENOTDIR."""
        parent = self._inodes.get(posixpath.dirname(path))
        if parent is None:
            return -errno.ENOENT
        return 0 if parent.is_dir else -errno.ENOTDIR

    def mkdir(self, path: str, mode: int = 0o755) -> int:
        """mkdir(2): 0, or -EEXIST, -ENOENT, -ENOTDIR."""
        if path in self._inodes:
            return -errno.EEXIST
        err = self._parent_error(path)
        if err:
            return err
        self._inodes[path] = Inode(mode)
        return 0

    def mknod(self, path: str, mode: int, kind: str, rdev: tuple = (0, 0)) -> int:
        """mknod(2): a node (``kind`` "c", "b", "p", "s"; "" a regular file): 0, or
        -EEXIST, -ENOENT, -ENOTDIR."""
        if path in self._inodes:
            return -errno.EEXIST
        err = self._parent_error(path)
        if err:
            return err
        self._inodes[path] = Inode(mode, bytearray(), kind, tuple(rdev))
        return 0

    def create(self, path: str, mode: int = 0o644) -> Inode | int:
        """open(O_CREAT) of a regular file: the one there (as it is), or a new empty one;
        -EISDIR for a directory, -ENOENT or -ENOTDIR when its directory is missing."""
        inode = self._inodes.get(path)
        if inode is not None:
            return -errno.EISDIR if inode.is_dir else inode
        err = self._parent_error(path)
        if err:
            return err
        inode = self._inodes[path] = Inode(mode, bytearray())
        return inode

    def unlink(self, path: str) -> int:
        """unlink(2) of a regular file: 0, or -ENOENT, -EISDIR. An open file keeps its
        inode (and contents) after the name is gone."""
        inode = self._inodes.get(path)
        if inode is None:
            return -errno.ENOENT
        if inode.is_dir:
            return -errno.EISDIR
        del self._inodes[path]
        return 0

    # -- contents -------------------------------------------------------------------------

    def read(self, inode: Inode, offset: int = 0, count: int | None = None) -> bytes | int:
        """Up to ``count`` bytes from ``offset`` (all of them: None); -EISDIR."""
        if inode.is_dir:
            return -errno.EISDIR
        end = len(inode.data) if count is None else offset + count
        return bytes(inode.data[offset:end])

    def write(self, inode: Inode, data: bytes, offset: int | None = None) -> int:
        """Write ``data`` at ``offset`` (None: at the end, as O_APPEND does): the bytes
        written, or -EISDIR."""
        if inode.is_dir:
            return -errno.EISDIR
        if offset is None:
            offset = len(inode.data)
        if offset > len(inode.data):
            inode.data.extend(bytes(offset - len(inode.data)))
        inode.data[offset:offset + len(data)] = data
        return len(data)

    # -- the initramfs --------------------------------------------------------------------

    def unpack(self, entries) -> None:
        """What the kernel's populate_rootfs does with a cpio archive: each (path, mode,
        contents or None for a directory) made, the directories it is in too (0755); a
        file replaces whatever file had its name."""
        for path, mode, data in entries:
            self._make_parents(path)
            if data is None:
                if path not in self._inodes:
                    self._inodes[path] = Inode(mode)
                continue
            existing = self._inodes.get(path)
            if existing is not None and not existing.is_dir:
                self.unlink(path)
            self._inodes[path] = Inode(mode, bytearray(data))

    def _make_parents(self, path: str) -> None:
        parent = posixpath.dirname(path)
        if parent not in self._inodes:
            self._make_parents(parent)
            self._inodes[parent] = Inode(0o755)
