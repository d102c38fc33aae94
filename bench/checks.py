"""What the debug checks cost (emulator.checks): a memory-heavy module with and without them.

    python bench/checks.py [--rounds N] [--repeat N]

samples/linux/bugs/memheavy's init does ``rounds`` rounds of: 16 kmalloc_array(64, 8),
each filled word by word in module code, then each summed word by word and kfree'd (per
round 32 kernel calls, 2048 heap accesses in module code). Timed in-process from insmod to
the end of its init (``Kernel.insmod``), median of ``--repeat`` runs, with no checks,
``leaks`` (kmemleak: every allocation's stack is unwound and symbolised), ``memory`` (KASAN:
page isolation, the TLB flushed at each kmalloc and kfree), and both, plus one kmemleak
scan over the lot. Prints one line per configuration and the ratio to the plain run (the
goal: at most 3x with both checks).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emulator.kernel import Kernel  # noqa: E402

MEMHEAVY = ROOT / "samples/linux/bugs/memheavy.ko"
CONFIGS = ((), ("leaks",), ("memory",), ("leaks", "memory"))


def once(checks, rounds):
    with Kernel(checks=checks) as k:
        t0 = time.perf_counter()
        r = k.insmod(str(MEMHEAVY), f"rounds={rounds}")
        if k.checks.kmemleak is not None:
            k.checks.kmemleak.scan()
        elapsed = time.perf_counter() - t0
        assert r.ok and not k.checks.leaks and not k.checks.memory_errors, k.dmesg()
        return elapsed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    times = {c: statistics.median(once(c, args.rounds) for _ in range(args.repeat))
             for c in CONFIGS}
    base = times[()]
    print(f"memheavy rounds={args.rounds} ({args.rounds * 32} kernel calls, "
          f"{args.rounds * 2048} heap accesses in module code), median of {args.repeat}:")
    for c, t in times.items():
        name = ",".join(c) or "none"
        print(f"  --checks {name:<13} {t:7.3f} s   {t / base:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
