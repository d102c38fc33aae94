"""``kmodsim script SCENARIO.sh MODULE...``: a busybox scenario against a simulated kernel.

It takes the same arguments as ``../shared/tools/realkernel`` and frames its output the same
way (``=== SCENARIO``, the scenario's output with the console lines where they appeared,
``=== DMESG``, the kernel log written during the scenario, ``=== END``), so
``scenario-diff REAL SIM`` can compare the two. ``kmodsim shell`` (:mod:`emulator.cli.shell`)
runs the same commands typed one line at a time.
"""

import argparse
import json
import os
import sys

from linker.profiles import DEFAULT_PROFILE

from ..checks import parse_checks
from ..errors import KernelPanic, MemoryLimitExceeded
from ..kernel import DEFAULT_MAX_MEMORY, Kernel
from ..shell import Shell
from ..system import KernelSystem
from . import COMMANDS
from .common import EXIT_MEMORY, EXIT_NOT_SIMULATED, parse_size, read_module
from .files import MAX_TEXT_FILE, cant_open, read_input


def add_parser(sub):
    p = sub.add_parser("script", help=COMMANDS["script"],
                       description="Run SCENARIO.sh as realkernel runs it in its guest, with the "
                                   "MODULEs in /mods, and print the same framed output.")
    p.add_argument("scenario", metavar="SCENARIO.sh")
    p.add_argument("modules", nargs="*", metavar="MODULE")
    p.add_argument("--profile", default=None, metavar="P")
    p.add_argument("--max-memory", type=parse_size, default=DEFAULT_MAX_MEMORY, metavar="SIZE",
                   help="guest memory the scenario may map (bytes, or K/M/G; default 512M); "
                        "over it the scenario ends with kmodsim's report and exit status 3")
    p.add_argument("--checks", type=_checks, default=(), metavar="LIST",
                   help="what a debug kernel checks: leaks, memory, locks, all (as for run)")
    p.add_argument("--json", action="store_true",
                   help="print the run record (JSON, schema kmodsim.run/1, the framed output "
                        "in its scenario_output) instead of the framed output")
    p.set_defaults(run=run)
    return p


def read_modules(paths):
    """What /mods holds: each file's bytes under its base name. A file that cannot be read
    (missing, a directory, not a regular file, too large) is a KmodError: ``can't open 'X':
    No such file or directory``."""
    return {os.path.basename(path): read_module(path) for path in paths}


def read_scenario(path):
    """The scenario's text, as ``sh SCENARIO`` reads it: a file, or a pipe (``<(...)``)."""
    try:
        data = read_input(path, MAX_TEXT_FILE, regular=False)
    except OSError as exc:
        raise cant_open(path, exc) from None
    return data.decode("utf-8", "surrogateescape")


def scenario_output(scenario_text, modules, profile=None, max_memory=DEFAULT_MAX_MEMORY):
    """The framed text realkernel prints, produced by kmodsim."""
    return scenario_run(scenario_text, modules, profile, max_memory)[0]


def scenario_run(scenario_text, modules, profile=None, max_memory=DEFAULT_MAX_MEMORY):
    """``(text, over)``: the framed text, and the MemoryLimitExceeded that ended the
    scenario early (its commands stop there; the log, its ``kmodsim:`` line last, follows)."""
    with Kernel(profile or DEFAULT_PROFILE, max_memory=max_memory) as k:
        return _scenario(k, scenario_text, modules)


def _scenario(k, scenario_text, modules):
    system = KernelSystem(k)
    shell = Shell(system, modules)
    over = None
    try:
        shell.run_script(scenario_text)
    except KernelPanic:             # the guest is dead: no more commands, and no dmesg
        shell.flush_console()
    except MemoryLimitExceeded as exc:
        shell.flush_console()
        over = exc
    start = system.clear_index      # what `dmesg -c` in the scenario cleared is gone
    out = ["=== SCENARIO\n", shell.output.decode("latin-1")]
    if not out[-1].endswith("\n") and out[-1]:
        out.append("\n")
    if k.panicked is not None:      # realkernel's VM restarts (panic=-1): the output ends
        return "".join(out), over
    out.append("=== DMESG\n")
    out.append(k.log.dmesg(start))     # busybox dmesg: what fits in the ring's size
    out.append("=== END\n")
    return "".join(out), over


def run(args):
    text = read_scenario(args.scenario)
    modules = read_modules(args.modules)
    with Kernel(args.profile or DEFAULT_PROFILE, max_memory=args.max_memory,
                checks=args.checks) as k:
        out, over = _scenario(k, text, modules)
        stopped = bool(k.kapi.stops)    # a kernel function kmodsim cannot run killed a command
        # the SCENARIO part says which (kmodsim's note on the command's stderr)
        status = EXIT_MEMORY if over is not None else EXIT_NOT_SIMULATED if stopped else 0
        record = k.report() if args.json else None
    if record is not None:
        # a scenario's own exit status: whatever its commands did, unless kmodsim stopped it
        record["exit_status"] = status
        record["scenario_output"] = out.splitlines()
        sys.stdout.write(json.dumps(record, indent=2) + "\n")
    else:
        sys.stdout.buffer.write(out.encode("latin-1"))
    if over is not None:
        sys.stdout.flush()
        print(f"kmodsim: {over}", file=sys.stderr)
    return status


def _checks(text):
    """``--checks``: emulator.checks' names (argparse reports an unknown one)."""
    try:
        return parse_checks(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
