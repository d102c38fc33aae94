"""Grading as a whole: submissions in, one :class:`~.results.SubmissionResult` each out.

:func:`grade` prepares the submissions (a ``.ko``, or a directory built from its Kbuild),
collects the tests once, runs every (submission, test) on the executor asked for (local
forked processes, or Dask) and puts the results back in order: submissions as given, tests
as collected, so the results do not depend on which finished first. :func:`write_results`
writes each submission's files in each format under ``OUT/<submission name>/``.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from . import formats
from .results import SubmissionResult, TestResult
from .runner import DEFAULT_TIMEOUT, DEFAULT_WORKER_MEMORY, Suite, run_local
from .submissions import name_submissions, prepare


@dataclass
class Options:
    jobs: int = 0                       # 0: every core
    timeout: float = DEFAULT_TIMEOUT    # a test's seconds, unless its budget marker says
    worker_memory: int = DEFAULT_WORKER_MEMORY
    executor: str = "local"             # local, dask
    scheduler: str | None = None        # dask: tcp://host:8786; None: a LocalCluster
    build: str = "auto"                 # auto, always, never (submissions.prepare)
    pytest_args: tuple = ()


def grade(tests, paths, out, options=None, progress=None):
    """Grade each submission in ``paths`` with the tests at ``tests``: the
    SubmissionResults, in the order of ``paths``. ``progress(done, total, label)`` is called
    as (submission, test) runs finish."""
    options = options or Options()
    jobs = options.jobs or os.cpu_count() or 1
    named = name_submissions(list(paths))
    with ThreadPoolExecutor(max_workers=jobs) as pool:      # builds run make: threads do
        subs = list(pool.map(lambda np: prepare(np[0], np[1], out, options.build), named))
    suite = Suite(tests, options.pytest_args)
    tasks = [((i, t.nodeid), os.path.abspath(s.module), t.nodeid)
             for i, s in enumerate(subs) if s.module is not None for t in suite.tests]
    total = len(tasks)
    done = [0]
    elapsed = {}                        # submission index -> seconds its tests took

    def on_result(key, result):
        done[0] += 1
        elapsed[key[0]] = elapsed.get(key[0], 0.0) + result.duration
        if progress is not None:
            progress(done[0], total, subs[key[0]].name)

    if progress is not None:
        progress(0, total, "")
    if options.executor == "dask":
        from .dask_executor import run_dask          # only with --executor dask: distributed is optional
        results = run_dask(suite, tasks, jobs, options, on_result)
    else:
        suite.preboot()
        results = run_local(suite, tasks, jobs, options.timeout, options.worker_memory,
                            on_result)
    graded = []
    for i, sub in enumerate(subs):
        if sub.module is None:
            tests = [TestResult.failure(t, _no_module_reason(sub)) for t in suite.tests]
        else:
            tests = [results[(i, t.nodeid)] for t in suite.tests]
        graded.append(SubmissionResult(sub.name, sub.module or sub.source, tests,
                                       build_log=sub.build_log, gradable=sub.module is not None,
                                       execution_time=elapsed.get(i, 0.0)))
    return graded


def _no_module_reason(sub):
    reason = sub.error or "nothing to grade"
    if sub.build_log:
        lines = [line for line in sub.build_log.splitlines()
                 if "error" in line.lower() or "ERROR" in line]
        reason += ":\n" + "\n".join(lines[-10:] or sub.build_log.splitlines()[-10:])
    return reason


def write_results(graded, out, which, timing=True):
    """Write ``OUT/<name>/<file>`` for each submission and each format in ``which``; the
    paths written."""
    written = []
    for sub in graded:
        folder = os.path.join(out, sub.name)
        os.makedirs(folder, exist_ok=True)
        for fmt in which:
            path = os.path.join(folder, formats.FILES[fmt])
            with open(path, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(formats.WRITERS[fmt](sub, timing=timing))
            written.append(path)
    return written


def summary(graded):
    """One line per submission: its score and the tests it failed, with the first line of
    each reason."""
    lines = []
    width = max((len(s.name) for s in graded), default=0)
    for sub in graded:
        line = f"{sub.name:<{width}}  {sub.score}/{sub.max_score}"
        failed = [t for t in sub.tests if t.status == "failed"]
        if not sub.gradable:
            line += "  not gradable: " + (failed[0].message.split("\n", 1)[0] if failed else "")
        elif failed:
            reasons = {}
            for t in failed:
                reasons.setdefault(t.message.split("\n", 1)[0], []).append(t.name)
            first = next(iter(reasons))
            line += f"  failed {len(failed)}: {first}"
            if len(reasons) > 1:
                line += f" (+{len(reasons) - 1} other reason{'s' if len(reasons) > 2 else ''})"
        lines.append(line)
    return "\n".join(lines) + ("\n" if lines else "")


class Progress:
    """A one-line progress bar on a terminal (stderr), nothing elsewhere.

    (Not tqdm or rich: a dozen lines, no dependency, and no helper thread in the process the
    test workers are forked from.)"""

    def __init__(self, stream, enabled=None):
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.start = time.monotonic()
        self.last = 0.0

    def __call__(self, done, total, label):
        if not self.enabled:
            return
        now = time.monotonic()
        if done not in (0, total) and now - self.last < 0.1:
            return
        self.last = now
        width = 30
        filled = width * done // total if total else width
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} tests "
                          f"{now - self.start:5.1f}s {label[:30]:<30}")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()
