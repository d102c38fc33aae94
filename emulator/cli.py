"""``kmodsim``: the one command-line entry point.

Each subcommand lives in its own module exposing ``add_parser(subparsers)`` and
``run(args) -> int``; this file only wires them together. Whatever goes wrong, the user sees
a one-line message and an exit status, never a Python traceback.
"""

import argparse
import importlib
import sys

from linker.errors import KmodError

# subcommand modules, in the order ``kmodsim --help`` lists them
SUBCOMMANDS = ("emulator.cli_readelf", "emulator.cli_modinfo", "emulator.cli_profile",
               "emulator.cli_link", "emulator.cli_run", "emulator.cli_script",
               "emulator.cli_kmod",
               "emulator.cli_relocs")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="kmodsim",
        description="Read, link and run Linux and hobby-kernel modules the way the kernel does.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KmodError as exc:
        print(f"kmodsim {args.command}: {exc.message}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 141
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
