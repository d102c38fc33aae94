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

Pictures (SVG; ``picture(view)`` keeps only the SVG, which is what a committed notebook
should hold: GitHub and nbviewer draw ``image/svg+xml`` outputs, not SVG inside HTML)
    layout_map(lm)
        the loader's layout before the module is in any machine: core and init
        allocations, RO/RW groups, the guard page after each vmalloc area
    cpu_view(dbg, previous=None)
        a snapshot of the CPU at a debugger stop: code around the PC, call stack,
        registers (changed ones marked) and stack words (new ones marked)
    oops_view(kernel)
        the last oops on the module's source: the C line, the code around RIP, the callers
    timeline(events), sequence(lanes, messages)
        deferred work over simulated time; calls between a user program, the kernel and a
        module (emulator.players records both)

Nothing here changes what it shows. The SVG is plain XML (no HTML entities), so it parses
with ``xml.etree``.
"""

import html
import math
import re
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
PAGE_SIZE = 4096
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
    mapped: bool = False          # the bounds are a machine region's


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


def _allocations(lm):
    """``(name, start, end)`` of the module's allocations (Linux: core and init, each its
    own vmalloc area with a guard page after it), from the layout; empty ones left out."""
    image, layout = getattr(lm, "image", None), getattr(lm, "layout", None)
    out = []
    for name in ("core", "init"):
        start = getattr(image, f"{name}_addr", None)
        size = getattr(layout, f"{name}_size", None)
        if isinstance(start, int) and isinstance(size, int) and size > 0:
            out.append((name, start, start + size))
    return out


def _groups(lm, machine=None):
    """The module's sections grouped by the memory region they were placed in. Without the
    machine's regions, a group reaches to the next one of its allocation (or to the
    allocation's end): the padding between them is the module's, not a hole."""
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
        elif machine is not None:           # in the machine, yet not mapped: init, freed
            label = f"{label} (freed)"
            if not start % PAGE_SIZE:       # its pages went, whole
                end = -(-end // PAGE_SIZE) * PAGE_SIZE
        group = _Group(label, perms, start, end, boxes)
        group.mapped = mregion is not None
        groups.append(group)
    groups.sort(key=lambda g: g.start)
    allocations = _allocations(lm)
    for n, g in enumerate(groups):
        if g.mapped:
            continue
        home = next((a for a in allocations if a[1] <= g.start < a[2]), None)
        if home is None:
            continue
        nxt = groups[n + 1].start if n + 1 < len(groups) else home[2]
        g.end = max(g.end, min(nxt, home[2]))
    return groups


@dataclass
class _Gap:
    """Addresses between two groups (or after the last) that nothing maps: the guard page
    after a vmalloc area, or a hole."""
    start: int
    end: int
    label: str
    y: float = 0.0
    h: float = 0.0


def _gaps(groups, allocations, machine=None):
    """The unmapped stretches to draw between groups and after each allocation."""
    out = []
    for n, g in enumerate(groups):
        nxt = groups[n + 1] if n + 1 < len(groups) else None
        if nxt is not None and nxt.start > g.end:
            size = nxt.start - g.end
            what = "guard page" if size == PAGE_SIZE else "hole"
            out.append((n, _Gap(g.end, nxt.start, f"unmapped {what} ({size // 1024 or size} "
                                                  f"{'KiB' if size >= 1024 else 'B'})")))
        elif any(a[2] == g.end and not a[2] % PAGE_SIZE for a in allocations):
            # a vmalloc area (whole pages) has an unmapped page after it: a hobby kernel's
            # allocation (not whole pages) has none drawn
            if machine is None or machine.region_of(g.end) is None:
                out.append((n, _Gap(g.end, g.end + PAGE_SIZE, "unmapped guard page (4 KiB)")))
    return out


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
        self.allocations = _allocations(lm)
        self.gaps = _gaps(self.groups, self.allocations, machine)

    # -- text
    def text(self):
        lines = [f"memory of module {self.name}"]
        if self.machine is not None:
            lines.append("machine regions:")
            lines += [f"  {r.describe()}" for r in self.machine.regions]
        gaps = dict(self.gaps)
        for n, g in enumerate(self.groups):
            lines.append(f"{g.start:#x}-{g.end:#x} {g.perms} {g.label}")
            for b in g.boxes:
                lines.append(f"    {b.addr:#x} {b.name:<24} {b.size:#7x} bytes  ({b.kind})")
            if n in gaps:
                lines.append(f"{gaps[n].start:#x}-{gaps[n].end:#x} --- {gaps[n].label}")
        if self.arrow is not None:
            lines.append(self.arrow.text())
        return "\n".join(lines)

    # -- picture
    def _layout(self):
        y = 24.0
        biggest = max((b.size for g in self.groups for b in g.boxes), default=1)
        gaps = dict(self.gaps)
        for n, g in enumerate(self.groups):
            g.y = y
            for b in g.boxes:
                b.y = y
                b.h = 20 + 70 * math.sqrt(b.size / biggest)     # grows with size, stays legible
                y += b.h + 2
            g.h = max(y - g.y, 46)
            y = g.y + g.h + 16
            if n in gaps:
                gap = gaps[n]
                gap.y, gap.h = y - 12, 22
                y += gap.h + 4
        return y + 8

    def _allocation_svg(self):
        """A bracket left of the groups of each allocation (core, init), named."""
        parts = []
        for name, start, end in self.allocations:
            inside = [g for g in self.groups if start <= g.start < end]
            if not inside:
                continue
            top, bottom = inside[0].y, inside[-1].y + inside[-1].h - 2
            x = self.LEFT + 14
            mid = (top + bottom) / 2
            parts.append(f'<g class="allocation"><path d="M{x + 6},{top:.1f} H{x} V{bottom:.1f} '
                         f'H{x + 6}" fill="none" stroke="#333" stroke-width="1.5"/>'
                         f'<text x="{x - 4}" y="{mid:.1f}" text-anchor="middle" '
                         f'transform="rotate(-90 {x - 4} {mid:.1f})">{name}</text></g>')
        return "".join(parts)

    def _gap_svg(self, gap):
        x, w = self.LEFT + 24, self.BOX_X + self.BOX_W - self.LEFT - 24
        return (f'<g class="guard"><rect x="{x}" y="{gap.y:.1f}" width="{w}" height="{gap.h:.1f}" '
                f'fill="url(#kmodsim-hatch)" stroke="#999" stroke-dasharray="2,2"/>'
                f'<text x="{x + 6}" y="{gap.y + 15:.1f}" fill="#444">{gap.start:#x} '
                f'{_e(gap.label)}</text></g>')

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
               '</marker><pattern id="kmodsim-hatch" width="6" height="6" '
               'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
               '<rect width="6" height="6" fill="#f4f4f4"/><line x1="0" y1="0" x2="0" y2="6" '
               'stroke="#bbb" stroke-width="2"/></pattern></defs>',
               f'<text x="{self.LEFT}" y="14" font-weight="bold">{_e(self.name)}: sections by '
               f'address</text>']
        out.append(self._allocation_svg())
        for _, gap in self.gaps:
            out.append(self._gap_svg(gap))
        for g in self.groups:
            ro = "read-only" if "w" not in g.perms else "writable"
            ro += ", executable" if "x" in g.perms else ""
            if "ro after init" in g.label or "ro_after_init" in g.label:
                ro = "writable until init returns"
            label = g.label.removeprefix(f"{self.name} ")     # the module's own regions
            out.append(f'<g class="region"><rect x="{self.LEFT + 24}" y="{g.y:.1f}" width="212" '
                       f'height="{g.h - 2:.1f}" fill="none" stroke="#888" stroke-dasharray="3,2"/>'
                       f'<text x="{self.LEFT + 28}" y="{g.y + 12:.1f}">{_e(g.perms)} '
                       f'{_e(label)}</text>'
                       f'<text x="{self.LEFT + 28}" y="{g.y + 25:.1f}" fill="#555">'
                       f'{g.start:#x}</text>'
                       f'<text x="{self.LEFT + 28}" y="{g.y + 38:.1f}" fill="#777" '
                       f'font-size="10">{ro}</text></g>')
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
        label_x = right + 4
        if dst_box is not None:
            bend = right + min(60 + abs(y2 - y1) / 4, 150)
            label_x = bend + 2             # right of the curve, which never reaches its bend
            path = (f"M{right},{y1:.1f} C{bend:.0f},{y1:.1f} {bend:.0f},{y2:.1f} "
                    f"{right - 11},{y2:.1f}")
        else:
            # outside the module (a kernel export): a box on the right
            bx, by = right + 150, max(24.0, y1 - 22)
            parts.append(f'<g class="external"><rect x="{bx}" y="{by:.1f}" width="190" height="44" '
                         f'fill="#ffffff" stroke="#c00000"/><text x="{bx + 6}" y="{by + 14:.1f}">'
                         f'{_e(a.target_name)}</text><text x="{bx + 6}" y="{by + 27:.1f}" '
                         f'fill="#555">{a.target:#x}</text><text x="{bx + 6}" y="{by + 40:.1f}" '
                         f'fill="#555">{_e(a.where)}</text></g>')
            y2 = by + 22
            path = f"M{right},{y1:.1f} C{right + 45},{y1:.1f} {bx - 45},{y2:.1f} {bx - 2},{y2:.1f}"
        parts.append(f'<path class="arrow" d="{path}" fill="none" stroke="#c00000" '
                     f'stroke-width="1.6" marker-end="url(#kmodsim-arrowhead)"/>')
        halo = 'stroke="#ffffff" stroke-width="3" paint-order="stroke"'
        parts.append(f'<text x="{label_x:.0f}" y="{y1 + 16:.1f}" fill="#c00000" {halo}>'
                     f'{_e(a.kind)}</text>')
        if a.before or a.after:
            parts.append(f'<text class="bytes" x="{label_x:.0f}" y="{y1 + 30:.1f}" fill="#555" '
                         f'{halo}>before {a.before.hex(" ")}</text>'
                         f'<text class="bytes" x="{label_x:.0f}" y="{y1 + 43:.1f}" '
                         f'fill="#006000" {halo}>after  {a.after.hex(" ")}</text>')
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
    before: bytes = b""
    after: bytes = b""

    @property
    def where(self):
        """What the target is, in a few words (``kernel export``)."""
        return self.how.split(" at ")[0] if self.how else ""

    def text(self):
        how = f": {self.how}" if self.how else ""
        text = (f"relocation: field at {self.place:#x} ({self.place_name}) --{self.kind}--> "
                f"{self.target:#x} ({self.target_name}{how})")
        if self.before or self.after:
            text += f"\n  bytes {self.before.hex(' ')}  ->  {self.after.hex(' ')}"
        return text


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


def _module_name(lm):
    return lm.mod.name if hasattr(lm, "mod") else lm.name


def layout_map(lm):
    """The module's sections where the loader laid them out (a LinkedModule or HobbyModule,
    before it is in any machine): the same picture as memory_map, without the machine."""
    return ModuleMap(_module_name(lm), lm)


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
                  name, step.how, bytes(step.before), bytes(step.after))


def relocation_arrow(step, lm=None):
    """The module's sections with an arrow from ``step``'s field to its target."""
    lm = _step_module(step, lm)
    return ModuleMap(_module_name(lm), lm, None, _arrow_for(step))


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


# ============================================================================ pictures

CHAR_W, LINE_H = 6.7, 15          # monospace 11px: the width of a character, a line's height
HIGHLIGHT = {"current": "#ffef8a", "changed": "#c9ecc1", "fault": "#f7b7b7", "kernel": "#dde8f6",
             "new": "#c9ecc1"}


class Picture:
    """Only the SVG: a notebook stores it as ``image/svg+xml``, which GitHub and nbviewer
    draw as an image (they strip SVG out of HTML); ``repr`` is the view's text."""

    def __init__(self, svg, text=""):
        self._svg = svg
        self._text = text

    def svg(self):
        return self._svg

    def _repr_svg_(self):
        return self._svg

    def __repr__(self):
        return self._text

    __str__ = __repr__

    def save(self, path):
        """Write the SVG to ``path`` (a str or a pathlib.Path); returns the Path."""
        from pathlib import Path
        path = Path(path)
        path.write_text(self._svg, encoding="utf-8")
        return path


def picture(view):
    """The picture of a view that draws one (``memory_map``, ``relocation_arrow``,
    ``cpu_view``, ``oops_view``, ``timeline``...): an object that shows only its SVG."""
    return Picture(view.svg(), view.text())


MAX_COLUMN_CHARS = 100


def _clip(text, limit=MAX_COLUMN_CHARS):
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _panel_svg(title, rows, title_colour="#000", width_min=300, css_class="panel"):
    """Monospace columns side by side, in one or more rows, under a title. ``rows``: a list
    of rows, each a list of columns ``(heading, lines)``, each line ``(text, highlight)``
    with ``highlight`` a HIGHLIGHT key or None. Lines longer than MAX_COLUMN_CHARS are cut."""
    rows = [[(h, [(_clip(t), m) for t, m in lines]) for h, lines in row] for row in rows]
    body, y, width = [], 24.0, width_min
    for row in rows:
        widths = [max([len(h)] + [len(t) for t, _ in lines]) * CHAR_W + 16 for h, lines in row]
        row_h = LINE_H * (1 + max((len(lines) for _, lines in row), default=0)) + 10
        x = 8.0
        for (heading, lines), w in zip(row, widths):
            body.append(f'<g class="column"><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" '
                        f'height="{row_h:.0f}" fill="#fafafa" stroke="#ccc"/>'
                        f'<text class="heading" x="{x + 6:.1f}" y="{y + 14:.1f}" '
                        f'font-weight="bold">{_e(heading)}</text>')
            for n, (text, mark) in enumerate(lines):
                ty = y + 14 + LINE_H * (n + 1)
                if mark:
                    body.append(f'<rect class="{mark}" x="{x + 2:.1f}" y="{ty - 11:.1f}" '
                                f'width="{w - 4:.1f}" height="{LINE_H - 1}" '
                                f'fill="{HIGHLIGHT.get(mark, "#eee")}"/>')
                body.append(f'<text x="{x + 6:.1f}" y="{ty:.1f}" xml:space="preserve">'
                            f'{_e(text)}</text>')
            body.append("</g>")
            x += w + 8
        width = max(width, x)
        y += row_h + 8
    height = y + 2
    title = _clip(title, int((width - 16) / CHAR_W))
    head = [f'<svg xmlns="{SVG_NS}" class="kmodsim-{css_class}" width="{width:.0f}" '
            f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'font-family="monospace" font-size="11">',
            f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
            f'<text x="8" y="16" font-weight="bold" fill="{title_colour}">{_e(title)}</text>']
    return "".join(head + body + ["</svg>"])


# ------------------------------------------------------------------ the CPU at a stop

GENERAL64 = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11",
             "r12", "r13", "r14", "r15", "rip", "eflags")
GENERAL32 = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "eip", "eflags")


class CpuView(View):
    """What the CPU looks like at one stop of the execution stepper, kept as values (a
    snapshot: later steps do not change it): the code around the PC, the registers (those
    the last step changed marked), the call stack and the stack words from the stack
    pointer up (those that changed since ``previous`` marked)."""

    def __init__(self, headline, reason, window, regs, changed, frames, stack, bits,
                 new_slots=()):
        self.headline, self.reason = headline, reason
        self.window = window           # [(Instruction, label, is_current)]
        self.regs = regs               # {name: value}
        self.changed = changed         # {name: (old, new)}
        self.frames = frames           # [Frame]
        self.stack = stack             # [(address, value, label or None)]
        self.bits = bits
        self.new_slots = set(new_slots)

    @property
    def pc(self):
        return self.regs.get("rip" if self.bits == 64 else "eip")

    def _code_lines(self):
        lines = []
        for insn, label, current in self.window:
            asm = f"{insn.mnemonic} {insn.op_str}".rstrip() + insn.note
            where = f"<{label}>" if label else f"{insn.addr:#x}"
            mark = ("fault" if self.reason == "fault" else "current") if current else None
            lines.append((f"{'=>' if current else '  '} {where:<24} {asm}", mark))
        return lines

    def _register_lines(self):
        names = GENERAL64 if self.bits == 64 else GENERAL32
        digits = self.bits // 4
        lines = []
        for name in names:
            if name not in self.regs:
                continue
            value = self.regs[name]
            shown = eflags_text(value) if name == "eflags" else f"{value:#0{digits + 2}x}"
            was = f"  was {self.changed[name][0]:#x}" if name in self.changed else ""
            lines.append((f"{name:<6} {shown}{was}", "changed" if name in self.changed else None))
        return lines

    def _frame_lines(self):
        return [(f"#{f.level} {f.where}", "kernel" if "[" not in f.where and f.level == 0
                 else None) for f in self.frames]

    def _stack_lines(self):
        word = self.bits // 4 + 2
        sp = "rsp" if self.bits == 64 else "esp"
        lines = []
        for n, (addr, value, label) in enumerate(self.stack):
            where = f"{sp}+{n * self.bits // 8:#04x}"
            lines.append((f"{where} {value:#0{word}x} {('<' + label + '>') if label else ''}"
                          .rstrip(), "new" if addr in self.new_slots else None))
        return lines

    def text(self):
        parts = [self.headline]
        for heading, lines in self._columns():
            parts.append(heading)
            parts += [("* " if mark else "  ") + t for t, mark in lines]
        return "\n".join(parts)

    def _columns(self):
        return [("code", self._code_lines()), ("call stack (innermost first)", self._frame_lines()),
                ("registers", self._register_lines()), ("stack memory", self._stack_lines())]

    def svg(self):
        colour = "#b00000" if self.reason in ("fault", "timeout") else "#005000"
        cols = self._columns()
        return _panel_svg(self.headline, [cols[:2], cols[2:]], colour, css_class="cpu")

    def _repr_html_(self):
        return f"<div>{self.svg()}</div>"


def cpu_view(dbg, previous=None, stack_words=8):
    """The debugger's CPU at its current stop as a :class:`CpuView` snapshot; with the
    ``previous`` snapshot, the stack words that changed since are marked."""
    stop = dbg.stop
    m = dbg.machine
    regs = dbg.register_values()
    frames = list(getattr(dbg.backtrace(), "frames", []))
    stack = []
    sp = m.sp
    for i in range(stack_words):
        slot = sp + i * m.word
        try:
            value = m.read_ptr(slot)
        except Exception:
            break
        stack.append((slot, value, dbg.label(value) if value > 0xFFFF else None))
    old = {a: v for a, v, _ in previous.stack} if previous is not None else None
    new_slots = [a for a, v, _ in stack if old is not None and old.get(a) != v]
    headline = stop.headline() if stop is not None else "not stopped"
    return CpuView(headline, stop.reason if stop else "", list(stop.window) if stop else [],
                   regs, dict(stop.changed) if stop else {}, frames, stack, dbg.bits, new_slots)


# ------------------------------------------------------------------ an oops on the source

class OopsView(View):
    """An oops mapped onto the module's source: the report's title and address, the source
    lines around the faulting line (marked), the instructions around RIP (marked), and the
    module frames that called it. The text is :func:`emulator.faults.explain_fault`'s."""

    def __init__(self, explained, title, source_name, source_lines, code_lines, callers):
        self.explained = explained
        self.title = title
        self.source_name = source_name     # "file.c:21" or ""
        self.source_lines = source_lines   # [(text, mark)]
        self.code_lines = code_lines       # [(text, mark)]
        self.callers = callers             # [text]

    def text(self):
        return self.explained.rstrip("\n")

    def _columns(self):
        cols = []
        if self.source_lines:
            cols.append((f"source  {self.source_name}", self.source_lines))
        cols.append(("code (=> faulted)", self.code_lines))
        if self.callers:
            cols.append(("called from", [(c, None) for c in self.callers]))
        return cols

    def svg(self):
        cols = self._columns()
        return _panel_svg(self.title, [cols[:1], cols[1:]], "#b00000", css_class="oops")

    def _repr_html_(self):
        return f"<div>{self.svg()}</div><pre style='{MONO}'>{_e(self.text())}</pre>"


def oops_view(kernel, source_dirs=(), context=4):
    """The last fault of ``kernel`` on its module's source (see :class:`OopsView`); None when
    nothing faulted. Sources are read only as explain_fault reads them (under the module's
    directory or a ``source_dirs`` entry)."""
    from pathlib import Path

    from . import faults
    report = kernel.faults.last_fault_report
    if report is None:
        return None
    explained = faults.explain_fault(kernel, report, source_dirs=source_dirs)
    mod = kernel.modules.find(report.module) if report.module else None
    where = (f"{report.symbol[0]}+{report.symbol[1]:#x}" if report.symbol else f"{report.rip:#x}")
    address = f", address {report.addr:#x}" if report.addr is not None else ""
    title = (f"{report.title} in {report.what} of {report.module or 'the kernel'} "
             f"at {where}{address}")
    source_name, source_lines, code_lines, callers = "", [], [], []
    lm = getattr(mod, "linked", None)
    if mod is not None and hasattr(lm, "info"):
        place = faults.section_offset(lm, report.rip)
        src = faults.source_line(lm, place[0], place[2], faults.source_roots(
            source_dirs, mod.file)) if place else None
        if src is not None:
            source_name = f"{Path(src.path).name}:{src.line}"
            found, _ = faults.find_source(src.path, faults.source_roots(source_dirs, mod.file))
            if found is not None:
                try:
                    lines = Path(found).read_text(encoding="utf-8", errors="replace").splitlines()
                except OSError:
                    lines = []
                lo, hi = max(1, src.line - context), min(len(lines), src.line + context)
                for n in range(lo, hi + 1):
                    mark = "fault" if n == src.line else None
                    source_lines.append((f"{n:4} {'>' if mark else ' '} "
                                         f"{lines[n - 1].expandtabs(4)}", mark))
        for line in faults.disassemble_around(kernel, mod, report.rip, 6, report.symbol):
            line = re.sub(r"\s{3,}", "  ", line.strip())
            code_lines.append((line, "fault" if line.startswith("=>") else None))
        for addr, reliable in report.frames:
            if reliable and addr != report.rip:
                callers.append(faults.backtrace_symbol(kernel, addr))
    return OopsView(explained, title, source_name, source_lines, code_lines, callers[:8])


# ------------------------------------------------------------------ a timeline

TIMELINE_COLOURS = {"timer": "#f4a582", "work": "#92c5de", "kthread": "#a6dba0",
                    "sleep": "#d9d9d9", "syscall": "#c2a5cf", "module": "#fee08b",
                    "program": "#c2a5cf", "other": "#eeeeee"}


@dataclass
class Event:
    """One thing that happened over simulated time: on ``lane`` (who did it), from
    ``start`` to ``end`` (None: an instant), of ``kind`` (a TIMELINE_COLOURS key)."""
    lane: str
    start: float
    end: float | None
    label: str
    kind: str = "other"


class Timeline(View):
    """Events on lanes over simulated time (seconds), drawn left to right."""

    LANE_H, LEFT, WIDTH = 30, 150, 960

    def __init__(self, events, title="", unit="s"):
        self.events = sorted(events, key=lambda e: (e.start, e.lane))
        self.title = title
        self.unit = unit
        self.lanes = list(dict.fromkeys(e.lane for e in self.events))

    def text(self):
        lines = [self.title] if self.title else []
        for e in self.events:
            span = f"{e.start:.3f}" + (f"-{e.end:.3f}" if e.end is not None else "")
            lines.append(f"{span:>15} {self.unit}  {e.lane:<20} {e.kind:<8} {e.label}")
        return "\n".join(lines)

    def _scale(self):
        t0 = min((e.start for e in self.events), default=0.0)
        t1 = max((max(e.start, e.end if e.end is not None else e.start)
                  for e in self.events), default=1.0)
        t0 = min(t0, 0.0)
        span = (t1 - t0) or 1.0
        right = self.WIDTH - 50
        return t0, span, lambda t: self.LEFT + (t - t0) / span * (right - self.LEFT)

    ROW_H = 20

    def _extent(self, e, x):
        """``(left, right, label_x, anchor)``: the room an event takes on its row, and where
        its label goes (inside its bar, after it, or before it at the right edge)."""
        x1 = x(e.start)
        x2 = x(e.end) if e.end is not None and e.end > e.start else None
        width = len(e.label) * 6.1
        if x2 is not None and width + 6 <= x2 - x1:
            return x1, x2, x1 + 3, "start"
        after = (x2 if x2 is not None else x1 + 6) + 4
        if after + width <= self.WIDTH - 4:
            return x1 - 6, after + width, after, "start"
        before = x1 - 10
        return before - width, x2 if x2 is not None else x1 + 6, before, "end"

    def _rows(self, x):
        """Per event, its row in its lane (0, 1, ...): the first row where it and its label
        do not run into what is already there. Returns ({id: row}, {lane: rows})."""
        taken, row_of = {}, {}
        for e in self.events:
            left, right, _, _ = self._extent(e, x)
            rows = taken.setdefault(e.lane, [])
            row = next((n for n, spans in enumerate(rows)
                        if all(right + 6 <= a or left >= b + 6 for a, b in spans)), None)
            if row is None:
                row = len(rows)
                rows.append([])
            rows[row].append((left, right))
            row_of[id(e)] = row
        return row_of, {lane: max(1, len(taken.get(lane, []))) for lane in self.lanes}

    def svg(self):
        t0, span, x = self._scale()
        row_of, rows = self._rows(x)
        tops, y = {}, 30
        for lane in self.lanes:
            tops[lane] = y
            y += 10 + self.ROW_H * rows[lane]
        height = y + 40
        out = [f'<svg xmlns="{SVG_NS}" class="kmodsim-timeline" width="{self.WIDTH}" '
               f'height="{height}" viewBox="0 0 {self.WIDTH} {height}" font-family="monospace" '
               f'font-size="11"><rect width="{self.WIDTH}" height="{height}" fill="#ffffff"/>',
               f'<text x="8" y="16" font-weight="bold">{_e(self.title)}</text>']
        for n, lane in enumerate(self.lanes):
            top, h = tops[lane], 10 + self.ROW_H * rows[lane]
            out.append(f'<g class="lane"><rect x="0" y="{top}" width="{self.WIDTH}" '
                       f'height="{h}" fill="{"#f4f4f4" if n % 2 else "#ffffff"}"/>'
                       f'<text x="8" y="{top + 19}">{_e(lane[:20])}</text></g>')
        for e in self.events:
            y0 = tops[e.lane] + 5 + self.ROW_H * row_of[id(e)]
            colour = TIMELINE_COLOURS.get(e.kind, TIMELINE_COLOURS["other"])
            x1 = x(e.start)
            _, _, label_x, anchor = self._extent(e, x)
            label = (f'<text x="{label_x:.1f}" y="{y0 + 13}" font-size="10" '
                     f'text-anchor="{anchor}">{_e(e.label)}</text>')
            if e.end is None or e.end <= e.start:
                out.append(f'<g class="event instant"><path d="M{x1:.1f},{y0} l6,9 l-6,9 '
                           f'l-6,-9 z" fill="{colour}" stroke="#333"/>{label}</g>')
            else:
                w = max(x(e.end) - x1, 2)
                out.append(f'<g class="event span"><rect x="{x1:.1f}" y="{y0}" width="{w:.1f}" '
                           f'height="{self.ROW_H - 2}" fill="{colour}" stroke="#333"/>{label}</g>')
        axis_y = y + 6
        out.append(f'<g class="axis"><line x1="{self.LEFT}" y1="{axis_y}" x2="{self.WIDTH - 50}" '
                   f'y2="{axis_y}" stroke="#333"/>')
        step = _nice_step(span / 8)
        t = math.ceil(t0 / step) * step
        while t <= t0 + span + step / 1000:
            tx = x(t)
            out.append(f'<line x1="{tx:.1f}" y1="{axis_y}" x2="{tx:.1f}" y2="{axis_y + 5}" '
                       f'stroke="#333"/><text x="{tx:.1f}" y="{axis_y + 17}" '
                       f'text-anchor="middle">{t:g} {self.unit}</text>')
            t += step
        out.append("</g></svg>")
        return "".join(out)

    def _repr_html_(self):
        return f"<div>{self.svg()}</div>"


def _nice_step(raw):
    """1, 2 or 5 times a power of ten, at least ``raw``."""
    if raw <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


def timeline(events, title="", unit="s"):
    """A :class:`Timeline` of ``events`` (:class:`Event`, or ``(lane, start, end, label,
    kind)`` tuples)."""
    return Timeline([e if isinstance(e, Event) else Event(*e) for e in events], title, unit)


# ------------------------------------------------------------------ a sequence of calls

class Sequence(View):
    """Who called whom, top to bottom: a lifeline per lane (user program, kernel, module),
    a solid arrow per call and a dashed one per return, each labelled."""

    LANE_W, TOP, STEP = 230, 52, 26

    def __init__(self, lanes, messages, title=""):
        self.lanes = list(lanes)
        self.messages = list(messages)      # (from lane, to lane, label, "call"|"return")
        self.title = title

    def text(self):
        lines = [self.title] if self.title else []
        for src, dst, label, kind in self.messages:
            arrow = "-->" if kind == "call" else "<--"
            a, b = (src, dst) if kind == "call" else (dst, src)
            lines.append(f"  {a:>22} {arrow} {b:<22} {label}")
        return "\n".join(lines)

    def svg(self):
        width = 40 + self.LANE_W * len(self.lanes)
        height = self.TOP + self.STEP * (len(self.messages) + 1) + 10
        x = {lane: 20 + self.LANE_W * n + self.LANE_W // 2 for n, lane in enumerate(self.lanes)}
        out = [f'<svg xmlns="{SVG_NS}" class="kmodsim-sequence" width="{width}" '
               f'height="{height}" viewBox="0 0 {width} {height}" font-family="monospace" '
               f'font-size="11"><rect width="{width}" height="{height}" fill="#ffffff"/>'
               '<defs><marker id="kmodsim-seq-head" markerWidth="9" markerHeight="8" refX="8" '
               'refY="4" orient="auto"><path d="M0,0 L9,4 L0,8 z" fill="#333"/></marker></defs>',
               f'<text x="8" y="16" font-weight="bold">{_e(self.title)}</text>']
        for lane in self.lanes:
            cx = x[lane]
            out.append(f'<g class="lifeline"><rect x="{cx - 100}" y="24" width="200" height="20" '
                       f'fill="#eef3fb" stroke="#333"/><text x="{cx}" y="38" '
                       f'text-anchor="middle">{_e(lane[:30])}</text><line x1="{cx}" y1="44" '
                       f'x2="{cx}" y2="{height - 6}" stroke="#999" stroke-dasharray="4,3"/></g>')
        for n, (src, dst, label, kind) in enumerate(self.messages):
            y = self.TOP + self.STEP * (n + 1)
            x1, x2 = x[src], x[dst]
            dash = ' stroke-dasharray="5,3"' if kind == "return" else ""
            colour = "#555" if kind == "return" else "#000"
            out.append(f'<g class="message {kind}"><line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" '
                       f'stroke="{colour}"{dash} marker-end="url(#kmodsim-seq-head)"/>'
                       f'<text x="{(x1 + x2) / 2:.0f}" y="{y - 4}" text-anchor="middle" '
                       f'fill="{colour}" stroke="#ffffff" stroke-width="3" paint-order="stroke">'
                       f'{_e(label)}</text></g>')
        out.append("</svg>")
        return "".join(out)

    def _repr_html_(self):
        return f"<div>{self.svg()}</div>"


def sequence(lanes, messages, title=""):
    """A :class:`Sequence` diagram of ``messages`` ``(from, to, label, kind)`` between
    ``lanes``."""
    return Sequence(lanes, messages, title)


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
           "layout_map", "KIND_COLOURS", "Picture", "picture", "CpuView", "cpu_view",
           "OopsView", "oops_view",
           "Event", "Timeline", "timeline", "Sequence", "sequence"]
