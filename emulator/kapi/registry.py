"""Which Python function implements which kernel export.

A profile binds an export to an implementation by name: ``builtin:<group>.<name>`` for the
ones shipped here (``@kapi("slab.kfree")``), or ``package.module:function`` for a user's own,
so a hobby-kernel developer can describe their kernel without editing kmodsim.

An implementation is ``impl(k, m)``: ``k`` the :class:`~emulator.kernel.Kernel`, ``m`` its
:class:`~emulator.machine.Machine`. It returns the value for rax/eax (a negative errno may be
returned as is: the register keeps its low bits), or ``None`` for a ``void`` function. One
that moves the program counter itself (a jump thunk) returns :data:`HANDLED`.

A handler declares its C arguments by name and type, in order, as qiling's
``@linux_kernel_api(params=...)`` does, and gets them decoded::

    @kapi("slab.__kmalloc", size=SIZE_T, flags=GFP)
    def kmalloc(k, m, size, flags):
        ...

The types say how the register (or stack slot) is read: ``PTR``, ``SIZE_T`` and ``ULONG``
as the machine word, ``LONG`` and ``SSIZE_T`` sign-extended from it, ``INT`` sign-extended
from 32 bits, ``UINT``/``GFP``/``DEV_T`` the low 32 bits, ``USHORT``/``UMODE_T`` the low
16 bits, ``CHAR`` the low byte, ``BOOL`` 0 or 1. Variadic functions declare their fixed
arguments and read the rest themselves.
"""

import importlib

REGISTRY = {}
BY_EXPORT = {}      # export name -> implementation (the part of "group.name" after the dot)
HANDLED = object()

# which file implements each group; a group's file is imported on first use
GROUP_MODULES = {"printk": "emulator.kapi.printk", "vsprintf": "emulator.kapi.printk",
                 "panic": "emulator.kapi.printk", "params": "emulator.kapi.kernel_params",
                 "devices": "emulator.kapi.devices"}
DEFAULT_MODULE = "emulator.kapi.core"
# every file that registers implementations: a Linux export the profile does not bind
# explicitly is bound to the implementation registered under its own name, in any group
# (``@kapi("sched.msleep")`` implements ``msleep``), once all of these are imported
KAPI_MODULES = ("emulator.kapi.core", "emulator.kapi.printk", "emulator.kapi.kernel_params",
                "emulator.kapi.devices")
# kernel functions a Linux module reaches without naming them in its source (the compiler's
# CONFIG_FORTIFY_SOURCE checks call fortify_panic): bound for every Linux profile that does
# not bind them itself
LINUX_DEFAULT_BINDINGS = {"fortify_panic": "builtin:string.fortify_panic"}


# argument types: how a C argument is read from its register or stack slot
def PTR(m, raw):
    return raw


SIZE_T = ULONG = PTR


def LONG(m, raw):
    return raw - (1 << m.bits) if raw >> (m.bits - 1) & 1 else raw


SSIZE_T = LONG


def INT(m, raw):
    raw &= 0xFFFFFFFF
    return raw - (1 << 32) if raw >> 31 else raw


def UINT(m, raw):
    return raw & 0xFFFFFFFF


GFP = DEV_T = UINT


def USHORT(m, raw):
    # unsigned short: umode_t, the mode of proc_create and friends (the C callee reads
    # only the low 16 bits of its register or stack slot)
    return raw & 0xFFFF


UMODE_T = USHORT


def CHAR(m, raw):
    return raw & 0xFF


def BOOL(m, raw):
    return int(bool(raw & 0xFF))


def kapi(*names, **params):
    """Register the decorated function under each ``group.name``; ``params`` declare its
    arguments (``name=TYPE``, in the C prototype's order), passed to it decoded."""
    def register(fn):
        impl = _with_args(fn, tuple(params.values())) if params else fn
        impl.params = dict(params)
        for name in names:
            REGISTRY[name] = impl
            BY_EXPORT.setdefault(name.split(".", 1)[-1], impl)
        return impl
    return register


def _with_args(fn, types):
    def impl(k, m):
        return fn(k, m, *[decode(m, m.arg(i)) for i, decode in enumerate(types)])
    impl.__name__, impl.__doc__, impl.__wrapped__ = fn.__name__, fn.__doc__, fn
    return impl


def resolve(binding):
    """The implementation a binding names, or None (then the export gets a recording stub)."""
    if binding is None:
        return None
    if binding.startswith("builtin:"):
        name = binding[len("builtin:"):]
        if name not in REGISTRY:
            group = name.split(".", 1)[0]
            importlib.import_module(GROUP_MODULES.get(group, DEFAULT_MODULE))
        return REGISTRY.get(name)
    module, _, func = binding.partition(":")
    try:
        return getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError):
        return None


def by_export(name):
    """The implementation registered under export ``name`` in any group, or None."""
    if not _all_imported:
        for module in KAPI_MODULES:
            importlib.import_module(module)
        _all_imported.append(True)
    return BY_EXPORT.get(name)


_all_imported = []


class KapiTable:
    """``k.kapi``: the Python that runs for each kernel function a module calls.

    ``names`` maps a kernel address to the export a module resolved there (filled as modules
    link); ``handlers`` caches the implementation found for each address; ``stub_calls``
    lists the calls to exports kmodsim has no implementation for, in order.
    """

    def __init__(self, profile, stub_policy="record"):
        self.profile = profile
        self.stub_policy = stub_policy
        self.names: dict[int, str] = {}
        self.handlers: dict[int, object] = {}
        self.stub_calls: list[tuple[str, tuple]] = []

    def handler_at(self, addr):
        handler = self.handlers.get(addr)
        if handler is None:
            name = self.names.get(addr)
            binding = self.profile.binding(name) if name else None
            if binding is None and name and self.profile.kind == "linux":
                binding = LINUX_DEFAULT_BINDINGS.get(name)
            handler = resolve(binding)
            if handler is None and binding is None and name and self.profile.kind == "linux":
                handler = by_export(name)
            if handler is None:
                handler = self._stub(name or f"{addr:#x}")
            self.handlers[addr] = handler
        return handler

    def _stub(self, name):
        def stub(k, m):
            self.stub_calls.append((name, tuple(m.arg(i) for i in range(3))))
            return 0
        return stub
