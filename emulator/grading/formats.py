"""The graders' result formats, each a pure function ``SubmissionResult -> text``.

==============  ==================  ==================================================
``gradescope``  ``results.json``    Gradescope's autograder output: top-level ``score``,
                                    ``execution_time``, ``output``, ``visibility``,
                                    ``stdout_visibility``, ``tests`` (``name``, ``score``,
                                    ``max_score``, ``status``, ``output``, ``visibility``)
``prairielearn````results-pl.json``  PrairieLearn's external-grader result: ``gradable``,
                                    ``score`` in [0, 1], ``message``, ``output``,
                                    ``tests`` (``name``, ``description``, ``points``,
                                    ``max_points``, ``message``, ``output``)
``junit``       ``junit.xml``       JUnit XML as Jenkins and GitLab read it
``ktap``        ``results.ktap``    KTAP version 1 as KUnit prints it in 6.1
                                    (lib/kunit/executor.c, lib/kunit/test.c): one suite per
                                    test file
==============  ==================  ==================================================

With ``timing=False`` nothing that depends on the clock is written (``execution_time``,
JUnit's ``time``), so two runs give the same bytes.
"""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from .results import FAILED, PASSED, SKIPPED, SubmissionResult, _num

FILES = {"gradescope": "results.json", "prairielearn": "results-pl.json",
         "junit": "junit.xml", "ktap": "results.ktap"}


def summary_line(sub: SubmissionResult):
    passed, failed, skipped = sub.counts()
    line = f"Score: {sub.score}/{sub.max_score} ({passed} passed, {failed} failed"
    return line + (f", {skipped} skipped)" if skipped else ")")


def _build_note(sub):
    if sub.build_log is None:
        return ""
    head = "The submission was built from its sources" if sub.gradable else \
        "The submission did not build"
    return f"{head}:\n{sub.build_log}".rstrip() + "\n"


def gradescope(sub: SubmissionResult, timing=True):
    """Gradescope's results.json (gradescope-autograders.readthedocs.io, "Autograder
    Specifications")."""
    doc = {"score": sub.score}
    if timing:
        doc["execution_time"] = round(sub.execution_time, 3)
    doc["output"] = summary_line(sub) + "\n" + _build_note(sub)
    doc["visibility"] = "visible"
    doc["stdout_visibility"] = "hidden"
    doc["tests"] = [{
        "name": t.name,
        "score": _num(t.score),
        "max_score": _num(t.max_score),
        "status": PASSED if t.status != FAILED else FAILED,
        "output": t.output if t.status != PASSED else (t.output or "passed"),
        "visibility": t.visibility,
    } for t in sub.tests]
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def prairielearn(sub: SubmissionResult, timing=True):
    """PrairieLearn's external grading results.json (docs "Externally graded questions",
    "Grading results"): ``score`` is the fraction of points earned."""
    max_score = sub.max_score
    doc = {
        "gradable": sub.gradable,
        "score": round(sub.score / max_score, 6) if max_score else 0.0,
        "message": summary_line(sub) if sub.gradable else
        "The submission did not build; nothing could be tested.",
        "output": _build_note(sub),
        "tests": [{
            "name": t.name,
            "description": t.doc or t.nodeid,
            "points": _num(t.score),
            "max_points": _num(t.max_score),
            "message": t.message if t.status != PASSED else "passed",
            "output": t.output,
        } for t in sub.tests],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def junit(sub: SubmissionResult, timing=True):
    """JUnit XML: one <testsuite> per test file inside a <testsuites> named after the
    submission."""
    passed, failed, skipped = sub.counts()
    root = ET.Element("testsuites", {"name": sub.name, "tests": str(len(sub.tests)),
                                     "failures": str(failed), "errors": "0",
                                     "skipped": str(skipped)})
    if timing:
        root.set("time", f"{sub.execution_time:.3f}")
    for suite, tests in _by_suite(sub.tests):
        s = ET.SubElement(root, "testsuite", {
            "name": suite, "tests": str(len(tests)),
            "failures": str(sum(t.status == FAILED for t in tests)), "errors": "0",
            "skipped": str(sum(t.status == SKIPPED for t in tests))})
        if timing:
            s.set("time", f"{sum(t.duration for t in tests):.3f}")
        for t in tests:
            case = ET.SubElement(s, "testcase", {"classname": f"{sub.name}.{suite}",
                                                 "name": t.name})
            if timing:
                case.set("time", f"{t.duration:.3f}")
            props = ET.SubElement(case, "properties")
            for key, value in (("points", _num(t.max_score)), ("score", _num(t.score)),
                               ("visibility", t.visibility)):
                ET.SubElement(props, "property", {"name": key, "value": str(value)})
            if t.status == FAILED:
                fail = ET.SubElement(case, "failure", {"message": _first_line(t.message),
                                                       "type": "failure"})
                fail.text = _xml_text(t.output + ("\n" + t.details if t.details and
                                                  t.details != t.message else ""))
            elif t.status == SKIPPED:
                ET.SubElement(case, "skipped", {"message": _first_line(t.message)})
    ET.indent(root)
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            + ET.tostring(root, encoding="unicode") + "\n")


def ktap(sub: SubmissionResult, timing=True):
    """KTAP version 1 as 6.1's KUnit prints a run (lib/kunit/executor.c
    kunit_exec_run_tests, lib/kunit/test.c kunit_run_tests): the run's header and plan,
    then per suite (a test file) an indented subtest with its plan, a line per test case,
    the suite's stats when it has more than one case (stats_enabled=1) and its result.
    A failing case's reason comes before its result line as ``# name: ...`` diagnostics,
    as kunit_err() prints them."""
    suites = _by_suite(sub.tests)
    out = ["KTAP version 1", f"1..{len(suites)}"]
    for number, (suite, tests) in enumerate(suites, 1):
        out += ["    KTAP version 1", f"    # Subtest: {_desc(suite)}", f"    1..{len(tests)}"]
        for i, t in enumerate(tests, 1):
            if t.status == FAILED:
                lines = (t.output or t.message or "failed").rstrip("\n").split("\n")
                out.append(f"    # {_desc(t.name)}: {_diag(lines[0])}")
                out += [f"    # {_diag(line)}".rstrip() for line in lines[1:]]
            ok = "not ok" if t.status == FAILED else "ok"
            skip = f" # SKIP {_diag(_first_line(t.message))}" if t.status == SKIPPED else ""
            out.append(f"    {ok} {i} {_desc(t.name)}{skip}")
        p, f, s = (sum(t.status == x for t in tests) for x in (PASSED, FAILED, SKIPPED))
        if len(tests) > 1:
            out.append(f"# {_desc(suite)}: pass:{p} fail:{f} skip:{s} total:{len(tests)}")
            out.append(f"# Totals: pass:{p} fail:{f} skip:{s} total:{len(tests)}")
        status = "not ok" if f else "ok"
        skip = " # SKIP " if not f and not p and s else ""
        out.append(f"{status} {number} {_desc(suite)}{skip}")
    return "\n".join(out) + "\n"


WRITERS = {"gradescope": gradescope, "prairielearn": prairielearn, "junit": junit, "ktap": ktap}


def _by_suite(tests):
    suites = {}
    for t in tests:
        suites.setdefault(t.suite, []).append(t)
    return list(suites.items())


def _first_line(text):
    return (text or "").strip().split("\n", 1)[0]


def _desc(text):
    """A KTAP description: no ``#`` (it starts a directive), one line."""
    return _first_line(text).replace("#", "_") or "unnamed"


def _diag(text):
    """A diagnostic line's text: printable, one line."""
    return "".join(c if c.isprintable() or c == "\t" else "?" for c in text)


def _xml_text(text):
    """Text XML 1.0 can carry (a kernel log may hold control characters)."""
    return "".join(c if c in "\t\n\r" or (" " <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd")
                   else "?" for c in text)
