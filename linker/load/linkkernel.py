"""The kernel as the loader sees it while linking: exports, loaded modules, taints, the log.

``LinkKernel`` is the smallest state the steps of ``load_module`` read and change:

* the exported symbols of vmlinux (from the profile) and of every module already loaded,
  searched in the kernel's order (``find_symbol``: vmlinux, then modules newest first);
* the taint flags, and which once-per-boot messages were already printed;
* the kernel log (``printk`` records: level and text), which is all a failed load leaves;
* the module area, where ``module_alloc`` places each allocation after a guard page.

The emulator's kernel (``emulator/``) builds on this one; the linker never imports it.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from ..loglevels import LOGLEVEL_INFO, LOGLEVEL_WARNING


# include/linux/panic.h bit numbers and print_tainted()'s letters, in its order
TAINT_FLAGS = (
    ("PROPRIETARY_MODULE", "P", "G"), ("FORCED_MODULE", "F", " "), ("CPU_OUT_OF_SPEC", "S", " "),
    ("FORCED_RMMOD", "R", " "), ("MACHINE_CHECK", "M", " "), ("BAD_PAGE", "B", " "),
    ("USER", "U", " "), ("DIE", "D", " "), ("OVERRIDDEN_ACPI_TABLE", "A", " "),
    ("WARN", "W", " "), ("CRAP", "C", " "), ("FIRMWARE_WORKAROUND", "I", " "),
    ("OOT_MODULE", "O", " "), ("UNSIGNED_MODULE", "E", " "), ("SOFTLOCKUP", "L", " "),
    ("LIVEPATCH", "K", " "), ("AUX", "X", " "), ("RANDSTRUCT", "T", " "), ("TEST", "N", " "),
)
MODULE_FLAG_LETTERS = ("P", "F", "O", "E", "C", "K", "X", "T", "N")  # taint_flags[].module
TAINT_LETTERS = {name: letter for name, letter, _ in TAINT_FLAGS}
# taints whose first setting also prints "Disabling lock debugging due to kernel taint":
# the call sites that pass LOCKDEP_NOW_UNRELIABLE (module licence P, forced load F, forced
# rmmod R, die D, machine check M, bad page B, user U); O, E, C, K, N, W, L keep lockdep
LOCKDEP_NOW_UNRELIABLE = {"P", "F", "R", "M", "B", "U", "D"}


@dataclass
class Record:
    """One printk record: its level, its text, and what the emulator's log adds (the
    timestamp, and whether a KERN_CONT may still extend it)."""

    level: int
    text: str
    facility: int = 0             # LOG_KERN; /dev/kmsg writes are LOG_USER (1)
    ts_ns: int = 0
    open: bool = False


class KernelLog:
    """The printk ring buffer as the loader uses it: records, and the once-per-boot keys.

    It reads as a sequence of :class:`Record` (``len(log)``, ``log[-1]``, ``for r in log``).
    The emulator's log (:class:`emulator.logbuf.LogBuffer`) adds timestamps and a console.
    """

    def __init__(self):
        self.records: list[Record] = []
        self.once: set[str] = set()      # keys of once-per-boot messages already printed

    def printk(self, level: int, text: str) -> None:
        self.records.append(Record(level, text))

    def printk_once(self, key: str, level: int, text: str) -> None:
        if key not in self.once:
            self.once.add(key)
            self.printk(level, text)

    def clear(self) -> None:
        self.records.clear()

    def __len__(self):
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, index):
        return self.records[index]


class Taints:
    """The kernel's taint flags (``tainted_mask``), as their letters.

    The first taint that makes lockdep unreliable prints "Disabling lock debugging due to
    kernel taint" once per boot (``add_taint``'s LOCKDEP_NOW_UNRELIABLE).
    """

    def __init__(self, log: KernelLog):
        self.letters: set[str] = set()
        self._log = log

    def add(self, letter: str, lockdep_unreliable: bool | None = None) -> None:
        if lockdep_unreliable is None:
            lockdep_unreliable = letter in LOCKDEP_NOW_UNRELIABLE
        if lockdep_unreliable and "lockdep" not in self._log.once:
            self._log.once.add("lockdep")
            self._log.printk(LOGLEVEL_WARNING, "Disabling lock debugging due to kernel taint")
        self.letters.add(letter)

    def __contains__(self, letter):
        return letter in self.letters

    def __iter__(self):
        return iter(self.letters)

    def __bool__(self):
        return bool(self.letters)

    def string(self) -> str:
        """``print_tainted()``: ``G           OE     `` (one column per flag) or ``Not tainted``."""
        if not self.letters:
            return "Not tainted"
        return "".join(letter if letter in self.letters else other
                       for _, letter, other in TAINT_FLAGS)

    def mask(self) -> int:
        """``/proc/sys/kernel/tainted``: the flags as bits, in include/linux/panic.h's order."""
        return sum(1 << i for i, (_, letter, _) in enumerate(TAINT_FLAGS) if letter in self.letters)


@dataclass(frozen=True)
class SymbolHit:
    """What ``find_symbol`` returns: the value, the CRC, the licence class, the owner."""

    name: str
    value: int
    crc: int | None
    gpl_only: bool
    namespace: str
    owner: "Module | None" = None       # None for vmlinux, else the loaded module


@dataclass
class Allocation:
    start: int
    size: int
    label: str


@dataclass
class ModuleArea:
    """``module_alloc``: first fit in [start, end), each area followed by a guard page.

    vmalloc reserves one unmapped page after every area (``VM_NO_GUARD`` is not set for
    modules). Freed areas are reused at once (module frees are purged together with the
    RWX permission changes; the real kernel frees init memory from a workqueue, so a module
    loaded in the same instant may land a little higher there).

    With ``vmalloc_checks`` (a Linux profile) a request is refused, before anything is
    placed or touched, as 6.1 refuses it (tests/realkernel/bigbss, bigsec1): 0 bytes
    (``__vmalloc_node_range``'s ``WARN_ON_ONCE(!size)``), more than ``modules_len`` (x86's
    ``module_alloc``: ``PAGE_ALIGN(size) > MODULES_LEN``, silently; i386's MODULES_LEN is
    negative, so it has none), more pages than the machine has (``totalram_pages``:
    ``vmalloc error: size N, exceeds total pages``), no room left (``vm_struct allocation
    failed``). ``warn`` receives the text of a ``warn_alloc`` report.
    """

    start: int
    end: int
    page_size: int = 4096
    areas: list = field(default_factory=list)
    vmalloc_checks: bool = False
    modules_len: int | None = None
    totalram_pages: int | None = None
    warn: Callable[[str], None] | None = None

    def alloc(self, size, label):
        page = self.page_size
        if self.vmalloc_checks and not self.admits(size):
            return None
        need = (size + page - 1) // page * page + page  # the area, then its guard page
        cursor = self.start
        for a in sorted(self.areas, key=lambda a: a.start):
            if a.start - cursor >= need:
                break
            cursor = max(cursor, a.start + (a.size + page - 1) // page * page + page)
        if cursor + need > self.end:
            if self.vmalloc_checks and self.warn is not None:
                self.warn(f"vmalloc error: size {size}, vm_struct allocation failed")
            return None
        area = Allocation(cursor, size, label)
        self.areas.append(area)
        return area

    def admits(self, size):
        """``module_alloc``'s and ``__vmalloc_node_range``'s checks before any placement."""
        page = self.page_size
        if size == 0:
            return False
        if self.modules_len is not None and (size + page - 1) // page * page > self.modules_len:
            return False
        if self.totalram_pages is not None and size // page > self.totalram_pages:
            if self.warn is not None:
                self.warn(f"vmalloc error: size {size}, exceeds total pages")
            return False
        return True

    def free(self, start):
        self.areas = [a for a in self.areas if a.start != start]


# include/linux/percpu.h: modules' static per-CPU data comes from the reserved chunk right
# after the kernel's own (PERCPU_MODULE_RESERVE, CONFIG_MODULES && CONFIG_SMP); no single
# per-CPU allocation may exceed PCPU_MIN_UNIT_SIZE (PFN_ALIGN(32 << 10))
PERCPU_MODULE_RESERVE = 8 << 10
PCPU_MIN_UNIT_SIZE = 32 << 10
PCPU_MIN_ALLOC_SIZE = 4
PCPU_WARN_LIMIT = 10         # pcpu_alloc's static warn_limit: failures reported per boot


class PercpuReserve:
    """The reserved per-CPU chunk modules' ``.data..percpu`` comes from
    (``__alloc_reserved_percpu``): first fit over [base, base + PERCPU_MODULE_RESERVE),
    freed when the module goes. ``alloc`` gives an address or None; the checks and the
    messages before it are :meth:`LinkKernel.percpu_alloc`'s."""

    def __init__(self, base: int, size: int = PERCPU_MODULE_RESERVE):
        self.base, self.size = base, size
        self.used: list[tuple[int, int]] = []      # (start, size), sorted

    def alloc(self, size: int, align: int) -> int | None:
        cursor = self.base
        for start, used in self.used:
            cursor = -(-cursor // align) * align
            if cursor + size <= start:
                break
            cursor = max(cursor, start + used)
        cursor = -(-cursor // align) * align
        if cursor + size > self.base + self.size:
            return None
        self.used.append((cursor, size))
        self.used.sort()
        return cursor

    def free(self, start: int) -> None:
        self.used = [u for u in self.used if u[0] != start]


@dataclass(eq=False)
class Module:
    """A listed module: ``struct module`` once it is on the kernel's list.

    The linker fills the first fields (``register_module``: what the next links see); the
    emulator's loader fills the rest as 6.1's ``load_module``/``do_init_module`` do.
    ``linked`` is the linker's product (a ``LinkedModule``, or the hobby loader's
    ``HobbyModule``): its layout, image, symbols and relocations.
    """

    name: str
    exports: dict = field(default_factory=dict)   # name -> SymbolHit
    taints: set = field(default_factory=set)      # letters
    holders: list = field(default_factory=list)   # modules that use this one
    uses: list = field(default_factory=list)      # modules this one uses
    state: str = "LIVE"                           # UNFORMED, COMING, LIVE, GOING
    linked: object = None     # a pipeline.LinkedModule or a hobby.HobbyModule (they import this)
    refcnt: int = 1
    args: str = ""
    init_addr: int = 0                            # mod->init, mod->exit
    exit_addr: int = 0
    core_size: int = 0
    init_size: int = 0                            # 0 once init memory is freed
    params: list = field(default_factory=list)    # the parsed __param entries (emulator)
    file: str | None = None                       # the file it was loaded from, if any

    @property
    def image(self):
        return self.linked.image if self.linked is not None else None

    def flags(self, show_state: bool = True) -> str:
        """``module_flags``: ``(OE)``, ``(OE+)`` while loading, ``(OE-)`` while unloading."""
        letters = "".join(letter for _, letter, _ in TAINT_FLAGS
                          if letter in self.taints and letter in MODULE_FLAG_LETTERS)
        if not letters and not (show_state and self.state in ("GOING", "COMING")):
            return ""
        state = {"GOING": "-", "COMING": "+"}.get(self.state, "") if show_state else ""
        return f"({letters}{state})"


class ModuleTable:
    """The kernel's list of modules, newest first (``list_add_rcu(&mod->list, &modules)``),
    with the name and export indexes ``find_module`` and ``find_symbol`` use."""

    def __init__(self):
        self._list: list[Module] = []
        self._by_name: dict[str, Module] = {}
        self._exports: dict[str, list[SymbolHit]] = {}   # name -> hits, newest first

    def add(self, mod: Module) -> None:
        self._list.insert(0, mod)
        self._by_name[mod.name] = mod
        for name, hit in mod.exports.items():
            self._exports.setdefault(name, []).insert(0, hit)

    def remove(self, mod: Module) -> None:
        self._list.remove(mod)
        if self._by_name.get(mod.name) is mod:
            del self._by_name[mod.name]
        for name, hit in mod.exports.items():
            hits = self._exports.get(name, [])
            if hit in hits:
                hits.remove(hit)

    def find(self, name: str) -> Module | None:
        return self._by_name.get(name)

    def exported(self, name: str) -> list[SymbolHit]:
        """Every listed module's export ``name``, newest first."""
        return self._exports.get(name, [])

    def __iter__(self):
        return iter(list(self._list))

    def __len__(self):
        return len(self._list)

    def __getitem__(self, index):
        return self._list[index]

    def __contains__(self, mod):
        return mod in self._list


class LinkKernel:
    """Kernel state the load steps consult and change, each part a named object:
    ``log`` (printk), ``taints``, ``modules`` (the module list), ``module_area``
    (``module_alloc``) and the per-CPU allocator; vmlinux's exports come from the profile."""

    def __init__(self, profile, boot_allocations=None, log: KernelLog | None = None):
        self.profile = profile
        self.log = log if log is not None else KernelLog()
        self.taints = Taints(self.log)
        self.modules = ModuleTable()
        self.module_blacklist = ()
        self.sig_enforce = profile.checks.get("signature") == "enforce"
        area = profile.module_area or nominal_module_area(profile)
        linux = profile.kind == "linux"
        self.module_area = ModuleArea(
            area.start, area.end, profile.page_size, vmalloc_checks=linux,
            # i386: MODULES_LEN is MODULES_VADDR - MODULES_END, negative, so never exceeded
            modules_len=area.end - area.start if linux and profile.elf_class == 64 else None,
            totalram_pages=profile.totalram_pages if linux else None,
            warn=self.warn_alloc) if area else None
        for start, size, label in boot_allocations if boot_allocations is not None \
                else default_boot_allocations(profile):
            self.module_area.areas.append(Allocation(start, size, label))
        self.percpu = PercpuReserve(profile.percpu_module_base or 0)
        self._percpu_warnings = PCPU_WARN_LIMIT
        self._vmlinux = {}           # find_symbol's cache of the profile's vmlinux exports
        self._placeholders = None
        if hasattr(profile.exports, "index"):
            profile.exports.index()

    # -- the log and the taints, as the load steps call them -------------------------

    def printk(self, level, text):
        self.log.printk(level, text)

    def printk_once(self, key, level, text):
        self.log.printk_once(key, level, text)

    def test_taint(self, letter):
        return letter in self.taints

    def add_taint(self, letter, lockdep_unreliable=None):
        self.taints.add(letter, lockdep_unreliable)

    # -- symbols ----------------------------------------------------------------------

    def vmlinux_symbol(self, name):
        """vmlinux's export ``name`` (a SymbolHit with no owner), or None.

        A link-only profile (no System.map, e.g. the i386 one) knows the exports and their
        CRCs but not their addresses: each gets a placeholder address, stable for the
        profile, so modules can still be laid out, checked and relocated.
        """
        hit = self._vmlinux.get(name, ...)
        if hit is ...:
            exp = self.profile.exports.get(name)
            hit = None
            if exp is not None and exp.exporter == "vmlinux":
                addr = exp.addr if exp.addr is not None else self.placeholder_address(name)
                if addr is not None:
                    hit = SymbolHit(name, addr, exp.crc, exp.gpl_only, exp.namespace or "", None)
            self._vmlinux[name] = hit
        return hit

    def placeholder_address(self, name):
        """``PLACEHOLDER_BASE + 16 * rank`` of the name among the profile's exports."""
        if self.profile.runnable:
            return None
        if self._placeholders is None:
            names = sorted(self.profile.exports)
            self._placeholders = {n: i for i, n in enumerate(names)}
        rank = self._placeholders.get(name)
        base = PLACEHOLDER_BASE.get(self.profile.elf_class, 0)
        return None if rank is None else base + 16 * rank

    def find_symbol(self, name, gplok=True):
        """``find_symbol``: vmlinux's tables, then each live module's, newest first."""
        hit = self.vmlinux_symbol(name)
        if hit is not None and (gplok or not hit.gpl_only):
            return hit
        for hit in self.modules.exported(name):
            if hit.owner.state != "UNFORMED" and (gplok or not hit.gpl_only):
                return hit
        return None

    def exporter_hint(self, name):
        """Which module would export ``name`` (from the profile's Module.symvers), if any."""
        exp = self.profile.exports.get(name)
        return exp.exporter if exp is not None and exp.exporter != "vmlinux" else None

    # -- per-CPU ----------------------------------------------------------------------

    def percpu_alloc(self, size, align):
        """``__alloc_reserved_percpu(size, align)`` (``pcpu_alloc``): the module's per-CPU
        address, or None after the kernel's report (tests/realkernel/bigsec1): a size that
        is 0 or over ``PCPU_MIN_UNIT_SIZE`` once rounded to 4 bytes, or an alignment that is
        not a power of two, is a WARN (``illegal size (N) or align (A) for percpu
        allocation``); a request the reserved chunk cannot hold is ``percpu: allocation
        failed, ..., alloc from reserved chunk failed`` and a stack dump (the first 10 per
        boot). ``align`` is at most a page here (percpu_modalloc cut it)."""
        align = max(align, PCPU_MIN_ALLOC_SIZE)
        size = -(-size // PCPU_MIN_ALLOC_SIZE) * PCPU_MIN_ALLOC_SIZE & 0xFFFFFFFFFFFFFFFF
        if not size or size > PCPU_MIN_UNIT_SIZE or align > self.profile.page_size \
                or align & (align - 1):
            self.kernel_warning("mm/percpu.c:1758", "pcpu_alloc+0x7e0/0x830",
                                f"illegal size ({size}) or align ({align}) for percpu allocation",
                                ("load_module+0xf48/0x21a0",))
            return None
        addr = self.percpu.alloc(size, align)
        if addr is None and self._percpu_warnings:
            self.printk(LOGLEVEL_WARNING, f"percpu: allocation failed, size={size} align={align} "
                                          "atomic=0, alloc from reserved chunk failed")
            self.dump_stack(("dump_stack_lvl+0x44/0x5c", "pcpu_alloc.cold+0x20/0x3e",
                             "load_module+0xf48/0x21a0"))
            self._percpu_warnings -= 1
            if not self._percpu_warnings:
                self.printk(LOGLEVEL_INFO, "percpu: limit reached, disable warning")
        return addr

    def percpu_free(self, addr):
        self.percpu.free(addr)

    # -- the kernel's own reports, as far as the loader knows them -------------------------

    def warn_alloc(self, text):
        """mm/page_alloc.c ``warn_alloc`` from ``module_alloc``: its first line. The emulator's
        kernel (emulator.slab.ModuleAlloc) prints the whole report: the stack dump, and
        ``show_mem``'s Mem-Info."""
        self.printk(LOGLEVEL_WARNING, f"insmod: {text}, {GFP_KERNEL_TEXT}")

    def kernel_warning(self, where, rip, message, frames=()):
        """A ``WARN()`` in kernel code (not the module's), at ``where`` (``file:line``) with
        RIP ``rip`` and the call trace ``frames`` below it (as recorded): the loader prints
        its message; the cut-here line, registers and call trace are for the emulator's
        kernel to add."""
        self.printk(LOGLEVEL_WARNING, message)

    def dump_stack(self, frames):
        """``dump_stack()`` from kernel code: nothing at link time; the emulator's kernel
        prints the CPU line and the call trace ``frames``."""


GFP_KERNEL_TEXT = "mode:0xcc0(GFP_KERNEL), nodemask=(null),cpuset=/,mems_allowed=0"


# link-only profiles: where placeholder export addresses start (i386: the kernel's text
# starts at 0xc1000000 with the default 3G/1G split and a 16 MiB physical start)
PLACEHOLDER_BASE = {32: 0xC1000000, 64: 0xFFFFFFFF81000000}


class _Area:
    def __init__(self, start, end):
        self.start, self.end = start, end


def nominal_module_area(profile):
    """A module area for a profile that does not fix one.

    On i386 ``MODULES_VADDR`` is ``VMALLOC_START``, which follows the amount of low memory;
    on a machine with 896 MiB or more of it, modules land at 0xf8000000 and up, the range
    i386 oops reports usually show. Used only when the profile leaves ``module_area`` null.
    """
    if profile.elf_class == 32 and profile.kind == "linux":
        return _Area(0xF8000000, 0xFF000000)
    return None


def default_boot_allocations(profile):
    """What already sits in the module area when the first module loads.

    On the reference kernel (booted ``nokaslr``) the first module lands at
    ``0xffffffffc0201000``: the BPF JIT's 2 MiB program pack (``bpf_prog_pack``) was
    allocated from the module area at boot, and its guard page follows it.
    """
    area = profile.module_area
    if area is None or profile.arch != "x86_64":
        return []
    return [(area.start, 2 * 1024 * 1024, "bpf_prog_pack")]
