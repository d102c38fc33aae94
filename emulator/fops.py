"""Module-side file operations run in the CPU: a character device's ``file_operations``
(cdevs, misc devices) and a /proc entry's ``proc_ops``, with a real ``struct file`` and
``struct inode`` in guest memory.

``open_chrdev`` is chrdev_open: the cdev that maps (major, minor) (``cdev_add``,
``register_chrdev``; a misc device goes through misc_open), ``cdev_get`` and ``fops_get``
each take a reference on their owner module (so ``rmmod`` of a module whose device is open
fails as on the kernel: two references per open file of a cdev owned by the module), then
``->open(inode, file)``. No driver behind the numbers, or its module going away: -ENXIO.
The file's calls then follow fs/read_write.c and fs/ioctl.c: ``vfs_read`` (EBADF without
FMODE_READ, EINVAL without ->read), ``ksys_read`` passing a copy of f_pos and storing it
back, ``vfs_llseek`` (ESPIPE without ->llseek), ``vfs_ioctl`` (ENOTTY without
->unlocked_ioctl, ENOIOCTLCMD turned into ENOTTY), ``vfs_poll`` (DEFAULT_POLLMASK without
->poll), and ``__fput``'s ->release then the references dropped.

A fops pointer that is a kernel function (``default_llseek``, ``no_llseek``,
``noop_llseek``, ``seq_read``, ``seq_lseek``, ``single_release``, ...) is run by its
Python implementation here (the KERNEL_FOPS table); a module function runs in the CPU under
:func:`emulator.faults.run_guarded`: an oops kills the caller (TaskKilled).

Struct layouts are Debian 6.1.0-56-amd64's (its vmlinux BTF; tests/test_files.py checks
them against ../shared when it is there).
"""

from __future__ import annotations

import errno

from . import faults
from .openfile import (DEFAULT_POLLMASK, O_ACCMODE, O_CREAT, O_EXCL, O_LARGEFILE, O_NOCTTY,
                    O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, S_IFCHR, SEEK_CUR,
                    SEEK_DATA, SEEK_END, SEEK_HOLE, SEEK_SET, SCRATCH_SIZE, OpenFile)
from .kapi.registry import by_export
from .kapi.uaccess import access_ok
from .memmap import STACK_TOP

# struct file (232 bytes)
FILE_SIZE, F_INODE, F_OP, F_FLAGS, F_MODE, F_POS, F_VERSION, F_PRIVATE = \
    232, 32, 40, 64, 68, 104, 184, 200
# struct inode (632 bytes)
INODE_SIZE, I_MODE, I_INO, I_RDEV, I_SIZE, I_FOP, I_CDEV, I_PRIVATE = \
    632, 0, 64, 76, 80, 360, 584, 624
# struct file_operations
FOP = {"owner": 0, "llseek": 8, "read": 16, "write": 24, "read_iter": 32, "write_iter": 40,
       "poll": 72, "unlocked_ioctl": 80, "compat_ioctl": 88, "mmap": 96, "open": 112,
       "flush": 120, "release": 128, "fasync": 144}
# struct proc_ops
PROC_OP = {"proc_flags": 0, "proc_open": 8, "proc_read": 16, "proc_read_iter": 24,
           "proc_write": 32, "proc_lseek": 40, "proc_release": 48, "proc_poll": 56,
           "proc_ioctl": 64}
# struct cdev: kobj (64) owner ops list dev count; struct miscdevice: minor name fops ...
CDEV_OWNER, CDEV_OPS = 64, 72
MISC_FOPS = 16
# struct seq_file
SEQ_BUF, SEQ_SIZE, SEQ_FROM, SEQ_COUNT, SEQ_PAD_UNTIL, SEQ_INDEX, SEQ_READ_POS = \
    0, 8, 16, 24, 32, 40, 48
SEQ_OP, SEQ_POLL_EVENT, SEQ_FILE, SEQ_PRIVATE, SEQ_FILE_SIZE = 88, 96, 104, 112, 120
SEQ_START, SEQ_STOP, SEQ_NEXT, SEQ_SHOW = 0, 8, 16, 24

# f_mode bits (include/linux/fs.h)
FMODE_READ, FMODE_WRITE, FMODE_LSEEK, FMODE_PREAD, FMODE_PWRITE = 0x1, 0x2, 0x4, 0x8, 0x10
FMODE_CAN_READ, FMODE_CAN_WRITE, FMODE_OPENED = 0x20000, 0x40000, 0x80000
ENOIOCTLCMD = 515
MAX_LFS_FILESIZE = (1 << 63) - 1
OFFSET_MAX = MAX_LFS_FILESIZE

# where kernel code that called the module function would be, from the reference kernel's
# System.map and call traces (tests/realkernel/usercopy.real.txt): the return address the
# module function returns to, and the frames under it
VFS_READ, VFS_WRITE = 0xffffffff813669e0, 0xffffffff81367160
SYSCALL_TAIL = ("do_syscall_64+0x5d/0xb0", "entry_SYSCALL_64_after_hwframe+0x6e/0xd8")
PATHS = {   # what -> (return address, frames under the module, syscall number)
    "vfs_read": (VFS_READ + 0xa5, ("vfs_read+0xa5/0x310", "ksys_read+0x6b/0xf0") + SYSCALL_TAIL, 0),
    "vfs_write": (VFS_WRITE + 0xc7, ("vfs_write+0xc7/0x3f0", "ksys_write+0x6b/0xf0") + SYSCALL_TAIL, 1),
    # the other calls' kernel frames were not recorded: the syscall's entry only
    "vfs_open": (None, SYSCALL_TAIL, 0x101),      # openat
    "vfs_release": (None, SYSCALL_TAIL, 3),       # close
    "vfs_llseek": (None, SYSCALL_TAIL, 8),
    "vfs_ioctl": (None, SYSCALL_TAIL, 0x10),
    "vfs_poll": (None, SYSCALL_TAIL, 7),
}
for _what, (_ret, _frames, _nr) in PATHS.items():
    faults.KERNEL_FRAMES.setdefault(_what, _frames)
    faults.SYSCALL_NR.setdefault(_what, _nr)


def _signed(value, bits=64):
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def run_module(k, func, args, what, mod=None):
    """Run module function ``func(args)`` as the syscall path ``what`` would: its return
    value (signed 64-bit), or TaskKilled/KernelPanic when it oopsed."""
    from .errors import KernelPanic
    from .shell.syscalls import TaskKilled
    if mod is None:
        mod = faults.module_of(k, func, whole=True)
    ret = PATHS.get(what, (None,))[0]
    if what == "read":      # seq_read_iter's return address (the proc read path)
        base = k.export_addr("seq_read_iter")
        ret = base + 0x122 if base else None
    if ret is None:
        ret = k._default_sentinel()
    outcome = k.budgeted(faults.run_guarded, k, mod, func, what, tuple(args), ret)
    if outcome.signal == "panic" or k.panicked is not None:
        raise KernelPanic(k.panicked)
    if outcome.signal is not None:
        killed = TaskKilled(outcome.signal if isinstance(outcome.signal, int) else 9)
        stop = k.kapi.take_stop()
        if stop is not None:        # a kernel function kmodsim cannot run stopped it
            killed.note = stop.message
        raise killed
    return _signed(outcome.value)


def guest_ptr(k, addr, what):
    """A pointer the kernel reads on the way (fops->owner, cdev->ops): a module's broken
    struct that faults there would be the kernel's oops in chrdev_open or the like, which
    kmodsim does not report: the caller is stopped and told, rather than a traceback."""
    from .machine import MemoryFault
    try:
        return k.machine.read_ptr(addr)
    except (MemoryFault, Exception):
        from .shell.syscalls import TaskKilled
        killed = TaskKilled(9)
        killed.note = (f"reading {what} at {addr & (1 << 64) - 1:#x} faulted (the kernel's "
                       f"oops there is not simulated); the run stopped here")
        raise killed from None


def not_simulated(what):
    """A file operation kmodsim does not run: the caller is stopped, and told (the shell
    prints ``kmodsim: ...``), rather than given an answer the kernel would not give."""
    from .shell.syscalls import TaskKilled
    killed = TaskKilled(9)
    killed.note = f"{what} is not simulated; the run stopped here"
    raise killed


def kernel_fop(k, addr):
    """The Python implementation of the kernel function at ``addr`` a fops points at, or
    None (module code)."""
    text = k.profile.kernel_text
    if not text.start <= addr < text.end:
        return None
    name = k.kapi.names.get(addr)
    if name is None:
        by_addr = getattr(k.profile, "_exports_by_addr", None)
        if by_addr is None:
            by_addr = {exp.addr: export for export, exp in k.profile.exports.items()}
            k.profile._exports_by_addr = by_addr
        name = by_addr.get(addr)
    if name and name not in KERNEL_FOPS:
        by_export(name)         # imports every kapi file: kapi.seqfile adds its own here
    return KERNEL_FOPS.get(name) if name else None


# --------------------------------------------------------------------------- struct file

class GuestFile(OpenFile):
    """An open file whose operations are a module's (file_operations or proc_ops): the
    ``struct file`` and ``struct inode`` are in guest memory, ``pos`` is the file's f_pos."""

    seekable = True
    ops_layout = FOP
    _offset = None          # pread/pwrite's offset while one runs
    names = {"read": "read", "write": "write", "llseek": "llseek", "ioctl": "unlocked_ioctl",
             "poll": "poll", "release": "release", "open": "open"}

    def __init__(self, fs, path, flags, fops, rdev=(0, 0), i_mode=S_IFCHR | 0o600,
                 private=0, refs=()):
        super().__init__(fs, path, flags)
        k, m = self.k, self.k.machine
        self.fops, self.refs = fops, list(refs)      # module descriptors to put on release
        self.filp = k.slab.kmalloc(FILE_SIZE, 0x100)
        self.inode = k.slab.kmalloc(INODE_SIZE, 0x100)
        m.write(self.filp, bytes(FILE_SIZE))
        m.write(self.inode, bytes(INODE_SIZE))
        m.write_int(self.inode + I_MODE, 2, i_mode)
        m.write_int(self.inode + I_RDEV, 4, (rdev[0] << 20) | rdev[1])
        m.write_int(self.inode + I_INO, 8, 0x1000 + (rdev[1] & 0xFFF))
        m.write_ptr(self.inode + I_FOP, fops)
        m.write_ptr(self.inode + I_PRIVATE, private)
        f_flags = (flags | O_LARGEFILE) & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC)
        m.write_int(self.filp + F_FLAGS, 4, f_flags)
        m.write_ptr(self.filp + F_INODE, self.inode)
        m.write_ptr(self.filp + F_OP, fops)
        self._set_mode()

    def _set_mode(self):
        m = self.k.machine
        mode = FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE | FMODE_OPENED
        acc = self.flags & O_ACCMODE
        if acc in (O_RDONLY, O_RDWR):
            mode |= FMODE_READ
        if acc in (O_WRONLY, O_RDWR):
            mode |= FMODE_WRITE
        if self.op("read") or self.op("read_iter"):
            mode |= FMODE_CAN_READ
        if self.op("write") or self.op("write_iter"):
            mode |= FMODE_CAN_WRITE
        if not self.op("llseek"):
            mode &= ~FMODE_LSEEK
        m.write_int(self.filp + F_MODE, 4, mode)

    def op(self, name):
        """The function pointer ``name`` of the file's operations (f_op may be changed)."""
        offset = self.ops_layout.get(self.names.get(name, name))
        if offset is None or not self.fops:
            return 0
        return guest_ptr(self.k, self.fops + offset, f"the file operations' {name}")

    @property
    def f_mode(self):
        return self.k.machine.read_int(self.filp + F_MODE, 4)

    @property
    def pos(self):
        return _signed(self.k.machine.read_int(self.filp + F_POS, 8))

    @pos.setter
    def pos(self, value):
        if getattr(self, "filp", None):
            self.k.machine.write_int(self.filp + F_POS, 8, value & (1 << 64) - 1)

    @property
    def private_data(self):
        return self.k.machine.read_ptr(self.filp + F_PRIVATE)

    # the C return type of each operation: int (open, release) and __poll_t are 32 bits
    RESULT_BITS = {"open": 32, "release": 32, "poll": 32}

    def call(self, name, args, what):
        """Call operation ``name`` with ``args``: a kernel function's Python, or module
        code; its value as the C return type has it (int, ssize_t, loff_t, long)."""
        func = self.op(name)
        impl = kernel_fop(self.k, func)
        if impl is not None:
            return impl(self, *args)
        value = run_module(self.k, func, args, what)
        return _signed(value, self.RESULT_BITS.get(name, 64))

    # -- open ---------------------------------------------------------------------------

    def do_open(self):
        """->open(inode, file) if there is one: 0 or -errno (the file is then dropped)."""
        if not self.op("open"):
            return 0
        rc = self.call("open", (self.inode, self.filp), "vfs_open")
        if rc:
            self._free()
        return rc

    # -- read and write -----------------------------------------------------------------

    def _pos_slot(self):
        """ksys_read's ``loff_t pos``: a slot of the kernel stack above the module's frames."""
        return STACK_TOP - 0x80

    def read(self, ubuf, count):
        """vfs_read with ksys_read's copy of f_pos."""
        mode = self.f_mode
        if not mode & FMODE_READ:
            return -errno.EBADF
        if not mode & FMODE_CAN_READ:
            return -errno.EINVAL
        if not access_ok(ubuf, count):
            return -errno.EFAULT
        count = min(count, 0x7FFFF000)
        if not self.op("read"):
            not_simulated("a file_operations with read_iter and no read")
        return self._rw("read", ubuf, count, "vfs_read", self._offset)

    def write(self, ubuf, count):
        mode = self.f_mode
        if not mode & FMODE_WRITE:
            return -errno.EBADF
        if not mode & FMODE_CAN_WRITE:
            return -errno.EINVAL
        if not access_ok(ubuf, count):
            return -errno.EFAULT
        count = min(count, 0x7FFFF000)
        if not self.op("write"):
            not_simulated("a file_operations with write_iter and no write")
        return self._rw("write", ubuf, count, "vfs_write", self._offset)

    def _rw(self, name, ubuf, count, what, offset=None):
        """->read/->write with ksys_read's copy of f_pos (stored back after), or pread's
        ``offset`` (f_pos untouched)."""
        m = self.k.machine
        slot = self._pos_slot()
        m.write_int(slot, 8, m.read_int(self.filp + F_POS, 8) if offset is None else offset)
        rc = self.call(name, (self.filp, ubuf, count, slot), what)
        if rc >= 0 and not self.closed and offset is None:
            m.write_int(self.filp + F_POS, 8, m.read_int(slot, 8))
        return rc

    def pread(self, ubuf, count, offset):
        """ksys_pread64: ESPIPE without FMODE_PREAD (nonseekable_open), EINVAL below 0."""
        if offset < 0:
            return -errno.EINVAL
        if not self.f_mode & FMODE_PREAD:
            return -errno.ESPIPE
        self._offset = offset
        try:
            return self.read(ubuf, count)
        finally:
            self._offset = None

    def pwrite(self, ubuf, count, offset):
        if offset < 0:
            return -errno.EINVAL
        if not self.f_mode & FMODE_PWRITE:
            return -errno.ESPIPE
        self._offset = offset
        try:
            return self.write(ubuf, count)
        finally:
            self._offset = None

    def read_bytes(self, count):
        """read(2) into the scratch user buffer; the bytes the module put there."""
        count = min(count, SCRATCH_SIZE)
        ubuf = self.fs.scratch()
        rc = self.read(ubuf, count)
        if rc < 0:
            return rc
        return self.k.machine.read(ubuf, min(rc, count)) if rc else b""

    def write_bytes(self, data):
        data = bytes(data[:SCRATCH_SIZE])
        ubuf = self.fs.scratch()
        if data:
            self.k.machine.write(ubuf, data)
        return self.write(ubuf, len(data))

    # -- the rest -----------------------------------------------------------------------

    def llseek(self, offset, whence):
        """ksys_lseek, vfs_llseek."""
        if whence > SEEK_HOLE:
            return -errno.EINVAL
        if not self.f_mode & FMODE_LSEEK or not self.op("llseek"):
            return -errno.ESPIPE
        return self.call("llseek", (self.filp, offset & (1 << 64) - 1, whence), "vfs_llseek")

    def ioctl(self, cmd, arg):
        """vfs_ioctl: ENOTTY without ->unlocked_ioctl; ENOIOCTLCMD becomes ENOTTY."""
        if not self.op("ioctl"):
            return -errno.ENOTTY
        rc = self.call("ioctl", (self.filp, cmd & 0xFFFFFFFF, arg), "vfs_ioctl")
        return -errno.ENOTTY if rc == -ENOIOCTLCMD else rc

    def poll(self):
        """vfs_poll: ->poll(file, NULL poll table), DEFAULT_POLLMASK without one."""
        if not self.op("poll"):
            return DEFAULT_POLLMASK
        return self.call("poll", (self.filp, 0), "vfs_poll") & 0xFFFF

    def release(self):
        """__fput: ->release(inode, file), then the module references dropped."""
        if self.closed:
            return 0
        try:
            if self.op("release"):
                self.call("release", (self.inode, self.filp), "vfs_release")
        finally:
            self.closed = True
            self._free()
        return 0        # close(2) does not report ->release's value

    def _free(self):
        for owner in self.refs:
            self.k.loader.module_put(owner)
        self.refs = []
        for addr in (self.filp, self.inode):
            if addr and addr in self.k.slab.heap.live:
                self.k.slab.kfree(addr)
        self.filp = self.inode = 0

    close = release


class ProcFile(GuestFile):
    """A /proc entry made with proc_create(_data): its ``struct proc_ops``."""

    ops_layout = PROC_OP
    names = {"read": "proc_read", "write": "proc_write", "llseek": "proc_lseek",
             "ioctl": "proc_ioctl", "poll": "proc_poll", "release": "proc_release",
             "open": "proc_open", "read_iter": "proc_read_iter"}

    def _set_mode(self):        # proc_reg_file_ops has read and write: pde_read says EIO
        super()._set_mode()
        m = self.k.machine
        m.write_int(self.filp + F_MODE, 4, m.read_int(self.filp + F_MODE, 4) |
                    FMODE_LSEEK | FMODE_CAN_READ | FMODE_CAN_WRITE)

    def read(self, ubuf, count):
        """proc_reg_read: ->proc_read, EIO without one (proc_read_iter: not simulated)."""
        if not self.op("read") and self.op("read_iter"):
            not_simulated("a proc_ops with proc_read_iter")
        if not self.op("read"):
            return -errno.EIO if self.f_mode & FMODE_READ else -errno.EBADF
        return super().read(ubuf, count)

    def write(self, ubuf, count):
        if not self.op("write"):
            return -errno.EIO if self.f_mode & FMODE_WRITE else -errno.EBADF
        return super().write(ubuf, count)

    def llseek(self, offset, whence):
        """proc_reg_llseek: ->proc_lseek, or default_llseek without one."""
        if whence > SEEK_HOLE:
            return -errno.EINVAL
        if not self.op("llseek"):
            return default_llseek(self, offset, whence)
        return super().llseek(offset, whence)

    def _rw(self, name, ubuf, count, what, offset=None):
        return super()._rw(name, ubuf, count, "read" if name == "read" else what, offset)


# --------------------------------------------------------------------------- chrdev_open

def open_chrdev(fs, path, rdev, flags):
    """chrdev_open (misc_open for major 10): an open GuestFile, or -errno."""
    k = fs.k
    major, minor = rdev
    if major == 10:
        misc = _misc_at(k, minor)
        if misc is None:
            return -errno.ENXIO if minor not in k.misc.minors else -errno.ENODEV
        fops = guest_ptr(k, misc + MISC_FOPS, "miscdevice.fops")
        cdev_owner = 0
        private = misc
    else:
        cdev = _cdev_at(k, rdev)
        if cdev is None:
            return -errno.ENXIO
        fops = guest_ptr(k, cdev["cdev"] + CDEV_OPS, "cdev.ops")
        cdev_owner = guest_ptr(k, cdev["cdev"] + CDEV_OWNER, "cdev.owner")
        private = 0
    refs = []
    if cdev_owner:                            # cdev_get
        if not k.loader.module_get(cdev_owner):
            return -errno.ENXIO
        refs.append(cdev_owner)
    owner = guest_ptr(k, fops, "fops->owner") if fops else 0
    if not fops or (owner and not k.loader.module_get(owner)):     # fops_get
        for r in refs:
            k.loader.module_put(r)
        return -errno.ENXIO if major != 10 else -errno.ENODEV
    if owner:
        refs.append(owner)
    file = GuestFile(fs, path, flags, fops, rdev, refs=refs)
    if private:             # misc_open: file->private_data is the miscdevice
        k.machine.write_ptr(file.filp + F_PRIVATE, private)
    if major != 10:
        k.machine.write_ptr(file.inode + I_CDEV, _cdev_at(k, rdev)["cdev"])
    rc = file.do_open()
    return rc if rc else file


def open_with_fops(fs, path, flags, fops, i_mode, private=0):
    """Open a file whose operations are ``fops`` (debugfs's full proxy): fops_get takes
    the owner's reference, then ->open(inode, file) with inode->i_private ``private``."""
    k = fs.k
    owner = guest_ptr(k, fops, "fops->owner") if fops else 0
    if not fops or (owner and not k.loader.module_get(owner)):
        return -errno.ENOENT
    file = GuestFile(fs, path, flags, fops, i_mode=i_mode, private=private,
                     refs=[owner] if owner else [])
    rc = file.do_open()
    return rc if rc else file


def _cdev_at(k, rdev):
    """kobj_lookup over cdev_map: the cdev whose range holds (major, minor)."""
    major, minor = rdev
    best = None
    for entry in k.chrdev.cdevs:
        base_major, base_minor = entry["dev"] >> 20, entry["dev"] & 0xFFFFF
        dev = (major << 20) | minor
        if entry["dev"] <= dev < entry["dev"] + entry["count"]:
            if best is None or entry["count"] < best["count"]:
                best = entry
        del base_major, base_minor
    return best


def _misc_at(k, minor):
    for key, dev in k.devices.devices.items():
        if isinstance(key, tuple) and key[0] == "misc" and dev["devt"] & 0xFFFFF == minor:
            return key[1]
    return None


# --------------------------------------------------------------------------- /proc entries

# --------------------------------------------------------------------------- llseek helpers

def vfs_setpos(file, offset, maxsize):
    if offset < 0 or offset > maxsize:
        return -errno.EINVAL
    if offset != file.pos:
        file.pos = offset
        file.k.machine.write_int(file.filp + F_VERSION, 8, 0)
    return offset


def _i_size(file):
    return _signed(file.k.machine.read_int(file.inode + I_SIZE, 8))


def default_llseek(file, offset, whence):
    offset = _signed(offset)
    if whence == SEEK_END:
        offset += _i_size(file)
    elif whence == SEEK_CUR:
        if offset == 0:
            return file.pos
        offset += file.pos
    elif whence == SEEK_DATA:
        if offset >= _i_size(file):
            return -errno.ENXIO
    elif whence == SEEK_HOLE:
        if offset >= _i_size(file):
            return -errno.ENXIO
        offset = _i_size(file)
    if offset < 0:
        return -errno.EINVAL
    if offset != file.pos:
        file.pos = offset
        file.k.machine.write_int(file.filp + F_VERSION, 8, 0)
    return offset


def generic_file_llseek_size(file, offset, whence, maxsize, eof):
    offset = _signed(offset)
    if whence == SEEK_END:
        offset += eof
    elif whence == SEEK_CUR:
        if offset == 0:
            return file.pos
        return vfs_setpos(file, file.pos + offset, maxsize)
    elif whence == SEEK_DATA:
        if offset < 0 or offset >= eof:
            return -errno.ENXIO
    elif whence == SEEK_HOLE:
        if offset < 0 or offset >= eof:
            return -errno.ENXIO
        offset = eof
    return vfs_setpos(file, offset, maxsize)


def no_llseek(file, offset, whence):
    return -errno.ESPIPE


def noop_llseek(file, offset, whence):
    return file.pos


def generic_file_llseek(file, offset, whence):
    return generic_file_llseek_size(file, offset, whence, MAX_LFS_FILESIZE, _i_size(file))


def fixed_size_llseek(file, offset, whence, size=None):
    if whence in (SEEK_SET, SEEK_CUR, SEEK_END):
        return generic_file_llseek_size(file, offset, whence, size, size)
    return -errno.EINVAL


def no_seek_end_llseek(file, offset, whence):
    if whence in (SEEK_SET, SEEK_CUR):
        return generic_file_llseek_size(file, offset, whence, OFFSET_MAX, 0)
    return -errno.EINVAL


# export name -> Python run for a fops pointer at it: impl(file, *the operation's arguments)
# (kapi.seqfile fills it: seq_read, seq_lseek, single_release, the llseek helpers)
KERNEL_FOPS = {}
