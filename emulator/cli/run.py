"""``kmodsim run MODULE [PARAM=VALUE...]``: load a module, run its init, print the log.

The log is printed as ``dmesg`` shows it; a refused load also prints kmod's insmod error
(``insmod: ERROR: could not insert module X: Invalid module format``). ``--rmmod`` unloads
the module afterwards (running its exit). Kernel functions the module called that kmodsim
only stubs are listed on stderr, so a grader sees what was not really exercised.
"""

import argparse
import errno
import os
import sys

from linker.profiles import DEFAULT_PROFILE

from ..errors import MemoryLimitExceeded
from ..kernel import Kernel
from . import COMMANDS
from .common import DEFAULT_MAX_MEMORY, EXIT_MEMORY, mod_strerror, parse_size
from .files import check_module_file


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


def _source_dir(path):
    """``--source-dir``: an existing directory (argparse reports anything else)."""
    if not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"not a directory: {path!r}")
    return path


def _profile_for(args):
    if args.profile:
        return args.profile
    # an ELF32 i386 object without a Linux descriptor: seed 004's hobby kernel
    try:
        check_module_file(args.module)      # (a FIFO would block the open)
        with open(args.module, "rb") as fh:
            head = fh.read(20)
        if head[4:5] == b"\x01" and head[18:20] == b"\x03\x00":
            return "hobby-i386"
    except OSError:
        pass
    return DEFAULT_PROFILE


def run(args):
    with Kernel(_profile_for(args), timeout_s=args.timeout, max_insns=args.max_insns,
                max_memory=args.max_memory) as k:
        try:
            return _run(k, args)
        except MemoryLimitExceeded as exc:   # the log (its kmodsim: line last), the report
            sys.stdout.write(k.console_text() if args.console or k.profile.kind == "hobby"
                             else k.dmesg())
            sys.stdout.flush()
            print(f"kmodsim: {exc}", file=sys.stderr)
            return EXIT_MEMORY


def _run(k, args):
    status = 0
    stub = None
    for path in args.with_ + [args.module]:
        # --- gdb stub: attached for MODULE only, after the --with modules ran alone ---
        if args.gdb is not None and path == args.module:
            from ..gdbstub import GdbStub   # only with --gdb: spares every other run the import
            stub = GdbStub(k, args.gdb, module_path=path)
        # --- end gdb stub ---
        try:
            os.stat(path)                   # kmod_module_new_from_path: "could not load"
        except OSError as exc:
            print(f"insmod: ERROR: could not load module {path}: {exc.strerror}", file=sys.stderr)
            return 1
        try:
            # kernel_read_file: a regular file, or EINVAL; kmod's own kmod_file_open refuses
            # a file shorter than its longest compression magic (6 bytes) with EINVAL too
            if check_module_file(path) < 6:
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
            result = k.insmod(path, " ".join(args.params) if path == args.module else "")
        except OSError as exc:
            print(f"insmod: ERROR: could not insert module {path}: {mod_strerror(exc.errno)}",
                  file=sys.stderr)
            return 1
        if result.signal is not None:
            status = 128 + result.signal if isinstance(result.signal, int) else 1
            break
        if result.rc < 0:
            print(f"insmod: ERROR: could not insert module {path}: "
                  f"{mod_strerror(-result.rc)}", file=sys.stderr)
            status = 1
            break
    if status == 0 and args.rmmod:
        name = k.modules[0].name if k.modules else None
        if name:
            result = k.rmmod(name)
            if result.rc < 0:
                print(f"rmmod: ERROR: could not remove module {name}: {os.strerror(-result.rc)}",
                      file=sys.stderr)
                status = 1
    if args.console or k.profile.kind == "hobby":
        sys.stdout.write(k.console_text())
        if k.profile.kind == "hobby" and status:    # what the console did not show already
            sys.stdout.write("".join(f"{r.text}\n" for r in k.log
                                     if not getattr(r, "on_console", False)))
    else:
        sys.stdout.write(k.dmesg())
    if isinstance(status, int) and status in (137, 139):
        print("Killed" if status == 137 else "Segmentation fault", file=sys.stderr)
    if k.faults.lockups:
        # any report above is the kernel's; say which of kmodsim's limits ended the run
        limit = (f"the --max-insns budget of {args.max_insns} instructions"
                 if k.faults.lockups[-1] == "budget" else f"the --timeout of {k.timeout_s:g} s")
        who = "the kernel's loader" if k.faults.lockup_in == "loader" else "the module"
        print(f"kmodsim: {who} ran until {limit} and was stopped", file=sys.stderr)
    if args.explain:
        from ..faults import explain_fault   # only with --explain
        sys.stdout.write(explain_fault(k, source_dirs=args.source_dirs))
    # --- gdb stub: the run is over, gdb sees the process exit ---
    if stub is not None:
        sys.stdout.flush()
        stub.finish(status if isinstance(status, int) else 1)
    # --- end gdb stub ---
    stubs = {}
    for name, _ in k.kapi.stub_calls:
        stubs[name] = stubs.get(name, 0) + 1
    if stubs:
        listed = ", ".join(f"{n} ({c}x)" if c > 1 else n for n, c in sorted(stubs.items()))
        print(f"kmodsim: called but only stubbed (returned 0): {listed}", file=sys.stderr)
    return status
