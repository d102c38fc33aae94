"""How fast ``kmodsim grade`` runs a typical lab test: N (submission, test) runs.

    python bench/grade.py [--runs N] [--jobs J] [--executor local|dask] [--tests-per-sub T]

The test is a typical lab check on samples/grading's reference solution: insmod with two
parameters, read a /sys parameter, shell commands (``cat /proc/counter; grep counter
/proc/modules``), rmmod, and the log checked clean. The N runs are N/T submissions (copies of
the same .ko under different names, as a class would hand in) times T copies of the test.
Everything ``kmodsim grade`` does is timed, as ``grade()`` runs it: collecting, booting the
kernel the workers fork from, forking a process per (submission, test), the tests, the
results; writing the result files is timed apart.

Prints the total, the wall time per run, and the mean time a run spends in its own process
(the test itself); goal from issue 15: 1,000 runs in 30 s or less on 2 cores.
"""

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODULE = ROOT / "samples/grading/submissions/correct/counter.ko"

TEST = '''
import pytest


@pytest.mark.parametrize("copy", range({copies}))
def test_typical_lab(lab, copy):
    lab.load(start=5, steps=4)
    assert lab.read("/sys/module/counter/parameters/start") == "5\\n"
    status, out = lab.sh("cat /proc/counter; grep -c counter /proc/modules")
    assert status == 0 and "sum=26" in out, out
    lab.unload()
    lab.assert_clean()
'''


def _cpu():
    """CPU seconds of this process and of its children that ended (user + system)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1000, help="(submission, test) runs (default 1000)")
    ap.add_argument("--tests-per-sub", type=int, default=10, help="tests per submission (default 10)")
    ap.add_argument("--jobs", type=int, default=0, help="worker processes (default: every core)")
    ap.add_argument("--executor", choices=("local", "dask"), default="local")
    args = ap.parse_args()

    from emulator.grading.grader import Options, grade, write_results

    per = max(1, args.tests_per_sub)
    subs = max(1, args.runs // per)
    work = Path(tempfile.mkdtemp(prefix="kmodsim-bench-grade-"))
    try:
        tests = work / "tests"
        tests.mkdir()
        (tests / "test_lab.py").write_text(TEST.format(copies=per))
        paths = []
        for i in range(subs):
            folder = work / "subs" / f"student{i:04d}"
            folder.mkdir(parents=True)
            shutil.copy(MODULE, folder / "counter.ko")
            paths.append(str(folder / "counter.ko"))
        out = work / "out"
        c0 = _cpu()
        t0 = time.perf_counter()
        graded = grade(str(tests), paths, str(out),
                       Options(jobs=args.jobs, executor=args.executor))
        t1 = time.perf_counter()
        cpu = _cpu() - c0
        write_results(graded, str(out), ["gradescope", "junit", "ktap", "prairielearn"])
        t2 = time.perf_counter()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    runs = [t for s in graded for t in s.tests]
    failed = [t for t in runs if t.status != "passed"]
    in_process = [t.duration for t in runs]
    jobs = args.jobs or os.cpu_count()
    print(f"{len(runs)} runs ({subs} submissions x {per} tests), {jobs} jobs, "
          f"executor {args.executor}, {os.cpu_count()} cores")
    print(f"grading:        {t1 - t0:7.2f} s total, {1000 * (t1 - t0) / len(runs):6.1f} ms "
          f"per run (wall / runs)")
    print(f"in its process: {1000 * statistics.mean(in_process):6.1f} ms mean, "
          f"{1000 * statistics.median(in_process):6.1f} ms median per run (the test itself)")
    print(f"CPU:            {cpu:7.2f} s (this process and its children), "
          f"{1000 * cpu / len(runs):6.1f} ms per run; on {jobs} idle cores: "
          f"{cpu / jobs:.1f} s")
    print(f"result files:   {t2 - t1:7.2f} s (4 formats x {subs} submissions)")
    print(f"load average:   {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if failed:
        print(f"{len(failed)} runs FAILED, first: {failed[0].message.splitlines()[0]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
