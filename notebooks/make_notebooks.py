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
        ("code", """from emulator.cli_readelf import render
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
