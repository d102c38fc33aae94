"""The system calls a user program makes, each as the kernel's ``SYSCALL_DEFINE``.

A handler takes the process and the six argument registers and returns what the kernel
returns (a value, or ``-errno``); ``SYSCALLS`` maps the x86-64 number to it. Pointers
are checked as ``copy_{to,from}_user`` checks them (``-EFAULT``). A number with no
handler returns ``-ENOSYS``, named once on the program's stderr when 6.1 has that call
(:meth:`~.process.UserProcess._not_simulated`); a number 6.1 does not have gets -ENOSYS
silently, as on the real kernel.
"""

from __future__ import annotations

import errno
import hashlib
import struct

from unicorn import x86_const as X

from ..shell.syscalls import SEEK_CUR
from ..vfs import Stat
from .binfmt import TASK_SIZE
from .files import (DT_DIR, O_ACCMODE, O_CLOEXEC, O_CREAT, O_TRUNC, POLLERR, POLLHUP, POLLNVAL,
                    HandleFile, resolve)
from .mm import MAP_ANONYMOUS
from .sysnames import NR, SYSCALL_NAMES

SYSCALLS: dict = {}


class ProcessExit(Exception):
    """The program is over: ``status`` (exit) or ``signal`` (killed)."""

    def __init__(self, status=0, signal=None, core=False):
        super().__init__(f"exit {status}" if signal is None else f"signal {signal}")
        self.status, self.signal, self.core = status, signal, core

AT_FDCWD = -100
AT_EMPTY_PATH, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW = 0x1000, 0x200, 0x100
ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004
ARCH_GET_CPUID, ARCH_SET_CPUID = 0x1011, 0x1012
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC = 0, 1, 2, 3, 4, 1030
FD_CLOEXEC = 1
S_IFMT = {"d": 0o040000, "-": 0o100000, "": 0o100000, "c": 0o020000, "b": 0o060000,
          "l": 0o120000, "p": 0o010000, "s": 0o140000}
MODULE_INIT_FLAGS = 0b111       # IGNORE_MODVERSIONS, IGNORE_VERMAGIC, COMPRESSED_FILE
MODULE_NAME_LEN = 56
RLIM_INFINITY = 0xFFFF_FFFF_FFFF_FFFF
# getrlimit's answers in the guest (the kernel's defaults for init's children)
RLIMITS = {3: (8 << 20, RLIM_INFINITY), 7: (1024, 4096), 4: (0, RLIM_INFINITY),
           8: (8 << 20, 8 << 20), 6: (1809, 1809), 11: (1809, 1809), 13: (0, 0),
           14: (0, 0), 12: (819200, 819200)}
CLOCK_REALTIME_EPOCH = 1_764_892_800          # 2025-12-05 00:00:00 UTC, the guest's RTC
RSEQ_SIG_LEN = 32
UTS_NODENAME = "(none)"


def syscall(name):
    def register(fn):
        SYSCALLS[NR[name]] = fn
        return fn
    return register


def syscall_name(nr):
    return SYSCALL_NAMES.get(nr)


def s64(v):
    v &= 0xFFFF_FFFF_FFFF_FFFF
    return v - (1 << 64) if v >> 63 else v


def s32(v):
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v >> 31 else v


# --------------------------------------------------------------------------- process

@syscall("exit")
def sys_exit(p, code, *_):
    raise ProcessExit(code & 0xFF)


@syscall("exit_group")
def sys_exit_group(p, code, *_):
    raise ProcessExit(code & 0xFF)


@syscall("getpid")
def sys_getpid(p, *_):
    return p.pid


@syscall("gettid")
def sys_gettid(p, *_):
    return p.pid


@syscall("getppid")
def sys_getppid(p, *_):
    return p.ppid


@syscall("getuid")
def sys_getuid(p, *_):
    return 0


for _name in ("geteuid", "getgid", "getegid"):
    SYSCALLS[NR[_name]] = sys_getuid


@syscall("getpgrp")
def sys_getpgrp(p, *_):
    return p.ppid            # the scenario shell's process group


@syscall("getpgid")
def sys_getpgid(p, pid, *_):
    return p.ppid if pid in (0, p.pid) else -errno.ESRCH   # the shell's process group


SYSCALLS[NR["getsid"]] = sys_getpgid


@syscall("wait4")
def sys_wait4(p, pid, status, options, rusage, *_):
    return -errno.ECHILD            # a program has no children (no fork)


@syscall("fsync")
def sys_fsync(p, fd, *_):
    return 0 if p.files.get(s32(fd)) is not None else -errno.EBADF


SYSCALLS[NR["fdatasync"]] = sys_fsync


@syscall("sync")
def sys_sync(p, *_):
    return 0


@syscall("set_tid_address")
def sys_set_tid_address(p, tidptr, *_):
    return p.pid


@syscall("set_robust_list")
def sys_set_robust_list(p, head, length, *_):
    return 0 if length == 24 else -errno.EINVAL


@syscall("rseq")
def sys_rseq(p, rseq, length, flags, sig, *_):
    """rseq registration (6.1 has it): the area gets cpu_id_start = cpu_id = 0."""
    if flags & ~1:
        return -errno.EINVAL
    if flags & 1:                           # RSEQ_FLAG_UNREGISTER
        return 0 if p.rseq == rseq else -errno.EINVAL
    if p.rseq:
        return -errno.EBUSY if p.rseq == rseq else -errno.EINVAL
    if length != RSEQ_SIG_LEN or rseq % 32:
        return -errno.EINVAL
    if not p.write_user(rseq, struct.pack("<II", 0, 0)):
        return -errno.EFAULT
    p.rseq = rseq
    return 0


@syscall("arch_prctl")
def sys_arch_prctl(p, code, addr, *_):
    if code in (ARCH_SET_FS, ARCH_SET_GS):
        if addr >= TASK_SIZE:
            return -errno.EPERM
        if code == ARCH_SET_FS:
            p.set_fs_base(addr)
        return 0
    if code in (ARCH_GET_FS, ARCH_GET_GS):
        value = p.user_reg(X.UC_X86_REG_FS_BASE if code == ARCH_GET_FS else X.UC_X86_REG_GS_BASE)
        return 0 if p.write_user(addr, struct.pack("<Q", value)) else -errno.EFAULT
    if code == ARCH_GET_CPUID:
        return 1
    if code == ARCH_SET_CPUID:
        return 0
    return -errno.EINVAL


@syscall("prlimit64")
def sys_prlimit64(p, pid, resource, new, old, *_):
    if pid not in (0, p.pid):
        return -errno.ESRCH
    if resource >= 16:
        return -errno.EINVAL
    if new and p.read_user(new, 16) is None:
        return -errno.EFAULT
    if old:
        cur, mx = RLIMITS.get(resource, (RLIM_INFINITY, RLIM_INFINITY))
        if not p.write_user(old, struct.pack("<QQ", cur, mx)):
            return -errno.EFAULT
    return 0


@syscall("getrlimit")
def sys_getrlimit(p, resource, old, *_):
    return sys_prlimit64(p, 0, resource, 0, old)


@syscall("uname")
def sys_uname(p, buf, *_):
    prof = p.k.profile
    fields = ["Linux", UTS_NODENAME, prof.release, prof.version, "x86_64", "(none)"]
    data = b"".join(f.encode()[:64].ljust(65, b"\0") for f in fields)
    return 0 if p.write_user(buf, data) else -errno.EFAULT


@syscall("umask")
def sys_umask(p, mask, *_):
    old, p.umask = p.umask, mask & 0o777
    return old


@syscall("kill")
def sys_kill(p, pid, sig, *_):
    pid, sig = s32(pid), s32(sig)
    if not 0 <= sig <= 64:
        return -errno.EINVAL
    if pid in (p.pid, 0, -1):
        if sig and pid == p.pid:
            p.die(sig, core=sig in (3, 4, 5, 6, 7, 8, 11, 24, 25, 31))
        return 0 if pid == p.pid or sig == 0 else _kill_others(p, pid, sig)
    if pid > 0 and p.k.tasks.by_pid(pid) is not None:
        return _kill_others(p, pid, sig)
    return -errno.ESRCH


def _kill_others(p, pid, sig):
    if sig:
        p.note(f"kill({pid}, {sig}): signals to other processes are not simulated")
    return 0


@syscall("tgkill")
def sys_tgkill(p, tgid, tid, sig, *_):
    if s32(tgid) <= 0 or s32(tid) <= 0:
        return -errno.EINVAL
    if tid != p.pid:
        return sys_kill(p, tid, sig)
    return sys_kill(p, p.pid, sig)


@syscall("tkill")
def sys_tkill(p, tid, sig, *_):
    return sys_kill(p, tid, sig)


@syscall("rt_sigaction")
def sys_rt_sigaction(p, sig, act, oact, sigsetsize, *_):
    if sigsetsize != 8 or not 1 <= sig <= 64 or (act and sig in (9, 19)):
        return -errno.EINVAL
    if oact and not p.write_user(oact, p.sigactions.get(sig, bytes(32))):
        return -errno.EFAULT
    if act:
        data = p.read_user(act, 32)
        if data is None:
            return -errno.EFAULT
        p.sigactions[sig] = data
    return 0


@syscall("rt_sigprocmask")
def sys_rt_sigprocmask(p, how, nset, oset, sigsetsize, *_):
    if sigsetsize != 8 or how > 2:
        return -errno.EINVAL
    if oset and not p.write_user(oset, struct.pack("<Q", p.sigmask)):
        return -errno.EFAULT
    if nset:
        data = p.read_user(nset, 8)
        if data is None:
            return -errno.EFAULT
        mask = struct.unpack("<Q", data)[0] & ~((1 << 8) | (1 << 18))   # not KILL, STOP
        p.sigmask = {0: p.sigmask | mask, 1: p.sigmask & ~mask, 2: mask}[how]
    return 0


@syscall("sigaltstack")
def sys_sigaltstack(p, ss, oss, *_):
    if oss and not p.write_user(oss, struct.pack("<QiiQ", 0, 2, 0, 0)):   # SS_DISABLE
        return -errno.EFAULT
    return 0


@syscall("sched_yield")
def sys_sched_yield(p, *_):
    return 0


@syscall("sched_getaffinity")
def sys_sched_getaffinity(p, pid, size, mask, *_):
    if size < 8 or size % 8:
        return -errno.EINVAL
    return 8 if p.write_user(mask, struct.pack("<Q", 1)) else -errno.EFAULT


@syscall("getcpu")
def sys_getcpu(p, cpu, node, *_):
    for addr in (cpu, node):
        if addr and not p.write_user(addr, bytes(4)):
            return -errno.EFAULT
    return 0


@syscall("getrandom")
def sys_getrandom(p, buf, count, flags, *_):
    """Deterministic bytes (a SHA-256 stream over the pid and a counter)."""
    if flags & ~7:
        return -errno.EINVAL
    count = min(count, (1 << 25) - 1)
    done = 0
    while done < count:
        n = min(count - done, 4096)
        block = b""
        while len(block) < n:
            p.random_counter += 1
            seed = f"kmodsim getrandom {p.pid} {p.random_counter}".encode()
            block += hashlib.sha256(seed).digest()
        if not p.write_user(buf + done, block[:n]):
            return done or -errno.EFAULT
        done += n
        p.k.budget.charge_bytes(n)
    return done


# --------------------------------------------------------------------------- time

def _now_ns(p, clock):
    ns = p.k.time.ns
    if clock in (0, 5, 8, 11):            # REALTIME, REALTIME_COARSE, _ALARM, TAI
        return CLOCK_REALTIME_EPOCH * 10 ** 9 + ns
    return ns


@syscall("clock_gettime")
def sys_clock_gettime(p, clock, tp, *_):
    if clock > 11 and s32(clock) >= 0:
        return -errno.EINVAL
    ns = _now_ns(p, clock)
    return 0 if p.write_user(tp, struct.pack("<qq", ns // 10 ** 9, ns % 10 ** 9)) else -errno.EFAULT


@syscall("clock_getres")
def sys_clock_getres(p, clock, tp, *_):
    if tp and not p.write_user(tp, struct.pack("<qq", 0, 1)):
        return -errno.EFAULT
    return 0


@syscall("gettimeofday")
def sys_gettimeofday(p, tv, tz, *_):
    ns = _now_ns(p, 0)
    if tv and not p.write_user(tv, struct.pack("<qq", ns // 10 ** 9, ns % 10 ** 9 // 1000)):
        return -errno.EFAULT
    if tz and not p.write_user(tz, bytes(8)):
        return -errno.EFAULT
    return 0


@syscall("time")
def sys_time(p, tloc, *_):
    t = _now_ns(p, 0) // 10 ** 9
    if tloc and not p.write_user(tloc, struct.pack("<q", t)):
        return -errno.EFAULT
    return t


def _sleep(p, req):
    data = p.read_user(req, 16)
    if data is None:
        return -errno.EFAULT
    sec, nsec = struct.unpack("<qq", data)
    if sec < 0 or not 0 <= nsec < 10 ** 9:
        return -errno.EINVAL
    p.system.sleep(sec + nsec / 1e9)
    return 0


@syscall("nanosleep")
def sys_nanosleep(p, req, rem, *_):
    return _sleep(p, req)


@syscall("clock_nanosleep")
def sys_clock_nanosleep(p, clock, flags, req, rem, *_):
    if flags & 1:                            # TIMER_ABSTIME
        data = p.read_user(req, 16)
        if data is None:
            return -errno.EFAULT
        sec, nsec = struct.unpack("<qq", data)
        left = sec * 10 ** 9 + nsec - _now_ns(p, clock)
        if left > 0:
            p.system.sleep(left / 1e9)
        return 0
    return _sleep(p, req)


# --------------------------------------------------------------------------- memory

@syscall("brk")
def sys_brk(p, addr, *_):
    return p.mm.sys_brk(addr)


@syscall("mmap")
def sys_mmap(p, addr, length, prot, flags, fd, off):
    if not flags & MAP_ANONYMOUS:
        file = p.files.get(s32(fd))
        if file is None:
            return -errno.EBADF
        p.note_once("mmap", "mmap of a file not simulated, returned -ENODEV")
        return -errno.ENODEV
    if off % 4096:
        return -errno.EINVAL
    return p.mm.sys_mmap(addr, length, prot, flags, fd)


@syscall("munmap")
def sys_munmap(p, addr, length, *_):
    return p.mm.sys_munmap(addr, length)


@syscall("mprotect")
def sys_mprotect(p, addr, length, prot, *_):
    return p.mm.sys_mprotect(addr, length, prot)


@syscall("mremap")
def sys_mremap(p, addr, old_len, new_len, flags, new_addr, *_):
    return p.mm.sys_mremap(addr, old_len, new_len, flags)


@syscall("madvise")
def sys_madvise(p, addr, length, advice, *_):
    return -errno.EINVAL if addr % 4096 else 0


# --------------------------------------------------------------------------- files

def _fd(p, fd):
    return p.files.get(s32(fd))


def _at_path(p, dirfd, pathname, flags=0):
    """The absolute path ``*at`` calls name (AT_FDCWD, or a directory's descriptor), or
    -errno."""
    raw = p.read_string(pathname)
    if isinstance(raw, int):
        return raw
    if not raw:
        return -errno.ENOENT
    path = raw.decode("utf-8", "surrogateescape")
    if path.startswith("/") or s32(dirfd) == AT_FDCWD:
        return resolve(p.cwd, path)
    file = _fd(p, dirfd)
    if file is None:
        return -errno.EBADF
    if not file_stat(p, file).is_dir:
        return -errno.ENOTDIR
    return resolve(file.path, path)


def _open(p, path, flags, mode):
    if isinstance(path, int):
        return path
    file = p.fs.open(path, flags, mode & ~p.umask)
    if isinstance(file, int):
        return file
    return p.files.install(file, cloexec=bool(flags & O_CLOEXEC))


@syscall("open")
def sys_open(p, pathname, flags, mode, *_):
    return _open(p, p.read_path(pathname), flags, mode)


@syscall("openat")
def sys_openat(p, dirfd, pathname, flags, mode, *_):
    return _open(p, _at_path(p, dirfd, pathname), flags, mode)


@syscall("creat")
def sys_creat(p, pathname, mode, *_):
    return _open(p, p.read_path(pathname), 0o1101, mode)     # O_CREAT|O_WRONLY|O_TRUNC


@syscall("close")
def sys_close(p, fd, *_):
    return p.files.close(s32(fd))


@syscall("read")
def sys_read(p, fd, buf, count, *_):
    file = _fd(p, fd)
    if file is None:
        return -errno.EBADF
    return file.read(buf, min(count, 0x7FFFF000))


@syscall("write")
def sys_write(p, fd, buf, count, *_):
    file = _fd(p, fd)
    if file is None:
        return -errno.EBADF
    count = min(count, 0x7FFFF000)
    done = 0
    while done < count:                   # the file takes at most CHUNK bytes at a time
        n = file.write(buf + done, count - done)
        if n < 0:
            return done or n
        if n == 0:
            break
        done += n
        p.k.budget.charge_bytes(n)
    return done


def _iov(p, iov, iovcnt):
    if iovcnt > 1024:
        return -errno.EINVAL
    data = p.read_user(iov, 16 * iovcnt)
    if data is None:
        return -errno.EFAULT
    return [struct.unpack_from("<QQ", data, 16 * i) for i in range(iovcnt)]


def _vectored(p, fd, iov, iovcnt, one):
    """readv/writev: ``one`` (sys_read or sys_write) over each iovec in turn, stopping at
    the first short transfer; an error after some bytes moved gives the count."""
    vec = _iov(p, iov, iovcnt)
    if isinstance(vec, int):
        return vec
    total = 0
    for base, length in vec:
        if not length:
            continue
        n = one(p, fd, base, length)
        if n < 0:
            return total or n
        total += n
        if n < length:
            break
    return total


@syscall("writev")
def sys_writev(p, fd, iov, iovcnt, *_):
    return _vectored(p, fd, iov, iovcnt, sys_write)


@syscall("readv")
def sys_readv(p, fd, iov, iovcnt, *_):
    return _vectored(p, fd, iov, iovcnt, sys_read)


@syscall("lseek")
def sys_lseek(p, fd, offset, whence, *_):
    file = _fd(p, fd)
    if file is None:
        return -errno.EBADF
    if whence > 4:
        return -errno.EINVAL
    return file.llseek(s64(offset), whence)


def _positioned(p, fd, pos, fn):
    file = _fd(p, fd)
    if file is None:
        return -errno.EBADF
    if s64(pos) < 0:
        return -errno.EINVAL
    here = file.llseek(0, SEEK_CUR)
    if here < 0:
        return here
    file.llseek(s64(pos), 0)
    try:
        return fn()
    finally:
        file.llseek(here, 0)


@syscall("pread64")
def sys_pread64(p, fd, buf, count, pos, *_):
    return _positioned(p, fd, pos, lambda: sys_read(p, fd, buf, count))


@syscall("pwrite64")
def sys_pwrite64(p, fd, buf, count, pos, *_):
    return _positioned(p, fd, pos, lambda: sys_write(p, fd, buf, count))


@syscall("ioctl")
def sys_ioctl(p, fd, cmd, arg, *_):
    file = _fd(p, fd)
    if file is None:
        return -errno.EBADF
    return file.ioctl(cmd & 0xFFFF_FFFF, arg)


@syscall("dup")
def sys_dup(p, fd, *_):
    file = _fd(p, fd)
    return -errno.EBADF if file is None else p.files.install(file)


@syscall("dup2")
def sys_dup2(p, old, new, *_):
    file = _fd(p, old)
    if file is None:
        return -errno.EBADF
    if old == new:
        return new
    return -errno.EBADF if new >= p.files.NR_OPEN else p.files.install(file, fd=new)


@syscall("dup3")
def sys_dup3(p, old, new, flags, *_):
    if old == new or flags & ~O_CLOEXEC:
        return -errno.EINVAL
    file = _fd(p, old)
    if file is None:
        return -errno.EBADF
    if new >= p.files.NR_OPEN:
        return -errno.EBADF
    return p.files.install(file, fd=new, cloexec=bool(flags))


@syscall("fcntl")
def sys_fcntl(p, fd, cmd, arg, *_):
    entry = p.files.fds.get(s32(fd))
    if entry is None:
        return -errno.EBADF
    file = entry[0]
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        if arg >= p.files.NR_OPEN:
            return -errno.EINVAL
        return p.files.install(file, lowest=arg, cloexec=cmd == F_DUPFD_CLOEXEC)
    if cmd == F_GETFD:
        return FD_CLOEXEC if entry[1] else 0
    if cmd == F_SETFD:
        entry[1] = bool(arg & FD_CLOEXEC)
        return 0
    if cmd == F_GETFL:
        return file.flags & ~(O_CREAT | O_TRUNC | O_CLOEXEC)
    if cmd == F_SETFL:
        file.flags = (file.flags & ~0o2004000) | (arg & 0o2004000)   # O_APPEND, O_NONBLOCK
        return 0
    return -errno.EINVAL


def _stat_bytes(path, st):
    kind = st.kind or ("d" if st.is_dir else "-")
    mode = S_IFMT.get(kind, 0o100000) | (st.mode & 0o7777)
    major, minor = st.rdev
    rdev = (minor & 0xFF) | ((major & 0xFFF) << 8) | ((minor & ~0xFF) << 12)
    ino = int.from_bytes(hashlib.sha256(path.encode("utf-8", "surrogateescape")).digest()[:3],
                         "little") + 2
    nlink = 2 if st.is_dir else 1
    blocks = (st.size + 4095) // 4096 * 8
    return struct.pack("<QQQIIIIQqqq" + "qq" * 3 + "24x", 1, ino, nlink, mode, 0, 0, 0, rdev,
                       st.size, 4096, blocks, 0, 0, 0, 0, 0, 0)


def _put_stat(p, buf, path, st):
    if isinstance(st, int):
        return st
    return 0 if p.write_user(buf, _stat_bytes(path, st)) else -errno.EFAULT


def file_stat(p, file):
    """What fstat says of an open file: the shell's files know it, the file layer's are
    looked up by path (a file unlinked since: a regular file of its size)."""
    if isinstance(file, HandleFile):
        return file.stat
    st = p.fs.stat(file.path)
    if isinstance(st, int):
        inode = getattr(file, "inode", None)
        return Stat(is_dir=False, mode=0o644, size=inode.size if inode is not None else 0)
    return st


def _fstat(p, fd, buf):
    file = _fd(p, fd)
    if file is None:
        return -errno.EBADF
    return _put_stat(p, buf, file.path or f"fd{fd}", file_stat(p, file))


@syscall("fstat")
def sys_fstat(p, fd, buf, *_):
    return _fstat(p, fd, buf)


@syscall("stat")
def sys_stat(p, pathname, buf, *_):
    path = p.read_path(pathname)
    return path if isinstance(path, int) else _put_stat(p, buf, path, p.fs.stat(path))


SYSCALLS[NR["lstat"]] = sys_stat


@syscall("newfstatat")
def sys_newfstatat(p, dirfd, pathname, buf, flags, *_):
    if flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | 0x800):
        return -errno.EINVAL
    if flags & AT_EMPTY_PATH:
        raw = p.read_string(pathname)
        if raw == b"":
            if s32(dirfd) == AT_FDCWD:
                return _put_stat(p, buf, p.cwd, p.fs.stat(p.cwd))
            return _fstat(p, dirfd, buf)
    path = _at_path(p, dirfd, pathname)
    return path if isinstance(path, int) else _put_stat(p, buf, path, p.fs.stat(path))


def _access(p, path, mode):
    if isinstance(path, int):
        return path
    if mode & ~7:
        return -errno.EINVAL
    st = p.fs.stat(path)
    if isinstance(st, int):
        return st
    if mode & 1 and not st.is_dir and not st.mode & 0o111:   # root needs one x bit
        return -errno.EACCES
    return 0


@syscall("access")
def sys_access(p, pathname, mode, *_):
    return _access(p, p.read_path(pathname), mode)


@syscall("faccessat")
def sys_faccessat(p, dirfd, pathname, mode, *_):
    return _access(p, _at_path(p, dirfd, pathname), mode)


@syscall("faccessat2")
def sys_faccessat2(p, dirfd, pathname, mode, flags, *_):
    return _access(p, _at_path(p, dirfd, pathname), mode)


@syscall("getdents64")
def sys_getdents64(p, fd, dirp, count, *_):
    file = _fd(p, fd)
    if file is None:
        return -errno.EBADF
    entries = file.getdents()
    if isinstance(entries, int):
        return entries
    out = bytearray()
    pos = file.pos
    while pos < len(entries):
        name, dtype = entries[pos]
        raw = name.encode("utf-8", "surrogateescape")
        reclen = (19 + len(raw) + 1 + 7) & ~7
        if len(out) + reclen > count:
            if not out:
                return -errno.EINVAL
            break
        ino = 1 if dtype == DT_DIR and name in (".", "..") else pos + 2
        out += struct.pack("<QqHB", ino, pos + 1, reclen, dtype) + raw
        out += bytes(reclen - 19 - len(raw))
        pos += 1
    if not p.write_user(dirp, bytes(out)):
        return -errno.EFAULT
    file.pos = pos
    return len(out)


@syscall("getcwd")
def sys_getcwd(p, buf, size, *_):
    data = p.cwd.encode("utf-8", "surrogateescape") + b"\0"
    if size < len(data):
        return -errno.ERANGE
    return len(data) if p.write_user(buf, data) else -errno.EFAULT


@syscall("chdir")
def sys_chdir(p, pathname, *_):
    path = p.read_path(pathname)
    if isinstance(path, int):
        return path
    st = p.fs.stat(path)
    if isinstance(st, int):
        return st
    if not st.is_dir:
        return -errno.ENOTDIR
    p.cwd = path
    return 0


@syscall("fchdir")
def sys_fchdir(p, fd, *_):
    file = _fd(p, fd)
    if file is None:
        return -errno.EBADF
    if not file_stat(p, file).is_dir:
        return -errno.ENOTDIR
    p.cwd = file.path
    return 0


@syscall("readlink")
def sys_readlink(p, pathname, buf, size, *_):
    return _readlink(p, p.read_path(pathname), buf, size)


@syscall("readlinkat")
def sys_readlinkat(p, dirfd, pathname, buf, size, *_):
    return _readlink(p, _at_path(p, dirfd, pathname), buf, size)


def _readlink(p, path, buf, size):
    if isinstance(path, int):
        return path
    if s32(size) <= 0:
        return -errno.EINVAL
    if path in ("/proc/self/exe", f"/proc/{p.pid}/exe"):
        target = p.path.encode("utf-8", "surrogateescape")[:size]
        return len(target) if p.write_user(buf, target) else -errno.EFAULT
    if path in ("/proc/self/cwd", f"/proc/{p.pid}/cwd"):
        target = p.cwd.encode("utf-8", "surrogateescape")[:size]
        return len(target) if p.write_user(buf, target) else -errno.EFAULT
    st = p.fs.stat(path)
    return st if isinstance(st, int) else -errno.EINVAL      # not a symbolic link


@syscall("unlink")
def sys_unlink(p, pathname, *_):
    path = p.read_path(pathname)
    return path if isinstance(path, int) else p.fs.unlink(path)


@syscall("unlinkat")
def sys_unlinkat(p, dirfd, pathname, flags, *_):
    if flags & ~AT_REMOVEDIR:
        return -errno.EINVAL
    path = _at_path(p, dirfd, pathname)
    if isinstance(path, int):
        return path
    if flags & AT_REMOVEDIR:
        return p._not_simulated(NR["rmdir"])
    return p.fs.unlink(path)


@syscall("mkdir")
def sys_mkdir(p, pathname, mode, *_):
    path = p.read_path(pathname)
    return path if isinstance(path, int) else p.fs.mkdir(path, mode & ~p.umask)


@syscall("mkdirat")
def sys_mkdirat(p, dirfd, pathname, mode, *_):
    path = _at_path(p, dirfd, pathname)
    return path if isinstance(path, int) else p.fs.mkdir(path, mode & ~p.umask)


def _mknod(p, path, mode, dev):
    if isinstance(path, int):
        return path
    if mode & 0o170000 not in (0o020000, 0o060000, 0o010000, 0o100000, 0, 0o140000):
        return -errno.EINVAL
    dev &= 0xFFFF_FFFF                   # new_decode_dev
    major, minor = (dev >> 8) & 0xFFF, (dev & 0xFF) | ((dev >> 12) & 0xFFF00)
    return p.fs.mknod(path, (mode & 0o170000) | (mode & ~p.umask & 0o7777), (major, minor))


@syscall("mknod")
def sys_mknod(p, pathname, mode, dev, *_):
    return _mknod(p, p.read_path(pathname), mode, dev)


@syscall("mknodat")
def sys_mknodat(p, dirfd, pathname, mode, dev, *_):
    return _mknod(p, _at_path(p, dirfd, pathname), mode, dev)


@syscall("poll")
def sys_poll(p, fds, nfds, timeout, *_):
    return _poll(p, fds, nfds, s32(timeout))


@syscall("ppoll")
def sys_ppoll(p, fds, nfds, tsp, sigmask, *_):
    timeout = -1
    if tsp:
        data = p.read_user(tsp, 16)
        if data is None:
            return -errno.EFAULT
        sec, nsec = struct.unpack("<qq", data)
        timeout = sec * 1000 + nsec // 10 ** 6
    return _poll(p, fds, nfds, timeout)


def _poll(p, fds, nfds, timeout):
    if nfds > p.files.NR_OPEN:
        return -errno.EINVAL
    data = p.read_user(fds, 8 * nfds)
    if data is None:
        return -errno.EFAULT
    out, ready = bytearray(), 0
    for i in range(nfds):
        fd, events, _ = struct.unpack_from("<ihh", data, 8 * i)
        revents = 0
        if fd >= 0:
            file = p.files.get(fd)
            revents = POLLNVAL if file is None else \
                file.poll() & ((events & 0xFFFF) | POLLERR | POLLHUP)
        ready += bool(revents)
        out += struct.pack("<ihH", fd, events, revents)
    if ready:
        return ready if p.write_user(fds, bytes(out)) else -errno.EFAULT
    return _nothing_ready(p, timeout / 1000 if timeout >= 0 else None)


def _nothing_ready(p, seconds):
    """Nothing is ready and nothing else runs that could make it ready: sleep the
    timeout; without one, the program would wait for ever (until its budget ends it)."""
    if seconds is None:         # nothing runs that could wake it: it would hang for ever
        p.note(f"{p.filename} waits for ever (poll/select with no timeout and nothing "
               f"ready) and was killed")
        p.die(9)
    if seconds > 0:
        p.system.sleep(seconds)
    return 0


def _select(p, nfds, readfds, writefds, exceptfds, timeout_s):
    if s32(nfds) < 0 or nfds > p.files.NR_OPEN:
        return -errno.EINVAL
    size = (nfds + 63) // 64 * 8
    sets = []
    for addr in (readfds, writefds, exceptfds):
        if not addr:
            sets.append(None)
            continue
        data = p.read_user(addr, size)
        if data is None:
            return -errno.EFAULT
        sets.append(int.from_bytes(data, "little"))
    results, ready = [0, 0, 0], 0
    for fd in range(nfds):
        wanted = [s is not None and s >> fd & 1 for s in sets]
        if not any(wanted):
            continue
        file = p.files.get(fd)
        if file is None:
            return -errno.EBADF
        mask = file.poll()
        for i, bit in enumerate((0x1 | 0x40 | 0x8 | 0x10, 0x4 | 0x100 | 0x8, 0x2)):
            if wanted[i] and mask & bit:
                results[i] |= 1 << fd
                ready += 1
    if ready or timeout_s == 0:
        for addr, value in zip((readfds, writefds, exceptfds), results):
            if addr and not p.write_user(addr, value.to_bytes(size, "little")):
                return -errno.EFAULT
        return ready
    return _nothing_ready(p, timeout_s)


@syscall("select")
def sys_select(p, nfds, readfds, writefds, exceptfds, tvp, *_):
    timeout = None
    if tvp:
        data = p.read_user(tvp, 16)
        if data is None:
            return -errno.EFAULT
        sec, usec = struct.unpack("<qq", data)
        timeout = sec + usec / 1e6
    return _select(p, nfds, readfds, writefds, exceptfds, timeout)


@syscall("pselect6")
def sys_pselect6(p, nfds, readfds, writefds, exceptfds, tsp, *_):
    timeout = None
    if tsp:
        data = p.read_user(tsp, 16)
        if data is None:
            return -errno.EFAULT
        sec, nsec = struct.unpack("<qq", data)
        timeout = sec + nsec / 1e9
    return _select(p, nfds, readfds, writefds, exceptfds, timeout)


# --------------------------------------------------------------------------- modules

@syscall("finit_module")
def sys_finit_module(p, fd, uargs, flags, *_):
    """finit_module(2) as 6.1 checks it: flags, the descriptor, a regular file, the args."""
    if flags & ~MODULE_INIT_FLAGS:
        return -errno.EINVAL
    file = _fd(p, fd)
    if file is None:
        return -errno.EBADF
    if file.flags & O_ACCMODE == 1:           # not open for reading
        return -errno.EBADF
    st = file_stat(p, file)
    if st.is_dir or st.kind not in ("", "-") or not file.path:
        return -errno.EINVAL
    args = p.read_string(uargs, 1 << 30)
    if isinstance(args, int):
        return args
    image = p.read_file(file.path, 1 << 31)
    if isinstance(image, int):
        return image
    return p.system.finit_module(image, args.decode("latin-1"), flags)


@syscall("init_module")
def sys_init_module(p, umod, length, uargs, *_):
    if length < 64:
        return -errno.ENOEXEC
    if length > 1 << 31:
        return -errno.ENOMEM              # __vmalloc of the copy fails
    image = p.read_user(umod, length)
    if image is None:
        return -errno.EFAULT
    args = p.read_string(uargs, 1 << 30)
    if isinstance(args, int):
        return args
    return p.system.init_module(image, args.decode("latin-1"))


@syscall("delete_module")
def sys_delete_module(p, name_user, flags, *_):
    name = p.read_string(name_user, MODULE_NAME_LEN - 1)
    if name == -errno.ENAMETOOLONG:           # strncpy_from_user stops at 55 bytes
        name = p.read_user(name_user, MODULE_NAME_LEN - 1)
    if isinstance(name, int) or name is None:
        return -errno.EFAULT
    return p.system.delete_module(name.decode("latin-1"), flags)

