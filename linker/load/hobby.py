"""The hobby i386 kernel of seed 004: its module loader, done properly and done as the seed does.

A hobby module is an ELF32 relocatable ``.o`` with a ``.this_module`` section holding one
``module_t`` ``{int (*init)(void); void (*exit)(void);}``; the kernel exports one symbol,
``monitor_write``. Two loaders are simulated, both up to (not including) the call of ``init``:

**Sectioned** (:func:`link_hobby`, the default): what a correct loader does.

* One allocation from the profile's module area (``LinkKernel.module_area``, first fit after
  a guard page: the first module lands at ``0x00400000``).
* Every ``SHF_ALLOC`` section is laid out in Linux's mask order (text, read-only data,
  ro-after-init, writable data, the rest), section-index order inside each group, each at its
  own ``sh_addralign``. There is no init/core split (the hobby kernel never frees init code:
  everything is core) and no page padding between the groups (the hobby kernel maps module
  memory with one set of permissions, so there is nothing to separate); the allocation as a
  whole is page-rounded by the module area. ``.bss`` gets real, zero-filled space.
* Undefined symbols resolve against the profile's exports only (``refers to unknown symbol %s``,
  ENOENT; an undefined weak symbol is 0, as in Linux); a COMMON symbol is refused (ENOEXEC:
  no section holds it and the hobby kernel has no rule to allocate it; ``-fno-common``).
* ``R_386_32`` and ``R_386_PC32`` are applied with the shared table
  (:data:`linker.reloc.HOBBY_TYPES` through :func:`linker.reloc.apply.apply_section_scalar`);
  any other type fails the load and names the section, the entry and the place.

**In place** (:func:`link_inplace`, ``--inplace``): seed 004's ``sys_insmod``, transliterated.
The file is read into one ``kmalloc(size + 5)`` buffer. The hobby kernel's heap starts where
its 1 MiB kernel image ends (``kernel_text.end`` of the profile, ``0x00200000``) and this is
the first allocation, so the buffer sits at ``0x00200000``; its 5 spare bytes are taken as
zero (kmalloc does not clear them; their real content is whatever the heap held). Every read
the seed makes goes through that buffer: the section headers, ``.shstrtab``, ``.symtab``,
``.strtab``, the ``.rel.*`` entries, even after relocations have patched it. Sections are
"placed" at buffer + ``sh_offset`` (region ``inplace``), the target of ``.rel.X`` is the first
section named ``X``, ``st_shndx == 0`` must be a kernel export or the seed prints
``refers to unknown symbol %s`` and gives up, any other ``st_shndx`` is taken as a section
index (``SHN_COMMON``, ``SHN_ABS`` included), and types other than ``R_386_32``/``R_386_PC32``
are skipped silently (a switch without a default). Where the seed would read or write outside
its buffer the simulation stops and says where (``InPlaceModule.stopped``).

**The report** (:func:`hobby_report`): one line per thing the in-place loader gets wrong for a
given module (``.bss`` landing on what follows it in the file, COMMON and other reserved
section indexes, unknown symbols, relocation types skipped silently, ``.rel.`` sections whose
target cannot be found by name, places outside their section, misaligned sections), where the
in-place run stopped, and which sections end with different bytes in the two modes.

``kmodsim link --profile hobby-i386`` (:mod:`emulator.cli.link`) prints what these return.
"""

import errno
import struct
from dataclasses import dataclass, field

from ..bits import MASK32, MASK64, sign_extend
from ..elf.constants import EM, R_386, SHF, SHN, SHT, STB, STT
from ..elf.reader import ElfFile
from ..elf.records import RecordLayout
from ..elf.validate import elf_validity_check
from ..errors import KmodError
from ..reloc import HOBBY_TYPES
from ..reloc.apply import RelocationError, apply_one, apply_section_scalar, read_addend
from ..reloc.table import RelocArch
from ..loglevels import LOGLEVEL_ERR, LOGLEVEL_WARNING
from .linkkernel import LinkKernel, SymbolHit
from .layout import CORE_REGIONS, MASKS, Image, Layout, Placement, move_module

KMALLOC_SLACK = 5          # sys_insmod: kmalloc(size + 5)
HEAP_START = 0x00200000    # used only when the profile gives no kernel_text
SHDR_SIZE, SYM_SIZE, REL_SIZE = 40, 16, 8
SH_FIELDS = {"sh_name": 0, "sh_type": 4, "sh_flags": 8, "sh_offset": 16, "sh_size": 20}
HANDLED = ", ".join(t.name for t in HOBBY_TYPES.values())

# apply_section_scalar's view of the hobby kernel: REL only, the two types of seed 004
HOBBY_ARCH = RelocArch(machine=EM.EM_386, rela=False, types=HOBBY_TYPES,
                       unknown_message="%s: unknown relocation type %u",
                       wrong_kind_message="%s: RELA relocations are not supported")


def type_name(r_type):
    try:
        return R_386(r_type).name
    except ValueError:
        return f"type {r_type}"


def sym_label(elf, index):
    """A symbol's name, or for a section symbol its section's name."""
    syms = elf.symbols
    if index >= len(syms):
        return f"symbol {index}"
    sym = syms[index]
    if sym.type == STT.STT_SECTION and 0 < sym.shndx < len(elf.sections):
        return elf.sections[sym.shndx].name
    return sym.name or f"symbol {index}"


def _plural(n, word, suffix="s"):
    return f"{n} {word}{suffix if n != 1 else ''}"


def hobby_kernel(profile=None):
    """A fresh :class:`LinkKernel` for the hobby profile (nothing loaded yet)."""
    if profile is None:
        from ..profiles import load_profile
        profile = load_profile("hobby-i386")
    return LinkKernel(profile)


def heap_start(profile):
    """Where the first kmalloc of the hobby kernel returns: right after the kernel image."""
    text = getattr(profile, "kernel_text", None)
    return text.end if text is not None else HEAP_START


# =============================================================================== sectioned

@dataclass
class HobbySymbols:
    """``values[i]``: the value of symbol ``i`` (``None``: its section is not loaded);
    ``resolved``: the undefined symbols, name -> :class:`SymbolHit` from the kernel."""

    values: list
    resolved: dict


@dataclass
class RelocStep:
    """One relocation as a loader applied it (both modes record the same fields)."""

    rel_index: int       # the relocation section
    entry: int           # the entry inside it
    target: int          # the section patched
    r_offset: int
    r_type: int
    sym: int
    S: int
    A: int
    P: int
    before: bytes
    after: bytes


class _LoadedSections:
    """What both result classes share: naming the function that ``init``/``exit`` point at."""

    def symbol_at(self, addr):
        """The name of a function or object symbol that starts at ``addr``, or ``None``."""
        if addr is None:
            return None
        for sym in self.elf.symbols:
            if sym.type not in (STT.STT_FUNC, STT.STT_OBJECT) \
                    or not 0 < sym.shndx < len(self.elf.sections):
                continue
            base = self.section_addr(sym.shndx)
            if base is not None and (base + sym.st_value) & MASK32 == addr:
                return sym.name
        return None


@dataclass
class HobbyModule(_LoadedSections):
    """A module linked by the sectioned loader; the shape of :class:`LinkedModule`."""

    name: str
    elf: ElfFile
    profile: object
    layout: Layout
    image: Image
    symbols: HobbySymbols = None
    relocations: dict = field(default_factory=dict)   # type name -> count
    steps: list = field(default_factory=list)         # RelocStep, in order
    init_addr: int | None = None
    exit_addr: int | None = None
    mode: str = "sectioned"

    def placed_sections(self):
        """``(index, name, addr, size, region)`` of every loaded section, index order."""
        return [(i, p.name, self.image.address_of(i), p.size, p.region)
                for i, p in sorted(self.layout.placements.items())]

    def section_bytes(self, index):
        return self.image.section_bytes(index)

    def section_addr(self, index):
        return self.image.address_of(index) if index in self.image.sections else None

    @property
    def base(self):
        return self.image.core_addr

    @property
    def size(self):
        return self.layout.core_size


# relocations only position-independent code has: they need a GOT, which a module loader
# that places code at absolute addresses never builds
_PIC_TYPES = {R_386.R_386_GOT32, R_386.R_386_GOTOFF, R_386.R_386_GOTPC, R_386.R_386_GOT32X}


def pic_hint(data):
    """For a hobby object the loader refused: a hint when it was built as position-
    independent code (gcc's default on most distributions), or None. Such an object
    refers to ``_GLOBAL_OFFSET_TABLE_`` and has GOT relocations, which the hobby kernel's
    loader (seed 004) cannot resolve."""
    try:
        elf = ElfFile(data)
        if elf.e_machine != EM.EM_386:
            return None
        got = any(sym.name == "_GLOBAL_OFFSET_TABLE_" for sym in elf.symbols)
        kinds = sorted({type_name(r.type) for rs in elf.relocation_sections
                        for r in rs.entries if r.type in _PIC_TYPES})
    except Exception:        # unreadable: the loader's own message says why
        return None
    if not got and not kinds:
        return None
    needs = ", ".join((["_GLOBAL_OFFSET_TABLE_"] if got else []) + kinds)
    return (f"it was compiled as position-independent code (it needs {needs}); the hobby "
            f"kernel places a module at an absolute address and builds no GOT: compile it "
            f"with -fno-pie -fno-pic (and link nothing with -pie)")


def link_hobby(data, kernel, name="module", keep=False):
    """Load ``data`` as a correct hobby loader would, up to the call of ``init``.

    ``kernel`` is a :class:`LinkKernel` for a hobby profile (:func:`hobby_kernel`). The
    allocation is given back afterwards unless ``keep``, so linking again lands at the same
    address. Raises :class:`KmodError` (the reason is also in ``kernel.log``).
    """
    profile = kernel.profile
    elf = validate_hobby_object(data, profile)
    desc = find_descriptor(elf, profile, name, kernel)
    if elf.symtab is None:
        _refuse(kernel, f"{name}: no .symtab", errno.ENOEXEC)
    lay = layout_hobby(elf, profile.page_size)
    image = move_module(_ElfView(elf), lay, kernel, name)
    lm = HobbyModule(name, elf, profile, lay, image)
    try:
        lm.symbols = resolve_symbols(elf, image, kernel, name)
        lm.relocations, lm.steps = apply_hobby_relocations(elf, image, lm.symbols, kernel, name)
        lm.init_addr, lm.exit_addr = read_descriptor(lm.section_bytes(desc.index), profile)
    finally:
        if not keep and kernel.module_area is not None:
            kernel.module_area.free(image.core_addr)
    return lm


@dataclass
class _ElfView:
    """The part of ``LoadInfo`` that :func:`move_module` reads."""

    elf: ElfFile


def _refuse(kernel, line, err):
    kernel.printk(LOGLEVEL_ERR, line)
    raise KmodError(line, err)


def validate_hobby_object(data, profile):
    """The kernel-side ELF checks (ET_REL, i386, sane section headers), then the reader."""
    from .pipeline import accepted_machines
    native = RecordLayout(profile.elf_class, profile.endian == "little")
    elf_validity_check(bytes(data), native, accepted_machines(profile))
    return ElfFile(data)


def find_descriptor(elf, profile, name, kernel):
    desc = profile.descriptor
    sec = elf.section_by_name(desc.section, alloc_only=True)
    if sec is None:
        _refuse(kernel, f"{name}: {desc.section} not found", errno.ENOEXEC)
    if sec.sh_size < desc.size:
        _refuse(kernel, f"{name}: {desc.section} is {sec.sh_size} bytes, {desc.struct} needs "
                        f"{desc.size}", errno.ENOEXEC)
    return sec


def read_descriptor(raw, profile):
    """``(init, exit)``: the two pointers of the relocated ``module_t``."""
    fields = profile.descriptor.fields
    return tuple(int.from_bytes(raw[fields[f].offset:fields[f].offset + 4], "little")
                 for f in ("init", "exit"))


def layout_hobby(elf, page_size=4096):
    """Linux's mask order, everything core, each section at its own alignment, no padding."""
    lay = Layout(page_size)
    size = 0
    for m, (need, exclude) in enumerate(MASKS):
        for s in elf.sections[1:]:
            f = s.sh_flags
            if f & need != need or f & exclude or s.index in lay.placements:
                continue
            align = s.sh_addralign or 1
            off = -(-size // align) * align
            lay.placements[s.index] = Placement(s.index, s.name, "core", off, s.sh_size,
                                                CORE_REGIONS[m])
            size = off + s.sh_size
        if m == 0:
            lay.core_text_size = size
        elif m == 1:
            lay.core_ro_size = size
        elif m == 2:
            lay.core_ro_after_init_size = size
    lay.core_size = size
    return lay


def resolve_symbols(elf, image, kernel, name):
    """Every symbol's value: sections' addresses, the profile's exports, refusals."""
    exports = kernel.profile.exports
    values, resolved = [], {}
    for sym in elf.symbols:
        shndx = sym.shndx
        if sym.index == 0:
            values.append(0)
        elif shndx == SHN.SHN_UNDEF:
            exp = exports.get(sym.name)
            if exp is not None and exp.addr is not None:
                values.append(exp.addr)
                resolved[sym.name] = SymbolHit(sym.name, exp.addr, exp.crc, exp.gpl_only,
                                               exp.namespace or "", None)
            elif sym.bind == STB.STB_WEAK:
                values.append(0)
            else:
                kernel.printk(LOGLEVEL_WARNING, f"refers to unknown symbol {sym.name}")
                raise KmodError(f"{name}: refers to unknown symbol {sym.name}", errno.ENOENT)
        elif shndx == SHN.SHN_COMMON:
            _refuse(kernel, f"{name}: {sym.name} is a COMMON symbol ({sym.st_size} bytes, align "
                            f"{sym.st_value}): no section holds it and the hobby kernel has no "
                            f"rule to allocate it; rebuild with -fno-common", errno.ENOEXEC)
        elif shndx == SHN.SHN_ABS:
            values.append(sym.st_value)
        elif shndx >= SHN.SHN_LORESERVE or shndx >= len(elf.sections):
            _refuse(kernel, f"{name}: symbol {sym.name} has section index {shndx:#x}, which "
                            f"names no section", errno.ENOEXEC)
        elif shndx in image.sections:
            values.append((image.address_of(shndx) + sym.st_value) & MASK32)
        else:
            values.append(None)   # in a section that is not loaded: only an error if used
    return HobbySymbols(values, resolved)


def apply_hobby_relocations(elf, image, symbols, kernel, name):
    """Apply every REL section whose target is loaded; patches ``image``.

    Returns ``({type name: count}, [RelocStep])``.
    """
    counts, steps = {}, []
    for rs in elf.relocation_sections:
        target = rs.target_index
        if target not in image.sections:
            continue        # debug information and other sections that are not loaded
        if rs.is_rela:
            _refuse(kernel, f"{name}: {rs.name}: RELA relocations are not supported on i386",
                    errno.ENOEXEC)
        _check_entries(elf, rs, symbols.values, kernel, name)
        _, sec_off, sec_addr = image.sections[target]
        sec_size = image.layout.placements[target].size

        def record(i, rt, S, A, P, applied, rel_index=rs.section.index, target=target, rs=rs):
            e = rs.entries[i]
            steps.append(RelocStep(rel_index, i, target, e.r_offset, rt.number, e.sym, S,
                                   A & MASK32, P, applied.before, applied.after))

        entries = [(e.r_offset, e.type, e.sym, None) for e in rs.entries]
        try:
            got = apply_section_scalar(HOBBY_ARCH, image.core, sec_off, sec_size, sec_addr,
                                       entries, symbols.values, name, rs.name, on_step=record)
        except RelocationError as exc:
            for line in exc.lines:
                kernel.printk(LOGLEVEL_ERR, line)
            raise
        for k, v in got.items():
            counts[k] = counts.get(k, 0) + v
    return counts, steps


def _check_entries(elf, rs, values, kernel, name):
    """Say precisely what is wrong before the shared code would refuse it more tersely."""
    target = elf.sections[rs.target_index]
    for e in rs.entries:
        where = f"{name}: {rs.name} entry {e.index} at {target.name}+{e.r_offset:#x}"
        if e.type not in HOBBY_TYPES:
            _refuse(kernel, f"{where}: relocation type {e.type} ({type_name(e.type)}) is not one "
                            f"the hobby kernel handles ({HANDLED})", errno.ENOEXEC)
        if e.sym >= len(values):
            _refuse(kernel, f"{where}: symbol {e.sym} is past the {len(values)} entries of "
                            f".symtab", errno.ENOEXEC)
        if values[e.sym] is None:
            sym = elf.symbols[e.sym]
            _refuse(kernel, f"{where}: refers to {sym.name or 'a symbol'} in "
                            f"{elf.sections[sym.shndx].name}, which is not loaded", errno.ENOEXEC)


# ================================================================================ in place

class OutsideBuffer(Exception):
    """The seed would read or write outside its kmalloc'd buffer: the simulation stops."""

    def __init__(self, what, addr, size, mem):
        lo, hi = mem.addr, mem.addr + len(mem.buf)
        super().__init__(f"reads {what} at {addr:#010x}, outside the buffer {lo:#010x}-{hi:#010x}"
                         if size else f"{what} at {addr:#010x} is outside the buffer")
        self.addr = addr


class KmallocBuffer:
    """``modbuf``: the file's bytes, then kmalloc's spare bytes, at ``addr``."""

    def __init__(self, addr, data):
        self.addr = addr
        self.file_size = len(data)
        self.buf = bytearray(data) + bytearray(KMALLOC_SLACK)
        self.string_bytes = 0       # bytes the seed's string reads have walked so far

    def offset(self, addr, size, what):
        off = (addr - self.addr) & MASK32
        if off + size > len(self.buf):
            raise OutsideBuffer(what, addr & MASK32, size, self)
        return off

    def u16(self, addr, what):
        off = self.offset(addr, 2, what)
        return int.from_bytes(self.buf[off:off + 2], "little")

    def u32(self, addr, what):
        off = self.offset(addr, 4, what)
        return int.from_bytes(self.buf[off:off + 4], "little")

    def cstr(self, addr, what):
        off = self.offset(addr, 1, what)
        end = self.buf.find(b"\0", off)
        if end < 0:
            raise OutsideBuffer(f"{what} (no NUL before the end)", addr, 1, self)
        self.string_bytes += end - off + 1
        if self.string_bytes > MAX_STRING_BYTES:
            raise _Stop(f"kmodsim stops simulating after reading {MAX_STRING_BYTES} bytes of "
                        f"names (every name the seed compares runs to its NUL)")
        return self.buf[off:end].decode("latin-1")


class _Stop(Exception):
    """The seed's loader ends here (gave up, or would leave its buffer)."""


@dataclass
class InPlaceModule(_LoadedSections):
    """What seed 004's ``sys_insmod`` leaves in its buffer, and where it stopped, if it did."""

    name: str
    elf: ElfFile
    profile: object
    memory: KmallocBuffer
    relocations: dict = field(default_factory=dict)   # applied, type name -> count
    skipped: dict = field(default_factory=dict)       # unknown types, silently skipped
    steps: list = field(default_factory=list)         # RelocStep of the applied ones
    resolved: dict = field(default_factory=dict)      # kernel symbols the seed looked up
    init_addr: int | None = None
    exit_addr: int | None = None
    stopped: str | None = None
    log: list = field(default_factory=list)
    mode: str = "inplace"

    @property
    def symbols(self):
        return HobbySymbols([], self.resolved)

    @property
    def base(self):
        return self.memory.addr

    @property
    def size(self):
        return len(self.memory.buf)

    def section_addr(self, index):
        return (self.memory.addr + self.elf.sections[index].sh_offset) & MASK32

    def placed_sections(self):
        """The SHF_ALLOC sections where the seed uses them: buffer + ``sh_offset``."""
        return [(s.index, s.name, self.section_addr(s.index), s.sh_size, "inplace")
                for s in self.elf.sections[1:] if s.sh_flags & SHF.SHF_ALLOC]

    def section_bytes(self, index):
        """The buffer's bytes where section ``index`` lies (for NOBITS: what is there);
        cut short where the section would run past the buffer."""
        s = self.elf.sections[index]
        return bytes(self.memory.buf[s.sh_offset:s.sh_offset + s.sh_size])


def link_inplace(data, kernel, name="module", buffer_addr=None):
    """Run seed 004's ``sys_insmod`` on ``data`` up to the call of ``init``.

    Never raises for what the seed gets wrong: the result says where it stopped. Lines the
    seed prints with ``printk`` go to ``kernel.log`` and ``result.log``.
    """
    profile = kernel.profile
    elf = ElfFile(data)     # for names in the results only: the seed itself checks nothing
    addr = heap_start(profile) if buffer_addr is None else buffer_addr
    lm = InPlaceModule(name, elf, profile, KmallocBuffer(addr, data))
    try:
        _SeedInsmod(lm, kernel).run()
    except _Stop as exc:
        lm.stopped = str(exc)
    except OutsideBuffer as exc:     # every read the seed makes is one: said where it stopped
        lm.stopped = f"the seed would read or write outside its buffer: {exc}"
    return lm


# Section-name reads the in-place simulation makes before it stops: the seed looks each
# .rel.X's target up by name through the whole table, e_shnum**2 strcmp at worst (65535
# sections: 4.3e9); a module of seed 004 makes a few hundred. kmodsim's bound, not the seed's.
MAX_NAME_LOOKUPS = 2_000_000
# ... and the bytes of names it reads (a name of a megabyte compared 65535 times)
MAX_STRING_BYTES = 64 << 20


class _SeedInsmod:
    """``sys_insmod`` of seed 004, one method per block of its code, reading ``modbuf`` live."""

    def __init__(self, lm, kernel):
        self.lm, self.kernel, self.mem = lm, kernel, lm.memory
        self.lookups = 0

    def printk(self, text):
        self.kernel.printk(LOGLEVEL_WARNING, text)
        self.lm.log.append(self.kernel.log[-1])

    def stop(self, context, why):
        """End the run; ``why`` is an :class:`OutsideBuffer` or a sentence."""
        raise _Stop(f"{context}: {why}") from (why if isinstance(why, BaseException) else None)

    # -- code 28-6 / 28-7: section headers and names

    def sh(self, i, fld):
        addr = (self.mem.addr + self.e_shoff + SHDR_SIZE * i + SH_FIELDS[fld]) & MASK32
        shown = f"{i:#x}" if i >= SHN.SHN_LORESERVE else f"{i}"
        return self.mem.u32(addr, f"shdr[{shown}].{fld}")

    def section_name(self, i):
        self.lookups += 1
        if self.lookups > MAX_NAME_LOOKUPS:
            raise _Stop(f"kmodsim stops simulating after {MAX_NAME_LOOKUPS} section-name "
                        f"lookups (the seed looks every .rel. target up by name; with "
                        f"{self.mem.u16(self.mem.addr + 48, 'e_shnum')} sections it would go on)")
        return self.mem.cstr(self.shstrtab + self.sh(i, "sh_name"), f"the name of section {i}")

    def find_section(self, name, context):
        """``elf_find_section``: the first section called ``name``; the run stops where a
        name it compares lies outside the buffer."""
        try:
            for i in range(self.mem.u16(self.mem.addr + 48, "e_shnum")):
                if self.section_name(i) == name:
                    return i
        except OutsideBuffer as exc:
            self.stop(context, exc)
        return None

    def index_of(self, name):
        """``elf_find_section(ehdr, name) - shdr``: a garbage index when it returns NULL."""
        i = self.find_section(name, f"looking up {name} by name")
        if i is not None:
            return i
        shdr_addr = (self.mem.addr + self.e_shoff) & MASK32
        return -(shdr_addr // SHDR_SIZE)   # (NULL - shdr) / sizeof(Elf32_Shdr), C truncation

    # -- code 28-8: find .strtab, .symtab, .this_module

    def run(self):
        mem = self.mem
        try:
            self.e_shoff = mem.u32(mem.addr + 32, "e_shoff")
            self.shstrtab = (mem.addr + self.sh(mem.u16(mem.addr + 50, "e_shstrndx"),
                                                "sh_offset")) & MASK32
        except OutsideBuffer as exc:
            self.stop("the ELF header", exc)
        self.strtab = self.table_addr(".strtab")
        self.symtab = self.table_addr(".symtab")
        desc = self.lm.profile.descriptor.section
        mod_index = self.index_of(desc)
        if mod_index == 0:
            self.printk(f"{desc} not found")
            raise _Stop(f"{desc} not found (the seed frees the buffer)")
        this_module = self.table_addr(desc, mod_index)
        self.relocate()
        self.read_descriptor(this_module)

    def table_addr(self, name, index=None):
        index = self.index_of(name) if index is None else index
        try:
            return (self.mem.addr + self.sh(index, "sh_offset")) & MASK32
        except OutsideBuffer as exc:
            missing = "" if index >= 0 else \
                f"{name} not found, elf_find_section returns NULL and NULL - shdr is {index}; "
            self.stop(f"{missing}looking up {name}", exc)

    # -- code 28-9: relocation

    def relocate(self):
        i = 0
        while i < self.mem.u16(self.mem.addr + 48, "e_shnum"):
            try:
                name = self.section_name(i)
            except OutsideBuffer as exc:
                self.stop(f"section {i}", exc)
            if name.startswith(".rel."):
                self.relocate_section(i, name)
            i += 1

    def relocate_section(self, i, name):
        target = self.find_section(name[4:], f"{name} [{i}], looking up its target {name[4:]} by name")
        if target is None:
            self.stop(f"{name} [{i}]", f"its target {name[4:]} is not found by name; "
                                       f"elf_find_section returns NULL and the seed reads "
                                       f"target->sh_name at 0x00000000")
        try:
            rel = (self.mem.addr + self.sh(i, "sh_offset")) & MASK32
            count = self.sh(i, "sh_size") // REL_SIZE
        except OutsideBuffer as exc:
            self.stop(f"{name} [{i}]", exc)
        for j in range(count):
            try:
                self.relocate_one(i, name, target, rel + REL_SIZE * j, j)
            except OutsideBuffer as exc:
                self.stop(f"{name} [{i}] entry {j}", exc)

    def relocate_one(self, i, name, target, rel, j):
        mem, lm = self.mem, self.lm
        r_offset = mem.u32(rel, "r_offset")
        r_info = mem.u32(rel + 4, "r_info")
        sym_index, r_type = r_info >> 8, r_info & 0xFF
        place = (mem.addr + self.sh(target, "sh_offset") + r_offset) & MASK32
        sym = (self.symtab + SYM_SIZE * sym_index) & MASK32
        st_name = mem.u32(sym, f"symtab[{sym_index}].st_name")
        st_shndx = mem.u16(sym + 14, f"symtab[{sym_index}].st_shndx")
        if st_shndx == SHN.SHN_UNDEF:
            sym_name = mem.cstr(self.strtab + st_name, f"the name of symbol {sym_index}")
            exp = lm.profile.exports.get(sym_name) if sym_name else None
            if exp is None or exp.addr is None:
                self.printk(f"refers to unknown symbol {sym_name}")
                raise _Stop(f"{name} [{i}] entry {j}: refers to unknown symbol {sym_name} (the seed "
                            f"gives up and frees the buffer)")
            value = exp.addr
            lm.resolved[sym_name] = SymbolHit(sym_name, exp.addr, exp.crc, exp.gpl_only,
                                              exp.namespace or "", None)
        else:
            try:
                sh_offset = self.sh(st_shndx, "sh_offset")
            except OutsideBuffer as exc:
                self.stop(f"{name} [{i}] entry {j}: symbol {sym_index} has st_shndx {st_shndx:#x}, "
                          f"taken for a section index", exc)
            value = (mem.addr + sh_offset + mem.u32(sym + 4, f"symtab[{sym_index}].st_value")) & MASK32
        rt = HOBBY_TYPES.get(r_type)
        if rt is None:   # the switch has no default
            key = type_name(r_type)
            lm.skipped[key] = lm.skipped.get(key, 0) + 1
            return
        off = mem.offset(place, 4, f"the place of a {rt.name} relocation")
        A = read_addend(mem.buf, off, 4)
        applied = apply_one(rt, mem.buf, off, value, A & MASK64, place, lm.name, j)
        lm.relocations[rt.name] = lm.relocations.get(rt.name, 0) + 1
        lm.steps.append(RelocStep(i, j, target, r_offset, r_type, sym_index, value, A & MASK32,
                                  place, applied.before, applied.after))

    def read_descriptor(self, this_module):
        fields = self.lm.profile.descriptor.fields
        try:
            self.lm.init_addr = self.mem.u32(this_module + fields["init"].offset, "this_module->init")
            self.lm.exit_addr = self.mem.u32(this_module + fields["exit"].offset, "this_module->exit")
        except OutsideBuffer as exc:
            self.stop("reading .this_module", exc)


# ================================================================================== report

@dataclass(frozen=True)
class Finding:
    """One thing the in-place loader gets wrong: a kind (for tests) and one precise line."""

    kind: str   # nobits, common, shndx, unknown-symbol, reloc-type, rel-target, place, align, missing
    text: str


@dataclass
class HobbyReport:
    module: str
    buffer_addr: int
    findings: list
    stopped: str | None
    differences: list

    def lines(self):
        out = [f.text for f in self.findings]
        if self.stopped:
            out.append(f"the in-place run stops: {self.stopped}")
        return out


def hobby_report(data, profile=None, name="module", buffer_addr=None, inplace=None):
    """What seed 004's in-place loader gets wrong for ``data``, and how its result differs
    from the sectioned loader's. ``inplace``: an :func:`link_inplace` result to reuse."""
    if profile is None:
        profile = hobby_kernel().profile
    if inplace is None:
        inplace = link_inplace(data, LinkKernel(profile), name, buffer_addr)
    findings = inplace_findings(inplace.elf, profile, inplace.memory.addr, inplace.memory.buf)
    try:
        sectioned = link_hobby(data, LinkKernel(profile), name)
    except KmodError as exc:
        sectioned = exc
    return HobbyReport(name, inplace.memory.addr, findings, inplace.stopped,
                       compare_modes(sectioned, inplace))


def inplace_findings(elf, profile, buffer_addr, buffer=None):
    """Static reading of the object against seed 004's rules: a list of :class:`Finding`.

    ``buffer``: the in-place buffer after relocation, for what ``.bss`` variables hold when
    ``init`` runs (default: the file's bytes, then 5 zero bytes).
    """
    ctx = _Context(elf, profile, buffer_addr, buffer)
    out = []
    for check in (_missing_sections, _nobits, _reserved_indexes, _unknown_symbols,
                  _rel_sections, _reloc_types, _places, _alignment):
        out.extend(check(ctx))
    return out


class _Context:
    """The object as the seed sees it: its ``.rel.*`` sections, targets found by name."""

    def __init__(self, elf, profile, buffer_addr, buffer=None):
        self.elf, self.profile, self.addr = elf, profile, buffer_addr
        self.buffer = bytes(buffer) if buffer is not None else elf.data + bytes(KMALLOC_SLACK)
        self.size = len(elf.data)
        self.buf_size = self.size + KMALLOC_SLACK
        self.symtab = elf.section_by_name(".symtab")
        self.syms = elf.symbols_of(self.symtab) if self.symtab is not None \
            and self.symtab.sh_type == SHT.SHT_SYMTAB else []
        self.rels = []       # (rel section, target by name or None, [(j, r_offset, sym, type)])
        for s in elf.sections:
            if s.name.startswith(".rel."):
                data = s.data
                n = min(s.sh_size, len(data)) // REL_SIZE
                entries = [(j, off, info >> 8, info & 0xFF) for j, (off, info)
                           in enumerate(struct.iter_unpack("<II", data[:n * REL_SIZE]))]
                self.rels.append((s, elf.section_by_name(s.name[4:]), entries))

    def uses(self, sym_index):
        """The relocations (``.rel.X #j``) that name symbol ``sym_index``, in file order."""
        index = self.__dict__.get("_uses")
        if index is None:     # built once: a lookup per symbol would cost symbols x relocations
            index = self._uses = {}
            for s, t, ents in self.rels:
                if t is not None:
                    for j, _, sym, _ in ents:
                        index.setdefault(sym, []).append(f"{s.name} #{j}")
        return list(index.get(sym_index, ()))

    def shdr_read(self, index):
        """Where the seed reads ``shdr[index].sh_offset``, and whether that is in the buffer."""
        off = self.elf.header.e_shoff + SHDR_SIZE * index + SH_FIELDS["sh_offset"]
        return off, 0 <= off and off + 4 <= self.buf_size

    def initial(self, off, size, as_bytes=False):
        """What a variable at file offset ``off`` holds in the buffer (a number, or bytes)."""
        want = min(size, 8)
        raw = self.buffer[off:off + want]
        if len(raw) < want:
            return "bytes past the end of the buffer"
        if size in (1, 2, 4, 8) and not as_bytes:
            return f"{int.from_bytes(raw, 'little'):#x}"
        return " ".join(f"{b:02x}" for b in raw) + (" ..." if size > 8 else "")

    def file_map(self):
        """What occupies the file: ``(start, end, label)``, sorted."""
        e = self.elf.header
        parts = [(0, e.e_ehsize, "the ELF header")]
        parts += [(s.sh_offset, s.sh_offset + s.sh_size, f"{s.name} [{s.index}]")
                  for s in self.elf.sections[1:] if s.sh_type != SHT.SHT_NOBITS and s.sh_size]
        parts.append((e.e_shoff, e.e_shoff + SHDR_SIZE * self.elf.shnum, "the section header table"))
        return sorted(parts)

    def what_is_at(self, lo, hi):
        """Name everything in the file range ``[lo, hi)`` in order, with offsets inside each
        part; what lies between the parts is padding."""
        items = []
        for start, end, label in self.file_map():
            a, b = max(lo, start), min(hi, end)
            if a < b:
                items.append((a, b, f"{label} +{a - start:#x}-{b - start:#x}"))
        a, b = max(lo, self.size), min(hi, self.buf_size)
        if a < b:
            items.append((a, b, f"kmalloc's {KMALLOC_SLACK} spare bytes +{a - self.size:#x}-"
                                f"{b - self.size:#x}"))
        a = max(lo, self.buf_size)
        if a < hi:
            items.append((a, hi, f"{hi - a:#x} bytes past the end of the buffer"))
        pieces, cursor = [], lo
        for a, b, text in sorted(items):
            if a > cursor:
                pieces.append(f"padding at file offset {cursor:#x}-{a:#x}")
            pieces.append(text)
            cursor = max(cursor, b)
        if cursor < hi:
            pieces.append(f"padding at file offset {cursor:#x}-{hi:#x}")
        return ", ".join(pieces)


def _missing_sections(ctx):
    out = []
    shdr_addr = ctx.addr + ctx.elf.header.e_shoff
    index = -(shdr_addr // SHDR_SIZE)
    read_at = shdr_addr + SHDR_SIZE * index + SH_FIELDS["sh_offset"]
    desc = ctx.profile.descriptor.section
    for name in (".strtab", ".symtab", desc):
        if ctx.elf.section_by_name(name) is None:
            check = (f"not 0, so its '{desc} not found' check cannot fire" if name == desc else
                     "unchecked")
            out.append(Finding("missing", f"{name}: no such section; elf_find_section returns NULL "
                                          f"and the seed takes NULL - shdr = {index} for its index "
                                          f"({check}) and reads shdr[{index}].sh_offset at "
                                          f"{read_at:#010x}, outside the buffer"))
    return out


def _nobits(ctx):
    out = []
    for s in ctx.elf.sections[1:]:
        if s.sh_type != SHT.SHT_NOBITS or not s.sh_flags & SHF.SHF_ALLOC or not s.sh_size:
            continue
        lo, hi = s.sh_offset, s.sh_offset + s.sh_size
        syms = sorted((sym.st_value, sym.name, sym.st_size) for sym in ctx.syms
                      if sym.shndx == s.index and sym.type != STT.STT_SECTION and sym.name)
        if syms:
            tail = "; " + ", ".join(f"{n} (+{v:#x})" + (f" starts as {ctx.initial(lo + v, size)}"
                                                         if size else "")
                                    for v, n, size in syms) + " instead of 0"
        else:
            tail = f"; instead of zeros it starts with {ctx.initial(lo, hi - lo, as_bytes=True)}"
        tail += f", and writes to {'them' if syms else 'it'} land there"
        out.append(Finding("nobits", f"{s.name} [{s.index}]: SHT_NOBITS, {s.sh_size:#x} bytes with "
                                     f"nothing in the file; in place it is file offset {lo:#x}-{hi:#x} "
                                     f"({ctx.addr + lo:#010x}), which holds {ctx.what_is_at(lo, hi)}"
                                     f"{tail}"))
    return out


def _reserved_indexes(ctx):
    out = []
    nsec = ctx.elf.shnum
    for sym in ctx.syms:
        shndx = sym.st_shndx    # the raw field: the seed knows nothing of SHN_XINDEX
        if shndx == SHN.SHN_UNDEF or shndx < nsec:
            continue
        uses = ctx.uses(sym.index)
        if shndx != SHN.SHN_COMMON and not uses:
            continue            # FILE symbols are SHN_ABS; harmless while nothing refers to them
        off, inside = ctx.shdr_read(shndx)
        where = f"file offset {off:#x} ({ctx.addr + off:#010x})"
        read = (f"reads shdr[{shndx:#x}].sh_offset at {where}, "
                + ("inside the buffer, a garbage value" if inside else
                   f"past the end of the {ctx.buf_size:#x}-byte buffer"))
        used = (f"{_plural(len(uses), 'relocation')} {'use' if len(uses) != 1 else 'uses'} it "
                f"({', '.join(uses)})"
                if uses else "no relocation uses it, so the seed never reads it, but the variable "
                             "still has no storage")
        if shndx == SHN.SHN_COMMON:
            what = (f"SHN_COMMON ({shndx:#x}), {sym.st_size} bytes, align {sym.st_value}: no section "
                    f"holds it (a -fcommon tentative definition)")
            kind = "common"
        else:
            label = {SHN.SHN_ABS: "SHN_ABS", SHN.SHN_XINDEX: "SHN_XINDEX"}.get(shndx, "section index")
            what = f"{label} ({shndx:#x}), not a section of this {nsec}-section file"
            kind = "shndx"
        out.append(Finding(kind, f"{sym.name} [{sym.index}]: {what}; the seed takes {shndx:#x} for a "
                                 f"section index and {read}; {used}"))
    return out


def _unknown_symbols(ctx):
    out = []
    exports = ctx.profile.exports
    known = ", ".join(sorted(exports)) or "nothing"
    for sym in ctx.syms:
        if sym.st_shndx != SHN.SHN_UNDEF or sym.index == 0 or sym.name in exports:
            continue
        uses = ctx.uses(sym.index)
        if uses:
            tail = (f"at {uses[0]} the seed prints 'refers to unknown symbol {sym.name}' and gives up "
                    f"(relocations applied before stay in the buffer it frees)")
        else:
            tail = "no relocation refers to it, so the seed never looks"
        out.append(Finding("unknown-symbol", f"{sym.name} [{sym.index}]: undefined and not a kernel "
                                             f"export (the kernel knows {known}); {tail}"))
    for s, t, ents in ctx.rels:
        zero = [j for j, _, sym, _ in ents if sym == 0]
        if t is not None and zero:
            out.append(Finding("unknown-symbol", f"{s.name} [{s.index}] #{zero[0]}: symbol 0 "
                                                 f"(STN_UNDEF); the seed looks up the empty name and "
                                                 f"gives up: 'refers to unknown symbol '"))
    nsyms = len(ctx.syms)
    for s, t, ents in ctx.rels:
        past = [j for j, _, sym, _ in ents if sym >= nsyms]
        if t is not None and past:
            out.append(Finding("unknown-symbol", f"{s.name} [{s.index}] #{past[0]}: symbol index past "
                                                 f"the {nsyms} entries of .symtab; the seed reads "
                                                 f"whatever lies after the table"))
    return out


def _rel_sections(ctx):
    out = []
    for s, t, ents in ctx.rels:
        label = f"{s.name} [{s.index}]"
        if t is None:
            out.append(Finding("rel-target", f"{label}: the seed looks for its target by name, "
                                             f"{s.name[4:]}, and finds none: elf_find_section returns "
                                             f"NULL and the seed reads target->sh_name at 0x00000000"))
            continue
        if s.sh_type != SHT.SHT_REL:
            out.append(Finding("rel-target", f"{label}: type {s.sh_type}, not SHT_REL, but named "
                                             f"like one: the seed reads its {s.sh_size:#x} bytes as "
                                             f"{len(ents)} Elf32_Rel entries"))
        elif s.sh_info != t.index:
            out.append(Finding("rel-target", f"{label}: by name the seed patches {t.name} [{t.index}], "
                                             f"but sh_info says section {s.sh_info}"))
    for s in ctx.elf.sections[1:]:
        if s.sh_type in (SHT.SHT_REL, SHT.SHT_RELA) and not s.name.startswith(".rel."):
            kind = "SHT_RELA" if s.sh_type == SHT.SHT_RELA else "SHT_REL"
            n = s.sh_size // (12 if s.sh_type == SHT.SHT_RELA else REL_SIZE)
            out.append(Finding("rel-target", f"{s.name} [{s.index}]: {kind} for section {s.sh_info}, "
                                             f"but not named .rel.*: the seed ignores its {n} "
                                             f"relocations"))
    return out


def _reloc_types(ctx):
    out = []
    for s, t, ents in ctx.rels:
        if t is None:
            continue
        by_type = {}
        for j, off, sym, typ in ents:
            if typ not in HOBBY_TYPES:
                by_type.setdefault(typ, []).append(off)
        for typ, offs in sorted(by_type.items()):
            shown = ", ".join(_kept(t, o) for o in offs[:6])
            more = f" and {len(offs) - 6} more" if len(offs) > 6 else ""
            n = _plural(len(offs), "relocation")
            out.append(Finding("reloc-type", f"{s.name} [{s.index}]: {n} of type {typ} "
                                             f"({type_name(typ)}) skipped silently (the seed's "
                                             f"switch has no default): {shown}{more}"))
    return out


def _kept(target, off):
    """A place a skipped relocation leaves alone, with the addend it keeps."""
    if target.sh_type == SHT.SHT_NOBITS or off + 4 > target.sh_size:
        return f"{target.name}+{off:#x}"
    field_ = target.data[off:off + 4]
    return f"{target.name}+{off:#x} (keeps {int.from_bytes(field_, 'little'):#010x})"


def _places(ctx):
    out = []
    for s, t, ents in ctx.rels:
        if t is None:
            continue
        for j, off, sym, typ in ents:
            if typ not in HOBBY_TYPES:
                continue
            if t.sh_type == SHT.SHT_NOBITS or off + 4 > t.sh_size:
                at = t.sh_offset + off
                why = ("a NOBITS section" if t.sh_type == SHT.SHT_NOBITS
                       else f"past its {t.sh_size:#x} bytes")
                out.append(Finding("place", f"{s.name} [{s.index}] #{j}: patches {t.name}+{off:#x}, "
                                            f"{why}; in place that is file offset {at:#x}, which "
                                            f"holds {ctx.what_is_at(at, at + 4)}"))
    return out


def _alignment(ctx):
    out = []
    for s in ctx.elf.sections[1:]:
        align = s.sh_addralign or 1
        addr = ctx.addr + s.sh_offset
        if s.sh_flags & SHF.SHF_ALLOC and s.sh_size and addr % align:
            out.append(Finding("align", f"{s.name} [{s.index}]: needs {align}-byte alignment; in place "
                                        f"it is at {addr:#010x} (file offset {s.sh_offset:#x}), "
                                        f"{addr % align} bytes off"))
    return out


# ----------------------------------------------------------------------- in place vs sectioned

def compare_modes(sectioned, inplace):
    """Lines naming the loaded sections whose final bytes differ between the two loaders.

    Every relocated field differs by the load address alone; the lines separate those from
    the fields that reach a different thing (a ``.bss`` variable that is really code) and from
    bytes that differ outside any relocated field.
    """
    if isinstance(sectioned, KmodError):
        return [f"no comparison: the sectioned loader refuses the module: {sectioned.message}"]
    if inplace.stopped:
        return [f"no comparison: the in-place run stops before the end ({inplace.stopped})"]
    lines = [f"sectioned at {sectioned.base:#010x} ({sectioned.size:#x} bytes), in place at "
             f"{inplace.base:#010x} ({inplace.size:#x} bytes)"]
    where_s, where_i = _Locator(sectioned), _Locator(inplace)
    steps_s = {(st.rel_index, st.entry): st for st in sectioned.steps}
    steps_i = {(st.rel_index, st.entry): st for st in inplace.steps}
    by_target = {}        # section -> its steps, in order (not a scan of every step per section)
    for key, st in steps_s.items():
        by_target.setdefault(st.target, []).append((key, st))
    for index, name, *_ in sectioned.placed_sections():
        a, b = sectioned.section_bytes(index), inplace.section_bytes(index)
        if a == b:
            continue
        label = f"[{index}] {name}"
        covered, by_address, moved = set(), 0, []
        for key, st in by_target.get(index, ()):
            other = steps_i.get(key)
            if other is None or other.target != index:
                continue
            covered.update(range(st.r_offset, st.r_offset + 4))
            ls, li = where_s.describe(st), where_i.describe(other)
            if ls == li:
                by_address += a[st.r_offset:st.r_offset + 4] != b[st.r_offset:st.r_offset + 4]
            else:
                moved.append(f"{label}+{st.r_offset:#x}: {type_name(st.r_type)} against "
                             f"{sym_label(sectioned.elf, st.sym)}{_signed(st.A)}: sectioned reaches "
                             f"{ls}, in place {li}")
        parts = []
        if by_address:
            parts.append(f"{_plural(by_address, 'relocated field')} "
                         f"{'differ' if by_address != 1 else 'differs'} only by the load address")
        other = _differing(a, b, covered)
        if other:
            parts.append(f"{_plural(len(other), 'byte')} {'differ' if len(other) != 1 else 'differs'} "
                         f"outside relocated fields at +{other[0]:#x}-{other[-1] + 1:#x} "
                         f"(sectioned {_hex(a, other)}, in place {_hex(b, other)})")
        if moved:
            parts.append(f"{_plural(len(moved), 'relocated field')} "
                         f"{'reach' if len(moved) != 1 else 'reaches'} a different place")
        lines.append(f"{label}: " + "; ".join(parts))
        lines.extend(moved)
    unmatched = set(steps_s) ^ set(steps_i)
    if unmatched:
        lines.append(f"{len(unmatched)} relocations applied by one loader only")
    if len(lines) == 1:
        lines.append("every loaded section has the same bytes")
    return lines


def _differing(a, b, covered):
    """Positions where ``a`` and ``b`` differ (a byte only one has differs), outside
    ``covered``, in order: one numpy comparison, not a Python loop over a section."""
    import numpy as np
    n, m = max(len(a), len(b)), min(len(a), len(b))
    diff = np.ones(n, dtype=bool)
    diff[:m] = np.frombuffer(a, dtype=np.uint8, count=m) != np.frombuffer(b, dtype=np.uint8, count=m)
    if covered:
        diff[[k for k in covered if k < n]] = False
    return np.flatnonzero(diff).tolist()


def _signed(n):
    """An i386 addend as written after a symbol: ``+0x4``, ``-0x4``, nothing for 0."""
    n = sign_extend(n, 32)
    return f"{n:+#x}" if n else ""


def _hex(buf, positions, limit=8):
    shown = " ".join(f"{buf[k]:02x}" if k < len(buf) else "--" for k in positions[:limit])
    return shown + (" ..." if len(positions) > limit else "")


class _Locator:
    """Turn a relocation's symbol value back into what lies there: ``.bss+0x4``, ``monitor_write``."""

    def __init__(self, lm):
        self.lm = lm
        self.kernel = {e.addr: n for n, e in ((n, lm.profile.exports[n]) for n in lm.profile.exports)
                       if e.addr is not None}
        if isinstance(lm, InPlaceModule):
            # in the buffer, only sections with bytes in the file hold anything
            self.ranges = [(lm.section_addr(s.index), s.sh_size, s) for s in lm.elf.sections[1:]
                           if s.sh_type != SHT.SHT_NOBITS]
        else:
            self.ranges = [(addr, size, lm.elf.sections[i])
                           for i, _, addr, size, _ in lm.placed_sections()]

    def describe(self, st):
        """``S`` located, then the addend added: ``.bss+0x4``, ``monitor_write-0x4``."""
        S, A = st.S, st.A - (1 << 32) if st.A & 0x80000000 else st.A
        syms = self.lm.elf.symbols
        own = syms[st.sym].shndx if st.sym < len(syms) else None
        if S in self.kernel and own == SHN.SHN_UNDEF:
            return f"{self.kernel[S]}{_signed(A)}"
        found = self._where(S, own)
        if found is None:
            return f"{S:#010x}{_signed(A)} (no section)"
        start, s = found
        return f"{s.name}{S - start + A:+#x}"

    def _where(self, S, own):
        """The range holding ``S`` (its own section first, end included), memoised: many
        relocations share a symbol, and the ranges are scanned in order."""
        memo = self.__dict__.setdefault("_memo", {})
        key = (S, own)
        if key not in memo:
            memo[key] = None
            for start, size, s in self.ranges:
                if s.index == own and start <= S <= start + size:
                    memo[key] = (start, s)
                    break
            else:
                for start, size, s in self.ranges:
                    if size and start <= S < start + size:
                        memo[key] = (start, s)
                        break
        return memo[key]
