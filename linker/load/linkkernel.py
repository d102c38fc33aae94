"""The kernel as the loader sees it while linking: exports, loaded modules, taints, the log.

``LinkKernel`` is the smallest state the steps of ``load_module`` read and change:

* the exported symbols of vmlinux (from the profile) and of every module already loaded,
  searched in the kernel's order (``find_symbol``: vmlinux, then modules newest first);
* the taint flags, and which once-per-boot messages were already printed;
* the kernel log (``printk`` records: level and text), which is all a failed load leaves;
* the module area, where ``module_alloc`` places each allocation after a guard page.

The emulator's kernel (``emulator/``) builds on this one; the linker never imports it.
"""

from dataclasses import dataclass, field

KERN_EMERG, KERN_ALERT, KERN_CRIT, KERN_ERR, KERN_WARNING, KERN_NOTICE, KERN_INFO, KERN_DEBUG = range(8)
KERN_DEFAULT_LEVEL = 4  # a message without a level: CONFIG_MESSAGE_LOGLEVEL_DEFAULT

# include/linux/panic.h bit numbers and print_tainted()'s letters, in its order
TAINT_FLAGS = (
    ("PROPRIETARY_MODULE", "P", "G"), ("FORCED_MODULE", "F", " "), ("CPU_OUT_OF_SPEC", "S", " "),
    ("FORCED_RMMOD", "R", " "), ("MACHINE_CHECK", "M", " "), ("BAD_PAGE", "B", " "),
    ("USER", "U", " "), ("DIE", "D", " "), ("OVERRIDDEN_ACPI_TABLE", "A", " "),
    ("WARN", "W", " "), ("CRAP", "C", " "), ("FIRMWARE_WORKAROUND", "I", " "),
    ("OOT_MODULE", "O", " "), ("UNSIGNED_MODULE", "E", " "), ("SOFTLOCKUP", "L", " "),
    ("LIVEPATCH", "K", " "), ("AUX", "X", " "), ("RANDSTRUCT", "T", " "), ("TEST", "N", " "),
)
TAINT_LETTERS = {name: letter for name, letter, _ in TAINT_FLAGS}
# taints whose first setting also prints "Disabling lock debugging due to kernel taint":
# the call sites that pass LOCKDEP_NOW_UNRELIABLE (module licence P, forced load F, forced
# rmmod R, die D, machine check M, bad page B, user U); O, E, C, K, N, W, L keep lockdep
LOCKDEP_NOW_UNRELIABLE = {"P", "F", "R", "M", "B", "U", "D"}


@dataclass
class Record:
    level: int
    text: str
    facility: str = "kern"


@dataclass(frozen=True)
class SymbolHit:
    """What ``find_symbol`` returns: the value, the CRC, the licence class, the owner."""

    name: str
    value: int
    crc: int | None
    gpl_only: bool
    namespace: str
    owner: object = None       # None for vmlinux, else the loaded module


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
    """

    start: int
    end: int
    page_size: int = 4096
    areas: list = field(default_factory=list)

    def alloc(self, size, label):
        page = self.page_size
        need = (size + page - 1) // page * page + page  # the area, then its guard page
        cursor = self.start
        for a in sorted(self.areas, key=lambda a: a.start):
            if a.start - cursor >= need:
                break
            cursor = max(cursor, a.start + (a.size + page - 1) // page * page + page)
        if cursor + need > self.end:
            return None
        area = Allocation(cursor, size, label)
        self.areas.append(area)
        return area

    def free(self, start):
        self.areas = [a for a in self.areas if a.start != start]


@dataclass
class LoadedModule:
    """A module the linker has linked, as the next links see it: its name and exports."""

    name: str
    exports: dict                       # name -> SymbolHit
    taints: set = field(default_factory=set)
    holders: list = field(default_factory=list)   # modules that use this one
    uses: list = field(default_factory=list)      # modules this one uses
    state: str = "LIVE"
    image: object = None


class LinkKernel:
    """Kernel state the load steps consult and change."""

    def __init__(self, profile, boot_allocations=None):
        self.profile = profile
        self.modules = []            # newest first, like the kernel's list
        self.taints = set()          # letters
        self.once = set()            # keys of once-per-boot messages already printed
        self.log = []                # Record
        self.module_blacklist = ()
        self.sig_enforce = profile.checks.get("signature") == "enforce"
        area = profile.module_area or nominal_module_area(profile)
        self.module_area = ModuleArea(area.start, area.end, profile.page_size) if area else None
        for start, size, label in boot_allocations if boot_allocations is not None \
                else default_boot_allocations(profile):
            self.module_area.areas.append(Allocation(start, size, label))
        self._percpu_next = None
        self._vmlinux = {}           # find_symbol's cache of the profile's vmlinux exports
        self._module_exports = {}    # name -> [SymbolHit of loaded modules, newest first]
        self._by_name = {}           # module name -> LoadedModule
        self._placeholders = None
        if hasattr(profile.exports, "index"):
            profile.exports.index()

    # -- the log ----------------------------------------------------------------------

    def printk(self, level, text):
        self.log.append(Record(level, text))

    def printk_once(self, key, level, text):
        if key not in self.once:
            self.once.add(key)
            self.printk(level, text)

    # -- taints -----------------------------------------------------------------------

    def test_taint(self, letter):
        return letter in self.taints

    def add_taint(self, letter, lockdep_unreliable=None):
        if lockdep_unreliable is None:
            lockdep_unreliable = letter in LOCKDEP_NOW_UNRELIABLE
        if lockdep_unreliable and not self.once_lockdep_printed():
            self.once.add("lockdep")
            self.printk(KERN_WARNING, "Disabling lock debugging due to kernel taint")
        self.taints.add(letter)

    def once_lockdep_printed(self):
        return "lockdep" in self.once

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
        for hit in self._module_exports.get(name, ()):
            if hit.owner.state != "UNFORMED" and (gplok or not hit.gpl_only):
                return hit
        return None

    def find_module(self, name):
        return self._by_name.get(name)

    def add_module(self, mod):
        """List a module at the head, as ``list_add_rcu(&mod->list, &modules)``."""
        self.modules.insert(0, mod)
        self._by_name[mod.name] = mod
        for name, hit in mod.exports.items():
            self._module_exports.setdefault(name, []).insert(0, hit)

    def remove_module(self, mod):
        self.modules.remove(mod)
        if self._by_name.get(mod.name) is mod:
            del self._by_name[mod.name]
        for name, hit in mod.exports.items():
            hits = self._module_exports.get(name, [])
            if hit in hits:
                hits.remove(hit)

    def exporter_hint(self, name):
        """Which module would export ``name`` (from the profile's Module.symvers), if any."""
        exp = self.profile.exports.get(name)
        return exp.exporter if exp is not None and exp.exporter != "vmlinux" else None

    # -- per-CPU ----------------------------------------------------------------------

    def percpu_alloc(self, size, align):
        """A module's per-CPU area, from the reserved chunk after the static per-CPU data."""
        if self._percpu_next is None:
            self._percpu_next = self.profile_percpu_base()
        align = max(align, 1)
        start = (self._percpu_next + align - 1) // align * align
        self._percpu_next = start + size
        return start

    def profile_percpu_base(self):
        return self.profile.percpu_module_base or 0


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
