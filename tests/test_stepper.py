"""The relocation stepper: same end state as the fast path, numbers worked out by hand,
undo, run_to, disassembly, refusals, and ``kmodsim relocs``.

The hand-worked values follow the psABI formulas: S is the symbol's value (a section's
address plus the symbol's offset, or the kernel export's address from the profile), A the
addend (RELA: in the record; REL: the field's old contents), P the place's address (the
target section's address plus ``r_offset``). Nothing here is a fixed address: every number
is computed from the layout the test reads back.
"""

import re
import struct

import modpatch
import pytest
from conftest import SAMPLES

from emulator.cli import main as kmodsim
from linker.elf.reader import ElfFile
from linker.errors import KmodError
from linker.load import LinkKernel, link_module
from linker.load.hobby import hobby_kernel, link_hobby
from linker.load.stepper import RelocationStepper, stepper_for
from linker.profiles import load_profile
from linker.reloc import arch_for
from linker.reloc.apply import RelocationError

AMD64 = "linux-6.1.0-56-amd64"
HOBBY = "hobby-i386"
EXPORTER = SAMPLES / "linux/exporter/exporter.ko"
HELLO_DEBUG = SAMPLES / "linux/hello_debug/hello_debug.ko"
HOBBY_HELLO = SAMPLES / "hobby/hello.o"
M32, M64 = (1 << 32) - 1, (1 << 64) - 1

LINUX_SAMPLES = sorted(SAMPLES.glob("linux/*/*.ko"))
HOBBY_SAMPLES = sorted(SAMPLES.glob("hobby/*.o"))


def deps(path):
    """The modules a sample needs loaded first: importer uses exporter's symbols."""
    return (EXPORTER,) if path.name == "importer.ko" else ()


def export_addr(profile, name):
    return load_profile(profile).exports[name].addr


def section_index(lm, name):
    return next(s.index for s in lm.elf.sections if s.name == name)


def symbol(lm, name):
    return next(s for s in lm.elf.symbols if s.name == name)


def rel_entry(path, rel_section, index):
    """``(r_offset, r_sym, r_type, addend)`` straight from the file."""
    return modpatch.relocation(path.read_bytes(), rel_section, index)


def step_to(st, rel_section, entry):
    """Step until the given relocation has been applied; return its step."""
    for step in st:
        if (step.rel_section, step.entry) == (rel_section, entry):
            return step
    raise AssertionError(f"{rel_section} [{entry}] never applied")


# =============================================================== (a) end state == fast path

@pytest.mark.parametrize("path", LINUX_SAMPLES, ids=lambda p: p.name)
def test_end_state_is_the_fast_paths(path, tmp_path, capsys):
    k = LinkKernel(load_profile(AMD64))
    for dep in deps(path):
        link_module(dep.read_bytes(), k, register=True)
    fast = link_module(path.read_bytes(), k)

    st = stepper_for(path, with_=deps(path))
    assert len(st) == sum(fast.relocations.values()) > 0
    image = st.finish()
    assert st.done and st.error is None and st.position == len(st)
    assert bytes(image.core) == bytes(fast.image.core)
    assert bytes(image.init) == bytes(fast.image.init)
    assert st.lm.relocations == fast.relocations
    assert st.lm.exports == fast.exports

    # and byte for byte what `kmodsim link --dump` writes
    dump = tmp_path / "dump"
    with_ = ["--with", *map(str, deps(path))] if deps(path) else []
    assert kmodsim(["link", str(path), "--dump", str(dump), *with_]) == 0
    capsys.readouterr()
    placed = st.lm.placed_sections()
    assert sorted(f.name for f in dump.iterdir()) == sorted(f"{i}.bin" for i, *_ in placed)
    for index, *_ in placed:
        assert (dump / f"{index}.bin").read_bytes() == st.lm.section_bytes(index), index


@pytest.mark.parametrize("path", HOBBY_SAMPLES, ids=lambda p: p.name)
def test_hobby_end_state_is_link_hobbys(path):
    try:
        fast = link_hobby(path.read_bytes(), hobby_kernel(), path.stem)
    except KmodError as exc:
        # refused before any relocation (common.o: a COMMON symbol): the stepper too
        with pytest.raises(KmodError) as caught:
            stepper_for(path, profile=HOBBY)
        assert caught.value.message == exc.message
        return
    st = stepper_for(path, profile=HOBBY)
    image = st.finish()
    assert bytes(image.core) == bytes(fast.image.core)
    assert st.lm.steps == fast.steps
    assert (st.lm.init_addr, st.lm.exit_addr) == (fast.init_addr, fast.exit_addr)
    assert st.lm.relocations == fast.relocations


def test_order_is_relocation_sections_then_entries():
    st = stepper_for(HELLO_DEBUG)
    order = [(s.rel_section, s.entry) for s in st.run_to_end()]
    expected = [(rel, j) for rel, _, n in st.plan() for j in range(n)]
    assert order == expected
    rel_indexes = [ElfFile(HELLO_DEBUG.read_bytes()).section_by_name(r).index
                   for r, _, _ in st.plan()]
    assert rel_indexes == sorted(rel_indexes)


# =============================================================== (b) numbers worked by hand

def test_hello_debug_fentry_plt32():
    """.rela.init.text [0]: ``call __fentry__`` at the start of the init function. The kernel
    NOPs this call later (ftrace), but apply_relocations still patches it."""
    st = stepper_for(HELLO_DEBUG)
    r_offset, _, r_type, addend = rel_entry(HELLO_DEBUG, ".rela.init.text", 0)
    st.run_to(".init.text")
    step = st.step()
    assert (step.rel_section, step.entry, step.type_name) == (".rela.init.text", 0, "R_X86_64_PLT32")
    assert step.symbol == "__fentry__" and r_type == 4
    S = export_addr(AMD64, "__fentry__")
    A = addend
    P = st.lm.image.address_of(section_index(st.lm, ".init.text")) + r_offset
    assert A == -4                       # the field is 4 bytes before the next instruction
    assert (step.S, step.A, step.P) == (S, A, P)
    value = (S + A - P) & M64            # S + A - P
    assert step.value == value
    assert step.after == struct.pack("<I", value & M32)
    assert step.before == b"\0\0\0\0"
    # the call lands on __fentry__: P + 4 + rel32 == S
    assert (P + 4 + struct.unpack("<i", step.after)[0]) & M64 == S
    assert step.how == f"kernel export at {S:#018x}"


def test_hello_debug_32s_to_rodata_str():
    st = stepper_for(HELLO_DEBUG)
    r_offset, _, _, addend = rel_entry(HELLO_DEBUG, ".rela.init.text", 1)
    step = step_to(st, ".rela.init.text", 1)
    assert step.type_name == "R_X86_64_32S" and step.symbol == ".rodata.str1.1"
    S = st.lm.image.address_of(section_index(st.lm, ".rodata.str1.1"))  # a section symbol
    A = addend
    P = st.lm.image.address_of(section_index(st.lm, ".init.text")) + r_offset
    assert (step.S, step.A, step.P) == (S, A, P)
    assert step.value == S + A           # S + A
    assert step.after == struct.pack("<I", (S + A) & M32)
    # 32S: the CPU sign-extends the field back to the full address
    assert struct.unpack("<i", step.after)[0] & M64 == S + A
    assert st.lm.image.read_cstring(S + A) == "hello_debug: loaded\n"
    assert step.how.startswith("section symbol: module section .rodata.str1.1")


def test_hello_debug_this_module_init_pointer():
    """``struct module``'s ``init`` (R_X86_64_64 in .gnu.linkonce.this_module) = the address
    of the init function."""
    st = stepper_for(HELLO_DEBUG)
    init_off = load_profile(AMD64).descriptor.fields["init"].offset
    entries = [rel_entry(HELLO_DEBUG, ".rela.gnu.linkonce.this_module", j) for j in range(2)]
    j = next(j for j, e in enumerate(entries) if e[0] == init_off)
    step = step_to(st, ".rela.gnu.linkonce.this_module", j)
    assert step.type_name == "R_X86_64_64" and step.symbol == "init_module"
    sym = symbol(st.lm, "init_module")
    S = st.lm.image.address_of(sym.shndx) + sym.st_value
    A = entries[j][3]
    P = st.lm.image.address_of(section_index(st.lm, ".gnu.linkonce.this_module")) + init_off
    assert (step.S, step.A, step.P) == (S, A, P) and A == 0
    assert step.after == struct.pack("<Q", S + A)        # S + A, all 8 bytes
    assert S == st.lm.image.address_of(section_index(st.lm, ".init.text"))
    assert step.how == f"module section .init.text + {sym.st_value:#x} = {S:#018x}"
    kind, before, after = step.code
    assert kind == "data" and after == f"pointer {S:#018x} <hello_debug_init>"


def test_hobby_pc32_to_monitor_write():
    st = stepper_for(HOBBY_HELLO, profile=HOBBY)
    entries = [rel_entry(HOBBY_HELLO, ".rel.text", j) for j in range(4)]
    j = next(j for j, e in enumerate(entries) if e[2] == 2)           # R_386_PC32
    step = step_to(st, ".rel.text", j)
    assert step.type_name == "R_386_PC32" and step.symbol == "monitor_write"
    S = export_addr(HOBBY, "monitor_write")
    assert S == 0x00101000                                             # the profile says so
    P = st.lm.image.address_of(section_index(st.lm, ".text")) + entries[j][0]
    A = -4                    # REL: the field holds the addend, fc ff ff ff
    assert step.before == struct.pack("<i", A) and not step.explicit
    assert (step.S, step.A, step.P) == (S, A, P)
    assert step.after == struct.pack("<I", (S + A - P) & M32)          # S + A - P
    assert step.how == "kernel export at 0x00101000"


def test_hobby_32_to_its_string():
    st = stepper_for(HOBBY_HELLO, profile=HOBBY)
    r_offset, _, r_type, _ = rel_entry(HOBBY_HELLO, ".rel.text", 0)
    step = st.step()
    assert (step.rel_section, step.entry, step.type_name) == (".rel.text", 0, "R_386_32")
    S = st.lm.image.address_of(section_index(st.lm, ".rodata.str1.1"))
    A = struct.unpack("<i", step.before)[0]                            # REL: from the field
    P = st.lm.image.address_of(section_index(st.lm, ".text")) + r_offset
    assert (step.S, step.A, step.P) == (S, A, P)
    assert step.after == struct.pack("<I", S + A)                      # S + A
    # hello_exit comes first in .text: its string
    assert st.lm.image.read_cstring(S + A) == "Goodbye from hello.ko.\n"


# =============================================================== (c) back() and run_to()

def test_back_restores_the_bytes():
    st = stepper_for(HELLO_DEBUG)
    pristine = (bytes(st.image.core), bytes(st.image.init))
    first = st.step()
    second = st.step()
    assert (bytes(st.image.core), bytes(st.image.init)) != pristine
    assert st.back() is second and st.current is first and st.position == 1
    assert st.back() is first and st.current is None and st.position == 0
    assert (bytes(st.image.core), bytes(st.image.init)) == pristine
    assert st.back() is None
    again = st.step()
    assert (again.P, again.after) == (first.P, first.after)


def test_back_after_every_step_of_a_module():
    st = stepper_for(EXPORTER)
    pristine = (bytes(st.image.core), bytes(st.image.init))
    st.run_to_end()
    while st.back() is not None:
        pass
    assert (bytes(st.image.core), bytes(st.image.init)) == pristine


def test_run_to_stops_before_the_first_relocation_into_the_section():
    st = stepper_for(EXPORTER)
    assert st.run_to(".text") == []                     # .rela.text comes first
    assert st.upcoming.target_name == ".text" and st.upcoming.entry == 0
    assert st.step().target_name == ".text"

    st = stepper_for(EXPORTER)
    before = [(r, n) for r, t, n in st.plan()[:[t for _, t, _ in st.plan()].index(".init.text")]]
    taken = st.run_to(".init.text")
    assert len(taken) == sum(n for _, n in before) > 0
    assert all(s.target_name != ".init.text" for s in taken)
    up = st.upcoming
    assert (up.rel_section, up.entry, up.target_name) == (".rela.init.text", 0, ".init.text")
    step = st.step()
    assert (step.rel_section, step.entry, step.target_name) == (".rela.init.text", 0, ".init.text")
    # already there: nothing moves; no .text relocation left: an error, nothing applied
    st.back()
    assert st.run_to(".init.text") == []
    with pytest.raises(ValueError, match="no relocation left patches .text"):
        st.run_to(".text")
    assert st.upcoming.rel_section == ".rela.init.text"


# =============================================================== (d) disassembly

def test_disassembly_names_the_called_export():
    st = stepper_for(HELLO_DEBUG)
    printk = export_addr(AMD64, "_printk")
    step = next(s for s in st if s.symbol == "_printk")
    kind, before, after = step.code
    assert kind == "code"
    assert after.mnemonic == "call" and after.addr == step.P - 1
    assert after.text().endswith(f"call {printk:#x} <_printk>")
    # before: rel32 = 0, so the call goes to the next instruction, inside the init function
    assert before.raw == b"\xe8\0\0\0\0"
    assert before.text().endswith(f"call {step.P + 4:#x} <hello_debug_init+{step.r_offset + 4:#x}>")
    assert f"call {printk:#x} <_printk>" in step.text()


def test_disassembly_names_another_modules_export_and_a_string():
    st = stepper_for(SAMPLES / "linux/importer/importer.ko", with_=(EXPORTER,))
    steps = st.run_to_end()
    call = next(s for s in steps if s.symbol == "kmodsim_add" and s.target_name == ".init.text")
    assert call.how.startswith("export of module exporter at ")
    assert call.code[2].text().endswith(f"call {call.S:#x} <kmodsim_add>")
    mov = next(s for s in steps if s.type_name == "R_X86_64_32S" and s.target_name == ".init.text")
    assert mov.code[2].note == f"  # {mov.value:#x} <{mov.symbol}{'' if not mov.A else f'+{mov.A:#x}'}>"


def test_disassembly_i386():
    st = stepper_for(HOBBY_HELLO, profile=HOBBY)
    step = next(s for s in st if s.symbol == "monitor_write")
    _, before, after = step.code
    assert before.raw == b"\xe8\xfc\xff\xff\xff"
    assert after.text(8).endswith("call 0x101000 <monitor_write>")


# =============================================================== refusals

LINUX_REFUSALS = {
    # (recipe on hello_debug, the relocation that is refused)
    "nonzero_place": ([("poke", ".init.text", 1, b"\x01")], ".rela.init.text", 0),
    "overflow_32s": ([("set_reloc_type", ".rela.init.text", 5, 11),
                      ("set_reloc_addend", ".rela.init.text", 5, -0x80000000)], ".rela.init.text", 5),
    "unknown_type": ([("set_reloc_type", ".rela.init.text", 0, 9)], ".rela.init.text", 0),
    "rel_section": ([("set_section_type", ".rela.exit.text", modpatch.SHT_REL)], ".rela.exit.text", 0),
}


@pytest.mark.parametrize("case", sorted(LINUX_REFUSALS))
def test_refusal_stops_with_the_kernels_lines(case):
    recipe, rel, entry = LINUX_REFUSALS[case]
    data = modpatch.apply_recipe(HELLO_DEBUG.read_bytes(), recipe)
    k = LinkKernel(load_profile(AMD64))
    with pytest.raises(KmodError) as caught:
        link_module(data, k)
    st = stepper_for(data)
    steps = st.run_to_end()
    last = steps[-1]
    assert (last.rel_section, last.entry) == (rel, entry)
    assert st.done and st.error == last.error and st.step() is None and st.upcoming is None
    assert list(last.error) == caught.value.lines
    assert [r.text for r in st.kernel.log] == [r.text for r in k.log]
    assert all(s.error is None for s in steps[:-1])
    assert f"refused  {last.error[0]}" in last.text()
    with pytest.raises(RelocationError):
        st.finish()


def test_back_after_an_overflow_undoes_the_write():
    recipe, _, _ = LINUX_REFUSALS["overflow_32s"]
    st = stepper_for(modpatch.apply_recipe(HELLO_DEBUG.read_bytes(), recipe))
    st.run_to(".init.text")
    for _ in range(5):
        st.step()
    clean = bytes(st.image.init)
    last = st.step()
    # the kernel writes the truncated value before it checks the range
    assert last.error[0].startswith("module: overflow in relocation type 11")
    assert last.after != last.before and bytes(st.image.init) != clean
    assert st.back() is last and st.error is None
    assert bytes(st.image.init) == clean


def test_hobby_refusal():
    """A type the hobby kernel does not handle: its own message, before the section starts."""
    data = modpatch.apply_recipe(HOBBY_HELLO.read_bytes(), [("set_reloc_type", ".rel.text", 1, 4)])
    st = stepper_for(data, profile=HOBBY, name="hello")
    steps = st.run_to_end()
    assert len(steps) == 1 and steps[0].error
    assert "relocation type 4 (R_386_PLT32) is not one the hobby kernel handles" in steps[0].error[0]
    with pytest.raises(KmodError) as caught:
        link_hobby(data, hobby_kernel(), "hello")
    assert steps[0].error == (caught.value.message,)


def test_needs_an_unrelocated_module():
    k = LinkKernel(load_profile(AMD64))
    lm = link_module(HELLO_DEBUG.read_bytes(), k)
    with pytest.raises(ValueError):
        RelocationStepper(lm, arch_for(k.profile), k)


# =============================================================== rendering

def test_step_text_and_html():
    st = stepper_for(HELLO_DEBUG)
    step = next(s for s in st if s.symbol == "_printk")
    text = step.text()
    S, P = step.S, step.P
    assert text.splitlines()[0] == (f"relocation {step.number + 1} of {len(st)}: .rela.init.text "
                                    f"[{step.entry}]  R_X86_64_PLT32")
    assert f"formula  S + A - P = {S:#018x} + -0x4 - {P:#018x} = -{-(S - 4 - P):#x}" in text
    assert f"writes   4 bytes: {step.written:#010x}" in text
    assert f"bytes    00 00 00 00  ->  {step.after.hex(' ')}" in text
    assert "addend   A = -0x4, explicit (RELA)" in text
    page = step._repr_html_()
    assert page.startswith("<table") and page.endswith("</table>")
    assert "<mark>S + A - P = " in page
    assert page.count("background:") == 8          # four bytes changed, before and after
    assert "&lt;_printk&gt;" in page
    assert "<table" in st._repr_html_()


# =============================================================== (e) the command

def test_cli_table(capsys):
    assert kmodsim(["relocs", str(HELLO_DEBUG)]) == 0
    out = capsys.readouterr().out
    st = stepper_for(HELLO_DEBUG)
    steps = st.run_to_end()
    assert out.startswith(f"hello_debug (x86_64, profile {AMD64}): {len(st)} relocations in "
                          f"{len(st.plan())} sections")
    call = next(s for s in steps if s.symbol == "_printk")
    line = next(x for x in out.splitlines() if "_printk" in x)
    assert line.split() == [f".init.text+{call.r_offset:#x}", "R_X86_64_PLT32", "_printk",
                            f"{call.S:#018x}", "-0x4", f"{call.P:#018x}", f"{call.written:#010x}"]
    assert len([x for x in out.splitlines() if re.match(r"  \S+\+0x[0-9a-f]+ ", x)]) == len(st)
    assert out.rstrip().splitlines()[-1].startswith(f"  {len(st)} relocations applied: ")


def test_cli_step_hobby(capsys):
    assert kmodsim(["relocs", "--step", str(HOBBY_HELLO), "--profile", HOBBY]) == 0
    out = capsys.readouterr().out
    assert out.count("\nrelocation ") == 6
    assert "relocation 2 of 6: .rel.text [1]  R_386_PC32" in out
    assert "  symbol   monitor_write: kernel export at 0x00101000" in out
    assert "call 0x101000 <monitor_write>" in out
    assert "  addend   A = -0x4, read from the field (REL)" in out


def test_cli_section_and_limit(capsys):
    assert kmodsim(["relocs", str(EXPORTER), "--section", ".init.text", "--limit", "2"]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("  .")]
    assert len(lines) == 2 and all(x.startswith("  .init.text+") for x in lines)
    assert kmodsim(["relocs", str(EXPORTER), "--section", ".nope"]) == 1
    assert "no relocation of" in capsys.readouterr().err


def test_cli_errors(tmp_path, capsys):
    bad = tmp_path / "hd_32s.ko"
    bad.write_bytes(modpatch.apply_recipe(HELLO_DEBUG.read_bytes(), LINUX_REFUSALS["overflow_32s"][0]))
    assert kmodsim(["relocs", str(bad)]) == 1
    out, err = capsys.readouterr()
    assert "refused: module: overflow in relocation type 11" in out
    assert "<err> module: overflow in relocation type 11" in err
    assert err.rstrip().endswith("load refused: ENOEXEC (Exec format error)")

    importer = SAMPLES / "linux/importer/importer.ko"
    assert kmodsim(["relocs", str(importer)]) == 1          # exporter not loaded
    err = capsys.readouterr().err
    assert "Unknown symbol kmodsim_add" in err and "ENOENT" in err

    assert kmodsim(["relocs", str(tmp_path / "missing.ko")]) == 1
    assert "No such file or directory" in capsys.readouterr().err
    assert kmodsim(["relocs", str(HOBBY_HELLO), "--profile", HOBBY, "--with", str(HOBBY_HELLO)]) == 1
    assert "--with does not apply" in capsys.readouterr().err


class _Tty:
    """A terminal end: isatty() True, lines to read, what was written."""

    def __init__(self, lines=()):
        self.lines, self.out = list(lines), []

    def isatty(self):
        return True

    def readline(self):
        return self.lines.pop(0) if self.lines else ""

    def write(self, text):
        self.out.append(text)

    def flush(self):
        pass


def test_relocs_step_pauses_on_a_terminal_and_q_stops():
    """kmodsim relocs --step waits after each relocation on a terminal: Enter goes on, q
    (or the end of the input) stops; never on a pipe, nor with --no-pause (issue 19)."""
    import argparse

    from emulator.cli.relocs import _pauser
    args = argparse.Namespace(step=True, no_pause=False)
    tty_in, tty_out = _Tty(["\n", "q\n"]), _Tty()
    pause = _pauser(args, tty_in, tty_out)
    assert pause() is True and pause() is False
    assert tty_out.out[0] == "-- Enter: next relocation, q: quit -- "
    assert _pauser(args, _Tty(), _Tty())() is False          # end of input
    piped = _Tty()
    piped.isatty = lambda: False
    assert _pauser(args, piped, _Tty()) is None
    assert _pauser(argparse.Namespace(step=True, no_pause=True), _Tty(), _Tty()) is None
    assert _pauser(argparse.Namespace(step=False, no_pause=False), _Tty(), _Tty()) is None


def test_relocs_step_through_a_pipe_shows_every_relocation():
    from conftest import SAMPLES, run_cli
    r = run_cli("relocs", "--step", str(SAMPLES / "hobby/hello.o"))
    assert r.returncode == 0 and b"-- Enter" not in r.stdout
    assert r.stdout.count(b"R_386_") >= 6
