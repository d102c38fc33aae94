"""The pytest plugin graders write their tests against (entry point ``pytest11``: loaded by
every pytest once kmodsim is installed; ``pytest -p emulator.grading.plugin`` otherwise).

Fixtures:

``submission``  the path of the module under test: ``--submission PATH`` on pytest's command
                line, or the one ``kmodsim grade`` is running.
``kernel``      a fresh booted :class:`~emulator.kernel.Kernel` per test, closed after it.
``lab``         :class:`~emulator.grading.lab.Lab` over the two: ``lab.load(start=5)``,
                ``lab.unload()``, ``lab.read("/sys/...")``, ``lab.sh("...")``, ...

Markers:

``@pytest.mark.points(n)``        what the test is worth (default 1)
``@pytest.mark.hidden``           students never see it (Gradescope ``hidden``)
``@pytest.mark.after_due_date``   students see it after the due date
``@pytest.mark.budget(seconds=30, syscall_seconds=2, max_insns=0, max_memory="256M")``
    the test's wall-clock limit (``kmodsim grade`` kills it there), and its kernel's: each
    syscall's wall clock, instruction budget (0: none; deterministic, but slow on tight
    loops) and guest memory.
``@pytest.mark.checks("leaks", "memory")``
    the kernel's debug checks (kmemleak, KASAN: emulator.checks), both by default where the
    kernel has them; ``checks()`` for none.

A failing test that used a kernel shows that kernel's log and, after an oops, BUG or WARN,
:func:`emulator.faults.explain_fault` (sections ``kmodsim kernel log`` and ``kmodsim fault
explanation`` of the report, which pytest prints with the failure).

This module imports nothing of the emulator until a fixture runs: every pytest loads it.
"""

from __future__ import annotations

import pytest

DEFAULT_POINTS = 1
DEFAULT_SECONDS = 60.0          # a test's wall clock (kmodsim grade --timeout)
DEFAULT_SYSCALL_SECONDS = 2.0   # each insmod/rmmod/read's: an endless init costs this much
DEFAULT_MAX_MEMORY = 256 << 20  # guest memory of a grading kernel
# the debug checks a grading kernel makes, where the kernel has them (emulator.checks):
# kmemleak's, KASAN's and lockdep's, which Debian's 6.1 lacks but an instructor wants
DEFAULT_CHECKS = ("leaks", "memory", "locks")

LOG_SECTION = "kmodsim kernel log"
EXPLAIN_SECTION = "kmodsim fault explanation"

MARKERS = (
    "points(n): what the test is worth in kmodsim grade (default 1)",
    "hidden: a kmodsim grade test students never see",
    "after_due_date: a kmodsim grade test students see after the due date",
    "budget(seconds=60, syscall_seconds=2, max_insns=0, max_memory='256M'): a kmodsim "
    "grade test's time limit and its kernel's limits",
    "checks(*names): the kernel's debug checks for this test (default: leaks, memory; "
    "none: checks())",
)

# kmodsim grade's runner sets these in the process that runs a test (emulator.grading.runner)
_current = {"submission": None, "kernel": None}
kernels_key = pytest.StashKey[list]()        # the kernels a test booted, for its report


def pytest_addoption(parser):
    group = parser.getgroup("kmodsim", "kmodsim grading")
    group.addoption("--submission", action="store", default=None, metavar="PATH",
                    help="the kernel module (.ko) the kmodsim grading tests run against")


def pytest_configure(config):
    for line in MARKERS:
        config.addinivalue_line("markers", line)


# ------------------------------------------------------------------------------ markers

def points_of(item):
    mark = item.get_closest_marker("points")
    if mark is None:
        return DEFAULT_POINTS
    value = mark.args[0] if mark.args else mark.kwargs.get("n", DEFAULT_POINTS)
    return float(value) if not float(value).is_integer() else int(value)


def visibility_of(item):
    if item.get_closest_marker("hidden") is not None:
        return "hidden"
    if item.get_closest_marker("after_due_date") is not None:
        return "after_due_date"
    return "visible"


def budget_of_defaults():
    return {"seconds": None, "syscall_seconds": DEFAULT_SYSCALL_SECONDS, "max_insns": 0,
            "max_memory": DEFAULT_MAX_MEMORY, "checks": DEFAULT_CHECKS}


def budget_of(item):
    """``{"seconds", "syscall_seconds", "max_insns", "max_memory"}`` from the test's
    ``budget`` marker over the defaults."""
    budget = budget_of_defaults()
    checks = item.get_closest_marker("checks")
    if checks is not None:
        budget["checks"] = tuple(checks.args)
    mark = item.get_closest_marker("budget")
    if mark is not None:
        unknown = set(mark.kwargs) - set(budget) | {"checks"} & set(mark.kwargs)
        if unknown or mark.args:
            raise pytest.UsageError(f"{item.nodeid}: budget() takes only "
                                    f"{', '.join(budget)} as keywords")
        budget.update(mark.kwargs)
        if isinstance(budget["max_memory"], str):
            budget["max_memory"] = _size(item, budget["max_memory"])
    return budget


def _size(item, text):
    """``"256M"``: bytes, or a number with K, M or G (powers of 1024), as --max-memory."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    raw = text.strip().upper().removesuffix("B").removesuffix("I")
    try:
        return int(float(raw[:-1]) * units[raw[-1]]) if raw[-1:] in units else int(raw)
    except (ValueError, IndexError):
        raise pytest.UsageError(f"{item.nodeid}: budget(max_memory={text!r}): not a size "
                                f"(bytes, or a number with K, M or G)") from None


def kernel_args(budget):
    """The Kernel() keywords a budget asks for (``checks`` only where Kernel has them)."""
    args = {"timeout_s": budget["syscall_seconds"], "max_insns": budget["max_insns"],
            "max_memory": budget["max_memory"]}
    if _kernel_has_checks():
        args["checks"] = tuple(budget["checks"])
    return args


def _kernel_has_checks():
    """Whether Kernel() takes ``checks`` (emulator.checks, new alongside this plugin)."""
    import inspect
    from ..kernel import Kernel
    return "checks" in inspect.signature(Kernel).parameters


# ------------------------------------------------------------------------------ fixtures

@pytest.fixture
def submission(request):
    """The path of the module under test."""
    path = request.config.getoption("submission") or _current["submission"]
    if path is None:
        pytest.skip("no submission: give pytest --submission PATH (or run kmodsim grade)")
    return str(path)


@pytest.fixture
def kernel(request):
    """A fresh booted kernel for this test, closed after it."""
    args = kernel_args(budget_of(request.node))
    prebooted = _current["kernel"]
    if prebooted is not None and prebooted[0] == args:
        # kmodsim grade forked this process from one holding a kernel just booted with
        # these limits: the same state a fresh Kernel(**args) has, without the boot
        _current["kernel"] = None
        k = prebooted[1]
    else:
        from ..kernel import Kernel
        k = Kernel(**args)
    request.node.stash.setdefault(kernels_key, []).append(k)
    try:
        yield k
    finally:
        k.close()


@pytest.fixture
def lab(kernel, submission):
    """The lab steps (load, unload, read, write, sh, run, dmesg) on this test's kernel."""
    from .lab import Lab
    return Lab(kernel, submission)


# ------------------------------------------------------------------------------ reports

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report carries its kernel's log and the fault explanation."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    kernels = item.stash.get(kernels_key, [])
    for i, k in enumerate(kernels):
        suffix = f" ({i + 1})" if len(kernels) > 1 else ""
        if any(name == LOG_SECTION + suffix for name, _ in report.sections):
            continue
        try:
            log = k.dmesg()
        except Exception as exc:       # a kernel that cannot say: say that
            log = f"(the log could not be read: {exc})\n"
        report.sections.append((LOG_SECTION + suffix, log))
        explanation = _explain(k)
        if explanation:
            report.sections.append((EXPLAIN_SECTION + suffix, explanation))


def _explain(k):
    try:
        from ..faults import explain_fault
        if k.closed:
            return ""
        return explain_fault(k)
    except Exception:                  # the explanation is a help, never a second failure
        return ""
