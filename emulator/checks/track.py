"""Who did it, and where: the allocation and free stacks both checks keep, and the source
line of a module address (its DWARF, emulator.sources)."""

from .. import faults
from ..sources import source_line
from ..unwind import Unwinder


def alloc_track(k):
    """Who allocates (or frees) now: ``(pid, comm, jiffies, stack)``, ``stack`` a
    :class:`Stack` when module code called for it, else None (the kernel's own)."""
    task = k.tasks.current
    return (task.pid, task.comm, k.time.jiffies(), module_stack(k))


class Stack:
    """The stack of module code that called a kernel function: taken with one register and
    one memory read (this runs at every kmalloc and kfree while a check is on), unwound
    when :meth:`frames` is first asked (kmemleak asks at once, KASAN when it reports)."""

    __slots__ = ("k", "sp", "window", "callee", "caller", "what", "_frames")

    def __init__(self, k, sp, window, callee, caller, what):
        self.k, self.sp, self.window = k, sp, window
        self.callee, self.caller, self.what = callee, caller, what
        self._frames = None

    def frames(self):
        """The kernel function's address, the module's return addresses (its ORC tables
        confirm each frame), then the syscall's frames by name (strings)."""
        if self._frames is None:
            self._frames = tuple(self._unwind()) + tuple(
                f for f in faults.KERNEL_FRAMES.get(self.what, ()) if not f.startswith("? "))
            self.window = None
        return self._frames

    def _unwind(self):
        k, sp, window = self.k, self.sp, self.window

        def read(addr):         # the stack as it was
            off = addr - sp
            return int.from_bytes(window[off:off + 8], "little") \
                if 0 <= off <= len(window) - 8 else None

        find_orc, stop = _orc_finder(k)
        unwinder = Unwinder(find_orc, read, stop)
        state = unwinder.start_at_call(sp)
        frames = [self.callee]
        while not state.done and len(frames) < 16:
            if faults.module_of(k, state.ip) is None:
                if len(frames) == 1:        # the module is gone: its return address still
                    frames.append(self.caller)
                break
            frames.append(state.ip)
            if not unwinder.next(state):
                break
        return frames


def module_stack(k):
    """The :class:`Stack` of the module code that called the kernel function the CPU is in,
    or None when no module code called it (the kernel's own allocations)."""
    m, ctx = k.machine, k.faults.running
    if ctx is None or k.profile.kind != "linux":
        return None
    sp = m.sp
    bottom, top = faults.stack_bounds(k)
    if bottom is None or not bottom <= sp < top:
        return None
    try:
        window = m.read(sp, min(top - sp, STACK_WINDOW))
    except Exception:
        return None
    caller = int.from_bytes(window[:8], "little")
    mod = faults.module_of(k, caller)
    if mod is None:
        return None
    return Stack(k, sp, window, _callee(k, mod, caller), caller, ctx.what)


def _callee(k, mod, ret):
    """The kernel function a module's ``call`` before ``ret`` went to (a ``call rel32``, as
    relocated), remembered per call site of ``mod``; else where the CPU is."""
    cache = k.checks.callees
    key = (mod, ret)
    target = cache.get(key)
    if target is None:
        try:
            insn = k.machine.read(ret - 5, 5)
        except Exception:
            insn = b""
        if insn[:1] == b"\xe8":
            target = (ret + int.from_bytes(insn[1:], "little", signed=True)) & MASK64
        else:
            target = k.machine.pc
        if target in k.kapi.names or target in k.kapi.handlers:
            cache[key] = target
        else:
            target = k.machine.pc
    return target


MASK64 = (1 << 64) - 1
STACK_WINDOW = 4096            # the part of the stack an allocation's frames are taken from
def _orc_finder(k):
    """faults.module_unwinder's ORC lookup and stop test, kept (``k.checks.orc``) while the
    same modules are loaded in the same states: each module's ORC table is read once (a
    stack is taken at every kmalloc)."""
    key = tuple((mod, mod.state) for mod in k.modules)
    cached = k.checks.orc
    if cached is None or cached[0] != key:
        unwinder = faults.module_unwinder(k)
        cached = k.checks.orc = (key, (unwinder.find_orc, unwinder.stop))
    return cached[1]


def source_at(k, addr, module=None):
    """``file:line`` of a module address from its DWARF line table, or None. ``module``
    (a name) finds the module when its init is freed already (the linker's product keeps
    where every section was)."""
    mod = k.modules.find(module) if module else faults.module_of(k, addr, whole=True)
    if mod is None or not hasattr(mod.linked, "info"):
        return None
    try:
        place = faults.section_offset(mod.linked, addr)
        if place is None:
            return None
        src = source_line(mod.linked, place[0], place[2], read=False)
    except Exception:           # a module without DWARF, or with DWARF kmodsim cannot read
        return None
    return f"{src.path}:{src.line}" if src is not None else None


__all__ = ["Stack", "alloc_track", "module_stack", "source_at"]
