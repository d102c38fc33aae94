"""``load_module`` up to and including relocation, one function per kernel step.

    module_sig_check -> elf_validity_check -> setup_load_info -> blacklisted
    -> rewrite_section_headers -> check_modstruct_version -> check_modinfo
    -> module_enforce_rwx_sections -> layout_sections -> layout_symtab -> move_module
    -> add_unformed_module -> (unsigned taint) -> percpu_modalloc
    -> find_module_sections -> check_module_license_and_versions
    -> simplify_symbols -> apply_relocations

Every step's product is kept on the returned :class:`LinkedModule`, so a notebook can look
at the layout, the symbol values or the image; ``stop_before`` ends the pipeline early
(``"apply_relocations"`` gives a laid-out, resolved, not yet relocated module for the
stepper). On failure the kernel's lines are in ``kernel.log`` and a
:class:`~linker.errors.KmodError` carries the errno; nothing is left allocated.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

import numpy as np

from ..elf.constants import EM, SHF, SHT
from ..elf.reader import ElfFile
from ..elf.records import RecordLayout
from ..elf.validate import elf_validity_check
from ..errors import KmodError
from ..module.ksymtab import KSYMTAB_SECTIONS, ExportedSymbol
from ..reloc import arch_for
from . import checks
from ..loglevels import LOGLEVEL_ERR, LOGLEVEL_WARNING
from .info import LoadInfo, descriptor_name, rewrite_section_headers, setup_load_info
from .layout import Image, Layout, layout_sections, layout_symtab, move_module
from .linkkernel import Module, SymbolHit
from .relocate import apply_relocations
from .symbols import SymbolValues, simplify_symbols

# where the kernel's temporary copy of the file sits (vmalloc space, x86-64 nokaslr):
# symbols of sections that are not loaded keep addresses inside it, as in the kernel
LOAD_COPY_BASE = 0xFFFFC90000000000


@dataclass
class ModuleState:
    """The parts of ``struct module`` the loader's checks write."""

    name: str
    taints: set = field(default_factory=set)
    license: str | None = None
    using_gplonly_symbols: bool = False


@dataclass
class LinkedModule:
    name: str
    info: LoadInfo
    mod: ModuleState
    sig_ok: bool
    layout: Layout | None = None
    image: Image | None = None
    percpu_addr: int | None = None
    symbols: SymbolValues | None = None
    relocations: dict = field(default_factory=dict)
    exports: list = field(default_factory=list)
    stopped_before: str | None = None
    percpu_live: bool = False            # percpu_addr is allocated (not yet given back)

    @property
    def elf(self):
        return self.info.elf

    def placed_sections(self):
        """Sections placed in memory, index order: ``(index, name, addr, size, region)``.

        As ``kmodsim link --json`` lists them: every section still SHF_ALLOC after
        ``rewrite_section_headers`` (so not ``.modinfo``/``__versions``), the per-CPU one at its
        per-CPU address; the symbol and string tables that ``layout_symtab`` copies into init
        are not listed.
        """
        out = []
        info = self.info
        pcpu = info.index.get("pcpu", 0)
        for s in info.elf.sections[1:]:
            if s.index == pcpu and self.percpu_addr is not None:
                out.append((s.index, s.name, self.percpu_addr, s.sh_size, "percpu"))
                continue
            if s.index in (info.index.get("sym"), info.index.get("str")):
                continue
            p = self.layout.placements.get(s.index) if self.layout else None
            if p is None:
                continue
            out.append((s.index, s.name, self.image.address_of(s.index), p.size, p.region))
        return out

    def section_bytes(self, index):
        """The (relocated) bytes of a placed section; zeros for NOBITS and per-CPU."""
        if index == self.info.index.get("pcpu") and self.percpu_addr is not None:
            s = self.info.elf.sections[index]
            return bytes(s.data) if s.sh_type != SHT.SHT_NOBITS else bytes(s.sh_size)
        return self.image.section_bytes(index)


def link_module(data, kernel, flags=0, stop_before=None, fast=True, register=False, keep=False):
    """Run ``load_module``'s steps up to relocation for the module file ``data``.

    ``register``: list the module (LIVE, init freed) so the next links find its exports;
    ``keep``: leave its memory allocated for the caller (the emulator, which runs init next).
    Otherwise the module's memory is freed again once it is linked.
    """
    profile = kernel.profile
    length, sig_ok = checks.module_sig_check(data, kernel, flags)
    image_bytes = data[:length]
    native = RecordLayout(profile.elf_class, profile.endian == "little")
    try:
        ehdr, shdrs = elf_validity_check(image_bytes, native, accepted_machines(profile))
    except KmodError as exc:
        kernel.printk(LOGLEVEL_ERR, exc.message)  # pr_err, as every check of elf_validity_check
        raise
    elf = ElfFile(image_bytes, checked=(native, ehdr, shdrs))
    info = setup_load_info(elf, kernel, flags)
    info.sig_ok = sig_ok
    checks.blacklisted(info, kernel)
    rewrite_section_headers(info)
    mod = ModuleState(descriptor_name(info, profile) or info.name)
    lm = LinkedModule(info.name, info, mod, sig_ok)
    checks.check_modstruct_version(info, kernel, mod)
    checks.check_modinfo(info, kernel, mod, flags)
    checks.module_enforce_rwx_sections(info, kernel, mod)
    _mark_special_sections(info)
    lm.layout = layout_sections(info, profile.page_size,
                                unload=bool(profile.config.get("CONFIG_MODULE_UNLOAD", "y")))
    layout_symtab(info, lm.layout, elf.layout.sym.size,
                  kallsyms_all=bool(profile.config.get("CONFIG_KALLSYMS_ALL")))
    if stop_before == "move_module":
        lm.stopped_before = stop_before
        return lm
    lm.image = move_module(info, lm.layout, kernel, mod.name)
    try:
        checks.add_unformed_module(kernel, mod)
        checks.unsigned_taint(kernel, mod, sig_ok)
        lm.percpu_addr = _percpu_modalloc(info, kernel, mod.name)
        lm.percpu_live = lm.percpu_addr is not None
        checks.check_module_license_and_versions(kernel, mod, info)
        lm.symbols = simplify_symbols(info, lm.image, kernel, mod, lm.percpu_addr, LOAD_COPY_BASE)
        if stop_before == "apply_relocations":
            lm.stopped_before = stop_before
            return lm
        arch = arch_for(profile)
        lm.relocations = apply_relocations(info, lm.image, lm.symbols.values, arch, kernel,
                                           mod.name, fast=fast)
        lm.exports = module_exports(info, lm.image,
                                    bool(profile.config.get("CONFIG_HAVE_ARCH_PREL32_RELOCATIONS")))
    except KmodError:
        _free(kernel, lm)
        raise
    if register:
        register_module(kernel, lm)
    elif not keep:
        _free(kernel, lm)
    return lm


def dump_sections(lm, directory):
    """``DIR/<index>.bin``: the relocated bytes of each placed section (``link --dump``);
    any loaded module that has ``placed_sections()`` and ``section_bytes()`` will do."""
    from pathlib import Path
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    for index, *_ in lm.placed_sections():
        (d / f"{index}.bin").write_bytes(lm.section_bytes(index))


def accepted_machines(profile):
    # elf_check_arch: x86-64 takes EM_X86_64 only; i386 takes EM_386 and EM_486
    return (profile.e_machine, EM.EM_486) if profile.e_machine == EM.EM_386 else (profile.e_machine,)


def _mark_special_sections(info):
    pcpu = info.index.get("pcpu", 0)
    if pcpu:
        info.sh_flags[pcpu] &= ~int(SHF.SHF_ALLOC)   # an int: ~ on the flag keeps 32 bits
    for name in (".data..ro_after_init", "__jump_table"):
        idx = info.find_sec(name)
        if idx:
            info.sh_flags[idx] |= int(SHF.SHF_RO_AFTER_INIT)


def _percpu_modalloc(info, kernel, mod_name):
    """``percpu_modalloc``: the module's per-CPU address, None without per-CPU data;
    ENOMEM when the reserved chunk refuses it (tests/realkernel/bigsec1)."""
    pcpu = info.index.get("pcpu", 0)
    if not pcpu:
        return None
    s = info.elf.sections[pcpu]
    if not s.sh_size:
        return None
    align = s.sh_addralign
    page = kernel.profile.page_size
    if align > page:
        from .layout import warn_percpu_alignment
        warn_percpu_alignment(kernel, mod_name, align, page, kernel.profile.elf_class)
        align = page
    addr = kernel.percpu_alloc(s.sh_size, align)
    if addr is None:
        checks.fail(kernel, LOGLEVEL_WARNING,
                    f"{mod_name}: Could not allocate {s.sh_size} bytes percpu data", errno.ENOMEM)
    return addr


def free_module_memory(kernel, lm):
    """Give the module's core and init allocations back to the module area."""
    _free(kernel, lm)


def _free(kernel, lm):
    if lm.percpu_live:
        kernel.percpu_free(lm.percpu_addr)
        lm.percpu_live = False      # (percpu_addr stays: link shows where it was)
    if kernel.module_area is None or lm.image is None:
        return
    kernel.module_area.free(lm.image.core_addr)
    if lm.image.init_addr is not None:
        kernel.module_area.free(lm.image.init_addr)


EXPORT_CHUNK = 1 << 16      # __ksymtab entries read per numpy sweep


def module_exports(info, image, prel32=True):
    """The module's exports as the kernel reads them after relocation.

    Each ``struct kernel_symbol`` of ``__ksymtab``/``__ksymtab_gpl`` is read from the
    relocated image: with PREL32 (64-bit) three ``int`` offsets from their own address,
    otherwise three absolute pointers; CRCs come from ``__kcrctab``/``__kcrctab_gpl`` at the
    same index. Returns ``ExportedSymbol``s whose ``symbol`` is the value (an address).
    x86 uses PREL32 on both i386 and x86-64 (CONFIG_HAVE_ARCH_PREL32_RELOCATIONS).

    One entry per name, the last of that name (``register_module`` keeps the last too).
    The table is swept with numpy: a NOBITS ``__ksymtab`` of 64 MiB is 5.6 million entries
    (the real kernel loads it, tests/realkernel/bigsec1), all of them zeros but those
    relocations wrote, and every zero entry names the empty string; only entries whose name
    is not empty, and the last empty-named one, are read one by one.
    """
    mask = info.elf.layout.addr_mask
    out = {}
    for tab, crctab, gpl in KSYMTAB_SECTIONS:
        idx = info.find_sec(tab)
        if not idx or idx not in image.sections:
            continue
        base = image.address_of(idx)
        raw = _section_view(image, idx)
        crc_idx = info.find_sec(crctab)
        crcs = _section_view(image, crc_idx) if crc_idx and crc_idx in image.sections else b""
        for n in _named_entries(image, raw, base, prel32, mask):
            off = 12 * n
            if prel32:
                f = [int.from_bytes(raw[off + 4 * k:off + 4 * k + 4], "little", signed=True)
                     for k in range(3)]
                value = (base + off + f[0]) & mask
                name_addr = (base + off + 4 + f[1]) & mask
                ns_addr = (base + off + 8 + f[2]) & mask if f[2] else 0
            else:
                value, name_addr, ns_addr = (int.from_bytes(raw[off + 4 * k:off + 4 * k + 4], "little")
                                             for k in range(3))
            crc = int.from_bytes(crcs[4 * n:4 * n + 4], "little") if 4 * n + 4 <= len(crcs) else None
            name = image.read_cstring(name_addr) or ""
            out.pop(name, None)
            out[name] = ExportedSymbol(name, value, gpl,
                                       (image.read_cstring(ns_addr) if ns_addr else "") or "", crc)
    return list(out.values())


def _section_view(image, index):
    """The bytes of a placed section inside its allocation, without a copy (a section whose
    placement runs past the allocation, NOBITS after a wrapped layout, is cut there)."""
    alloc, off, _ = image.sections[index]
    buf = image.buffer(alloc)
    size = image.layout.placements[index].size
    return memoryview(buf)[min(off, len(buf)):min(off + size, len(buf))]


def _named_entries(image, raw, base, prel32, mask):
    """Indexes of the ``struct kernel_symbol`` entries of ``raw`` whose name is not empty,
    plus the last one whose name is (in order), found a chunk of entries at a time."""
    count = len(raw) // 12
    keep, last_empty = [], None
    bufs = []
    for alloc in ("core", "init"):
        b = image.base(alloc)
        buf = image.buffer(alloc)
        if b is not None and len(buf):
            bufs.append((b, len(buf), np.frombuffer(buf, dtype=np.uint8)))
    for lo in range(0, count, EXPORT_CHUNK):
        m = min(EXPORT_CHUNK, count - lo)
        fields = np.frombuffer(raw, dtype="<i4" if prel32 else "<u4", count=3 * m,
                               offset=12 * lo).reshape(m, 3)
        name_field = fields[:, 1].astype(np.int64).astype(np.uint64)
        if prel32:
            with np.errstate(over="ignore"):
                at = np.uint64(base) + np.arange(12 * lo + 4, 12 * (lo + m) + 4, 12, dtype=np.uint64)
                name_addr = (at + name_field) & np.uint64(mask)
        else:
            name_addr = name_field & np.uint64(mask)
        empty = np.ones(m, dtype=bool)
        for b, size, u8 in bufs:
            with np.errstate(over="ignore"):
                rel = name_addr - np.uint64(b)
            inside = rel < np.uint64(size)
            where = np.flatnonzero(inside)
            empty[where] = u8[rel[where].astype(np.int64)] == 0
        named = np.flatnonzero(~empty)
        keep.extend((named + lo).tolist())
        blank = np.flatnonzero(empty)
        if len(blank):
            last_empty = lo + int(blank[-1])
    if last_empty is not None:
        keep.append(last_empty)
        keep.sort()
    return keep


def register_module(kernel, lm, state="LIVE", free_init=True):
    """Make a linked module's exports visible to the next links (``--with``).

    ``free_init``: take the module as initialised and free its init allocation (the link
    command); the emulator keeps it until init has run.
    """
    owner = Module(lm.mod.name, {}, set(lm.mod.taints), state=state, linked=lm)
    for e in lm.exports:
        owner.exports[e.name] = SymbolHit(e.name, e.symbol, e.crc, e.gpl_only, e.namespace, owner)
    for used in lm.symbols.uses:
        used.holders.append(owner)
        owner.uses.append(used)
    kernel.modules.add(owner)
    # the module is taken as initialised: its init allocation is freed, as after do_init_module
    if free_init and kernel.module_area is not None and lm.image.init_addr is not None:
        kernel.module_area.free(lm.image.init_addr)
    return owner
