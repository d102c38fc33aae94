"""What several commands print the same way: kernel log lines, a refused load, kmod's
messages. Imports only the standard library and :mod:`linker`, so that the commands that
only link (readelf, modinfo, link, relocs, depmod, ...) stay free of the emulator.
"""

import argparse
import errno
import os
import sys

from linker.errors import KmodError
from linker.loglevels import LOGLEVEL_NAMES
from linker.profiles import DEFAULT_PROFILE, load_profile

from .files import cant_open, read_input

# the exit status of a run that went over its memory limit (--max-memory); README "Exit statuses"
EXIT_MEMORY = 3
DEFAULT_MAX_MEMORY = 512 << 20       # emulator.kernel.DEFAULT_MAX_MEMORY, without the import
SIZE_SUFFIXES = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}


def parse_size(text):
    """``--max-memory``'s argument: bytes, or a number with K, M, G or T (powers of 1024,
    ``KiB``/``KB`` spellings too): ``512M``, ``1.5G``, ``65536``."""
    raw = text.strip().upper().replace("IB", "").rstrip("B")
    unit = raw[-1:] if raw[-1:] in SIZE_SUFFIXES and raw[-1:] else ""
    number = raw[:-1] if unit else raw
    try:
        value = int(float(number) * (1 << SIZE_SUFFIXES[unit]))
    except (ValueError, OverflowError):
        value = -1
    if value <= 0:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (bytes, or a number with K, M or G)")
    return value


# kmod 30 tools/insmod.c mod_strerror
MOD_STRERROR = {errno.ENOEXEC: "Invalid module format", errno.ENOENT: "Unknown symbol in module",
                errno.ESRCH: "Module has wrong symbol version", errno.EINVAL: "Invalid parameters"}


def mod_strerror(err):
    """insmod's reason for a failed ``init_module`` returning ``-err``."""
    return MOD_STRERROR.get(err, os.strerror(err))


def log_line(record):
    """One kernel log record as ``kmodsim link`` shows it: ``<err> text``."""
    return f"<{LOGLEVEL_NAMES[record.level]}> {record.text}"


def print_log(records, out, indent=""):
    for r in records:
        print(indent + log_line(r), file=out)


def print_refusal(prog, module, log, err, message=None):
    """A load the kernel refused: its log as dmesg shows it, then ``kmodsim PROG: MODULE: load
    refused: ENAME (strerror)``, with ``message`` before the errno unless the log says it."""
    sys.stdout.flush()
    print_log(log, sys.stderr)
    said = message is None or any(message in r.text for r in log)
    name = errno.errorcode.get(err, str(err))
    print(f"kmodsim {prog}: {module}: load refused: {'' if said else message + ': '}"
          f"{name} ({os.strerror(err)})", file=sys.stderr)
    return 1


def read_module(path):
    """A module file's bytes (:func:`read_input`); a file that cannot be read is a
    :class:`~linker.errors.KmodError` saying so."""
    try:
        return read_input(path)
    except OSError as exc:
        raise cant_open(path, exc) from None


def kmod_log(prog, level, text):
    """kmod's tools/log.c: ``PROG: LEVEL: text`` on stderr, after what stdout holds."""
    sys.stdout.flush()
    sys.stderr.write(f"{prog}: {level}: {text}\n")
    sys.stderr.flush()


def profile_of(args):
    """The kernel profile ``--profile`` names, or the default one."""
    return load_profile(args.profile or DEFAULT_PROFILE)


def module_or_last_with(args):
    """``CMD --with A B C``: without a module of its own, the last ``--with`` name is it."""
    if args.module is None:
        if not args.with_:
            raise KmodError("no module given", errno.EINVAL)
        args.module = args.with_.pop()
