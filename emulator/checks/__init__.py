"""The checks a debug kernel makes, for a kernel built without them (Debian's 6.1 has
kmemleak, KASAN and lock debugging off): ``Kernel(checks=("leaks", "memory", "locks"))``,
``kmodsim run --checks leaks,memory,locks``. Off by default; each is a subsystem of its
own, told of allocations and frees by the slab (``k.slab.observer``), of locks by the
locking functions:

* ``leaks``: :class:`~emulator.checks.kmemleak.Kmemleak`, mm/kmemleak.c's scan and reports;
* ``memory``: :class:`~emulator.checks.kasan.Kasan`, generic KASAN's reports of
  use-after-free, slab-out-of-bounds, double and invalid frees (mm/kasan/report.c);
* ``locks``: :class:`~emulator.checks.locks.Lockdep`, PROVE_LOCKING's reports (bad unlock
  balance, recursive locking, circular dependencies, locks held on return to user space:
  kernel/locking/lockdep.c).

Neither kernel feature exists on the reference kernel, so these cannot be recorded with
realkernel: their lines follow the format strings of the 6.1 source.
"""

from .kasan import Kasan
from .kmemleak import Kmemleak
from .locks import Lockdep
from .track import alloc_track

CHECKS = ("leaks", "memory", "locks")


def parse_checks(text):
    """``--checks``' argument: names from :data:`CHECKS`, comma-separated (``all``: every
    one; ``none`` or empty: none). A ValueError names an unknown one."""
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    if names in (["all"],):
        return CHECKS
    if names in ([], ["none"]):
        return ()
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check {unknown[0]!r} (choose from {', '.join(CHECKS)}, all)")
    return tuple(n for n in CHECKS if n in names)


class Checks:
    """``k.checks``: the checks asked for (``names``), and what they found."""

    def __init__(self, k, names=()):
        names = parse_checks(names) if isinstance(names, str) else tuple(names or ())
        unknown = [n for n in names if n not in CHECKS]
        if unknown:
            raise ValueError(f"unknown check {unknown[0]!r} (choose from {', '.join(CHECKS)})")
        self.k = k
        self.names = tuple(n for n in CHECKS if n in names)
        # what the allocation stacks remember (emulator.checks.track)
        self.callees = {}           # (module, return address) -> the kernel function called
        self.orc = None             # (the modules, their ORC lookup)
        self.kmemleak = Kmemleak(k) if "leaks" in self.names else None
        self.kasan = Kasan(k) if "memory" in self.names else None
        # told by emulator.kapi.locks (k.checks.lockdep) and at each syscall's end
        self.lockdep = Lockdep(k) if "locks" in self.names and k.profile.kind == "linux" \
            else None
        if self.kmemleak is not None or self.kasan is not None:
            k.slab.observer = self

    # -- told by the slab ------------------------------------------------------------

    def allocated(self, addr, size):
        track = alloc_track(self.k)
        if self.kmemleak is not None:
            self.kmemleak.allocated(addr, size, track)
        if self.kasan is not None:
            self.kasan.allocated(addr, size, track)

    def freed(self, addr):
        if self.kmemleak is not None:
            self.kmemleak.freed(addr)
        if self.kasan is not None:
            self.kasan.freed(addr)

    def bad_free(self, exc):
        """A kfree the allocator refused (HeapError): True if KASAN reported it."""
        return self.kasan is not None and self.kasan.bad_free(exc)

    # -- told by the kernel ----------------------------------------------------------

    def module_unloaded(self):
        """delete_module freed a module: kmemleak scans (kmodsim's choice: the real one
        scans every 10 minutes and on ``echo scan``; see Kmemleak.scan)."""
        if self.kmemleak is not None:
            self.kmemleak.scan()

    def syscall_exit(self):
        """A syscall returns to user space (Kernel.budgeted): lockdep_sys_exit."""
        if self.lockdep is not None:
            self.lockdep.syscall_exit()

    # -- what they found (emulator.report) ------------------------------------------

    @property
    def leaks(self):
        return self.kmemleak.reported if self.kmemleak is not None else []

    @property
    def memory_errors(self):
        return self.kasan.reported if self.kasan is not None else []

    @property
    def lock_errors(self):
        return self.lockdep.reported if self.lockdep is not None else []


__all__ = ["CHECKS", "Checks", "parse_checks", "Kasan", "Kmemleak", "Lockdep", "alloc_track"]
