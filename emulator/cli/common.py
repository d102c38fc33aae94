"""What several commands print the same way: kernel log lines, a refused load, kmod's
messages. Imports only the standard library and :mod:`linker`, so that the commands that
only link (readelf, modinfo, link, relocs, depmod, ...) stay free of the emulator.
"""

import argparse
import errno
import os
import sys

from linker.elf.reader import ElfFile
from linker.errors import KmodError
from linker.load.hobby import pic_hint
from linker.loglevels import LOGLEVEL_NAMES
from linker.profiles import DEFAULT_PROFILE, load_profile

from .files import cant_open, check_module_file, read_input

# the exit status of a run that went over its memory limit (--max-memory); README "Exit statuses"
EXIT_MEMORY = 3
# the exit status of a run stopped by a call to a kernel function kmodsim cannot run
# (emulator.kapi.registry.NotSimulatedCall); README "Exit statuses"
EXIT_NOT_SIMULATED = 4
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
    print_build_hint(module)
    return 1


def print_build_hint(module):
    """After a refused load: what in the way the object was built explains it, if anything
    (position-independent code for the hobby kernel: :func:`linker.load.hobby.pic_hint`)."""
    try:
        hint = pic_hint(read_input(module))
    except OSError:
        return
    if hint:
        print(f"kmodsim: {module}: {hint}", file=sys.stderr)


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


HOBBY_DEFAULT = "hobby-i386"
LINUX_I386 = "linux-6.1.0-50-686"


def default_profile_name(path):
    """The profile a module file is for when ``--profile`` names none: an ELF32 i386 object
    with a module descriptor (``.gnu.linkonce.this_module``) is Linux 6.1's 686 kernel's,
    one without is seed 004's hobby kernel's; everything else the default Linux profile's
    (which then says what it refuses)."""
    if path is None:
        return DEFAULT_PROFILE
    try:
        check_module_file(path)             # (a FIFO would block the open)
        with open(path, "rb") as fh:
            data = fh.read()
    except (OSError, KmodError):
        return DEFAULT_PROFILE
    if data[:4] != b"\x7fELF" or data[4:5] != b"\x01" or data[18:20] != b"\x03\x00":
        return DEFAULT_PROFILE
    try:
        names = {s.name for s in ElfFile(data).sections}
    except Exception:       # not readable as ELF: the loader will say why
        return HOBBY_DEFAULT
    return LINUX_I386 if ".gnu.linkonce.this_module" in names else HOBBY_DEFAULT


def profile_of(args):
    """The kernel profile ``--profile`` names, or the one the module file is for
    (:func:`default_profile_name`)."""
    return load_profile(args.profile or default_profile_name(getattr(args, "module", None)))


def module_or_last_with(args):
    """``CMD --with A B C``: without a module of its own, the last ``--with`` name is it."""
    if args.module is None:
        if not args.with_:
            raise KmodError("no module given", errno.EINVAL)
        args.module = args.with_.pop()
