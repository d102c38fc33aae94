"""Kernel API handlers declare their C arguments (``@kapi(..., size=SIZE_T, flags=GFP)``):
the types decode a register or stack slot as the C callee reads it, on x86-64 (six
arguments in registers, then the stack) and i386 (all on the stack), and the handlers in
``emulator/kapi`` get their fixed arguments decoded that way."""

import inspect

import pytest
from unicorn import UC_PROT_READ, UC_PROT_WRITE

from emulator.kapi import registry
from emulator.kapi.devices import split_dev
from emulator.kapi.registry import (BOOL, CHAR, DEV_T, GFP, INT, LONG, PTR, SIZE_T, SSIZE_T,
                                    UINT, ULONG, UMODE_T, USHORT, kapi, resolve)
from emulator.kernel import Kernel
from emulator.machine import Machine
from emulator.memmap import HOBBY_STACK_TOP, STACK_TOP

STACK_BASE, STACK_SIZE = 0x10000, 0x4000
RETURN_ADDR = 0x5A5A5A50          # at [sp] on entry: an argument read from it is misplaced


@pytest.fixture(params=[64, 32], ids=["x86_64", "i386"])
def machine(request):
    m = Machine(request.param)
    m.map(STACK_BASE, STACK_SIZE, UC_PROT_READ | UC_PROT_WRITE, "test stack")
    return m


def enter(m, args, sp):
    """The machine as at the entry of a C function called with ``args`` (raw register or
    stack-slot values): the return address at [sp], the SysV registers first on x86-64,
    the stack slots above the return address for the rest (all of them on i386)."""
    m.set_reg(m.SP, sp)
    m.write_ptr(sp, RETURN_ADDR)
    for i, value in enumerate(args[len(m.ARGS):]):
        m.write_ptr(sp + (i + 1) * m.word, value)
    for reg, value in zip(m.ARGS, args):
        m.set_reg(reg, value)


# --------------------------------------------------------------------------- the types

def test_int_is_the_low_32_bits_sign_extended(machine):
    assert INT(machine, 0xFFFFFFFF) == -1
    assert INT(machine, 0x1_0000_0005) == 5
    assert INT(machine, 0xFFFF_FFFF_8000_0000) == -(1 << 31)
    assert INT(machine, 0x8000_0000) == -(1 << 31)
    assert INT(machine, 0x7FFF_FFFF) == (1 << 31) - 1
    assert INT(machine, 0xDEAD_BEEF_0000_0000) == 0
    assert INT(machine, 0) == 0


@pytest.mark.parametrize("decode", [LONG, SSIZE_T], ids=["LONG", "SSIZE_T"])
def test_long_is_sign_extended_from_the_machine_word(decode):
    m64, m32 = Machine(64), Machine(32)
    assert decode(m64, (1 << 64) - 1) == -1
    assert decode(m64, 1 << 63) == -(1 << 63)
    assert decode(m64, (1 << 63) - 1) == (1 << 63) - 1
    assert decode(m64, 0xFFFFFFFF) == 0xFFFFFFFF          # a 64-bit long: not negative
    assert decode(m64, 0x8000_0000) == 0x8000_0000
    assert decode(m32, 0xFFFFFFFF) == -1
    assert decode(m32, 0x8000_0000) == -(1 << 31)
    assert decode(m32, 0x7FFF_FFFF) == (1 << 31) - 1
    assert decode(m32, 5) == 5


@pytest.mark.parametrize("decode", [PTR, SIZE_T, ULONG], ids=["PTR", "SIZE_T", "ULONG"])
def test_word_types_keep_the_whole_register(machine, decode):
    top = machine.mask
    assert decode(machine, top) == top                     # never negative
    assert decode(machine, top - 0xFFF) == top - 0xFFF
    assert decode(machine, 0x1234) == 0x1234
    if machine.bits == 64:
        assert decode(machine, 0xFFFF_8880_0000_1000) == 0xFFFF_8880_0000_1000


@pytest.mark.parametrize("decode", [UINT, GFP, DEV_T], ids=["UINT", "GFP", "DEV_T"])
def test_32_bit_unsigned_types_keep_the_low_32_bits(machine, decode):
    assert decode(machine, 0xDEAD_BEEF_0000_0CC0) == 0xCC0
    assert decode(machine, 0x1_0000_0005) == 5
    assert decode(machine, 0xFFFF_FFFF) == 0xFFFF_FFFF    # unsigned: not -1
    assert decode(machine, 0xFFFF_FFFF_FFFF_FFFF) == 0xFFFF_FFFF


@pytest.mark.parametrize("decode", [USHORT, UMODE_T], ids=["USHORT", "UMODE_T"])
def test_umode_t_keeps_the_low_16_bits(machine, decode):
    assert decode(machine, 0xFFFF_81A4) == 0x81A4          # S_IFREG | 0644
    assert decode(machine, 0x1_0000) == 0
    assert decode(machine, 0o444) == 0o444


def test_char_is_the_low_byte(machine):
    assert CHAR(machine, 0x1234) == 0x34
    assert CHAR(machine, 0xFFFF_FF0A) == 0x0A
    assert CHAR(machine, 0xFF) == 0xFF                     # the byte, as seq_putc stores it


def test_bool_is_the_low_byte_as_0_or_1(machine):
    assert BOOL(machine, 0) == 0
    assert BOOL(machine, 1) == 1
    assert BOOL(machine, 0x80) == 1
    assert BOOL(machine, 0x100) == 0                       # only the low byte is the bool
    assert BOOL(machine, 0xFFFF_FF00) == 0
    assert BOOL(machine, 0xDEAD_BEEF_0000_0001) == 1


# --------------------------------------------------------------------------- the decorator

def test_a_declared_handler_gets_its_arguments_decoded_from_registers_and_stack(machine):
    seen = []

    def probe(k, m, a, b, c, d, e, f, g, h):
        seen.append((k, a, b, c, d, e, f, g, h))
        return 7

    params = dict(a=PTR, b=INT, c=UINT, d=LONG, e=CHAR, f=BOOL, g=INT, h=SIZE_T)
    impl = kapi(**params)(probe)                           # no name: nothing registered
    if machine.bits == 64:
        # a..f in rdi, rsi, rdx, rcx, r8, r9; g and h in the stack slots after the return
        raw = [0xFFFF_8880_1234_5678, 0x1_FFFF_FFFE, 0xABCD_0000_0010, (1 << 64) - 3,
               0xFFFF_FF41, 0x200, 0xDEAD_BEEF_FFFF_FFFF, (1 << 64) - 1]
        want = (0xFFFF_8880_1234_5678, -2, 0x10, -3, 0x41, 0, -1, (1 << 64) - 1)
    else:
        # all eight on the stack, above the return address
        raw = [0xC123_4567, 0xFFFF_FFFE, 0x10, 0xFFFF_FFFD, 0xFFFF_FF41, 0x200, 0xFFFF_FFFF,
               0xFFFF_FFFF]
        want = (0xC123_4567, -2, 0x10, -3, 0x41, 0, -1, 0xFFFF_FFFF)
    enter(machine, raw, STACK_BASE + STACK_SIZE - 0x100)
    kernel = object()
    assert impl(kernel, machine) == 7
    assert seen == [(kernel,) + want]
    assert impl.params == params
    assert impl.__wrapped__ is probe and impl.__name__ == "probe"


def test_the_stack_arguments_are_read_above_the_return_address():
    m = Machine(32)
    m.map(STACK_BASE, STACK_SIZE, UC_PROT_READ | UC_PROT_WRITE, "test stack")
    seen = []
    impl = kapi(x=INT, y=UINT)(lambda k, m, x, y: seen.append((x, y)))
    sp = STACK_BASE + 0x800
    enter(m, [0xFFFF_FFF9, 9], sp)
    m.write_ptr(sp - 4, 0x1111_1111)                       # below sp: not an argument
    impl(None, m)
    assert seen == [(-7, 9)]
    m.write_ptr(sp + 4, 3)                                 # the first slot is the first argument
    impl(None, m)
    assert seen[-1] == (3, 9)


def test_an_undeclared_handler_is_registered_as_it_is():
    def plain(k, m):
        return 1
    assert kapi()(plain) is plain
    assert plain.params == {}


def test_every_handler_takes_the_arguments_it_declares():
    """Each builtin's Python signature is ``(k, m, *declared)``, in the declared order."""
    for module in ("emulator.kapi.core", "emulator.kapi.devices", "emulator.kapi.printk"):
        __import__(module)
    assert registry.REGISTRY
    for name, impl in registry.REGISTRY.items():
        fn = getattr(impl, "__wrapped__", impl)
        names = list(inspect.signature(fn).parameters)
        assert names[:2] == ["k", "m"], name
        assert names[2:] == list(impl.params), name


# --------------------------------------------------------------------------- real handlers

@pytest.fixture(params=["linux", "hobby-i386"])
def kernel(request):
    return Kernel() if request.param == "linux" else Kernel("hobby-i386")


def call(k, name, *args):
    """Run the builtin ``group.name`` as if module code had just called it with ``args``."""
    m = k.machine
    enter(m, list(args), (STACK_TOP if m.bits == 64 else HOBBY_STACK_TOP) - 0x400)
    return resolve(f"builtin:{name}")(k, m)


def cstring(k, text):
    addr = k.slab.kmalloc(len(text) + 1)
    k.machine.write(addr, text.encode() + b"\0")
    return addr


def high(k, value):
    """``value`` with garbage in the upper half of a 64-bit register (as the ABI allows for a
    32-bit argument); on i386 the slot is 32 bits and keeps ``value``."""
    return value | 0xDEAD_BEEF_0000_0000 if k.machine.bits == 64 else value


def test_msleep_reads_an_unsigned_int(kernel):
    """msleep(100) sleeps msecs_to_jiffies(100) + 1 = 26 jiffies, 27 on the timer wheel
    (emulator.sched): the task's wake-up is set for then (the hobby kernel, which has no
    scheduler, lets the time pass at once)."""
    before = kernel.time.monotonic_ns()
    call(kernel, "time.msleep", high(kernel, 100))
    if kernel.profile.kind == "linux":
        assert kernel.tasks.current.wake_event.ns - before == 108_000_000
    else:
        assert kernel.time.monotonic_ns() - before == 108_000_000


def test_kstrtoint_decodes_string_base_and_result_pointer(kernel):
    res = kernel.slab.kmalloc(8)
    kernel.machine.write(res, b"\xAA" * 8)
    rc = call(kernel, "kstrtox.kstrtoint", cstring(kernel, "-17"), high(kernel, 8), res)
    assert rc == 0
    assert kernel.machine.read_int(res, 4, signed=True) == -15          # octal 17
    assert kernel.machine.read(res + 4, 4) == b"\xAA" * 4               # an int: 4 bytes


def test_alloc_chrdev_region_reads_its_unsigned_arguments(kernel):
    dev = kernel.slab.kmalloc(4)
    rc = call(kernel, "devices.alloc_chrdev_region", dev, high(kernel, 3), high(kernel, 2),
              cstring(kernel, "kapitest"))
    assert rc == 0
    major, minor = split_dev(kernel.machine.read_int(dev, 4))
    assert minor == 3
    assert (3, 2, "kapitest") in kernel.chrdev.table[major]


def test_snprintf_declares_its_fixed_arguments_and_reads_the_rest_as_variadic(kernel):
    m = kernel.machine
    buf = kernel.slab.kmalloc(64)
    full = call(kernel, "vsprintf.snprintf", buf, 6, cstring(kernel, "%d:%s"),
                (-5) & m.mask, cstring(kernel, "abcdef"))
    assert full == len("-5:abcdef")
    assert m.read(buf, 6) == b"-5:ab\0"


def test_proc_mkdir_takes_the_parent_as_its_second_argument():
    """proc_mkdir(name, parent) has no mode: the third register is not the parent."""
    k = Kernel()
    addr = call(k, "devices.proc_mkdir", cstring(k, "kapidir"), 0, 0xFFFF_8880_0000_1000)
    assert addr
    assert k.procfs.entries[addr]["name"] == "kapidir"
    addr = call(k, "devices.proc_mkdir_mode", cstring(k, "kapidir2"), high(k, 0o555), 0)
    assert k.procfs.entries[addr]["mode"] == 0o555


def test_add_taint_reads_an_unsigned_flag_and_the_lockdep_enum():
    k = Kernel()
    call(k, "panic.add_taint", high(k, 12), high(k, 0))     # TAINT_OOT_MODULE, LOCKDEP_STILL_OK
    assert "O" in k.taints
    assert "Disabling lock debugging" not in k.dmesg()


def test_dump_stack_prints_a_call_trace():
    """The printk.dump_stack handler shares its name with faults.dump_stack, which it calls."""
    k = Kernel()
    assert call(k, "printk.dump_stack") is None
    assert "Call Trace:" in k.dmesg()


_ONE_IMPLEMENTATION = """
import importlib, json
from emulator.kapi import registry
impls = {}
real_kapi = registry.kapi

def tracking(*names, **params):
    register = real_kapi(*names, **params)
    def wrap(fn):
        for n in names:
            impls.setdefault(n.split(".", 1)[-1], set()).add(fn.__module__ + "." + fn.__qualname__)
        return register(fn)
    return wrap

registry.kapi = tracking
for module in registry.KAPI_MODULES:
    importlib.import_module(module)
print(json.dumps({n: sorted(f) for n, f in impls.items() if len(f) > 1}))
"""


def test_each_kernel_function_has_one_implementation():
    """A name registered by two different functions (a placeholder left behind when a real
    implementation moved elsewhere) makes the binding depend on import order. Checked in a
    fresh interpreter, where every kapi file is imported under the tracking decorator."""
    import json
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", _ONE_IMPLEMENTATION], capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out) == {}
