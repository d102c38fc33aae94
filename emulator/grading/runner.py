"""Running grading tests: collected once, each (submission, test) in a process of its own.

:class:`Suite` collects the tests with pytest once (in the ``kmodsim grade`` process, or
once per Dask worker) and boots one kernel with the default limits. Each (submission, test)
then runs in a child forked from there (:func:`start`): it inherits the collected test and
the booted kernel (copy-on-write: the test's ``kernel`` fixture gets that kernel instead of
booting one), caps its address space (``RLIMIT_AS``), runs the test with pytest's own
``runtestprotocol``, writes its :class:`~.results.TestResult` to a pipe and exits. The
parent (:func:`finish`, :func:`run_local`) kills a child that overruns the test's time limit
and turns a child that died (a signal, an exit without a result) into a failed test saying
so; the other tests and submissions go on.

Forking is POSIX-only; kmodsim grade runs on Linux (as the kernel it simulates).
"""

from __future__ import annotations

import faulthandler
import gc
import importlib
import os
import pickle
import resource
import select
import signal
import tempfile
import time
from collections import deque

from .results import FAILED, PASSED, SKIPPED, TestInfo, TestResult

DEFAULT_TIMEOUT = 60.0            # seconds a test may run (its budget marker may say otherwise)
DEFAULT_WORKER_MEMORY = 2 << 30   # address space a test's process may add to its parent's
# --import-mode=importlib: the test files are not imported under their bare names, so they
# clash with no module of the process grading (pytest's own tests, when it runs in one)
PYTEST_ARGS = ("-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:faulthandler",
               "-p", "no:stepwise", "--capture=no", "--import-mode=importlib")
MAX_OUTPUT = 60_000               # characters of a test's output kept (Gradescope shows 16 KiB+)
MESSAGE_PREFIXES = ("AssertionError: ", "emulator.grading.lab.LabFailure: ", "LabFailure: ")


class GradeError(Exception):
    """The grading could not run (the tests do not collect, ...): one line for the user."""


class Suite:
    """The grading tests at ``path``, collected once; a pristine kernel to fork from."""

    def __init__(self, path, pytest_args=()):
        import pytest
        from _pytest.config import _prepareconfig    # what pytest.main does, kept open
        self.path = os.path.abspath(path)
        rootdir = self.path if os.path.isdir(self.path) else os.path.dirname(self.path)
        errors = _CollectErrors()
        load = () if _autoloaded() else ("-p", "emulator.grading.plugin")
        args = [*PYTEST_ARGS, *load, f"--rootdir={rootdir}", *pytest_args, self.path]
        try:
            config = _prepareconfig(args, plugins=[errors])
            # --tb=short (an option of the terminal plugin, which is off): no arguments'
            # reprs in tracebacks, whose addresses change from run to run
            config.option.tbstyle = "short"
            config._do_configure()
            session = pytest.Session.from_config(config)
            config.hook.pytest_sessionstart(session=session)
            config.hook.pytest_collection(session=session)
        except pytest.UsageError as exc:
            raise GradeError(f"{path}: {exc}") from None
        if errors.reports:
            raise GradeError(f"the tests in {path} do not collect:\n" + errors.reports[0])
        if not session.items:
            raise GradeError(f"no tests in {path}")
        self.config, self.session = config, session
        self.items = {item.nodeid: item for item in session.items}
        self.tests = [self._info(item) for item in session.items]
        try:                           # tmp_path's base, decided once for all children
            config._tmp_path_factory.getbasetemp()
        except Exception:
            pass
        self.kernel = None             # (Kernel() arguments, the pristine kernel)

    @staticmethod
    def _info(item):
        from . import plugin
        budget = plugin.budget_of(item)
        function = getattr(item, "function", None)    # a pytest Function; other items have none
        doc = (function.__doc__ or "") if function is not None else ""
        stem = os.path.splitext(os.path.basename(str(item.path)))[0]
        return TestInfo(item.nodeid, item.name, stem, plugin.points_of(item),
                        plugin.visibility_of(item), budget["seconds"],
                        doc.strip().split("\n", 1)[0])

    def preboot(self):
        """Boot the kernel the children start from (the default limits), once, after
        warming up what every test would otherwise pay for the first time in its own
        process (imports, caches, code Unicorn translated)."""
        if self.kernel is None:
            from ..kernel import Kernel
            from . import plugin
            args = plugin.kernel_args(plugin.budget_of_defaults())
            _warm_up(Kernel, args)
            self.kernel = (args, Kernel(**args))
        gc.collect()
        gc.freeze()                    # the children's refcounting copies fewer pages


def _warm_up(Kernel, args):
    """Run, on a kernel thrown away after, what lab tests do without a module: the shell,
    the file layer, the log. (Not a submission's code: that runs only in the children.)"""
    from ..shell import Shell
    from ..system import KernelSystem
    importlib.import_module(".lab", __package__)   # imported once here, not per test
    with Kernel(**args) as k:
        shell = Shell(KernelSystem(k), {})
        shell.run_script("cat /proc/modules /proc/version >/dev/null; ls /sys/module >/dev/null;"
                         " grep -c x /proc/modules; dmesg >/dev/null; echo ok\n")
        f = k.open("/proc/modules", os.O_RDONLY)
        f.read(4096)
        f.close()
        k.dmesg()


def _autoloaded():
    """Whether pytest loads the plugin by itself (kmodsim installed, with its ``pytest11``
    entry point, and plugin autoloading on); if not, it is named with ``-p``."""
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    from importlib.metadata import entry_points
    return any(ep.value == "emulator.grading.plugin" for ep in entry_points(group="pytest11"))


class _CollectErrors:
    """A plugin keeping what failed to collect (the terminal reporter is off)."""

    def __init__(self):
        self.reports = []

    def pytest_collectreport(self, report):
        if report.failed:
            self.reports.append(str(report.longreprtext))


# ------------------------------------------------------------------------------ one test

def start(suite, submission, nodeid, memory=DEFAULT_WORKER_MEMORY):
    """Fork the child that runs test ``nodeid`` on ``submission``: ``(pid, fd)``, fd the
    read end of the pipe its result comes through."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                      # the child: never returns
        status = 0
        try:
            os.close(r)
            _child(suite, submission, nodeid, w, memory)
        except BaseException:         # noqa: BLE001 - whatever it was, the parent reports it
            status = 70
        finally:
            os._exit(status)
    os.close(w)
    return pid, r


def _child(suite, submission, nodeid, w, memory):
    from _pytest.runner import runtestprotocol
    from . import plugin
    gc.disable()
    faulthandler.disable()          # a parent's (pytest's) would print a crash on its stderr
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _limit_memory(memory)
    out = tempfile.TemporaryFile()    # the test's own prints: kept for details
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out.fileno(), 1)
    os.dup2(out.fileno(), 2)
    plugin._current["submission"] = submission
    plugin._current["kernel"] = suite.kernel
    item = suite.items[nodeid]
    info = next(t for t in suite.tests if t.nodeid == nodeid)
    t0 = time.monotonic()
    reports = runtestprotocol(item, log=False, nextitem=None)
    duration = time.monotonic() - t0
    out.seek(0)
    printed = out.read(MAX_OUTPUT).decode("utf-8", "replace")
    result = _result(info, reports, printed, duration)
    data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(data)
    while view:
        view = view[os.write(w, view):]
    os.close(w)


def _limit_memory(extra):
    """Cap this process's address space at what it has now plus ``extra`` bytes."""
    try:
        with open("/proc/self/status") as fh:
            vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError):
        return
    limit = vm + extra
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


def _result(info, reports, printed, duration):
    """The TestResult of pytest's setup/call/teardown reports."""
    from . import plugin
    failed = next((r for r in reports if r.failed), None)
    skipped = next((r for r in reports if r.skipped), None)
    if failed is None and skipped is None:
        return TestResult(info.nodeid, info.name, info.suite, PASSED, info.points, info.points,
                          info.visibility, doc=info.doc, duration=duration)
    if failed is None:
        reason = skipped.longrepr[2] if isinstance(skipped.longrepr, tuple) else \
            str(skipped.longrepr)
        reason = reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason
        # a skipped test is worth nothing either way: it neither earns nor costs points
        return TestResult(info.nodeid, info.name, info.suite, SKIPPED, 0, 0, info.visibility,
                          reason, f"skipped: {reason}", doc=info.doc, duration=duration)
    message = _crash_message(failed)
    if failed.when != "call":
        message = f"error in the test's {failed.when}: {message}"
    output = [message.rstrip("\n"), ""]
    for name, content in failed.sections:
        if name.startswith(plugin.LOG_SECTION):
            output += [f"--- {name[len('kmodsim '):]} ---", content.rstrip("\n"), ""]
        elif name.startswith(plugin.EXPLAIN_SECTION):
            output += [f"--- {name[len('kmodsim '):]} ---", content.rstrip("\n"), ""]
    details = str(failed.longreprtext)
    if printed.strip():
        details += "\n--- printed by the test ---\n" + printed
    text = "\n".join(output).rstrip("\n") + "\n"
    return TestResult(info.nodeid, info.name, info.suite, FAILED, 0, info.points,
                      info.visibility, message, _cap(text), _cap(details), info.doc, duration)


def _crash_message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    message = crash.message if crash is not None else str(report.longreprtext).strip()
    for prefix in MESSAGE_PREFIXES:
        if message.startswith(prefix):
            message = message[len(prefix):]
            break
    return message


def _cap(text):
    return text if len(text) <= MAX_OUTPUT else text[:MAX_OUTPUT] + "\n[... cut]\n"


def finish(info, pid, fd, deadline, seconds):
    """Wait for the child (``pid``, ``fd``) until ``deadline`` (time.monotonic): its
    TestResult, or a failure saying it overran or died."""
    data = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return kill_overdue(info, pid, fd, seconds)
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            data += chunk
    return reap(info, pid, fd, bytes(data), seconds)


def reap(info, pid, fd, data, seconds):
    """The child closed its pipe: its result, or why there is none."""
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    if data:
        try:
            return pickle.loads(data)
        except Exception:                # noqa: BLE001 - half a result: the child died writing
            pass
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        why = f"killed by signal {sig} ({name})"
    else:
        why = f"exited with status {os.WEXITSTATUS(status)} without a result"
    return TestResult.failure(
        info, f"the test's worker process crashed ({why}): the submission took kmodsim "
              f"down, or over its memory limit")


def kill_overdue(info, pid, fd, seconds):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    os.close(fd)
    return TestResult.failure(
        info, f"timed out: the test ran for more than {seconds:g} s, its time limit; "
              f"it was stopped there", duration=seconds)


def run_one(suite, submission, nodeid, timeout=DEFAULT_TIMEOUT, memory=DEFAULT_WORKER_MEMORY):
    """One (submission, test), waited for: its TestResult."""
    info = next(t for t in suite.tests if t.nodeid == nodeid)
    seconds = info.seconds or timeout
    pid, fd = start(suite, submission, nodeid, memory)
    return finish(info, pid, fd, time.monotonic() + seconds, seconds)


# ------------------------------------------------------------------------------ many

def run_local(suite, tasks, jobs, timeout=DEFAULT_TIMEOUT, memory=DEFAULT_WORKER_MEMORY,
              on_result=None):
    """Run ``tasks`` (``[(key, submission, nodeid)]``) ``jobs`` at a time: ``{key:
    TestResult}``. ``on_result(key, result)`` is called as each one ends."""
    infos = {t.nodeid: t for t in suite.tests}
    pending = deque(tasks)
    running = {}                      # fd -> [key, info, pid, deadline, seconds, data]
    results = {}
    try:
        while pending or running:
            while pending and len(running) < max(1, jobs):
                key, submission, nodeid = pending.popleft()
                info = infos[nodeid]
                seconds = info.seconds or timeout
                pid, fd = start(suite, submission, nodeid, memory)
                running[fd] = [key, info, pid, time.monotonic() + seconds, seconds, bytearray()]
            wait = max(0.0, min(r[3] for r in running.values()) - time.monotonic())
            ready, _, _ = select.select(list(running), [], [], wait)
            done = []
            for fd in ready:
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    running[fd][5] += chunk
                else:
                    key, info, pid, _, seconds, data = running[fd]
                    done.append((fd, reap(info, pid, fd, bytes(data), seconds)))
            now = time.monotonic()
            for fd, entry in list(running.items()):
                if entry[3] <= now and all(fd != d[0] for d in done):
                    key, info, pid, _, seconds, _ = entry
                    done.append((fd, kill_overdue(info, pid, fd, seconds)))
            for fd, result in done:
                key = running.pop(fd)[0]
                results[key] = result
                if on_result is not None:
                    on_result(key, result)
    finally:
        for fd, entry in running.items():     # interrupted: no child outlives us
            try:
                os.kill(entry[2], signal.SIGKILL)
                os.waitpid(entry[2], 0)
                os.close(fd)
            except OSError:
                pass
    return results
