"""emulator/kernelcode.py and its generator linker/profiles/kernelcode.py: the reference
kernel's own code for its pure library functions, run in the emulated CPU.

libcalls.ko (sort, bsearch, rbtree, bitmap, kstrtoint/kstrtoull with bad input, sscanf,
list_sort, crc32, then bench=20 checksums) was recorded on the real kernel
(tests/realkernel/libcalls.sh), and two oopses, one in the kernel's code and one in a
callback it calls (libcalls_oops*.sh); kmodsim must reproduce them line for line, running
the kernel's code for those functions. Skipped when the profile ships no kernel code.
"""

import struct
from pathlib import Path

import pytest
from conftest import SAMPLES
from test_scenarios import REAL, fidelity, run

from emulator import kernelcode
from emulator.kernel import Kernel
from linker.profiles import kernelcode as generator
from linker.profiles import load_profile

LIBCALLS = SAMPLES / "linux" / "libcalls" / "libcalls.ko"
VMLINUZ = Path.home() / ".cache/realkernel/6.1.0-56-amd64/boot/vmlinuz-6.1.0-56-amd64"

PROFILE = load_profile()
CODE = kernelcode.load(PROFILE)
needs_code = pytest.mark.skipif(CODE is None, reason="the profile ships no kernel code "
                                "(python -m linker.profiles.kernelcode makes it)")


@needs_code
def test_libcalls_matches_the_real_kernel_line_for_line():
    sim = run(REAL / "libcalls.sh", [LIBCALLS])
    matched, total = fidelity((REAL / "libcalls.real.txt").read_text(), sim)
    assert (matched, total) == (total, total) and total >= 35


@needs_code
def test_library_calls_run_the_kernels_own_code_with_the_boundary_in_python():
    with Kernel() as k:
        assert k.insmod(LIBCALLS).rc == 0
        inst = k.kernel_code
        for name in ("sort", "sort_r", "rb_insert_color", "rb_first", "rb_next", "rb_erase",
                     "__bitmap_weight", "sscanf", "vsscanf", "list_sort", "crc32_le", "bsearch"):
            assert inst.runs(k.export_addr(name)), name
        # kernel code stays out of the hook only where it runs; a Python function stays in
        for name in ("kfree", "_printk", "__kmalloc", "kstrtoint"):
            assert not inst.runs(k.export_addr(name)), name
        # only what was called left the hook (and what it reaches)
        assert 10 < len(inst.active) < 100
        assert len(inst.hooks) == len(inst.islands) + 1


@needs_code
def test_a_kernel_that_calls_no_library_code_keeps_one_text_hook():
    with Kernel() as k:
        assert k.insmod(SAMPLES / "linux" / "hello_debug" / "hello_debug.ko").rc == 0
        assert len(k.kernel_code.hooks) == 1 and not k.kernel_code.active


@needs_code
def test_a_function_with_a_python_handler_keeps_it():
    has = kernelcode.has_python(PROFILE)
    runnable = CODE.runnable(has)
    for name in ("kstrtoint", "kstrtoull"):      # pure, but kmodsim implements them
        assert name in CODE.functions and CODE.functions[name].addr not in runnable
    assert CODE.functions["sort"].addr in runnable
    # a function whose boundary is not implemented does not run
    assert CODE.runnable(lambda n: n != "__stack_chk_fail" and has(n)).isdisjoint(
        {f.addr for f in CODE.functions.values() if "__stack_chk_fail" in f.boundary})


@needs_code
def test_every_boundary_function_has_a_python_handler():
    has = kernelcode.has_python(PROFILE)
    assert sorted(n for n in generator.BOUNDARY if not has(n)) == []


@needs_code
def test_shipped_code_is_patched_as_the_booted_kernel_patches_it():
    fentry = PROFILE.kallsyms().address("__fentry__")
    ret_thunk = PROFILE.kallsyms().address("__x86_return_thunk")
    code = {addr: data for kind, addr, data in CODE.spans if kind == "code"}
    for f in {f.addr: f for f in CODE.functions.values()}.values():
        base = max(a for a in code if a <= f.addr)
        body = code[base][f.addr - base:f.addr - base + f.size]
        if body[0] == 0xE8:      # no call __fentry__ left at an entry
            assert f.addr + 5 + struct.unpack_from("<i", body, 1)[0] != fentry, f.name
    sort = CODE.functions["sort"]
    base = max(a for a in code if a <= sort.addr)
    body = code[base][sort.addr - base:sort.addr - base + sort.size]
    for at in range(len(body) - 5):   # its return is a ret, not a jmp to the return thunk
        if body[at] == 0xE9:
            assert sort.addr + at + 5 + struct.unpack_from("<i", body, at + 1)[0] != ret_thunk


def test_indirect_thunk_sites_become_indirect_calls():
    assert generator._indirect("call", "rax", 5) == b"\xff\xd0\x90\x90\x90"
    assert generator._indirect("call", "r14", 6) == b"\x41\xff\xd6\x90\x90\x90"
    assert generator._indirect("jmp", "r11", 6) == b"\x41\xff\xe3\x90\x90\x90"


def test_the_side_file_round_trips():
    manifest = {"functions": [], "spans": [{"kind": "code", "addr": "0x10", "size": 3}],
                "source": {"vmlinux_sha256": "ab"}}
    back, payload = generator.deserialize(generator.serialize(manifest, b"abc"))
    assert back == manifest and payload == b"abc"
    with pytest.raises(ValueError):
        generator.deserialize(__import__("lzma").compress(b"not ours"))


@needs_code
def test_the_side_file_says_where_it_came_from():
    assert len(CODE.source["vmlinux_sha256"]) == 64
    assert CODE.source["package"].startswith("linux-image-6.1.0-56-amd64")


@pytest.mark.skipif(not VMLINUZ.is_file() or CODE is None, reason="no Debian vmlinuz cached")
def test_the_committed_side_file_is_what_the_generator_makes():
    assert generator.main(["--vmlinuz", str(VMLINUZ), "--check"]) == 0


def test_no_side_file_means_one_hook_and_python_only(monkeypatch):
    monkeypatch.setattr(kernelcode, "load", lambda profile: None)
    with Kernel() as k:
        assert k.kernel_code is None
        r = k.insmod(LIBCALLS)
        assert r.rc != 0 or "after sort: -120" not in k.dmesg()


@needs_code
@pytest.mark.parametrize("scenario", [
    # rb_first() of a bad root faults in the kernel's own code: RIP rb_first+0x0/0x20, the
    # Code: line from its real bytes, the call trace through libcalls_init
    "libcalls_oops",
    # sort() with a cmp that faults: the call trace unwinds from the module through sort_r
    # and sort (the shipped ORC entries) back to the module and the syscall
    "libcalls_oops2"])
def test_an_oops_in_or_under_the_kernels_code_matches_the_real_kernel(scenario):
    sim = run(REAL / f"{scenario}.sh", [LIBCALLS])
    matched, total = fidelity((REAL / f"{scenario}.real.txt").read_text(), sim)
    assert (matched, total) == (total, total) and total >= 100
