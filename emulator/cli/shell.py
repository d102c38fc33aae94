"""``kmodsim shell [MODULE...]``: busybox commands typed one line at a time against one
simulated kernel, the MODULEs in /mods (``kmodsim script`` runs them from a file)."""

import sys

from linker.profiles import DEFAULT_PROFILE

from ..errors import KernelPanic
from ..kernel import Kernel
from ..shell import Shell
from ..system import KernelSystem
from . import COMMANDS
from .script import read_modules


def add_parser(sub):
    s = sub.add_parser("shell", help=COMMANDS["shell"],
                       description="Type busybox commands (insmod, rmmod, lsmod, cat /proc/...) "
                                   "against one simulated kernel; MODULEs are in /mods.")
    s.add_argument("modules", nargs="*", metavar="MODULE")
    s.add_argument("--profile", default=None, metavar="P")
    s.set_defaults(run=run)
    return s


def run(args):
    k = args.kernel = Kernel(args.profile or DEFAULT_PROFILE)   # closed by kmodsim's main

    def write(data):
        sys.stdout.buffer.write(bytes(data))
        sys.stdout.flush()

    shell = Shell(KernelSystem(k), read_modules(args.modules), write=write)
    status = 0
    while True:
        try:
            line = input("/mods # ")
        except EOFError:
            print()
            return status
        try:
            status = shell.run_interactive(line)
        except KernelPanic:         # the kernel is dead: the session ends with it
            shell.flush_console()
            return 1
        except SystemExit as exc:
            return exc.code or 0
        except Exception as exc:   # the shell's own exit (ExitShell) and anything else
            if type(exc).__name__ == "ExitShell":
                return getattr(exc, "status", 0)
            raise
