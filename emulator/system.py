"""The simulated kernel as the scenario shell sees it: syscalls, /proc, /sys, /dev/kmsg.

:class:`KernelSystem` implements :class:`emulator.shell.System` over a
:class:`~emulator.kernel.Kernel`: module syscalls, the files a busybox guest reads
(``/proc/modules``, ``/proc/sys/kernel/{tainted,osrelease,printk}``, ``/sys/module/<m>/...``
with parameters by their permissions), ``/dev/kmsg`` and ``syslog(2)`` for dmesg.

Its file calls come from :class:`FileSyscalls`: a path under /proc, /sys or /dev goes to
the kernel's nodes here, every other path to the guest's rootfs, the kernel's ``k.vfs``
(:class:`emulator.vfs.Vfs`). A System over something else (the shell's tests fake the
kernel's files) gets the same routing and rootfs by deriving from :class:`FileSyscalls`.
"""

import errno
import posixpath
from dataclasses import dataclass

from .errors import KernelPanic
from .logbuf import LOG_BUF_LEN          # CONFIG_LOG_BUF_SHIFT=17 on Debian: 128 KiB
from .modules import linux_parts
from .shell import TaskKilled
from .vfs import KERNEL_MOUNTS, Stat, is_kernel_path

SYSLOG_ACTION_READ_ALL, SYSLOG_ACTION_READ_CLEAR, SYSLOG_ACTION_CLEAR = 3, 4, 5
SYSLOG_ACTION_CONSOLE_LEVEL, SYSLOG_ACTION_SIZE_BUFFER = 8, 10
O_ACCMODE, O_WRONLY, O_RDWR, O_APPEND = 3, 1, 2, 0o2000
SEEK_SET, SEEK_CUR, SEEK_END = 0, 1, 2


class RootfsFile:
    """An open file of the rootfs (``vfs``): its inode and offset.

    As kmodsim's rootfs files have always behaved: a file opened only for reading reads
    as it was when it was opened (a copy; what is written through such a descriptor goes
    into that copy only, where Linux would say EBADF), and every write goes to the end of
    the file.
    """

    def __init__(self, vfs, inode, writable):
        self.vfs, self.inode, self.offset = vfs, inode, 0
        self.copy = None
        if not writable and not inode.is_dir:
            self.copy = bytearray(vfs.read(inode))

    def read(self, count):
        if self.inode.is_dir:
            return -errno.EISDIR
        if self.copy is not None:
            data = bytes(self.copy[self.offset:self.offset + count])
        else:
            data = self.vfs.read(self.inode, self.offset, count)
        self.offset += len(data)
        return data

    def write(self, data):
        if self.inode.is_dir:   # only ever open for reading
            return -errno.EBADF
        if self.copy is not None:
            self.copy += data
            return len(data)
        return self.vfs.write(self.inode, data)

    def lseek(self, offset, whence):
        size = len(self.copy) if self.copy is not None else self.inode.size
        base = {SEEK_SET: 0, SEEK_CUR: self.offset, SEEK_END: size}.get(whence)
        if base is None or base + offset < 0:
            return -errno.EINVAL
        self.offset = base + offset
        return self.offset


class FileSyscalls:
    """The file calls of a System: the guest's rootfs ``vfs`` with the kernel's own file
    systems mounted on /proc, /sys and /dev.

    A path under one of the mounts goes to the subclass's ``kernel_stat``,
    ``kernel_list_dir`` and ``kernel_open``, whose descriptors ``kernel_read``,
    ``kernel_write`` and ``kernel_close`` take; every other path is the rootfs's. A mount
    point itself is listed by the kernel but stat'ed and opened on the rootfs (its
    directory in the initramfs), as the shell has always had it. The descriptors given out
    are this table's, from 3 up.
    """

    def __init__(self, vfs):
        self.vfs = vfs
        self._descriptors = {}   # fd -> RootfsFile, or the kernel's own descriptor (an int)
        self._next_descriptor = 3

    @staticmethod
    def _kernel_owns(path, mount_point=False):
        """Under /proc, /sys or /dev (the mount point itself too with ``mount_point``)."""
        return is_kernel_path(path) and (mount_point or path not in KERNEL_MOUNTS)

    def _install(self, file):
        fd = self._next_descriptor
        self._next_descriptor += 1
        self._descriptors[fd] = file
        return fd

    def stat(self, path):
        return self.kernel_stat(path) if self._kernel_owns(path) else self.vfs.stat(path)

    def list_dir(self, path):
        if self._kernel_owns(path, mount_point=True):
            return self.kernel_list_dir(path)
        return self.vfs.list(path)

    def open(self, path, flags):
        if self._kernel_owns(path):
            file = self.kernel_open(path, flags)
        else:
            file = self._open_rootfs(path, flags)
        return file if isinstance(file, int) and file < 0 else self._install(file)

    def _open_rootfs(self, path, flags):
        """A RootfsFile or -errno. Opened for writing (O_WRONLY or O_RDWR) without
        O_APPEND, a file starts anew whatever O_TRUNC says, as the rootfs files always did
        (so "<>" empties one; Linux truncates only with O_TRUNC): a new inode, with the old
        one's mode, under the name; a descriptor still open on the old one writes there."""
        if flags & (O_WRONLY | O_RDWR):
            inode = self.vfs.lookup(path)
            if isinstance(inode, int) or inode.is_dir or flags & O_APPEND:
                inode = self.vfs.create(path)
            else:
                self.vfs.unlink(path)
                inode = self.vfs.create(path, inode.mode)
            return inode if isinstance(inode, int) else RootfsFile(self.vfs, inode, True)
        inode = self.vfs.lookup(path)
        return inode if isinstance(inode, int) else RootfsFile(self.vfs, inode, False)

    def read(self, fd, count):
        file = self._descriptors.get(fd)
        if file is None:
            return -errno.EBADF
        return self.kernel_read(file, count) if isinstance(file, int) else file.read(count)

    def write(self, fd, data):
        file = self._descriptors.get(fd)
        if file is None:
            return -errno.EBADF
        return self.kernel_write(file, data) if isinstance(file, int) else file.write(data)

    def lseek(self, fd, offset, whence):
        """The rootfs's files seek; the kernel's say ESPIPE (readers such as tail -c read
        them to the end rather than seek)."""
        file = self._descriptors.get(fd)
        if file is None:
            return -errno.EBADF
        return -errno.ESPIPE if isinstance(file, int) else file.lseek(offset, whence)

    def close(self, fd):
        file = self._descriptors.pop(fd, None)
        if isinstance(file, int):
            self.kernel_close(file)

    def unpack_initramfs(self, files):
        """What realkernel packs into the guest's initramfs besides the guest's own files
        (path -> bytes): regular files, 0644, directories made as needed."""
        self.vfs.unpack((path, 0o644, data) for path, data in files.items())


@dataclass
class Node:
    """A kernel file: its text (read), its store function (write) and its mode."""

    read: object = None     # callable() -> bytes
    write: object = None    # callable(bytes) -> int (bytes taken or -errno)
    mode: int = 0o444
    is_dir: bool = False
    entries: object = None  # callable() -> list of names, for directories
    size: int | None = None  # what stat says; None: 0 for /proc, 4096 for /sys
    kind: str = ""          # "c" for a character device
    rdev: tuple = (0, 0)


class KernelSystem(FileSyscalls):
    def __init__(self, kernel):
        super().__init__(kernel.vfs)
        self.k = kernel
        self.fds = {}           # the kernel's files open (kernel_open's descriptors)
        self.next_fd = 3
        self.clear_index = 0   # records before this index were cleared (dmesg -c)
        self.task_by_pid = {}

    # ------------------------------------------------------------------ modules

    def _check(self, result):
        if result.signal is not None:
            if result.signal == "panic":   # the kernel is dead: nothing runs any more
                raise KernelPanic(self.k.panicked)
            raise TaskKilled(result.signal)
        return result.rc

    def finit_module(self, image, args, flags=0):
        return self._check(self.k.init_module(image, args, flags))

    def init_module(self, image, args):
        return self._check(self.k.init_module(image, args, syscall="init_module"))

    def delete_module(self, name, flags):
        return self._check(self.k.delete_module(name, flags))

    # ------------------------------------------------------------------ files
    # the kernel's side of FileSyscalls: /proc, /sys and /dev

    def _node(self, path):
        path = posixpath.normpath(path)
        parts = [p for p in path.split("/") if p]
        k = self.k
        if not parts:
            return None
        top = parts[0]
        if top == "proc":
            return self._proc(parts[1:])
        if top == "sys":
            return self._sys(parts[1:])
        if top == "dev" and parts[1:] == ["kmsg"]:
            return Node(read=lambda: b"", write=self._kmsg_write, mode=0o644, size=0, kind="c",
                        rdev=(1, 11))
        if top == "dev" and parts[1:] == ["console"]:
            return Node(read=lambda: b"", write=self._console_write, mode=0o600, size=0,
                        kind="c", rdev=(5, 1))
        nodes = _char_nodes(k) if top == "dev" else {}
        if top == "dev" and len(parts) == 2 and parts[1] in nodes:
            # devtmpfs: a node per device with a devt, root's, crw-------
            return Node(read=lambda: b"", mode=0o600, size=0, kind="c", rdev=nodes[parts[1]])
        if top == "dev" and not parts[1:]:
            return Node(is_dir=True, mode=0o755,
                        entries=lambda: sorted(["console", "kmsg", "null", *_char_nodes(k)]))
        return None

    def _proc(self, rest):
        k = self.k
        files = {
            ("modules",): Node(read=lambda: k.proc_modules().encode()),
            ("devices",): Node(read=lambda: _proc_devices(k)),
            ("sys", "kernel", "tainted"): Node(read=lambda: f"{k.taints.mask()}\n".encode(), mode=0o644),
            ("sys", "kernel", "osrelease"): Node(read=lambda: f"{k.profile.release}\n".encode()),
            ("sys", "kernel", "printk"): Node(
                read=lambda: f"{k.log.console_loglevel}\t4\t1\t7\n".encode(), mode=0o644),
        }
        node = files.get(tuple(rest))
        if node is not None:
            return node
        from .kapi.devices import proc_show
        entries = {e["name"]: e for e in k.procfs.entries.values()}
        if len(rest) == 1 and rest[0] in entries:
            entry = entries[rest[0]]
            def read():
                data = k.budgeted(proc_show, k, entry)    # the read syscall's budget
                if data is not None and not isinstance(data, bytes):   # show oopsed
                    self._check(data)
                return data or b""
            return Node(read=read, mode=entry["mode"])
        if not rest:
            names = sorted(["devices", "modules", "sys", *entries])
            return Node(is_dir=True, mode=0o555, entries=lambda: names)
        dirs = { ("sys",): ["kernel"],
                ("sys", "kernel"): ["osrelease", "printk", "tainted"]}
        if tuple(rest) in dirs:
            names = dirs[tuple(rest)]
            return Node(is_dir=True, mode=0o555, entries=lambda: names)
        return None

    def _sys(self, rest):
        k = self.k
        if not rest:
            return Node(is_dir=True, mode=0o555, entries=lambda: ["class", "module"])
        if rest[0] == "class":
            return _sys_class(k, rest[1:])
        if rest[0] != "module":
            return None
        if len(rest) == 1:
            return Node(is_dir=True, mode=0o755,
                        entries=lambda: sorted(m.name for m in k.modules if m.state != "UNFORMED"))
        mod = k.modules.find(rest[1])
        if mod is None or mod.state == "UNFORMED":
            return None
        return self._module_node(mod, rest[2:])

    def _module_node(self, mod, rest):
        attrs = {
            "coresize": lambda: f"{mod.core_size}\n".encode(),
            "initsize": lambda: f"{mod.init_size}\n".encode(),
            "initstate": lambda: ({"LIVE": "live", "COMING": "coming", "GOING": "going"}
                                  .get(mod.state, "unknown") + "\n").encode(),
            "refcnt": lambda: f"{mod.refcnt - 1}\n".encode(),
            "taint": lambda: (mod.flags(show_state=False).strip("()") + "\n").encode(),
            "uevent": None,
        }
        info, _ = linux_parts(mod)
        for key in ("srcversion", "version"):
            value = info.get_modinfo(key) if info is not None else None
            if value is not None:
                attrs[key] = (lambda v=value: f"{v}\n".encode())
        params = [p for p in mod.params if p.perm]
        dirs = ["holders", "notes", "sections"] + (["parameters"] if params else [])
        if not rest:
            return Node(is_dir=True, mode=0o755, entries=lambda: sorted(list(attrs) + dirs))
        name = rest[0]
        if name in attrs and len(rest) == 1:
            if name == "uevent":
                return Node(read=lambda: b"", write=lambda data: len(data), mode=0o200)
            return Node(read=attrs[name])
        if name == "holders":
            if len(rest) == 1:
                return Node(is_dir=True, mode=0o755, entries=lambda: sorted(h.name for h in mod.holders))
            return Node(is_dir=True, mode=0o755, entries=lambda: []) \
                if any(h.name == rest[1] for h in mod.holders) and len(rest) == 2 else None
        if name == "notes" and len(rest) == 1:
            return Node(is_dir=True, mode=0o755, entries=lambda: [])
        if name == "sections":
            secs = self._sections(mod)
            if len(rest) == 1:
                return Node(is_dir=True, mode=0o755, entries=lambda: sorted(secs))
            if len(rest) == 2 and rest[1] in secs:
                return Node(read=lambda: f"0x{secs[rest[1]]:016x}\n".encode(), mode=0o400)
            return None
        if name == "parameters" and params:
            if len(rest) == 1:
                return Node(is_dir=True, mode=0o755, entries=lambda: sorted(p.name for p in params))
            p = next((p for p in params if p.name == rest[1]), None)
            if p is None or len(rest) != 2:
                return None
            return Node(read=lambda: self._param_get(p), write=lambda data: self._param_set(p, data),
                        mode=p.perm)
        return None

    def _sections(self, mod):
        lm = mod.linked
        out = {}
        if not hasattr(lm, "placed_sections"):
            return out
        for _, name, addr, _, _ in lm.placed_sections():
            out[name] = addr
        for key in ("sym", "str"):
            idx = lm.info.index.get(key)
            if idx in lm.image.sections:
                out[lm.elf.sections[idx].name] = lm.image.address_of(idx)
        return out

    def _param_get(self, p):
        from .kapi import kernel_params as params
        return params.param_get(p, self.k.machine)

    def _param_set(self, p, data):
        from .kapi import kernel_params as params
        return params.param_store(p, data, self.k.machine, self.k.params, printk=self.k.printk)

    def _kmsg_write(self, data):
        """devkmsg_write: an optional ``<N>`` prefix (facility << 3 | level), user facility."""
        text = data.decode("latin-1")
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

    def kernel_stat(self, path):
        node = self._node(path)
        if node is None:
            return -errno.ENOENT
        size = node.size
        if size is None:   # procfs files say 0, sysfs attributes a page
            size = 0 if node.is_dir or path.startswith("/proc") else 4096
        return Stat(node.is_dir, node.mode, size, node.kind, node.rdev)

    def _console_write(self, data):
        self.k.log.console_write(bytes(data))
        return len(data)

    def kernel_list_dir(self, path):
        node = self._node(path)
        if node is None:
            return -errno.ENOENT
        if not node.is_dir:
            return -errno.ENOTDIR
        return list(node.entries())

    def kernel_open(self, path, flags):
        node = self._node(path)
        if node is None:
            return -errno.ENOENT
        writing = flags & O_ACCMODE in (O_WRONLY, O_RDWR)
        if writing and (node.is_dir or not node.mode & 0o222):
            return -errno.EISDIR if node.is_dir else -errno.EACCES
        if not writing and not node.is_dir and not node.mode & 0o444:
            return -errno.EACCES
        fd = self.next_fd
        self.next_fd += 1
        self.fds[fd] = [node, None]
        return fd

    def kernel_read(self, fd, count):
        entry = self.fds.get(fd)
        if entry is None:
            return -errno.EBADF
        node, buf = entry
        if node.is_dir:
            return -errno.EISDIR
        if buf is None:
            buf = entry[1] = bytearray(node.read())
        out = bytes(buf[:count])
        del buf[:count]
        return out

    def kernel_write(self, fd, data):
        entry = self.fds.get(fd)
        if entry is None:
            return -errno.EBADF
        node = entry[0]
        if node.write is None:
            return -errno.EIO
        return node.write(bytes(data))

    def kernel_close(self, fd):
        self.fds.pop(fd, None)

    # ------------------------------------------------------------------ log, console

    def syslog(self, action, length=0):
        k = self.k
        if action in (SYSLOG_ACTION_READ_ALL, SYSLOG_ACTION_READ_CLEAR):
            # the newest records that fit whole (syslog_print_all), from the clear index on
            data = k.log.syslog_text(self.clear_index, length or LOG_BUF_LEN).encode("latin-1")
            if action == SYSLOG_ACTION_READ_CLEAR:
                self.clear_index = len(k.log)
            return data
        if action == SYSLOG_ACTION_CLEAR:
            self.clear_index = len(k.log)
            return 0
        if action == SYSLOG_ACTION_CONSOLE_LEVEL:
            if not 1 <= length <= 8:
                return -errno.EINVAL
            k.log.console_loglevel = max(length, 1)
            return 0
        if action == SYSLOG_ACTION_SIZE_BUFFER:
            return LOG_BUF_LEN
        return -errno.EINVAL

    def console_drain(self):
        return self.k.log.console_drain().encode("latin-1")

    # ------------------------------------------------------------------ time, tasks

    def sleep(self, seconds):
        self.k.time.advance(int(seconds * 1e9))

    def spawn(self, comm):
        task = self.k.tasks.spawn(comm)
        self.task_by_pid[task.pid] = task
        return task.pid

    def reap(self, pid):
        task = self.task_by_pid.pop(pid, None)
        if task is not None:
            if self.k.tasks.shell is not None:
                self.k.tasks.set_current(self.k.tasks.shell)    # the shell waits and reaps
            self.k.tasks.reap(task)
            if self.k.panicked is not None:     # the reaper died holding tasklist_lock
                raise KernelPanic(self.k.panicked)


def _char_nodes(k):
    from .kapi.devices import char_nodes
    return char_nodes(k)


def _sys_class(k, rest):
    """/sys/class: the guest's classes and the modules'; under a module's class (or misc)
    its devices, each with ``dev`` (major:minor) and ``uevent``."""
    from .kapi.devices import MISC_MAJOR, guest_classes, mkdev, split_dev
    model = k.devices
    classes = {name: addr for addr, name in model.classes.items()}
    if not rest:
        return Node(is_dir=True, mode=0o755, entries=lambda: sorted([*guest_classes(), *classes]))
    key = classes.get(rest[0], "misc" if rest[0] == "misc" else None)
    if key is None:
        return (Node(is_dir=True, mode=0o755, entries=lambda: [])
                if rest[0] in guest_classes() and len(rest) == 1 else None)
    devices = {d["name"]: d for d in model.devices.values() if d["class"] == key}
    if key == "misc":   # the guest's own misc devices too
        devices = {name: {"devt": mkdev(MISC_MAJOR, minor), "name": name}
                   for minor, name in k.misc.minors.items()} | devices
    if len(rest) == 1:
        return Node(is_dir=True, mode=0o755, entries=lambda: sorted(devices))
    dev = devices.get(rest[1])
    if dev is None:
        return None
    major, minor = split_dev(dev["devt"])
    files = {"dev": f"{major}:{minor}\n",
             "uevent": f"MAJOR={major}\nMINOR={minor}\nDEVNAME={dev['name']}\n"}
    if len(rest) == 2:
        return Node(is_dir=True, mode=0o755, entries=lambda: sorted(files))
    if len(rest) == 3 and rest[2] in files:
        text = files[rest[2]].encode()
        return Node(read=lambda: text, mode=0o444 if rest[2] == "dev" else 0o644)
    return None


def _proc_devices(k):
    from .kapi.devices import proc_devices
    return proc_devices(k).encode()

