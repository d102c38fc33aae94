"""``kmodsim readelf``: GNU binutils 2.40 ``readelf -W``, byte for byte, for ``-h -S -s -r``.

Options combine as in readelf (``-hS``, ``-r -s``) and the views always come out in
readelf's own order: file header, section headers, relocations, symbol tables. ``-W`` is
accepted and always in force. With more than one file, each file's output starts with a
``File: NAME`` line, as readelf does.

Errors: a file that cannot be read or is not a valid ELF object gets one line on stderr,
``kmodsim readelf: MODULE: <message>``; the other files are still shown and the exit status
is 1. (readelf would print what it can of a corrupt file; kmodsim refuses the whole file.)
"""

import errno
import os
import sys

from linker.elf import describe
from linker.elf.reader import ElfFile
from linker.errors import ElfError

from . import COMMANDS
from .files import read_input

ELFMAG = b"\x7fELF"


def add_parser(sub):
    p = sub.add_parser(
        "readelf", add_help=False,
        help=COMMANDS["readelf"],
        description="Print what GNU binutils 2.40 'readelf -W' prints with -h, -S, -s and -r.")
    p.add_argument("-h", "--file-header", dest="header", action="store_true",
                   help="display the ELF file header")
    p.add_argument("-S", "--section-headers", "--sections", dest="sections", action="store_true",
                   help="display the section headers")
    p.add_argument("-s", "--syms", "--symbols", dest="symbols", action="store_true",
                   help="display the symbol tables")
    p.add_argument("-r", "--relocs", dest="relocs", action="store_true",
                   help="display the relocations")
    p.add_argument("-W", "--wide", action="store_true",
                   help="accepted for readelf compatibility; output is always wide")
    p.add_argument("--help", action="help", help="show this help message and exit")
    p.add_argument("modules", nargs="+", metavar="MODULE")
    p.set_defaults(run=run)
    return p


def render(elf, header=False, sections=False, relocs=False, symbols=False):
    """The text readelf prints for one parsed file, views in readelf's order."""
    parts = []
    if header:
        parts.append(describe.file_header(elf))
    if sections:
        parts.append(describe.section_headers(elf, with_count=not header))
    if relocs:
        parts.append(describe.relocations(elf))
    if symbols:
        parts.append(describe.symbol_tables(elf))
    return "".join(parts)


def _error(path, message):
    sys.stdout.flush()
    sys.stderr.write(f"kmodsim readelf: {path}: {message}\n")
    sys.stderr.flush()


def _load(path):
    """``(ElfFile, None)`` or ``(None, message)``."""
    try:
        data = read_input(path)     # a regular file only, never a blocking open
    except OSError as exc:
        if exc.errno in (errno.EISDIR, errno.EINVAL):    # a directory, a FIFO, a device
            return None, "is not an ordinary file"
        return None, exc.strerror or str(exc)
    if data[:4] != ELFMAG:
        return None, "Failed to read file's magic number"
    try:
        return ElfFile(data), None
    except ElfError as exc:
        return None, exc.message


def _write_all(out, data):
    """Write every byte: a pipe may take only part of a large write, and the failure
    (BrokenPipeError, when the reader has gone) only shows on the next one."""
    view = memoryview(data)
    while view:
        view = view[out.write(view):]


def run(args):
    if not (args.header or args.sections or args.relocs or args.symbols):
        _error(args.modules[0], "nothing to show: give one or more of -h, -S, -s, -r")
        return 1
    out = sys.stdout.buffer
    show_name = len(args.modules) > 1
    rc = 0
    for path in args.modules:
        elf, message = _load(path)
        if elf is None:
            _error(path, message)
            rc = 1
            continue
        if show_name:
            _write_all(out, b"\nFile: " + os.fsencode(path) + b"\n")
        text = render(elf, args.header, args.sections, args.relocs, args.symbols)
        _write_all(out, text.encode("latin-1"))
    out.flush()
    return rc
