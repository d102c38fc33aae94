"""The kernel's ``vsnprintf()``: Linux 6.1 ``lib/vsprintf.c``, conversion by conversion, in Python.

Pure Python and independent of Unicorn. The formatter sees the emulated world through two
small interfaces: an :class:`ArgSource` hands out the variadic arguments one slot at a time,
and a :class:`Memory` reads what pointers point at (raising :class:`MemoryFault` when they
point nowhere). Kallsyms, ``struct va_format`` and kernel objects come in as callbacks.

:func:`vsnprintf` returns a :class:`Formatted`; the rest of the family is one line each::

    vsnprintf(buf, size, ...)  -> r.length,  write r.buffer       (the C99 return value)
    vscnprintf / scnprintf     -> r.written, write r.buffer       (what fits, without the NUL)
    sprintf / vsprintf         -> size=None: nothing is truncated
    printk                     -> emulator.kapi.printk_format.vprintk (one record per call)

Functions are named after the kernel function they imitate (``number``, ``widen_string``,
``string_nocheck``, ``pointer``, ``format_decode`` ...), so each can be read side by side with
the C. Like the kernel, every conversion builds its full text; truncation to ``size`` happens
once at the end, which gives the same bytes as the kernel's ``buf < end`` checks.

Choices where the kernel depends on the running system (all in :class:`PrintfConfig`):

* ``%p`` hashes like a booted 6.1: SipHash-2-4 of the pointer (``siphash_1u64`` on 64-bit,
  ``siphash_1u32`` on 32-bit) keyed with ``ptr_key``, low 32 bits, zero-padded to pointer
  width. The kernel's key is random per boot; ours defaults to the fixed
  :data:`DEFAULT_PTR_KEY`, so runs are reproducible. ``ptr_key=None`` is "key not ready yet"
  (``(____ptrval____)``), ``no_hash_pointers=True`` prints raw values, and
  ``debug_boot_weak_hash=True`` uses ``hash_long()``.
* ``%pK`` follows ``kptr_restrict`` (default 0, the kernel's and a bare busybox system's:
  hashed like ``%p``); 1 prints zeros unless ``cap_syslog``; 2 always prints zeros.
* A pointer below ``PAGE_SIZE`` or in the ERR_PTR range prints ``(efault)``, NULL prints
  ``(null)`` (``check_pointer_msg``). Any other pointer is dereferenced, as 6.1 does: when
  that faults, 6.1 oopses, so by default the :class:`MemoryFault` propagates to the caller
  (which can render the oops). ``on_fault="efault"`` prints ``(efault)`` for the conversion
  instead, as kernels before 5.2 did.
* Kernel config as Debian 6.1 builds it: ``CONFIG_KALLSYMS``, ``CONFIG_SYMBOLIC_ERRNAME``,
  ``CONFIG_COMMON_CLK``, ``CONFIG_BLOCK``; no ``CONFIG_OF``, ``CONFIG_RUST``,
  ``CONFIG_STACKTRACE_BUILD_ID`` (so ``%pSb`` prints like ``%pS``).

Conversions that need kernel objects the simulator may not model (``%pd %pD %pg %pC %pfw
%pG %pOF``) check the pointer like the kernel, then ask the ``object_name(ext, addr)``
callback; without an answer they print the hashed pointer (``%pG`` prints the flags value
in hex). See :func:`vsnprintf` for the callbacks.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Callable, Protocol

from linker.bits import MASK64, mask, sign_extend

# printf_spec.flags, as lib/vsprintf.c spells them
SIGN = 1        # unsigned/signed
LEFT = 2        # left justified
PLUS = 4        # show plus
SPACE = 8       # space if plus
ZEROPAD = 16    # pad with zero
SMALL = 32      # use lowercase in hex
SPECIAL = 64    # prefix hex with "0x", octal with "0"

FIELD_WIDTH_MAX = (1 << 23) - 1     # printf_spec.field_width is a signed 24-bit field
PRECISION_MAX = (1 << 15) - 1       # printf_spec.precision is a signed 16-bit field
INT_MAX = (1 << 31) - 1
MAX_ERRNO = 4095

DEFAULT_PTR_KEY = b"kmodsim ptr key!"   # 16 bytes: siphash_key_t, little-endian u64 pair


class FormatType(IntEnum):
    """``enum format_type``: what ``format_decode`` found."""

    FORMAT_TYPE_NONE = 0            # just a string part
    FORMAT_TYPE_WIDTH = 1
    FORMAT_TYPE_PRECISION = 2
    FORMAT_TYPE_CHAR = 3
    FORMAT_TYPE_STR = 4
    FORMAT_TYPE_PTR = 5
    FORMAT_TYPE_PERCENT_CHAR = 6
    FORMAT_TYPE_INVALID = 7
    FORMAT_TYPE_LONG_LONG = 8
    FORMAT_TYPE_ULONG = 9
    FORMAT_TYPE_LONG = 10
    FORMAT_TYPE_UBYTE = 11
    FORMAT_TYPE_BYTE = 12
    FORMAT_TYPE_USHORT = 13
    FORMAT_TYPE_SHORT = 14
    FORMAT_TYPE_UINT = 15
    FORMAT_TYPE_INT = 16
    FORMAT_TYPE_SIZE_T = 17
    FORMAT_TYPE_PTRDIFF = 18


(FORMAT_TYPE_NONE, FORMAT_TYPE_WIDTH, FORMAT_TYPE_PRECISION, FORMAT_TYPE_CHAR, FORMAT_TYPE_STR,
 FORMAT_TYPE_PTR, FORMAT_TYPE_PERCENT_CHAR, FORMAT_TYPE_INVALID, FORMAT_TYPE_LONG_LONG,
 FORMAT_TYPE_ULONG, FORMAT_TYPE_LONG, FORMAT_TYPE_UBYTE, FORMAT_TYPE_BYTE, FORMAT_TYPE_USHORT,
 FORMAT_TYPE_SHORT, FORMAT_TYPE_UINT, FORMAT_TYPE_INT, FORMAT_TYPE_SIZE_T,
 FORMAT_TYPE_PTRDIFF) = FormatType


class MemoryFault(Exception):
    """A read the emulated memory cannot serve; ``addr`` is where it failed."""

    def __init__(self, addr, message=None):
        super().__init__(message or f"read of unmapped address {addr:#x}")
        self.addr = addr


class ArgSource(Protocol):
    """Where the variadic arguments come from, one register or stack slot at a time."""

    def next_int(self) -> int:
        """The next integer-class slot, as the caller left it (upper bits may be garbage)."""


class Memory(Protocol):
    """The emulated memory. Both methods raise :class:`MemoryFault` on an unmapped byte."""

    def read(self, addr: int, size: int) -> bytes: ...

    def read_cstring(self, addr: int, limit: int = 4096) -> bytes:
        """Bytes from ``addr`` up to (not including) the NUL, at most ``limit`` of them."""


# -- the configuration ------------------------------------------------------------------

@dataclass(frozen=True)
class PrintfConfig:
    """The C type sizes and the kernel state that change what vsnprintf prints."""

    int_bits: int = 32
    long_bits: int = 64             # also size_t, ptrdiff_t
    ptr_bits: int = 64
    slot_bits: int = 64             # one variadic slot; a wider argument takes two (i386)
    phys_addr_bits: int = 64        # phys_addr_t, resource_size_t (%pa, %pR)
    dma_addr_bits: int = 64         # dma_addr_t (%pad)
    page_size: int = 4096
    ptr_key: bytes | None = DEFAULT_PTR_KEY     # None: "(____ptrval____)", key not ready
    no_hash_pointers: bool = False
    debug_boot_weak_hash: bool = False
    kptr_restrict: int = 0
    cap_syslog: bool = True         # current has CAP_SYSLOG and unchanged credentials
    in_irq: bool = False
    config_of: bool = False         # CONFIG_OF (device tree): off on Debian x86
    on_fault: str = "raise"         # "raise" (6.1: oops) or "efault" (print "(efault)")
    fault_types: tuple = (MemoryFault,)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


X86_64 = PrintfConfig()
# Debian's 686 flavour: no PAE, so phys_addr_t and dma_addr_t are 32-bit
I386 = PrintfConfig(long_bits=32, ptr_bits=32, slot_bits=32, phys_addr_bits=32,
                    dma_addr_bits=32)


@dataclass(frozen=True)
class Formatted:
    """One vsnprintf call: ``text`` in the buffer (no NUL), ``length`` untruncated."""

    text: bytes
    length: int             # vsnprintf()'s return value
    buffer: bytes           # the bytes stored at buf: text plus NUL, or nothing for size 0

    @property
    def written(self):
        """vscnprintf()'s return value: what actually landed, without the NUL."""
        return len(self.text)

    def __iter__(self):
        """``text, length = vsnprintf(...)``."""
        return iter((self.text, self.length))


@dataclass
class PrintfSpec:
    """``struct printf_spec``."""

    type: int = FORMAT_TYPE_NONE
    field_width: int = -1
    flags: int = 0
    base: int = 10
    precision: int = -1

    def copy(self, **changes):
        return dataclasses.replace(self, **changes)




# -- argument sources ---------------------------------------------------------------------

class ListArgs:
    """An :class:`ArgSource` over a Python list (tests, and stubs that read args up front)."""

    def __init__(self, values):
        self.values = list(values)
        self.pos = 0

    def next_int(self):
        if self.pos >= len(self.values):
            raise IndexError(f"format wants argument {self.pos + 1}, only {len(self.values)} given")
        value = self.values[self.pos]
        self.pos += 1
        return value & MASK64


class VaListArgs:
    """A ``va_list`` in emulated memory, read without changing it (like ``va_copy``).

    x86-64 (``bits=64``): the SysV ``__va_list_tag`` (gp_offset, fp_offset,
    overflow_arg_area, reg_save_area): six general registers saved at reg_save_area, then
    8-byte stack slots. i386 (``bits=32``): a ``char *`` walking 4-byte stack slots.
    """

    def __init__(self, mem, va_list_addr, *, bits=64):
        self.mem = mem
        self.bits = bits
        if bits == 64:
            fields = struct.unpack("<IIQQ", mem.read(va_list_addr, 24))
            self.gp_offset, self.fp_offset, self.overflow_arg_area, self.reg_save_area = fields
        else:
            self.ap = int.from_bytes(mem.read(va_list_addr, 4), "little")

    def next_int(self):
        if self.bits == 32:
            value = int.from_bytes(self.mem.read(self.ap, 4), "little")
            self.ap = (self.ap + 4) & mask(32)
            return value
        if self.gp_offset < 48:
            addr = self.reg_save_area + self.gp_offset
            self.gp_offset += 8
        else:
            addr = self.overflow_arg_area
            self.overflow_arg_area += 8
        return int.from_bytes(self.mem.read(addr, 8), "little")


# -- SipHash-2-4 (lib/siphash.c) and hash_long (include/linux/hash.h) ------------------------

_SIP_CONST = (0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573)
GOLDEN_RATIO_32 = 0x61C88647
GOLDEN_RATIO_64 = 0x61C8864680B583EB


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & MASK64


def _sipround(v0, v1, v2, v3):
    v0 = (v0 + v1) & MASK64
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & MASK64
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & MASK64
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & MASK64
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash(data: bytes, key: bytes) -> int:
    """SipHash-2-4 of ``data`` under a 16-byte key, as the kernel's ``siphash()``."""
    k0, k1 = struct.unpack("<QQ", key)
    v0, v1, v2, v3 = k0 ^ _SIP_CONST[0], k1 ^ _SIP_CONST[1], k0 ^ _SIP_CONST[2], k1 ^ _SIP_CONST[3]
    whole = len(data) - len(data) % 8
    for off in range(0, whole, 8):
        m = int.from_bytes(data[off:off + 8], "little")
        v3 ^= m
        v0, v1, v2, v3 = _sipround(*_sipround(v0, v1, v2, v3))
        v0 ^= m
    b = (len(data) & 0xFF) << 56 | int.from_bytes(data[whole:], "little")
    v3 ^= b
    v0, v1, v2, v3 = _sipround(*_sipround(v0, v1, v2, v3))
    v0 ^= b
    v2 ^= 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def siphash_1u64(first, key):
    return siphash((first & MASK64).to_bytes(8, "little"), key)


def siphash_1u32(first, key):
    return siphash((first & mask(32)).to_bytes(4, "little"), key)


def hash_long(val, bits, long_bits=64):
    """``hash_long(val, bits)``: the multiplicative hash ``debug_boot_weak_hash`` uses."""
    if long_bits == 64:
        return ((val * GOLDEN_RATIO_64) & MASK64) >> (64 - bits)
    return ((val * GOLDEN_RATIO_32) & mask(32)) >> (32 - bits)


# -- errno names (lib/errname.c, x86 numbering) ------------------------------------------

_ERRNO_NAMES = (
    "EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN ENOMEM EACCES "
    "EFAULT ENOTBLK EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ENOTTY "
    "ETXTBSY EFBIG ENOSPC ESPIPE EROFS EMLINK EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK "
    "ENOSYS ENOTEMPTY ELOOP - ENOMSG EIDRM ECHRNG EL2NSYNC EL3HLT EL3RST ELNRNG EUNATCH "
    "ENOCSI EL2HLT EBADE EBADR EXFULL ENOANO EBADRQC EBADSLT - EBFONT ENOSTR ENODATA ETIME "
    "ENOSR ENONET ENOPKG EREMOTE ENOLINK EADV ESRMNT ECOMM EPROTO EMULTIHOP EDOTDOT EBADMSG "
    "EOVERFLOW ENOTUNIQ EBADFD EREMCHG ELIBACC ELIBBAD ELIBSCN ELIBMAX ELIBEXEC EILSEQ "
    "ERESTART ESTRPIPE EUSERS ENOTSOCK EDESTADDRREQ EMSGSIZE EPROTOTYPE ENOPROTOOPT "
    "EPROTONOSUPPORT ESOCKTNOSUPPORT EOPNOTSUPP EPFNOSUPPORT EAFNOSUPPORT EADDRINUSE "
    "EADDRNOTAVAIL ENETDOWN ENETUNREACH ENETRESET ECONNABORTED ECONNRESET ENOBUFS EISCONN "
    "ENOTCONN ESHUTDOWN ETOOMANYREFS ETIMEDOUT ECONNREFUSED EHOSTDOWN EHOSTUNREACH EALREADY "
    "EINPROGRESS ESTALE EUCLEAN ENOTNAM ENAVAIL EISNAM EREMOTEIO EDQUOT ENOMEDIUM "
    "EMEDIUMTYPE ECANCELED ENOKEY EKEYEXPIRED EKEYREVOKED EKEYREJECTED EOWNERDEAD "
    "ENOTRECOVERABLE ERFKILL EHWPOISON"
).split()
# kernel-internal codes (include/linux/errno.h) that errname() knows; 520 and ENOGRACE (531)
# have no name there, so %pe prints them as numbers
_KERNEL_ERRNO_NAMES = (
    "ERESTARTSYS ERESTARTNOINTR ERESTARTNOHAND ENOIOCTLCMD ERESTART_RESTARTBLOCK "
    "EPROBE_DEFER EOPENSTALE ENOPARAM - EBADHANDLE ENOTSYNC EBADCOOKIE ENOTSUPP ETOOSMALL "
    "ESERVERFAULT EBADTYPE EJUKEBOX EIOCBQUEUED ERECALLCONFLICT"
).split()

ERRNO_NAMES = {n: name for n, name in enumerate(_ERRNO_NAMES, 1) if name != "-"}
ERRNO_NAMES.update({n: name for n, name in enumerate(_KERNEL_ERRNO_NAMES, 512) if name != "-"})
ERRNO_NUMBERS = {name: n for n, name in ERRNO_NAMES.items()}


def errname(err: int) -> str | None:
    """``errname(-EIO)`` is ``"-EIO"``, ``errname(EIO)`` is ``"EIO"``, unknown is None."""
    name = ERRNO_NAMES.get(abs(err))
    if name is None:
        return None
    return name if err > 0 else "-" + name


# -- lib/ctype.c, the Latin-1 table the kernel uses ----------------------------------------

def isdigit(c):
    return 0x30 <= c <= 0x39


def isalpha(c):
    return (0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or 0xC0 <= c <= 0xFF) and c not in (0xD7, 0xF7)


def isalnum(c):
    return isalpha(c) or isdigit(c)


def isprint(c):
    return 0x20 <= c <= 0x7E or 0xA0 <= c <= 0xFF


def isascii(c):
    return c <= 0x7F


# -- number() and the string helpers ------------------------------------------------------

_HEX_UPPER = b"0123456789ABCDEF"


def number(num: int, spec: PrintfSpec) -> bytes:
    """``number()``: an integer (taken as u64) under ``spec``, padded the kernel's way."""
    num &= MASK64
    flags, base = spec.flags, spec.base
    need_pfx = bool(flags & SPECIAL) and base != 10
    is_zero = num == 0
    field_width, precision = spec.field_width, spec.precision
    locase = flags & SMALL
    if flags & LEFT:
        flags &= ~ZEROPAD
    sign = b""
    if flags & SIGN:
        if num >> 63:
            sign, num = b"-", (-num) & MASK64
            field_width -= 1
        elif flags & PLUS:
            sign = b"+"
            field_width -= 1
        elif flags & SPACE:
            sign = b" "
            field_width -= 1
    if need_pfx:
        if base == 16:
            field_width -= 2
        elif not is_zero:
            field_width -= 1

    digits = bytearray()
    while True:
        digits.append(_HEX_UPPER[num % base] | locase)
        num //= base
        if not num:
            break
    digits.reverse()

    # printing 100 using %2d gives "100", not "00"
    precision = max(precision, len(digits))
    field_width -= precision
    out = bytearray()
    if not flags & (ZEROPAD | LEFT):
        out += b" " * max(field_width, 0)
        field_width = -1
    out += sign
    if need_pfx:
        if base == 16 or not is_zero:
            out += b"0"
        if base == 16:
            out.append(ord("X") | locase)
    if not flags & LEFT:
        out += (b"0" if flags & ZEROPAD else b" ") * max(field_width, 0)
        field_width = -1
    out += b"0" * (precision - len(digits))
    out += digits
    out += b" " * max(field_width, 0)
    return bytes(out)


def special_hex_number(num, size):
    """``special_hex_number()``: ``0x`` and 2*size zero-padded lowercase digits."""
    return number(num, PrintfSpec(type=FORMAT_TYPE_PTR, field_width=2 + 2 * size,
                                  flags=SPECIAL | SMALL | ZEROPAD, base=16))


def widen_string(s: bytes, spec: PrintfSpec) -> bytes:
    """``widen_string()``: pad to the field width with spaces (never zeros)."""
    if len(s) >= spec.field_width:
        return s
    spaces = b" " * (spec.field_width - len(s))
    return s + spaces if spec.flags & LEFT else spaces + s


def string_nocheck(s: bytes, spec: PrintfSpec) -> bytes:
    """``string_nocheck()``: up to the NUL or ``precision`` bytes, then widened."""
    nul = s.find(b"\0")
    if nul >= 0:
        s = s[:nul]
    if spec.precision >= 0:
        s = s[:spec.precision]
    return widen_string(s, spec)


# default_dec_spec & co: statics, so the fields they do not name are zero
DEFAULT_DEC_SPEC = PrintfSpec(base=10, precision=-1, field_width=0)
DEFAULT_DEC02_SPEC = PrintfSpec(base=10, field_width=2, precision=-1, flags=ZEROPAD)
DEFAULT_DEC04_SPEC = PrintfSpec(base=10, field_width=4, precision=-1, flags=ZEROPAD)
DEFAULT_FLAG_SPEC = PrintfSpec(base=16, precision=-1, flags=SPECIAL | SMALL, field_width=0)


def kallsyms_text(name, offset, size, module=None, *, with_offset=True) -> str:
    """What ``sprint_symbol()`` prints: ``name+0x11/0x2c [mod]`` (``name [mod]`` without offset).

    A helper for ``symbolize`` callbacks, so they spell offsets as the kernel's ``%#lx``.
    """
    text = name
    if with_offset:
        text += f"+{offset:#x}/{size:#x}"
    if module:
        text += f" [{module}]"
    return text


# -- the formatter -------------------------------------------------------------------------

# The output one call keeps in host memory; past it, bytes are counted (the return value
# stays exact) but not kept: a guest string or a field width cannot make the host hold more.
OUT_MAX = 16 << 20         # above FIELD_WIDTH_MAX: a legal width is never cut
CONVERSION_COST = 50        # what each conversion charges (``charge``), in instructions
# how deep %pV nests before the kernel's 16 KiB stack runs into its guard page: each level
# is a vsnprintf and a va_format frame (tests/realkernel/hostile_printk3: 110 levels; the
# random kernel stack offset moves it by a few)
PV_MAX_DEPTH = 110
BYTES_PER_INSN = 8          # and each string's bytes, as the kernel's loop reads them


class StackOverflow(Exception):
    """%pV nested deeper than the kernel stack holds (PV_MAX_DEPTH): the next vsnprintf
    touches the stack's guard page."""

    def __init__(self, depth):
        super().__init__(f"%pV nested {depth} deep: the kernel stack overflows")
        self.depth = depth


class _Printer:
    """One vsnprintf call (and its nested %pV calls): the arguments, memory and callbacks."""

    def __init__(self, mem, config, symbolize, va_format, object_name, warn, charge=None):
        self.mem = mem
        self.cfg = config
        self.symbolize = symbolize
        self.va_format = va_format
        self.object_name = object_name
        self.warn_cb = warn
        self._charge_cb = charge
        self.cost = 0               # instructions charged so far
        self.memo = {}              # %pV struct address -> (text, extra, cost) (see below)
        self.depth = 0              # %pV nesting
        self.extra = 0              # bytes of output counted past OUT_MAX, not kept
        self.ptr_bytes = config.ptr_bits // 8

    def warn(self, message):
        if self.warn_cb is not None:
            self.warn_cb(message)

    def charge(self, insns, skipped=False):
        """Spend ``insns`` of the caller's budget (``skipped``: work the kernel does that
        this call did not have to redo, see va_format_string)."""
        self.cost += insns
        if self._charge_cb is not None:
            if skipped:
                self._charge_cb(insns, True)
            else:
                self._charge_cb(insns)

    # ---- arguments ----
    def arg(self, args, bits):
        """``va_arg`` of a ``bits``-wide integer: one slot, or two (low first) on i386."""
        slot = self.cfg.slot_bits
        if bits <= slot:
            return args.next_int() & mask(bits)
        low = args.next_int() & mask(slot)
        high = args.next_int() & mask(slot)
        return (high << slot | low) & mask(bits)

    def sarg(self, args, bits):
        return sign_extend(self.arg(args, bits), bits) & MASK64

    def int_arg(self, args, spec):
        """The switch at the end of vsnprintf(): fetch and convert by format type."""
        cfg, t = self.cfg, spec.type
        if t == FORMAT_TYPE_LONG_LONG:
            return self.arg(args, 64)
        if t == FORMAT_TYPE_ULONG:
            return self.arg(args, cfg.long_bits)
        if t == FORMAT_TYPE_LONG:
            return self.sarg(args, cfg.long_bits)
        if t == FORMAT_TYPE_SIZE_T:
            if spec.flags & SIGN:
                return self.sarg(args, cfg.long_bits)
            return self.arg(args, cfg.long_bits)
        if t == FORMAT_TYPE_PTRDIFF:
            return self.sarg(args, cfg.long_bits)
        value = self.arg(args, cfg.int_bits)
        if t == FORMAT_TYPE_UBYTE:
            return value & 0xFF
        if t == FORMAT_TYPE_BYTE:
            return sign_extend(value, 8) & MASK64
        if t == FORMAT_TYPE_USHORT:
            return value & 0xFFFF
        if t == FORMAT_TYPE_SHORT:
            return sign_extend(value, 16) & MASK64
        if t == FORMAT_TYPE_INT:
            return sign_extend(value, cfg.int_bits) & MASK64
        return value                                    # FORMAT_TYPE_UINT

    # ---- memory ----
    def read(self, addr, size):
        return bytes(self.mem.read(addr, size))

    def read_uint(self, addr, bits):
        return int.from_bytes(self.read(addr, bits // 8), "little")

    def read_str(self, addr, limit=None):
        """The C string at ``addr``: up to the NUL or ``limit`` bytes, read a page at a time.
        Past OUT_MAX bytes the rest is only counted (``extra``), as it is read."""
        out = bytearray()
        page = self.cfg.page_size
        n = 0
        while limit is None or n < limit:
            here = addr + n
            chunk = page - here % page
            if limit is not None:
                chunk = min(chunk, limit - n)
            self.charge(max(chunk // BYTES_PER_INSN, 1))
            data = bytes(self.mem.read_cstring(here, chunk))
            n += len(data)
            if len(out) < OUT_MAX:
                out += data[:OUT_MAX - len(out)]
            if len(data) < chunk:
                break
        self.extra += n - len(out)
        return bytes(out)

    # ---- format_decode() ----
    def format_decode(self, fmt, pos, spec):
        """Decode one token at ``fmt[pos:]`` into ``spec``; return how many bytes it took."""
        start = pos
        n = len(fmt)
        if spec.type == FORMAT_TYPE_WIDTH:
            # we finished early by reading the field width
            if spec.field_width < 0:
                spec.field_width = -spec.field_width
                spec.flags |= LEFT
            spec.type = FORMAT_TYPE_NONE
            return self._decode_precision(fmt, pos, spec, start)
        if spec.type == FORMAT_TYPE_PRECISION:
            # we finished early by reading the precision
            if spec.precision < 0:
                spec.precision = 0
            spec.type = FORMAT_TYPE_NONE
            return self._decode_qualifier(fmt, pos, spec, start)

        spec.type = FORMAT_TYPE_NONE
        pct = fmt.find(b"%", pos)
        if pct < 0:
            pct = n
        if pct != start or pct == n:
            return pct - start                          # the current non-format string

        spec.flags = 0
        pos += 1
        flag_bits = {0x2D: LEFT, 0x2B: PLUS, 0x20: SPACE, 0x23: SPECIAL, 0x30: ZEROPAD}
        while pos < n and fmt[pos] in flag_bits:
            spec.flags |= flag_bits[fmt[pos]]
            pos += 1

        spec.field_width = -1
        if pos < n and isdigit(fmt[pos]):
            value, pos = _skip_atoi(fmt, pos)
            spec.field_width = sign_extend(value, 24)         # silently truncated to the bitfield
        elif pos < n and fmt[pos] == 0x2A:              # '*': it's the next argument
            spec.type = FORMAT_TYPE_WIDTH
            return pos + 1 - start
        return self._decode_precision(fmt, pos, spec, start)

    def _decode_precision(self, fmt, pos, spec, start):
        n = len(fmt)
        spec.precision = -1
        if pos < n and fmt[pos] == 0x2E:                # '.'
            pos += 1
            if pos < n and isdigit(fmt[pos]):
                value, pos = _skip_atoi(fmt, pos)
                spec.precision = max(sign_extend(value, 16), 0)
            elif pos < n and fmt[pos] == 0x2A:
                spec.type = FORMAT_TYPE_PRECISION
                return pos + 1 - start
            # a lone '.' leaves the precision at -1 (C99 would make it 0)
        return self._decode_qualifier(fmt, pos, spec, start)

    def _decode_qualifier(self, fmt, pos, spec, start):
        n = len(fmt)
        qualifier = 0
        if pos < n and fmt[pos] in b"hlLzt":
            qualifier = fmt[pos]
            pos += 1
            if pos < n and fmt[pos] == qualifier:
                if qualifier == 0x6C:                   # "ll"
                    qualifier = 0x4C
                    pos += 1
                elif qualifier == 0x68:                 # "hh"
                    qualifier = 0x48
                    pos += 1

        spec.base = 10
        conv = fmt[pos] if pos < n else 0
        simple = {0x63: FORMAT_TYPE_CHAR, 0x73: FORMAT_TYPE_STR, 0x70: FORMAT_TYPE_PTR,
                  0x25: FORMAT_TYPE_PERCENT_CHAR}
        if conv in simple:
            spec.type = simple[conv]
            return pos + 1 - start
        if conv == 0x6F:                                # 'o'
            spec.base = 8
        elif conv in (0x78, 0x58):                      # 'x', 'X'
            if conv == 0x78:
                spec.flags |= SMALL
            spec.base = 16
        elif conv in (0x64, 0x69):                      # 'd', 'i'
            spec.flags |= SIGN
        elif conv != 0x75:                              # not 'u'; %n is refused too
            self.warn(f"Please remove unsupported %{chr(conv)} in format string")
            spec.type = FORMAT_TYPE_INVALID
            return pos - start

        signed = spec.flags & SIGN
        spec.type = {
            0x4C: FORMAT_TYPE_LONG_LONG,
            0x6C: FORMAT_TYPE_ULONG + signed,
            0x7A: FORMAT_TYPE_SIZE_T,
            0x74: FORMAT_TYPE_PTRDIFF,
            0x48: FORMAT_TYPE_UBYTE + signed,
            0x68: FORMAT_TYPE_USHORT + signed,
        }.get(qualifier, FORMAT_TYPE_UINT + signed)
        return pos + 1 - start

    def set_field_width(self, spec, width):
        if sign_extend(width, 24) != width:
            self.warn(f"field width {width} too large")
            width = max(-FIELD_WIDTH_MAX, min(width, FIELD_WIDTH_MAX))
        spec.field_width = width

    def set_precision(self, spec, prec):
        if sign_extend(prec, 16) != prec:
            self.warn(f"precision {prec} too large")
            prec = max(0, min(prec, PRECISION_MAX))
        spec.precision = prec

    # ---- vsnprintf()'s loop ----
    def format(self, fmt: bytes, args) -> bytes:
        """The whole untruncated output of ``vsnprintf(fmt, args)``."""
        fmt = bytes(fmt)
        nul = fmt.find(b"\0")
        if nul >= 0:
            fmt = fmt[:nul]
        out = bytearray()
        spec = PrintfSpec()
        pos = 0
        while pos < len(fmt):
            old = pos
            if len(out) > OUT_MAX:
                self.extra += len(out) - OUT_MAX
                del out[OUT_MAX:]
            pos += self.format_decode(fmt, pos, spec)
            t = spec.type
            if t != FORMAT_TYPE_NONE:
                self.charge(CONVERSION_COST)
            if t == FORMAT_TYPE_NONE:
                out += fmt[old:pos]
            elif t == FORMAT_TYPE_WIDTH:
                self.set_field_width(spec, self.sarg_int(args))
            elif t == FORMAT_TYPE_PRECISION:
                self.set_precision(spec, self.sarg_int(args))
            elif t == FORMAT_TYPE_CHAR:
                out += self.char(self.arg(args, self.cfg.int_bits) & 0xFF, spec)
            elif t == FORMAT_TYPE_STR:
                ptr = self.arg(args, self.cfg.ptr_bits)
                out += self.guarded(self.string, ptr, spec)
            elif t == FORMAT_TYPE_PTR:
                ptr = self.arg(args, self.cfg.ptr_bits)
                ext_end = pos
                while ext_end < len(fmt) and isalnum(fmt[ext_end]):
                    ext_end += 1
                out += self.guarded(self.pointer, ptr, spec, fmt[pos:ext_end])
                pos = ext_end
            elif t == FORMAT_TYPE_PERCENT_CHAR:
                out += b"%"
            elif t == FORMAT_TYPE_INVALID:
                # the kernel cannot know how to skip the argument: it stops here
                break
            else:
                out += number(self.int_arg(args, spec), spec)
        if len(out) > OUT_MAX:
            self.extra += len(out) - OUT_MAX
            del out[OUT_MAX:]
        return bytes(out)

    def sarg_int(self, args):
        return sign_extend(self.arg(args, self.cfg.int_bits), self.cfg.int_bits)

    def guarded(self, conversion, ptr, spec, *rest):
        """Run a conversion that dereferences ``ptr``; a fault follows ``config.on_fault``."""
        if self.cfg.on_fault != "efault":
            return conversion(ptr, spec, *rest)
        try:
            return conversion(ptr, spec, *rest)
        except self.cfg.fault_types:
            return self.error_string(b"(efault)", spec)

    @staticmethod
    def char(c, spec):
        pad = b" " * max(spec.field_width - 1, 0)
        return bytes([c]) + pad if spec.flags & LEFT else pad + bytes([c])

    # ---- pointer checks ----
    def is_err_value(self, ptr):
        return ptr >= (1 << self.cfg.ptr_bits) - MAX_ERRNO

    def check_pointer_msg(self, ptr):
        if not ptr:
            return b"(null)"
        if ptr < self.cfg.page_size or self.is_err_value(ptr):
            return b"(efault)"
        return None

    def error_string(self, s, spec):
        """``error_string()``: at most pointer-width*2 characters unless told otherwise."""
        if spec.precision == -1:
            spec = spec.copy(precision=2 * self.ptr_bytes)
        return string_nocheck(s, spec)

    def check_pointer(self, ptr, spec):
        """The error text to print instead of dereferencing ``ptr``, or None if it is fine."""
        msg = self.check_pointer_msg(ptr)
        return None if msg is None else self.error_string(msg, spec)

    def string(self, ptr, spec):
        bad = self.check_pointer(ptr, spec)
        if bad is not None:
            return bad
        limit = spec.precision if spec.precision >= 0 else None
        return widen_string(self.read_str(ptr, limit), spec)

    # ---- plain pointers ----
    def pointer_string(self, ptr, spec):
        spec = spec.copy(base=16, flags=spec.flags | SMALL)
        if spec.field_width == -1:
            spec.field_width = 2 * self.ptr_bytes
            spec.flags |= ZEROPAD
        return number(ptr, spec)

    def ptr_to_id(self, ptr, spec):
        cfg = self.cfg
        # NULL and error pointers are not addresses: printed as they are
        if not ptr or self.is_err_value(ptr):
            return self.pointer_string(ptr, spec)
        if cfg.debug_boot_weak_hash:
            return self.pointer_string(hash_long(ptr, 32, cfg.long_bits), spec)
        if cfg.ptr_key is None:
            text = b"(____ptrval____)" if self.ptr_bytes == 8 else b"(ptrval)"
            return self.error_string(text, spec.copy(field_width=2 * self.ptr_bytes))
        if cfg.ptr_bits == 64:
            hashval = siphash_1u64(ptr, cfg.ptr_key) & mask(32)
        else:
            hashval = siphash_1u32(ptr, cfg.ptr_key) & mask(cfg.long_bits)
        return self.pointer_string(hashval, spec)

    def default_pointer(self, ptr, spec):
        if self.cfg.no_hash_pointers:
            return self.pointer_string(ptr, spec)
        return self.ptr_to_id(ptr, spec)

    def restricted_pointer(self, ptr, spec):
        cfg = self.cfg
        if cfg.kptr_restrict == 0:
            return self.default_pointer(ptr, spec)
        if cfg.kptr_restrict == 1:
            if cfg.in_irq:
                if spec.field_width == -1:
                    spec = spec.copy(field_width=2 * self.ptr_bytes)
                return self.error_string(b"pK-error", spec)
            if not cfg.cap_syslog:
                ptr = 0
        else:
            ptr = 0
        return self.pointer_string(ptr, spec)

    # ---- pointer(): the %p extensions ----
    def pointer(self, ptr, spec, ext):
        """``pointer()``: ``ext`` is the run of letters and digits after ``%p``."""
        kind = ext[:1]
        handler = _POINTER_HANDLERS.get(kind)
        if handler is None:
            return self.default_pointer(ptr, spec)
        return handler(self, ptr, spec, ext)

    def symbol_string(self, ptr, spec, ext):
        # 'R' (__builtin_extract_return_addr) changes nothing on x86; 'b' (build ID) needs
        # CONFIG_STACKTRACE_BUILD_ID, which Debian does not set
        if ext[:1] == b"B":
            text = self.sprint_symbol(ptr, True, -1)
        else:
            text = self.sprint_symbol(ptr, ext[:1] != b"s", 0)
        return string_nocheck(text, spec)

    def sprint_symbol(self, address, add_offset, symbol_offset):
        """``__sprint_symbol()``, through the ``symbolize`` callback.

        ``symbol_offset`` -1 is ``sprint_backtrace``: look up ``address - 1`` (a return address
        may be just past its function) and print the offset of ``address`` itself.
        """
        ptr_mask = mask(self.cfg.ptr_bits)
        lookup = (address + symbol_offset) & ptr_mask
        text = self.symbolize(lookup, add_offset) if self.symbolize else None
        if text is None:
            return b"0x%x" % address
        if isinstance(text, str):
            text = text.encode()
        if symbol_offset and add_offset:
            text = _shift_symbol_offset(text, -symbol_offset)
        return text

    def hex_string(self, ptr, spec, ext):
        if spec.field_width == 0:
            return b""                                  # nothing to print
        bad = self.check_pointer(ptr, spec)
        if bad is not None:
            return bad
        separator = {b"C": b":", b"D": b"-", b"N": b""}.get(ext[1:2], b" ")
        # '%ph' without a width prints one byte; the width is the byte count, at most 64
        length = min(spec.field_width, 64) if spec.field_width > 0 else 1
        return separator.join(b"%02x" % byte for byte in self.read(ptr, length))

    def mac_address_string(self, ptr, spec, ext):
        bad = self.check_pointer(ptr, spec)
        if bad is not None:
            return bad
        addr = self.read(ptr, 6)
        modifier = ext[1:2]
        if modifier == b"R":
            addr = addr[::-1]
        separator = b"-" if modifier == b"F" else b":"
        if ext[:1] != b"M":
            separator = b""
        return string_nocheck(separator.join(b"%02x" % byte for byte in addr), spec)

    def ip_addr_string(self, ptr, spec, ext):
        bad = self.check_pointer(ptr, spec)
        if bad is not None:
            return bad
        version = ext[1:2]
        if version == b"6":
            return string_nocheck(ip6_addr_text(self.read(ptr, 16), ext), spec)
        if version == b"4":
            return string_nocheck(ip4_string(self.read(ptr, 4), ext), spec)
        if version == b"S":
            family = int.from_bytes(self.read(ptr, 2), "little")
            if family == AF_INET:
                return self.ip4_addr_string_sa(ptr, spec, ext)
            if family == AF_INET6:
                return self.ip6_addr_string_sa(ptr, spec, ext)
            return self.error_string(b"(einval)", spec)
        return self.error_string(b"(%pi?)" if ext[:1] == b"i" else b"(%pI?)", spec)

    def ip4_addr_string_sa(self, ptr, spec, ext):
        raw = self.read(ptr, 8)                         # family, port, address
        order = b""
        have_p = False
        for c in _leading_alpha(ext[2:]):
            if c == b"p":
                have_p = True
            elif c in (b"h", b"l", b"n", b"b"):
                order = c
        text = ip4_string(raw[4:8], ext[:1] + b"4" + order)
        if have_p:
            text += b":" + number(int.from_bytes(raw[2:4], "big"), spec)
        return string_nocheck(text, spec)

    def ip6_addr_string_sa(self, ptr, spec, ext):
        raw = self.read(ptr, 28)                        # struct sockaddr_in6
        letters = set(_leading_alpha(ext[2:]))
        have_p, have_f, have_s = b"p" in letters, b"f" in letters, b"s" in letters
        addr = raw[8:24]
        if ext[:1] == b"I" and b"c" in letters:
            text = ip6_compressed_string(addr)
        else:
            text = ip6_string(addr, ext[:1])
        if have_p or have_s or have_f:
            text = b"[" + text + b"]"
        if have_p:
            text += b":" + number(int.from_bytes(raw[2:4], "big"), spec)
        if have_f:
            flowinfo = int.from_bytes(raw[4:8], "big") & 0x0FFFFFFF
            text += b"/" + number(flowinfo, spec)
        if have_s:
            text += b"%" + number(int.from_bytes(raw[24:28], "little"), spec)
        return string_nocheck(text, spec)

    def escaped_string(self, ptr, spec, ext):
        if spec.field_width == 0:
            return b""                                  # nothing to print
        bad = self.check_pointer(ptr, spec)
        if bad is not None:
            return bad
        flags = 0
        for c in ext[1:]:
            bit = _ESCAPE_LETTERS.get(c)
            if bit is None:
                break
            flags |= bit
        if not flags:
            flags = ESCAPE_ANY_NP
        # the field width is the byte count; without one, one byte (use "%*pE")
        length = 1 if spec.field_width < 0 else spec.field_width
        return string_escape_mem(self.read(ptr, length), flags)

    def uuid_string(self, ptr, spec, ext):
        bad = self.check_pointer(ptr, spec)
        if bad is not None:
            return bad
        raw = self.read(ptr, 16)
        variant = ext[1:2]
        index = GUID_INDEX if variant in (b"l", b"L") else UUID_INDEX
        digits = "%02X" if variant in (b"B", b"L") else "%02x"
        parts = [digits % raw[i] for i in index]
        text = "".join(parts[0:4]) + "-" + "".join(parts[4:6]) + "-" + "".join(parts[6:8]) + \
            "-" + "".join(parts[8:10]) + "-" + "".join(parts[10:16])
        return string_nocheck(text.encode(), spec)

    def va_format_string(self, ptr, spec, ext):
        bad = self.check_pointer(ptr, spec)
        if bad is not None:
            return bad
        if self.va_format is not None:
            fmt, args = self.va_format(ptr)
        else:
            # struct va_format { const char *fmt; va_list *va; }
            fmt_addr = self.read_uint(ptr, self.cfg.ptr_bits)
            va_addr = self.read_uint(ptr + self.ptr_bytes, self.cfg.ptr_bits)
            fmt = self.read_str(fmt_addr)
            args = VaListArgs(self.mem, va_addr, bits=self.cfg.ptr_bits)
        # the same struct va_format formats the same way again within one call (reading
        # memory changes nothing; the va_list is copied, not consumed): a %pV tree of
        # depth 20 is 21 formats here, not 2^21 (its cost is still charged, as skipped work)
        if self.va_format is None and ptr in self.memo:
            text, extra, cost = self.memo[ptr]
            self.extra += extra
            self.charge(cost, skipped=True)
            return text
        extra, cost = self.extra, self.cost
        if self.depth >= PV_MAX_DEPTH:
            raise StackOverflow(self.depth)
        self.depth += 1
        try:
            text = self.format(fmt, args)
        finally:
            self.depth -= 1
        if self.va_format is None:
            self.memo[ptr] = (text, self.extra - extra, self.cost - cost)
        return text

    def netdev_bits(self, ptr, spec, ext):
        bad = self.check_pointer(ptr, spec)
        if bad is not None:
            return bad
        if ext[1:2] != b"F":
            return self.error_string(b"(%pN?)", spec)
        return special_hex_number(self.read_uint(ptr, 64), 8)

    def fourcc_string(self, ptr, spec, ext):
        if ext[1:3] != b"cc":
            return self.error_string(b"(%p4?)", spec)
        bad = self.check_pointer(ptr, spec)
        if bad is not None:
            return bad
        orig = self.read_uint(ptr, 32)
        val = orig & ~(1 << 31)
        text = bytes(c if isascii(c) and isprint(c) else 0x2E
                     for c in val.to_bytes(4, "little"))
        text += b" big-endian" if orig & (1 << 31) else b" little-endian"
        text += b" (" + special_hex_number(orig, 4) + b")"
        return string_nocheck(text, spec)

    def address_val(self, ptr, spec, ext):
        bad = self.check_pointer(ptr, spec)
        if bad is not None:
            return bad
        bits = self.cfg.dma_addr_bits if ext[1:2] == b"d" else self.cfg.phys_addr_bits
        return special_hex_number(self.read_uint(ptr, bits), bits // 8)

    def time_and_date(self, ptr, spec, ext):
        bad = self.check_pointer(ptr, spec)
        if bad is not None:
            return bad
        kind = ext[1:2]
        if kind == b"R":
            tm = struct.unpack("<6i", self.read(ptr, 24))   # struct rtc_time, up to tm_year
        elif kind == b"T":
            tm = time64_to_tm(sign_extend(self.read_uint(ptr, 64), 64))
        else:
            return self.error_string(b"(%pt?)", spec)
        return rtc_str(tm, ext)

    def resource_string(self, ptr, spec, ext):
        bad = self.check_pointer(ptr, spec)
        if bad is not None:
            return bad
        cfg = self.cfg
        size_bits = cfg.phys_addr_bits
        start = self.read_uint(ptr, size_bits)
        end = self.read_uint(ptr + size_bits // 8, size_bits)
        flags = self.read_uint(ptr + 2 * (size_bits // 8) + self.ptr_bytes, cfg.long_bits)
        return string_nocheck(resource_text(start, end, flags, ext[:1] == b"R", size_bits), spec)

    def bitmap_string(self, ptr, spec, ext):
        nr_bits = max(spec.field_width, 0)
        bad = self.check_pointer(ptr, spec)
        if bad is not None:
            return bad
        bitmap = self.read_bitmap(ptr, nr_bits)
        if ext[1:2] == b"l":
            return bitmap_list_text(bitmap, nr_bits)
        return bitmap_hex_text(bitmap, nr_bits)

    def read_bitmap(self, ptr, nr_bits):
        long_bits = self.cfg.long_bits
        words = -(-nr_bits // long_bits)
        return int.from_bytes(self.read(ptr, words * long_bits // 8), "little") if words else 0

    def flags_string(self, ptr, spec, ext):
        bad = self.check_pointer(ptr, spec)
        if bad is not None:
            return bad
        kind = ext[1:2]
        if kind not in (b"p", b"v", b"g"):
            return self.error_string(b"(%pG?)", spec)
        named = self.named_object(ext, ptr)
        if named is not None:
            return named
        # deviation: without the kernel's flag-name tables, the value in hex
        bits = 32 if kind == b"g" else self.cfg.long_bits      # gfp_t is unsigned int
        return number(self.read_uint(ptr, bits), DEFAULT_FLAG_SPEC)

    def named_object(self, ext, ptr):
        """The ``object_name`` callback's text for a kernel object, or None."""
        if self.object_name is None:
            return None
        name = self.object_name(bytes(ext), ptr)
        if name is None:
            return None
        return name.encode() if isinstance(name, str) else bytes(name)

    def object_string(self, ptr, spec, ext):
        """%pd %pD %pg %pC: a name only the simulator's kernel model can know."""
        bad = self.check_pointer(ptr, spec)
        if bad is not None:
            return bad
        name = self.named_object(ext, ptr)
        if name is None:
            return self.ptr_to_id(ptr, spec)            # deviation: documented at the top
        return string_nocheck(name, spec)

    def device_node_string(self, ptr, spec, ext):
        if ext[1:2] != b"F":
            return self.error_string(b"(%pO?)", spec)
        if not self.cfg.config_of:
            return self.error_string(b"(%pOF?)", spec)
        return self.object_string(ptr, spec, ext)

    def fwnode_string(self, ptr, spec, ext):
        if ext[1:2] != b"w":
            return self.error_string(b"(%pf?)", spec)   # %pf/%pF were removed in 5.x
        return self.object_string(ptr, spec, ext)

    def rust_fmt_argument(self, ptr, spec, ext):
        self.warn("Please remove %pA from non-Rust code")
        return self.error_string(b"(%pA?)", spec)

    def raw_pointer(self, ptr, spec, ext):
        return self.pointer_string(ptr, spec)

    def err_pointer(self, ptr, spec, ext):
        # %pe with a non-ERR_PTR gets treated as plain %p
        if not self.is_err_value(ptr):
            return self.default_pointer(ptr, spec)
        err = sign_extend(ptr, self.cfg.ptr_bits)
        name = errname(err)
        if name is not None:
            return string_nocheck(name.encode(), spec)
        # ERR_PTR(-1234): no such Efoo, so the number
        return number(err, spec.copy(flags=spec.flags | SIGN, base=10))

    def user_or_kernel_string(self, ptr, spec, ext):
        if ext[1:2] == b"s":
            return self.string(ptr, spec)
        return self.error_string(b"(einval)", spec)

    def restricted(self, ptr, spec, ext):
        return self.restricted_pointer(ptr, spec)


_POINTER_HANDLERS = {
    b"S": _Printer.symbol_string,
    b"s": _Printer.symbol_string,
    b"B": _Printer.symbol_string,
    b"R": _Printer.resource_string,
    b"r": _Printer.resource_string,
    b"h": _Printer.hex_string,
    b"b": _Printer.bitmap_string,
    b"M": _Printer.mac_address_string,
    b"m": _Printer.mac_address_string,
    b"I": _Printer.ip_addr_string,
    b"i": _Printer.ip_addr_string,
    b"E": _Printer.escaped_string,
    b"U": _Printer.uuid_string,
    b"V": _Printer.va_format_string,
    b"K": _Printer.restricted,
    b"N": _Printer.netdev_bits,
    b"4": _Printer.fourcc_string,
    b"a": _Printer.address_val,
    b"d": _Printer.object_string,
    b"t": _Printer.time_and_date,
    b"C": _Printer.object_string,
    b"D": _Printer.object_string,
    b"g": _Printer.object_string,
    b"G": _Printer.flags_string,
    b"O": _Printer.device_node_string,
    b"f": _Printer.fwnode_string,
    b"A": _Printer.rust_fmt_argument,
    b"x": _Printer.raw_pointer,
    b"e": _Printer.err_pointer,
    b"u": _Printer.user_or_kernel_string,
    b"k": _Printer.user_or_kernel_string,
}


def _skip_atoi(fmt, pos):
    """``skip_atoi()``: the digits at ``pos`` as a C int (wrapping like the kernel's loop)."""
    value = 0
    while pos < len(fmt) and isdigit(fmt[pos]):
        value = sign_extend(value * 10 + fmt[pos] - 0x30, 32)
        pos += 1
    return value, pos


def _leading_alpha(ext):
    """The letters at the start of ``ext``, one bytes object each."""
    out = []
    for c in ext:
        if not isalpha(c):
            break
        out.append(bytes([c]))
    return out


def _shift_symbol_offset(text, delta):
    """Add ``delta`` to the ``+0x..`` offset in a kallsyms text (for ``%pB``)."""
    plus = text.find(b"+0x")
    if plus < 0:
        return text
    slash = text.find(b"/", plus)
    if slash < 0:
        return text
    offset = int(text[plus + 3:slash], 16) + delta
    return text[:plus] + b"+%#x" % offset + text[slash:]


# -- helpers for the %p extensions, free of memory access ---------------------------------

AF_INET = 2
AF_INET6 = 10
UUID_INDEX = tuple(range(16))
GUID_INDEX = (3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15)


def ip4_string(addr: bytes, fmt: bytes) -> bytes:
    """``ip4_string()``: ``fmt`` like ``I4``, ``i4``, ``I4h`` (host order is little-endian)."""
    order = fmt[2:3]
    quads = addr[::-1] if order in (b"h", b"l") else addr
    width = 3 if fmt[:1] == b"i" else 0
    return b".".join(b"%0*d" % (width, q) for q in quads)


def ip6_string(addr: bytes, kind: bytes) -> bytes:
    """``ip6_string()``: eight 4-digit groups, colon-separated for ``I``, packed for ``i``."""
    groups = [b"%02x%02x" % (addr[i], addr[i + 1]) for i in range(0, 16, 2)]
    return (b":" if kind == b"I" else b"").join(groups)


def ip6_compressed_string(addr: bytes) -> bytes:
    """``ip6_compressed_string()``: RFC 5952, with a dotted IPv4 tail for mapped/ISATAP."""
    words = [int.from_bytes(addr[i:i + 2], "big") for i in range(0, 16, 2)]
    v4mapped = addr[:10] == bytes(10) and addr[10:12] == b"\xff\xff"
    isatap = (addr[8] | 0x02) == 0x02 and addr[9:12] == b"\x00\x5e\xfe"
    use_ipv4 = v4mapped or isatap
    span = 6 if use_ipv4 else 8
    zerolength = [0] * 8
    for i in range(span):
        for j in range(i, span):
            if words[j]:
                break
            zerolength[i] += 1
    longest, colonpos = 1, -1
    for i in range(span):
        if zerolength[i] > longest:
            longest, colonpos = zerolength[i], i
    out = bytearray()
    needcolon = False
    i = 0
    while i < span:
        if i == colonpos:
            if needcolon or i == 0:
                out += b":"
            out += b":"
            needcolon = False
            i += longest
            continue
        if needcolon:
            out += b":"
        out += b"%x" % words[i]                         # hex u16 without leading 0s
        needcolon = True
        i += 1
    if use_ipv4:
        if needcolon:
            out += b":"
        out += ip4_string(addr[12:16], b"I4")
    return bytes(out)


def ip6_addr_text(addr: bytes, ext: bytes) -> bytes:
    if ext[:1] == b"I" and ext[2:3] == b"c":
        return ip6_compressed_string(addr)
    return ip6_string(addr, ext[:1])


# string_escape_mem() flags (include/linux/string_helpers.h)
ESCAPE_SPACE = 1 << 0
ESCAPE_SPECIAL = 1 << 1
ESCAPE_NULL = 1 << 2
ESCAPE_OCTAL = 1 << 3
ESCAPE_ANY = ESCAPE_SPACE | ESCAPE_OCTAL | ESCAPE_SPECIAL | ESCAPE_NULL
ESCAPE_NP = 1 << 4
ESCAPE_ANY_NP = ESCAPE_ANY | ESCAPE_NP
ESCAPE_HEX = 1 << 5
ESCAPE_NA = 1 << 6
ESCAPE_NAP = 1 << 7

_ESCAPE_LETTERS = {ord("a"): ESCAPE_ANY, ord("c"): ESCAPE_SPECIAL, ord("h"): ESCAPE_HEX,
                   ord("n"): ESCAPE_NULL, ord("o"): ESCAPE_OCTAL, ord("p"): ESCAPE_NP,
                   ord("s"): ESCAPE_SPACE}
_ESCAPE_SPACE_TO = {0x0A: b"n", 0x0D: b"r", 0x09: b"t", 0x0B: b"v", 0x0C: b"f"}
_ESCAPE_SPECIAL_TO = {0x5C: b"\\", 0x07: b"a", 0x1B: b"e", 0x22: b'"'}


def string_escape_mem(src: bytes, flags: int) -> bytes:
    """``string_escape_mem()`` without an ``only`` set, as ``%pE`` calls it."""
    out = bytearray()
    for c in src:
        if ((flags & ESCAPE_NAP and isascii(c) and isprint(c))
                or (flags & ESCAPE_NP and isprint(c))
                or (flags & ESCAPE_NA and isascii(c))):
            out.append(c)
        elif flags & ESCAPE_SPACE and c in _ESCAPE_SPACE_TO:
            out += b"\\" + _ESCAPE_SPACE_TO[c]
        elif flags & ESCAPE_SPECIAL and c in _ESCAPE_SPECIAL_TO:
            out += b"\\" + _ESCAPE_SPECIAL_TO[c]
        elif flags & ESCAPE_NULL and c == 0:
            out += b"\\0"
        elif flags & ESCAPE_OCTAL:
            out += b"\\%03o" % c
        elif flags & ESCAPE_HEX:
            out += b"\\x%02x" % c
        else:
            out.append(c)
    return bytes(out)


def time64_to_tm(totalsecs: int):
    """``time64_to_tm(t, 0)`` as the first six ``struct rtc_time`` fields (UTC)."""
    days, rem = divmod(totalsecs, 86400)
    hour, rem = divmod(rem, 3600)
    minute, sec = divmod(rem, 60)
    # the proleptic Gregorian calendar, counted in 400-year eras from 0000-03-01
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    mday = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9              # 1..12
    year = yoe + era * 400 + (month <= 2)
    return sec, minute, hour, mday, month - 1, year - 1900


def rtc_str(tm, ext: bytes) -> bytes:
    """``rtc_str()``: ISO 8601 date and/or time; ``ext`` like ``tR``, ``tTd``, ``tTtrs``."""
    sec, minute, hour, mday, mon, year = tm
    have_d = have_t = True
    count = 2
    if ext[2:3] == b"d":
        have_t = False
        count += 1
    elif ext[2:3] == b"t":
        have_d = False
        count += 1
    raw, iso8601_separator = False, True
    for c in ext[count:]:
        if c == ord("r"):
            raw = True
        elif c == ord("s"):
            iso8601_separator = False
        else:
            break
    out = bytearray()
    if have_d:
        out += number(year + (0 if raw else 1900), DEFAULT_DEC04_SPEC) + b"-"
        out += number(mon + (0 if raw else 1), DEFAULT_DEC02_SPEC) + b"-"
        out += number(mday, DEFAULT_DEC02_SPEC)
    if have_d and have_t:
        out += b"T" if iso8601_separator else b" "
    if have_t:
        out += number(hour, DEFAULT_DEC02_SPEC) + b":" + number(minute, DEFAULT_DEC02_SPEC)
        out += b":" + number(sec, DEFAULT_DEC02_SPEC)
    return bytes(out)


# struct resource flags (include/linux/ioport.h)
IORESOURCE_IO = 0x00000100
IORESOURCE_MEM = 0x00000200
IORESOURCE_IRQ = 0x00000400
IORESOURCE_DMA = 0x00000800
IORESOURCE_BUS = 0x00001000
IORESOURCE_PREFETCH = 0x00002000
IORESOURCE_MEM_64 = 0x00100000
IORESOURCE_WINDOW = 0x00200000
IORESOURCE_DISABLED = 0x10000000
IORESOURCE_UNSET = 0x20000000


def resource_text(start, end, flags, decode, size_bits=64) -> bytes:
    """``resource_string()``'s text: ``[mem 0xfe000000-0xfe0fffff 64bit pref]``."""
    io_spec = PrintfSpec(base=16, field_width=6, flags=SPECIAL | SMALL | ZEROPAD)
    mem_spec = PrintfSpec(base=16, field_width=10, flags=SPECIAL | SMALL | ZEROPAD)
    bus_spec = PrintfSpec(base=16, field_width=2, flags=SMALL | ZEROPAD)
    for bit, label, specp in ((IORESOURCE_IO, b"io  ", io_spec),
                              (IORESOURCE_MEM, b"mem ", mem_spec),
                              (IORESOURCE_IRQ, b"irq ", DEFAULT_DEC_SPEC),
                              (IORESOURCE_DMA, b"dma ", DEFAULT_DEC_SPEC),
                              (IORESOURCE_BUS, b"bus ", bus_spec)):
        if flags & bit:
            break
    else:
        label, specp, decode = b"??? ", mem_spec, False
    out = bytearray(b"[" + label)
    if decode and flags & IORESOURCE_UNSET:
        out += b"size " + number((end - start + 1) & mask(size_bits), specp)
    else:
        out += number(start, specp)
        if start != end:
            out += b"-" + number(end, specp)
    if decode:
        for bit, word in ((IORESOURCE_MEM_64, b" 64bit"), (IORESOURCE_PREFETCH, b" pref"),
                          (IORESOURCE_WINDOW, b" window"), (IORESOURCE_DISABLED, b" disabled")):
            if flags & bit:
                out += word
    else:
        out += b" flags " + number(flags, DEFAULT_FLAG_SPEC)
    return bytes(out + b"]")


def bitmap_hex_text(bitmap: int, nr_bits: int) -> bytes:
    """``bitmap_string()``: comma-separated 32-bit chunks, most significant first."""
    chunks = []
    chunksz = nr_bits % 32 or 32
    i = -(-nr_bits // 32) * 32 - 32
    while i >= 0:
        val = (bitmap >> i) & mask(chunksz)
        spec = PrintfSpec(flags=SMALL | ZEROPAD, base=16, precision=0,
                          field_width=-(-chunksz // 4))
        chunks.append(number(val, spec))
        chunksz = 32
        i -= 32
    return b",".join(chunks)


def bitmap_list_text(bitmap: int, nr_bits: int) -> bytes:
    """``bitmap_list_string()``: ranges of set bits, ``0-3,5,8-9``."""
    bitmap &= mask(nr_bits)
    ranges = []
    bit = 0
    while bit < nr_bits:
        if not bitmap >> bit & 1:
            bit += 1
            continue
        top = bit
        while top < nr_bits and bitmap >> top & 1:
            top += 1
        ranges.append(b"%d" % bit if top == bit + 1 else b"%d-%d" % (bit, top - 1))
        bit = top
    return b",".join(ranges)


# -- the entry point -----------------------------------------------------------------------

Symbolize = Callable[[int, bool], "str | bytes | None"]
VaFormat = Callable[[int], "tuple[bytes, ArgSource]"]
ObjectName = Callable[[bytes, int], "str | bytes | None"]


def vsnprintf(fmt: bytes, args: ArgSource, mem: Memory | None = None, *,
              size: int | None = None, config: PrintfConfig = X86_64,
              symbolize: Symbolize | None = None, va_format: VaFormat | None = None,
              object_name: ObjectName | None = None,
              warn: Callable[[str], None] | None = None,
              charge: Callable[[int], None] | None = None) -> Formatted:
    """The kernel's ``vsnprintf(buf, size, fmt, args)``.

    ``size`` is the buffer size including the NUL (None: unlimited, as ``vsprintf``).
    ``symbolize(addr, with_offset)`` answers ``%pS``/``%ps``/``%pB`` with kallsyms text
    (see :func:`kallsyms_text`) or None for "no symbol"; ``va_format(addr)`` returns
    ``(fmt, args)`` for a ``%pV`` struct (default: read ``struct va_format`` and its
    ``va_list`` from ``mem``); ``object_name(ext, addr)`` names dentries, files, block
    devices, clocks, fwnodes for ``%pd %pD %pg %pC %pfw`` (and ``%pG``); ``warn(message)``
    receives what the kernel would ``WARN_ONCE`` about (unsupported conversion, oversized
    width or precision, ``%pA``), once per occurrence: deduplicating is the caller's choice.
    ``charge(insns)`` is called for each conversion and each string's bytes (the syscall's
    budget, which may stop a long call by raising); the output kept is at most OUT_MAX
    bytes (the length returned counts it all).
    """
    printer = _Printer(mem, config, symbolize, va_format, object_name, warn, charge)
    if size is not None and size > INT_MAX:
        printer.warn("vsnprintf: size > INT_MAX")        # WARN_ON_ONCE: returns 0, writes nothing
        return Formatted(b"", 0, b"")
    full = printer.format(fmt, args)
    length = len(full) + printer.extra
    if size is None:
        return Formatted(full, length, full + b"\0")
    if size == 0:
        return Formatted(b"", length, b"")
    text = full[:size - 1]
    return Formatted(text, length, text + b"\0")
