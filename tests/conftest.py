"""Shared fixtures: where the samples and ../shared live, skips when they do not, and
``run_cli`` for running the ``kmodsim`` command in-process."""

import contextlib
import io
import shutil
import sys
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SHARED = ROOT.parent / "shared"
GOLDEN = SHARED / "golden" / "seed-modules"


def sample_objects():
    """Every committed sample object: hobby ``.o`` and Linux ``.ko``."""
    return sorted(SAMPLES.glob("hobby/*.o")) + sorted(SAMPLES.glob("linux/*/*.ko"))


def golden_modules():
    return sorted(GOLDEN.glob("*/*.ko")) if GOLDEN.is_dir() else []


def _plain_new(cls, *args, **kwargs):
    return object.__new__(cls)


@pytest.fixture(autouse=True)
def _close_kernels():
    """Every Kernel a test makes is closed when the test ends (Kernel.close(): Unicorn's
    memory goes back at once, not when the garbage collector runs). A kernel a module- or
    session-scoped fixture made is set up before this fixture and lives on.

    Kernel.__new__ is replaced, not monkeypatched: deleting a ``__new__`` set on a class
    leaves CPython's slot refusing constructor arguments (``object.__new__() takes exactly
    one argument``) for every Kernel made outside a test afterwards."""
    from emulator.kernel import Kernel
    made = []

    def new_and_track(cls, *args, **kwargs):     # __init__ stays as it is (tests patch it)
        k = object.__new__(cls)
        made.append(k)
        return k

    Kernel.__new__ = new_and_track
    try:
        yield
    finally:
        Kernel.__new__ = _plain_new
        for k in made:
            if hasattr(k, "machine"):        # a Kernel() that raised half-way has none
                k.close()


@pytest.fixture
def samples_dir():
    return SAMPLES


@pytest.fixture
def need_tool():
    def need(name):
        if shutil.which(name) is None:
            pytest.skip(f"{name} is not installed")
    return need


class CliRun:
    """What ``subprocess.run(capture_output=True)`` would report: exit status, stdout, stderr."""

    __slots__ = ("returncode", "stdout", "stderr")

    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    def __repr__(self):
        return (f"CliRun(returncode={self.returncode!r}, stdout={self.stdout!r}, "
                f"stderr={self.stderr!r})")


def _stream_like(real):
    """A text stream over a BytesIO, encoded as ``real`` (the process's own stdout/stderr)
    is, so the bytes are those a ``python -m emulator.cli`` child would write to a pipe."""
    encoding = getattr(real, "encoding", None) or "utf-8"
    errors = getattr(real, "errors", None) or "strict"
    return io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors=errors, newline="\n")


def run_cli(*argv, cwd=None):
    """``kmodsim ARGV`` in this process, through ``emulator.cli.main``, as a ``CliRun``.

    stdout and stderr are fresh text streams with a ``.buffer`` (the CLI writes to both
    layers), read back as bytes. As the interpreter would, ``SystemExit`` (argparse's usage
    errors, ``--help``) becomes its exit status and an uncaught exception a traceback on
    stderr and status 1. ``cwd`` is entered for the call only.

    Saves the start-up of a Python process (and its numpy import) per call; keep one or two
    real ``python -m emulator.cli`` runs per command to cover the entry point itself.
    """
    from emulator.cli import main

    out, err = _stream_like(sys.__stdout__), _stream_like(sys.__stderr__)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        with contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext():
            try:
                rc = main([str(a) for a in argv])
            except SystemExit as exc:
                code = exc.code
                if code is None:
                    rc = 0
                elif isinstance(code, int):
                    rc = code
                else:
                    print(code, file=sys.stderr)
                    rc = 1
            except Exception:                   # the interpreter's report of a crash
                traceback.print_exc()
                rc = 1
        out.flush()
        err.flush()
    finally:
        sys.stdout, sys.stderr = saved
    rc = 0 if rc is None else rc
    return CliRun(rc & 0xFF, out.buffer.getvalue(), err.buffer.getvalue())
