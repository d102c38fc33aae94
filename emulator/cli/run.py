"""``kmodsim run MODULE [PARAM=VALUE...]``: load a module, run its init, print the log.

The log is printed as ``dmesg`` shows it; a refused load also prints kmod's insmod error
(``insmod: ERROR: could not insert module X: Invalid module format``). ``--rmmod`` unloads
the module afterwards (running its exit). A call to a kernel function kmodsim cannot run
stops the run there: the log up to that point, then ``kmodsim: F is not simulated (called
from CALLER); the run stopped here`` on stderr, and exit status 4 (``EXIT_NOT_SIMULATED``),
so a grader never takes a run that could not be simulated for one that passed.

Every way a run can end has its own exit status and a one-line reason on stderr
(emulator.cli.status, README "Exit statuses"). ``--json`` prints the run record instead of
the log (emulator.report, ``kmodsim.run/1``): the syscalls, the log as lines, the faults,
leaks and memory errors, the budget. ``--checks leaks,memory`` turns on what a debug
kernel would check (emulator.checks: kmemleak, KASAN); kmemleak scans at each rmmod and
once more at the end of the run.
"""

import argparse
import errno
import json
import os
import sys

from ..checks import parse_checks
from ..errors import MemoryLimitExceeded
from ..kernel import Kernel
from . import COMMANDS
from .common import (DEFAULT_MAX_MEMORY, EXIT_MEMORY, default_profile_name, mod_strerror,
                     parse_size, print_build_hint)
from .files import check_module_file
from .status import EXIT_REFUSED


def add_parser(sub):
    p = sub.add_parser("run", help=COMMANDS["run"],
                       description="Load MODULE into a simulated kernel, run its init in an "
                                   "emulated CPU and print the kernel log.")
    p.add_argument("module", metavar="MODULE")
    p.add_argument("params", nargs="*", metavar="PARAM=VALUE", help="module parameters")
    p.add_argument("--profile", default=None, metavar="P",
                   help="kernel profile (default: linux-6.1.0-56-amd64; hobby-i386 for seed 004)")
    p.add_argument("--with", dest="with_", action="append", default=[], metavar="MODULE",
                   help="load this module first (repeatable)")
    p.add_argument("--rmmod", action="store_true", help="unload the module after init")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="wall-clock limit of each syscall (insmod, rmmod): its loader steps, "
                        "kernel functions and module code together (default 10 s; with "
                        "--max-insns alone 600 s, a backstop: the instructions decide)")
    p.add_argument("--max-memory", type=parse_size, default=DEFAULT_MAX_MEMORY, metavar="SIZE",
                   help="guest memory the run may map (bytes, or K/M/G; default 512M); over "
                        "it the run ends with kmodsim's report and exit status 3")
    p.add_argument("--max-insns", type=int, default=0, metavar="N",
                   help="deterministic instruction budget of each syscall: module "
                        "instructions, and the kernel functions' work charged in instructions "
                        "(0: none; costs about 10x on tight loops, Unicorn counts every one)")
    p.add_argument("--checks", type=_checks, default=(), metavar="LIST",
                   help="what a debug kernel checks, comma-separated: leaks (kmemleak), "
                        "memory (KASAN), locks (lockdep), all; their reports go to the log "
                        "and the --json record (default: none)")
    p.add_argument("--json", action="store_true",
                   help="print the run record (JSON, schema kmodsim.run/1) instead of the log")
    p.add_argument("--console", action="store_true",
                   help="print what the console showed instead of the whole log")
    p.add_argument("--explain", action="store_true",
                   help="after an oops, BUG, WARN or panic: the source line, the code around "
                        "RIP and its relocations (emulator.faults.explain_fault)")
    p.add_argument("--source-dir", dest="source_dirs", action="append", default=[],
                   type=_source_dir, metavar="DIR",
                   help="with --explain: look for the module's sources under DIR too "
                        "(repeatable; by default only beside the module)")
    # --- gdb stub (emulator/gdbstub.py) ---
    p.add_argument("--gdb", type=int, default=None, metavar="PORT",
                   help="stop before the module's first instruction and serve gdb on "
                        "127.0.0.1:PORT (0: any free port); prints the add-symbol-file line")
    # --- end gdb stub ---
    p.set_defaults(run=run)
    return p


def _checks(text):
    """``--checks``: emulator.checks' names (argparse reports an unknown one)."""
    try:
        return parse_checks(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _source_dir(path):
    """``--source-dir``: an existing directory (argparse reports anything else)."""
    if not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"not a directory: {path!r}")
    return path


def _profile_for(args):
    return args.profile or default_profile_name(args.module)


def run(args):
    with Kernel(_profile_for(args), timeout_s=args.timeout, max_insns=args.max_insns,
                max_memory=args.max_memory, checks=args.checks) as k:
        try:
            return _run(k, args)
        except MemoryLimitExceeded as exc:   # the log (its kmodsim: line last), the report
            if args.json:
                _print_record(k.report())
            else:
                sys.stdout.write(k.console_text() if args.console or k.profile.kind == "hobby"
                                 else k.dmesg())
            sys.stdout.flush()
            print(f"kmodsim: {exc}", file=sys.stderr)
            return EXIT_MEMORY


def _run(k, args):
    stub = None
    hobby_init = None           # (module, what its init returned)
    for path in args.with_ + [args.module]:
        # --- gdb stub: attached for MODULE only, after the --with modules ran alone ---
        if args.gdb is not None and path == args.module:
            from ..gdbstub import GdbStub   # only with --gdb: spares every other run the import
            stub = GdbStub(k, args.gdb, module_path=path)
        # --- end gdb stub ---
        try:
            os.stat(path)                   # kmod_module_new_from_path: "could not load"
        except OSError as exc:
            return _refused(k, args, f"insmod: ERROR: could not load module {path}: "
                                     f"{exc.strerror}")
        try:
            # kernel_read_file: a regular file, or EINVAL; kmod's own kmod_file_open refuses
            # a file shorter than its longest compression magic (6 bytes) with EINVAL too
            if check_module_file(path) < 6:
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
            result = k.insmod(path, " ".join(args.params) if path == args.module else "")
            if result.init_returned is not None:
                hobby_init = (k.modules[-1].name if k.modules else path, result.init_returned)
        except OSError as exc:
            return _refused(k, args, f"insmod: ERROR: could not insert module {path}: "
                                     f"{mod_strerror(exc.errno)}")
        if result.not_simulated is not None or result.signal is not None:
            break
        if result.rc < 0:
            print(f"insmod: ERROR: could not insert module {path}: "
                  f"{mod_strerror(-result.rc)}", file=sys.stderr)
            print_build_hint(path)
            break
    else:
        name = k.modules[0].name if k.modules else None
        if args.rmmod and name:
            result = k.rmmod(name)
            if result.rc < 0 and result.signal is None and result.not_simulated is None:
                print(f"rmmod: ERROR: could not remove module {name}: {os.strerror(-result.rc)}",
                      file=sys.stderr)
    if k.checks.kmemleak is not None and k.panicked is None:
        k.checks.kmemleak.scan()        # kmemleak's next scan, at the end of the run
    record = k.report()
    status = record["exit_status"]
    if args.json:
        _print_record(record)
    elif args.console or k.profile.kind == "hobby":
        sys.stdout.write(k.console_text())
        if k.profile.kind == "hobby" and status:    # what the console did not show already
            sys.stdout.write("".join(f"{r.text}\n" for r in k.log
                                     if not getattr(r, "on_console", False)))
    else:
        sys.stdout.write(k.dmesg())
    if k.profile.kind == "hobby" and hobby_init is not None:
        # the hobby kernel ignores init's return value: kmodsim says what it was
        sys.stdout.flush()
        print(f"kmodsim: the init of {hobby_init[0]} returned {hobby_init[1]}", file=sys.stderr)
    if status in (137, 139):
        print("Killed" if status == 137 else "Segmentation fault", file=sys.stderr)
    if k.faults.lockups:
        # any report above is the kernel's; say which of kmodsim's limits ended the run
        limit = (f"the --max-insns budget of {args.max_insns} instructions"
                 if k.faults.lockups[-1] == "budget" else f"the --timeout of {k.timeout_s:g} s")
        who = "the kernel's loader" if k.faults.lockup_in == "loader" else "the module"
        print(f"kmodsim: {who} ran until {limit} and was stopped", file=sys.stderr)
    if args.explain and not args.json:
        from ..faults import explain_fault   # only with --explain
        sys.stdout.write(explain_fault(k, source_dirs=args.source_dirs))
    # --- gdb stub: the run is over, gdb sees the process exit ---
    if stub is not None:
        sys.stdout.flush()
        stub.finish(status)
    # --- end gdb stub ---
    if record["outcome"] in ("not_simulated", "panic", "init_failed"):
        sys.stdout.flush()
        print(f"kmodsim: {record['reason']}", file=sys.stderr)
    return status


def _refused(k, args, message):
    """A module file kmod itself cannot use (no syscall made): its message, and with
    ``--json`` the record, which says so."""
    if args.json:
        record = k.report()
        record.update(exit_status=EXIT_REFUSED, outcome="refused", reason=message)
        _print_record(record)
    print(message, file=sys.stderr)
    return EXIT_REFUSED


def _print_record(record):
    """The run record as one JSON object: the same run gives the same bytes."""
    sys.stdout.write(json.dumps(record, indent=2) + "\n")
