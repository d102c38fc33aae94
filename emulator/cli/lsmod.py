"""``kmodsim lsmod``: kmod 30's ``lsmod`` table for a fresh simulated kernel holding the
``--with`` modules (:mod:`emulator.cli.kmodtools`)."""

import sys

from . import COMMANDS
from .kmodtools import NOT_PERSISTENT, Killed, Sysfs, boot, kernel_options, load_with, report_killed


def add_parser(sub):
    p = sub.add_parser(
        "lsmod", help=COMMANDS["lsmod"],
        description="Print kmod 30's lsmod table (name, size, use count, holders) for the "
                    "modules loaded with --with. " + NOT_PERSISTENT)
    kernel_options(p, "insmod this module file first (repeatable)")
    p.set_defaults(run=run)
    return p


def format_lsmod(sysfs):
    """tools/lsmod.c: a header, then ``%-19s %8ld  %d`` and the holders, comma-separated."""
    lines = ["Module                  Size  Used by\n"]
    for name in sysfs.loaded():
        line = "%-19s %8d  %d" % (name, sysfs.coresize(name), sysfs.refcnt(name))
        holders = sysfs.holders(name)
        if holders:
            line += " " + ",".join(holders)
        lines.append(line + "\n")
    return "".join(lines)


def run(args):
    k = boot(args)
    try:
        ok = load_with(k, args.with_, "lsmod")
    except Killed as exc:
        sys.stdout.write(k.dmesg())
        report_killed(exc.status)
        return exc.status
    sys.stdout.write(format_lsmod(Sysfs(k)))
    sys.stdout.flush()
    return 0 if ok else 1
