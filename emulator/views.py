"""Rich views for notebooks: every function returns an object with ``_repr_html_()`` (what
Jupyter draws) and ``__str__`` (the same facts as plain text, for terminals and tests).

    show_header(elf), show_sections(elf), show_symbols(elf), show_relocations(elf)
        readelf's views (linker.elf.describe): the text is describe's, byte for byte; the
        HTML is the same table with one cell per field and rows coloured by section kind
    memory_map(kernel, "hello_debug", step=None)
        the machine's regions (labels, permissions) and the module's sections in its core
        and init allocations, drawn as an SVG: boxes stacked in address order, heights
        growing with size, coloured by kind; with a relocation ``step``, an arrow from the
        field it patched to its target
    relocation_arrow(step), relocation_step(step)
        one relocation (linker.load.stepper.Step): the module's picture with that arrow,
        and the stepper's own table with it
    execution_step(stop), registers_view(...), disassembly_view(...), hexdump_view(...)
        what the execution stepper (emulator.debugger) shows at a stop
    dmesg(kernel)
        the kernel log, each record coloured by its level

Nothing here changes what it shows. The SVG is plain XML (no HTML entities), so it parses
with ``xml.etree``.
"""

import html
import math
from dataclasses import dataclass

from linker.elf import describe

from .logbuf import format_record
from .machine import PERM_TEXT

SVG_NS = "http://www.w3.org/2000/svg"
KIND_COLOURS = {"text": "#f4a582", "rodata": "#92c5de", "ro_after_init": "#c2a5cf",
                "data": "#a6dba0", "init": "#fee08b", "percpu": "#d9d9d9", "other": "#eeeeee"}
LEVEL_COLOURS = {0: "#b00000", 1: "#b00000", 2: "#b00000", 3: "#d00000", 4: "#b35900",
                 5: "#0050a0", 6: None, 7: "#808080"}
LEVEL_NAMES = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
SHT_SYMTAB_SHNDX = 18
MONO = "font-family:monospace"

EFLAGS_BITS = ((0, "CF"), (2, "PF"), (4, "AF"), (6, "ZF"), (7, "SF"), (8, "TF"), (9, "IF"),
               (10, "DF"), (11, "OF"))


def eflags_text(value):
    """``[ ZF PF IF ]`` as gdb shows the flags register."""
    return "[ " + " ".join(name for bit, name in EFLAGS_BITS if value >> bit & 1) + " ]"


def _e(text):
    return html.escape(str(text), quote=True)


# ============================================================================ building blocks

class View:
    """Text and HTML of one thing; ``repr`` is the text, so a terminal shows it too."""

    def text(self):
        raise NotImplementedError

    def __str__(self):
        return self.text()

    def __repr__(self):
        return self.text()

    def _repr_html_(self):
        return f"<pre>{_e(self.text())}</pre>"


class Table(View):
    """Rows of cells under a title; ``marks``: indexes of rows to highlight, ``colours``:
    per-row background colours (or None)."""

    def __init__(self, title, columns, rows, marks=(), colours=None, text=None):
        self.title = title
        self.columns = tuple(columns)
        self.rows = [tuple(str(c) for c in row) for row in rows]
        self.marks = set(marks)
        self.colours = colours
        self._text = text

    def text(self):
        if self._text is not None:
            return self._text
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row)]
        lines = [self.title] if self.title else []
        if any(self.columns):
            head = "  ".join(c.ljust(w) for c, w in zip(self.columns, widths)).rstrip()
            lines.append(("   " if self.marks else "") + head)
        for n, row in enumerate(self.rows):
            mark = "=> " if n in self.marks else "   "
            line = "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
            lines.append(mark + line if self.marks else line)
        return "\n".join(lines)

    def _repr_html_(self):
        head = "".join(f"<th style='text-align:left;padding:0 .6em'>{_e(c)}</th>"
                       for c in self.columns)
        body = []
        for n, row in enumerate(self.rows):
            colour = self.colours[n] if self.colours else None
            if n in self.marks:
                colour = "#ffff99"
            style = f" style='background:{colour}'" if colour else ""
            cells = "".join(f"<td style='text-align:left;padding:0 .6em;white-space:pre'>"
                            f"{_e(c)}</td>" for c in row)
            body.append(f"<tr{style}>{cells}</tr>")
        caption = (f"<caption style='text-align:left;font-weight:bold'>{_e(self.title)}</caption>"
                   if self.title else "")
        return (f"<table style='{MONO};border-collapse:collapse'>{caption}"
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


class Combined(View):
    """Several views one after the other."""

    def __init__(self, *parts, title=None):
        self.parts = parts
        self.title = title

    def text(self):
        body = "\n\n".join(p.text() for p in self.parts)
        return f"{self.title}\n{body}" if self.title else body

    def _repr_html_(self):
        head = f"<p><b>{_e(self.title)}</b></p>" if self.title else ""
        return head + "".join(f"<div style='margin-bottom:.8em'>{p._repr_html_()}</div>"
                              for p in self.parts)


# ============================================================================ ELF (readelf)

def _section_kind(name, flags):
    if not flags & SHF_ALLOC:
        return None
    if name.startswith(".init"):
        return "init"
    if flags & SHF_EXECINSTR:
        return "text"
    return "data" if flags & SHF_WRITE else "rodata"


def show_header(elf):
    """``readelf -h``: the header's fields as a two-column table."""
    text = describe.file_header(elf)
    rows = []
    for line in text.splitlines()[1:]:
        name, _, value = line.strip().partition(":")
        rows.append((name, value.strip()))
    return Table("ELF Header", ("field", "value"), rows, text=text.rstrip("\n"))


def show_sections(elf):
    """``readelf -S``: one row per section, coloured by the kind of memory it goes to."""
    machine, osabi = elf.header.e_machine, elf.header.e_ident[7]
    bits = elf.layout.bits
    rows, colours = [], []
    for s in elf.sections:
        rows.append((f"[{s.index}]", describe.printable(s.name),
                     describe.section_type_name(s.sh_type, machine, osabi),
                     f"{s.sh_addr:0{bits // 4}x}", f"{s.sh_offset:06x}", f"{s.sh_size:06x}",
                     f"{describe.entry_size(s, bits):02x}",
                     describe.section_flags_key(s.sh_flags, machine, osabi), s.sh_link,
                     s.sh_info, s.sh_addralign))
        kind = _section_kind(s.name, s.sh_flags)
        colours.append(KIND_COLOURS[kind] if kind else None)
    return Table("Section Headers", ("Nr", "Name", "Type", "Address", "Off", "Size", "ES",
                                     "Flg", "Lk", "Inf", "Al"), rows, colours=colours,
                 text=describe.section_headers(elf).strip("\n"))


def show_symbols(elf):
    """``readelf -s``: the symbol table, one cell per field."""
    machine, osabi = elf.header.e_machine, elf.header.e_ident[7]
    extended = any(s.sh_type == SHT_SYMTAB_SHNDX for s in elf.sections)
    digits = elf.layout.bits // 4
    rows = []
    for sym in elf.symbols:
        reserved = describe.is_reserved_index(sym, extended)
        name = sym.name
        if sym.type == 3 and not sym.st_name and 0 < sym.shndx < len(elf.sections):
            name = elf.sections[sym.shndx].name
        rows.append((sym.index, f"{sym.st_value:0{digits}x}", sym.st_size,
                     describe.symbol_type_name(sym.type, machine, osabi),
                     describe.symbol_bind_name(sym.bind, osabi),
                     describe.visibility_name(sym.st_other & 3),
                     describe.section_index_name(sym.shndx, machine, len(elf.sections), reserved),
                     describe.printable(name)))
    return Table("Symbol table '.symtab'", ("Num", "Value", "Size", "Type", "Bind", "Vis",
                                            "Ndx", "Name"), rows,
                 text=describe.symbol_tables(elf).strip("\n"))


def show_relocations(elf):
    """``readelf -r``: one table per relocation section."""
    machine, bits = elf.header.e_machine, elf.layout.bits
    tables = []
    symbols = elf.symbols
    for rs in elf.relocation_sections:
        rows = []
        for r in rs.entries:
            sym = symbols[r.sym] if 0 < r.sym < len(symbols) else None
            name = ""
            if sym is not None:
                name = sym.name
                if sym.type == 3 and not sym.st_name and 0 < sym.shndx < len(elf.sections):
                    name = elf.sections[sym.shndx].name
            addend = "" if r.addend is None else (f"- {-r.addend:x}" if r.addend < 0
                                                  else f"+ {r.addend:x}")
            rows.append((f"{r.r_offset:0{bits // 4}x}", f"{r.r_info:0{bits // 4}x}",
                         describe.reloc_type_name(machine, r.type) or f"type {r.type}",
                         f"{sym.st_value:0{bits // 4}x}" if sym is not None else "",
                         f"{describe.printable(name)} {addend}".strip()))
        target = rs.target.name if rs.target is not None else "?"
        tables.append(Table(f"Relocation section '{rs.name}' (patches {target}): "
                            f"{len(rows)} entries",
                            ("Offset", "Info", "Type", "Sym. Value", "Symbol + Addend"), rows))
    view = Combined(*tables)
    view.text = lambda: describe.relocations(elf).strip("\n")
    return view


# ============================================================================ memory map (SVG)

@dataclass
class _Box:
    name: str
    addr: int
    size: int
    kind: str
    y: float = 0.0
    h: float = 0.0


@dataclass
class _Group:
    label: str
    perms: str
    start: int
    end: int
    boxes: list
    y: float = 0.0
    h: float = 0.0


def _kind_of_region(region):
    """``core_text`` -> ``text``; anything in init -> ``init``."""
    if region.startswith("init"):
        return "init"
    for kind in ("ro_after_init", "rodata", "text", "data", "percpu"):
        if kind in region:
            return kind
    return "other"


_PERMS = {"text": "r-x", "rodata": "r--", "ro_after_init": "rw-", "data": "rw-",
          "percpu": "rw-"}


def _groups(lm, machine=None):
    """The module's sections grouped by the memory region they were placed in."""
    by_region = {}
    for _, name, addr, size, region in lm.placed_sections():
        if size:
            by_region.setdefault(region, []).append(_Box(name, addr, size,
                                                         _kind_of_region(region)))
    groups = []
    for region, boxes in by_region.items():
        boxes.sort(key=lambda b: b.addr)
        start, end = boxes[0].addr, max(b.addr + b.size for b in boxes)
        label, perms = region.replace("_", " "), _PERMS.get(_kind_of_region(region), "")
        if region.startswith("init"):
            perms = "r-x" if "text" in region else ("r--" if "rodata" in region else "rw-")
        mregion = machine.region_of(start) if machine is not None else None
        if mregion is not None:
            label, perms = mregion.label, PERM_TEXT.get(mregion.perms, "?")
            start, end = min(start, mregion.start), max(end, mregion.end)
        groups.append(_Group(label, perms, start, end, boxes))
    groups.sort(key=lambda g: g.start)
    return groups


class ModuleMap(View):
    """The module's sections as stacked boxes (SVG), optionally an arrow for one relocation,
    plus the machine's memory regions as a table."""

    WIDTH, LEFT, BOX_X, BOX_W = 1000, 8, 250, 420

    def __init__(self, name, lm, machine=None, arrow=None):
        self.name = name
        self.lm = lm
        self.machine = machine
        self.arrow = arrow            # _Arrow or None
        self.groups = _groups(lm, machine)

    # -- text
    def text(self):
        lines = [f"memory of module {self.name}"]
        if self.machine is not None:
            lines.append("machine regions:")
            lines += [f"  {r.describe()}" for r in self.machine.regions]
        for g in self.groups:
            lines.append(f"{g.start:#x}-{g.end:#x} {g.perms} {g.label}")
            for b in g.boxes:
                lines.append(f"    {b.addr:#x} {b.name:<24} {b.size:#7x} bytes  ({b.kind})")
        if self.arrow is not None:
            lines.append(self.arrow.text())
        return "\n".join(lines)

    # -- picture
    def _layout(self):
        y = 24.0
        biggest = max((b.size for g in self.groups for b in g.boxes), default=1)
        for g in self.groups:
            g.y = y
            for b in g.boxes:
                b.y = y
                b.h = 20 + 70 * math.sqrt(b.size / biggest)     # grows with size, stays legible
                y += b.h + 2
            g.h = y - g.y
            y += 16
        return y + 8

    def _locate(self, addr):
        """``(box, y)`` of an address inside one of the boxes, or ``(None, None)``."""
        for g in self.groups:
            for b in g.boxes:
                if b.addr <= addr < b.addr + max(b.size, 1):
                    return b, b.y + 3 + (b.h - 6) * (addr - b.addr) / max(b.size, 1)
        return None, None

    def svg(self):
        height = self._layout()
        if self.arrow is not None:
            height = max(height, 120)
        out = [f'<svg xmlns="{SVG_NS}" width="{self.WIDTH}" height="{height:.0f}" '
               f'viewBox="0 0 {self.WIDTH} {height:.0f}" font-family="monospace" font-size="11">',
               '<defs><marker id="kmodsim-arrowhead" markerWidth="10" markerHeight="8" refX="9" '
               'refY="4" orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#c00000"/>'
               '</marker></defs>',
               f'<text x="{self.LEFT}" y="14" font-weight="bold">{_e(self.name)}: sections by '
               f'address</text>']
        for g in self.groups:
            out.append(f'<g class="region"><rect x="{self.LEFT}" y="{g.y:.1f}" width="230" '
                       f'height="{g.h - 2:.1f}" fill="none" stroke="#888" stroke-dasharray="3,2"/>'
                       f'<text x="{self.LEFT + 4}" y="{g.y + 12:.1f}">{_e(g.perms)} '
                       f'{_e(g.label)}</text>'
                       f'<text x="{self.LEFT + 4}" y="{g.y + 25:.1f}" fill="#555">'
                       f'{g.start:#x}</text></g>')
            for b in g.boxes:
                colour = KIND_COLOURS.get(b.kind, KIND_COLOURS["other"])
                out.append(f'<g class="section"><rect x="{self.BOX_X}" y="{b.y:.1f}" '
                           f'width="{self.BOX_W}" height="{b.h:.1f}" fill="{colour}" '
                           f'stroke="#333"/><text x="{self.BOX_X + 6}" y="{b.y + 14:.1f}">'
                           f'{_e(b.name)}</text><text x="{self.BOX_X + self.BOX_W - 6}" '
                           f'y="{b.y + 14:.1f}" text-anchor="end">{b.addr:#x} '
                           f'({b.size} B)</text></g>')
        if self.arrow is not None:
            out.append(self._arrow_svg())
        out.append(self._legend(height))
        out.append("</svg>")
        return "".join(out)

    def _legend(self, height):
        parts = []
        for n, kind in enumerate(("text", "rodata", "ro_after_init", "data", "init")):
            x = self.BOX_X + 90 + 120 * n
            y = 14
            parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" '
                         f'fill="{KIND_COLOURS[kind]}" stroke="#333"/>'
                         f'<text x="{x + 18}" y="{y}">{kind}</text>')
        return f'<g class="legend">{"".join(parts)}</g>'

    def _arrow_svg(self):
        a = self.arrow
        right = self.BOX_X + self.BOX_W
        src_box, y1 = self._locate(a.place)
        if src_box is None:
            return ""
        # the field: a bar just right of its section, at its offset in the section
        parts = [f'<rect class="field" x="{right + 1}" y="{y1 - 3:.1f}" width="12" height="6" '
                 f'fill="#c00000"/>']
        right += 13
        dst_box, y2 = self._locate(a.target)
        if dst_box is not None:
            bend = right + 60 + abs(y2 - y1) / 4
            path = (f"M{right},{y1:.1f} C{bend:.0f},{y1:.1f} {bend:.0f},{y2:.1f} "
                    f"{right - 11},{y2:.1f}")
        else:
            # outside the module (a kernel export): a box on the right
            bx, by = right + 120, max(24.0, y1 - 22)
            parts.append(f'<g class="external"><rect x="{bx}" y="{by:.1f}" width="190" height="44" '
                         f'fill="#ffffff" stroke="#c00000"/><text x="{bx + 6}" y="{by + 14:.1f}">'
                         f'{_e(a.target_name)}</text><text x="{bx + 6}" y="{by + 27:.1f}" '
                         f'fill="#555">{a.target:#x}</text><text x="{bx + 6}" y="{by + 40:.1f}" '
                         f'fill="#555">{_e(a.where)}</text></g>')
            y2 = by + 22
            path = f"M{right},{y1:.1f} C{right + 45},{y1:.1f} {bx - 45},{y2:.1f} {bx - 2},{y2:.1f}"
        parts.append(f'<path class="arrow" d="{path}" fill="none" stroke="#c00000" '
                     f'stroke-width="1.6" marker-end="url(#kmodsim-arrowhead)"/>')
        parts.append(f'<text x="{right + 4}" y="{y1 + 16:.1f}" fill="#c00000">'
                     f'{_e(a.kind)}</text>')
        return f'<g class="relocation">{"".join(parts)}</g>'

    def _repr_html_(self):
        parts = [f"<div>{self.svg()}</div>"]
        if self.arrow is not None:
            parts.append(f"<p style='{MONO}'>{_e(self.arrow.text())}</p>")
        if self.machine is not None:
            rows = [(f"{r.start:#x}", f"{r.end:#x}", f"{r.size:#x}",
                     PERM_TEXT.get(r.perms, "?"), r.label) for r in self.machine.regions]
            colours = [("#ffffcc" if r.label.startswith(f"{self.name} ") else None)
                       for r in self.machine.regions]
            parts.append(Table("machine memory regions", ("start", "end", "size", "perms",
                                                          "label"), rows,
                               colours=colours)._repr_html_())
        return "".join(parts)


@dataclass
class _Arrow:
    place: int
    target: int
    kind: str
    place_name: str
    target_name: str
    how: str = ""

    @property
    def where(self):
        """What the target is, in a few words (``kernel export``)."""
        return self.how.split(" at ")[0] if self.how else ""

    def text(self):
        how = f": {self.how}" if self.how else ""
        return (f"relocation: field at {self.place:#x} ({self.place_name}) --{self.kind}--> "
                f"{self.target:#x} ({self.target_name}{how})")


def _module(kernel, name):
    for mod in kernel.modules:
        if mod.name == name:
            return mod
    raise KeyError(f"no module {name!r} in the kernel")


def memory_map(kernel, module_name, step=None):
    """The machine's regions and module ``module_name``'s sections (SVG); with a
    relocation ``step`` of that module, the arrow from its field to its target."""
    mod = _module(kernel, module_name)
    arrow = _arrow_for(step) if step is not None else None
    return ModuleMap(module_name, mod.linked, kernel.machine, arrow)


def _step_module(step, lm=None):
    if lm is not None:
        return lm
    if step._view is None:      # a Step made by hand, not by a RelocationStepper
        raise ValueError("give the LinkedModule: this step does not know its module")
    return step._view.stepper.lm


def _arrow_for(step):
    """Where a relocation's field points once patched: S + A for a data field (an
    absolute value, or place-relative data); S + A + width for a code field, whose offset
    counts from the end of the instruction (the field is its last bytes)."""
    if step.S is None or step.P is None:
        raise ValueError("this relocation was refused before it had a value")
    mask = (1 << step.bits) - 1
    target = (step.S + step.A) & mask
    code = step.code
    if "P" in step.formula.split() and code is not None and code[0] == "code":
        target = (target + step.width) & mask
    off = (target - step.S) & mask
    off = off - (1 << step.bits) if off >> (step.bits - 1) else off
    name = step.symbol if not off else f"{step.symbol}{'+' if off > 0 else '-'}{abs(off):#x}"
    return _Arrow(step.P, target, step.type_name, f"{step.target_name}+{step.r_offset:#x}",
                  name, step.how)


def relocation_arrow(step, lm=None):
    """The module's sections with an arrow from ``step``'s field to its target."""
    lm = _step_module(step, lm)
    return ModuleMap(lm.mod.name if hasattr(lm, "mod") else lm.name, lm, None, _arrow_for(step))


class _StepView(View):
    def __init__(self, step, picture):
        self.step = step
        self.picture = picture

    def text(self):
        lines = [self.step.text()]
        if self.picture is not None:
            lines.append(self.picture.arrow.text())
        return "\n".join(lines)

    def _repr_html_(self):
        pic = self.picture.svg() if self.picture is not None else ""
        return f"{self.step._repr_html_()}<div>{pic}</div>"


def relocation_step(step, lm=None):
    """The relocation stepper's own view of ``step`` and, when it was applied, its arrow."""
    picture = None
    if step.applied and step.S is not None:
        try:
            picture = relocation_arrow(step, lm)
        except ValueError:
            picture = None
    return _StepView(step, picture)


# ============================================================================ execution

def registers_view(regs, changed, bits, where="", label=None):
    """Registers in gdb's ``info registers`` shape (the value, then what it means: the
    flags, the code the PC is in, the symbol a pointer points at, or the signed number);
    those ``changed`` since the previous stop are highlighted."""
    rows, marks = [], []
    for n, (name, value) in enumerate(regs.items()):
        if name == "eflags":
            shown = eflags_text(value)
        elif name in ("rip", "eip"):
            shown = where
        else:
            named = label(value) if label is not None and value > 0xFFFF else None
            signed = value - (1 << bits) if value >> (bits - 1) else value
            shown = f"<{named}>" if named else str(signed)
        digits = 8 if name in ("eflags", "cs", "ss", "ds", "es", "fs", "gs") else bits // 4
        old = f"was {changed[name][0]:#x}" if name in changed else ""
        rows.append((name, f"{value:#0{digits + 2}x}", shown, old))
        if name in changed:
            marks.append(n)
    table = Table("registers", ("reg", "hex", "", "changed"), rows, marks=marks)
    table.values = dict(regs)
    return table


def disassembly_view(rows, bits):
    """``rows``: (Instruction, label, is_current). gdb's ``x/i`` layout, ``=>`` at the PC."""
    digits = bits // 4 + 2
    out, marks = [], []
    for n, (insn, label, current) in enumerate(rows):
        if current:
            marks.append(n)
        asm = f"{insn.mnemonic} {insn.op_str}".rstrip() + insn.note
        out.append((f"{insn.addr:#0{digits}x}", f"<{label}>" if label else "",
                    insn.raw.hex(" "), asm))
    text = "\n".join(f"{'=> ' if n in marks else '   '}{a} {lab + ':' if lab else ''}  "
                     f"{raw:<23}  {asm}".rstrip()
                     for n, (a, lab, raw, asm) in enumerate(out))
    table = Table("", ("address", "", "bytes", "instruction"), out, marks=marks, text=text)
    table.instructions = [r[0] for r in rows]
    return table


def hexdump_view(addr, data, label, bits):
    """16 bytes a line, ASCII on the right, as ``hexdump -C`` (with addresses)."""
    digits = bits // 4 + 2
    rows = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk[:8]) + "  " + \
            " ".join(f"{b:02x}" for b in chunk[8:])
        ascii_ = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        rows.append((f"{addr + off:#0{digits}x}", f"{hexes:<48}", f"|{ascii_}|"))
    title = f"{len(data)} bytes at {addr:#x}" + (f" <{label}>" if label else "")
    if not data:
        title += ": not mapped"
    table = Table(title, ("address", "bytes", "ascii"), rows)
    table.data = data
    return table


class _ExecutionStep(View):
    def __init__(self, stop):
        self.stop = stop

    def _changed_rows(self):
        return [(name, f"{old:#x}", f"{new:#x}") for name, (old, new) in self.stop.changed.items()]

    def text(self):
        s = self.stop
        lines = [s.headline()]
        if s.changed:
            lines.append("changed: " + ", ".join(f"{n} {o} -> {v}" for n, o, v in
                                                 self._changed_rows()))
        lines.append(disassembly_view(s.window, s.bits).text())
        return "\n".join(lines)

    def _repr_html_(self):
        s = self.stop
        colour = "#b00000" if s.reason in ("fault", "timeout") else "#005000"
        parts = [f"<p style='{MONO}'><b style='color:{colour}'>{_e(s.reason)}</b> "
                 f"{_e(s.headline())}</p>"]
        insn = s.instruction
        if insn is not None:
            asm = f"{insn.mnemonic} {insn.op_str}".rstrip() + insn.note
            parts.append(f"<p style='{MONO}'>next: <code>{_e(asm)}</code></p>")
        if s.changed:
            parts.append(Table("registers changed", ("reg", "before", "now"),
                               self._changed_rows())._repr_html_())
        parts.append(disassembly_view(s.window, s.bits)._repr_html_())
        return "<div>" + "".join(parts) + "</div>"


def execution_step(stop):
    """One stop of the execution stepper: why, the registers it changed, the code around."""
    return _ExecutionStep(stop)


def coverage_html(cov):
    parts = []
    for f in cov.functions:
        rows, colours = [], []
        for insn, count in f.rows:
            asm = f"{insn.mnemonic} {insn.op_str}".rstrip() + insn.note
            rows.append((count or "", f"{insn.addr:#x}", f"<+{insn.addr - f.addr}>", asm))
            colours.append("#d9f0d3" if count else "#f5f5f5")
        parts.append(Table(f"{f.name} [{f.module}]: {f.executed}/{f.total} instructions ran",
                           ("count", "address", "", "instruction"), rows,
                           colours=colours)._repr_html_())
    return "".join(parts)


# ============================================================================ dmesg

class _Dmesg(View):
    def __init__(self, kernel):
        self.kernel = kernel

    def text(self):
        return self.kernel.dmesg().rstrip("\n")

    def _repr_html_(self):
        lines = []
        for rec in self.kernel.log:
            level = rec.level
            colour = LEVEL_COLOURS.get(level)
            style = f"color:{colour}" + (";font-weight:bold" if level <= 2 else "") \
                if colour else ""
            name = LEVEL_NAMES[level] if 0 <= level < 8 else str(level)
            lines.append(f"<span class='kern-{name}' title='{name}' style='{style}'>"
                         f"{_e(format_record(rec))}</span>")
        return f"<pre style='{MONO}'>" + "\n".join(lines) + "</pre>"


def dmesg(kernel):
    """The kernel log; in HTML each record is coloured by its level (err red, warn brown,
    notice blue, debug grey)."""
    return _Dmesg(kernel)


__all__ = ["View", "Table", "show_header", "show_sections", "show_symbols", "show_relocations",
           "memory_map", "relocation_arrow", "relocation_step", "execution_step",
           "registers_view", "disassembly_view", "hexdump_view", "dmesg", "ModuleMap",
           "KIND_COLOURS"]
