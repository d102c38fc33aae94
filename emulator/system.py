"""The simulated kernel as the scenario shell sees it: syscalls, files, the log.

:class:`KernelSystem` implements :class:`emulator.shell.System` over a
:class:`~emulator.kernel.Kernel`: module syscalls, ``syslog(2)`` for dmesg, and every file
call through the kernel's file layer, ``k.fs`` (:mod:`emulator.files`: the rootfs, device
nodes, /proc, /sys, /dev, debugfs; a module's file operations run in the CPU), its
descriptors being the layer's open files. A module that oopses in a file operation kills
the calling applet (TaskKilled), as in init.

:class:`FileSyscalls` is the routing for a System over something else (the shell's tests
fake the kernel's files): a path under /proc, /sys or /dev goes to the subclass's
``kernel_*`` methods, every other path to a rootfs (:class:`emulator.vfs.Vfs`).
"""

import errno

from .errors import KernelPanic
from .heap import HeapError
from .machine import MemoryFault
from .tasks import SHELL_PID
from .logbuf import LOG_BUF_LEN          # CONFIG_LOG_BUF_SHIFT=17 on Debian: 128 KiB
from .shell import TaskKilled
from .vfs import KERNEL_MOUNTS, is_kernel_path

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

    def mknod(self, path, mode, rdev):
        """mknod(2) on the rootfs (the kernel's mounts refuse: EPERM)."""
        if self._kernel_owns(path, mount_point=True):
            return -errno.EPERM
        kind = {0o020000: "c", 0o060000: "b", 0o010000: "p"}.get(mode & 0o170000, "")
        return self.vfs.mknod(path, mode & 0o7777, kind, (rdev >> 20, rdev & 0xFFFFF))

    def unlink(self, path):
        return -errno.EPERM if self._kernel_owns(path, True) else self.vfs.unlink(path)

    def mount(self, source, target, fstype, flags=0):
        return -errno.ENODEV

    def unpack_initramfs(self, files):
        """What realkernel packs into the guest's initramfs besides the guest's own files
        (path -> bytes): regular files, 0644, directories made as needed."""
        self.vfs.unpack((path, 0o644, data) for path, data in files.items())


# realkernel's guest: the kernel runs /init (busybox sh) with its command line's leftover
# word, and /init runs the scenario as `sh /scenario.sh` (tests/realkernel/ps1)
GUEST_CMDLINES = {1: b"/bin/sh\0/init\0nokaslr\0", SHELL_PID: b"sh\0/scenario.sh\0"}


class KernelSystem(FileSyscalls):
    def __init__(self, kernel):
        super().__init__(kernel.vfs)
        self.k = kernel
        self.clear_index = 0   # records before this index were cleared (dmesg -c)
        self.task_by_pid = {}
        for pid, cmdline in GUEST_CMDLINES.items():     # what ps shows for them
            task = kernel.tasks.by_pid(pid)
            if task is not None:
                task.cmdline = cmdline

    # ------------------------------------------------------------------ modules

    def _check(self, result):
        if result.signal is not None:
            if result.signal == "panic":   # the kernel is dead: nothing runs any more
                raise KernelPanic(self.k.panicked)
            killed = TaskKilled(result.signal)
            if getattr(result, "not_simulated", None) is not None:
                killed.note = result.not_simulated.message   # kmodsim's, not the kernel's
            raise killed
        return result.rc

    def finit_module(self, image, args, flags=0):
        return self._check(self.k.init_module(image, args, flags))

    def init_module(self, image, args):
        return self._check(self.k.init_module(image, args, syscall="init_module"))

    def delete_module(self, name, flags):
        return self._check(self.k.delete_module(name, flags))

    # ------------------------------------------------------------------ files
    # every path goes to the kernel's file layer, k.fs (emulator.files): the rootfs, the
    # device nodes, /proc, /sys and /dev alike; the descriptors are OpenFiles

    def _run(self, fn, *args):
        """A file call that may run module code: an oops there kills the caller."""
        try:
            return fn(*args)
        except KernelPanic:
            raise
        except TaskKilled:
            if self.k.panicked is not None:
                raise KernelPanic(self.k.panicked) from None
            raise
        except (MemoryFault, HeapError) as exc:   # a module's broken struct, read by Python
            killed = TaskKilled(9)
            killed.note = (f"the kernel's file code faulted on a module's data ({exc}); its "
                           f"oops is not simulated, the run stopped here")
            raise killed from None

    def stat(self, path):
        return self.k.fs.stat(path)

    def list_dir(self, path):
        return self.k.fs.list_dir(path)

    def open(self, path, flags):
        file = self._run(self.k.fs.open, path, flags)
        return file if isinstance(file, int) else self._install(file)

    def read(self, fd, count):
        file = self._descriptors.get(fd)
        if file is None:
            return -errno.EBADF
        return self._run(file.read_bytes, count)

    def write(self, fd, data):
        file = self._descriptors.get(fd)
        if file is None:
            return -errno.EBADF
        return self._run(file.write_bytes, bytes(data))

    def lseek(self, fd, offset, whence):
        """The rootfs's files and module devices seek; the kernel's text files say ESPIPE
        (readers such as tail -c read them to the end rather than seek)."""
        file = self._descriptors.get(fd)
        if file is None:
            return -errno.EBADF
        return self._run(file.llseek, offset, whence)

    def close(self, fd):
        file = self._descriptors.pop(fd, None)
        if file is not None:
            self._run(file.release)

    def mknod(self, path, mode, rdev):
        return self.k.fs.mknod(path, mode, rdev)

    def mount(self, source, target, fstype, flags=0):
        return self.k.fs.mount(source, target, fstype, flags)

    def raise_irq(self, irq):
        """kmodsim only (the kmodsim-irq command): interrupt line ``irq`` fires once; False
        if nobody requested it."""
        from .kapi.irq import raise_irq
        fired = self.k.budgeted(raise_irq, self.k, irq)
        if self.k.panicked is not None:     # a handler's oops in interrupt context
            raise KernelPanic(self.k.panicked)
        return bool(fired)

    def unlink(self, path):
        return self.k.fs.unlink(path)

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
        self.k.sched.sleep(int(seconds * 1e9))     # what falls due meanwhile runs

    def spawn(self, comm, argv=None):
        """fork (the new task has its parent's /proc/<pid>/cmdline) and, with ``argv``, an
        exec of it (the cmdline becomes argv)."""
        parent = self.k.tasks.current
        task = self.k.tasks.spawn(comm)
        self.task_by_pid[task.pid] = task
        inherited = getattr(parent, "cmdline", None)   # kernelfs reads task.cmdline
        if argv is not None:
            task.cmdline = b"".join(a.encode("utf-8", "surrogateescape") + b"\0" for a in argv)
        elif inherited is not None:
            task.cmdline = inherited
        return task.pid

    def execve(self, filename, argv, envp, cwd, fds):
        """execve(2) in the task spawn made, and the program's run (emulator.user): its
        exit status, -errno if the exec failed; TaskKilled when a signal kills it."""
        from .user import exec_program     # loaded on first use: most scenarios run none
        return exec_program(self, filename, argv, envp, cwd, fds)

    def reap(self, pid):
        task = self.task_by_pid.pop(pid, None)
        if task is not None:
            if self.k.tasks.shell is not None:
                self.k.tasks.set_current(self.k.tasks.shell)    # the shell waits and reaps
            self.k.tasks.reap(task)
            if self.k.panicked is not None:     # the reaper died holding tasklist_lock
                raise KernelPanic(self.k.panicked)
