"""printk and friends: ``_printk``, ``vprintk``, dynamic debug, ``dev_*``, the sprintf family.

Formatting is :func:`emulator.kapi.vsprintf.vsnprintf`, the kernel's vsnprintf in Python;
this file only fetches the arguments the way the x86-64 SysV (or i386) ABI passes them:
variadic integers in rsi, rdx, rcx, r8, r9 then on the stack, or through a ``va_list``.
"""

from . import vsprintf
from .registry import kapi

KERN_SOH = b"\x01"
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
    """Format the C string at ``fmt_addr``; returns ``(text, full_length)``."""
    fmt = m.read_cstring(fmt_addr, 1 << 16)
    res = vsprintf.vsnprintf(fmt, args, Mem(m), size=size,
                             config=vsprintf.X86_64 if m.bits == 64 else vsprintf.I386,
                             symbolize=k.symbolize_for_printk)
    return res.text, res.length


# --------------------------------------------------------------------------- printk

@kapi("printk._printk")
def _printk(k, m):
    text, _ = kformat(k, m, m.arg(0), RegArgs(m, 1))
    return k.printk_bytes(text)


@kapi("printk.vprintk")
def vprintk(k, m):
    text, _ = kformat(k, m, m.arg(0), VaList(m, m.arg(1)))
    return k.printk_bytes(text)


@kapi("printk.__dynamic_pr_debug")
def dynamic_pr_debug(k, m):
    """``__dynamic_pr_debug(struct _ddebug *desc, fmt, ...)``: called when the site is enabled.

    The prefix follows the descriptor's flags (module, function, line, thread id), none by
    default; a module built with -DDEBUG starts with just ``p`` (print).
    """
    desc = m.arg(0)
    text, _ = kformat(k, m, m.arg(1), RegArgs(m, 2))
    w = m.word
    flags = (m.read_int(desc + 4 * w, 4) >> 24) & 0xFF
    prefix = b""
    if flags & _DPRINTK_FLAGS_INCL_TID:
        prefix += f"[{k.current.pid}] ".encode()
    if flags & _DPRINTK_FLAGS_INCL_MODNAME:
        prefix += m.read_cstring(m.read_ptr(desc)) + b":"
    if flags & _DPRINTK_FLAGS_INCL_FUNCNAME:
        prefix += m.read_cstring(m.read_ptr(desc + w)) + b":"
    if flags & _DPRINTK_FLAGS_INCL_LINENO:
        prefix += str(m.read_int(desc + 4 * w, 4) & 0x3FFFF).encode() + b":"
    if prefix:
        prefix += b" "
    return k.printk_bytes(KERN_SOH + b"7" + prefix + text)


def _dev_printk_common(k, m, level, dev, text):
    # without a driver model, every device is as dev_printk prints a NULL one
    if dev == 0:
        head = b"(NULL device *): "
    else:
        head = b"kmodsim-device: "
    return k.printk_bytes(KERN_SOH + level + head + text)


def _dev_level(level):
    def impl(k, m):
        text, _ = kformat(k, m, m.arg(1), RegArgs(m, 2))
        return _dev_printk_common(k, m, level, m.arg(0), text)
    return impl


for _name, _lvl in (("_dev_err", b"3"), ("_dev_warn", b"4"), ("_dev_notice", b"5"),
                    ("_dev_info", b"6")):
    kapi(f"printk.{_name}")(_dev_level(_lvl))


@kapi("printk._dev_printk")
def dev_printk(k, m):
    level = m.read_cstring(m.arg(0))
    text, _ = kformat(k, m, m.arg(2), RegArgs(m, 3))
    return _dev_printk_common(k, m, level.lstrip(KERN_SOH)[:1] or b"4", m.arg(1), text)


@kapi("printk.__printk_ratelimit")
def printk_ratelimit(k, m):
    return 1


@kapi("printk.dump_stack")
def dump_stack(k, m):
    k.dump_stack()


# --------------------------------------------------------------------------- sprintf family

def _store(m, buf, text, size):
    """Write ``text`` truncated to ``size`` (NUL included), as vsnprintf does."""
    if size:
        m.write(buf, text[:size - 1] + b"\0")


@kapi("vsprintf.snprintf")
def snprintf(k, m):
    buf, size = m.arg(0), m.arg(1)
    text, full = kformat(k, m, m.arg(2), RegArgs(m, 3))
    _store(m, buf, text, size)
    return full


@kapi("vsprintf.vsnprintf")
def vsnprintf(k, m):
    buf, size = m.arg(0), m.arg(1)
    text, full = kformat(k, m, m.arg(2), VaList(m, m.arg(3)))
    _store(m, buf, text, size)
    return full


@kapi("vsprintf.scnprintf")
def scnprintf(k, m):
    buf, size = m.arg(0), m.arg(1)
    text, _ = kformat(k, m, m.arg(2), RegArgs(m, 3))
    _store(m, buf, text, size)
    return min(len(text), size - 1) if size else 0


@kapi("vsprintf.vscnprintf")
def vscnprintf(k, m):
    buf, size = m.arg(0), m.arg(1)
    text, _ = kformat(k, m, m.arg(2), VaList(m, m.arg(3)))
    _store(m, buf, text, size)
    return min(len(text), size - 1) if size else 0


@kapi("vsprintf.sprintf")
def sprintf(k, m):
    buf = m.arg(0)
    text, full = kformat(k, m, m.arg(1), RegArgs(m, 2))
    m.write(buf, text + b"\0")
    return full


@kapi("vsprintf.vsprintf")
def vsprintf_(k, m):
    buf = m.arg(0)
    text, full = kformat(k, m, m.arg(1), VaList(m, m.arg(2)))
    m.write(buf, text + b"\0")
    return full


@kapi("vsprintf.kasprintf")
def kasprintf(k, m):
    flags = m.arg(0)
    text, _ = kformat(k, m, m.arg(1), RegArgs(m, 2))
    addr = k.kmalloc(len(text) + 1, flags)
    if addr:
        m.write(addr, text + b"\0")
    return addr


# --------------------------------------------------------------------------- panic, taint

@kapi("panic.add_taint")
def add_taint(k, m):
    from linker.load.kernel import TAINT_FLAGS
    flag = m.arg(0)
    if flag < len(TAINT_FLAGS):
        k.add_taint(TAINT_FLAGS[flag][1], bool(m.arg(1)))


@kapi("panic.__warn_printk")
def warn_printk(k, m):
    """``__warn_printk``: the cut-here line, then the message; the WARN's trap follows."""
    k.printk_bytes(KERN_SOH + b"4" + b"------------[ cut here ]------------\n")
    text, _ = kformat(k, m, m.arg(0), RegArgs(m, 1))
    k.printk_bytes(text)


@kapi("panic.panic")
def panic(k, m):
    text, _ = kformat(k, m, m.arg(0), RegArgs(m, 1))
    k.panic(text.decode("latin-1").rstrip("\n"))


@kapi("panic.__stack_chk_fail")
def stack_chk_fail(k, m):
    caller = m.read_ptr(m.sp)
    where = k.symbolize(caller, with_offset=True) or f"0x{caller:x}"
    k.panic(f"stack-protector: Kernel stack is corrupted in: {where}")
