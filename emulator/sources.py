"""Where a module's code came from, for ``explain_fault``: the file and line its DWARF line
programs give for a section offset, and the text of that line, read only from a file kmodsim
may show.

The debug info is guest data: a file name in it is never opened as it stands (an absolute
path, ``..``, ``/proc``, ``/dev`` and ``/sys`` never), it only selects a regular file under
one of the directories the user allowed (``--source-dir``) or the module's own directory,
with symlinks resolved and kept inside it (:func:`find_source`), and at most
MAX_SOURCE_BYTES of that file are read.
"""

import os
import stat
from typing import NamedTuple

from linker import hostio

# Where explain_fault may read source text, and how much of it. The debug info is guest
# data: a file name in it only ever selects a file under one of these roots.
MAX_SOURCE_BYTES = 4 << 20        # of one source file, read up to the line shown
NEVER_READ = ("/proc", "/dev", "/sys")
MAX_SHOWN = 200                   # characters of a file name or a source line shown


class SourceLine(NamedTuple):
    """Where an address's code came from: ``path`` and ``line`` as the module's DWARF says,
    ``text`` the line when a file was found and read, else ``note`` says why not."""

    path: str
    line: int
    text: str | None = None
    note: str | None = None


def source_roots(source_dirs=(), module_file=None):
    """``(directory, label)`` pairs explain_fault may read sources under: each
    ``--source-dir`` in order, then the module's own directory."""
    roots = [(str(d), f"--source-dir {d}") for d in source_dirs or ()]
    if module_file:
        roots.append((os.path.dirname(os.path.abspath(module_file)), "the module's directory"))
    return roots


def source_line(lm, sec_index, offset, roots=(), read=True):
    """:class:`SourceLine` for ``offset`` in section ``sec_index`` of the module's object,
    from its DWARF line programs; None without (usable) debug info. In a relocatable object
    every sequence starts at its own section's offset 0: which section a sequence belongs
    to is said by the R_X86_64_64 relocation of its DW_LNE_set_address
    (``.rela.debug_line``, in order). With ``read``, the line's text is looked for under
    ``roots`` (:func:`source_roots`, :func:`find_source`)."""
    import io

    from elftools.elf.elffile import ELFFile
    try:          # the debug info is the module's: anything in it may be malformed
        elf = ELFFile(io.BytesIO(bytes(lm.info.elf.data)))
        if not elf.has_dwarf_info():
            return None
        dwarf = elf.get_dwarf_info()
        owners = _set_address_sections(elf)
        best, seq = None, 0
        for cu in dwarf.iter_CUs():
            program = dwarf.line_program_for_CU(cu)
            if program is None:
                continue
            in_section, prev = False, None
            for entry in program.get_entries():
                if entry.command == 2 and entry.is_extended:      # DW_LNE_set_address
                    in_section = seq < len(owners) and owners[seq] == sec_index
                    seq += 1
                state = entry.state
                if state is None or not in_section:
                    continue
                if prev is not None and prev.address <= offset < state.address:
                    best = (program, prev.file, prev.line)
                prev = None if state.end_sequence else state
        if best is None:
            return None
        program, file_index, line = best
        path = _line_file(program, file_index)
    except Exception:
        return None
    if not read:
        return SourceLine(path, line)
    found, note = find_source(path, roots)
    if found is None:
        return SourceLine(path, line, note=note)
    text, note = _read_source_line(found, line)
    return SourceLine(path, line, text, note)


def find_source(name, roots):
    """``(real path, None)`` of the regular file the debug info's file ``name`` stands for
    under one of ``roots``, or ``(None, why not)``.

    The name is never opened as it stands. Its trailing components are looked for under
    each root, the longest first (``samples/linux/faults/bug_on.c`` is
    ``samples/linux/faults/bug_on.c``, then ``linux/faults/bug_on.c``, ... then
    ``bug_on.c`` under the module's directory or a ``--source-dir``); a tail holding
    ``..`` is skipped. What is found must, with its symlinks resolved, still lie under
    that root, outside /proc, /dev and /sys, and be a regular file."""
    if not name or name == "?" or "\0" in name:
        return None, "no file name in the debug info"
    parts = [p for p in name.split("/") if p not in ("", ".")]
    bases, refused = [], None
    for root, label in roots:
        try:
            base = os.path.realpath(root)
        except (OSError, ValueError):
            continue
        if _never_read(base):
            refused = refused or f"{label} is under /proc, /dev or /sys"
        elif os.path.isdir(base):
            bases.append((base, label))
    for start in range(len(parts)):
        tail = parts[start:]
        if ".." in tail:
            continue
        for base, label in bases:
            candidate = os.path.join(base, *tail)
            try:
                if not os.path.lexists(candidate):
                    continue
                real = os.path.realpath(candidate)
                inside = os.path.commonpath([base, real]) == base
            except (OSError, ValueError):
                continue
            if not inside or _never_read(real):
                refused = refused or (f"{'/'.join(tail)} in {label} leads outside it "
                                      "(a symlink)")
                continue
            try:
                mode = os.stat(real).st_mode
            except OSError:
                continue
            if not stat.S_ISREG(mode):
                refused = refused or f"{'/'.join(tail)} in {label} is not a regular file"
                continue
            return real, None
    if refused:
        return None, refused
    if not roots:
        return None, "the module's file is not known; give --source-dir"
    if name.startswith("/"):
        return None, "an absolute path in the debug info is never followed; give --source-dir"
    if ".." in name.split("/"):
        return None, "'..' in the debug info is never followed; give --source-dir"
    if len(roots) == 1 and roots[0][1] == "the module's directory":
        return None, "outside the module's directory; give --source-dir"
    return None, "not under the module's directory or a --source-dir"


def _never_read(path):
    return any(path == top or path.startswith(top + "/") for top in NEVER_READ)


def _read_source_line(path, line):
    """``(text, None)`` of line ``line`` of ``path`` (a regular file), reading no more than
    MAX_SOURCE_BYTES of it, or ``(None, why not)``."""
    if line < 1:
        return None, f"no line {line}"
    try:
        fd = os.open(path, hostio.READ_NOFOLLOW)
    except OSError as exc:
        return None, f"{os.path.basename(path)}: {exc.strerror}"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, "not a regular file"
        data, seen, total = b"", 0, 0
        while total < MAX_SOURCE_BYTES:
            chunk = os.read(fd, min(1 << 16, MAX_SOURCE_BYTES - total))
            if not chunk:
                break
            total += len(chunk)
            data += chunk
            lines = data.split(b"\n")
            if seen + len(lines) - 1 >= line:
                return lines[line - 1 - seen].decode("utf-8", "replace"), None
            seen += len(lines) - 1
            data = lines[-1][-MAX_SOURCE_BYTES:]
        else:
            return None, f"line {line} is past the first {MAX_SOURCE_BYTES >> 20} MiB of the file"
        if seen + 1 == line and data:
            return data.decode("utf-8", "replace"), None      # a last line without "\n"
        return None, f"the file has no line {line}"
    except OSError as exc:
        return None, exc.strerror
    finally:
        os.close(fd)


def printable(text, limit=MAX_SHOWN):
    """Guest-supplied text (a DWARF file name, a source line) made safe for a terminal:
    control characters as ``\\xNN``, at most ``limit`` characters."""
    out = "".join(c if c == "\t" or (c.isprintable() and not 0xD800 <= ord(c) < 0xE000)
                  else f"\\x{ord(c) & 0xFF:02x}" for c in text[:limit + 1])
    return out[:limit] + "..." if len(out) > limit else out


def _set_address_sections(elf):
    """The section of each DW_LNE_set_address, in order (their R_X86_64_64 relocations)."""
    rel = elf.get_section_by_name(".rela.debug_line")
    if rel is None:
        return []
    symtab = elf.get_section(rel["sh_link"])
    rows = sorted((r["r_offset"], r["r_info_sym"]) for r in rel.iter_relocations()
                  if r["r_info_type"] == 1)
    return [symtab.get_symbol(sym)["st_shndx"] for _, sym in rows]


def _line_file(program, index):
    """The file name a line program's file ``index`` stands for: its directory and name
    joined, as the DWARF gives them (undecodable bytes kept as surrogates)."""
    entries = program["file_entry"]
    dirs = program["include_directory"]
    if program["version"] < 5:
        index -= 1            # DWARF 4 counts files from 1
    if not 0 <= index < len(entries):
        return "?"
    entry = entries[index]
    name = _text(entry.name)
    d = b""
    if entry.dir_index or program["version"] >= 5:
        at = entry.dir_index - (1 if program["version"] < 5 and entry.dir_index else 0)
        d = dirs[at] if 0 <= at < len(dirs) else b""
    d = _text(d)
    return f"{d}/{name}" if d and not name.startswith("/") else name


def _text(raw):
    return raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else str(raw or "")
