"""kmodsim grade, its pytest plugin and its result formats (emulator/grading, issue 15).

The sample assignment (samples/grading: the counter lab, its tests, a submission per typical
mistake) is graded once through the command line; the tests check each submission's score
and reasons, each format against its spec, byte-identical results between runs, --jobs and
the Dask executor, and that a test which takes its worker process down (a crash, a hang, an
exit) is a failed test with a reason while the others keep their scores.
"""

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from emulator.cli import main
from emulator.grading import formats, plugin
from emulator.grading.lab import format_params, trouble_in
from emulator.grading.results import SubmissionResult, TestResult
from emulator.grading.submissions import headers_dir, name_submissions

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "samples/grading"
TESTS = LAB / "tests"
SUBS = LAB / "submissions"
ALL_FORMATS = "gradescope,prairielearn,junit,ktap"

# submission -> (score out of 10, the tests it fails, a phrase of the reason they give)
EXPECTED = {
    "correct": (10, set(), None),
    "undefined_symbol": (0, {"test_loads_with_defaults", "test_parameters", "test_proc_file",
                             "test_rejects_bad_steps", "test_unloads", "test_load_unload_twice"},
                         "counter: Unknown symbol kallsyms_lookup_name"),
    "no_exit": (7, {"test_unloads", "test_load_unload_twice"}, "Device or resource busy"),
    "endless_loop": (1, {"test_loads_with_defaults", "test_parameters", "test_proc_file",
                         "test_unloads", "test_load_unload_twice"}, "soft lockup"),
    "null_deref": (1, {"test_loads_with_defaults", "test_parameters", "test_proc_file",
                       "test_unloads", "test_load_unload_twice"},
                   "BUG: kernel NULL pointer dereference"),
    "init_error": (1, {"test_loads_with_defaults", "test_parameters", "test_proc_file",
                       "test_unloads", "test_load_unload_twice"}, "Cannot allocate memory"),
    "warn": (7, {"test_parameters", "test_load_unload_twice"}, "WARN"),
    "double_free": (7, {"test_unloads", "test_load_unload_twice"}, None),
    # msleep() under a spinlock in init: the load goes on, as on the real kernel
    # (tests/realkernel/sleep_atomic1), but the log is not clean
    "sleep_atomic": (3, {"test_loads_with_defaults", "test_parameters", "test_unloads",
                         "test_load_unload_twice"},
                     "BUG: scheduling while atomic: insmod/84/0x00000002"),
    # kstrdup_const() in init: kmodsim's limit, said as such (not a crash, not a bug)
    "not_simulated": (1, {"test_loads_with_defaults", "test_parameters", "test_proc_file",
                          "test_unloads", "test_load_unload_twice"},
                      "kmodsim cannot run kstrdup_const"),
}
if plugin._kernel_has_checks():          # kmemleak and KASAN (emulator.checks)
    EXPECTED["leak"] = (7, {"test_unloads", "test_load_unload_twice"}, "memory leak (kmemleak)")
    EXPECTED["use_after_free"] = (7, {"test_unloads", "test_load_unload_twice"},
                                  "KASAN report (use-after-free)")
else:                                    # nothing sees them: full marks, alas
    EXPECTED["leak"] = (10, set(), None)
    EXPECTED["use_after_free"] = (10, set(), None)
BUILD = headers_dir() is not None        # no_license is graded by building it
FAST = ["correct", "warn", "no_exit", "null_deref"]     # for the reruns


def grade(out, *subs, extra=(), tests=TESTS):
    """``kmodsim grade`` in a process of its own, as a grader runs it (in this one, pytest's
    fixtures patch Kernel and its test modules' names are taken)."""
    argv = [sys.executable, "-m", "emulator.cli", "grade", str(tests), *map(str, subs),
            "--format", ALL_FORMATS, "--out", str(out), "--no-timing", "--quiet", *extra]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def ko(name):
    return SUBS / name / "counter.ko"


def tree(folder):
    """{relative path: bytes} of every file under ``folder``."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(Path(folder).rglob("*")) if p.is_file() and "build" not in p.parts}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The whole sample graded once: --jobs 2, every format."""
    out = tmp_path_factory.mktemp("graded")
    subs = [ko(name) for name in EXPECTED] + ([SUBS / "no_license"] if BUILD else [])
    grade(out, *subs, extra=["--jobs", "2"])
    return out


def results_of(out, name):
    return json.loads((out / name / "results.json").read_text())


# ------------------------------------------------------------------------------ scores

@pytest.mark.parametrize("name", list(EXPECTED))
def test_scores_and_reasons(graded, name):
    score, failing, phrase = EXPECTED[name]
    doc = results_of(graded, name)
    assert doc["score"] == score, [(t["name"], t["output"][:200]) for t in doc["tests"]
                                   if t["status"] == "failed"]
    failed = {t["name"] for t in doc["tests"] if t["status"] == "failed"}
    assert failed == failing
    for t in doc["tests"]:
        if t["status"] == "failed":
            assert t["output"].strip(), t["name"]       # always a reason
            if phrase:
                assert phrase in t["output"], (t["name"], t["output"][:300])
            # a failure shows the kernel log
            assert "--- kernel log ---" in t["output"]


def test_oops_output_has_the_fault_explanation(graded):
    doc = results_of(graded, "null_deref")
    out = next(t["output"] for t in doc["tests"] if t["name"] == "test_parameters")
    assert "--- fault explanation ---" in out
    assert "kmodsim explain:" in out and "counter_init" in out


def test_scheduling_while_atomic_is_the_reason(graded):
    """The tests that check a clean log name the BUG first (the preemption-imbalance WARN
    the real kernel prints after it too comes second); the module loaded all the same."""
    for t in results_of(graded, "sleep_atomic")["tests"]:
        if t["status"] == "failed":
            assert t["output"].startswith("the kernel log shows: scheduling while atomic"), t
            assert "counter: sum=" in t["output"]       # init went on after the sleep


def test_not_simulated_is_kmodsim_s_limit(graded):
    """A call kmodsim cannot run is reported as that, naming the function: not as a crash
    or a student's bug; ``kmodsim check`` lists it before any run."""
    for t in results_of(graded, "not_simulated")["tests"]:
        if t["status"] == "failed":
            assert t["output"].startswith("insmod counter.ko: kmodsim cannot run kstrdup_const")
            assert "not a mistake in the submission" in t["output"]
            assert "crashed" not in t["output"] and "killed" not in t["output"]
    check = subprocess.run([sys.executable, "-m", "emulator.cli", "check",
                            str(ko("not_simulated"))], capture_output=True, text=True, cwd=ROOT)
    assert check.returncode == 1 and "  kstrdup_const\n" in check.stdout, check.stdout


def test_not_simulated_in_a_file_operation_unit():
    """A read whose fops stop at a call kmodsim cannot run fails the test with that reason
    (Lab.read), not with the bare TaskKilled of the stopped task."""
    from types import SimpleNamespace

    from emulator.grading.lab import Lab, LabFailure
    from emulator.kapi.registry import NotSimulatedCall
    from emulator.shell.syscalls import TaskKilled

    class Stopping:
        kapi = SimpleNamespace(stops=[])

        def open(self, path, flags):
            self.kapi.stops.append(NotSimulatedCall("kstrdup_const", "counter_show+0x1a [counter]"))
            raise TaskKilled(9)

        def dmesg(self):
            return ""

    with pytest.raises(LabFailure) as exc:
        Lab(Stopping(), None).read("/proc/counter")
    assert str(exc.value).startswith("reading /proc/counter: kmodsim cannot run kstrdup_const: "
                                      "the module called it (from counter_show+0x1a [counter])")


@pytest.mark.skipif(not BUILD, reason="the 6.1.0-56-amd64 headers are not installed")
def test_a_submission_that_does_not_build(graded):
    doc = results_of(graded, "no_license")
    assert doc["score"] == 0
    assert "missing MODULE_LICENSE() in counter.o" in doc["output"]
    assert all(t["status"] == "failed" and "did not build" in t["output"] for t in doc["tests"])
    pl = json.loads((graded / "no_license" / "results-pl.json").read_text())
    assert pl["gradable"] is False and pl["score"] == 0


@pytest.mark.skipif(not BUILD, reason="the 6.1.0-56-amd64 headers are not installed")
def test_a_submission_built_from_its_sources(tmp_path):
    """A directory with a Kbuild is built in a copy under --out (never in place) and graded."""
    before = sorted(os.listdir(SUBS / "correct"))
    grade(tmp_path, SUBS / "correct", extra=["--build", "always", "--jobs", "2",
                                             "--format", "gradescope"])
    doc = results_of(tmp_path, "correct")
    assert doc["score"] == 10
    assert "built from its sources" in doc["output"] and "LD [M]  counter.ko" in doc["output"]
    assert (tmp_path / "correct" / "build" / "counter.ko").is_file()
    assert sorted(os.listdir(SUBS / "correct")) == before


# ------------------------------------------------------------------------------ formats

GRADESCOPE_TEST_KEYS = {"name": str, "score": (int, float), "max_score": (int, float),
                        "status": str, "output": str, "visibility": str}


def test_gradescope_format(graded):
    for name in EXPECTED:
        doc = results_of(graded, name)
        assert isinstance(doc["score"], (int, float)) and isinstance(doc["tests"], list)
        assert "execution_time" not in doc               # --no-timing
        assert doc["visibility"] in ("hidden", "after_due_date", "after_published", "visible")
        assert doc["score"] == sum(t["score"] for t in doc["tests"])
        for t in doc["tests"]:
            for key, kind in GRADESCOPE_TEST_KEYS.items():
                assert isinstance(t[key], kind), (key, t)
            assert t["status"] in ("passed", "failed")
            assert t["visibility"] in ("hidden", "after_due_date", "after_published", "visible")
            assert 0 <= t["score"] <= t["max_score"]
        assert sum(t["max_score"] for t in doc["tests"]) == 10
    hidden = [t for t in results_of(graded, "correct")["tests"] if t["visibility"] == "hidden"]
    assert [t["name"] for t in hidden] == ["test_load_unload_twice"]


def test_gradescope_timing_by_default(tmp_path):
    grade(tmp_path, ko("correct"), extra=["--jobs", "1", "--format", "gradescope", "--timing"])
    doc = json.loads((tmp_path / "counter" / "results.json").read_text())   # one .ko: its stem
    assert isinstance(doc["execution_time"], float) and doc["execution_time"] > 0


def test_prairielearn_format(graded):
    for name, (score, _, _) in EXPECTED.items():
        doc = json.loads((graded / name / "results-pl.json").read_text())
        assert doc["gradable"] is True
        assert isinstance(doc["score"], float) and 0.0 <= doc["score"] <= 1.0
        assert doc["score"] == pytest.approx(score / 10)
        for t in doc["tests"]:
            assert {"name", "points", "max_points", "message", "output"} <= set(t)
            assert 0 <= t["points"] <= t["max_points"]


def test_junit_format(graded):
    for name, (score, failing, _) in EXPECTED.items():
        root = ET.parse(graded / name / "junit.xml").getroot()
        assert root.tag == "testsuites" and root.get("name") == name
        assert int(root.get("tests")) == 6 and int(root.get("failures")) == len(failing)
        cases = root.findall("./testsuite/testcase")
        assert len(cases) == 6
        failed = {c.get("name") for c in cases if c.find("failure") is not None}
        assert failed == failing
        for c in cases:
            assert c.get("time") is None                # --no-timing
            fail = c.find("failure")
            if fail is not None:
                assert fail.get("message") and fail.text


KTAP_LINE = re.compile(
    r"^(KTAP version 1"
    r"|1\.\.\d+"
    r"|(ok|not ok) \d+ [^#\n]+( # SKIP.*)?"
    r"|# .*"
    r"|    KTAP version 1"
    r"|    # Subtest: \S.*"
    r"|    1\.\.\d+"
    r"|    (ok|not ok) \d+ [^#\n]+( # SKIP.*)?"
    r"|    #( .*)?)$")


def test_ktap_format(graded):
    for name, (score, failing, _) in EXPECTED.items():
        lines = (graded / name / "results.ktap").read_text().splitlines()
        assert lines[:5] == ["KTAP version 1", "1..1", "    KTAP version 1",
                             "    # Subtest: test_counter", "    1..6"]
        for line in lines:
            assert KTAP_LINE.match(line), line
        results = [line for line in lines if re.match(r"^    (ok|not ok) \d+ ", line)]
        assert [int(line.split()[-2]) for line in results] == list(range(1, 7))
        assert {line.split()[-1] for line in results if "not ok" in line} == failing
        p = 6 - len(failing)
        assert f"# test_counter: pass:{p} fail:{len(failing)} skip:0 total:6" in lines
        assert f"# Totals: pass:{p} fail:{len(failing)} skip:0 total:6" in lines
        assert lines[-1] == ("not ok 1 test_counter" if failing else "ok 1 test_counter")


def test_ktap_skip_and_layout_unit():
    """A skipped case and a one-case suite, as lib/kunit/test.c prints them (no stats line
    for one case: stats_enabled=1)."""
    tests = [TestResult("t.py::a", "a", "t", "skipped", 0, 0, "visible", "no programs"),
             TestResult("u.py::b", "b", "u", "passed", 1, 1, "visible")]
    text = formats.ktap(SubmissionResult("s", "s.ko", tests))
    assert text == ("KTAP version 1\n1..2\n"
                    "    KTAP version 1\n    # Subtest: t\n    1..1\n"
                    "    ok 1 a # SKIP no programs\nok 1 t # SKIP \n"
                    "    KTAP version 1\n    # Subtest: u\n    1..1\n    ok 1 b\nok 2 u\n")


# ------------------------------------------------------------------------------ determinism

def test_identical_between_runs_and_jobs(graded, tmp_path):
    """--jobs 1 now gives the bytes --jobs 2 gave before, for every format."""
    grade(tmp_path, *[ko(n) for n in FAST], extra=["--jobs", "1"])
    for name in FAST:
        assert tree(tmp_path / name) == tree(graded / name), name


def test_dask_executor_identical(graded, tmp_path):
    pytest.importorskip("distributed")
    grade(tmp_path, ko("correct"), ko("warn"), extra=["--executor", "dask", "--jobs", "2"])
    for name in ("correct", "warn"):
        assert tree(tmp_path / name) == tree(graded / name), name


# ------------------------------------------------------------------------------ isolation

HOSTILE_TESTS = '''
import os, signal, time
import pytest

def test_crashes_its_worker(lab):
    lab.load()
    os.kill(os.getpid(), signal.SIGSEGV)

@pytest.mark.budget(seconds=2)
def test_hangs(lab):
    lab.load()
    time.sleep(60)

def test_exits(lab):
    os._exit(3)

@pytest.mark.points(3)
def test_fine(lab):
    lab.load(start=1)
    lab.unload()

def test_memory_hog(lab):
    hog = bytearray(8 << 30)
'''


def test_a_worker_that_dies_is_a_failed_test(tmp_path):
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_grade_hostile_sample.py").write_text(HOSTILE_TESTS)
    out = tmp_path / "out"
    grade(out, ko("correct"), ko("warn"), tests=tests, extra=["--jobs", "2"])
    for name in ("correct", "warn"):
        by_name = {t["name"]: t for t in results_of(out, name)["tests"]}
        assert by_name["test_fine"]["status"] == "passed" and by_name["test_fine"]["score"] == 3
        crash = by_name["test_crashes_its_worker"]
        assert crash["status"] == "failed"
        assert "worker process crashed (killed by signal 11 (SIGSEGV))" in crash["output"]
        hang = by_name["test_hangs"]
        assert hang["status"] == "failed" and "timed out" in hang["output"]
        assert "more than 2 s" in hang["output"]
        assert "exited with status 3" in by_name["test_exits"]["output"]
        assert by_name["test_memory_hog"]["status"] == "failed"
        assert "MemoryError" in by_name["test_memory_hog"]["output"]
        assert results_of(out, name)["score"] == 3


# ------------------------------------------------------------------------------ plugin

def test_plugin_under_plain_pytest():
    """pytest --submission: the plugin's fixtures; a failure shows the kernel log."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(TESTS),
         "--submission", str(ko("warn")), "-k", "test_parameters or defaults"],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert "1 failed, 1 passed" in proc.stdout, proc.stdout[-2000:]
    assert "kmodsim kernel log" in proc.stdout
    assert "kmodsim fault explanation" in proc.stdout
    assert "WARNING: CPU: 0 PID:" in proc.stdout


def test_markers_and_helpers_units():
    assert format_params({"start": 5, "name": "a b", "on": True, "xs": [1, 2]}) == \
        'start=5 name="a b" on=Y xs=1,2'
    assert trouble_in("[    1.0] BUG: kernel NULL pointer dereference, address: 0\n"
                      "[    1.1] WARNING: CPU: 0 PID: 84 at x.c:1 f+0x1/0x2 [m]\n") == \
        ["NULL pointer dereference (oops)", "WARN"]
    assert name_submissions(["a/counter.ko", "b/counter.ko", "c/other.ko", "d/x"]) == \
        [("a", "a/counter.ko"), ("b", "b/counter.ko"), ("other", "c/other.ko"), ("x", "d/x")]
    assert name_submissions(["a/counter.ko", "a/counter.ko"]) == \
        [("a", "a/counter.ko"), ("a-2", "a/counter.ko")]


def test_lab_shell_and_user_program():
    from emulator.grading.lab import Lab
    from emulator.kernel import Kernel
    with Kernel() as k:
        lab = Lab(k, str(ko("correct")))
        status, out = lab.sh("insmod counter.ko start=3; cat /proc/counter; rmmod counter")
        assert status == 0 and "start=3 steps=3 sum=12" in out
        assert lab.messages("counter")[-1] == "counter: bye"
        prog = ROOT / "samples/user/hello_musl"
        if not prog.is_file() or not hasattr(k, "run_program"):
            pytest.skip("no Kernel.run_program or no sample program")
        result = lab.run(str(prog))
        assert result.status == 0 and b"hello from musl" in result.output


# ------------------------------------------------------------------------------ CLI

def test_gradescope_bundle(tmp_path):
    assert main(["grade", "--gradescope-bundle", str(tmp_path / "b"), str(TESTS), "-q"]) == 0
    for name in ("setup.sh", "run_autograder"):
        path = tmp_path / "b" / name
        assert path.stat().st_mode & stat.S_IXUSR
        assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    assert "kmodsim grade tests /autograder/submission --format gradescope" in \
        (tmp_path / "b" / "run_autograder").read_text()
    assert (tmp_path / "b" / "tests" / "test_counter.py").is_file()
    assert (tmp_path / "b" / "kmodsim" / "pyproject.toml").is_file()


@pytest.mark.parametrize("argv, status, message", [
    (["grade", str(TESTS)], 2, "give TESTS and at least one SUBMISSION"),
    (["grade", str(TESTS), "x.ko", "--out", "o"], 1, "can't open 'x.ko'"),
    (["grade", str(TESTS), str(ko("correct"))], 2, "--out DIR is required"),
])
def test_command_line_errors(argv, status, message, capsys):
    assert main(argv) == status
    assert message in capsys.readouterr().err


def test_unknown_format_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["grade", str(TESTS), str(ko("correct")), "--out", "o", "--format", "csv"])
    assert exc.value.code == 2
    assert "unknown format csv" in capsys.readouterr().err


def test_tests_that_do_not_collect(tmp_path, capsys):
    (tmp_path / "test_broken.py").write_text("def test_x(:\n")
    assert main(["grade", str(tmp_path), str(ko("correct")), "--out", str(tmp_path / "o"),
                 "-q"]) == 1
    err = capsys.readouterr().err
    assert "do not collect" in err and "Traceback" not in err
