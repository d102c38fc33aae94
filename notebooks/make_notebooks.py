"""Writes the notebooks from the cells below (python notebooks/make_notebooks.py).

Keeping the source here, as plain Python, makes the notebooks easy to review and to diff; the
.ipynb files are committed so they open directly in Jupyter, and tests/test_notebooks.py runs
each one top to bottom.
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
        ("code", """# the key facts, checked (the test suite runs this notebook)
assert elf.header.e_type == 1 and elf.header.e_machine == 3
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
        ("code", """from emulator.kernel import Kernel
k = Kernel("hobby-i386")
k.insmod(SAMPLES / "hobby/hello.o"); k.rmmod("hello")
print(k.console_text())
assert call.value & 0xFFFFFFFF == by_hand and call.type_name == "R_386_PC32"
first_abs = next(s for s in steps if s.type_name == "R_386_32")
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
        ("code", """assert lm.layout.core_size == 20480 and lm.image.core_addr == 0xffffffffc0201000
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
print(busy.rc, k.dmesg().splitlines()[-2:])
assert r.rc == 0 and bad.rc == -2 and ok1.rc == ok2.rc == 0 and busy.rc == -11
assert "params: int=5" in k.dmesg() and "exporter: unloaded after" in k.dmesg()
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
        ("code", """assert r.signal == 9 and "oops_null 28672 1 - Loading" in k.proc_modules()
assert "BUG: kernel NULL pointer dereference, address: 0000000000000000" in k.dmesg()
assert "RIP: 0010:oops_null_init+0x1f/" in k.dmesg()
assert stop.reason == "fault" and "oops_null_init+0x1f" in trail[-1]
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
print("ok")"""),
    ],
}


def build():
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook()
        nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src)
                    for kind, src in cells]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    build()
