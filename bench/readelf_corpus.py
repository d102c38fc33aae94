"""Compare ``kmodsim readelf`` with GNU binutils' ``readelf -W`` over a module corpus.

    python bench/readelf_corpus.py [PATH ...] [--arch amd64|i386] [--opts -h --opts -S ...]
                                   [--limit N] [--every K]

Each PATH is a ``.ko``/``.o`` file or a folder searched for them; with no PATH, the Debian
12 tree that ``../shared/tools/debian-modules ARCH`` unpacks. Every file is compared with
each option (default ``-h``, ``-S``, ``-s``, ``-r``): kmodsim's stdout against readelf's,
byte for byte, with readelf run in the C locale. ``--every K`` takes every K-th file of the
sorted list (a spread-out sample). Prints the counts and the first mismatches as diffs;
exits 1 if anything differs, 2 when readelf or the corpus is missing.
"""

import argparse
import difflib
import os
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

from emulator.cli.readelf import render  # noqa: E402
from linker.elf.reader import ElfFile  # noqa: E402
from linker.errors import ElfError  # noqa: E402

OPTIONS = ("-h", "-S", "-s", "-r")
_FLAGS = {"-h": "header", "-S": "sections", "-s": "symbols", "-r": "relocs"}


def readelf_version():
    """readelf's version string (``2.40``...), or ``None`` when it is not installed."""
    if shutil.which("readelf") is None:
        return None
    first = subprocess.run(["readelf", "--version"], capture_output=True, text=True).stdout
    words = first.splitlines()[0].split() if first else []
    return words[-1] if words else None


def theirs(path, opt):
    env = dict(os.environ, LC_ALL="C")
    return subprocess.run(["readelf", "-W", opt, str(path)], capture_output=True, env=env).stdout


def ours(path, opt):
    """kmodsim's stdout; like the command, nothing at all for a file that is not ELF."""
    with open(path, "rb") as fh:
        if fh.read(4) != b"\x7fELF":
            return b""
    try:
        elf = ElfFile.from_path(path)
    except ElfError as exc:
        return f"<ElfError: {exc.message}>".encode()
    return render(elf, **{_FLAGS[opt]: True}).encode("latin-1")


def collect(paths):
    files = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*")
                                if q.suffix in (".ko", ".o") and q.is_file()))
        else:
            files.append(p)
    return files


def compare(files, options=OPTIONS, workers=2):
    """``(comparisons, mismatches)``; a mismatch is ``(path, option, ours, theirs)``."""
    jobs = [(f, o) for f in files for o in options]
    bad = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for (path, opt), want in zip(jobs, pool.map(lambda j: theirs(*j), jobs)):
            got = ours(path, opt)
            if got != want:
                bad.append((path, opt, got, want))
    return len(jobs), bad


def show_diff(path, opt, got, want, lines=12):
    diff = difflib.unified_diff(want.decode("latin-1").splitlines(),
                                got.decode("latin-1").splitlines(),
                                "readelf", "kmodsim", lineterm="", n=1)
    print(f"MISMATCH {path} {opt}")
    for i, line in enumerate(diff):
        if i >= lines:
            print("  ...")
            break
        print("  " + line)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--arch", default="amd64", choices=("amd64", "i386"))
    ap.add_argument("--opts", action="append", choices=OPTIONS)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--show", type=int, default=5, help="mismatches to print")
    a = ap.parse_args(argv)
    version = readelf_version()
    if version is None:
        print("readelf is not installed")
        return 2
    if a.paths:
        files = collect(a.paths)
    else:
        root = corpus_dir(a.arch)
        if root is None:
            print("corpus not available")
            return 2
        files = collect([root])
    files = files[::a.every][:a.limit]
    options = tuple(a.opts or OPTIONS)
    t0 = time.perf_counter()
    total, bad = compare(files, options)
    dt = time.perf_counter() - t0
    print(f"readelf {version}  files: {len(files)}  options: {' '.join(options)}  "
          f"comparisons: {total}  mismatches: {len(bad)}  ({dt:.1f} s)")
    for path, opt, got, want in bad[:a.show]:
        show_diff(path, opt, got, want)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
