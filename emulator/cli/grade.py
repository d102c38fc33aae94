"""``kmodsim grade TESTS SUBMISSION... --format F --out DIR``: grade kernel modules.

Runs the pytest grading tests at TESTS (a file or a directory; fixtures and markers from
:mod:`emulator.grading.plugin`) against each SUBMISSION (a ``.ko``, or a directory with a
Kbuild, built when the 6.1.0-56-amd64 headers are installed), each (submission, test) in a
process of its own with memory and time caps, ``--jobs`` at a time (or on Dask with
``--executor dask``). Writes ``DIR/<submission>/`` in each format asked (``gradescope``:
results.json, ``prairielearn``: results-pl.json, ``junit``: junit.xml, ``ktap``:
results.ktap) and prints one line per submission: its score and why it lost points.

``kmodsim grade --gradescope-bundle DIR [TESTS]`` writes the ``setup.sh`` and
``run_autograder`` of a Gradescope autograder instead (:mod:`emulator.grading.bundle`).

Exit status: 0 when every submission was graded (whatever its score), 1 when grading could
not run (the tests do not collect, a submission is missing), 2 for a command-line error.
"""

import argparse
import os
import sys

from . import COMMANDS
from .common import parse_size

FORMATS = ("gradescope", "prairielearn", "junit", "ktap")


def add_parser(sub):
    p = sub.add_parser("grade", help=COMMANDS["grade"],
                       description="Run pytest grading tests against kernel-module "
                                   "submissions and write Gradescope, PrairieLearn, JUnit "
                                   "and KTAP results.")
    p.add_argument("tests", metavar="TESTS", nargs="?",
                   help="the grading tests: a pytest file or directory")
    p.add_argument("submissions", metavar="SUBMISSION", nargs="*",
                   help="a .ko, or a directory of sources with a Kbuild file")
    p.add_argument("--format", default="gradescope", type=_formats, metavar="F[,F...]",
                   help=f"result formats, comma-separated: {', '.join(FORMATS)} "
                        "(default gradescope)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="where DIR/<submission>/ results go (required to grade)")
    p.add_argument("--jobs", "-j", type=_positive_int, default=0, metavar="N",
                   help="tests run at once (default: every core)")
    p.add_argument("--timeout", type=_positive_float, default=60.0, metavar="S",
                   help="a test's wall-clock limit in seconds, unless its budget marker "
                        "says otherwise (default 60): an overrun fails that test")
    p.add_argument("--worker-memory", type=parse_size, default=2 << 30, metavar="SIZE",
                   help="address space a test's process may add (default 2G)")
    p.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="run the tests in local processes (default) or on Dask")
    p.add_argument("--scheduler", default=None, metavar="ADDR",
                   help="with --executor dask: the scheduler, tcp://host:8786 (default: a "
                        "LocalCluster of --jobs workers)")
    p.add_argument("--build", choices=("auto", "always", "never"), default="auto",
                   help="build a submission directory with a Kbuild: when the headers are "
                        "installed (auto), always, or never (grade the .ko in it)")
    p.add_argument("--no-timing", dest="timing", action="store_false",
                   help="leave execution times out of the results (byte-identical reruns)")
    p.add_argument("--timing", dest="timing", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress bar and no summary")
    p.add_argument("--gradescope-bundle", default=None, metavar="DIR",
                   help="write Gradescope's setup.sh and run_autograder (and TESTS, if given) "
                        "into DIR instead of grading")
    p.set_defaults(run=run)
    return p


def _formats(text):
    names = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in names if f not in FORMATS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown format {', '.join(bad) or repr(text)} (choose from {', '.join(FORMATS)})")
    return list(dict.fromkeys(names))


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive number: {text!r}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {text!r}")
    return value


def run(args):
    from ..grading.runner import GradeError
    try:
        return _run(args)
    except GradeError as exc:
        print(f"kmodsim grade: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, BrokenPipeError):
        raise                              # emulator.cli.main: 130, 141
    except OSError as exc:                 # --out cannot be written, ...
        print(f"kmodsim grade: {exc.filename or ''}: {exc.strerror}", file=sys.stderr)
        return 1
    except Exception as exc:               # noqa: BLE001 - a bug of ours: one line, not a traceback
        if os.environ.get("KMODSIM_DEBUG"):
            raise
        print(f"kmodsim grade: internal error: {type(exc).__name__}: {exc} "
              f"(KMODSIM_DEBUG=1 shows where)", file=sys.stderr)
        return 1


def _run(args):
    if args.gradescope_bundle is not None:
        from ..grading.bundle import write_bundle
        if args.tests is not None and not os.path.exists(args.tests):
            return _error(f"can't open '{args.tests}': No such file or directory")
        write_bundle(args.gradescope_bundle, args.tests, args.timeout)
        if not args.quiet:
            print(f"wrote {args.gradescope_bundle}/setup.sh and run_autograder"
                  + (" and tests/" if args.tests else "")
                  + f"; zip the contents of {args.gradescope_bundle} for Gradescope")
        return 0
    if args.tests is None or not args.submissions:
        return _usage("give TESTS and at least one SUBMISSION (or --gradescope-bundle DIR)")
    if args.out is None:
        return _usage("--out DIR is required: the results go to DIR/<submission>/")
    if args.scheduler is not None and args.executor != "dask":
        return _usage("--scheduler needs --executor dask")
    for path in [args.tests, *args.submissions]:
        if not os.path.exists(path):
            return _error(f"can't open '{path}': No such file or directory")
    from ..grading.grader import Options, Progress, grade, summary, write_results
    options = Options(jobs=args.jobs, timeout=args.timeout, worker_memory=args.worker_memory,
                      executor=args.executor, scheduler=args.scheduler, build=args.build)
    progress = None if args.quiet else Progress(sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    graded = grade(args.tests, args.submissions, args.out, options, progress)
    write_results(graded, args.out, args.format, timing=args.timing)
    if not args.quiet:
        sys.stdout.write(summary(graded))
    return 0


def _usage(message):
    print(f"usage: kmodsim grade TESTS SUBMISSION... --out DIR [--format F]\n"
          f"kmodsim grade: error: {message}", file=sys.stderr)
    return 2


def _error(message):
    print(f"kmodsim grade: {message}", file=sys.stderr)
    return 1
