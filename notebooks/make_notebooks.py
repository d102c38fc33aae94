"""Writes the notebooks from the cells below and runs them (python notebooks/make_notebooks.py
[NAME...] [--no-execute]).

Keeping the source here, as plain Python, makes the notebooks easy to review and to diff; the
.ipynb files are committed *with their outputs* (pictures included, as SVG) so they read well
on GitHub and open directly in Jupyter, and tests/test_notebooks.py runs each one top to
bottom. A live widget's output is replaced by a note when written: only a running kernel can
draw it, and the cells after each player show the same views statically.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """import sys, pathlib
ROOT = pathlib.Path.cwd().parent if pathlib.Path.cwd().name == "notebooks" else pathlib.Path.cwd()
SAMPLES = ROOT / "samples"
"""

NOTEBOOKS = {
    "01_anatomy_of_a_relocatable_object.ipynb": [
        ("md", "# 01 · The anatomy of a relocatable object\n\n"
               "A kernel module is an ELF *relocatable* file (`ET_REL`): sections of code and data "
               "that do not know their final addresses yet, a symbol table naming what they define "
               "and what they need, and relocation entries saying which bytes to patch once those "
               "addresses are known. We read one with kmodsim's own ELF reader."),
        ("code", SETUP + """from linker.elf import ElfFile
elf = ElfFile.from_path(SAMPLES / "hobby/counter.o")
elf, elf.header.e_type, elf.header.e_machine   # ET_REL (1), EM_386 (3)"""),
        ("md", "## Sections\nEach section has a type, flags (A = allocated in memory, X = executable, "
               "W = writable) and, for a relocatable file, no address yet."),
        ("code", """from emulator.cli.readelf import render
print(render(elf, header=False, sections=True, relocs=False, symbols=False))"""),
        ("md", "The same table, one cell per field, each row coloured by the kind of memory the "
               "section will go to: orange code, blue read-only data, green writable data; "
               "white rows are not loaded at all (symbols, strings, relocations)."),
        ("code", """from emulator import views
views.show_sections(elf)"""),
        ("md", "## Symbols\nDefined symbols carry a section index and an offset inside it; "
               "`UND` ones must come from the kernel (`monitor_write`)."),
        ("code", """for s in elf.symbols[1:]:
    where = "UND" if s.is_undefined else elf.sections[s.shndx].name if s.shndx < len(elf.sections) else s.shndx
    print(f"{s.name or '(section)':20} {where!s:16} value={s.st_value:#06x} size={s.st_size}")"""),
        ("md", "## Relocations\nEach entry: patch `r_offset` in the target section, of a given type "
               "(`R_386_32`: the absolute address S + A; `R_386_PC32`: relative to the place, S + A - P). "
               "On i386 (REL) the addend A is stored in the bytes being patched."),
        ("code", """from linker.elf.describe import reloc_type_name
for rsec in elf.relocation_sections:
    for r in rsec.entries[:4]:
        print(rsec.name, hex(r.r_offset), reloc_type_name(elf.e_machine, r.type), elf.symbols[r.sym].name or elf.sections[elf.symbols[r.sym].shndx].name)"""),
        ("md", "## What a Linux module says about itself\n`.modinfo`, `__versions` (symbol CRCs), "
               "parameters and the module descriptor are all read without linking anything."),
        ("code", """from linker.module import ModuleInfo
m = ModuleInfo.from_path(SAMPLES / "linux/params/params.ko")
print(m.get("vermagic"))
print([ (p.name, p.type, oct(p.perm)) for p in m.params[:5] ])
print(m.descriptor.init, m.descriptor.exit)"""),
        ("md", "## Where the sections go\nA loader gives every allocated section (flag A) an "
               "address. Seed 004's hobby kernel packs them one after the other, code first, "
               "then read-only data, then writable data: the picture shows each section as a box "
               "whose height grows with its size, grouped by the memory it lands in. The "
               "non-allocated sections (`.symtab`, `.rel.text`...) are read by the loader and "
               "left behind."),
        ("code", """from linker.load.stepper import stepper_for
laid_out = stepper_for(SAMPLES / "hobby/counter.o", profile="hobby-i386").lm
layout = views.layout_map(laid_out)
views.picture(layout)"""),
        ("code", """# the key facts, checked (the test suite runs this notebook)
assert elf.header.e_type == 1 and elf.header.e_machine == 3
placed = {b.name: b.kind for g in layout.groups for b in g.boxes}
assert placed[".text"] == "text" and placed[".rodata"] == "rodata" and placed[".data"] == "data"
assert ".symtab" not in placed and "<svg" in layout.svg()
assert any(s.name == ".rel.text" for s in elf.sections)
assert {reloc_type_name(3, r.type) for rs in elf.relocation_sections for r in rs.entries} == {"R_386_32", "R_386_PC32"}
assert m.get("vermagic") == "6.1.0-56-amd64 SMP preempt mod_unload modversions "
assert len(m.params) == 16
print("ok")"""),
    ],
    "02_relocating_the_hobby_module.ipynb": [
        ("md", "# 02 · Relocating seed 004's hobby module, by hand and with the stepper\n\n"
               "The hobby kernel of seed 004 loads an ELF32 `.o` and patches two kinds of "
               "relocations: `R_386_32` (write S + A) and `R_386_PC32` (write S + A - P). Here we "
               "lay `hello.o` out, then work out its call to `monitor_write` by hand before letting "
               "the stepper do every relocation."),
        ("code", SETUP + """from linker.load.stepper import stepper_for
from emulator import views
st = stepper_for(SAMPLES / "hobby/hello.o", profile="hobby-i386")
lm = st.lm
for index, name, addr, size, region in lm.placed_sections():
    print(f"[{index}] {name:16} {addr:#010x} {size:#6x} {region}")"""),
        ("md", "## By hand: the call to `monitor_write`\nA `call rel32` holds the distance from the "
               "end of the instruction to the target. The relocation is `R_386_PC32` on the 4 bytes "
               "after the `e8` opcode, with the addend -4 stored in those bytes (REL): S + A - P."),
        ("code", """elf = lm.elf
text = next(s for s in elf.sections if s.name == ".text")
rel = next(r for rs in elf.relocation_sections for r in rs.entries
           if elf.symbols[r.sym].name == "monitor_write")
S = 0x00101000                                  # monitor_write in the hobby profile
A = int.from_bytes(text.data[rel.r_offset:rel.r_offset + 4], "little", signed=True)
P = lm.image.address_of(text.index) + rel.r_offset
by_hand = (S + A - P) & 0xFFFFFFFF
print(f"S = {S:#x}, A = {A}, P = {P:#x}  ->  S + A - P = {by_hand:#010x}")"""),
        ("md", "### Why `& 0xFFFFFFFF`?\nThe call goes *backwards*: `monitor_write` (0x101000) is "
               "below the module (0x400000), so S + A - P is a negative number. Python's integers "
               "have no size, so it prints as `-0x...`; the CPU's field has exactly 32 bits, and a "
               "negative distance is stored in two's complement: 2**32 minus its size. Masking "
               "with `0xFFFFFFFF` keeps the low 32 bits, which is exactly what the kernel's "
               "`*(u32 *)P = S + A - P` does in C. When the CPU runs `call`, it adds the field, "
               "read back as a *signed* 32-bit number, to the address of the next instruction."),
        ("code", """distance = S + A - P
print(distance, hex(distance), "->", hex(distance & 0xFFFFFFFF))
as_signed = int.from_bytes((distance & 0xFFFFFFFF).to_bytes(4, "little"), "little", signed=True)
print("read back signed:", as_signed, "  end of the call + distance =", hex(P + 4 + as_signed))"""),
        ("md", "## By hand: an absolute address, `R_386_32`\n`push imm32` of the string's "
               "address: S is where `.rodata.str1.1` was placed, A the offset stored in the field."),
        ("code", """abs_rel = next(r for rs in elf.relocation_sections for r in rs.entries if r.type == 1)
sym = elf.symbols[abs_rel.sym]
S32 = lm.image.address_of(sym.shndx) + sym.st_value
A32 = int.from_bytes(text.data[abs_rel.r_offset:abs_rel.r_offset + 4], "little", signed=True)
abs_by_hand = (S32 + A32) & 0xFFFFFFFF
print(f"{elf.sections[sym.shndx].name}: S = {S32:#x}, A = {A32}  ->  S + A = {abs_by_hand:#010x}")"""),
        ("md", "## With the stepper\nEach step shows the formula with the numbers filled in and the "
               "instruction before and after."),
        ("code", """steps = []
while (step := st.step()) is not None:
    steps.append(step)
print(steps[0].text())
call = next(s for s in steps if s.symbol == "monitor_write")
print(call.text())"""),
        ("md", "## The same relocation, drawn\nThe module's sections in address order; the red bar "
               "is the 4-byte field at P, the arrow goes to where the patched field points: for a "
               "`call`, the target it jumps to (here outside the module: a box for the kernel's "
               "`monitor_write`). Below the type: the field's bytes before and after."),
        ("code", """views.picture(views.relocation_arrow(call))"""),
        ("md", "An `R_386_32` field holds an absolute address: the arrow lands inside the module, "
               "on the string `push` gives `monitor_write`."),
        ("code", """first_abs = next(s for s in steps if s.type_name == "R_386_32")
views.picture(views.relocation_arrow(first_abs))"""),
        ("md", "## Every relocation, one at a time\nWith ipywidgets installed (`pip install -e "
               "'.[notebooks]'`) the player below has a slider over the relocations, *step* and "
               "*back* buttons (back undoes the patch: the stepper keeps the bytes it overwrote) "
               "and a *run to* list of the sections it patches. Without it (or on GitHub) the "
               "cell after it shows each step's picture in turn."),
        ("code", """from emulator.players import RelocationPlayer, have_widgets
player = RelocationPlayer(stepper_for(SAMPLES / "hobby/hello.o", profile="hobby-i386"))
player.widget() if have_widgets() else print("pip install ipywidgets for the interactive player")"""),
        ("code", """from IPython.display import display
for n in range(1, len(player) + 1):
    player.goto(n)
    print(player.stepper.current.headline())
    display(player.picture())
player.back(); print("after back:", player.stepper)"""),
        ("code", """from emulator.kernel import Kernel
k = Kernel("hobby-i386")
k.insmod(SAMPLES / "hobby/hello.o"); k.rmmod("hello")
print(k.console_text())
assert call.value & 0xFFFFFFFF == by_hand and call.type_name == "R_386_PC32"
assert views.relocation_arrow(call).arrow.target == S and P + 4 + as_signed == S
assert player.stepper.position == len(player) - 1
assert first_abs.value & 0xFFFFFFFF == abs_by_hand
assert {s.type_name for s in steps} == {"R_386_32", "R_386_PC32"}
assert k.console_text() == "Hello from hello.ko!\\nGoodbye from hello.ko.\\n"
print("ok")"""),
    ],
    "03_a_linux_module.ipynb": [
        ("md", "# 03 · A Linux `.ko`: layout, resolution, x86-64 relocations, versions\n\n"
               "Linux 6.1 lays a module out in two allocations (core and init), text then read-only "
               "data then data, page-aligned between groups; resolves undefined symbols against the "
               "kernel's exports (checking each CRC against `__versions`); and applies `PC32`, "
               "`PLT32`, `32S` and `64` relocations."),
        ("code", SETUP + """from linker.load import LinkKernel, link_module
from linker.profiles import load_profile
k = LinkKernel(load_profile())
data = (SAMPLES / "linux/hello_debug/hello_debug.ko").read_bytes()
lm = link_module(data, k)
print(f"core {lm.layout.core_size} bytes at {lm.image.core_addr:#x}, init {lm.layout.init_size} at {lm.image.init_addr:#x}")
for index, name, addr, size, region in lm.placed_sections():
    print(f"[{index:2}] {name:28} {addr:#018x} {size:#6x} {region}")"""),
        ("md", "## The layout, drawn\nTwo allocations, each its own stretch of the module area "
               "(vmalloc): **core** stays while the module is loaded, **init** (`.init.text`, "
               "`.init.data`) is freed once init returns. Inside each, code (`r-x`) comes first, "
               "then read-only data (`r--`), then `ro_after_init` (writable until init returns, "
               "read-only after) and writable data (`rw-`), each group starting on a page of its "
               "own so it can get its own permissions. After each allocation comes a page that "
               "nothing maps, the *guard page*: run off the end of the module and you fault "
               "instead of corrupting your neighbour."),
        ("code", """from emulator import views
layout = views.layout_map(lm)
views.picture(layout)"""),
        ("code", """for name, r in sorted(lm.symbols.resolved.items()):
    print(f"{name:22} {r.value:#018x}  from {r.how}, CRC {r.crc:#010x}" if r.crc is not None else name)
print(lm.relocations)"""),
        ("md", "## When versions do not match\nChange one character of the vermagic and the kernel "
               "refuses the module with `version magic '...' should be '...'` and ENOEXEC."),
        ("code", """from linker.errors import KmodError
bad = data.replace(b"vermagic=6.1.0-56-amd64 SMP", b"vermagic=6.1.0-56-amd64 XMP")
k2 = LinkKernel(load_profile())
try:
    link_module(bad, k2)
except KmodError as exc:
    err = exc
print(err.errno, [r.text for r in k2.log][-1])"""),
        ("md", "## When a symbol's version does not match\n`__versions` records the CRC of every "
               "symbol the module was built against. Flip the one for `_printk` and the kernel "
               "says the module `disagrees about version of symbol _printk`, then refuses the "
               "symbol with EINVAL."),
        ("code", """crc = lm.symbols.resolved["_printk"].crc
record = crc.to_bytes(8, "little") + b"_printk\\0"
bad_crc = data.replace(record, (crc ^ 1).to_bytes(8, "little") + b"_printk\\0")
k3 = LinkKernel(load_profile())
try:
    link_module(bad_crc, k3)
except KmodError as exc:
    crc_err = exc
print(crc_err.errno, [r.text for r in k3.log][-2:])"""),
        ("md", "## In the machine, while init runs\nThe loader's layout becomes memory the CPU "
               "enforces. Stop the module at the first instruction of its init (a breakpoint, see "
               "notebook 04) and look: the machine's regions are labelled and carry the "
               "permissions above; the core and init allocations are both there, with the guard "
               "pages between and after them unmapped."),
        ("code", """from emulator.kernel import Kernel
from emulator.debugger import Debugger
kernel = Kernel()
dbg = Debugger(kernel)
dbg.break_at("hello_debug_init")
stop = dbg.start_insmod(SAMPLES / "linux/hello_debug/hello_debug.ko")
running = views.memory_map(kernel, "hello_debug")
views.picture(running)"""),
        ("code", """regions = [r for r in kernel.machine.regions if r.label.startswith("hello_debug ")]
for r in regions:
    print(r.describe())
guards = [g for _, g in running.gaps]
print("guard pages:", [f"{g.start:#x}" for g in guards], "mapped there?", [kernel.machine.region_of(g.start) for g in guards])
finished = dbg.cont()      # init runs to its end: its pages are freed
left = [r.label for r in kernel.machine.regions if r.label.startswith("hello_debug init")]
print(f"init returned {finished.result.rc}; init regions still mapped: {left}")"""),
        ("md", "## Relocations, stepped\n36 relocations make this module runnable. The player steps "
               "through them in the kernel's order (one relocation section after another); *run "
               "to* jumps to the first one that patches a section. Each step shows the formula with "
               "its numbers, the instruction before and after, and the arrow from P to where the "
               "field now points."),
        ("code", """from emulator.players import RelocationPlayer, have_widgets
from linker.load.stepper import stepper_for
player = RelocationPlayer(stepper_for(SAMPLES / "linux/hello_debug/hello_debug.ko"))
player.widget() if have_widgets() else print("pip install ipywidgets for the interactive player")"""),
        ("md", "Run to `.init.text`, the first relocation there: `__fentry__`'s `call`, a "
               "`PLT32` (a place-relative 32-bit distance, like notebook 02's `PC32`)."),
        ("code", """player.run_to(".init.text")
print(player.stepper.current.text())
player.picture()"""),
        ("md", "A `R_X86_64_32S` field: `mov rdi, imm32` loads a string's address, sign-extended "
               "from 32 bits. Modules live in the top 2 GiB of the address space, where every "
               "address is a sign-extended 32-bit number: that is why x86-64 modules are built "
               "with `-mcmodel=kernel`."),
        ("code", """from IPython.display import display
player.step()
while player.stepper.current.type_name != "R_X86_64_32S":
    player.step()
print(player.stepper.current.text())
display(player.picture())"""),
        ("code", """assert lm.layout.core_size == 20480 and lm.image.core_addr == 0xffffffffc0201000
assert {g.label for _, g in running.gaps} == {"unmapped guard page (4 KiB)"}
assert all(kernel.machine.region_of(g.start) is None for g in guards) and len(guards) == 2
assert any(r.label == "hello_debug init text" for r in regions) and finished.result.rc == 0 and not left
assert player.stepper.current.type_name == "R_X86_64_32S" and player.stepper.current.target_name == ".init.text"
assert set(lm.relocations) >= {"R_X86_64_PC32", "R_X86_64_PLT32", "R_X86_64_32S", "R_X86_64_64"}
assert lm.symbols.resolved["_printk"].value == 0xffffffff81a07e3d
assert err.errno == 8 and "should be" in k2.log[-1].text
assert record in data and crc_err.errno == 22
assert "hello_debug: disagrees about version of symbol _printk" in [r.text for r in k3.log]
print("ok")"""),
    ],
    "04_running_init_and_exit.ipynb": [
        ("md", "# 04 · Running init and exit\n\nkmodsim boots a simulated Debian 6.1 kernel, loads a "
               "module the way `load_module` does, and runs its init in an emulated x86-64 CPU. The "
               "kernel API the module calls (printk, kmalloc, ...) is written in Python."),
        ("code", SETUP + """from emulator.kernel import Kernel
k = Kernel()
r = k.insmod(SAMPLES / "linux/params/params.ko", "p_int=5 p_charp=hello")
r"""),
        ("code", """print(k.dmesg())"""),
        ("code", """print(k.proc_modules())"""),
        ("md", "## Two modules sharing a symbol\n`importer` needs `kmodsim_add`, which `exporter` exports; "
               "loaded in the wrong order it fails with `Unknown symbol`, in the right order it works and "
               "`exporter` is held."),
        ("code", """bad = k.insmod(SAMPLES / "linux/importer/importer.ko")
ok1 = k.insmod(SAMPLES / "linux/exporter/exporter.ko")
ok2 = k.insmod(SAMPLES / "linux/importer/importer.ko")
print(bad.rc, ok1.rc, ok2.rc)
print(k.proc_modules())"""),
        ("code", """busy = k.rmmod("exporter")          # in use: EWOULDBLOCK
k.rmmod("importer"); k.rmmod("exporter"); k.rmmod("params")
first_log = k.dmesg()
print(busy.rc, first_log.splitlines()[-2:])"""),
        ("md", "## Init, one instruction at a time\n`hello_debug`'s init is a dozen "
               "instructions: a `pr_debug`, a `pr_info` and `return 0`. A debugger stops at its first "
               "instruction; each `step()` runs one more. Kernel functions are Python in "
               "kmodsim, so stepping over `call _printk` would run all of it as one step; a "
               "breakpoint on `_printk` stops *inside* the call instead, so we see it entered "
               "(the `call` pushed the return address: `rsp` went down 8 and the new stack "
               "word points back into init) and returned (`rax` holds what `_printk` returned, "
               "`rsp` is back).\n\n`record` steps until init returns to the kernel and keeps "
               "a snapshot of the CPU at every stop."),
        ("code", """from emulator.debugger import Debugger
from emulator.players import StepPlayer, have_widgets, record
from emulator import views
k = Kernel()
dbg = Debugger(k)
dbg.break_at("hello_debug_init")
dbg.break_at("_printk")
first = dbg.start_insmod(SAMPLES / "linux/hello_debug/hello_debug.ko")
rec = record(dbg, first)
for n, snap in enumerate(rec):
    changed = ", ".join(f"{r} {old:#x}->{new:#x}" for r, (old, new) in snap.changed.items() if r != "rip")
    print(f"{n:2} {snap.headline:<70} {changed}")
print(rec.finished.result)"""),
        ("md", "Each picture is one stop: the code around the PC (`=>`), the call stack "
               "(innermost first), the registers (green: changed by the last step, with their "
               "old value) and the stack memory from `rsp` up (green: a word that changed). The "
               "player has a slider over the stops and *run to* the interesting ones."),
        ("code", """player = StepPlayer(rec)
player.widget() if have_widgets() else print("pip install ipywidgets for the interactive player")"""),
        ("md", "### The first instruction\nA 5-byte `nop`: the place ftrace would patch into "
               "`call __fentry__` to trace the function (the loader turned the compiler's call "
               "into this `nop`)."),
        ("code", """player.goto(0)"""),
        ("md", "### Arguments loaded\n`pr_debug` became a call to `__dynamic_pr_debug`: its "
               "arguments go in `rdi`, `rsi` (the x86-64 calling convention)."),
        ("code", """player.goto(4)"""),
        ("md", "### The kernel call entered\nThe `call _printk` pushed the address of the next "
               "instruction: `rsp` is 8 lower and the new word on the stack is "
               "`hello_debug_init+0x26`. The call stack shows `_printk` called from init, called "
               "from `do_one_initcall`."),
        ("code", """entered = next(n for n, snap in enumerate(rec) if "_printk" in snap.headline)
player.run_to("_printk")"""),
        ("md", "### ...and returned\nBack in init at `+0x26`, `rsp` back up, `rax` = what "
               "`_printk` returned."),
        ("code", """player.step()"""),
        ("md", "### Init returns\n`xor eax, eax` made the return value 0; `ret` goes back into "
               "`do_one_initcall`, the kernel function that called init."),
        ("code", """player.goto(len(player) - 1)"""),
        ("code", """assert r.rc == 0 and bad.rc == -2 and ok1.rc == ok2.rc == 0 and busy.rc == -11
assert "params: int=5" in first_log and "exporter: unloaded after" in first_log
before, inside, after = rec[entered - 1], rec[entered], rec[entered + 1]
assert inside.regs["rsp"] == before.regs["rsp"] - 8                  # the call pushed a word
assert inside.stack[0][1] == after.pc == before.pc + 5               # ...the return address
assert after.regs["rsp"] == before.regs["rsp"] and "rax" in after.changed
assert [f.where.split("+")[0] for f in inside.frames] == ["_printk", "hello_debug_init", "do_one_initcall"]
assert rec[-1].reason == "returned" and rec[-1].regs["rax"] == 0 and rec.finished.result.rc == 0
assert len(rec) == 11
print("ok")"""),
    ],
    "05_when_it_breaks.ipynb": [
        ("md", "# 05 · When it breaks: an oops, read line by line, then stepped into\n\n"
               "`oops_null.ko` writes through a NULL pointer in its init. The kernel prints an oops "
               "report, kills `insmod` (SIGKILL) and leaves the module `Loading`. kmodsim prints "
               "the report the real Debian kernel prints, in the same order."),
        ("code", SETUP + """from emulator.kernel import Kernel
k = Kernel()
r = k.insmod(SAMPLES / "linux/oops_null/oops_null.ko")
print(r)
print(k.dmesg())"""),
        ("md", "## Reading it\n* `BUG: kernel NULL pointer dereference, address: 0000000000000000` and the "
               "two `#PF:` lines: a *write* (`error_code(0x0002)`) to a page that is not present.\n"
               "* `RIP: 0010:oops_null_init+0x1f/...`: the faulting instruction, as a function and "
               "an offset into it (kallsyms), in module `oops_null`.\n"
               "* `Call Trace:` the kernel frames that called init (`do_one_initcall`, ...).\n"
               "* `Modules linked in: oops_null(OE+)`: `+` means still loading.\n\n"
               "kmodsim can also say it in terms of the module's own files:"),
        ("code", """from emulator.faults import explain_fault
print(explain_fault(k))
print(k.proc_modules())"""),
        ("md", "## The oops on the source\nThe same facts as a picture: the C line that faulted "
               "(red) in the module's own `oops_null.c` (found from the `.ko`'s DWARF line table "
               "and read from the module's directory), the instructions around RIP with the "
               "relocation behind each, and the kernel function that called init."),
        ("code", """from emulator import views
oops = views.oops_view(k)
views.picture(oops)"""),
        ("md", "## Stepping to the faulting instruction\nA debugger stops at the init function; each "
               "`step()` runs one instruction, until the store faults."),
        ("code", """from emulator.debugger import Debugger
k2 = Kernel()
dbg = Debugger(k2)
dbg.break_at("oops_null_init")
stop = dbg.start_insmod(SAMPLES / "linux/oops_null/oops_null.ko")
trail = [str(stop).splitlines()[0]]
while stop.reason != "fault":
    stop = dbg.step()
    trail.append(str(stop).splitlines()[0])
print("\\n".join(trail))
print(dbg.disassemble(n=3))"""),
        ("md", "At the fault the CPU has not moved past the store: `rax` holds the NULL pointer "
               "that `*target = ...` writes through (loaded from `.bss` two instructions before)."),
        ("code", """at_fault = views.cpu_view(dbg)
views.picture(at_fault)"""),
        ("code", """assert r.signal == 9 and "oops_null 28672 1 - Loading" in k.proc_modules()
assert "BUG: kernel NULL pointer dereference, address: 0000000000000000" in k.dmesg()
assert "RIP: 0010:oops_null_init+0x1f/" in k.dmesg()
assert stop.reason == "fault" and "oops_null_init+0x1f" in trail[-1]
assert oops.source_name == "oops_null.c:21" and "*target = 0x6b6d6f64UL;" in [t for t, m in oops.source_lines if m == "fault"][0]
assert at_fault.regs["rax"] == 0 and at_fault.reason == "fault"
print("ok")"""),
    ],
    "06_your_own_hobby_kernel.ipynb": [
        ("md", "# 06 · Describing your own hobby kernel, and debugging a module with it\n\n"
               "A *profile* tells kmodsim what kernel a module is loaded into: the ELF class and "
               "machine it accepts, the section holding the module descriptor, the symbols the "
               "kernel exports and which Python function implements each. A hobby-kernel "
               "developer writes one as JSON, based on a shipped profile, and binds exports to "
               "their own Python code; kmodsim itself is not edited."),
        ("code", SETUP + """import json, tempfile
work = pathlib.Path(tempfile.mkdtemp())
(work / "mykernel").mkdir()
(work / "mykernel" / "__init__.py").write_text("")
(work / "mykernel" / "console.py").write_text(
    "def monitor_write(k, m):\\n"
    "    # our kernel's console prefixes every write with the kernel's name\\n"
    "    text = m.read_cstring(m.arg(0)).decode()\\n"
    "    k.log.console_write(('[mykernel] ' + text).encode())\\n")
profile = {"base": "hobby-i386", "name": "mykernel",
           "description": "seed 004's kernel with its own console",
           "bindings": {"monitor_write": "mykernel.console:monitor_write"}}
(work / "mykernel.json").write_text(json.dumps(profile))
sys.path.insert(0, str(work))
from linker.profiles import load_profile
p = load_profile(str(work / "mykernel.json"))
p.name, p.descriptor.section, p.binding("monitor_write")"""),
        ("code", """from emulator.kernel import Kernel
k = Kernel(p)
k.insmod(SAMPLES / "hobby/hello.o"); k.rmmod("hello")
print(k.console_text())"""),
        ("md", "## Where your kernel puts the module\nThe profile's layout rules place the "
               "sections (here one after the other from 0x400000, as seed 004's kernel does), and "
               "each relocation points a field at its target: the `call monitor_write` now "
               "reaches *your* `monitor_write`, at the address the profile gives it."),
        ("code", """from linker.load.stepper import stepper_for
from emulator import views
mine = stepper_for(SAMPLES / "hobby/hello.o", profile=p)
call = next(s for s in mine if s.symbol == "monitor_write")
views.picture(views.relocation_arrow(call))"""),
        ("md", "## Stepping init in your kernel\nThe debugger works the same on a 32-bit "
               "hobby kernel. Stopped when `monitor_write` is entered: i386 passes arguments on "
               "the stack (cdecl), so the word at `esp` is the return address into `hello_init` "
               "and the word above it is the string's address, the `push` two steps before."),
        ("code", """from emulator.debugger import Debugger
from emulator.players import StepPlayer, record
k2 = Kernel(p)
dbg = Debugger(k2)
dbg.break_at("monitor_write")
rec = record(dbg, dbg.start_insmod(SAMPLES / "hobby/hello.o", stop_at_entry=True))
print("\\n".join(snap.headline for snap in rec))
print(k2.console_text())
hobby_player = StepPlayer(rec)
hobby_player.run_to("monitor_write")"""),
        ("md", "## A module that breaks the loader\n`common.o` was built with `-fcommon`: its "
               "`shared_counter` is a COMMON symbol, which has no section. A correct loader "
               "refuses it; seed 004's loader, which relocates in place, reads the section header "
               "at index 0xfff2, far past the end of the file. kmodsim says both."),
        ("code", """r = k.insmod(SAMPLES / "hobby/common.o")
print(r.rc, r.message)
from linker.load.hobby import hobby_report
report = hobby_report((SAMPLES / "hobby/common.o").read_bytes(), p, name="common")
print("\\n".join(report.lines()))"""),
        ("code", """assert k.console_text() == "[mykernel] Hello from hello.ko!\\n[mykernel] Goodbye from hello.ko.\\n"
assert r.rc == -8 and "COMMON" in r.message
assert any("COMMON" in line or "0xfff2" in line for line in report.lines())
assert call.S == p.exports["monitor_write"].addr and call.type_name == "R_386_PC32"
entered = hobby_player.snapshot()
assert entered.pc == p.exports["monitor_write"].addr and entered.stack[1][2] == ".rodata.str1.1+0x18"
assert entered.stack[0][1] == rec[hobby_player.position + 1].pc and rec.finished.result.rc == 0
assert k2.console_text() == "[mykernel] Hello from hello.ko!\\n"
print("ok")"""),
    ],
    "07_a_character_device_from_user_space.ipynb": [
        ("md", "# 07 · A character device, driven from user space\n\n"
               "`chardev_lab.ko` is an OS-course lab: a 64-byte buffer behind `/dev/chardev_lab`. "
               "Its init asks for a device number (major:minor), registers a `struct "
               "file_operations` for it and creates the `/dev` node. From then on a *user "
               "program's* system calls on that file end up in the module: `open(2)` calls "
               "`clab_open`, `write(2)` calls `clab_write`, and so on. kmodsim runs real static "
               "x86-64 programs as processes of the simulated kernel (`Kernel.run_program`), so "
               "we can watch it happen."),
        ("code", SETUP + r"""from emulator.kernel import Kernel
from emulator import views
NOTEBOOKS = ROOT / "notebooks"
assert hasattr(Kernel, "run_program") and hasattr(Kernel, "open"), "this notebook needs kmodsim's user programs and file layer"
k = Kernel()
r = k.insmod(SAMPLES / "linux/chardev_lab/chardev_lab.ko")
print(r)
print(k.dmesg().splitlines()[-1])
with k.open("/proc/devices", 0) as f:
    devices = f.read(4096).decode()
print([line for line in devices.splitlines() if "chardev_lab" in line or "clab" in line])
node = k.fs.stat("/dev/chardev_lab")
print(node)"""),
        ("md", "## From Python, as a process would\n`k.open` opens a file the way a process's "
               "`open(2)` does and gives back an object whose `read`, `write`, `seek` and "
               "`ioctl` are the system calls: each one runs the module's file operation in the "
               "CPU."),
        ("code", r"""with k.open("/dev/chardev_lab") as f:
    written = f.write(b"hello from Python")
    f.seek(0)
    back = f.read(64)
print(written, back)
print("\n".join(k.dmesg().splitlines()[-4:]))"""),
        ("md", "## A user program\nThe program a student writes to test the driver, in C "
               "(`notebooks/programs/clab_user.c`, built static with musl and committed next to "
               "it):"),
        ("code", r"""print((NOTEBOOKS / "programs/clab_user.c").read_text())"""),
        ("code", r"""run = k.run_program(NOTEBOOKS / "programs/clab_user")
print("exit status", run.status)
print(run.output.decode())"""),
        ("md", "## Who calls whom\nA debugger stops at each file operation of the module (and "
               "at the kernel's `_copy_from_user`/`_copy_to_user` they call), lets it run to its "
               "end and notes what it returned. Read the picture top to bottom: each system call "
               "of the program enters the kernel, which calls the module's operation; the module "
               "copies the bytes across the user/kernel boundary with the kernel's help and "
               "returns how many it moved."),
        ("code", r"""from emulator.players import CallRecorder
fops = {"clab_open": "open(2)", "clab_write": "write(2)", "clab_read": "read(2)",
        "clab_release": "close(2)"}
calls = CallRecorder(k, list(fops) + ["_copy_from_user", "_copy_to_user"], fops,
                     module="chardev_lab.ko", user="clab_user (user space)")
again = k.run_program(NOTEBOOKS / "programs/clab_user")
calls.detach()
diagram = calls.sequence("clab_user's system calls, through the kernel, into chardev_lab")
views.picture(diagram)"""),
        ("md", "## Stopped inside `clab_write`\nThe module's `write` is a C function "
               "`clab_write(struct file *file, const char __user *ubuf, size_t count, loff_t "
               "*ppos)`: its arguments arrive in `rdi`, `rsi`, `rdx`, `rcx`. `rsi` is a *user* "
               "address (low, `0x4...` or `0x7ff...`): the module must not read it directly, only "
               "through `copy_from_user`. The call stack shows who called it: the kernel's "
               "`vfs_write`, from the `write` system call."),
        ("code", r"""from emulator.debugger import Debugger
dbg = Debugger(k)
dbg.break_at("clab_write")
stop = dbg.start(k.run_program, NOTEBOOKS / "programs/clab_user")
inside = views.cpu_view(dbg)
user_buffer = dbg.memory(inside.regs["rsi"], inside.regs["rdx"])
print(user_buffer)
views.picture(inside)"""),
        ("code", r"""finished = dbg.cont()      # the program runs on to its end
dbg.detach()
print(finished.result.status, k.rmmod("chardev_lab"))"""),
        ("md", "## The same from the shell\nWhat a student types in the guest (`kmodsim shell "
               "chardev_lab.ko clab_user`, or a scenario file for `kmodsim script`): the module and "
               "the program are in `/mods`, the program runs as `./clab_user`."),
        ("code", r"""from emulator.cli.script import scenario_output
session = scenario_output(
    "insmod chardev_lab.ko\ngrep chardev /proc/devices\n./clab_user\necho status $?\nrmmod chardev_lab\n",
    {"chardev_lab.ko": (SAMPLES / "linux/chardev_lab/chardev_lab.ko").read_bytes(),
     "clab_user": (NOTEBOOKS / "programs/clab_user").read_bytes()})
print(session)"""),
        ("code", r"""major = next(int(line.split()[0]) for line in devices.splitlines() if line.endswith(" chardev_lab"))
assert r.rc == 0 and node.kind == "c" and node.rdev == (major, 0)
assert written == 17 and back == b"hello from Python"
assert run.status == 0 and 'read: 21 "hello from user space"' in run.output.decode()
assert "ioctl GETLEN: 0, length 21" in run.output.decode()
steps = [(a, b, label) for a, b, label, kind in diagram.messages if kind == "call"]
assert ("clab_user (user space)", "kernel", "write(2)") in steps and ("kernel", "chardev_lab.ko", "clab_write") in steps
assert ("chardev_lab.ko", "kernel", "clab_write returns 21", "return") in diagram.messages
assert [f.where.split("+")[0].split(" ")[0] for f in inside.frames][:2] == ["clab_write", "vfs_write"]
assert user_buffer.data == b"hello from user space" and inside.regs["rdx"] == 21
assert finished.result.status == 0 and "status 0" in session and "chardev_lab: unloaded" in session
print("ok")"""),
    ],
    "08_deferred_work_over_time.ipynb": [
        ("md", "# 08 · Deferred work, over simulated time\n\n"
               "A module's code does not only run when it is called: it can ask the kernel to run "
               "a function *later*. A **timer** (here an `hrtimer`) calls it from interrupt "
               "context when its time comes; a **tasklet** runs soon after, in a softirq; a "
               "**work item** runs in a kernel worker thread (`kworker`), in process context, "
               "where it may sleep; a **delayed work** item is a work item behind a timer; a "
               "**kthread** is a thread of the module's own that loops and sleeps.\n\n"
               "kmodsim's scheduler runs them on *simulated* time: the clock moves only when "
               "everything is asleep (a sleeping init, `k.sched.sleep`, the shell's `sleep`), "
               "event by event, so a run takes milliseconds of real time and is the same every "
               "time. A recorder notes each module function as it is entered, the simulated "
               "time, and who ran it."),
        ("code", SETUP + r"""from emulator.kernel import Kernel
from emulator.players import EventRecorder
from emulator import views
k = Kernel()
assert hasattr(k, "sched"), "this notebook needs kmodsim's scheduler (k.sched)"
rec = EventRecorder(k, ["deferred_init", "hrt_fn", "tasklet_fn", "work_fn", "dwork_fn",
                        "kthreads_fn", "msleep"])
t0 = rec.ms()
r = k.insmod(SAMPLES / "linux/deferred/deferred.ko")
rec.span("insmod", t0, rec.ms(), "insmod deferred.ko", "module")
print(r)
print("\n".join(line for line in k.dmesg().splitlines() if "deferred:" in line and "taint" not in line))"""),
        ("md", "`insmod` took 172 ms of simulated time: `deferred_init` queued a work item and "
               "waited for it (`flush_workqueue`), armed a delayed work 10 ms ahead, started a "
               "50 ms periodic `hrtimer`, then slept in `wait_for_completion_timeout` until the "
               "third tasklet completed it. While init slept, time moved, and the timers fired.\n\n"
               "Now a kthread that ticks every 100 ms, the module left alone for 0.45 s of "
               "simulated time, then both unloaded."),
        ("code", r"""t0 = rec.ms()
r2 = k.insmod(SAMPLES / "linux/kthreads/kthreads.ko", "period_ms=100")
rec.span("insmod", t0, rec.ms(), "insmod kthreads.ko", "module")
t0 = rec.ms()
k.sched.sleep(450_000_000)                      # nanoseconds
rec.span("notebook", t0, rec.ms(), "k.sched.sleep(0.45 s)", "sleep")
for name in ("kthreads", "deferred"):
    t0 = rec.ms()
    gone = k.rmmod(name)
    rec.span("rmmod", t0, rec.ms(), f"rmmod {name}", "module")
rec.detach()
print("\n".join(k.dmesg().splitlines()[-6:]))"""),
        ("md", "## The timeline\nOne lane per context: the `insmod`/`rmmod` processes, init "
               "itself, the kworker running the work items, the timer softirq (the hrtimer "
               "callback and the tasklet it schedules), the kthread. Diamonds are the moments a "
               "module function was entered; bars are what took a while. Read off it: the work "
               "item runs at once (init waits for it), the delayed work a little after the 10 ms it "
               "asked for (timer delays count in whole jiffies), the hrtimer every 50 ms exactly "
               "(a high-resolution timer) with its tasklet right behind, and the kthread's "
               "`msleep(100)` calls a little over 100 ms apart (whole jiffies again) until "
               "`rmmod` stops it."),
        ("code", r"""line = rec.timeline("deferred.ko and kthreads.ko over simulated time")
views.picture(line)"""),
        ("code", r"""print(line.text())"""),
        ("md", "## Which context, said by the module itself\n`deferred.ko` prints "
               "`in_hardirq()` from its hrtimer callback and `in_softirq()` from its tasklet: "
               "the timer callback runs in (simulated) hard interrupt context, the tasklet in a "
               "softirq, the work items in a kworker thread that can sleep (`mutex_lock`)."),
        ("code", r"""for line_ in k.dmesg().splitlines():
    if "hrtimer 1" in line_ or "tasklet 1" in line_ or "work 1" in line_:
        print(line_)"""),
        ("code", r"""hrt = [e.start for e in rec.events if e.label == "hrt_fn"]
tasklets = [e for e in rec.events if e.label == "tasklet_fn"]
init_at = next(e.start for e in rec.events if e.label == "deferred_init")
assert r.rc == 0 and r2.rc == 0 and gone.rc == 0
assert len(hrt) == 3 and all(abs((b - a) - 50) < 1 for a, b in zip(hrt, hrt[1:]))
assert abs(hrt[0] - init_at - 50) < 1 and all(e.lane == "timer softirq" for e in tasklets)
dwork = next(e for e in rec.events if e.label == "dwork_fn")
assert dwork.kind == "work" and dwork.lane.startswith("kworker") and 10 <= dwork.start - init_at < 30
ticks = [e.start for e in rec.events if e.label == "msleep (kthreads_fn)"]
assert len(ticks) >= 4 and all(95 < b - a < 120 for a, b in zip(ticks, ticks[1:]))
assert "in_hardirq=1" in k.dmesg() and "in_softirq=1" in k.dmesg()
assert "<svg" in line.svg() and len(line.lanes) >= 5
print("ok")"""),
    ],
}


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("(an interactive player: open this notebook in Jupyter with ipywidgets installed, "
               "pip install -e '.[notebooks]', and run it; the pictures below show the same steps)")


def execute(nb, path):
    """Run ``nb`` as the tests do (nbclient, from the notebooks folder), keeping every output:
    the committed notebooks then show their pictures on GitHub without a kernel."""
    import nbclient
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data:                  # a live widget: only a kernel can draw it
                del data[WIDGET_VIEW]
                data["text/plain"] = WIDGET_NOTE
        cell.get("metadata", {}).pop("execution", None)
    nb.metadata.pop("widgets", None)                 # the widgets' state: the kernel's, not ours


def build(names=None, run=True):
    for name, cells in NOTEBOOKS.items():
        if names and not any(n in name for n in names):
            continue
        nb = new_notebook()
        nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src)
                    for kind, src in cells]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        path = HERE / name
        if run:
            execute(nb, path)
        nbformat.write(nb, path)
        print("wrote", path.name)


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description="Write (and run) the notebooks.")
    parser.add_argument("names", nargs="*", help="only the notebooks whose file name holds one")
    parser.add_argument("--no-execute", action="store_true",
                        help="write the cells without running them (no outputs)")
    opts = parser.parse_args()
    build(opts.names, run=not opts.no_execute)
