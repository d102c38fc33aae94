"""Rich views: each renders text and well-formed HTML (the SVG parses as XML) holding the
key values, read back from the module and the kernel rather than written down."""

import re
import xml.etree.ElementTree as ET

import pytest
from conftest import SAMPLES

from emulator import views
from emulator.debugger import Debugger
from emulator.kernel import Kernel
from linker.elf import describe
from linker.elf.reader import ElfFile
from linker.load.stepper import stepper_for

HELLO = SAMPLES / "linux/hello_debug/hello_debug.ko"
OOPS_NULL = SAMPLES / "linux/oops_null/oops_null.ko"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def elf():
    return ElfFile(HELLO.read_bytes())


def parse_html(html):
    """Our HTML is XHTML-shaped: it parses as XML once wrapped in one element."""
    return ET.fromstring(f"<div>{html}</div>")


def svg_of(html):
    match = re.search(r"<svg\b.*?</svg>", html, re.S)
    assert match, "no SVG in the HTML"
    return ET.fromstring(match.group(0))


def texts(svg):
    return [t.text for t in svg.iter(f"{SVG}text") if t.text]


# ------------------------------------------------------------------ ELF views

def test_header_view(elf):
    v = views.show_header(elf)
    assert str(v) == describe.file_header(elf).rstrip("\n")
    root = parse_html(v._repr_html_())
    cells = [td.text for td in root.iter("td")]
    assert "ELF64" in cells and "REL (Relocatable file)" in cells
    assert "Advanced Micro Devices X86-64" in cells


def test_sections_view(elf):
    v = views.show_sections(elf)
    assert str(v) == describe.section_headers(elf).strip("\n")
    root = parse_html(v._repr_html_())
    rows = [[td.text for td in tr.iter("td")] for tr in root.iter("tr")][1:]
    assert len(rows) == len(elf.sections)
    init = next(r for r in rows if r[1] == ".init.text")
    sec = elf.section_by_name(".init.text")
    assert init[5] == f"{sec.sh_size:06x}" and init[7] == "AX"
    # coloured by kind: text and init differ from data
    html = v._repr_html_()
    assert views.KIND_COLOURS["init"] in html and views.KIND_COLOURS["text"] in html


def test_symbols_view(elf):
    v = views.show_symbols(elf)
    assert str(v) == describe.symbol_tables(elf).strip("\n")
    rows = [[td.text for td in tr.iter("td")] for tr in parse_html(v._repr_html_()).iter("tr")][1:]
    assert len(rows) == len(elf.symbols)
    init = next(r for r in rows if r[7] == "hello_debug_init")
    assert init[3:5] == ["FUNC", "LOCAL"]
    printk = next(r for r in rows if r[7] == "_printk")
    assert printk[6] == "UND" and printk[4] == "GLOBAL"


def test_relocations_view(elf):
    v = views.show_relocations(elf)
    assert str(v) == describe.relocations(elf).strip("\n")
    root = parse_html(v._repr_html_())
    captions = [c.text for c in root.iter("caption")]
    assert any(c.startswith("Relocation section '.rela.init.text' (patches .init.text)")
               for c in captions)
    cells = [td.text for td in root.iter("td")]
    assert "R_X86_64_PLT32" in cells and "_printk - 4" in cells
    assert ".rodata.str1.1 + 17" in cells


# ------------------------------------------------------------------ memory map

@pytest.fixture(scope="module")
def loaded():
    k = Kernel()
    assert k.insmod(str(HELLO)).rc == 0
    return k


def test_memory_map(loaded):
    k = loaded
    mod = k.modules[0]
    v = views.memory_map(k, "hello_debug")
    html = v._repr_html_()
    svg = svg_of(html)
    sections = [(name, addr, size) for _, name, addr, size, _ in mod.linked.placed_sections() if size]
    boxes = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "section"]
    assert len(boxes) == len(sections)
    labels = texts(svg)
    for name, addr, size in sections:
        assert name in labels
        assert f"{addr:#x} ({size} B)" in labels
    # heights grow with size
    heights = {b.find(f"{SVG}text").text: float(b.find(f"{SVG}rect").get("height")) for b in boxes}
    small, big = min(sections, key=lambda s: s[2]), max(sections, key=lambda s: s[2])
    assert heights[big[0]] > heights[small[0]]
    # colours by kind
    text_box = next(b for b in boxes if b.find(f"{SVG}text").text == ".exit.text")
    assert text_box.find(f"{SVG}rect").get("fill") == views.KIND_COLOURS["text"]
    # the machine's regions, with labels and permissions
    cells = [td.text for td in parse_html(html).iter("td")]
    assert "hello_debug core text" in cells and "r-x" in cells
    assert "kernel stack of the current task" in cells
    assert "hello_debug core text" in str(v) and ".exit.text" in str(v)


def test_memory_map_of_an_unknown_module(loaded):
    with pytest.raises(KeyError):
        views.memory_map(loaded, "nosuch")


@pytest.fixture(scope="module")
def steps():
    st = stepper_for(HELLO)
    return st, list(st)


def _step(steps, symbol, section=".init.text"):
    return next(s for s in steps if s.symbol == symbol and s.target_name == section)


def test_relocation_arrow_to_a_kernel_export(steps):
    st, all_steps = steps
    step = _step(all_steps, "_printk")
    v = views.relocation_arrow(step)
    svg = svg_of(v._repr_html_())
    arrows = [p for p in svg.iter(f"{SVG}path") if p.get("class") == "arrow"]
    assert len(arrows) == 1 and arrows[0].get("marker-end")
    external = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "external"]
    assert len(external) == 1
    printk = st.kernel.profile.exports["_printk"].addr
    assert f"{printk:#x}" in texts(svg)
    assert v.arrow.place == step.P and v.arrow.target == printk
    assert (f"field at {step.P:#x} (.init.text+{step.r_offset:#x}) --R_X86_64_PLT32--> "
            f"{printk:#x}") in str(v)


def test_relocation_arrow_inside_the_module(steps):
    st, all_steps = steps
    step = _step(all_steps, ".rodata.str1.1")
    v = views.relocation_arrow(step)
    svg = svg_of(v._repr_html_())
    assert not [g for g in svg.iter(f"{SVG}g") if g.get("class") == "external"]
    strings = next(addr for _, name, addr, _, _ in st.lm.placed_sections()
                   if name == ".rodata.str1.1")
    assert v.arrow.target == strings + step.A
    assert [p for p in svg.iter(f"{SVG}path") if p.get("class") == "arrow"]


def test_relocation_step_view(steps):
    _, all_steps = steps
    step = _step(all_steps, "_printk")
    v = views.relocation_step(step)
    html = v._repr_html_()
    assert step.headline() in html and "<svg" in html
    svg_of(html)
    assert str(v).startswith(step.text()) and "--R_X86_64_PLT32-->" in str(v)


# ------------------------------------------------------------------ execution, dmesg

def test_execution_step_view():
    k = Kernel()
    dbg = Debugger(k)
    dbg.break_at("hello_debug_init")
    first = dbg.start_insmod(HELLO)
    stop = dbg.step()
    v = views.execution_step(stop)
    html = v._repr_html_()
    root = parse_html(html)
    cells = [td.text for td in root.iter("td")]
    assert "rip" in cells and f"{first.pc:#x}" in cells and f"{stop.pc:#x}" in cells
    assert "hello_debug_init+0x5" in html
    assert str(v).startswith("step at hello_debug_init+0x5 [hello_debug]")
    assert "changed: rip" in str(v)
    dbg.cont()


def test_small_views():
    regs = views.registers_view({"rax": 5, "rip": 0x1000, "eflags": 0x246}, {"rax": (0, 5)},
                                64, "f+0x1")
    assert "[ PF ZF IF ]" in str(regs) and "was 0x0" in str(regs)
    parse_html(regs._repr_html_())
    dump = views.hexdump_view(0x1000, b"hello, world\x00\x01\x02\x03", "buf", 64)
    assert "68 65 6c 6c 6f 2c 20 77  6f 72 6c 64 00 01 02 03" in str(dump)
    assert "|hello, world....|" in str(dump)
    parse_html(dump._repr_html_())


def test_dmesg_levels_are_coloured():
    k = Kernel()
    k.insmod(str(OOPS_NULL))
    v = views.dmesg(k)
    assert str(v) == k.dmesg().rstrip("\n")
    root = parse_html(v._repr_html_())
    spans = list(root.iter("span"))
    assert len(spans) == len(k.log)
    bug = next(s for s in spans if "BUG: kernel NULL pointer dereference" in s.text)
    assert bug.get("title") in ("emerg", "alert", "crit", "err")
    assert "color:#" in bug.get("style")
    info = next(s for s in spans if "writing through a NULL pointer" in s.text)
    assert info.get("title") == "info" and info.get("style") == ""
