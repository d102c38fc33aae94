"""``kmodsim modinfo``: what Debian 12's kmod 30 ``modinfo`` prints, byte for byte.

Differences from kmod, by necessity: kmodsim has no ``/lib/modules`` of its own, so every
argument is read as a file (kmod reads ``*.ko*`` names as files and looks other names up as
aliases), and a name that is not a readable file gets kmod's "not found" error.
"""

import errno
import os
import sys

from linker.module.kmod_format import (format_filename, format_modinfo, invalid_param_lines,
                                       kmod_absolute, kmod_info_list, kmod_modname, kmod_section)
from linker.module.modinfo import modinfo_entries

from . import COMMANDS
from .files import read_input

MAGIC_MAX = 6       # libkmod-file.c's longest magic (xz's), as linker.module.depmod.MAGIC_MAX

FIELD_OPTIONS = (("-a", "--author", "author"), ("-d", "--description", "description"),
                 ("-l", "--license", "license"), ("-p", "--parameters", "parm"),
                 ("-n", "--filename", "filename"))


def add_parser(sub):
    p = sub.add_parser("modinfo", help=COMMANDS["modinfo"],
                       description="Print a module's .modinfo, parameters and signature "
                                   "as Debian 12's kmod 30 modinfo does.")
    for short, long_, field in FIELD_OPTIONS:
        p.add_argument(short, long_, dest="field", action="store_const", const=field,
                       help=f"print only '{field}'")
    p.add_argument("-F", "--field", dest="field", metavar="FIELD", help="print only FIELD")
    p.add_argument("-0", "--null", action="store_true", help="use \\0 instead of \\n")
    p.add_argument("modules", nargs="+", metavar="MODULE")
    p.set_defaults(run=run)
    return p


def _err(line):
    sys.stdout.flush()
    sys.stderr.write(f"modinfo: ERROR: {line}\n")
    sys.stderr.flush()


def modinfo_one(path, field, sep, out):
    """Print one module's block; returns 0 or a negative errno like kmod's ``modinfo_do``."""
    if not os.path.isfile(path):
        _err(f"Module {path} not found.")
        return -errno.ENOENT
    filename = kmod_absolute(path)
    try:
        data = read_input(path)
    except OSError as exc:
        if exc.errno != errno.EFBIG:
            _err(f"Module {path} not found.")
            return -(exc.errno or errno.ENOENT)
        data = None
    out.write(format_filename(filename, field, sep).encode("latin-1"))
    if field == "filename":
        return 0
    # kmod_file_open: too large for kmodsim to read (EFBIG), or shorter than the longest
    # compression magic (EINVAL), before any ELF is looked at
    err, modinfo = (errno.EFBIG, None) if data is None else \
        (errno.EINVAL, None) if len(data) < MAGIC_MAX else kmod_section(data, ".modinfo")
    if err:
        out.flush()
        _err(f"could not get modinfo from '{kmod_modname(path)}': {os.strerror(err)}")
        return -err
    items = kmod_info_list(modinfo_entries(modinfo), data)
    out.flush()
    for line in invalid_param_lines(items):
        _err(line)
    out.write(format_modinfo(items, field, sep).encode("latin-1"))
    return 0


def run(args):
    sep = "\0" if args.null else "\n"
    out = sys.stdout.buffer
    rc = 0
    for path in args.modules:
        if modinfo_one(path, args.field, sep, out) < 0:
            rc = 1
    out.flush()
    return rc
