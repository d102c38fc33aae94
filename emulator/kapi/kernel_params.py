"""Module parameters, as Linux 6.1 parses, stores and shows them.

The kernel's code, step for step (``kernel/params.c``, ``next_arg`` in ``lib/cmdline.c``,
``lib/kstrtox.c``, and ``load_module``'s ``parse_args`` call and ``unknown_module_param_cb``
in ``kernel/module/main.c``), over small interfaces so that it runs without Unicorn:

* ``Memory``: ``read``/``write``/``read_cstring`` of emulated memory, where the module's
  variables and its ``__param`` section live;
* ``Kmalloc``: ``kmalloc``/``kfree``, for ``charp`` values. Wrap it in one ``ParamHeap`` per
  simulated kernel: the heap remembers which strings the parameter code allocated (the
  kernel's ``kmalloced_params`` list), so a later value frees the earlier one and a
  module's static default is never freed;
* ``printk(level, text)``: one kernel log line, without its newline. Text is decoded from the
  kernel's bytes as UTF-8 with ``surrogateescape``, so ``text.encode("utf-8",
  "surrogateescape")`` gives back the bytes the kernel logged.

Entry points: ``parse_args`` (what ``load_module`` does with the module's argument string;
``parse_module_args`` also says what was handed to dynamic debug and ``async_probe``),
``param_get`` (what ``/sys/module/<m>/parameters/<p>`` reads), ``param_set`` (one ``set``
op), ``param_store`` (a write to that sysfs file), ``param_free`` (``destroy_params`` at
unload) and ``read_params`` (the ``Param`` records of a relocated ``__param`` section).

Arguments are C strings: the kernel parses them in place and its setters mangle them
(an array setter cuts its value at each comma and leaves it cut, which is why the real
kernel reports ``p_ints=1,2,3,4,5`` as "params: `1' invalid for parameter `p_ints'"). The
code therefore works on a NUL-terminated ``bytearray`` and positions in it, like the kernel.
Checked against Debian's 6.1 kernel by ``tests/realkernel/params*.sh`` (tests/test_params.py).

What is not simulated: the ``pr_debug`` lines of ``kernel/params.c`` (dynamic debug sites;
they print hashed ``%p`` pointers), the messages dynamic debug prints for a bad ``dyndbg``
query (the queries are returned, see ``ParseResult``), and ``irqs_disabled`` warnings.
"""

import errno
from dataclasses import dataclass, field, replace
from typing import Callable, Protocol

from linker.errors import KmodError
from linker.module.params import KERNEL_PARAM, KPARAM_ARRAY, KPARAM_STRING

from linker.loglevels import LOGLEVEL_ERR, LOGLEVEL_NOTICE, LOGLEVEL_WARNING

from ..machine import MemoryFault

KERNEL_PARAM_OPS_FL_NOARG = 1 << 0          # include/linux/moduleparam.h
KERNEL_PARAM_FL_UNSAFE = 1 << 0
KERNEL_PARAM_FL_HWPARAM = 1 << 1
PAGE_SIZE = 4096
CHARP_MAXLEN = 1024                          # param_set_charp's maxlen
MODULE_LEVELS = (-32768, 32767)              # load_module: parse_args(..., -32768, 32767, ...)
ULLONG_MAX = (1 << 64) - 1


class Memory(Protocol):
    def read(self, addr: int, size: int) -> bytes: ...
    def write(self, addr: int, data: bytes) -> None: ...
    def read_cstring(self, addr: int, limit: int = 4096) -> bytes: ...


class Kmalloc(Protocol):
    def kmalloc(self, size: int) -> int: ...
    def kfree(self, addr: int) -> None: ...


Printk = Callable[[int, str], None]


def _no_printk(level, text):
    pass


# ---------------------------------------------------------------------------------------
# ABI: where the fields are, how big the C types are

@dataclass(frozen=True)
class ParamAbi:
    """Sizes and struct layouts of one architecture (pointers, ``long``, the param structs)."""

    name: str
    ptr_size: int
    long_size: int
    kernel_param: dict        # struct kernel_param field offsets and "size"
    kparam_array: dict
    kparam_string: dict

    def read_ptr(self, mem, addr):
        return int.from_bytes(mem.read(addr, self.ptr_size), "little")

    def write_ptr(self, mem, addr, value):
        mem.write(addr, value.to_bytes(self.ptr_size, "little"))

    def is_err_or_low(self, ptr):
        """vsprintf's check_pointer: below PAGE_SIZE or an ERR_PTR prints ``(efault)``."""
        return ptr < PAGE_SIZE or ptr >= (1 << 8 * self.ptr_size) - 4095   # MAX_ERRNO


X86_64 = ParamAbi("x86_64", 8, 8, KERNEL_PARAM[64], KPARAM_ARRAY[64], KPARAM_STRING[64])
I386 = ParamAbi("i386", 4, 4, KERNEL_PARAM[32], KPARAM_ARRAY[32], KPARAM_STRING[32])


@dataclass
class Param:
    """One ``struct kernel_param``, read from the module's relocated ``__param``.

    ``ops`` names the kernel's ops object (``param_ops_int``, ``param_array_ops``, ...);
    ``None`` means ops the module defines itself (``module_param_cb``), which only the
    module's code can run: give ``custom`` to the functions below. ``arg`` is the raw
    ``arg``/``str``/``arr`` pointer: the variable, or for strings and arrays the
    ``kparam_string``/``kparam_array`` whose fields are decoded into the fields below.
    """

    name: str
    ops: str | None
    perm: int
    level: int = -1
    flags: int = 0
    arg: int = 0
    # module_param_array: struct kparam_array
    elem_ops: str | None = None
    max: int = 0
    elemsize: int = 0
    num: int = 0              # address of the count (unsigned int), or 0
    elem: int = 0             # address of the first element
    # module_param_string: struct kparam_string
    maxlen: int = 0
    string: int = 0           # address of the char buffer
    ops_addr: int = 0
    kp_addr: int = 0          # where the struct kernel_param itself lives
    abi: ParamAbi = X86_64


class CustomOps(Protocol):
    """Runs a module's own ``kernel_param_ops`` (in emulated code): for ``Param.ops is None``."""

    def flags(self, param: Param) -> int: ...
    def set(self, param: Param, val: bytes | None) -> int: ...
    def get(self, param: Param) -> bytes | int: ...


class ParamOpsError(KmodError):
    """A parameter whose ops are module code, and no ``CustomOps`` to run them."""

    errno = errno.ENOSYS


# ---------------------------------------------------------------------------------------
# kmalloc_parameter / maybe_kfree_parameter

class ParamHeap:
    """``kmalloc`` plus the kernel's ``kmalloced_params`` list (kernel/params.c).

    The kernel allocates a ``struct kmalloced_param`` (a list head, then the string) and
    frees a value only if it is on that list; here the heap hands out the string itself
    and keeps the addresses. Keep one per simulated kernel: the list is global there.
    """

    def __init__(self, alloc: Kmalloc):
        self.alloc = alloc
        self.kmalloced: list[int] = []

    def kmalloc(self, size):
        return self.alloc.kmalloc(size)

    def kfree(self, addr):
        self.alloc.kfree(addr)

    def kmalloc_parameter(self, size):
        addr = self.alloc.kmalloc(size)
        if addr:
            self.kmalloced.insert(0, addr)      # list_add: at the head
        return addr

    def maybe_kfree_parameter(self, addr):
        """Does nothing if ``addr`` was not allocated by ``kmalloc_parameter``."""
        if addr in self.kmalloced:
            self.kmalloced.remove(addr)
            self.alloc.kfree(addr)


def as_param_heap(alloc):
    """``alloc`` itself if it is a ``ParamHeap``, else a new one around it (which then
    cannot free values set through an earlier heap: pass the same heap every time)."""
    return alloc if isinstance(alloc, ParamHeap) else ParamHeap(alloc)


# ---------------------------------------------------------------------------------------
# C strings in a mutable buffer

# lib/ctype.c: isspace is true for \t \n \v \f \r, space, and 0xA0 (Latin-1 NBSP)
_SPACE = frozenset(b"\t\n\v\f\r \xa0")
_XDIGIT = frozenset(b"0123456789abcdefABCDEF")


def c_buffer(args):
    """The kernel's copy of a user string: bytes up to the first NUL, plus the NUL."""
    if isinstance(args, str):
        args = args.encode("utf-8", "surrogateescape")
    args = bytes(args)
    nul = args.find(0)
    return bytearray(args if nul < 0 else args[:nul]) + b"\0"


def cstr(buf, pos):
    """The C string at ``buf[pos]``."""
    return bytes(buf[pos:buf.index(0, pos)])


def text(raw):
    return raw.decode("utf-8", "surrogateescape")


def skip_spaces(buf, pos):
    while buf[pos] in _SPACE:
        pos += 1
    return pos


@dataclass
class _Val:
    """A ``const char *val``: a position in a buffer the setters may write NULs into."""

    buf: bytearray
    pos: int

    def bytes(self):
        return cstr(self.buf, self.pos)


def _val(value):
    if value is None:
        return None
    return _Val(c_buffer(value), 0)


# ---------------------------------------------------------------------------------------
# next_arg (lib/cmdline.c)

def next_arg(buf, pos):
    """Split one argument off ``buf`` at ``pos``, writing NULs into ``buf`` as the kernel does.

    Returns ``(param, val, next)``: positions of the name and the value (``None`` when there
    is no ``=``), and of the next argument, spaces skipped. Quotes toggle quoting anywhere;
    a value that starts with ``"`` loses it and a ``"`` ending the argument; so does an
    argument that starts with ``"``. An ``=`` at the very start does not count
    (``equals == 0`` means "none yet"), so ``=x=y`` is the name ``=x`` with the value ``y``.
    """
    in_quote = quoted = False
    if buf[pos] == ord('"'):
        pos += 1
        in_quote = quoted = True
    i = equals = 0
    while buf[pos + i]:
        c = buf[pos + i]
        if c in _SPACE and not in_quote:
            break
        if equals == 0 and c == ord("="):
            equals = i
        if c == ord('"'):
            in_quote = not in_quote
        i += 1
    end = pos + i                        # args[i]: the space or the NUL that ended it
    val = None
    if equals:
        buf[pos + equals] = 0
        val = pos + equals + 1
        if buf[val] == ord('"'):         # don't include quotes in the value
            val += 1
            if buf[end - 1] == ord('"'):
                buf[end - 1] = 0
    if quoted and i > 0 and buf[end - 1] == ord('"'):
        buf[end - 1] = 0
    if buf[end]:
        buf[end] = 0
        end += 1
    return pos, val, skip_spaces(buf, end)


def split_args(args):
    """``args`` as ``parse_args`` sees it: ``([(name, value or None), ...], rest)``.

    ``rest`` is what follows a bare ``--`` (possibly ``b""``), or ``None`` if there is none.
    """
    buf = c_buffer(args)
    pos = skip_spaces(buf, 0)
    out = []
    while buf[pos]:
        param, val, pos = next_arg(buf, pos)
        if val is None and cstr(buf, param) == b"--":
            return out, cstr(buf, pos)
        out.append((cstr(buf, param), None if val is None else cstr(buf, val)))
    return out, None


def parameq(a, b):
    """Parameter names are equal if they are once every ``-`` is read as ``_``."""
    return a.replace(b"-", b"_") == b.replace(b"-", b"_")


# ---------------------------------------------------------------------------------------
# lib/kstrtox.c

def _at(s, i):
    return s[i] if i < len(s) else 0


def _parse_integer_fixup_radix(s, base):
    if base == 0:
        if _at(s, 0) == ord("0"):
            base = 16 if (_at(s, 1) | 0x20) == ord("x") and _at(s, 2) in _XDIGIT else 8
        else:
            base = 10
    if base == 16 and _at(s, 0) == ord("0") and (_at(s, 1) | 0x20) == ord("x"):
        s = s[2:]
    return s, base


def _parse_integer(s, base):
    """(characters consumed, exact value): overflow is ``value > ULLONG_MAX``."""
    res = n = 0
    for c in s:
        if ord("0") <= c <= ord("9"):
            digit = c - ord("0")
        elif ord("a") <= (c | 0x20) <= ord("f"):
            digit = (c | 0x20) - ord("a") + 10
        else:
            break
        if digit >= base:
            break
        res = res * base + digit
        n += 1
    return n, res


def _kstrtoull(s, base):
    s, base = _parse_integer_fixup_radix(s, base)
    n, res = _parse_integer(s, base)
    if res > ULLONG_MAX:                 # checked before "no digits" and trailing junk
        return -errno.ERANGE, None
    if n == 0:
        return -errno.EINVAL, None
    rest = s[n:]
    if rest[:1] == b"\n":
        rest = rest[1:]
    if rest:
        return -errno.EINVAL, None
    return 0, res


def kstrtoull(s, base=0):
    """``(0, value)`` or ``(-errno, None)``. A leading ``+`` is allowed, ``-`` is not."""
    s = bytes(s)
    if s[:1] == b"+":
        s = s[1:]
    return _kstrtoull(s, base)


def kstrtoll(s, base=0):
    s = bytes(s)
    if s[:1] == b"-":
        rc, tmp = _kstrtoull(s[1:], base)    # no '+' after the '-'
        if rc:
            return rc, None
        if tmp > 1 << 63:                    # (long long)-tmp > 0
            return -errno.ERANGE, None
        return 0, -tmp
    rc, tmp = kstrtoull(s, base)
    if rc:
        return rc, None
    if tmp >= 1 << 63:                       # (long long)tmp < 0
        return -errno.ERANGE, None
    return 0, tmp


def kstrtox(s, size, signed, base=0):
    """kstrtou8 ... kstrtoull and kstrtos8 ... kstrtoll: ``size`` bytes, signed or not."""
    rc, value = (kstrtoll if signed else kstrtoull)(s, base)
    if rc:
        return rc, None
    bits = 8 * size
    lo, hi = (-(1 << bits - 1), (1 << bits - 1) - 1) if signed else (0, (1 << bits) - 1)
    if not lo <= value <= hi:
        return -errno.ERANGE, None
    return 0, value


def kstrtobool(s):
    """6.1: only the first one or two characters count. ``None`` is -EINVAL, as NULL is."""
    if s is None:
        return -errno.EINVAL, None
    s = bytes(s)
    first, second = _at(s, 0), _at(s, 1)
    if first in b"yYtT1":
        return 0, True
    if first in b"nNfF0":
        return 0, False
    if first in b"oO":
        if second in b"nN":
            return 0, True
        if second in b"fF":
            return 0, False
    return -errno.EINVAL, None


# ---------------------------------------------------------------------------------------
# The standard ops: set(val, kp, ctx) -> 0 or -errno; get(kp, ctx) -> bytes

@dataclass
class _Ctx:
    mem: Memory
    heap: ParamHeap
    printk: Printk
    custom: CustomOps | None = None
    add_taint: Callable[[str], None] | None = None
    locked_down: bool = False


@dataclass(frozen=True)
class _Ops:
    set: Callable
    get: Callable
    flags: int = 0
    free: Callable | None = None


def _scnprintf(data):
    """What ``scnprintf(buffer, PAGE_SIZE, ...)`` keeps."""
    return data[:PAGE_SIZE - 1]


def _integer(size, signed, fmt=None):
    """STANDARD_PARAM_DEF: kstrtoXX(val, 0, arg) and one number plus newline."""
    def size_of(kp):
        return kp.abi.long_size if size == "long" else size

    def set_(val, kp, ctx):
        n = size_of(kp)
        rc, value = kstrtox(val.bytes(), n, signed)
        if rc == 0:
            ctx.mem.write(kp.arg, value.to_bytes(n, "little", signed=signed))
        return rc

    def get(kp, ctx):
        n = size_of(kp)
        value = int.from_bytes(ctx.mem.read(kp.arg, n), "little", signed=signed)
        return _scnprintf((fmt(value) if fmt else str(value)).encode() + b"\n")

    return _Ops(set_, get)


def _hex(value):
    """The kernel's ``%#08x``: the ``0x`` counts in the width and is there even for 0."""
    return f"0x{value:06x}"


def _read_bool(kp, ctx):
    return ctx.mem.read(kp.arg, 1)[0] != 0


def _set_bool(val, kp, ctx):
    rc, value = kstrtobool(b"1" if val is None else val.bytes())   # no equals means "set"
    if rc == 0:
        ctx.mem.write(kp.arg, bytes([value]))
    return rc


def _get_bool(kp, ctx):
    return b"Y\n" if _read_bool(kp, ctx) else b"N\n"


def _set_bool_enable_only(val, kp, ctx):
    rc, new = kstrtobool(b"1" if val is None else val.bytes())
    if rc:
        return rc
    if not new and _read_bool(kp, ctx):     # don't let them unset it once it's set
        return -errno.EROFS
    if new:
        ctx.mem.write(kp.arg, b"\x01")
    return 0


def _set_invbool(val, kp, ctx):
    rc, value = kstrtobool(b"1" if val is None else val.bytes())
    if rc == 0:
        ctx.mem.write(kp.arg, bytes([not value]))
    return rc


def _get_invbool(kp, ctx):
    return b"N\n" if _read_bool(kp, ctx) else b"Y\n"


def _set_bint(val, kp, ctx):
    rc, value = kstrtobool(b"1" if val is None else val.bytes())
    if rc == 0:
        ctx.mem.write(kp.arg, int(value).to_bytes(4, "little"))
    return rc


def _show_string(ctx, abi, ptr):
    """``%s`` of a char pointer, as vsprintf prints it."""
    if ptr == 0:
        return b"(null)"
    if abi.is_err_or_low(ptr):
        return b"(efault)"
    return ctx.mem.read_cstring(ptr, PAGE_SIZE)


def _set_charp(val, kp, ctx):
    value = val.bytes()
    if len(value) > CHARP_MAXLEN:
        ctx.printk(LOGLEVEL_ERR, f"{kp.name}: string parameter too long")
        return -errno.ENOSPC
    addr = ctx.heap.kmalloc_parameter(len(value) + 1)
    if not addr:
        return -errno.ENOMEM
    ctx.mem.write(addr, value + b"\0")
    ctx.heap.maybe_kfree_parameter(kp.abi.read_ptr(ctx.mem, kp.arg))
    kp.abi.write_ptr(ctx.mem, kp.arg, addr)
    return 0


def _get_charp(kp, ctx):
    return _scnprintf(_show_string(ctx, kp.abi, kp.abi.read_ptr(ctx.mem, kp.arg)) + b"\n")


def _free_charp(kp, ctx):
    ctx.heap.maybe_kfree_parameter(kp.abi.read_ptr(ctx.mem, kp.arg))


def _set_copystring(val, kp, ctx):
    value = val.bytes()
    if len(value) >= kp.maxlen:             # strnlen(val, maxlen) == maxlen
        ctx.printk(LOGLEVEL_ERR, f"{kp.name}: string doesn't fit in "
                             f"{(kp.maxlen - 1) & 0xFFFFFFFF} chars.")
        return -errno.ENOSPC
    ctx.mem.write(kp.string, value + b"\0")
    return 0


def _get_string(kp, ctx):
    return _scnprintf(ctx.mem.read_cstring(kp.string, PAGE_SIZE) + b"\n")


def _element(kp, i):
    """The ``struct kernel_param`` param_array builds for element ``i``: same name."""
    return replace(kp, ops=kp.elem_ops, arg=kp.elem + i * kp.elemsize)


def _write_num(kp, ctx, count):
    if kp.num:                              # else the kernel counts in a temporary
        ctx.mem.write(kp.num, count.to_bytes(4, "little"))


def _read_num(kp, ctx):
    if kp.num:
        return int.from_bytes(ctx.mem.read(kp.num, 4), "little")
    return kp.max


def _set_array(val, kp, ctx):
    """param_array: comma-separated, each with the element setter; the commas become NULs
    and stay so (parse_args then prints only the first element). The count grows as
    elements are stored, so a failure leaves the ones before it."""
    elem_set = _ops_of(kp.elem_ops, kp, ctx).set
    buf, pos = val.buf, val.pos
    count = 0
    _write_num(kp, ctx, count)
    while True:
        if count == kp.max:
            ctx.printk(LOGLEVEL_ERR, f"{kp.name}: can only take {kp.max} arguments")
            return -errno.EINVAL
        length = 0
        while buf[pos + length] not in (0, ord(",")):
            length += 1
        save = buf[pos + length]
        buf[pos + length] = 0
        rc = elem_set(_Val(buf, pos), _element(kp, count), ctx)
        if rc:
            return rc
        pos += length + 1
        count += 1
        _write_num(kp, ctx, count)
        if save != ord(","):
            break
    # "needs at least %i arguments" cannot happen: the minimum is 1 and the loop ran once.
    return 0


def _get_array(kp, ctx):
    elem_get = _ops_of(kp.elem_ops, kp, ctx).get
    out = bytearray()
    for i in range(_read_num(kp, ctx)):
        if i:
            out[-1:] = b","                 # replace the element's \n with a comma
        out += elem_get(_element(kp, i), ctx)
    return bytes(out)


def _free_array(kp, ctx):
    if kp.elem_ops not in STANDARD_OPS:
        # the module's own element ops: param_array_free calls their ->free, which such
        # ops leave NULL in practice (lis3lv02d's axes); kmodsim runs none at unload
        return
    elem_free = _ops_of(kp.elem_ops, kp, ctx).free
    if elem_free:
        for i in range(_read_num(kp, ctx)):
            elem_free(_element(kp, i), ctx)


STANDARD_OPS = {
    "param_ops_byte": _integer(1, False),            # %hhu
    "param_ops_short": _integer(2, True),            # %hi
    "param_ops_ushort": _integer(2, False),          # %hu
    "param_ops_int": _integer(4, True),              # %i
    "param_ops_uint": _integer(4, False),            # %u
    "param_ops_long": _integer("long", True),        # %li
    "param_ops_ulong": _integer("long", False),      # %lu
    "param_ops_ullong": _integer(8, False),          # %llu
    "param_ops_hexint": _integer(4, False, _hex),    # %#08x
    "param_ops_charp": _Ops(_set_charp, _get_charp, free=_free_charp),
    "param_ops_bool": _Ops(_set_bool, _get_bool, KERNEL_PARAM_OPS_FL_NOARG),
    "param_ops_bool_enable_only": _Ops(_set_bool_enable_only, _get_bool,
                                       KERNEL_PARAM_OPS_FL_NOARG),
    "param_ops_invbool": _Ops(_set_invbool, _get_invbool),
    "param_ops_bint": _Ops(_set_bint, _integer(4, True).get, KERNEL_PARAM_OPS_FL_NOARG),
    "param_ops_string": _Ops(_set_copystring, _get_string),
    "param_array_ops": _Ops(_set_array, _get_array, free=_free_array),
}


def _custom_ops(ctx, kp):
    if ctx.custom is None:
        raise ParamOpsError(f"{kp.name}: kernel_param_ops at {kp.ops_addr:#x} are module code; "
                            f"no CustomOps given to run them")
    custom = ctx.custom
    return _Ops(lambda val, p, c: custom.set(p, None if val is None else val.bytes()),
                lambda p, c: _custom_get(custom, p),
                custom.flags(kp))


def _custom_get(custom, kp):
    out = custom.get(kp)
    if isinstance(out, int):
        raise ParamOpsError(f"{kp.name}: get failed ({out})", -out)
    return out


def _ops_of(name, kp, ctx):
    ops = STANDARD_OPS.get(name) if name else None
    return ops if ops is not None else _custom_ops(ctx, kp)


# ---------------------------------------------------------------------------------------
# parse_one / parse_args (kernel/params.c), unknown_module_param_cb (kernel/module/main.c)

def _check_unsafe(kp, ctx):
    """param_check_unsafe: a hardware parameter is refused under lockdown; an unsafe one
    taints the kernel (U)."""
    if kp.flags & KERNEL_PARAM_FL_HWPARAM and ctx.locked_down:
        return False
    if kp.flags & KERNEL_PARAM_FL_UNSAFE:
        ctx.printk(LOGLEVEL_NOTICE, f"Setting dangerous option {kp.name} - tainting kernel")
        if ctx.add_taint:
            ctx.add_taint("U")
    return True


def _parse_one(buf, param, val, params, levels, unknown, ctx):
    name = cstr(buf, param)
    for kp in params:
        if parameq(name, kp.name.encode("utf-8", "surrogateescape")):
            if not levels[0] <= kp.level <= levels[1]:
                return 0
            ops = _ops_of(kp.ops, kp, ctx)
            if val is None and not ops.flags & KERNEL_PARAM_OPS_FL_NOARG:
                return -errno.EINVAL        # no one handled NULL, so do it here
            if not _check_unsafe(kp, ctx):
                return -errno.EPERM
            return ops.set(None if val is None else _Val(buf, val), kp, ctx)
    if unknown is not None:
        return unknown(buf, param, val)
    return -errno.ENOENT


@dataclass
class ParseResult:
    """What ``load_module`` learns from ``parse_args``.

    ``rc``: 0 or the last error (the load then fails with it). ``after_dashes``: what
    followed a bare ``--`` (already reported as ignored), or ``None``. ``async_probe``:
    the module's ``async_probe_requested`` if an ``async_probe`` argument was given.
    ``dyndbg``: ``(module, query)`` pairs handed to dynamic debug (``dyndbg=Q`` and
    ``<module>.dyndbg=Q``; a bare ``dyndbg`` is the query ``+p``), to be applied by
    whoever simulates dynamic debug.
    """

    rc: int = 0
    after_dashes: str | None = None
    async_probe: bool | None = None
    dyndbg: list = field(default_factory=list)


def _query(value):
    return b"+p" if value is None else value       # ddebug_exec_queries(val ?: "+p", ...)


def _unknown_module_param(modname, result, printk):
    """unknown_module_param_cb: async_probe, then dynamic debug, else a warning; never fails.

    An unknown callback takes ``(buf, param, val)``: the argument buffer and the positions
    of the name and the value (``None``: no value); it may write into ``buf``.
    """
    def unknown(buf, param, val):
        name = cstr(buf, param)
        value = None if val is None else cstr(buf, val)
        if name == b"async_probe":
            rc, flag = kstrtobool(value)
            result.async_probe = True if rc else flag
            return 0
        # ddebug_dyndbg_param_cb: "mod.dyndbg" names another module; it cuts the name at
        # the dot in place, so an unknown "foo.bar" is reported as 'foo'.
        target, sep, rest = name.partition(b".")
        if sep:
            buf[param + len(target)] = 0
            if rest == b"dyndbg":
                result.dyndbg.append((text(target), text(_query(value))))
                return 0
        elif name == b"dyndbg":
            result.dyndbg.append((modname, text(_query(value))))
            return 0
        printk(LOGLEVEL_WARNING, f"{modname}: unknown parameter '{text(cstr(buf, param))}' ignored")
        return 0
    return unknown


def kernel_parse_args(doing, args, params, mem, alloc, printk, *, levels=MODULE_LEVELS,
                      unknown=None, custom=None, add_taint=None, locked_down=False):
    """The kernel's generic parse_args: returns ``(err, after_dashes)``.

    Every argument is tried even after an error; the last error wins. A bare ``--`` stops
    parsing: then the rest is returned, unless an error came first. Parameters whose level
    is outside ``levels`` are skipped silently; names no parameter has go to ``unknown``,
    or are -ENOENT (``Unknown parameter``) without one, as on the kernel command line.
    """
    ctx = _Ctx(mem, as_param_heap(alloc), printk, custom, add_taint, locked_down)
    buf = args if isinstance(args, bytearray) else c_buffer(args)
    pos = skip_spaces(buf, 0)
    err = 0
    while buf[pos]:
        param, val, pos = next_arg(buf, pos)
        if val is None and cstr(buf, param) == b"--":
            return err, (None if err else text(cstr(buf, pos)))
        rc = _parse_one(buf, param, val, params, levels, unknown, ctx)
        if rc == 0:
            continue
        name = text(cstr(buf, param))
        shown = "" if val is None else text(cstr(buf, val))
        if rc == -errno.ENOENT:
            ctx.printk(LOGLEVEL_ERR, f"{doing}: Unknown parameter `{name}'")
        elif rc == -errno.ENOSPC:
            ctx.printk(LOGLEVEL_ERR, f"{doing}: `{shown}' too large for parameter `{name}'")
        else:
            ctx.printk(LOGLEVEL_ERR, f"{doing}: `{shown}' invalid for parameter `{name}'")
        err = rc
    return err, None


def parse_module_args(modname, args, params, mem, alloc, printk, *, custom=None,
                      add_taint=None, locked_down=False):
    """load_module's step: parse_args(mod->name, mod->args, ...) and its `--' warning."""
    result = ParseResult()
    err, after = kernel_parse_args(modname, args, params, mem, alloc, printk,
                                   unknown=_unknown_module_param(modname, result, printk),
                                   custom=custom, add_taint=add_taint, locked_down=locked_down)
    result.rc = err
    if not err and after is not None:
        result.after_dashes = after
        printk(LOGLEVEL_WARNING, f"{modname}: parameters '{after}' after `--' ignored")
    return result


def parse_args(modname, args, params, mem, alloc, printk, *, custom=None, add_taint=None,
               locked_down=False):
    """Parse a module's argument string into its parameters: 0 or -errno."""
    return parse_module_args(modname, args, params, mem, alloc, printk, custom=custom,
                             add_taint=add_taint, locked_down=locked_down).rc


# ---------------------------------------------------------------------------------------
# One parameter: get, set, sysfs store, free

def param_get(param, mem, *, custom=None):
    """``ops->get``: the bytes ``/sys/module/<m>/parameters/<p>`` reads (``b"42\\n"``)."""
    ctx = _Ctx(mem, None, _no_printk, custom)
    return _ops_of(param.ops, param, ctx).get(param, ctx)


def param_set(param, value, mem, alloc, printk=_no_printk, *, custom=None):
    """``ops->set(value, param)``: 0 or -errno. ``value`` is a str or bytes (a C string:
    a NUL ends it), or ``None`` for a bare name; ``None`` gives -EINVAL unless the ops
    have KERNEL_PARAM_OPS_FL_NOARG (parse_one's check; the kernel setters would crash)."""
    ctx = _Ctx(mem, as_param_heap(alloc), printk, custom)
    ops = _ops_of(param.ops, param, ctx)
    if value is None and not ops.flags & KERNEL_PARAM_OPS_FL_NOARG:
        return -errno.EINVAL
    return ops.set(_val(value), param, ctx)


def param_store(param, data, mem, alloc, printk=_no_printk, *, custom=None, add_taint=None,
                locked_down=False):
    """param_attr_store: a write of ``data`` to the sysfs file. Returns ``len(data)`` or
    -errno. The set op sees the bytes as written, newline included (sysfs adds the NUL).
    Whether the file accepts writes at all (``perm`` has a write bit) is sysfs's check."""
    data = bytes(data)
    ctx = _Ctx(mem, as_param_heap(alloc), printk, custom, add_taint, locked_down)
    ops = _ops_of(param.ops, param, ctx)
    if not _check_unsafe(param, ctx):
        return -errno.EPERM
    rc = ops.set(_val(data), param, ctx)
    return rc if rc else len(data)


def param_free(param, mem, alloc):
    """destroy_params at unload: ``ops->free`` (charp values and charp array elements
    that the parameter code allocated go back to the heap)."""
    ctx = _Ctx(mem, as_param_heap(alloc), _no_printk)
    ops = STANDARD_OPS.get(param.ops) if param.ops else None
    if ops is not None and ops.free is not None:
        ops.free(param, ctx)


def sysfs_params(params):
    """The files of ``/sys/module/<m>/parameters/``: the parameters with ``perm != 0``,
    each with mode ``perm``, writable only if a write bit is set (add_sysfs_param)."""
    return [kp for kp in params if kp.perm]


# ---------------------------------------------------------------------------------------
# __param

def read_params(mem, addr, size, ops_name, abi=X86_64, *, bits=None):
    """The ``Param`` records of a relocated ``__param`` section at ``addr``.

    ``ops_name(address)`` maps an ops pointer back to the exported symbol
    (``"param_ops_int"``), or ``None`` for ops defined by the module. ``abi`` is
    ``X86_64`` or ``I386``; ``bits`` (the ELF class, 64 or 32) picks one instead. The
    kernel takes ``size // sizeof(struct kernel_param)`` entries.
    """
    if bits is not None:
        abi = {64: X86_64, 32: I386}[bits]
    lay = abi.kernel_param
    out = []
    rec = lay["size"]
    chunk = (64 << 10) // rec * rec
    end = addr + size // rec * rec
    for at in range(addr, end, chunk):
        n = min(chunk, end - at)
        try:
            if mem.read(at, n) == bytes(n):
                continue    # all-zero records (a NOBITS section): no name, nothing to read
        except MemoryFault:
            pass
        for base in range(at, at + n, rec):
            try:
                out.append(_read_param(mem, base, lay, ops_name, abi))
            except MemoryFault:
                # a record whose name (or array/string descriptor) points at no memory:
                # only a corrupt module has one (a section renamed __param); the real
                # kernel would fault on it in parse_args or the sysfs setup. kmodsim
                # leaves it out.
                continue
    return out


def _read_param(mem, base, lay, ops_name, abi):
    """One ``struct kernel_param`` at ``base`` (MemoryFault: it points at no memory)."""
    def u(off, n, signed=False):
        return int.from_bytes(mem.read(base + off, n), "little", signed=signed)

    name_addr = abi.read_ptr(mem, base + lay["name"])
    ops_addr = abi.read_ptr(mem, base + lay["ops"])
    kp = Param(name=text(mem.read_cstring(name_addr)), ops=ops_name(ops_addr),
               perm=u(lay["perm"], 2), level=u(lay["level"], 1, True),
               flags=u(lay["flags"], 1), arg=abi.read_ptr(mem, base + lay["arg"]),
               ops_addr=ops_addr, kp_addr=base, abi=abi)
    if kp.ops == "param_array_ops":
        arr = abi.kparam_array
        kp.max = int.from_bytes(mem.read(kp.arg + arr["max"], 4), "little")
        kp.elemsize = int.from_bytes(mem.read(kp.arg + arr["elemsize"], 4), "little")
        kp.num = abi.read_ptr(mem, kp.arg + arr["num"])
        kp.elem_ops = ops_name(abi.read_ptr(mem, kp.arg + arr["ops"]))
        kp.elem = abi.read_ptr(mem, kp.arg + arr["elem"])
    elif kp.ops == "param_ops_string":
        st = abi.kparam_string
        kp.maxlen = int.from_bytes(mem.read(kp.arg + st["maxlen"], 4), "little")
        kp.string = abi.read_ptr(mem, kp.arg + st["string"])
    return kp
