"""What grading produced: one record per (submission, test), one per submission.

Plain dataclasses of strings and numbers: they cross process boundaries (a forked test's
pipe, a Dask task's result) as they are, and the result formats (:mod:`.formats`) are pure
functions of them. ``duration`` and ``execution_time`` are the only values that differ from
one run to the next; the formats leave them out with ``timing=False``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass
class TestInfo:
    """A collected test, as the results name it."""

    __test__ = False             # (pytest: not a test class, whatever its name)

    nodeid: str                  # pytest's: test_counter.py::test_loads
    name: str                    # test_loads (parameters included: test_x[5])
    suite: str                   # the test file's stem: test_counter
    points: float
    visibility: str              # visible, hidden, after_due_date
    seconds: float | None        # its budget marker's wall clock, if it has one
    doc: str = ""                # the first line of its docstring


@dataclass
class TestResult:
    __test__ = False
    nodeid: str
    name: str
    suite: str
    status: str                  # passed, failed, skipped
    score: float
    max_score: float
    visibility: str
    message: str = ""            # why it failed (or was skipped), in a line or a few
    output: str = ""             # what a student sees: the reason, the kernel log, the explanation
    details: str = ""            # pytest's full report (traceback, captured output)
    doc: str = ""
    duration: float = 0.0

    @classmethod
    def failure(cls, info: TestInfo, message: str, output: str | None = None, duration=0.0):
        return cls(info.nodeid, info.name, info.suite, FAILED, 0, info.points, info.visibility,
                   message, output if output is not None else message, message, info.doc,
                   duration)


@dataclass
class SubmissionResult:
    name: str                    # the directory under --out
    path: str                    # what was graded (the .ko)
    tests: list = field(default_factory=list)
    build_log: str | None = None  # make's output, for a submission built from sources
    gradable: bool = True        # False: nothing could be tested (it did not build)
    execution_time: float = 0.0

    @property
    def score(self):
        return _num(sum(t.score for t in self.tests))

    @property
    def max_score(self):
        return _num(sum(t.max_score for t in self.tests))

    def counts(self):
        """(passed, failed, skipped)."""
        return tuple(sum(t.status == s for t in self.tests) for s in (PASSED, FAILED, SKIPPED))


def _num(x):
    """2.0 -> 2, 2.5 -> 2.5: the same number whichever way it was added up."""
    x = round(float(x), 6)
    return int(x) if x.is_integer() else x
