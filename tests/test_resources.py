"""Kernels are cheap to make, keep and throw away; a run's memory is bounded; each entry into
module code gets the kernel's CPU state; a panicked kernel is dead for the Python API too.

Issue 10, parts 4 and 5: ``Kernel.close()`` and the context manager, Unicorn's translation
buffer sized for module code, module memory backed only where it is touched, the cap on
guest memory (``max_memory``, ``--max-memory``), 6.1's refusals of a huge module
allocation (tests/realkernel/bigbss), clean RFLAGS and segment state on every call.
"""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLES, run_cli
from test_scenarios import REAL, fidelity, run

from emulator.errors import KernelClosed, KernelPanic, MemoryLimitExceeded
from emulator.kernel import Kernel
from emulator.machine import PROT_EXEC, PROT_READ, PROT_WRITE, MemoryFault
from emulator.memmap import GS_BASE, STACK_CANARY, STACK_CANARY_OFFSET

HELLO = SAMPLES / "linux/hello_debug/hello_debug.ko"
BIGBSS = REAL / "bigbss"
BSS_100M = BIGBSS / "bss_100m.ko"
CODE = 0xFFFFFFFFC1000000          # a page of test code, in the module area, clear of modules
MIB = 1 << 20


def status():
    text = Path("/proc/self/status").read_text()
    return {k: int(re.search(rf"{k}:\s+(\d+)", text).group(1)) << 10 for k in ("VmSize", "VmRSS")}


def in_subprocess(code, timeout=120):
    """Run ``code`` in a fresh interpreter at the project root; its stdout."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


# --------------------------------------------------------------------------- close()

def test_a_kernel_takes_little_address_space_and_close_gives_it_back():
    """Unicorn's default translation buffer alone was 1 GiB of address space per kernel.
    (One kernel first: what a process maps once, whatever it runs, is not per kernel.)"""
    with Kernel() as warm:
        warm.insmod(str(HELLO))
    before = status()["VmSize"]
    k = Kernel()
    assert k.insmod(str(HELLO)).ok
    grown = status()["VmSize"] - before
    assert grown < 200 * MIB, grown
    k.close()
    assert status()["VmSize"] - before < grown - 32 * MIB


def test_close_is_idempotent_and_the_kernel_refuses_use_after_it():
    k = Kernel()
    assert k.insmod(str(HELLO)).ok
    k.close()
    k.close()
    assert k.closed
    for use in (lambda: k.insmod(str(HELLO)), lambda: k.rmmod("hello_debug"),
                lambda: k.init_module(HELLO.read_bytes()), lambda: k.delete_module("x"),
                lambda: k.call(CODE), lambda: k.machine.read(GS_BASE, 8),
                lambda: k.machine.write(GS_BASE, b"x")):
        with pytest.raises(KernelClosed):
            use()
    # what was printed stays readable; a timer firing after close stops nothing
    assert "hello_debug: pr_info is always on" in k.dmesg()
    assert k.proc_modules().startswith("hello_debug ")
    k.machine.stop("timeout")


def test_with_closes_the_kernel():
    with Kernel() as k:
        assert k.insmod(str(HELLO)).ok
    assert k.closed
    with pytest.raises(KernelClosed):
        k.rmmod("hello_debug")


def test_cli_commands_close_their_kernel(monkeypatch):
    made = []
    init = Kernel.__init__

    def track(self, *args, **kwargs):
        made.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(Kernel, "__init__", track)
    assert run_cli("run", str(HELLO), "--rmmod").returncode == 0
    assert run_cli("insmod", str(HELLO)).returncode == 0
    assert run_cli("lsmod", "--with", str(HELLO)).returncode == 0
    assert run_cli("rmmod", "--with", str(HELLO), "hello_debug").returncode == 0
    scenario = Path(__file__).parent / "realkernel/shell1.sh"
    assert run_cli("script", str(scenario), str(HELLO)).returncode == 0
    assert len(made) == 5 and all(k.closed for k in made)


def test_100_kernels_one_after_another_and_10_at_once_under_a_4_gib_address_space():
    """The issue's goals, in a process limited to 4 GiB of address space (RLIMIT_AS): the
    third kernel used to fail there with UC_ERR_NOMEM."""
    out = in_subprocess(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        from emulator.kernel import Kernel
        HELLO = {str(HELLO)!r}
        for i in range(100):
            with Kernel() as k:
                assert k.insmod(HELLO).ok and k.rmmod("hello_debug").ok
        alive = [Kernel() for i in range(10)]
        for k in alive:
            assert k.insmod(HELLO).ok
        peak = int(open("/proc/self/status").read().split("VmPeak:")[1].split()[0]) << 10
        for k in alive:
            k.close()
        print("ok", peak)
    """, timeout=300)
    word, peak = out.split()
    assert word == "ok" and int(peak) < 3 << 30


# --------------------------------------------------------------------------- lazy memory

def test_a_100_mib_bss_loads_without_backing_100_mib():
    """The real kernel loads bss_100m (bigbss.real.txt); kmodsim backs only the blocks init
    touches (its first and last byte), and unloading gives them back."""
    k = Kernel()
    base = k.machine.committed
    assert k.insmod(str(BSS_100M)).ok
    assert "bss_100m: 104857600 bytes of .bss, first and last byte: 1 2" in k.dmesg()
    loaded = k.machine.committed
    assert loaded - base < 8 * MIB           # the .bss's two blocks, the kernel code it ran
    assert k.proc_modules().startswith("bss_100m 104873984 0 - Live 0xffffffffc0201000 (OE)")
    area = k.module_area
    assert k.machine.backed_bytes(area.start, area.end) <= 2 * MIB
    assert k.rmmod("bss_100m").ok
    assert "bss_100m: unloaded, last byte 2" in k.dmesg()
    assert k.machine.backed_bytes(area.start, area.end) == 0
    assert k.machine.committed < loaded
    assert k.insmod(str(HELLO)).ok


def test_a_100_mib_bss_costs_no_100_mib_of_host_memory():
    out = in_subprocess(f"""
        from emulator.kernel import Kernel
        def hwm():
            return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) << 10
        k = Kernel()
        k.insmod({str(HELLO)!r})
        before = hwm()
        assert k.insmod({str(BSS_100M)!r}).ok
        print(hwm() - before)
    """)
    assert int(out) < 40 * MIB


def test_lazy_memory_reads_zeros_backs_on_write_and_keeps_permissions():
    k = Kernel()
    m = k.machine
    base = m.committed
    start, size = 0xFFFFFFFFD0000000, 64 * MIB
    m.map(start, size, PROT_READ | PROT_WRITE, "lazy test area")
    assert m.committed == base
    assert m.read(start + 5 * MIB, 16) == bytes(16)             # reads zeros, backs nothing
    m.write(start + 7 * MIB, bytes(3 * MIB))                     # zeros: nothing to back
    assert m.committed == base
    m.write(start + 9 * MIB - 2, b"abcd")                        # across two blocks
    assert m.read(start + 9 * MIB - 2, 4) == b"abcd"
    assert m.committed - base == 2 * MIB
    assert m.read(start + 9 * MIB - 8, 16) == bytes(6) + b"abcd" + bytes(6)
    with pytest.raises(MemoryFault):                             # past the end: unmapped
        m.read(start + size - 4, 8)
    with pytest.raises(MemoryFault):
        m.write(start + size - 4, b"12345678")
    m.protect(start, MIB * 9, PROT_READ, "lazy, read-only")
    assert [r.label for r in m.regions if start <= r.start < start + size] == \
        ["lazy, read-only", "lazy test area"]
    m.unmap(start, size)
    assert m.committed == base and m.region_of(start) is None
    with pytest.raises(MemoryFault):
        m.read(start, 1)


def test_lazy_memory_survives_bookkeeping_cut_short():
    """The budget's watchdog raises asynchronously, possibly between Unicorn's map and the
    record of it: Unicorn decides what is mapped, the bookkeeping follows."""
    k = Kernel()
    m = k.machine
    start = 0xFFFFFFFFD0000000
    m.map(start, 8 * MIB, PROT_READ | PROT_WRITE, "lazy")
    m.uc.mem_map(start + MIB, MIB, PROT_READ | PROT_WRITE)      # mapped, never recorded
    m.uc.mem_write(start + MIB + 5, b"x")
    m.write(start + MIB - 1, b"abc")                             # spans both blocks
    assert m.read(start + MIB - 1, 8) == b"abc\0\0\0x\0"
    m._back_range(start + 3 * MIB, start + 3 * MIB + 1)          # recorded ...
    m.uc.mem_unmap(start + 3 * MIB, MIB)                         # ... then unmapped
    assert m.read(start + 3 * MIB, 4) == bytes(4)
    run_code(k, "c60701c3", rdi=start + 3 * MIB + 7)              # mov byte [rdi], 1; ret
    assert m.stop_reason == "returned" and m.read(start + 3 * MIB + 7, 1) == b"\x01"
    m.unmap(start, 8 * MIB)
    assert m.region_of(start) is None and not m._mapped(start, start + 8 * MIB)
    m.map(start, 8 * MIB, PROT_READ | PROT_WRITE, "again")
    assert m.read(start + MIB + 5, 1) == b"\0"


def run_code(k, hexcode, **regs):
    """Put ``hexcode`` in a page of its own in the CODE area (Unicorn keeps code it
    translated: a new snippet goes to a new place) and call it; returns rax."""
    m = k.machine
    if m.region_of(CODE) is None:
        m.map(CODE, 0x100000, PROT_READ | PROT_EXEC, "test code")
        k.code_pages = 0
    addr = CODE + 0x1000 * k.code_pages
    k.code_pages += 1
    m.write(addr, bytes.fromhex(hexcode))
    return k.call(addr, tuple(regs.values()))


# touch one byte every MiB: rdi = address, rsi = count
TOUCH_EVERY_MIB = ("c60701"              # mov byte [rdi], 1
                   "4881c700001000"      # add rdi, 0x100000
                   "48ffce"              # dec rsi
                   "75f1"                # jnz (back 15 bytes)
                   "c3")


def test_module_code_touching_lazy_memory_backs_it_block_by_block():
    k = Kernel()
    m = k.machine
    start = 0xFFFFFFFFD0000000
    m.map(start, 256 * MIB, PROT_READ | PROT_WRITE, "big")     # 1 MiB blocks
    run_code(k, TOUCH_EVERY_MIB, rdi=start + 3, rsi=40)
    assert m.stop_reason == "returned"
    assert m.backed_bytes(start, start + 256 * MIB) == 40 * MIB
    assert m.read(start + 39 * MIB + 3, 1) == b"\x01" and m.read(start + 40 * MIB + 3, 1) == b"\0"


def test_going_over_max_memory_stops_the_kernel_with_a_report():
    k = Kernel(max_memory=64 * MIB)
    m = k.machine
    start = 0xFFFFFFFFD0000000
    m.map(start, 512 * MIB, PROT_READ | PROT_WRITE, "big")     # 2 MiB blocks
    with pytest.raises(MemoryLimitExceeded) as info:
        run_code(k, TOUCH_EVERY_MIB, rdi=start, rsi=200)
    assert info.value.limit == 64 * MIB and m.committed <= 64 * MIB
    assert "memory limit of 64 MiB (--max-memory)" in str(info.value)
    # the kernel is stopped for good: every syscall says so again
    with pytest.raises(MemoryLimitExceeded):
        k.insmod(str(HELLO))
    assert k.dmesg().count("kmodsim: the run went over its memory limit of 64 MiB") == 1
    k.close()


def test_going_over_max_memory_inside_a_kernel_function():
    """memset, run in Python, goes over the limit: the kernel function's failure is not
    taken for an oops, the limit ends the call."""
    k = Kernel(max_memory=32 * MIB)
    start = 0xFFFFFFFFD0000000
    k.machine.map(start, 256 * MIB, PROT_READ | PROT_WRITE, "big")
    memset = k.export_addr("memset")
    k.kapi.names[memset] = "memset"       # as if a module imported it
    with pytest.raises(MemoryLimitExceeded):
        # mov rax, memset; call rax; ret  (rdi, rsi, rdx as set)
        run_code(k, "48b8" + memset.to_bytes(8, "little").hex() + "ffd0c3",
                 rdi=start, rsi=0x41, rdx=200 * MIB)
    assert "Oops" not in k.dmesg()


def test_a_module_over_max_memory_ends_insmod_and_the_log_says_why():
    k = Kernel(max_memory=3 * MIB)    # boot backs about 2.3 MiB; the .bss's first block is 1 MiB
    with pytest.raises(MemoryLimitExceeded):
        k.insmod(str(BSS_100M))
    assert k.dmesg().splitlines()[-1].endswith(
        "kmodsim: the run went over its memory limit of 3 MiB (--max-memory): 2.3 MiB of "
        "guest memory mapped, 1 MiB more needed at 0xffffffffc0203000")


def test_run_and_script_take_max_memory():
    r = run_cli("run", str(BSS_100M), "--max-memory", "3M")
    assert r.returncode == 3
    assert r.stdout.decode().splitlines()[-1].endswith("kmodsim: the run went over its memory limit "
                                              "of 3 MiB (--max-memory): 2.3 MiB of guest memory "
                                              "mapped, 1 MiB more needed at 0xffffffffc0203000")
    assert r.stderr.startswith(b"kmodsim: the run went over its memory limit of 3 MiB")
    assert run_cli("run", str(BSS_100M), "--max-memory", "64M").returncode == 0
    assert run_cli("run", str(BSS_100M), "--max-memory", "lots").returncode == 2
    scenario = REAL / "bigbss.sh"
    r = run_cli("script", str(scenario), *map(str, sorted(BIGBSS.glob("*.ko"))),
                "--max-memory", "3M")
    assert r.returncode == 3 and b"kmodsim: the run went over" in r.stderr
    assert r.stdout.startswith(b"=== SCENARIO\n") and r.stdout.endswith(b"=== END\n")
    assert b"rc=0" not in r.stdout       # the scenario stopped at bss_100m's insmod


def test_the_default_cap_is_512_mib():
    assert Kernel().machine.max_memory == 512 * MIB
    assert Kernel(max_memory=None).machine.max_memory is None


# --------------------------------------------------------------------------- 6.1's refusals

def test_huge_bss_is_refused_as_the_real_kernel_refuses_it():
    """bigbss: a core over the module area is refused silently; over the guest's RAM with
    vmalloc's warn_alloc report (its stack dump and show_mem), rate-limited; 100 MiB loads."""
    mods = [BIGBSS / f"bss_{n}.ko" for n in ("1g", "1000m", "600m", "100m")]
    sim = run(REAL / "bigbss.sh", mods)
    matched, total = fidelity((REAL / "bigbss.real.txt").read_text(), sim)
    assert (matched, total) == (63, 63)
    assert sim.count("exceeds total pages") == 1


def test_a_refused_huge_module_costs_nothing():
    k = Kernel()
    base = k.machine.committed
    for name in ("1g", "1000m", "600m"):
        assert k.insmod(str(BIGBSS / f"bss_{name}.ko")).rc == -12
    assert k.machine.committed == base and not k.modules
    assert k.insmod(str(HELLO)).ok


def test_warn_alloc_says_how_many_it_suppressed_after_ten_seconds():
    k = Kernel()
    for _ in range(3):
        k.insmod(str(BIGBSS / "bss_600m.ko"))
    k.time.advance(11 * 10**9)
    k.insmod(str(BIGBSS / "bss_600m.ko"))
    log = k.dmesg()
    assert log.count("exceeds total pages") == 2
    assert "warn_alloc: 2 callbacks suppressed" in log


# --------------------------------------------------------------------------- CPU state

FLAGS = "9c58c3"                                  # pushfq; pop rax; ret
SET_FLAG = "9c48810c24{}9dc3"                    # pushfq; or qword [rsp], imm32; popfq; ret
DF, TF, IF, AC = 0x400, 0x100, 0x200, 0x40000


@pytest.mark.parametrize("leak", ["fdc3",                                    # std; ret
                                  SET_FLAG.format(TF.to_bytes(4, "little").hex()),
                                  SET_FLAG.format(AC.to_bytes(4, "little").hex())],
                         ids=["DF", "TF", "AC"])
def test_flags_do_not_leak_from_one_call_into_the_next(leak):
    k = Kernel()
    run_code(k, leak)
    flags = run_code(k, FLAGS)
    assert k.machine.stop_reason == "returned"
    assert flags & (DF | TF | AC) == 0 and flags & IF and flags & 2


def test_the_gs_base_is_the_per_cpu_area_on_every_entry():
    k = Kernel()
    # mov rax, gs:[0x28]; ret
    canary = "65488b0425" + STACK_CANARY_OFFSET.to_bytes(4, "little").hex() + "c3"
    assert run_code(k, canary) == STACK_CANARY
    run_code(k, "0f01f8c3")                                          # swapgs; ret
    assert run_code(k, canary) == STACK_CANARY
    run_code(k, "b9010100c031c031d20f30c3")                          # wrmsr GS_BASE = 0; ret
    assert run_code(k, canary) == STACK_CANARY


def test_a_normal_module_sees_the_kernels_flags():
    k = Kernel()
    assert k.insmod(str(HELLO)).ok
    assert run_code(k, FLAGS) == 0x202


# --------------------------------------------------------------------------- panic

def test_a_panicked_kernel_is_dead_for_the_python_api():
    k = Kernel()
    first = k.insmod(str(SAMPLES / "linux/faults/stack_smash.ko"))
    assert first.signal == "panic"
    modules, log = k.proc_modules(), k.dmesg()
    for result in (k.insmod(str(HELLO)), k.insmod("/no/such/file.ko"),
                   k.init_module(HELLO.read_bytes()), k.rmmod("stack_smash"),
                   k.delete_module("stack_smash")):
        assert (result.rc, result.signal, result.message) == (0, "panic", k.panicked)
        assert not result.ok
    with pytest.raises(KernelPanic, match="stack-protector"):
        k.call(CODE)
    assert k.proc_modules() == modules and k.dmesg() == log


@pytest.fixture(scope="module")
def kernel_kept_for_the_module():
    k = Kernel(timeout_s=5)
    yield k
    k.close()


def test_a_kernel_made_outside_a_test_takes_its_arguments(kernel_kept_for_the_module):
    """conftest's per-test tracking of kernels must not break ``Kernel(...)`` between tests
    (a module-scoped fixture runs after earlier tests ended: it raised ``object.__new__()
    takes exactly one argument``)."""
    assert kernel_kept_for_the_module.timeout_s == 5
