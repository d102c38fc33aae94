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
    plist = params.read_params(k.machine, addr, size, ops_name=k.names.get, bits=k.machine.bits)
    stride = params.X86_64.kernel_param["size"] if k.machine.bits == 64 else \
        params.I386.kernel_param["size"]
    for i, p in enumerate(plist):
        p.kp_addr = addr + i * stride   # where the struct kernel_param itself lives
    return plist


def module_parse_args(k, mod, args):
    """``parse_args`` over the module's arguments; 0 or -errno."""
    mod.params = module_params(k, mod)
    result = params.parse_module_args(mod.name, args, mod.params, k.machine, param_heap(k),
                                      k.printk, custom=EmulatedOps(k),
                                      add_taint=lambda flag: k.add_taint(flag, False))
    return result.rc


class EmulatedOps:
    """A module's own ``struct kernel_param_ops`` (module_param_cb), run in the CPU:
    ``set(const char *val, const struct kernel_param *kp)`` and ``get(char *buffer, kp)``."""

    def __init__(self, k):
        self.k = k

    def flags(self, param):
        return self.k.machine.read_int(param.ops_addr, 4)

    def _fn(self, param, slot):
        return self.k.machine.read_ptr(param.ops_addr + 8 * slot)

    def set(self, param, val):
        k, fn = self.k, self._fn(param, 1)
        if not fn:
            return -22
        buf = 0
        if val is not None:
            buf = k.kmalloc(len(val) + 1)
            k.machine.write(buf, bytes(val) + b"\0")
        try:
            return _signed32(k.call(fn, (buf, param.kp_addr)))
        finally:
            if buf:
                k.kfree(buf)

    def get(self, param):
        k, fn = self.k, self._fn(param, 2)
        if not fn:
            return -22
        buf = k.kmalloc(4096, 0x100)
        try:
            n = _signed32(k.call(fn, (buf, param.kp_addr)))
            return n if n < 0 else k.machine.read(buf, min(n, 4096))
        finally:
            k.kfree(buf)


def _signed32(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


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


# --------------------------------------------------------------------------- callable from C

def _kp(k, m, addr, ops):
    """The ``struct kernel_param`` at ``addr`` as the standard ops ``ops`` would see it."""
    import dataclasses
    size = params.X86_64.kernel_param["size"] if m.bits == 64 else params.I386.kernel_param["size"]
    p = params.read_params(m, addr, size, ops_name=k.names.get, bits=m.bits)[0]
    return dataclasses.replace(p, ops=ops)


def _setter(ops):
    def impl(k, m):
        val_ptr, kp = m.arg(0), m.arg(1)
        val = m.read_cstring(val_ptr) if val_ptr else None
        rc = params.param_set(_kp(k, m, kp, ops), val, m, param_heap(k), printk=k.printk)
        return rc & m.mask
    return impl


def _getter(ops):
    def impl(k, m):
        buf, kp = m.arg(0), m.arg(1)
        text = params.param_get(_kp(k, m, kp, ops), m)
        if isinstance(text, int):
            return text & m.mask
        m.write(buf, text + b"\0")
        return len(text)
    return impl


def _register():
    from .registry import kapi
    for t in ("byte", "short", "ushort", "int", "uint", "long", "ulong", "ullong", "hexint",
              "charp", "bool", "invbool", "bint", "bool_enable_only"):
        kapi(f"params.param_set_{t}")(_setter(f"param_ops_{t}"))
        kapi(f"params.param_get_{t}")(_getter(f"param_ops_{t}"))
    kapi("params.param_set_copystring")(_setter("param_ops_string"))
    kapi("params.param_get_string")(_getter("param_ops_string"))


_register()
