"""printk and friends: ``_printk``, ``vprintk``, dynamic debug, ``dev_*``, the sprintf family.

Formatting is :func:`emulator.kapi.vsprintf.vsnprintf`, the kernel's vsnprintf in Python;
this file only fetches the arguments the way the x86-64 SysV (or i386) ABI passes them:
variadic integers in rsi, rdx, rcx, r8, r9 then on the stack, or through a ``va_list``.
"""

from linker.load.linkkernel import TAINT_FLAGS
from linker.loglevels import KERN_SOH

from .. import faults, traps
from . import vsprintf
from .registry import GFP, INT, PTR, SIZE_T, UINT, kapi

_DPRINTK_FLAGS_PRINT = 1 << 0
_DPRINTK_FLAGS_INCL_MODNAME = 1 << 1
_DPRINTK_FLAGS_INCL_FUNCNAME = 1 << 2
_DPRINTK_FLAGS_INCL_LINENO = 1 << 3
_DPRINTK_FLAGS_INCL_TID = 1 << 4


class RegArgs:
    """The variadic arguments of the function just entered, from argument ``start`` on."""

    def __init__(self, m, start):
        self.m, self.i = m, start

    def next_int(self):
        value = self.m.arg(self.i)
        self.i += 1
        return value

    def next_double(self):
        return 0.0


class VaList:
    """An x86-64 ``va_list``: ``{gp_offset, fp_offset, overflow_arg_area, reg_save_area}``;
    on i386 a plain pointer to the next argument on the stack."""

    def __init__(self, m, addr):
        self.m, self.addr = m, addr
        if m.bits == 32:
            self.p = addr

    def next_int(self):
        m = self.m
        if m.bits == 32:
            value = m.read_int(self.p, 4)
            self.p += 4
            return value
        gp = m.read_int(self.addr, 4)
        if gp < 48:
            value = m.read_ptr(m.read_ptr(self.addr + 16) + gp)
            m.write_int(self.addr, 4, gp + 8)
            return value
        area = m.read_ptr(self.addr + 8)
        value = m.read_ptr(area)
        m.write_ptr(self.addr + 8, area + 8)
        return value

    def next_double(self):
        return 0.0


class Mem:
    """The emulated memory as vsnprintf reads it (faults become vsprintf's MemoryFault)."""

    def __init__(self, m):
        self.m = m

    def read(self, addr, size):
        try:
            return self.m.read(addr, size)
        except Exception:
            raise vsprintf.MemoryFault(addr) from None

    def read_cstring(self, addr, limit=4096):
        try:
            return self.m.read_cstring(addr, limit)
        except Exception:
            raise vsprintf.MemoryFault(addr) from None


def kformat(k, m, fmt_addr, args, size=None):
    """Format the C string at ``fmt_addr``; returns ``(text, full_length)``. What the
    kernel's vsnprintf WARN_ONCE()s about (an oversized width or precision) is reported as
    it reports it (traps.kernel_warn), on a Linux kernel."""
    fmt = m.read_cstring(fmt_addr, 1 << 16)
    warned = []
    via_printk = k.kapi.names.get(m.pc) in ("_printk", "vprintk")
    try:
        res = vsprintf.vsnprintf(fmt, args, Mem(m), size=size,
                                 config=vsprintf.X86_64 if m.bits == 64 else vsprintf.I386,
                                 symbolize=k.symbolize, charge=k.budget.charge,
                                 warn=warned.append)
    except vsprintf.StackOverflow as exc:     # the kernel's stack runs into its guard page
        raise faults.KernelStackOverflow(exc.depth, via_printk) from None
    if warned and k.profile.kind == "linux":
        for message in warned:
            traps.kernel_warn(k, message, printk=via_printk)
    return res.text, res.length


# --------------------------------------------------------------------------- printk

LOG_LINE_MAX = 992          # PRINTKRB_RECORD_MAX: vprintk_store reserves at most this


def _vprintk_store(k, text, full):
    """``vprintk_store``: it reserves ``vsnprintf(...) + 1`` bytes in a ``u16`` (at most
    LOG_LINE_MAX), so a line of 64 KiB or more keeps only what the wrapped size leaves
    (tests/realkernel/hostile_printk1: 2^20 + 19 bytes keep 19)."""
    reserve = min((full + 1) & 0xFFFF, LOG_LINE_MAX)
    if reserve - 1 < len(text):
        text = text[:max(reserve - 1, 0)]
    return k.log.printk_bytes(text)


@kapi("printk._printk", fmt=PTR)
def _printk(k, m, fmt):
    text, full = kformat(k, m, fmt, RegArgs(m, 1))
    return _vprintk_store(k, text, full)


@kapi("printk.vprintk", fmt=PTR, args=PTR)
def vprintk(k, m, fmt, args):
    text, full = kformat(k, m, fmt, VaList(m, args))
    return _vprintk_store(k, text, full)


@kapi("printk.__dynamic_pr_debug", descriptor=PTR, fmt=PTR)
def dynamic_pr_debug(k, m, descriptor, fmt):
    """``__dynamic_pr_debug(struct _ddebug *desc, fmt, ...)``: called when the site is enabled.

    The prefix follows the descriptor's flags (module, function, line, thread id), none by
    default; a module built with -DDEBUG starts with just ``p`` (print).
    """
    text, _ = kformat(k, m, fmt, RegArgs(m, 2))
    w = m.word
    flags = (m.read_int(descriptor + 4 * w, 4) >> 24) & 0xFF
    prefix = b""
    if flags & _DPRINTK_FLAGS_INCL_TID:
        prefix += f"[{k.tasks.current.pid}] ".encode()
    if flags & _DPRINTK_FLAGS_INCL_MODNAME:
        prefix += m.read_cstring(m.read_ptr(descriptor)) + b":"
    if flags & _DPRINTK_FLAGS_INCL_FUNCNAME:
        prefix += m.read_cstring(m.read_ptr(descriptor + w)) + b":"
    if flags & _DPRINTK_FLAGS_INCL_LINENO:
        prefix += str(m.read_int(descriptor + 4 * w, 4) & 0x3FFFF).encode() + b":"
    if prefix:
        prefix += b" "
    return k.log.printk_bytes(KERN_SOH + b"7" + prefix + text)


def _dev_printk_common(k, m, level, dev, text):
    # without a driver model, every device is as dev_printk prints a NULL one
    entry = k.devices.devices.get(dev) if dev and hasattr(k, "devices") else None
    if dev == 0:
        head = b"(NULL device *): "
    elif entry is not None:     # a class device (device_create): "%s %s: " of its class, name
        cls = k.devices.classes.get(entry["class"], "")
        head = f"{cls} {entry['name']}: ".encode("latin-1")
    else:
        head = b"kmodsim-device: "
    return k.log.printk_bytes(KERN_SOH + level + head + text)


def _dev_level(level):
    # void _dev_err(const struct device *dev, const char *fmt, ...), and each level alike
    def impl(k, m, dev, fmt):
        text, _ = kformat(k, m, fmt, RegArgs(m, 2))
        return _dev_printk_common(k, m, level, dev, text)
    return impl


for _name, _lvl in (("_dev_err", b"3"), ("_dev_warn", b"4"), ("_dev_notice", b"5"),
                    ("_dev_info", b"6")):
    kapi(f"printk.{_name}", dev=PTR, fmt=PTR)(_dev_level(_lvl))


@kapi("printk._dev_printk", level=PTR, dev=PTR, fmt=PTR)
def dev_printk(k, m, level, dev, fmt):
    level = m.read_cstring(level)
    text, _ = kformat(k, m, fmt, RegArgs(m, 3))
    return _dev_printk_common(k, m, level.lstrip(KERN_SOH)[:1] or b"4", dev, text)


@kapi("printk.__printk_ratelimit", func=PTR)
def printk_ratelimit(k, m, func):
    return 1


@kapi("printk.dump_stack")
def dump_stack(k, m):
    faults.dump_stack(k)     # faults' own, not this handler (same name)


# --------------------------------------------------------------------------- sprintf family

def _store(m, buf, text, size):
    """Write ``text`` truncated to ``size`` (NUL included), as vsnprintf does."""
    if size:
        m.write(buf, text[:size - 1] + b"\0")


@kapi("vsprintf.snprintf", buf=PTR, size=SIZE_T, fmt=PTR)
def snprintf(k, m, buf, size, fmt):
    text, full = kformat(k, m, fmt, RegArgs(m, 3))
    _store(m, buf, text, size)
    return full


@kapi("vsprintf.vsnprintf", buf=PTR, size=SIZE_T, fmt=PTR, args=PTR)
def vsnprintf(k, m, buf, size, fmt, args):
    text, full = kformat(k, m, fmt, VaList(m, args))
    _store(m, buf, text, size)
    return full


@kapi("vsprintf.scnprintf", buf=PTR, size=SIZE_T, fmt=PTR)
def scnprintf(k, m, buf, size, fmt):
    text, _ = kformat(k, m, fmt, RegArgs(m, 3))
    _store(m, buf, text, size)
    return min(len(text), size - 1) if size else 0


@kapi("vsprintf.vscnprintf", buf=PTR, size=SIZE_T, fmt=PTR, args=PTR)
def vscnprintf(k, m, buf, size, fmt, args):
    text, _ = kformat(k, m, fmt, VaList(m, args))
    _store(m, buf, text, size)
    return min(len(text), size - 1) if size else 0


@kapi("vsprintf.sprintf", buf=PTR, fmt=PTR)
def sprintf(k, m, buf, fmt):
    text, full = kformat(k, m, fmt, RegArgs(m, 2))
    m.write(buf, text + b"\0")
    return full


@kapi("vsprintf.vsprintf", buf=PTR, fmt=PTR, args=PTR)
def vsprintf_(k, m, buf, fmt, args):
    text, full = kformat(k, m, fmt, VaList(m, args))
    m.write(buf, text + b"\0")
    return full


@kapi("vsprintf.kasprintf", gfp=GFP, fmt=PTR)
def kasprintf(k, m, gfp, fmt):
    text, _ = kformat(k, m, fmt, RegArgs(m, 2))
    addr = k.slab.kmalloc(len(text) + 1, gfp)
    if addr:
        m.write(addr, text + b"\0")
    return addr


# --------------------------------------------------------------------------- panic, taint

@kapi("panic.add_taint", flag=UINT, lockdep_ok=INT)
def add_taint(k, m, flag, lockdep_ok):
    # void add_taint(unsigned flag, enum lockdep_ok lockdep_ok)
    if flag < len(TAINT_FLAGS):
        k.add_taint(TAINT_FLAGS[flag][1], bool(lockdep_ok))


@kapi("panic.__warn_printk", fmt=PTR)
def warn_printk(k, m, fmt):
    """``__warn_printk``: the cut-here line, then the message; the WARN's trap follows."""
    k.log.printk_bytes(KERN_SOH + b"4" + b"------------[ cut here ]------------\n")
    text, _ = kformat(k, m, fmt, RegArgs(m, 1))
    k.log.printk_bytes(text)


@kapi("panic.panic", fmt=PTR)
def panic(k, m, fmt):
    text, _ = kformat(k, m, fmt, RegArgs(m, 1))
    k.panic(text.decode("latin-1").rstrip("\n"))


@kapi("panic.__stack_chk_fail")
def stack_chk_fail(k, m):
    caller = m.read_ptr(m.sp)
    where = k.symbolize(caller, with_offset=True) or f"0x{caller:x}"
    k.panic(f"stack-protector: Kernel stack is corrupted in: {where}")
