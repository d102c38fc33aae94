"""Load every Debian module into kmodsim with its dependencies, run init and exit, and
tabulate what happened.

    python bench/corpus_run.py [DIR] [--jobs 2] [--timeout 60] [--sample N [--seed S]]
                               [--limit N] [--only NAME...] [--json OUT.jsonl]

DIR defaults to the Debian amd64 tree ``../shared/tools/debian-modules amd64`` unpacks
(``bench/corpus.py``'s ``corpus_dir``); without it the script says so and exits 0.

Each module gets a fresh kernel (:class:`emulator.kernel.Kernel`): its dependencies (the
``depends=`` modpost wrote in ``.modinfo``, which is what modules.dep is made from) are
insmod'ed first, in dependency order, then the module; if its init returns 0 it is rmmod'ed
(exit runs). The runs are spread over ``--jobs`` worker processes; a module that takes more
than ``--timeout`` seconds of wall clock (all its loads together) has its worker killed and
counts as a time-out (kmodsim's own per-syscall limit, ``Kernel(timeout_s=20)``, reports a
soft lockup before that). Outcomes, one per module, first match wins:

* ``traceback``: kmodsim raised (a bug of kmodsim's, whatever the module did);
* ``time-out``: the worker was killed at ``--timeout``, or kmodsim's lockup report ended it;
* ``panic``;
* ``dependency failed``: a module it depends on did not load (refused, init < 0, killed,
  stopped);
* ``load refused``: the loader refused it before init (unknown symbol, ...);
* ``not simulated (init|exit)``: a call to a kernel function kmodsim cannot run stopped it;
* ``oops (init|exit)``: an oops killed insmod/rmmod;
* ``init rc=-E...``: init returned an error;
* ``init 0, exit rc=...``/``init 0, exit ok``.

A WARN (taint W after the run) is counted apart, whatever the outcome. The table of the 30
functions that most often stopped a run counts the module's own init/exit (a stop in a
dependency is counted once, under the dependency).
"""

import argparse
import errno
import json
import multiprocessing as mp
import os
import queue
import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.corpus import corpus_dir, scan, topo  # noqa: E402

PROFILE = "linux-6.1.0-56-amd64"
SYSCALL_TIMEOUT_S = 20          # Kernel(timeout_s=...): kmodsim's per-syscall limit


# --------------------------------------------------------------------------- one module

def _errname(rc):
    return errno.errorcode.get(-rc, str(rc)) if rc < 0 else str(rc)


def _load(k, path):
    """insmod ``path``: ``(kind, detail)``: ``ok``, ``refused``, ``rc``, ``stopped``,
    ``oops``, ``panic``, ``lockup``."""
    lockups = len(k.faults.lockups)
    r = k.insmod(str(path))
    if r.not_simulated is not None:
        return "stopped", list(r.not_simulated)
    if len(k.faults.lockups) > lockups:
        return "lockup", None
    if r.signal == "panic":
        return "panic", r.message
    if r.signal is not None:
        return "oops", r.signal
    if r.rc < 0:
        return ("refused" if r.message is not None else "rc"), _errname(r.rc)
    return "ok", None


def run_module(name, mods):
    """The record of one module's run (a dict, JSON-able)."""
    from emulator.kernel import Kernel
    path, _ = mods[name]
    chain = [d for d in topo([name], mods) if d != name]
    missing = [d for n in [name] + chain for d in mods[n][1] if d not in mods]
    rec = {"module": name, "deps": chain, "warn": False}
    t0 = time.perf_counter()
    with Kernel(PROFILE, timeout_s=SYSCALL_TIMEOUT_S) as k:
        try:
            for dep in chain:
                kind, detail = _load(k, mods[dep][0])
                if kind != "ok":
                    rec.update(outcome="dependency failed", dep=dep, dep_kind=kind,
                               detail=detail)
                    break
            else:
                if missing:
                    rec["missing_deps"] = missing
                kind, detail = _load(k, path)
                if kind == "ok":
                    mod = k.modules.find(name.replace("-", "_"))
                    rec.update(_unload(k, mod))
                else:
                    rec.update(_classify_init(kind, detail))
        except Exception as exc:      # kmodsim's own bug: what the table must show as 0
            tb = traceback.extract_tb(exc.__traceback__)
            where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
            rec.update(outcome="traceback", detail=f"{type(exc).__name__}: {exc} ({where})")
        rec["warn"] = "W" in k.taints
    rec["seconds"] = round(time.perf_counter() - t0, 3)
    return rec


def _classify_init(kind, detail):
    if kind == "stopped":
        return {"outcome": "not simulated (init)", "function": detail[0], "caller": detail[1]}
    if kind == "lockup":
        return {"outcome": "time-out"}
    if kind == "panic":
        return {"outcome": "panic", "detail": detail}
    if kind == "oops":
        return {"outcome": "oops (init)", "detail": detail}
    if kind == "refused":
        return {"outcome": "load refused", "detail": detail}
    return {"outcome": f"init rc=-{detail}" if not str(detail).startswith("-") else
            f"init rc={detail}", "rc": detail}


def _unload(k, mod):
    if mod is None:
        return {"outcome": "init 0, exit ok"}
    lockups = len(k.faults.lockups)
    r = k.rmmod(mod.name)
    if r.not_simulated is not None:
        return {"outcome": "not simulated (exit)", "function": r.not_simulated[0],
                "caller": r.not_simulated[1]}
    if len(k.faults.lockups) > lockups:
        return {"outcome": "time-out"}
    if r.signal == "panic":
        return {"outcome": "panic", "detail": r.message}
    if r.signal is not None:
        return {"outcome": "oops (exit)", "detail": r.signal}
    if r.rc < 0:
        return {"outcome": f"init 0, exit refused {_errname(r.rc)}"}
    return {"outcome": "init 0, exit ok"}


# --------------------------------------------------------------------------- workers

def _worker(mods, todo, done):
    while True:
        try:
            name = todo.get(timeout=1)
        except queue.Empty:
            continue
        if name is None:
            return
        done.put(("start", name, os.getpid()))
        try:
            rec = run_module(name, mods)
        except BaseException as exc:  # noqa: BLE001 - nothing may kill the worker silently
            rec = {"module": name, "outcome": "traceback", "detail": repr(exc)}
        done.put(("done", name, rec))


def run_all(names, mods, jobs, timeout, progress=None):
    """Records of every module in ``names``, run by ``jobs`` worker processes; a worker
    stuck on one module past ``timeout`` seconds is killed (by its pid) and replaced."""
    ctx = mp.get_context("fork")
    todo, done = ctx.Queue(), ctx.Queue()
    for n in names:
        todo.put(n)
    workers = {}

    def spawn():
        p = ctx.Process(target=_worker, args=(mods, todo, done), daemon=True)
        p.start()
        workers[p.pid] = [p, None, None]     # process, module, started

    for _ in range(jobs):
        spawn()
    records, pending = {}, set(names)
    while pending:
        try:
            kind, name, extra = done.get(timeout=1)
        except queue.Empty:
            kind = None
        if kind == "start":
            workers[extra][1:] = [name, time.monotonic()]
        elif kind == "done":
            if name in pending:
                records[name] = extra
                pending.discard(name)
                if progress:
                    progress(len(records), len(names), extra)
            for w in workers.values():
                if w[1] == name:
                    w[1:] = [None, None]
        now = time.monotonic()
        for pid, (proc, name, started) in list(workers.items()):
            dead = not proc.is_alive()
            if name is not None and (dead or now - started > timeout):
                if not dead:
                    proc.kill()
                proc.join()
                del workers[pid]
                if name in pending:
                    records[name] = {"module": name, "outcome": "time-out" if not dead else
                                     "traceback", "detail": f"worker killed after {timeout} s"
                                     if not dead else f"worker died ({proc.exitcode})"}
                    pending.discard(name)
                    if progress:
                        progress(len(records), len(names), records[name])
                spawn()
            elif dead:
                proc.join()
                del workers[pid]
                spawn()
    for _ in workers:
        todo.put(None)
    for proc, _, _ in workers.values():
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
    return [records[n] for n in names]


# --------------------------------------------------------------------------- the table

ORDER = ["init 0, exit ok", "init rc=", "load refused", "dependency failed",
         "not simulated (init)", "not simulated (exit)", "oops (init)", "oops (exit)",
         "init 0, exit refused", "panic", "time-out", "traceback"]


def _order(outcome):
    for i, prefix in enumerate(ORDER):
        if outcome.startswith(prefix):
            return i, outcome
    return len(ORDER), outcome


def _how(rec):
    kind, detail = rec.get("dep_kind"), rec.get("detail")
    if kind == "stopped" and detail:
        return f"stopped at {detail[0]}"
    return f"{kind} {detail}" if detail is not None else kind


def tables(records, top=30):
    total = len(records)
    out = []
    counts = Counter(r["outcome"] for r in records)
    out.append("| outcome | modules | % |")
    out.append("|---|---|---|")
    for outcome, n in sorted(counts.items(), key=lambda kv: (_order(kv[0])[0], -kv[1])):
        out.append(f"| {outcome} | {n} | {100 * n / total:.1f}% |")
    out.append(f"| **total** | {total} | |")
    warns = sum(1 for r in records if r.get("warn"))
    out.append("")
    out.append(f"Modules with a WARN (taint W) during the run: {warns}.")
    deps = Counter((r.get("dep"), _how(r)) for r in records
                   if r["outcome"] == "dependency failed")
    if deps:
        out.append("")
        out.append("Dependencies that failed most often (dependency: how, modules): " + ", ".join(
            f"{d}: {k}, {n}" for (d, k), n in deps.most_common(12)))
    funcs = Counter(r["function"] for r in records if r.get("function"))
    if funcs:
        out.append("")
        out.append("| # | kernel function that stopped the run (not simulated) | modules |")
        out.append("|---|---|---|")
        for i, (f, n) in enumerate(funcs.most_common(top), 1):
            out.append(f"| {i} | `{f}` | {n} |")
        out.append("")
        out.append(f"{len(funcs)} distinct functions stopped a module's own init or exit.")
    tbs = [r for r in records if r["outcome"] == "traceback"]
    for r in tbs[:20]:
        out.append(f"traceback: {r['module']}: {r.get('detail')}")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", nargs="?", help="the kernel/ folder of a module tree")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60.0, metavar="S",
                    help="wall clock per module, all its loads together (default 60)")
    ap.add_argument("--sample", type=int, default=0, metavar="N",
                    help="a deterministic random sample of N modules (--seed)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--limit", type=int, default=0, help="the first N modules by name")
    ap.add_argument("--only", nargs="*", default=None, metavar="NAME")
    ap.add_argument("--json", metavar="OUT.jsonl", help="write every record, one per line")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    root = Path(args.dir) if args.dir else corpus_dir("amd64")
    if root is None or not root.is_dir():
        print("corpus_run: the Debian module corpus is not available "
              "(../shared/tools/debian-modules amd64); nothing to do")
        return 0
    mods = scan(sorted(root.rglob("*.ko")))
    names = sorted(mods)
    if args.only:
        names = [n for n in names if n in set(args.only)]
    if args.sample:
        names = sorted(random.Random(args.seed).sample(names, min(args.sample, len(names))))
    if args.limit:
        names = names[:args.limit]
    t0 = time.time()

    def progress(i, n, rec):
        if not args.quiet and (i % 100 == 0 or i == n):
            print(f"  {i}/{n} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)

    records = run_all(names, mods, args.jobs, args.timeout, progress)
    took = time.time() - t0
    if args.json:
        with open(args.json, "w") as fh:
            for r in records:
                fh.write(json.dumps(r) + "\n")
    print(f"{len(records)} modules from {root}, {args.jobs} workers, {took:.0f} s "
          f"({took * args.jobs / max(1, len(records)):.2f} s per module per worker)\n")
    print(tables(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
