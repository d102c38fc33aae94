"""Compare ``kmodsim modinfo`` with kmod's ``modinfo`` over a module corpus.

    python bench/modinfo_corpus.py [DIR] [--opts "-0" --opts "-p" ...] [--limit N]

DIR defaults to the Debian 12 amd64 tree that ``../shared/tools/debian-modules amd64``
unpacks. For each ``.ko`` under it, both tools run with each option set and their stdout,
stderr and exit status are compared byte for byte. Prints the counts and the first
mismatches; exits 1 if any module differs. Needs kmod's ``modinfo`` on PATH.
"""

import argparse
import contextlib
import io
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from corpus import corpus_dir  # noqa: E402  (one way to find the Debian tree)

from emulator.cli import modinfo as cli_modinfo  # noqa: E402



def ours(path, opts):
    """kmodsim modinfo in-process: (stdout bytes, stderr text, status)."""
    out, err = io.BytesIO(), io.StringIO()
    parser = cli_modinfo.add_parser(_Sub())
    args = parser.parse_args(opts + [str(path)])

    class _Stdout:
        buffer = out

    with contextlib.redirect_stderr(err):
        saved = sys.stdout
        sys.stdout = _Stdout
        try:
            rc = args.run(args)
        finally:
            sys.stdout = saved
    return out.getvalue(), err.getvalue(), rc


class _Sub:
    """Just enough of argparse's subparsers object for ``add_parser``."""

    def add_parser(self, name, **kw):
        kw.pop("help", None)
        return argparse.ArgumentParser(prog=name, **kw)


def theirs(path, opts):
    r = subprocess.run(["modinfo", *opts, str(path)], capture_output=True)
    return r.stdout, r.stderr.decode("latin-1"), 0 if r.returncode == 0 else 1


def compare(paths, option_sets):
    mismatches = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for opts in option_sets:
            real = pool.map(lambda p: theirs(p, opts), paths)
            for path, want in zip(paths, real):
                got = ours(path, opts)
                if got != want:
                    mismatches.append((path, opts, got, want))
    return mismatches


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?")
    ap.add_argument("--opts", action="append", default=None,
                    help='an option set, e.g. "-0" (repeatable; default: "", "-0", "-p")')
    ap.add_argument("--limit", type=int)
    a = ap.parse_args(argv)
    if shutil.which("modinfo") is None:
        print("kmod's modinfo is not installed")
        return 2
    root = Path(a.dir) if a.dir else corpus_dir()
    if root is None:
        print("corpus not available")
        return 2
    paths = sorted(root.rglob("*.ko"))[:a.limit]
    option_sets = [o.split() for o in (a.opts or ["", "-0", "-p"])]
    t0 = time.perf_counter()
    bad = compare(paths, option_sets)
    dt = time.perf_counter() - t0
    print(f"modules: {len(paths)}  option sets: {option_sets}  comparisons: "
          f"{len(paths) * len(option_sets)}  mismatches: {len(bad)}  ({dt:.1f} s)")
    for path, opts, got, want in bad[:10]:
        print(f"MISMATCH {path} {opts}\n  ours:   {got!r:.300}\n  theirs: {want!r:.300}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
