"""Module parameters at load time: the bridge from the loader to kernel/params.c's rules.

The rules themselves (``parse_args``, every setter and getter) are in
:mod:`emulator.kapi.params`; this file reads the module's relocated ``__param`` and hands
it the emulated memory, the kernel's one parameter heap and the log.
"""

from . import params


def param_heap(k):
    """The kernel's list of strings the parameter code allocated (one per kernel)."""
    heap = getattr(k, "_param_heap", None)
    if heap is None:
        heap = k._param_heap = params.ParamHeap(_Alloc(k))
    return heap


def module_params(k, mod):
    idx = mod.lm.info.find_sec("__param")
    if not idx:
        return []
    addr = mod.lm.image.address_of(idx)
    size = mod.lm.layout.placements[idx].size
    return params.read_params(k.machine, addr, size, ops_name=k.names.get, bits=k.machine.bits)


def module_parse_args(k, mod, args):
    """``parse_args`` over the module's arguments; 0 or -errno."""
    mod.params = module_params(k, mod)
    result = params.parse_module_args(mod.name, args, mod.params, k.machine, param_heap(k),
                                      k.printk, add_taint=lambda flag: k.add_taint(flag, False))
    return result.rc


def module_free_params(k, mod):
    """``destroy_params`` at unload or after a failed load: free kmalloc'ed strings."""
    for p in getattr(mod, "params", ()):
        params.param_free(p, k.machine, param_heap(k))


class _Alloc:
    def __init__(self, k):
        self.k = k

    def kmalloc(self, size):
        return self.k.kmalloc(size)

    def kfree(self, addr):
        self.k.kfree(addr)
