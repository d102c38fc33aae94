"""``kmodsim insmod``: kmod 30's ``insmod`` of one file into a fresh simulated kernel
(:mod:`emulator.cli.kmodtools`): silent on success, ``insmod: ERROR: ...`` and status 1 on
failure."""

import argparse
import os
import sys

from linker.module.kmod_format import kmod_absolute

from . import COMMANDS
from .common import kmod_log, mod_strerror
from .kmodtools import (MODULE_INIT_IGNORE_MODVERSIONS, MODULE_INIT_IGNORE_VERMAGIC,
                        NOT_PERSISTENT, Killed, boot, insert_file, kernel_options, load_with,
                        process, report_killed)


def add_parser(sub):
    p = sub.add_parser(
        "insmod", help=COMMANDS["insmod"],
        description="Load FILE (uncompressed, .xz or .zst) with ARGS into a fresh simulated "
                    "kernel. Like kmod 30's insmod it prints nothing on success and "
                    "'insmod: ERROR: could not insert module FILE: REASON' (exit 1) on failure. "
                    "Options go before FILE: everything after it is a module parameter. "
                    + NOT_PERSISTENT)
    p.add_argument("-f", "--force", action="store_true",
                   help="ignore the module's version magic and symbol versions")
    p.add_argument("-p", "-s", dest="ignored", action="store_true",
                   help="ignored, for compatibility only")
    p.add_argument("--dmesg", action="store_true", help="print the kernel log afterwards")
    kernel_options(p, "insmod this module file first (repeatable)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="module parameters")
    p.set_defaults(run=run)
    return p


def run(args):
    filename = args.file
    if filename == "-":
        kmod_log("insmod", "ERROR", "this tool does not support loading from stdin!")
        return 1
    k = boot(args)
    status = 0
    try:
        if not load_with(k, args.with_, "insmod"):
            status = 1
        elif _stat_error(filename):
            # kmod_module_new_from_path stats the file before anything else
            kmod_log("insmod", "ERROR", f"could not load module {filename}: "
                                        f"{_stat_error(filename)}")
            status = 1
        else:
            flags = (MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC
                     if args.force else 0)
            process(k, "insmod")
            rc = insert_file(k, filename, " ".join(args.args), flags)
            if rc < 0:
                kmod_log("insmod", "ERROR",
                         f"could not insert module {filename}: {mod_strerror(-rc)}")
                status = 1
    except Killed as exc:
        status = exc.status
    if args.dmesg or status > 128:
        sys.stdout.write(k.dmesg())
        sys.stdout.flush()
    report_killed(status)
    return status


def _stat_error(path):
    """What stat(2) on the path (made absolute as kmod does) says, or ""."""
    try:
        os.stat(kmod_absolute(path))
    except OSError as exc:
        return exc.strerror
    return ""
