"""Which Python function implements which kernel export.

A profile binds an export to an implementation by name: ``builtin:<group>.<name>`` for the
ones shipped here (``@kapi("slab.kfree")``), or ``package.module:function`` for a user's own,
so a hobby-kernel developer can describe their kernel without editing kmodsim.

An implementation is ``impl(k, m)``: ``k`` the :class:`~emulator.kernel.Kernel`, ``m`` its
:class:`~emulator.machine.Machine` (read arguments with ``m.arg(i)``). It returns the value
for rax/eax, or ``None`` for a ``void`` function. One that moves the program counter itself
(a jump thunk) returns :data:`HANDLED`.
"""

import importlib

REGISTRY = {}
HANDLED = object()

# which file implements each group; a group's file is imported on first use
GROUP_MODULES = {"printk": "emulator.kapi.printk", "vsprintf": "emulator.kapi.printk",
                 "panic": "emulator.kapi.printk", "params": "emulator.kapi.paramops",
                 "devices": "emulator.kapi.devices"}
DEFAULT_MODULE = "emulator.kapi.core"


def kapi(*names):
    """Register the decorated function under each ``group.name``."""
    def register(fn):
        for name in names:
            REGISTRY[name] = fn
        return fn
    return register


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
