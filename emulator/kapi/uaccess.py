"""The user-access functions: copy_to_user/copy_from_user, get_user/put_user,
strncpy_from_user, clear_user, and hardened usercopy's object check.

User memory is whatever the calling process has mapped below ``TASK_SIZE_MAX`` in the
machine (a user program's pages, or the scratch buffer :mod:`emulator.files` maps for
Python callers at :data:`~emulator.files.SCRATCH_ADDR`). A copy goes a page at a time, as
``copy_user_generic``'s fault fixup does: it stops at the first user page that is not
there (or not writable) and the function returns what the kernel returns then, the bytes
*not* copied; ``_copy_from_user`` zeroes the kernel bytes it could not fill. A range that
is not ``access_ok`` copies nothing.

``__get_user_N``/``__put_user_N`` have the assembly calling convention of
arch/x86/lib/getuser.S and putuser.S: get takes the pointer in rax and returns the error
in rax, the value in rdx; put takes the value in rax and the pointer in rcx and returns the
error in rcx; no other register changes.

``__check_object_size`` is CONFIG_HARDENED_USERCOPY's (mm/usercopy.c): a copy to or from
a kmalloc object that runs past the object is ``usercopy_abort``: its pr_emerg line and a
``BUG()`` (the caller is killed).
"""

import errno

from linker.loglevels import LOGLEVEL_EMERG

from ..budget import CHUNK
from ..machine import PAGE, PROT_WRITE, MemoryFault
from . import guestmem as gm
from .registry import BOOL, HANDLED, LONG, PTR, ULONG, kapi

# The reference machine runs with 5-level paging (faults.VIRTUAL_MASK), so TASK_SIZE_MAX is
# task_size_max()'s LA57 value; user programs live below 1 << 47 all the same
TASK_SIZE_MAX = (1 << 56) - PAGE
USERCOPY_BUG = ("mm/usercopy.c", 101)
# usercopy_abort's BUG(): its ud2 on the reference kernel (System.map: usercopy_abort at
# ffffffff81a1297b, the ud2 at +0x75) and the 64 bytes of code around it, and the frames
# above the module's in its Call Trace (tests/realkernel/usercopy.real.txt)
USERCOPY_SITE = (0xffffffff81a1297b + 0x75,
                 "36825148 0f45d648 89c149c7 c368bd37 82415248 c7c6c80c 368248c7 c708bd37"
                 "82490f45 f3e84d54 ffff0f0b 4889f149 89e84489 e231f648 c7c7b2bd 3782e872")
USERCOPY_FRAMES = ("__check_heap_object+0xa9/0xc0", "__check_object_size+0x1df/0x220")


def _register_bug_site():
    from .. import faults
    addr, code = USERCOPY_SITE
    code = code.replace(" ", "")
    faults.KERNEL_BUG_SITES.setdefault(USERCOPY_BUG, (addr, code))
    faults.KERNEL_CODE.setdefault(addr, bytes.fromhex(code))


_register_bug_site()


def access_ok(addr, size):
    """``__access_ok``: the whole range below TASK_SIZE_MAX (and no wrap-around)."""
    return size <= TASK_SIZE_MAX and addr <= TASK_SIZE_MAX - size


def _user_writable(m, addr, size):
    """How many bytes from ``addr`` (at most ``size``) are mapped and writable."""
    done = 0
    while done < size:
        pos = addr + done
        region = m.region_of(pos)
        if region is None or not region.perms & PROT_WRITE:
            return done
        done += min(size - done, region.end - pos)
    return done


def _user_readable(m, addr, size):
    done = 0
    while done < size:
        pos = addr + done
        region = m.region_of(pos)
        if region is None:
            return done
        done += min(size - done, region.end - pos)
    return done


def copy_to_user(k, m, to, src, n):
    """raw_copy_to_user: the bytes not copied. A kernel source that faults is the
    kernel's fault (MemoryFault goes up to the oops)."""
    if not n:
        return 0
    if not access_ok(to, n):
        return n
    room = _user_writable(m, to, n)
    for off, size in gm._pieces(src, room):
        k.budget.charge_bytes(size)
        data, fault = gm.read_upto(m, src + off, size)
        if data:
            m.write(to + off, data)
        if fault is not None:
            raise fault
    return n - room


def copy_from_user(k, m, dst, frm, n):
    """raw_copy_from_user plus _copy_from_user's zeroing of what was not copied."""
    if not n:
        return 0
    room = _user_readable(m, frm, n) if access_ok(frm, n) else 0
    for off, size in gm._pieces(frm, room):
        k.budget.charge_bytes(size)
        gm.write_upto(m, dst + off, m.read(frm + off, size))
    if room < n:
        gm.fill(k, m, dst + room, 0, n - room)
    return n - room


def put_user_bytes(k, m, to, data):
    """Copy host bytes to user memory: the count copied (a page that is not there ends
    it), for the kernel's own Python (the file layer's reads)."""
    if not access_ok(to, len(data)):
        return 0
    room = _user_writable(m, to, len(data))
    for off in range(0, room, CHUNK):
        m.write(to + off, data[off:min(room, off + CHUNK)])
    return room


def get_user_bytes(k, m, frm, n):
    """Up to ``n`` bytes of user memory (``n`` at most a CHUNK): fewer when a page is
    not there; b"" when none is."""
    if not access_ok(frm, n):
        return b""
    room = _user_readable(m, frm, min(n, CHUNK))
    return m.read(frm, room) if room else b""


@kapi("uaccess._copy_to_user", to=PTR, from_=PTR, n=ULONG)
def _copy_to_user(k, m, to, from_, n):
    # unsigned long _copy_to_user(void __user *to, const void *from, unsigned long n)
    return copy_to_user(k, m, to, from_, n)


@kapi("uaccess._copy_from_user", to=PTR, from_=PTR, n=ULONG)
def _copy_from_user(k, m, to, from_, n):
    # unsigned long _copy_from_user(void *to, const void __user *from, unsigned long n)
    return copy_from_user(k, m, to, from_, n)


@kapi("uaccess.copy_user_generic_unrolled", "uaccess.copy_user_generic_string",
      "uaccess.copy_user_enhanced_fast_string", to=PTR, from_=PTR, len_=ULONG)
def copy_user_generic(k, m, to, from_, len_):
    """The raw copies an inlined __copy_{to,from}_user calls (rdi, rsi, edx; returns the
    bytes left): which side is the user's is told by the addresses."""
    if to < TASK_SIZE_MAX:
        return copy_to_user(k, m, to, from_, len_)
    return copy_from_user(k, m, to, from_, len_)


@kapi("uaccess.strncpy_from_user", dst=PTR, src=PTR, count=LONG)
def strncpy_from_user(k, m, dst, src, count):
    """The string's length (without the NUL, which is copied when it fits), ``count``
    when it does not end within count bytes, or -EFAULT."""
    if count <= 0:
        return 0
    if src >= TASK_SIZE_MAX:
        return -errno.EFAULT
    done = 0
    while done < count:
        want = min(count - done, CHUNK - (src + done) % CHUNK)
        if not access_ok(src + done, 1):
            return -errno.EFAULT
        data = get_user_bytes(k, m, src + done, want)
        if not data:
            return -errno.EFAULT
        k.budget.charge_bytes(len(data))
        nul = data.find(b"\0")
        if nul >= 0:
            gm.write_upto(m, dst + done, data[:nul + 1])
            return done + nul
        gm.write_upto(m, dst + done, data)
        done += len(data)
    return count


@kapi("uaccess.clear_user", "uaccess.__clear_user", to=PTR, n=ULONG)
def clear_user(k, m, to, n):
    """The bytes not cleared."""
    if not access_ok(to, n):
        return n
    room = _user_writable(m, to, n)
    gm.fill(k, m, to, 0, room)
    return n - room


# --------------------------------------------------------------------------- get/put_user

def _get_user(size, check=True):
    def impl(k, m):
        rax, rdx = m.RET, m.ARGS[2]        # rax, rdx
        ptr = m.reg(rax)
        if (check and not access_ok(ptr, size)) or _user_readable(m, ptr, size) < size:
            m.set_reg(rdx, 0)
            m.set_reg(rax, -errno.EFAULT)
        else:
            m.set_reg(rdx, m.read_int(ptr, size))
            m.set_reg(rax, 0)
        m.return_from_call(None)
        return HANDLED
    return impl


def _put_user(size, check=True):
    def impl(k, m):
        from unicorn import x86_const as X
        ptr = m.uc.reg_read(X.UC_X86_REG_RCX)
        value = m.reg(m.RET)
        if (check and not access_ok(ptr, size)) or _user_writable(m, ptr, size) < size:
            m.uc.reg_write(X.UC_X86_REG_RCX, -errno.EFAULT & m.mask)
        else:
            m.write_int(ptr, size, value & ((1 << (8 * size)) - 1))
            m.uc.reg_write(X.UC_X86_REG_RCX, 0)
        m.return_from_call(None)
        return HANDLED
    return impl


for _n in (1, 2, 4, 8):
    kapi(f"uaccess.__get_user_{_n}")(_get_user(_n))
    kapi(f"uaccess.__get_user_nocheck_{_n}")(_get_user(_n, check=False))
    kapi(f"uaccess.__put_user_{_n}")(_put_user(_n))
    kapi(f"uaccess.__put_user_nocheck_{_n}")(_put_user(_n, check=False))


# --------------------------------------------------------------------------- hardened usercopy

class UsercopyAbort(Exception):
    """usercopy_abort's BUG(): raised as emulator.faults.KernelBug by the handler."""


@kapi("uaccess.__check_object_size", ptr=PTR, n=ULONG, to_user=BOOL)
def check_object_size(k, m, ptr, n, to_user):
    """__check_object_size: for a kmalloc object, the copy must stay inside it
    (__check_heap_object: ``kmalloc-<size>``'s objects are whitelisted whole); a vmalloc
    area likewise. Anything else passes here."""
    if not n:
        return None
    heap = k.slab.heap
    if heap.contains(ptr):
        start = _object_start(heap, ptr)
        if start is None:
            return None
        size_class = heap.live[start][1]
        offset = ptr - start
        if offset <= size_class and n <= size_class - offset:
            return None
        usercopy_abort(k, "SLUB object", f"kmalloc-{size_class}", to_user, offset, n)
    return None


def _object_start(heap, ptr):
    """The live object that holds ``ptr``: objects of a size class sit at multiples of
    their size (whole pages beyond 4096), so the candidates are few."""
    for size_class in sorted({c for _, c in heap.live.values()}):
        step = min(size_class, PAGE) if size_class <= PAGE else PAGE
        base = ptr - (ptr - heap.start) % step
        entry = heap.live.get(base)
        if entry is not None and base <= ptr < base + entry[1]:
            return base
        if size_class > PAGE:    # a multi-page object starts at some page before ptr
            for back in range(0, size_class, PAGE):
                entry = heap.live.get(base - back)
                if entry is not None and base - back + entry[1] > ptr:
                    return base - back
    return None


def usercopy_abort(k, name, detail, to_user, offset, n):
    from ..faults import KernelBug
    what = ("exposure", "from") if to_user else ("overwrite", "to")
    detail = f" '{detail}'" if detail else ""
    k.printk(LOGLEVEL_EMERG, f"usercopy: Kernel memory {what[0]} attempt detected {what[1]} "
                             f"{name}{detail} (offset {offset}, size {n})!")
    bug = KernelBug(*USERCOPY_BUG)
    bug.frames = USERCOPY_FRAMES if name == "SLUB object" else ()
    raise bug


__all__ = ["TASK_SIZE_MAX", "access_ok", "copy_from_user", "copy_to_user", "get_user_bytes",
           "put_user_bytes", "MemoryFault"]
