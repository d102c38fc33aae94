"""Which Python function implements which kernel export.

A profile binds an export to an implementation by name: ``builtin:<group>.<name>`` for the
ones shipped here (``@kapi("slab.kfree")``), or ``package.module:function`` for a user's own,
so a hobby-kernel developer can describe their kernel without editing kmodsim.

A kernel function with no implementation is never faked. Calling one stops the task that
called it (:class:`KapiTable`): the CPU stops on the function's entry with the stop reason
:data:`NOT_SIMULATED`, the run ends as a killed task would (the caller gets SIGKILL, a
module whose init it was stays ``Loading``, as after an oops), and the call is reported as
``kmodsim: rb_insert_color is not simulated (called from hl_init+0x52 [hl]); the run stopped
here`` (:class:`NotSimulatedCall`). The only exception is the profile's own list of harmless
no-ops, bound to ``builtin:noop.<name>`` (``linker/profiles/generate.py``, ``NOOP_EXPORTS``:
each with the reason the real function does nothing observable here).

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
import sys
from typing import NamedTuple

REGISTRY = {}
BY_EXPORT = {}      # export name -> implementation (the part of "group.name" after the dot)
HANDLED = object()

# which file implements each group; a group's file is imported on first use
GROUP_MODULES = {"printk": "emulator.kapi.printk", "vsprintf": "emulator.kapi.printk",
                 "panic": "emulator.kapi.printk", "params": "emulator.kapi.kernel_params",
                 "devices": "emulator.kapi.devices", "uaccess": "emulator.kapi.uaccess",
                 "sched": "emulator.kapi.sched", "time": "emulator.kapi.sched",
                 "timers": "emulator.kapi.timers", "workqueue": "emulator.kapi.timers",
                 "tasklet": "emulator.kapi.timers", "rcu": "emulator.kapi.timers",
                 "mutex": "emulator.kapi.locks", "spinlock": "emulator.kapi.locks",
                 "semaphore": "emulator.kapi.locks", "rwsem": "emulator.kapi.locks",
                 "paravirt": "emulator.kapi.locks", "irq": "emulator.kapi.irq"}
DEFAULT_MODULE = "emulator.kapi.core"
# every file that registers implementations: a Linux export the profile does not bind
# explicitly is bound to the implementation registered under its own name, in any group
# (``@kapi("sched.msleep")`` implements ``msleep``), once all of these are imported
KAPI_MODULES = ("emulator.kapi.core", "emulator.kapi.printk", "emulator.kapi.kernel_params",
                "emulator.kapi.devices",
                "emulator.kapi.uaccess", "emulator.kapi.seqfile", "emulator.kapi.sysfs",
                "emulator.kapi.debugfs",
                "emulator.kapi.sched", "emulator.kapi.timers", "emulator.kapi.locks",
                "emulator.kapi.irq")
# kernel functions a Linux module reaches without naming them in its source (the compiler's
# CONFIG_FORTIFY_SOURCE checks call fortify_panic): bound for every Linux profile that does
# not bind them itself
LINUX_DEFAULT_BINDINGS = {"fortify_panic": "builtin:string.fortify_panic"}
# the stop reason (Machine.stop_reason) of a call to a kernel function kmodsim cannot run
NOT_SIMULATED = "not simulated"
SIGKILL = 9


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


def resolve(binding, base=None):
    """The implementation a binding names, or None (then the export is not simulated)."""
    if binding is None:
        return None
    if binding.startswith("builtin:"):
        name = binding[len("builtin:"):]
        if name.startswith("noop."):        # the profile says: does nothing observable
            return noop
        if name not in REGISTRY:
            group = name.split(".", 1)[0]
            importlib.import_module(GROUP_MODULES.get(group, DEFAULT_MODULE))
        if name not in REGISTRY:        # a group whose file GROUP_MODULES does not name
            _import_all()
        return REGISTRY.get(name)
    return user_binding(binding, base)


class BindingError(Exception):
    """A profile's ``package.module:function`` binding that cannot be had: what was tried
    and why."""


def user_binding(binding, base=None):
    """The function a ``package.module:function`` binding names. The module is imported as
    Python finds it, or else from ``base`` (the directory of the profile that names it), so
    a profile and its Python can sit side by side. BindingError says what failed."""
    module, _, func = binding.partition(":")
    try:
        mod = _import_user(module, base)
    except Exception as exc:        # ImportError, or the module's own error at import
        raise BindingError(f"cannot import {module}: {type(exc).__name__}: {exc}") from None
    try:
        return getattr(mod, func)
    except AttributeError:
        raise BindingError(f"{module} ({getattr(mod, '__file__', '?')}) has no {func}") from None


def _import_user(module, base):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.split(".")[0]
        if base is None or exc.name not in (top, module) or str(base) in sys.path:
            raise
    sys.path.insert(0, str(base))
    try:
        return importlib.import_module(module)
    finally:
        sys.path.remove(str(base))


def by_export(name):
    """The implementation registered under export ``name`` in any group, or None."""
    _import_all()
    return BY_EXPORT.get(name)


def _import_all():
    if not _all_imported:
        for module in KAPI_MODULES:
            importlib.import_module(module)
        _all_imported.append(True)


_all_imported = []


def noop(k, m):
    """``builtin:noop.<name>``: a kernel function whose real work has no effect a module or a
    scenario can observe in the simulated kernel (the profile lists each and why,
    ``linker/profiles/generate.py`` ``NOOP_EXPORTS``). Returns 0: for the few that return
    something that is the kernel's own answer here (no trace buffer entry, not filtered)."""
    return 0


noop.params = {}


class NotSimulatedCall(NamedTuple):
    """A call to a kernel function kmodsim cannot run, which stopped the calling task:
    ``function`` (the export's name, or its address) and ``caller`` (the return address as
    ``%pS`` without the size: ``hl_init+0x52 [hl]``)."""

    function: str
    caller: str

    @property
    def message(self):
        return (f"{self.function} is not simulated (called from {self.caller}); "
                f"the run stopped here")

    def __str__(self):
        return self.message


def can_run(profile, name):
    """How the emulator runs export ``name`` of ``profile``: ``"implemented"``, ``"noop"``,
    or ``None`` (not simulated: a call stops the task). What ``kmodsim check`` asks."""
    binding = profile.binding(name)
    if binding is None and profile.kind == "linux":
        binding = LINUX_DEFAULT_BINDINGS.get(name)
    if binding is not None and binding.startswith("builtin:noop."):
        return "noop"
    handler = resolve(binding)
    if handler is None and binding is None and profile.kind == "linux":
        handler = by_export(name)
    return "implemented" if handler is not None else None


def caller_of(k, m):
    """Where the function just entered was called from: its return address (at [sp]) as
    ``name+0x52 [module]`` (``%pS`` without the size), or the address in hex."""
    try:
        ret = m.read_ptr(m.sp)
    except Exception:
        return "an unknown caller"
    try:
        text = k.symbolize(ret)
    except Exception:
        text = None
    if not text:
        text = f"{ret:#x}"
    else:
        name, _, rest = text.partition("/")
        text = name + ("" if not rest or " " not in rest else " " + rest.split(" ", 1)[1])
    running = getattr(getattr(k, "faults", None), "running", None)
    mod = getattr(running, "mod", None)
    if ret == getattr(k, "sentinel", None) and mod is not None:
        # the module jumped to it (a tail call): the return address is the kernel's own
        return f"{mod.name}'s {running.what} (a tail call)"
    return text


def on_not_simulated(k, ctx, trap, regs):
    """``emulator.faults``' handler for the stop: no kernel report (the real kernel would
    have run the function); the task is killed as after an oops, so a module whose init it
    was stays ``Loading`` and an exit leaves it ``Unloading`` (faults._run). What stopped
    it is ``k.kapi.stop`` (``Result.not_simulated``)."""
    from ..faults import Outcome
    return Outcome(0, SIGKILL)


class KapiTable:
    """``k.kapi``: the Python that runs for each kernel function a module calls.

    ``names`` maps a kernel address to the export a module resolved there (filled as modules
    link); ``handlers`` caches the implementation found for each address. A call to an export
    with no implementation (not bound, not a no-op) stops the CPU (``NOT_SIMULATED``) and is
    recorded: ``stops`` lists every :class:`NotSimulatedCall` in order, ``stop`` is the one
    not yet taken by the syscall it ended (:meth:`take_stop`).
    """

    def __init__(self, profile, stub_policy="stop"):
        if stub_policy != "stop":
            raise ValueError(f"stub_policy {stub_policy!r}: kmodsim never fakes a kernel "
                             f"function (the only policy is 'stop')")
        self.profile = profile
        self.stub_policy = stub_policy
        self.names: dict[int, str] = {}
        self.handlers: dict[int, object] = {}
        self.stops: list[NotSimulatedCall] = []
        self.stop: NotSimulatedCall | None = None
        from .. import faults       # (here: registry is imported without the emulator too)
        faults.EXTRA_TRAPS.setdefault(NOT_SIMULATED, on_not_simulated)
        self.base = profile.path.parent if getattr(profile, "path", None) else None
        self._check_user_bindings()

    def _check_user_bindings(self):
        """Every ``package.module:function`` binding of the profile imports now, when the
        kernel is made, not when a module first calls the function: a profile whose Python
        cannot be had fails here, naming the binding, the module and why."""
        from linker.errors import ProfileError
        for name, spec in self.profile.bindings.items():
            if spec.startswith("builtin:"):
                continue
            try:
                user_binding(spec, self.base)
            except BindingError as exc:
                raise ProfileError(f"profile {self.profile.name} ({self.profile.path}): the "
                                   f"binding of {name}, {spec}: {exc}") from None

    def handler_at(self, addr):
        handler = self.handlers.get(addr)
        if handler is None:
            name = self.names.get(addr)
            binding = self.profile.binding(name) if name else None
            if binding is None and name and self.profile.kind == "linux":
                binding = LINUX_DEFAULT_BINDINGS.get(name)
            handler = resolve(binding, self.base)
            if handler is None and binding is None and name and self.profile.kind == "linux":
                handler = by_export(name)
            if handler is None:
                handler = self._not_simulated(name or f"{addr:#x}")
            self.handlers[addr] = handler
        return handler

    def take_stop(self):
        """The call that stopped the current syscall's task, or None; forgets it."""
        stop, self.stop = self.stop, None
        return stop

    def _not_simulated(self, name):
        def not_simulated(k, m):
            stop = NotSimulatedCall(name, caller_of(k, m))
            self.stops.append(stop)
            self.stop = stop
            m.stop(NOT_SIMULATED)       # the PC stays on the function's entry
            return HANDLED
        not_simulated.params = {}
        not_simulated.not_simulated = name
        return not_simulated
