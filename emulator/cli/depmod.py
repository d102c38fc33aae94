"""``kmodsim depmod``: Debian 12's kmod 30 ``depmod`` on a real directory tree, exactly as
kmod's does (see :mod:`linker.module.depmod`). It touches no kernel: only files and the
kernel profile (for the default VERSION and ``--profile-exports``).
"""

import os
import re
import sys

from linker.errors import KmodError
from linker.module.depmod import (DepmodConfig, DepmodFatal, depfile_up_to_date, kmod_file_load,
                                  run_depmod)
from linker.module.kmod_format import kmod_absolute

from . import COMMANDS
from .common import kmod_log, profile_of
from .files import MAX_TEXT_FILE, check_module_file, read_input


def add_parser(sub):
    p = sub.add_parser(
        "depmod", help=COMMANDS["depmod"],
        description="Read every module under BASEDIR/lib/modules/VERSION and write modules.dep, "
                    "modules.alias, modules.softdep, modules.symbols, modules.devname and the "
                    "binary indexes (modules.*.bin) byte for byte as Debian 12's kmod 30 depmod "
                    "does. A module depends on the modules exporting the symbols it needs; "
                    "symbols no module exports (the kernel's) are ignored, and -E, -F or "
                    "--profile-exports only tell -e which of them the kernel provides. Not "
                    "read: depmod.d configuration (kmod's defaults are used).",
        epilog="VERSION defaults to the kernel profile's release (6.1.0-56-amd64). With module "
               "FILEs (absolute paths) after VERSION only those are read, as in kmod.")
    p.add_argument("-a", "--all", action="store_true", help="probe all modules (the default)")
    p.add_argument("-A", "--quick", action="store_true",
                   help="only do the work if a module is newer than modules.dep")
    p.add_argument("-b", "--basedir", metavar="DIR", help="use an image of a module tree")
    p.add_argument("-e", "--errsyms", action="store_true",
                   help="report symbols no module or kernel exports (needs -E, -F or "
                        "--profile-exports)")
    p.add_argument("-E", "--symvers", metavar="FILE",
                   help="Module.symvers: vmlinux's exports and CRCs (checked with -e)")
    p.add_argument("-F", "--filesyms", metavar="FILE", help="System.map: the kernel's exports")
    p.add_argument("--profile-exports", action="store_true",
                   help="kmodsim: take the kernel profile's vmlinux exports as -E would")
    p.add_argument("-n", "--show", "--dry-run", dest="show", action="store_true",
                   help="write the dependency files on stdout only")
    p.add_argument("-P", "--symbol-prefix", metavar="C", help="architecture symbol prefix")
    p.add_argument("-w", "--warn", action="store_true", help="warn on duplicates")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="print each dependency found")
    p.add_argument("--profile", default=None, metavar="P",
                   help="kernel profile giving the default VERSION (and --profile-exports)")
    p.add_argument("version", nargs="?", metavar="VERSION")
    p.add_argument("files", nargs="*", metavar="FILE")
    p.set_defaults(run=run)
    return p


def is_version_number(version):
    """``sscanf(version, "%u.%u")`` matching two numbers."""
    return re.match(r"\s*[+-]?\d+\.\s*[+-]?\d+", version) is not None


def run(args):
    def log(level, text):
        kmod_log("depmod", level, text)
    if args.version is not None and not is_version_number(args.version):
        log("ERROR", f"Bad version passed {args.version}")
        return 1
    if args.symbol_prefix is not None and len(args.symbol_prefix) != 1:
        log("FATAL", "-P only takes a single char")
        return 1
    version = args.version or profile_of(args).release
    root = kmod_absolute(args.basedir) if args.basedir else ""
    cfg = DepmodConfig(f"{root}/lib/modules/{version}", sym_prefix=args.symbol_prefix or "",
                       print_unknown=args.errsyms, warn_dups=args.warn)
    use_all = args.all or not args.files
    if args.quick:
        if args.show:
            return 0
        try:
            if depfile_up_to_date(cfg.dirname):
                return 0
        except OSError as exc:
            log("ERROR", f"could not fstatat({cfg.dirname}, modules.dep): {exc.strerror}")
        use_all = True
    symvers = system_map = None
    try:
        if args.symvers:
            cfg.check_symvers = True
            symvers = (args.symvers, _read_lines(args.symvers))
        elif args.filesyms:
            system_map = (args.filesyms, _read_lines(args.filesyms))
        elif args.profile_exports:
            cfg.check_symvers = True
            profile = profile_of(args)
            symvers = (profile.name, [f"0x{e.crc or 0:08x}\t{e.name}\tvmlinux\tEXPORT_SYMBOL\n"
                                      for e in profile.exports.values()
                                      if e.exporter == "vmlinux"])
        elif cfg.print_unknown:
            log("WARNING", "-e needs -E or -F")
            cfg.print_unknown = False
    except OSError as exc:
        log("FATAL", f"could not load {exc.filename}: {exc.strerror}")
        return 1
    show = _write_stdout if args.verbose else None
    try:
        dm = run_depmod(cfg, log, files=None if use_all else args.files, symvers=symvers,
                        system_map=system_map, show=show, read=read_module_file)
        sys.stdout.flush()
        dm.output(sys.stdout.buffer if args.show else None)
    except DepmodFatal as exc:
        if exc.message:
            log("FATAL", exc.message)
        return 1
    except OSError as exc:      # a file renamed over a directory, a full disk: kmod's FATAL
        if exc.filename2 is not None:
            (d1, f1), (d2, f2) = os.path.split(exc.filename), os.path.split(exc.filename2)
            log("FATAL", f"renameat({d1}, {f1}, {d2}, {f2}): {exc.strerror}")
        else:
            log("FATAL", f"{exc.filename}: {exc.strerror}")
        return 1
    sys.stdout.flush()
    return 0


def _write_stdout(text):
    sys.stdout.write(text)
    sys.stdout.flush()


def _read_lines(path):
    """-E/-F's file: a file or a pipe (``<(...)``), as kmod reads it, bounded. A directory
    opens (fopen) and reads nothing (fgets fails): no symbols, no error, as kmod."""
    try:
        data = read_input(path, MAX_TEXT_FILE, regular=False)
    except IsADirectoryError:
        return []
    return data.decode("latin-1").splitlines(keepends=True)


def read_module_file(path):
    """kmod_file_load, after kernel_read_file's test (a regular file, or EINVAL: a FIFO or a
    device is never opened blocking nor read without end)."""
    try:
        check_module_file(path)
    except OSError as exc:
        raise KmodError(exc.strerror, exc.errno) from None
    return kmod_file_load(path)
