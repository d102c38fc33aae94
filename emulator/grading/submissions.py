"""The submissions ``kmodsim grade`` is given: names, and modules built from sources.

A submission is a ``.ko`` file, or a directory. A directory with a ``Kbuild`` (or a
``Makefile``) is built as an external module, ``make -C /lib/modules/RELEASE/build M=DIR
modules`` (RELEASE: the profile's kernel, 6.1.0-56-amd64), in a copy of it under the output
directory (the student's directory is never written), when that kernel's headers are
installed; without them, or without a Kbuild, the directory's one ``.ko`` is graded. A
submission that does not build fails every test with make's output as the reason.

Names: a directory's name; a ``.ko``'s stem (``counter``), or its directory's name when
several submissions share a stem (``alice/counter.ko``, ``bob/counter.ko``), made unique
with ``-2``, ``-3``... in the order given.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

RELEASE = "6.1.0-56-amd64"
BUILD_TIMEOUT = 300           # seconds a make may take
MAX_LOG = 8000                # characters of make's output kept for the results


@dataclass
class Submission:
    name: str
    source: str                  # what the user named
    module: str | None = None    # the .ko to grade (None: nothing to grade)
    build_log: str | None = None  # make's output, when it was built
    error: str | None = None     # why there is no module


def name_submissions(paths):
    """``[(name, path)]`` in the order given, the names unique."""
    stems = {}
    for path in paths:
        stems.setdefault(_stem(path), []).append(path)
    names, out = set(), []
    for path in paths:
        base = _stem(path)
        if not os.path.isdir(path) and len(stems[base]) > 1:
            parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
            base = parent or base
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}-{n}"
        names.add(name)
        out.append((name, path))
    return out


def _stem(path):
    base = os.path.basename(os.path.normpath(path))
    return base[:-3] if base.endswith(".ko") and not os.path.isdir(path) else base


def headers_dir(release=RELEASE):
    """The kbuild tree modules are built against, or None when it is not installed."""
    for candidate in (f"/lib/modules/{release}/build", f"/usr/src/linux-headers-{release}"):
        if os.path.isfile(os.path.join(candidate, "Makefile")):
            return candidate
    return None


def prepare(name, path, build_root, build="auto"):
    """The Submission for ``path``: a .ko as it is, a directory built or its .ko found.
    ``build``: ``auto`` (build a Kbuild directory when the headers are there), ``always``,
    ``never``."""
    if not os.path.isdir(path):
        return Submission(name, path, module=path)
    kos = sorted(f for f in os.listdir(path) if f.endswith(".ko"))
    has_kbuild = any(os.path.isfile(os.path.join(path, f)) for f in ("Kbuild", "Makefile"))
    kdir = headers_dir()
    if has_kbuild and build != "never" and (kdir is not None or build == "always"):
        if kdir is None:
            return Submission(name, path, error=f"cannot build {path}: the headers of "
                              f"{RELEASE} are not installed (linux-headers-{RELEASE})")
        return build_module(name, path, os.path.join(build_root, name, "build"), kdir)
    if len(kos) == 1:
        return Submission(name, path, module=os.path.join(path, kos[0]))
    if not kos:
        why = "no .ko in it" + ("" if not has_kbuild else
                                f", and the headers of {RELEASE} are not installed to build it")
    else:
        why = f"{len(kos)} .ko files in it ({', '.join(kos)}): give the one to grade"
    return Submission(name, path, error=f"nothing to grade in {path}: {why}")


def build_module(name, path, build_dir, kdir):
    """Copy the sources to ``build_dir`` and build there; the Submission says how it went."""
    if os.path.isdir(build_dir):
        shutil.rmtree(build_dir)
    shutil.copytree(path, build_dir, ignore=shutil.ignore_patterns(
        "*.ko", "*.o", "*.mod", "*.mod.c", ".*.cmd", "modules.order", "Module.symvers"))
    # the compiler's file names relative to the build directory: the logs and the debug
    # info do not depend on where --out is
    cmd = ["make", "-C", kdir, f"M={os.path.abspath(build_dir)}",
           f"KCFLAGS=-ffile-prefix-map={os.path.abspath(build_dir)}/=", "modules"]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=BUILD_TIMEOUT)
        log = proc.stdout.decode("utf-8", "replace")
        ok = proc.returncode == 0
    except subprocess.TimeoutExpired:
        log, ok = f"make did not finish in {BUILD_TIMEOUT} s\n", False
    except OSError as exc:
        log, ok = f"make could not run: {exc.strerror}\n", False
    log = _tidy_log(log, build_dir, kdir)
    kos = sorted(f for f in os.listdir(build_dir) if f.endswith(".ko"))
    if not ok or len(kos) != 1:
        why = "make failed" if not ok else f"make built {len(kos)} modules, not one"
        return Submission(name, path, build_log=log, error=f"the submission did not build ({why})")
    return Submission(name, path, module=os.path.join(build_dir, kos[0]), build_log=log)


def _tidy_log(log, build_dir, kdir):
    """make's output without the lines that name host directories, shortened."""
    keep = []
    for line in log.splitlines():
        if line.startswith("make") and ("Entering directory" in line or "Leaving directory" in line):
            continue
        keep.append(line.replace(os.path.abspath(build_dir) + "/", "").replace(kdir, "KDIR"))
    text = "\n".join(keep) + ("\n" if keep else "")
    return text if len(text) <= MAX_LOG else "...\n" + text[-MAX_LOG:]
