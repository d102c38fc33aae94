"""Time loading each shipped profile, cold, in a fresh interpreter per run.

    python bench/bench_profiles.py [--runs N] [PROFILE ...]

For each profile it prints the median and best of N runs (milliseconds) of:

* import   ``import linker.profiles`` (json, re, the module itself)
* load     ``load_profile(name)``: read and check the JSON header and the exports file
* lookup   six ``name in exports`` / ``exports[name]`` lookups (binary search, no index)
* all      touching every export (``list(p.exports.values())``: builds the name index)
* kallsyms the lazy ``p.kallsyms()`` (System.map), when the profile has one

Nothing is asserted: the figures depend on the machine.  The goal is load + lookup well
under 50 ms for the 24.7k-export amd64 profile.
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
import linker.profiles as lp
t1 = time.perf_counter()
p = lp.load_profile(sys.argv[1])
t2 = time.perf_counter()
for name in ("_printk", "kfree", "module_layout", "mutex_lock", "monitor_write", "no_such"):
    if name in p.exports:
        p.exports[name]
t3 = time.perf_counter()
n = len(list(p.exports.values()))
t4 = time.perf_counter()
k = p.kallsyms() if p.kallsyms_path else None
t5 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "lookup": t3 - t2, "all": t4 - t3,
                  "kallsyms": (t5 - t4) if k is not None else None, "exports": n}))
"""

COLUMNS = ("import", "load", "lookup", "all", "kallsyms")


def run_once(name):
    out = subprocess.run([sys.executable, "-c", PROBE, name], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def main(argv=None):
    sys.path.insert(0, str(REPO))
    from linker.profiles import list_profiles

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("profiles", nargs="*", default=list_profiles())
    args = parser.parse_args(argv)

    print(f"{'profile':24} {'exports':>7}  " + "  ".join(f"{c:>15}" for c in COLUMNS))
    print(f"{'':24} {'':>7}  " + "  ".join(f"{'median/best ms':>15}" for _ in COLUMNS))
    for name in args.profiles:
        runs = [run_once(name) for _ in range(args.runs)]
        cells = []
        for col in COLUMNS:
            values = [r[col] * 1000 for r in runs if r[col] is not None]
            cells.append(f"{statistics.median(values):7.1f}/{min(values):<7.1f}" if values
                         else f"{'-':>15}")
        print(f"{name:24} {runs[0]['exports']:7}  " + "  ".join(cells))


if __name__ == "__main__":
    main()
