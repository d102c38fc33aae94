"""What several commands print the same way: kernel log lines, a refused load, kmod's
messages. Imports only the standard library and :mod:`linker`, so that the commands that
only link (readelf, modinfo, link, relocs, depmod, ...) stay free of the emulator.
"""

import errno
import os
import sys
from pathlib import Path

from linker.errors import KmodError
from linker.loglevels import LOGLEVEL_NAMES
from linker.profiles import DEFAULT_PROFILE, load_profile

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
    """A module file's bytes; a file that cannot be read is a :class:`KmodError`."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise KmodError(f"{path}: {exc.strerror}", exc.errno or errno.ENOENT) from None


def kmod_log(prog, level, text):
    """kmod's tools/log.c: ``PROG: LEVEL: text`` on stderr, after what stdout holds."""
    sys.stdout.flush()
    sys.stderr.write(f"{prog}: {level}: {text}\n")
    sys.stderr.flush()


def profile_of(args):
    """The kernel profile ``--profile`` names, or the default one."""
    return load_profile(args.profile or DEFAULT_PROFILE)
