"""seq_file (fs/seq_file.c): ``seq_open``, ``single_open``, ``seq_read``, ``seq_lseek``,
``seq_release``, ``single_release``, and the llseek helpers a module's own llseek calls
(``default_llseek``, ``no_llseek``, ``noop_llseek``, ``fixed_size_llseek``,
``generic_file_llseek``, ``no_seek_end_llseek``, ``simple_read_from_buffer``,
``simple_write_to_buffer``).

``seq_read`` is seq_read_iter's loop in Python: it calls the module's
start/show/next/stop in the CPU one at a time (:func:`emulator.fops.run_module`), with the
``struct seq_file`` in guest memory (buf, size, from, count, index, read_pos, op, private),
so a show that writes with ``seq_printf`` fills the buffer as on the kernel, and a buffer
that overflows is doubled and the record shown again. ``single_open``'s
start/next/stop are the kernel's static ``single_*`` functions: kmodsim runs them here
(the op table ``single_open`` allocates is marked by its address).

The functions a file's operations point at (``.read = seq_read``) are run from
:mod:`emulator.fops` by KERNEL_FOPS; called by module code they are kernel functions here.
"""

import errno

from .registry import INT, LONG, PTR, SIZE_T, kapi
from . import uaccess

PAGE = 4096
SEQ_START_TOKEN = 1
# struct seq_file, struct seq_operations, struct file (see emulator.fops)
SEQ_BUF, SEQ_SIZE, SEQ_FROM, SEQ_COUNT, SEQ_INDEX, SEQ_READ_POS = 0, 8, 16, 24, 40, 48
SEQ_OP, SEQ_FILE, SEQ_PRIVATE, SEQ_FILE_SIZE = 88, 104, 112, 120
OP_START, OP_STOP, OP_NEXT, OP_SHOW = 0, 8, 16, 24
F_INODE, F_MODE, F_POS, F_VERSION, F_PRIVATE = 32, 68, 104, 184, 200
I_SIZE = 80
FMODE_PWRITE = 0x10
SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE = 0, 1, 2, 3, 4
MAX_LFS_FILESIZE = (1 << 63) - 1
MAX_SEQ_BUF = 1 << 25       # a show that never fits: seq_buf_alloc gives up (ENOMEM)


def _signed(v):
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


def _is_err(p):
    return p >= (1 << 64) - 4095


class FilpView:
    """A ``struct file`` in guest memory seen as the fops helpers see an open file."""

    def __init__(self, k, filp):
        self.k, self.filp = k, filp
        self.inode = k.machine.read_ptr(filp + F_INODE)

    @property
    def pos(self):
        return _signed(self.k.machine.read_int(self.filp + F_POS, 8))

    @pos.setter
    def pos(self, value):
        self.k.machine.write_int(self.filp + F_POS, 8, value & (1 << 64) - 1)


def _single_ops(k):
    ops = getattr(k, "_single_seq_ops", None)
    if ops is None:
        ops = k._single_seq_ops = set()
    return ops


# --------------------------------------------------------------------------- open, release

def seq_open_impl(k, m, file, op):
    if m.read_ptr(file + F_PRIVATE):
        pass        # the kernel WARNs (a seq_file already there) and goes on
    seq = k.slab.kmalloc(SEQ_FILE_SIZE, 0x100)
    if not seq:
        return -errno.ENOMEM
    m.write(seq, bytes(SEQ_FILE_SIZE))
    m.write_ptr(seq + SEQ_OP, op)
    m.write_ptr(seq + SEQ_FILE, file)
    m.write_ptr(file + F_PRIVATE, seq)
    m.write_int(file + F_MODE, 4, m.read_int(file + F_MODE, 4) & ~FMODE_PWRITE)
    return 0


@kapi("fs.seq_open", file=PTR, op=PTR)
def seq_open(k, m, file, op):
    return seq_open_impl(k, m, file, op)


@kapi("fs.single_open", file=PTR, show=PTR, data=PTR)
def single_open(k, m, file, show, data):
    op = k.slab.kmalloc(32, 0x100)
    if not op:
        return -errno.ENOMEM
    m.write(op, bytes(32))
    m.write_ptr(op + OP_SHOW, show)
    _single_ops(k).add(op)
    rc = seq_open_impl(k, m, file, op)
    if rc:
        _single_ops(k).discard(op)
        k.slab.kfree(op)
    else:
        m.write_ptr(m.read_ptr(file + F_PRIVATE) + SEQ_PRIVATE, data)
    return rc


@kapi("fs.single_open_size", file=PTR, show=PTR, data=PTR, size=SIZE_T)
def single_open_size(k, m, file, show, data, size):
    rc = single_open.__wrapped__(k, m, file, show, data)
    if rc == 0 and size:
        seq = m.read_ptr(file + F_PRIVATE)
        buf = k.slab.kmalloc(size)
        m.write_ptr(seq + SEQ_BUF, buf)
        m.write_int(seq + SEQ_SIZE, 8, size)
    return rc


@kapi("fs.__seq_open_private", file=PTR, ops=PTR, psize=INT)
def seq_open_private_(k, m, file, ops, psize):
    private = k.slab.kmalloc(max(psize, 1), 0x100)
    m.write(private, bytes(max(psize, 1)))
    rc = seq_open_impl(k, m, file, ops)
    if rc:
        k.slab.kfree(private)
        return 0
    m.write_ptr(m.read_ptr(file + F_PRIVATE) + SEQ_PRIVATE, private)
    return private


@kapi("fs.seq_open_private", file=PTR, ops=PTR, psize=INT)
def seq_open_private(k, m, file, ops, psize):
    return 0 if seq_open_private_.__wrapped__(k, m, file, ops, psize) else -errno.ENOMEM


def seq_release_impl(k, m, file):
    seq = m.read_ptr(file + F_PRIVATE)
    if seq and seq in k.slab.heap.live:
        buf = m.read_ptr(seq + SEQ_BUF)
        if buf and (k.slab.heap.contains(buf) and buf in k.slab.heap.live):
            k.slab.kfree(buf)
        k.slab.kfree(seq)
    return 0


@kapi("fs.seq_release", inode=PTR, file=PTR)
def seq_release(k, m, inode, file):
    return seq_release_impl(k, m, file)


@kapi("fs.single_release", inode=PTR, file=PTR)
def single_release(k, m, inode, file):
    seq = m.read_ptr(file + F_PRIVATE)
    op = m.read_ptr(seq + SEQ_OP) if seq else 0
    seq_release_impl(k, m, file)
    if op and op in k.slab.heap.live:
        _single_ops(k).discard(op)
        k.slab.kfree(op)
    return 0


@kapi("fs.seq_release_private", inode=PTR, file=PTR)
def seq_release_private(k, m, inode, file):
    seq = m.read_ptr(file + F_PRIVATE)
    private = m.read_ptr(seq + SEQ_PRIVATE) if seq else 0
    if private and private in k.slab.heap.live:
        k.slab.kfree(private)
    return seq_release_impl(k, m, file)


# --------------------------------------------------------------------------- reading

class _Seq:
    """The seq_file's fields, read and written in guest memory."""

    FIELDS = {"buf": SEQ_BUF, "size": SEQ_SIZE, "from_": SEQ_FROM, "count": SEQ_COUNT,
              "index": SEQ_INDEX, "read_pos": SEQ_READ_POS, "op": SEQ_OP}

    def __init__(self, k, addr):
        object.__setattr__(self, "k", k)
        object.__setattr__(self, "addr", addr)

    def __getattr__(self, name):
        return self.k.machine.read_int(self.addr + self.FIELDS[name], 8)

    def __setattr__(self, name, value):
        self.k.machine.write_int(self.addr + self.FIELDS[name], 8, value & (1 << 64) - 1)


def _seq_call(k, seq, which, *args):
    """start(m, &index) / next(m, v, &index) / stop(m, v) / show(m, v): single_open's are
    the kernel's own, the others the module's, run in the CPU."""
    from ..fops import run_module
    m = k.machine
    op = seq.op
    index_ptr = seq.addr + SEQ_INDEX
    if op in _single_ops(k) and which != OP_SHOW:
        if which == OP_START:
            return 0 if m.read_int(index_ptr, 8) else SEQ_START_TOKEN
        if which == OP_NEXT:
            m.write_int(index_ptr, 8, m.read_int(index_ptr, 8) + 1)
            return 0
        return 0
    func = m.read_ptr(op + which)
    if which == OP_START:
        return run_module(k, func, (seq.addr, index_ptr), "read") & (1 << 64) - 1
    if which == OP_NEXT:
        return run_module(k, func, (seq.addr, args[0], index_ptr), "read") & (1 << 64) - 1
    if which == OP_STOP:
        if func:
            run_module(k, func, (seq.addr, args[0]), "read")
        return 0
    show = run_module(k, func, (seq.addr, args[0]), "read") & 0xFFFFFFFF    # int
    return show - (1 << 32) if show >> 31 else show


def _overflowed(seq):
    return seq.count == seq.size


def _traverse(k, seq, offset):
    """traverse(): run the records from the start until ``offset`` bytes went by; the
    buffer keeps what is past it. 0 or -errno."""
    seq.index = 0
    seq.count = seq.from_ = 0
    if not offset:
        return 0
    if not seq.buf:
        seq.buf = k.slab.kmalloc(PAGE)
        seq.size = PAGE
    pos = 0
    p = _seq_call(k, seq, OP_START)
    while p and not _is_err(p):
        err = _signed(_seq_call(k, seq, OP_SHOW, p))
        if err < 0:
            _seq_call(k, seq, OP_STOP, p)
            return err
        if err > 0:
            seq.count = 0
        if _overflowed(seq):
            _seq_call(k, seq, OP_STOP, p)
            k.slab.kfree(seq.buf)
            seq.count = 0
            seq.size = seq.size * 2
            seq.buf = k.slab.kmalloc(seq.size)
            return -errno.EAGAIN
        p = _seq_call(k, seq, OP_NEXT, p)
        if pos + seq.count > offset:
            seq.from_ = offset - pos
            seq.count -= offset - pos
            break
        pos += seq.count
        seq.count = 0
        if pos == offset:
            break
    _seq_call(k, seq, OP_STOP, p)
    return 0


def seq_read_impl(k, file_view, ubuf, size, ppos):
    """seq_read -> seq_read_iter: the bytes copied to ``ubuf``, or -errno; ``*ppos``
    (a guest loff_t) moves on."""
    m = k.machine
    seq = _Seq(k, m.read_ptr(file_view.filp + F_PRIVATE))
    if not size:
        return 0
    pos = _signed(m.read_int(ppos, 8))
    if pos == 0:
        seq.index = 0
        seq.count = 0
    if pos != _signed(seq.read_pos):
        while True:
            err = _traverse(k, seq, pos)
            if err != -errno.EAGAIN:
                break
        if err:
            seq.read_pos = seq.index = seq.count = 0
            return err
        seq.read_pos = pos
    if not seq.buf:
        seq.buf = k.slab.kmalloc(PAGE)
        seq.size = PAGE
    copied, err = 0, 0

    def copy_out(src, n):
        return n - uaccess.copy_to_user(k, m, ubuf + copied, src, n)

    if seq.count:
        n = copy_out(seq.buf + seq.from_, min(seq.count, size))
        seq.count -= n
        seq.from_ += n
        copied += n
        if seq.count:
            return _done(m, seq, ppos, copied, err)
    seq.from_ = 0
    p = _seq_call(k, seq, OP_START)
    filled = False
    while True:
        err = -((1 << 64) - p) if _is_err(p) else 0
        if not p or _is_err(p):
            break
        err = _signed(_seq_call(k, seq, OP_SHOW, p))
        if err < 0:
            break
        if err:
            seq.count = 0
        if not seq.count:
            p = _seq_call(k, seq, OP_NEXT, p)
            continue
        if not _overflowed(seq):
            filled = True
            break
        _seq_call(k, seq, OP_STOP, p)
        k.slab.kfree(seq.buf)
        seq.count = 0
        if seq.size * 2 > MAX_SEQ_BUF:
            seq.buf = 0
            return -errno.ENOMEM if not copied else _done(m, seq, ppos, copied, 0)
        seq.size = seq.size * 2
        seq.buf = k.slab.kmalloc(seq.size)
        p = _seq_call(k, seq, OP_START)
    if not filled:
        _seq_call(k, seq, OP_STOP, p)
        seq.count = 0
        return _done(m, seq, ppos, copied, err)
    want = size - copied
    while True:
        offs = seq.count
        before = seq.index
        p = _seq_call(k, seq, OP_NEXT, p)
        if before == seq.index:
            seq.index = seq.index + 1     # "buggy .next function ... did not update position index"
        if not p or _is_err(p):
            break
        if seq.count >= want:
            break
        err = _signed(_seq_call(k, seq, OP_SHOW, p))
        if err > 0:
            seq.count = offs
        elif err or _overflowed(seq):
            seq.count = offs
            break
    _seq_call(k, seq, OP_STOP, p)
    n = copy_out(seq.buf, min(seq.count, want))
    copied += n
    seq.count = seq.count - n
    seq.from_ = n
    return _done(m, seq, ppos, copied, err)


def _done(m, seq, ppos, copied, err):
    if not copied:
        return -errno.EFAULT if seq.count else err
    m.write_int(ppos, 8, (_signed(m.read_int(ppos, 8)) + copied) & (1 << 64) - 1)
    seq.read_pos = seq.read_pos + copied
    return copied


def seq_lseek_impl(k, file_view, offset, whence):
    m = k.machine
    seq = _Seq(k, m.read_ptr(file_view.filp + F_PRIVATE))
    offset = _signed(offset)
    if whence == SEEK_CUR:
        offset += file_view.pos
    elif whence != SEEK_SET:
        return -errno.EINVAL
    if offset < 0:
        return -errno.EINVAL
    if offset != _signed(seq.read_pos):
        while True:
            err = _traverse(k, seq, offset)
            if err != -errno.EAGAIN:
                break
        if err:
            seq.read_pos = seq.index = 0
            file_view.pos = 0
            return err
        seq.read_pos = offset
        file_view.pos = offset
    return offset


@kapi("fs.seq_read", file=PTR, buf=PTR, size=SIZE_T, ppos=PTR)
def seq_read(k, m, file, buf, size, ppos):
    """Called by module code (its own read wrapping seq_read): module functions cannot
    run inside a kernel function here, so only a buffer already filled is served."""
    seq = _Seq(k, m.read_ptr(file + F_PRIVATE))
    n = min(seq.count, size)
    if not n:
        return 0
    left = uaccess.copy_to_user(k, m, buf, seq.buf + seq.from_, n)
    n -= left
    seq.count -= n
    seq.from_ += n
    m.write_int(ppos, 8, m.read_int(ppos, 8) + n)
    return n if n else -errno.EFAULT


@kapi("fs.seq_lseek", file=PTR, offset=LONG, whence=INT)
def seq_lseek(k, m, file, offset, whence):
    seq = _Seq(k, m.read_ptr(file + F_PRIVATE))
    if whence == SEEK_CUR:
        offset += FilpView(k, file).pos
    if whence not in (SEEK_SET, SEEK_CUR) or offset < 0:
        return -errno.EINVAL
    if offset == _signed(seq.read_pos):
        return offset
    return -errno.EINVAL    # would run module code from inside a kernel function


# --------------------------------------------------------------------------- llseek helpers

def _fops():
    from .. import fops
    return fops


@kapi("fs.default_llseek", file=PTR, offset=LONG, whence=INT)
def default_llseek(k, m, file, offset, whence):
    return _fops().default_llseek(FilpView(k, file), offset, whence)


@kapi("fs.no_llseek", file=PTR, offset=LONG, whence=INT)
def no_llseek(k, m, file, offset, whence):
    return -errno.ESPIPE


@kapi("fs.noop_llseek", file=PTR, offset=LONG, whence=INT)
def noop_llseek(k, m, file, offset, whence):
    return FilpView(k, file).pos


@kapi("fs.generic_file_llseek", file=PTR, offset=LONG, whence=INT)
def generic_file_llseek(k, m, file, offset, whence):
    view = FilpView(k, file)
    size = _signed(m.read_int(view.inode + I_SIZE, 8)) if view.inode else 0
    return _fops().generic_file_llseek_size(view, offset, whence, MAX_LFS_FILESIZE, size)


@kapi("fs.fixed_size_llseek", file=PTR, offset=LONG, whence=INT, size=LONG)
def fixed_size_llseek(k, m, file, offset, whence, size):
    return _fops().fixed_size_llseek(FilpView(k, file), offset, whence, size)


@kapi("fs.no_seek_end_llseek", file=PTR, offset=LONG, whence=INT)
def no_seek_end_llseek(k, m, file, offset, whence):
    return _fops().no_seek_end_llseek(FilpView(k, file), offset, whence)


@kapi("fs.generic_file_llseek_size", file=PTR, offset=LONG, whence=INT, maxsize=LONG, eof=LONG)
def generic_file_llseek_size(k, m, file, offset, whence, maxsize, eof):
    return _fops().generic_file_llseek_size(FilpView(k, file), offset, whence, maxsize, eof)


@kapi("fs.nonseekable_open", inode=PTR, filp=PTR)
def nonseekable_open(k, m, inode, filp):
    mode = m.read_int(filp + F_MODE, 4) & ~(0x4 | 0x8 | 0x10)   # LSEEK, PREAD, PWRITE
    m.write_int(filp + F_MODE, 4, mode)
    return 0


@kapi("fs.stream_open", inode=PTR, filp=PTR)
def stream_open(k, m, inode, filp):
    mode = m.read_int(filp + F_MODE, 4) & ~(0x4 | 0x8 | 0x10 | 0x8000)
    m.write_int(filp + F_MODE, 4, mode | 0x200000)      # FMODE_STREAM
    return 0


@kapi("fs.simple_read_from_buffer", to=PTR, count=SIZE_T, ppos=PTR, from_=PTR, available=SIZE_T)
def simple_read_from_buffer(k, m, to, count, ppos, from_, available):
    pos = _signed(m.read_int(ppos, 8))
    if pos < 0:
        return -errno.EINVAL
    if pos >= available or not count:
        return 0
    count = min(count, available - pos)
    left = uaccess.copy_to_user(k, m, to, from_ + pos, count)
    if left == count:
        return -errno.EFAULT
    count -= left
    m.write_int(ppos, 8, pos + count)
    return count


@kapi("fs.simple_write_to_buffer", to=PTR, available=SIZE_T, ppos=PTR, from_=PTR, count=SIZE_T)
def simple_write_to_buffer(k, m, to, available, ppos, from_, count):
    pos = _signed(m.read_int(ppos, 8))
    if pos < 0:
        return -errno.EINVAL
    if pos >= available or not count:
        return 0
    count = min(count, available - pos)
    left = uaccess.copy_from_user(k, m, to + pos, from_, count)
    if left == count:
        return -errno.EFAULT
    count -= left
    m.write_int(ppos, 8, pos + count)
    return count


# --------------------------------------------------------------------------- as fops pointers

def _as_fop_read(file, filp, ubuf, count, ppos):
    return seq_read_impl(file.k, file, ubuf, count, ppos)


def _as_fop_lseek(file, filp, offset, whence):
    return seq_lseek_impl(file.k, file, offset, whence)


def _as_fop_release(file, inode, filp):
    k = file.k
    return single_release.__wrapped__(k, k.machine, inode, filp)


def _as_fop_seq_release(file, inode, filp):
    return seq_release_impl(file.k, file.k.machine, filp)


def _as_fop_release_private(file, inode, filp):
    return seq_release_private.__wrapped__(file.k, file.k.machine, inode, filp)


def _llseek(fn_name):
    def impl(file, filp, offset, whence):
        return getattr(_fops(), fn_name)(file, offset, whence)
    return impl


def _register(table):
    from .. import fops
    fops.KERNEL_FOPS.update(table)


KERNEL_FOPS = {
    "seq_read": _as_fop_read, "seq_lseek": _as_fop_lseek, "single_release": _as_fop_release,
    "seq_release": _as_fop_seq_release, "seq_release_private": _as_fop_release_private,
    "default_llseek": _llseek("default_llseek"), "no_llseek": _llseek("no_llseek"),
    "noop_llseek": _llseek("noop_llseek"), "generic_file_llseek": _llseek("generic_file_llseek"),
    "no_seek_end_llseek": _llseek("no_seek_end_llseek"),
}
_register(KERNEL_FOPS)


# --------------------------------------------------------------------------- proc_create_seq

from .. import fops  # noqa: E402  (fops does not import this file: kernel_fop finds it by name)
from ..openfile import DEFAULT_POLLMASK, S_IFREG  # noqa: E402

FMODE_READ, FMODE_WRITE, FMODE_LSEEK, FMODE_CAN_READ = 0x1, 0x2, 0x4, 0x20000


class ProcSeqFile(fops.GuestFile):
    """A proc_create_seq(_private) file: the kernel's proc_seq_ops (proc_seq_open,
    seq_read_iter, seq_lseek, proc_seq_release) around the module's seq_operations."""

    ops_layout = {}

    @classmethod
    def open(cls, fs, path, flags, entry):
        ops, state_size = entry["seq_ops"]
        file = cls(fs, path, flags, 0, i_mode=S_IFREG | entry["mode"],
                   private=entry.get("data", 0))
        k, m = fs.k, fs.k.machine
        m.write_int(file.filp + F_MODE, 4, m.read_int(file.filp + F_MODE, 4) |
                    FMODE_LSEEK | FMODE_CAN_READ)
        if state_size:
            rc = seq_open_private.__wrapped__(k, m, file.filp, ops, state_size)
        else:
            rc = seq_open_impl(k, m, file.filp, ops)
        if rc:
            file._free()
            return (rc & 0xFFFFFFFF) - (1 << 32) if rc & 0x80000000 else rc
        file.state_size = state_size
        return file

    def read(self, ubuf, count):
        if not self.f_mode & FMODE_READ:
            return -errno.EBADF
        if not uaccess.access_ok(ubuf, count):
            return -errno.EFAULT
        m = self.k.machine
        slot = self._pos_slot()
        m.write_int(slot, 8, m.read_int(self.filp + F_POS, 8))
        rc = seq_read_impl(self.k, self, ubuf, count, slot)
        if rc >= 0:
            m.write_int(self.filp + F_POS, 8, m.read_int(slot, 8))
        return rc

    def write(self, ubuf, count):
        return -errno.EIO if self.f_mode & FMODE_WRITE else -errno.EBADF

    def llseek(self, offset, whence):
        return seq_lseek_impl(self.k, self, offset, whence)

    def ioctl(self, cmd, arg):
        return -errno.ENOTTY

    def poll(self):
        return DEFAULT_POLLMASK

    def release(self):
        if self.closed:
            return 0
        self.closed = True
        k = self.k
        if getattr(self, "state_size", 0):
            seq_release_private.__wrapped__(k, k.machine, self.inode, self.filp)
        else:
            seq_release_impl(k, k.machine, self.filp)
        self._free()
        return 0

    close = release
