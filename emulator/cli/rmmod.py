"""``kmodsim rmmod``: kmod 30's ``rmmod`` with its checks and messages, on a fresh simulated
kernel (:mod:`emulator.cli.kmodtools`) holding the ``--with`` modules."""

import errno
import os
import sys

from linker.module.kmod_format import kmod_modname

from . import COMMANDS
from .common import kmod_log
from .kmodtools import (NOT_PERSISTENT, O_NONBLOCK, O_TRUNC, Killed, Sysfs, boot, delete_module,
                        kernel_options, load_with, process, report_killed)


def add_parser(sub):
    p = sub.add_parser(
        "rmmod", help=COMMANDS["rmmod"],
        description="Remove MODULE (a name, or a module file's name) from a fresh simulated "
                    "kernel with kmod 30's checks and messages ('rmmod: ERROR: Module X is not "
                    "currently loaded', '... is in use by: ...'). " + NOT_PERSISTENT)
    p.add_argument("-f", "--force", action="store_true",
                   help="force the unload (O_TRUNC; the kernel allows it only with "
                        "CONFIG_MODULE_FORCE_UNLOAD)")
    p.add_argument("-s", "--syslog", action="store_true", help="ignored: messages go to stderr")
    p.add_argument("-v", "--verbose", action="count", default=0, help="accepted, no effect")
    p.add_argument("--dmesg", action="store_true", help="print the kernel log afterwards")
    kernel_options(p, "insmod this module file first (repeatable)")
    p.add_argument("modules", nargs="+", metavar="MODULE")
    p.set_defaults(run=run)
    return p


def check_module_inuse(sysfs, name):
    """rmmod.c ``check_module_inuse``: 0, or -errno after printing why not."""
    state = sysfs.initstate(name)
    if state == "builtin":
        kmod_log("rmmod", "ERROR", f"Module {name} is builtin.")
        return -errno.ENOENT
    if state is None:
        kmod_log("rmmod", "ERROR", f"Module {name} is not currently loaded")
        return -errno.ENOENT
    holders = sysfs.holders(name)
    if holders:
        sys.stdout.flush()
        sys.stderr.write(f"rmmod: ERROR: Module {name} is in use by:"
                         + "".join(f" {h}" for h in holders) + "\n")
        return -errno.EBUSY
    ret = sysfs.refcnt(name)
    if ret > 0:
        kmod_log("rmmod", "ERROR", f"Module {name} is in use")
        return -errno.EBUSY
    if ret == -errno.ENOENT:
        kmod_log("rmmod", "ERROR", "Module unloading is not supported")
    return ret


def run(args):
    k = boot(args)
    sysfs = Sysfs(k)
    failures = 0
    status = None
    try:
        if not load_with(k, args.with_, "rmmod"):
            failures = 1
            args.modules = []
        if args.modules:
            process(k, "rmmod")
        for arg in args.modules:
            # a path names the module by its file name, anything else is normalised
            name = kmod_modname(arg)
            if not _stat_ok(arg):
                name = arg.split(".", 1)[0].replace("-", "_")
            if not args.force and check_module_inuse(sysfs, name) < 0:
                failures += 1
                continue
            rc = delete_module(k, name, O_NONBLOCK | (O_TRUNC if args.force else 0))
            if rc < 0:
                kmod_log("rmmod", "ERROR", f"could not remove '{name}': {os.strerror(-rc)}")
                kmod_log("rmmod", "ERROR", f"could not remove module {arg}: {os.strerror(-rc)}")
                failures += 1
    except Killed as exc:
        status = exc.status
    if args.dmesg or status is not None:
        sys.stdout.write(k.dmesg())
        sys.stdout.flush()
    if status is not None:
        report_killed(status)
        return status
    return 1 if failures else 0


def _stat_ok(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False
