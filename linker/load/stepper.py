"""The relocation stepper: a module's relocations applied one at a time, in the kernel's order.

``apply_relocations`` patches a whole module in one go; a student wants to watch it happen.
:class:`RelocationStepper` takes a module that is laid out and symbol-resolved but not yet
relocated (``link_module(..., stop_before="apply_relocations")``, or the hobby loader's first
half) and walks its relocations exactly as the kernel does: relocation sections in index
order as :func:`~linker.load.relocate.relocation_sections` lists them, entries in file order.
Each :meth:`~RelocationStepper.step` applies one relocation with
:func:`~linker.reloc.apply.apply_one` (the table the fast path uses, so both end on the same
bytes) and returns a :class:`Step`: where the place is (P), what the symbol is and how it was
resolved (S), the addend (A), the psABI formula with the numbers filled in, the bytes before
and after, and the instruction holding the field disassembled before and after (capstone).

:meth:`~RelocationStepper.back` undoes a step by putting the saved bytes back. A relocation
the kernel refuses (non-zero place, overflow, unknown type) stops the stepper; the refusing
step carries the kernel's lines in ``Step.error``.

    st = stepper_for("samples/linux/hello_debug/hello_debug.ko")
    st.run_to(".init.text")
    print(st.step().text())
    image = st.finish()          # the same bytes as ``kmodsim link --dump``

The stepper patches the image of the module it was given (the only thing it changes).
"""

from __future__ import annotations

import errno
import html
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..bits import MASK64, sign_extend
from ..elf.constants import SHF, SHN, SHT, STB, STT
from ..errors import KmodError
from ..profiles import DEFAULT_PROFILE, Profile, load_profile
from ..reloc import arch_for
from ..reloc.apply import RelocationError, apply_one, check_place, read_addend
from ..reloc.table import RelocArch, RelType
# _check_entries: the hobby loader's check of a whole section, reused so the messages agree
from .hobby import (HOBBY_ARCH, HobbyModule, RelocStep, _check_entries, find_descriptor,
                    layout_hobby, read_descriptor, resolve_symbols, validate_hobby_object)
from ..loglevels import LOGLEVEL_ERR
from .linkkernel import LinkKernel
from .layout import move_module
from .pipeline import link_module, module_exports
from .relocate import read_relocations, relocation_sections

if TYPE_CHECKING:
    from ..elf.reader import ElfFile, RelocationSection, Section
    from ..elf.records import BytesLike
    from .layout import Image
    from .pipeline import LinkedModule

    # one relocation: (r_offset, r_type, r_sym, addend or None for REL)
    Entry = tuple[int, int, int, int | None]

_SHF_RELA_LIVEPATCH = int(SHF.SHF_RELA_LIVEPATCH)
MAX_INSN = 15   # the longest x86 instruction: how far past a field an instruction can end


# ================================================================================ records

@dataclass(frozen=True)
class Instruction:
    """One decoded instruction; ``note`` names the symbol its operand points at."""

    addr: int
    raw: bytes
    mnemonic: str
    op_str: str
    note: str = ""

    def text(self, addr_digits: int = 16) -> str:
        asm = f"{self.mnemonic} {self.op_str}".rstrip()
        return f"{self.addr:#0{addr_digits + 2}x}: {self.raw.hex(' '):<23}  {asm}{self.note}"


@dataclass(frozen=True)
class Upcoming:
    """The next relocation, not yet applied."""

    number: int
    rel_section: str
    entry: int
    target_name: str
    r_offset: int
    type_name: str
    symbol: str


@dataclass
class Step:
    """One relocation as the kernel applied (or refused) it.

    ``number`` counts from 0 in the kernel's order; ``rel_section``/``entry`` name the
    relocation record, ``target_name``/``r_offset`` the place and ``P`` its address;
    ``symbol`` is the symbol's name (a section symbol is named by its section), ``how``
    says how its value ``S`` was found; ``A`` is the addend, signed (``explicit``: from the
    RELA record; otherwise read from the field, REL); ``value`` the formula's result modulo
    2**64 and ``width`` the bytes written; ``before``/``after`` the field's bytes.
    ``error``: the kernel's lines when it refused this relocation (then nothing more runs).
    """

    number: int
    total: int
    rel_section: str
    rel_index: int
    entry: int
    target: int
    target_name: str
    r_offset: int | None = None
    P: int | None = None
    sym: int | None = None
    symbol: str | None = None
    how: str = ""
    S: int | None = None
    A: int | None = None
    explicit: bool = True
    r_type: int | None = None
    rtype: RelType | None = None
    value: int | None = None
    width: int = 0
    before: bytes = b""
    after: bytes = b""
    error: tuple[str, ...] | None = None
    bits: int = 64
    _view: _CodeView | None = field(default=None, repr=False, compare=False)
    # "before"/"after" -> (address, offset in the section, bytes) around the field
    _windows: dict[str, tuple[int, int, bytes]] = field(default_factory=dict, repr=False,
                                                        compare=False)

    # ---- derived values ----------------------------------------------------------------

    @property
    def type_name(self) -> str:
        if self.rtype is not None:
            return self.rtype.name
        return f"type {self.r_type}" if self.r_type is not None else "-"

    @property
    def formula(self) -> str:
        return self.rtype.formula if self.rtype is not None else ""

    @property
    def applied(self) -> bool:
        return self.error is None

    @property
    def written(self) -> int | None:
        """The value as the field holds it: the formula's result cut to ``width`` bytes."""
        if self.value is None or not self.width:
            return None
        return self.value & ((1 << (8 * self.width)) - 1)

    @property
    def result(self) -> int | None:
        """The formula's result as a number: signed when it is a distance (``- P``)."""
        if self.value is None:
            return None
        pc_relative = "P" in self.formula.split()
        return sign_extend(self.value, 64) if pc_relative else self.value

    def formula_filled(self) -> str:
        """``S + A - P = 0x... + -0x4 - 0x... = -0x3e7ff1d9``, or ``""`` without a formula."""
        if self.rtype is None or self.value is None or self.formula == "none":
            return ""
        numbers = {"S": self._addr(self.S), "A": _shex(self.A), "P": self._addr(self.P)}
        filled = " ".join(numbers.get(tok, tok) for tok in self.formula.split())
        pc_relative = "P" in self.formula.split()
        shown = _shex(self.result) if pc_relative else self._addr(self.result)
        return f"{self.formula} = {filled} = {shown}"

    @cached_property
    def code(self) -> tuple[Any, ...] | None:
        """``(kind, before, after)``: ``("code", Instruction|None, Instruction|None)`` for a
        place in an executable section, ``("data", str, str)`` otherwise, or None."""
        if self._view is None or self.r_offset is None or self.rtype is None:
            return None
        return self._view.describe(self)

    # ---- rendering ----------------------------------------------------------------------

    def _addr(self, value: int | None) -> str:
        return f"{value:#0{self.bits // 4 + 2}x}"

    def headline(self) -> str:
        return (f"relocation {self.number + 1} of {self.total}: {self.rel_section} "
                f"[{self.entry}]  {self.type_name}")

    def rows(self) -> list[tuple[str, str]]:
        """``(label, text)`` pairs, shared by :meth:`text` and :meth:`_repr_html_`."""
        out = []
        if self.r_offset is not None:
            out.append(("place", f"{self.target_name} + {self.r_offset:#x}    "
                                 f"P = {self._addr(self.P)}"))
        if self.symbol is not None:
            out.append(("symbol", f"{self.symbol}: {self.how}"))
            out.append(("S", self._addr(self.S)))
        if self.A is not None:
            src = "explicit (RELA)" if self.explicit else "read from the field (REL)"
            out.append(("addend", f"A = {_shex(self.A)}, {src}"))
        filled = self.formula_filled()
        if filled:
            out.append(("formula", filled))
        if self.rtype is not None and self.value is not None:
            if self.width:
                out.append(("writes", f"{self.width} bytes: {self.written:#0{2 * self.width + 2}x}"))
            else:
                out.append(("writes", "nothing (the kernel ignores this type)"))
        if self.width and self.before:
            out.append(("bytes", f"{self.before.hex(' ')}  ->  {self.after.hex(' ')}"))
        code = self.code if self.width else None
        if code is not None:
            kind, before, after = code
            if kind == "code":
                digits = self.bits // 4
                none = f"(no instruction found that holds {self.target_name}+{self.r_offset:#x})"
                out.append(("before", before.text(digits) if before else none))
                out.append(("after", after.text(digits) if after else none))
            else:
                article = "an" if self.width == 8 else "a"
                out.append(("data", f"{self.target_name} is data, not code: "
                                    f"{article} {self.width}-byte field"))
                out.append(("before", before))
                out.append(("after", after))
        if self.error:
            out.extend(("refused", line) for line in self.error)
        return out

    def text(self) -> str:
        """The step as a student reads it, one fact a line."""
        lines = [self.headline()]
        lines.extend(f"  {label:<8} {value}" for label, value in self.rows())
        return "\n".join(lines)

    __str__ = text

    def _repr_html_(self) -> str:
        e = html.escape
        cells = []
        for label, value in self.rows():
            if label == "formula":
                value = f"<mark>{e(value)}</mark>"
            elif label == "bytes":
                value = (f"{_marked(self.before, self.after, 'before')} &rarr; "
                         f"{_marked(self.after, self.before, 'after')}")
            elif label == "refused":
                value = f"<strong style='color:#b00'>{e(value)}</strong>"
            else:
                value = f"<code>{e(value)}</code>"
            cells.append(f"<tr><th style='text-align:left;padding-right:1em'>{e(label)}</th>"
                         f"<td style='text-align:left'>{value}</td></tr>")
        return (f"<table style='font-family:monospace;border-collapse:collapse'>"
                f"<caption style='text-align:left;font-weight:bold'>{e(self.headline())}</caption>"
                f"{''.join(cells)}</table>")


def _marked(raw: bytes, other: bytes, which: str) -> str:
    """The bytes as hex, those that differ from ``other`` highlighted."""
    colour = "#fdd" if which == "before" else "#dfd"
    parts = []
    for k, b in enumerate(raw):
        cell = f"{b:02x}"
        if k >= len(other) or other[k] != b:
            cell = f"<span style='background:{colour}'>{cell}</span>"
        parts.append(cell)
    return f"<code>{' '.join(parts)}</code>"


def _shex(n):
    return f"-{-n:#x}" if n < 0 else f"{n:#x}"


# ============================================================================ the plan

@dataclass
class _RelSection:
    """One relocation section the loader processes, with its entries."""

    section: Section       # the relocation section
    target: int
    entries: list[Entry]
    refuse_static: tuple[str, ...] | None = None   # lines: refused whatever its entries
    # -> lines or None, run on reaching the section
    precheck: Callable[[], tuple[str, ...] | None] | None = None


@dataclass
class _Module:
    """What the stepper needs of a Linux or a hobby module, in one shape."""

    name: str
    arch: RelocArch
    kernel: LinkKernel
    lm: LinkedModule | HobbyModule
    values: Sequence[int | None]    # symbol index -> value (None: section not loaded)
    resolution: dict[str, tuple[str, str | None]]   # undefined name -> (kind, owner or None)
    sections: list[_RelSection]
    hobby: bool = False


def _linux_module(lm: LinkedModule, arch: RelocArch, kernel: LinkKernel) -> _Module:
    info = lm.info
    nsyms = len(lm.symbols.values)
    sections = []
    for s, target in relocation_sections(info):
        if info.sh_flags[s.index] & _SHF_RELA_LIVEPATCH:
            continue  # applied by livepatch, not by the module loader
        if (s.sh_type == SHT.SHT_RELA) != arch.rela:
            sections.append(_RelSection(s, target, [], (arch.wrong_kind_message % lm.mod.name,)))
            continue
        r_offset, r_type, r_sym, addend = read_relocations(info, s)
        entries = list(zip(r_offset.tolist(), r_type.tolist(), r_sym.tolist(),
                           addend.tolist() if addend is not None else [None] * len(r_offset)))
        refuse = None
        bad = [i for i, e in enumerate(entries) if e[2] >= nsyms]
        if bad:
            # relocate.py's own check, made before the section's first entry
            refuse = (f"kmodsim: {lm.mod.name}: relocation {bad[0]} of {s.name} refers to "
                      f"symbol {entries[bad[0]][2]}, past the end of the symbol table",)
        sections.append(_RelSection(s, target, entries, refuse))
    resolution: dict[str, tuple[str, str | None]] = {}
    for name, r in lm.symbols.resolved.items():
        if r.how.startswith("module:"):
            resolution[name] = ("module", r.how.split(":", 1)[1])
        else:
            resolution[name] = (r.how, None)
    values = [int(v) for v in lm.symbols.values]
    return _Module(lm.mod.name, arch, kernel, lm, values, resolution, sections)


def _hobby_module(lm: HobbyModule, kernel: LinkKernel) -> _Module:
    sections = []
    for rs in lm.elf.relocation_sections:
        target = rs.target_index
        if target not in lm.image.sections:
            continue
        if rs.is_rela:
            sections.append(_RelSection(rs.section, target, [], (
                f"{lm.name}: {rs.name}: RELA relocations are not supported on i386",)))
            continue
        entries: list[Entry] = [(e.r_offset, e.type, e.sym, None) for e in rs.entries]

        def precheck(rs: RelocationSection = rs) -> tuple[str, ...] | None:
            try:
                _check_entries(lm.elf, rs, lm.symbols.values, kernel, lm.name)
            except KmodError as exc:
                return (exc.message,)
            return None

        sections.append(_RelSection(rs.section, target, entries, precheck=precheck))
    resolution: dict[str, tuple[str, str | None]] = {name: ("vmlinux", None)
                                                     for name in lm.symbols.resolved}
    return _Module(lm.name, HOBBY_ARCH, kernel, lm, lm.symbols.values, resolution, sections,
                   hobby=True)


# ========================================================================= the stepper

class RelocationStepper:
    """Apply the relocations of ``lm`` one by one, in the kernel's order.

    ``lm`` is a laid-out, symbol-resolved, not yet relocated module: a
    :class:`~linker.load.pipeline.LinkedModule` stopped before ``apply_relocations``, or a
    :class:`~linker.load.hobby.HobbyModule` whose relocations are not applied
    (:func:`stepper_for` makes either). ``arch`` is the profile's relocation table
    (:func:`~linker.reloc.arch_for`); the hobby loader always uses its own two types.
    """

    def __init__(self, lm: LinkedModule | HobbyModule, arch: RelocArch | None,
                 kernel: LinkKernel) -> None:
        if isinstance(lm, HobbyModule):
            self._mod = _hobby_module(lm, kernel)
        else:
            if getattr(lm, "stopped_before", None) != "apply_relocations":
                raise ValueError("the stepper needs a module stopped before apply_relocations")
            self._mod = _linux_module(lm, arch, kernel)  # type: ignore[arg-type]  # Linux: a table
        self.lm = lm
        self.kernel = kernel
        self.arch = self._mod.arch
        self.bits = lm.elf.layout.bits
        self._order: list[tuple[int, int]] = []   # (section, entry) in the kernel's order
        for k, rs in enumerate(self._mod.sections):
            count = len(rs.entries) or (1 if rs.refuse_static else 0)
            self._order.extend((k, j) for j in range(count))
        self.history: list[Step] = []
        self.error: tuple[str, ...] | None = None
        # per applied step: (buffer, offset, bytes before)
        self._saved: list[tuple[bytearray | None, int, bytes]] = []
        self._view = _CodeView(self)

    # ---- where we are -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[Step]:
        while True:
            st = self.step()
            if st is None:
                return
            yield st

    @property
    def position(self) -> int:
        """How many relocations have been processed (the refused one included)."""
        return len(self.history)

    @property
    def current(self) -> Step | None:
        """The step taken last, or None before the first."""
        return self.history[-1] if self.history else None

    @property
    def done(self) -> bool:
        return self.error is not None or self.position >= len(self._order)

    @property
    def image(self) -> Image:
        return self.lm.image  # type: ignore[return-value]  # laid out: the image exists

    @property
    def name(self) -> str:
        return self._mod.name

    def plan(self) -> list[tuple[str, str, int]]:
        """``(relocation section, target section, entries)`` in the order they are applied."""
        return [(rs.section.name, self._section_name(rs.target), len(rs.entries))
                for rs in self._mod.sections]

    @property
    def upcoming(self) -> Upcoming | None:
        """The next relocation (:class:`Upcoming`), or None at the end or after a refusal."""
        if self.done:
            return None
        k, j = self._order[self.position]
        rs = self._mod.sections[k]
        target = self._section_name(rs.target)
        if not rs.entries:
            return Upcoming(self.position, rs.section.name, j, target, 0, "-", "-")
        r_offset, r_type, r_sym, _ = rs.entries[j]
        rt = self.arch.get(r_type)
        return Upcoming(self.position, rs.section.name, j, target, r_offset,
                        rt.name if rt else f"type {r_type}", self._symbol_label(r_sym))

    # ---- moving -------------------------------------------------------------------------

    def step(self) -> Step | None:
        """Apply the next relocation; return its :class:`Step` (None when nothing is left)."""
        if self.done:
            return None
        k, j = self._order[self.position]
        rs = self._mod.sections[k]
        if rs.refuse_static is not None:
            return self._refuse(self._blank(rs, j), rs.refuse_static)
        if j == 0 and rs.precheck is not None:
            refusal = rs.precheck()     # it has printed its line already
            if refusal is not None:
                return self._refuse(self._blank(rs, j), refusal, log=False)
        return self._apply(rs, j)

    def back(self) -> Step | None:
        """Undo the last step: put its saved bytes back. Returns the step undone, or None."""
        if not self.history:
            return None
        st = self.history.pop()
        buf, off, raw = self._saved.pop()
        if buf is not None:
            buf[off:off + len(raw)] = raw
        self.error = None
        return st

    def run_to(self, section_name: str) -> list[Step]:
        """Apply relocations until the next one patches ``section_name``; return those applied.

        The stepper stops *before* that relocation (see :attr:`upcoming`), as a debugger
        stops before the line it runs to; if the next one already patches it, nothing moves.
        A refusal on the way stops it there. ``ValueError`` when no relocation left patches
        that section (nothing is applied then).
        """
        rest = [self._section_name(self._mod.sections[k].target)
                for k, _ in self._order[self.position:]]
        if self.done or section_name not in rest:
            raise ValueError(f"no relocation left patches {section_name}")
        steps = []
        while not self.done and self.upcoming.target_name != section_name:  # type: ignore[union-attr]
            steps.append(self.step())
        return steps  # type: ignore[return-value]  # not done: every step is a Step

    def run_to_end(self) -> list[Step]:
        """Apply every relocation left (or up to a refusal); return the steps taken."""
        return list(self)

    def finish(self) -> Image:
        """Apply what is left and return the relocated image, as ``apply_relocations`` leaves it.

        The module gets what the rest of the loader would have recorded (``relocations``
        counts; for Linux the exports read back from ``__ksymtab``, for the hobby kernel the
        ``RelocStep`` list and ``init``/``exit``). A refusal raises
        :class:`~linker.reloc.apply.RelocationError` with the kernel's lines.
        """
        self.run_to_end()
        if self.error is not None:
            raise RelocationError(list(self.error), self.current.entry)  # type: ignore[union-attr]
        counts: dict[str, int] = {}
        for st in self.history:
            counts[st.type_name] = counts.get(st.type_name, 0) + 1
        lm: Any = self.lm   # a HobbyModule or a LinkedModule: self._mod.hobby says which
        lm.relocations = counts
        if self._mod.hobby:
            applied: list[Any] = self.history   # every field of an applied Step is set
            lm.steps = [RelocStep(st.rel_index, st.entry, st.target, st.r_offset, st.r_type,
                                  st.sym, st.S, st.A & 0xFFFFFFFF, st.P, st.before, st.after)
                        for st in applied]
            desc = lm.elf.section_by_name(lm.profile.descriptor.section, alloc_only=True)
            lm.init_addr, lm.exit_addr = read_descriptor(lm.section_bytes(desc.index), lm.profile)
        else:
            prel32 = bool(self.kernel.profile.config.get("CONFIG_HAVE_ARCH_PREL32_RELOCATIONS"))
            lm.exports = module_exports(lm.info, lm.image, prel32)
            lm.stopped_before = None
        return lm.image

    # ---- one relocation -----------------------------------------------------------------

    def _blank(self, rs, j):
        return Step(self.position, len(self._order), rs.section.name, rs.section.index, j,
                    rs.target, self._section_name(rs.target), bits=self.bits, _view=self._view)

    def _apply(self, rs, j):
        mod, image = self._mod, self.lm.image
        r_offset, r_type, r_sym, addend = rs.entries[j]
        st = self._blank(rs, j)
        st.r_offset, st.r_type, st.sym = r_offset, r_type, r_sym
        alloc, sec_off, sec_addr = image.sections[rs.target]
        buf = image.buffer(alloc)
        st.P = (sec_addr + r_offset) & MASK64
        st.S = int(mod.values[r_sym])
        st.symbol, st.how = self._symbol_label(r_sym), self._symbol_how(r_sym, st.S)
        rt = self.arch.get(r_type)
        if rt is None:
            return self._refuse(st, (self.arch.unknown_message % (mod.name, r_type),))
        st.rtype, st.width = rt, rt.width
        place = sec_off + r_offset
        try:
            check_place(len(buf), place, rt.width, image.layout.placements[rs.target].size,
                        sec_off, j, rs.section.name)
        except RelocationError as exc:
            return self._refuse(st, tuple(exc.lines))
        st.explicit = addend is not None
        st.A = read_addend(buf, place, rt.width) if addend is None else addend
        st.before = bytes(buf[place:place + rt.width])
        st.value = rt.value(st.S & MASK64, st.A & MASK64, st.P) & MASK64
        self._view.snapshot(st, buf, place, "before")
        self._saved.append((buf, place, st.before))
        try:
            apply_one(rt, buf, place, st.S, st.A & MASK64, st.P, mod.name, j)
        except RelocationError as exc:
            # the kernel writes before it checks for overflow: the bytes stay as written
            st.after = bytes(buf[place:place + rt.width])
            self._view.snapshot(st, buf, place, "after")
            self._saved.pop()
            return self._refuse(st, tuple(exc.lines), saved=(buf, place, st.before))
        st.after = bytes(buf[place:place + rt.width])
        self._view.snapshot(st, buf, place, "after")
        self.history.append(st)
        return st

    def _refuse(self, st, lines, log=True, saved=(None, 0, b"")):
        """Stop here: the step carries the kernel's lines, which also go to its log (Linux
        keeps kmodsim's own ``kmodsim:`` lines out of dmesg, the hobby loader logs all)."""
        st.error = tuple(lines)
        if log:
            for line in lines:
                if self._mod.hobby or not line.startswith("kmodsim:"):
                    self.kernel.printk(LOGLEVEL_ERR, line)
        self.error = st.error
        self.history.append(st)
        self._saved.append(saved)
        return st

    # ---- names --------------------------------------------------------------------------

    def _section_name(self, index):
        return self.lm.elf.sections[index].name

    def _symbol_label(self, i):
        syms = self.lm.elf.symbols
        if i >= len(syms):
            return f"symbol {i}"
        sym = syms[i]
        if sym.type == STT.STT_SECTION and 0 < sym.shndx < len(self.lm.elf.sections):
            return self._section_name(sym.shndx)
        return sym.name or f"symbol {i}"

    def _symbol_how(self, i, S):
        """How the loader found the symbol's value, in words."""
        lm, mod = self.lm, self._mod
        sym = lm.elf.symbols[i]
        addr = f"{S:#0{self.bits // 4 + 2}x}"
        if sym.shndx == SHN.SHN_UNDEF:
            if i == 0:
                return "no symbol (index 0): 0"
            kind, owner = mod.resolution.get(sym.name, ("weak" if sym.bind == STB.STB_WEAK else "?",
                                                        None))
            if kind == "vmlinux":
                return f"kernel export at {addr}"
            if kind == "module":
                return f"export of module {owner} at {addr}"
            if kind == "weak":
                return "weak undefined, not found: 0"
            if kind == "ignored":
                return "undefined, ignored by the kernel on x86: 0"
            return f"undefined: {addr}"
        if sym.shndx == SHN.SHN_ABS:
            return f"absolute value {addr}"
        if sym.shndx >= len(lm.elf.sections):
            return f"section index {sym.shndx:#x}: {addr}"
        sec = self._section_name(sym.shndx)
        if sym.type == STT.STT_SECTION:
            what = f"section symbol: module section {sec} at {addr}"
        else:
            what = f"module section {sec} + {sym.st_value:#x} = {addr}"
        pcpu = getattr(getattr(lm, "info", None), "index", {}).get("pcpu", 0)
        if pcpu and sym.shndx == pcpu:
            return what.replace("module section", "per-CPU section", 1)
        if sym.shndx not in lm.image.sections:
            return what.replace("module section", "section", 1) + " (not loaded: in the file's copy)"
        return what

    def __repr__(self) -> str:
        return (f"<RelocationStepper {self._mod.name}: {self.position}/{len(self)} relocations"
                f"{', refused' if self.error else ''}>")

    def _repr_html_(self) -> str:
        head = html.escape(repr(self))
        if self.current is None:
            return f"<p><code>{head}</code></p>"
        return f"<p><code>{head}</code></p>{self.current._repr_html_()}"


# ====================================================================== disassembly

# How far before a relocated field the stepper starts decoding instructions at most (a
# function's start is the usual place; an x86 decoder resynchronises within a few bytes)
MAX_DECODE_BACK = 1 << 16


class _CodeView:
    """Finds the instruction holding a field and names the addresses its operands reach."""

    def __init__(self, stepper):
        self.stepper = stepper
        self._cs = None   # a capstone.Cs, made on first use
        self._cs_lite = None

    # what a step keeps: a window of its section from an instruction boundary, twice
    def snapshot(self, st, buf, place, when):
        elf = self.stepper.lm.elf
        sec = elf.sections[st.target]
        _, sec_off, sec_addr = self.stepper.lm.image.sections[st.target]
        size = self.stepper.lm.image.layout.placements[st.target].size
        if sec.sh_flags & SHF.SHF_EXECINSTR:
            # from the function's start, but no more than MAX_DECODE_BACK before the field (a
            # section without symbols, or a NOBITS one of 256 MiB, would be decoded whole)
            start = max(self.decode_start(st.target, st.r_offset), st.r_offset - MAX_DECODE_BACK)
            end = min(size, st.r_offset + st.width + MAX_INSN)
        else:
            start, end = st.r_offset, st.r_offset + st.width
        st._windows[when] = (sec_addr + start, start, bytes(buf[sec_off + start:sec_off + end]))

    @cached_property
    def _starts(self):
        """Per executable section: the sorted offsets where a named symbol starts."""
        out = {}
        for sym in self.stepper.lm.elf.symbols:
            if sym.type in (STT.STT_FUNC, STT.STT_NOTYPE) and sym.name and 0 < sym.shndx < SHN.SHN_LORESERVE:
                out.setdefault(sym.shndx, set()).add(sym.st_value)
        return {k: sorted(v) for k, v in out.items()}

    def decode_start(self, section, offset):
        starts = self._starts.get(section, [])
        k = bisect_right(starts, offset)
        return starts[k - 1] if k else 0

    # ---- turning it into text -----------------------------------------------------------

    def describe(self, st):
        windows = st._windows
        if "before" not in windows:
            return None
        sec = self.stepper.lm.elf.sections[st.target]
        if sec.sh_flags & SHF.SHF_EXECINSTR:
            return ("code",) + tuple(self.instruction(st, windows.get(w)) for w in ("before", "after"))
        return ("data", self.data(st, st.before), self.data(st, st.after))

    def instruction(self, st, window):
        if window is None:
            return None
        base, start, raw = window
        for b, s, r in ((base, start, raw), self._from_section_start(st, window)):
            if r is None:
                continue
            insn = self._containing(b, r, st.P, st.width)
            if insn is not None:
                return insn
        return None

    def _from_section_start(self, st, window):
        """Retry from the section's first byte when a symbol start does not lead to the field."""
        base, start, raw = window
        if start == 0:
            return (None, None, None)
        _, sec_off, sec_addr = self.stepper.lm.image.sections[st.target]
        buf = self.stepper.lm.image.buffer(self.stepper.lm.image.sections[st.target][0])
        # bytes before the window are the same now as then, except fields patched later;
        # from the section's start, or MAX_DECODE_BACK bytes further back at most
        lo = max(0, start - MAX_DECODE_BACK)
        head = bytes(buf[sec_off + lo:sec_off + start])
        return (sec_addr + lo, lo, head + raw)

    @property
    def cs(self):
        if self._cs is None:
            import capstone
            mode = capstone.CS_MODE_64 if self.stepper.bits == 64 else capstone.CS_MODE_32
            self._cs = capstone.Cs(capstone.CS_ARCH_X86, mode)
            # Intel syntax: capstone's AT&T mode prints sign-extended immediates in decimal
            self._cs.syntax = capstone.CS_OPT_SYNTAX_INTEL
            self._cs.detail = True
        return self._cs

    @property
    def cs_lite(self):
        """A second handle without instruction details, to walk a window: capstone decodes a
        whole buffer at once, and with details a 64 KiB window of zeros is 140 MB."""
        if self._cs_lite is None:
            import capstone
            mode = capstone.CS_MODE_64 if self.stepper.bits == 64 else capstone.CS_MODE_32
            self._cs_lite = capstone.Cs(capstone.CS_ARCH_X86, mode)
            self._cs_lite.syntax = capstone.CS_OPT_SYNTAX_INTEL
        return self._cs_lite

    def _containing(self, base, raw, P, width):
        end = P + max(width, 1)
        for address, size, _, _ in self.cs_lite.disasm_lite(raw, base):
            if address <= P and end <= address + size:
                insn = next(self.cs.disasm(raw[address - base:address - base + size], address, 1))
                return Instruction(insn.address, bytes(insn.bytes), insn.mnemonic, insn.op_str,
                                   self.note(insn))
            if address > P:
                return None
        return None

    def note(self, insn):
        """`` <_printk>`` after a branch target, ``  # 0x... <sym>`` for an address operand."""
        import capstone
        from capstone import x86
        mask = (1 << self.stepper.bits) - 1
        branch = insn.group(capstone.CS_GRP_JUMP) or insn.group(capstone.CS_GRP_CALL)
        for op in insn.operands:
            if op.type == x86.X86_OP_IMM:
                addr = op.imm & mask
                name = self.name_of(addr)
                if name:
                    return f" <{name}>" if branch else f"  # {addr:#x} <{name}>"
            elif op.type == x86.X86_OP_MEM:
                if op.mem.base in (x86.X86_REG_RIP, x86.X86_REG_EIP):
                    addr = (insn.address + insn.size + op.mem.disp) & mask
                elif op.mem.base == 0 and op.mem.index == 0:
                    addr = op.mem.disp & mask
                else:
                    continue
                name = self.name_of(addr)
                if name:
                    return f"  # {addr:#x} <{name}>"
        return ""

    def data(self, st, raw):
        """A data field as the number it holds, and what it points at."""
        if not raw:
            return "(nothing)"
        mask = (1 << self.stepper.bits) - 1
        v = int.from_bytes(raw, "little")
        if "P" in st.formula.split():
            off = int.from_bytes(raw, "little", signed=True)
            addr = (st.P + off) & mask
            name = self.name_of(addr)
            return (f"offset {_shex(off)} from the field itself -> {addr:#x}"
                    + (f" <{name}>" if name else ""))
        name = self.name_of(v)
        if name is None and len(raw) < self.stepper.bits // 8:
            wide = int.from_bytes(raw, "little", signed=True) & mask   # 32S sign-extends
            name = self.name_of(wide)
            if name:
                v = wide
        kind = "pointer" if len(raw) == self.stepper.bits // 8 else f"{8 * len(raw)}-bit value"
        return f"{kind} {v:#0{2 * len(raw) + 2}x}" + (f" <{name}>" if name else "")

    # ---- naming addresses ---------------------------------------------------------------

    @cached_property
    def _names(self):
        """``(exact, sections, symbols)``: kernel-side names by address, placed sections
        ``(addr, size, name, index)`` sorted, and per section the module's symbols."""
        st, lm = self.stepper, self.stepper.lm
        exact = {}
        resolved = lm.symbols.resolved
        for name in resolved:
            value = resolved[name].value
            if value:
                exact.setdefault(int(value), name)
        sections = sorted((addr, size, name, i) for i, name, addr, size, _ in lm.placed_sections()
                          if size)
        rank = {STT.STT_FUNC: 0, STT.STT_OBJECT: 0, STT.STT_NOTYPE: 1}
        symbols = {}
        values = st._mod.values
        for sym in lm.elf.symbols:
            if not sym.name or sym.type not in rank or not 0 < sym.shndx < SHN.SHN_LORESERVE:
                continue
            v = values[sym.index] if sym.index < len(values) else None
            if v is None:
                continue
            symbols.setdefault(sym.shndx, []).append((int(v), rank[sym.type], sym.index, sym.name))
        for lst in symbols.values():
            lst.sort()
        return exact, sections, symbols

    def name_of(self, addr):
        """``_printk``, ``hello_init+0x5``, ``.rodata.str1.1+0x17``, or None."""
        exact, sections, symbols = self._names
        if addr in exact:
            return exact[addr]
        k = bisect_right(sections, (addr, float("inf"))) - 1
        near = sections[max(0, k - 3):k + 1]   # sections may share an address: look back a little
        inside = [s for s in near if s[0] <= addr < s[0] + s[1]]
        # an address just past a section (an end marker) is named after that section
        for start, size, name, index in reversed(inside or [s for s in near if addr == s[0] + s[1]]):
            best = None
            for v, rank, _, sym_name in symbols.get(index, ()):
                if v > addr:
                    break
                if best is None or v > best[0] or (v == best[0] and rank < best[1]):
                    best = (v, rank, sym_name)
            if best is None:
                return f"{name}+{addr - start:#x}" if addr != start else name
            return best[2] if best[0] == addr else f"{best[2]}+{addr - best[0]:#x}"
        return None


# ========================================================================= making one

def stepper_for(path_or_bytes: str | Path | BytesLike, profile: str | Path | Profile | None = None,
                with_: Iterable[str | Path | BytesLike] = (), name: str | None = None,
                kernel: LinkKernel | None = None) -> RelocationStepper:
    """Link a module up to its relocations and return a :class:`RelocationStepper`.

    ``profile``: a profile name, path or object (default: the Linux amd64 profile);
    ``with_``: modules (paths or bytes) linked and registered first, so their exports resolve
    (Linux only); ``name``: the hobby module's name (default: the file's stem); ``kernel``: a
    :class:`~linker.load.LinkKernel` to link into, so a caller can read its log after a
    refusal. A hobby profile gets the hobby kernel's sectioned loader. Raises
    :class:`~linker.errors.KmodError` when the load is refused before any relocation.
    """
    if kernel is not None:
        profile = kernel.profile
    elif profile is None or isinstance(profile, (str, Path)):
        profile = load_profile(str(profile or DEFAULT_PROFILE))
    if kernel is None:
        kernel = LinkKernel(profile)
    data = _read(path_or_bytes)
    if name is None:
        name = Path(path_or_bytes).stem if isinstance(path_or_bytes, (str, Path)) else "module"
    if profile.kind == "hobby":
        if with_:
            raise KmodError(f"--with does not apply to the hobby kernel {profile.name}: it never "
                            f"links one module against another", errno.EINVAL)
        return RelocationStepper(_hobby_unrelocated(data, kernel, name), None, kernel)
    for dep in with_:
        link_module(_read(dep), kernel, register=True)
    lm = link_module(data, kernel, stop_before="apply_relocations")
    return RelocationStepper(lm, arch_for(profile), kernel)


def _read(path_or_bytes: str | Path | BytesLike) -> bytes:
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes)
    try:
        return Path(path_or_bytes).read_bytes()
    except OSError as exc:
        raise KmodError(f"{path_or_bytes}: {exc.strerror}", exc.errno or errno.ENOENT) from None


@dataclass
class _ElfOnly:
    """The part of ``LoadInfo`` that ``move_module`` reads."""

    elf: ElfFile


def _hobby_unrelocated(data: bytes, kernel: LinkKernel, name: str) -> HobbyModule:
    """``link_hobby`` up to (not including) its relocations: checks, layout, symbols."""
    profile = kernel.profile
    elf = validate_hobby_object(data, profile)
    find_descriptor(elf, profile, name, kernel)
    if elf.symtab is None:
        line = f"{name}: no .symtab"
        kernel.printk(LOGLEVEL_ERR, line)
        raise KmodError(line, errno.ENOEXEC)
    lay = layout_hobby(elf, profile.page_size)
    image = move_module(_ElfOnly(elf), lay, kernel, name)
    lm = HobbyModule(name, elf, profile, lay, image)
    lm.symbols = resolve_symbols(elf, image, kernel, name)
    return lm
