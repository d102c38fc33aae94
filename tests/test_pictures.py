"""Every picture of emulator.views rendered to an SVG file: its size, and a few of the
labelled elements a student looks at, read back from the module and the kernel. And the
players (emulator.players) that step through them."""

import xml.etree.ElementTree as ET

import pytest
from conftest import SAMPLES

from emulator import players, views
from emulator.debugger import Debugger
from emulator.kernel import Kernel
from linker.load.stepper import stepper_for

SVG = "{http://www.w3.org/2000/svg}"
HELLO = SAMPLES / "linux/hello_debug/hello_debug.ko"
CLAB = SAMPLES / "linux/chardev_lab/chardev_lab.ko"


def saved(view, path, least=2000):
    """Write the view's picture to ``path``; the parsed SVG root."""
    pic = views.picture(view)
    assert pic._repr_svg_() == view.svg() and repr(pic) == view.text()
    out = pic.save(path)
    assert out.stat().st_size >= least
    root = ET.parse(out).getroot()
    assert root.tag == f"{SVG}svg" and float(root.get("width")) > 0
    return root


def groups(root, cls):
    return [g for g in root.iter(f"{SVG}g") if cls in (g.get("class") or "").split()]


def texts(node):
    return [t.text for t in node.iter(f"{SVG}text") if t.text]


# ------------------------------------------------------------------ memory

def test_layout_map_of_a_linux_module(tmp_path):
    lm = stepper_for(HELLO).lm
    root = saved(views.layout_map(lm), tmp_path / "layout.svg")
    allocations = {texts(g)[0] for g in groups(root, "allocation")}
    assert allocations == {"core", "init"}
    guards = groups(root, "guard")
    core_end = lm.image.core_addr + lm.layout.core_size
    init_end = lm.image.init_addr + lm.layout.init_size
    assert [texts(g)[0] for g in guards] == [f"{core_end:#x} unmapped guard page (4 KiB)",
                                             f"{init_end:#x} unmapped guard page (4 KiB)"]
    regions = [texts(g) for g in groups(root, "region")]
    assert ["r-x core text", f"{lm.image.core_addr:#x}", "read-only, executable"] in regions
    assert any(r[0] == "rw- core ro after init" and r[2] == "writable until init returns"
               for r in regions)
    sections = {texts(g)[0] for g in groups(root, "section")}
    assert {".init.text", ".exit.text", "__jump_table", ".rodata.str1.1"} <= sections


def test_layout_map_of_a_hobby_module_has_no_guard_pages(tmp_path):
    lm = stepper_for(SAMPLES / "hobby/counter.o", profile="hobby-i386").lm
    root = saved(views.layout_map(lm), tmp_path / "hobby.svg")
    assert not groups(root, "guard")
    assert {texts(g)[0] for g in groups(root, "allocation")} == {"core"}


def test_memory_map_while_init_runs(tmp_path):
    k = Kernel()
    dbg = Debugger(k)
    dbg.break_at("hello_debug_init")
    dbg.start_insmod(HELLO)
    view = views.memory_map(k, "hello_debug")
    root = saved(view, tmp_path / "running.svg")
    labels = [texts(g)[0] for g in groups(root, "region")]
    assert "r-x init text" in labels and "r-x core text" in labels
    for _, gap in view.gaps:
        assert k.machine.region_of(gap.start) is None
        assert k.machine.region_of(gap.start - 1) is not None
    assert len(view.gaps) == 2
    dbg.cont()
    after = saved(views.memory_map(k, "hello_debug"), tmp_path / "after.svg")
    labels = [texts(g)[0] for g in groups(after, "region")]
    assert "r-x init text (freed)" in labels and "r-x core text" in labels


# ------------------------------------------------------------------ relocations

@pytest.fixture(scope="module")
def hello_steps():
    st = stepper_for(HELLO)
    return st, list(st)


def test_relocation_arrow_with_the_bytes_before_and_after(tmp_path, hello_steps):
    _, steps = hello_steps
    step = next(s for s in steps if s.symbol == "_printk" and s.target_name == ".init.text")
    root = saved(views.relocation_arrow(step), tmp_path / "arrow.svg")
    rel = groups(root, "relocation")[0]
    shown = texts(rel)
    assert "R_X86_64_PLT32" in shown
    assert f"before {step.before.hex(' ')}" in shown and f"after  {step.after.hex(' ')}" in shown
    assert step.before != step.after
    assert [p for p in rel.iter(f"{SVG}path") if p.get("class") == "arrow"]
    assert "_printk" in texts(groups(root, "external")[0])


def test_relocation_arrow_inside_the_module(tmp_path, hello_steps):
    _, steps = hello_steps
    step = next(s for s in steps if s.type_name == "R_X86_64_32S")
    root = saved(views.relocation_arrow(step), tmp_path / "inside.svg")
    assert not groups(root, "external")
    assert "R_X86_64_32S" in texts(groups(root, "relocation")[0])


def test_relocation_player_moves_the_stepper():
    player = players.RelocationPlayer(stepper_for(HELLO))
    assert player.position == 0 and isinstance(player.view(), views.Picture)
    player.goto(6)
    six = player.stepper.current
    assert player.position == 6 and six.number == 5
    player.back()
    assert player.position == 5
    player.step()
    assert player.stepper.current.after == six.after          # undone, then done again
    player.run_to(".init.text")
    assert player.stepper.current.target_name == ".init.text"
    targets = dict(player.targets())
    assert targets[".init.text (.rela.init.text, 7)"] == player.position
    assert player.picture() is not None
    player.goto(len(player))
    assert player.stepper.done


# ------------------------------------------------------------------ execution

@pytest.fixture(scope="module")
def recording():
    k = Kernel()
    dbg = Debugger(k)
    dbg.break_at("hello_debug_init")
    dbg.break_at("_printk")
    rec = players.record(dbg, dbg.start_insmod(HELLO))
    return rec


def test_cpu_view_at_a_kernel_call(tmp_path, recording):
    n = next(i for i, s in enumerate(recording) if "_printk" in s.headline)
    inside = recording[n]
    root = saved(inside, tmp_path / "cpu.svg")
    headings = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "heading"]
    assert headings == ["code", "call stack (innermost first)", "registers", "stack memory"]
    marked = {r.get("class") for r in root.iter(f"{SVG}rect")}
    assert {"current", "changed", "new"} <= marked
    shown = texts(root)
    assert f"rsp+0x00 {recording[n + 1].pc:#018x} <hello_debug_init+0x26>" in shown
    assert any(t.startswith("rsp    ") and "was" in t for t in shown)
    assert "#0 _printk" in shown


def test_step_player_over_a_recording(recording):
    player = players.StepPlayer(recording)
    assert len(player) == len(recording) == 11
    player.run_to("_printk")
    assert "_printk" in player.snapshot().headline
    player.step()
    assert player.snapshot().headline.startswith("step at hello_debug_init+0x26")
    player.back()
    player.goto(99)
    assert player.position == len(recording) - 1 and player.snapshot().reason == "returned"
    labels = [label for label, _ in player.targets()]
    assert labels[0].startswith("0: breakpoint") and any("_printk" in lab for lab in labels)
    assert isinstance(player.view(), views.Picture)


def test_players_as_widgets(recording):
    pytest.importorskip("ipywidgets")
    box = players.StepPlayer(recording).widget()
    controls = box.children[0].children
    back, step, slider, run_to = controls
    step.click()
    assert slider.value == 1
    run_to.value = next(pos for label, pos in run_to.options if "_printk" in label)
    assert "_printk" in recording[slider.value].headline
    back.click()
    assert slider.value == run_to.options[2][1] - 1
    rbox = players.RelocationPlayer(stepper_for(HELLO)).widget()
    rslider = rbox.children[0].children[2]
    assert rslider.max == len(stepper_for(HELLO))


def test_players_say_what_to_install_without_ipywidgets(monkeypatch, recording):
    import builtins
    real = builtins.__import__

    def no_widgets(name, *args, **kwargs):
        if name == "ipywidgets":
            raise ImportError("no ipywidgets")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_widgets)
    assert not players.have_widgets()
    with pytest.raises(ImportError, match=r"pip install -e '\.\[notebooks\]'"):
        players.StepPlayer(recording).widget()


# ------------------------------------------------------------------ an oops

def test_oops_view_on_the_source(tmp_path):
    k = Kernel()
    k.insmod(SAMPLES / "linux/oops_null/oops_null.ko")
    view = views.oops_view(k)
    root = saved(view, tmp_path / "oops.svg")
    faulted = [t for t, mark in view.source_lines if mark == "fault"]
    assert faulted == ["  21 >     *target = 0x6b6d6f64UL;"]
    assert view.source_name == "oops_null.c:21"
    assert any(t.startswith("=> oops_null_init+0x1f:") for t in texts(root))
    assert len([r for r in root.iter(f"{SVG}rect") if r.get("class") == "fault"]) == 2
    assert view.callers == ["do_one_initcall+0x59/0x220"]
    assert views.oops_view(Kernel()) is None


# ------------------------------------------------------------------ time and calls

def test_timeline_of_deferred_work(tmp_path):
    k = Kernel()
    rec = players.EventRecorder(k, ["deferred_init", "hrt_fn", "tasklet_fn", "work_fn",
                                    "dwork_fn"])
    t0 = rec.ms()
    assert k.insmod(SAMPLES / "linux/deferred/deferred.ko").rc == 0
    rec.span("insmod", t0, rec.ms(), "insmod deferred.ko", "module")
    rec.detach()
    assert k.debugger is None
    line = rec.timeline("deferred")
    root = saved(line, tmp_path / "timeline.svg")
    lanes = [texts(g)[0] for g in groups(root, "lane")]
    assert lanes[0] == "insmod" and "timer softirq" in lanes
    assert any(lane.startswith("kworker/") for lane in lanes)
    assert len(groups(root, "instant")) == len(rec.events) - 1 and len(groups(root, "span")) == 1
    hrt = [e.start for e in rec.events if e.label == "hrt_fn"]
    assert [round(b - a) for a, b in zip(hrt, hrt[1:])] == [50, 50]
    ticks = texts(groups(root, "axis")[0])
    assert ticks[0] == "0 ms" and all(t.endswith(" ms") for t in ticks)


def test_timeline_from_tuples():
    line = views.timeline([("a", 0.0, 1.0, "long", "work"), ("b", 0.5, None, "now", "timer")],
                          "t")
    assert line.lanes == ["a", "b"] and "0.500 s  b" in str(line)


def test_sequence_of_file_operations(tmp_path):
    k = Kernel()
    assert k.insmod(CLAB).rc == 0
    fops = {"clab_open": "open(2)", "clab_write": "write(2)", "clab_read": "read(2)",
            "clab_release": "close(2)"}
    calls = players.CallRecorder(k, list(fops) + ["_copy_from_user"], fops, module="clab")
    with k.open("/dev/chardev_lab") as f:
        assert f.write(b"abc") == 3
    calls.detach()
    seq = calls.sequence("calls")
    root = saved(seq, tmp_path / "sequence.svg")
    assert [texts(g)[0] for g in groups(root, "lifeline")] == ["user program", "kernel", "clab"]
    said = [texts(g)[0] for g in groups(root, "message")]
    assert said == ["open(2)", "clab_open", "clab_open returns 0", "open(2) returns",
                    "write(2)", "clab_write", "_copy_from_user", "returns 0",
                    "clab_write returns 3", "write(2) returns",
                    "close(2)", "clab_release", "clab_release returns 0", "close(2) returns"]
    assert len(groups(root, "return")) == 7



# ------------------------------------------------------------------ the HTML views, to files

def _html_views():
    from linker.elf.reader import ElfFile
    elf = ElfFile(HELLO.read_bytes())
    k = Kernel()
    dbg = Debugger(k)
    dbg.break_at("hello_debug_init")
    dbg.start_insmod(HELLO)
    dbg.step()
    made = {"header": (views.show_header(elf), "REL (Relocatable file)"),
            "sections": (views.show_sections(elf), ".init.text"),
            "symbols": (views.show_symbols(elf), "hello_debug_init"),
            "relocations": (views.show_relocations(elf), "R_X86_64_PLT32"),
            "registers": (dbg.registers(), "rip"),
            "disassembly": (dbg.disassemble(), "hello_debug_init+0x5"),
            "memory": (dbg.memory("hello_debug_init", 16), "bytes at"),
            "step": (views.execution_step(dbg.stop), "hello_debug_init+0x5"),
            "memory_map": (views.memory_map(k, "hello_debug"), "machine memory regions")}
    dbg.cont()
    made["dmesg"] = (views.dmesg(k), "hello_debug: pr_info is always on")
    return made


def test_every_html_view_to_a_file(tmp_path):
    for name, (view, label) in _html_views().items():
        path = tmp_path / f"{name}.html"
        path.write_text(view._repr_html_(), encoding="utf-8")
        html = path.read_text(encoding="utf-8")
        assert path.stat().st_size > 200, name
        assert label in html, name
        ET.fromstring(f"<div>{html}</div>")          # well-formed: it parses as XML
        assert str(view), name                         # and the same facts as text
