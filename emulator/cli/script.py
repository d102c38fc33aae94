"""``kmodsim script SCENARIO.sh MODULE...``: a busybox scenario against a simulated kernel.

It takes the same arguments as ``../shared/tools/realkernel`` and frames its output the same
way (``=== SCENARIO``, the scenario's output with the console lines where they appeared,
``=== DMESG``, the kernel log written during the scenario, ``=== END``), so
``scenario-diff REAL SIM`` can compare the two. ``kmodsim shell`` (:mod:`emulator.cli.shell`)
runs the same commands typed one line at a time.
"""

import os
import sys

from linker.profiles import DEFAULT_PROFILE

from ..errors import KernelPanic
from ..kernel import Kernel
from ..logbuf import format_record
from ..shell import Shell
from ..system import KernelSystem
from . import COMMANDS


def add_parser(sub):
    p = sub.add_parser("script", help=COMMANDS["script"],
                       description="Run SCENARIO.sh as realkernel runs it in its guest, with the "
                                   "MODULEs in /mods, and print the same framed output.")
    p.add_argument("scenario", metavar="SCENARIO.sh")
    p.add_argument("modules", nargs="*", metavar="MODULE")
    p.add_argument("--profile", default=None, metavar="P")
    p.set_defaults(run=run)
    return p


def read_modules(paths):
    """What /mods holds: each file's bytes under its base name."""
    mods = {}
    for path in paths:
        with open(path, "rb") as fh:
            mods[os.path.basename(path)] = fh.read()
    return mods


def scenario_output(scenario_text, modules, profile=None):
    """The framed text realkernel prints, produced by kmodsim."""
    k = Kernel(profile or DEFAULT_PROFILE)
    system = KernelSystem(k)
    shell = Shell(system, modules)
    try:
        shell.run_script(scenario_text)
    except KernelPanic:             # the guest is dead: no more commands, and no dmesg
        shell.flush_console()
    start = system.clear_index      # what `dmesg -c` in the scenario cleared is gone
    out = ["=== SCENARIO\n", shell.output.decode("latin-1")]
    if not out[-1].endswith("\n") and out[-1]:
        out.append("\n")
    if k.panicked is not None:      # realkernel's VM restarts (panic=-1): the output ends
        return "".join(out)
    out.append("=== DMESG\n")
    out += [format_record(r) + "\n" for r in k.log[start:]]
    out.append("=== END\n")
    return "".join(out)


def run(args):
    with open(args.scenario, encoding="utf-8", errors="surrogateescape") as fh:
        text = fh.read()
    sys.stdout.buffer.write(scenario_output(text, read_modules(args.modules), args.profile)
                            .encode("latin-1"))
    return 0
