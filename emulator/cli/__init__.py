"""``kmodsim``: the one command-line entry point.

Each command lives in its own module of this package, named after it, exposing
``add_parser(subparsers)`` and setting ``run(args) -> int`` as the parser's default; this file
only wires them together. Whatever goes wrong, the user sees a one-line message and an exit
status, never a Python traceback.

Start-up time matters (``kmodsim readelf`` on one file should not pay for Unicorn and the
emulator), so only the module of the command given is imported: the others get an empty
parser carrying just the line ``kmodsim --help`` lists, kept in :data:`COMMANDS`.
"""

import argparse
import importlib
import sys

from linker.errors import KmodError

# COMMAND: what `kmodsim --help` says of it, in the order it lists them. The command's module
# (emulator.cli.COMMAND) uses the same line, so listing the commands imports none of them.
COMMANDS = {
    "readelf": "show ELF headers, sections, symbols and relocations, exactly as readelf -W",
    "modinfo": "show module information, exactly as kmod's modinfo",
    "profile": "list kernel profiles or show one",
    "link": "lay out, resolve and relocate a module as the kernel does",
    "run": "load a module, run init (and exit with --rmmod), print the log",
    "script": "run a busybox scenario against a simulated kernel",
    "shell": "an interactive busybox shell on a simulated kernel",
    "depmod": "compute module dependencies and write modules.dep etc., as kmod's depmod",
    "modprobe": "load a module and its dependencies by name, as kmod's modprobe",
    "insmod": "load a module file into a fresh simulated kernel, as kmod's insmod",
    "rmmod": "unload modules from a fresh simulated kernel, as kmod's rmmod",
    "lsmod": "list the modules of a fresh simulated kernel, as kmod's lsmod",
    "relocs": "list or step through a module's relocations",
    "check": "list the kernel functions a module calls that kmodsim cannot run",
    "grade": "run pytest grading tests against module submissions, write graders' results",
}


def _command_in(argv):
    """The command ``argv`` names: its first word that is not an option (``kmodsim`` itself
    has no option taking a value), or ``None``."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(argv=None):
    """The parser for ``argv``: the full one of the command it names, placeholders (a name
    and a help line) for the others."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="kmodsim",
        description="Read, link and run Linux and hobby-kernel modules the way the kernel does.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    chosen = _command_in(argv)
    for name, summary in COMMANDS.items():
        if name == chosen:
            # imported here, and only this one: what buys `kmodsim readelf` its start-up time
            importlib.import_module(f"{__name__}.{name}").add_parser(sub)
        else:
            sub.add_parser(name, help=summary)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return args.run(args)
    except KmodError as exc:
        print(f"kmodsim {args.command}: {exc.message}", file=sys.stderr)
        return 1
    except BrokenPipeError:          # (before Exception, which it is)
        return 141
    except Exception as exc:
        # a limit of kmodsim's own that ended the run (emulator.errors.MemoryLimitExceeded)
        # carries its exit status; no import of the emulator here
        status = getattr(exc, "exit_status", None)
        if status is None:
            raise
        print(f"kmodsim {args.command}: {exc}", file=sys.stderr)
        return status
    except KeyboardInterrupt:
        return 130
    finally:
        kernel = getattr(args, "kernel", None)   # a command's kernel (kmodtools.boot, shell)
        if kernel is not None:
            kernel.close()
