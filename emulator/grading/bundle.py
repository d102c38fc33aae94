"""``kmodsim grade --gradescope-bundle DIR [TESTS]``: the files of a Gradescope autograder.

Gradescope builds an image from a zip holding ``setup.sh`` (run once, as root, in
``/autograder/source``) and runs ``run_autograder`` for each submission, the student's files
in ``/autograder/submission``, expecting ``/autograder/results/results.json``. The bundle:

- ``setup.sh``: installs Python, make and gcc, then kmodsim (the copy in ``kmodsim/`` when
  the bundle carries one, else ``pip install kmodsim``);
- ``run_autograder``: ``kmodsim grade tests /autograder/submission --format gradescope``;
  a run that fails outright still leaves a results.json saying so;
- ``tests/``: the grading tests, when TESTS is given;
- ``kmodsim/``: kmodsim's own sources (pyproject.toml, linker/, emulator/), when it runs
  from a source checkout.

Zip DIR's contents (not DIR itself) and upload the zip. A student submits the ``.ko``, or
the sources with a Kbuild when the image has the 6.1.0-56-amd64 headers to build them.
"""

from __future__ import annotations

import os
import shutil
import stat

SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3 python3-pip make gcc >/dev/null
cd /autograder/source
if [ -f kmodsim/pyproject.toml ]; then
    python3 -m pip install -q ./kmodsim
else
    python3 -m pip install -q kmodsim
fi
kmodsim --help >/dev/null
"""

RUN = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission: the student's files are in
# /autograder/submission, the results go to /autograder/results/results.json.
set -uo pipefail
cd /autograder/source
out=$(mktemp -d)
if kmodsim grade tests /autograder/submission --format gradescope --out "$out" \\
        --jobs 1 --timeout {timeout:g}; then
    cp "$out/submission/results.json" /autograder/results/results.json
else
    cat > /autograder/results/results.json <<'EOF'
{{"score": 0, "output": "The autograder could not run (kmodsim grade failed); its output is in the autograder log."}}
EOF
fi
"""

SOURCE_PARTS = ("pyproject.toml", "README.md", "linker", "emulator")


def write_bundle(folder, tests=None, timeout=60.0):
    """Write the bundle into ``folder``; the paths written (files and copied trees)."""
    os.makedirs(folder, exist_ok=True)
    written = []
    for name, text in (("setup.sh", SETUP), ("run_autograder", RUN.format(timeout=timeout))):
        path = os.path.join(folder, name)
        with open(path, "w", newline="\n") as fh:
            fh.write(text)
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        written.append(path)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    if tests is not None:
        dest = os.path.join(folder, "tests")
        if os.path.isdir(dest):
            shutil.rmtree(dest)
        if os.path.isdir(tests):
            shutil.copytree(tests, dest, ignore=ignore)
        else:
            os.makedirs(dest)
            shutil.copy2(tests, dest)
        written.append(dest)
    root = source_root()
    if root is not None:
        dest = os.path.join(folder, "kmodsim")
        if os.path.isdir(dest):
            shutil.rmtree(dest)
        os.makedirs(dest)
        for part in SOURCE_PARTS:
            src = os.path.join(root, part)
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(dest, part), ignore=ignore)
            elif os.path.isfile(src):
                shutil.copy2(src, dest)
        written.append(dest)
    return written


def source_root():
    """The checkout kmodsim runs from (the directory holding pyproject.toml), or None when
    it was installed from a wheel."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return here if os.path.isfile(os.path.join(here, "pyproject.toml")) else None
