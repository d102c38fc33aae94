"""How fast modules run: the emulator against bare Unicorn, kernel API calls, startup.

    python bench/emulator.py [--rounds N] [--calls N] [--repeat N]

1. Compute-bound: samples/linux/xorshift's init runs N xorshift64 rounds (default 200
   million). Timed in kmodsim (its init call, default limits: the wall-clock watchdog on,
   no instruction budget) and in a bare Unicorn that maps the same relocated module and runs
   the same code from init up to its call to _printk, with no hooks at all. Median of
   ``--repeat`` runs each; prints the ratio (goal >= 0.8).
2. A kernel API call: init calls ktime_get() N times (default 1 million); the time over the
   same init with no calls, divided by N (goal <= 10 us).
3. ``kmodsim run samples/linux/hello_debug/hello_debug.ko`` as a fresh process, median of 5
   (goal <= 0.5 s), through the installed entry point.
4. The same loop with ``--max-insns``, to show what the deterministic budget costs.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

XORSHIFT = ROOT / "samples/linux/xorshift/xorshift.ko"
HELLO = ROOT / "samples/linux/hello_debug/hello_debug.ko"


def kmodsim_init_time(args, max_insns=0):
    from emulator.kernel import Kernel
    k = Kernel(max_insns=max_insns, timeout_s=600)
    t = {}
    orig = k.call

    def timed_call(func, a=(), sentinel=None):
        t0 = time.perf_counter()
        try:
            return orig(func, a, sentinel)
        finally:
            t["init"] = time.perf_counter() - t0

    k.call = timed_call
    r = k.insmod(XORSHIFT, args)
    assert r.ok, (r, k.dmesg())
    return t["init"], k


def bare_unicorn_time(rounds):
    """The same relocated init in a plain Unicorn: no hooks, stop at its call to _printk."""
    from unicorn import UC_ARCH_X86, UC_MODE_64, UC_PROT_ALL, UC_TLB_VIRTUAL, Uc
    from unicorn import x86_const as X

    from linker.load import LinkKernel, link_module
    from linker.profiles import load_profile
    k = LinkKernel(load_profile())
    lm = link_module(XORSHIFT.read_bytes(), k, keep=True)
    info = lm.info
    init_idx = info.find_sec(".init.text")
    init_addr = lm.image.address_of(init_idx)
    rsec = next(r for r in info.elf.relocation_sections if r.target_index == init_idx)
    printk = next(r for r in rsec.entries
                  if info.elf.symbols[r.sym].name == "_printk")
    until = init_addr + printk.r_offset - 1       # the call instruction
    # module parameter `rounds` lives in .data: set it as parse_args would
    data_idx = info.find_sec(".data")
    rounds_sym = next(s for s in info.elf.symbols if s.name == "rounds")
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
    img = lm.image
    uc.mem_map(img.core_addr, len(img.core), UC_PROT_ALL)
    uc.mem_write(img.core_addr, bytes(img.core))
    uc.mem_map(img.init_addr, len(img.init), UC_PROT_ALL)
    uc.mem_write(img.init_addr, bytes(img.init))
    uc.mem_write(img.address_of(data_idx) + rounds_sym.st_value, rounds.to_bytes(8, "little"))
    stack = 0xFFA0000000620000
    uc.mem_map(stack, 0x10000, UC_PROT_ALL)
    uc.reg_write(X.UC_X86_REG_RSP, stack + 0x8000)
    fentry = lm.symbols.resolved["__fentry__"].value
    uc.mem_map(fentry & ~0xFFF, 0x1000, UC_PROT_ALL)
    uc.mem_write(fentry, b"\xc3")                  # ret (kmodsim NOPs these calls at load)
    t0 = time.perf_counter()
    uc.emu_start(init_addr, until)
    return time.perf_counter() - t0


def fresh_process_time():
    exe = shutil.which("kmodsim") or sys.executable
    cmd = [exe, "run", str(HELLO)] if exe != sys.executable else [exe, "-m", "emulator.cli", "run", str(HELLO)]
    how = "kmodsim" if exe != sys.executable else "python -m emulator.cli"
    # as a user runs it: Python caches bytecode (this session's environment sets
    # PYTHONDONTWRITEBYTECODE, which recompiles kmodsim on every start, +0.15 s); one warm-up
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(cmd, capture_output=True, check=True, env=env)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, env=env)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), how


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=200_000_000)
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args(argv)
    ours = statistics.median(kmodsim_init_time(f"rounds={a.rounds}")[0] for _ in range(a.repeat))
    bare = statistics.median(bare_unicorn_time(a.rounds) for _ in range(a.repeat))
    print(f"compute-bound, {a.rounds:,} xorshift rounds: kmodsim {ours:.3f} s, bare Unicorn "
          f"{bare:.3f} s: {bare / ours:.2f}x bare speed (median of {a.repeat})")
    base = statistics.median(kmodsim_init_time("rounds=0 calls=0")[0] for _ in range(3))
    with_calls, k = kmodsim_init_time(f"rounds=0 calls={a.calls}")
    per = (with_calls - base) / a.calls
    print(f"kernel API call (ktime_get): {per * 1e6:.2f} us each over {a.calls:,} calls")
    budget = min(a.rounds, 20_000_000)
    plain = kmodsim_init_time(f"rounds={budget}")[0]
    counted = kmodsim_init_time(f"rounds={budget}", max_insns=10**12)[0]
    print(f"--max-insns on {budget:,} rounds: {counted:.3f} s vs {plain:.3f} s "
          f"({counted / plain:.1f}x)")
    t, how = fresh_process_time()
    print(f"fresh process `{how} run hello_debug.ko`: {t:.3f} s (median of 5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
