"""``modinfo`` output exactly as kmod 30 (Debian 12) prints it.

kmod lists the ``.modinfo`` strings in file order, then, for a signed module, ``sig_id``,
``signer``, ``sig_key``, ``sig_hashalgo`` and ``signature`` (hex bytes joined by ``:``, 20
to a line, continuation lines indented by two tabs). ``parm``/``parmtype`` pairs are merged
per parameter into ``parm: name:description (type)`` lines printed after everything else,
newest parameter first (kmod pushes each new name on the front of a list). Values are
written as bytes, unchanged.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Iterable

from ..elf.constants import ELFMAG, ElfClass, ElfData
from ..elf.records import BytesLike
from .signature import read_signature


def hex_string(raw: bytes) -> str:
    """kmod's ``kmod_module_hex_to_str``: ``AB:CD:...``, a line break every 20 bytes."""
    parts = []
    for i, b in enumerate(raw):
        parts.append("%02X" % b)
        if i < len(raw) - 1:
            parts.append(":")
            if (i + 1) % 20 == 0:
                parts.append("\n\t\t")
    return "".join(parts)


def kmod_info_list(modinfo_pairs: Iterable[tuple[str, str]],
                   data: BytesLike) -> list[tuple[str, str | None]]:
    """``kmod_module_get_info``: the key/value list modinfo walks (signature fields last)."""
    items: list[tuple[str, str | None]] = list(modinfo_pairs)
    sig = read_signature(data)
    if sig is not None and sig.kmod_visible:
        items.append(("sig_id", sig.id_type_name))
        items.append(("signer", (sig.signer or b"").decode("latin-1")))
        items.append(("sig_key", hex_string(sig.key_id or b"")))
        items.append(("sig_hashalgo", sig.hash_algo))
        items.append(("signature", hex_string(sig.signature or b"")))
    return items


def _merge_params(items: Iterable[tuple[str, str]]) -> list[list[str | None]]:
    """Per parameter name: [name, description or None, type or None], newest first."""
    params: list[list[str | None]] = []
    for key, value in items:
        if key not in ("parm", "parmtype"):
            continue
        name, colon, rest = value.partition(":")
        if not colon:
            continue  # kmod: 'Found invalid "parm=..." : missing ':'' (an ERR line)
        entry = next((p for p in params if p[0] == name), None)
        if entry is None:
            entry = [name, None, None]
            params.insert(0, entry)
        entry[1 if key == "parm" else 2] = rest
    return params


def invalid_param_lines(items: Iterable[tuple[str, str]]) -> list[str]:
    return ['Found invalid "%s=%s": missing \':\'' % (k, v) for k, v in items
            if k in ("parm", "parmtype") and ":" not in v]


def format_filename(filename: str, field: str | None = None, sep: str = "\n") -> str:
    """The first line of a module's block: ``filename:`` (or the bare name for ``-n``)."""
    if field == "filename":
        return filename + sep
    return "%-16s%s%s" % ("filename:", filename, sep) if field is None else ""


def format_modinfo(items: Iterable[tuple[str, str]], field: str | None = None,
                   sep: str = "\n") -> str:
    """What modinfo prints after the filename line (``field`` is ``-F``, ``sep`` ``\\0`` for ``-0``)."""
    out = []
    if field == "parm":
        for name, desc, typ in _merge_params(items):
            if desc is None:
                out.append("%s: (%s)%s" % (name, typ, sep))
            elif typ is not None:
                out.append("%s:%s (%s)%s" % (name, desc, typ, sep))
            else:
                out.append("%s:%s%s" % (name, desc, sep))
        return "".join(out)
    for key, value in items:
        if field is not None:
            if key == field:
                out.append(value + sep)
            continue
        if key in ("parm", "parmtype"):
            continue
        if sep == "\0":
            out.append("%s=%s%s" % (key, value, sep))
        else:
            # printf("%s:%-*s%s", key, 15 - keylen, "", value): a negative width pads too
            out.append("%s:%s%s%s" % (key, " " * abs(15 - len(key)), value, sep))
    if field is None:
        for name, desc, typ in _merge_params(items):
            if desc is None:
                out.append("%-16s%s:%s%s" % ("parm:", name, typ, sep))
            elif typ is not None:
                out.append("%-16s%s:%s (%s)%s" % ("parm:", name, desc, typ, sep))
            else:
                out.append("%-16s%s:%s%s" % ("parm:", name, desc, sep))
    return "".join(out)


def kmod_modname(path: str) -> str:
    """kmod's ``path_to_modname``: the basename up to the first dot, ``-`` read as ``_``."""
    base = os.path.basename(path)
    return base.split(".", 1)[0].replace("-", "_")


def kmod_absolute(path: str) -> str:
    """kmod's ``path_make_absolute_cwd``: the cwd joined on, nothing resolved."""
    return path if path.startswith("/") else os.path.join(os.getcwd(), path)


def kmod_section(data: BytesLike, wanted: str) -> tuple[int, bytes | None]:
    """libkmod's ``kmod_elf_new`` + ``kmod_elf_get_section``: ``(errno, bytes or None)``.

    kmod checks less than the kernel and differently: a file of at most 16 bytes or without
    the magic is ENOEXEC; a bad class or byte order, a header no longer than ``Elf_Ehdr``, a
    wrong ``e_shentsize``, section headers past the end or a section-name table that is empty
    or not NUL-terminated are EINVAL. Sections whose bytes lie outside the file are skipped
    when searching by name, not refused. Returns errno ENOENT when the section is absent.
    """
    n = len(data)
    if n <= 16 or bytes(data[:4]) != ELFMAG:
        return errno.ENOEXEC, None
    ei_class, ei_data = data[4], data[5]
    elf32 = ei_class == ElfClass.ELFCLASS32
    if ei_class not in (ElfClass.ELFCLASS32, ElfClass.ELFCLASS64) or n <= (52 if elf32 else 64) \
            or ei_data not in (ElfData.ELFDATA2LSB, ElfData.ELFDATA2MSB):
        return errno.EINVAL, None
    o = "<" if ei_data == ElfData.ELFDATA2LSB else ">"
    if elf32:
        shoff, = struct.unpack_from(o + "I", data, 32)
        shentsize, shnum, shstrndx = struct.unpack_from(o + "HHH", data, 46)
        shdr_fmt, want_entsize = o + "IIIIII", 40   # name type flags addr offset size
    else:
        shoff, = struct.unpack_from(o + "Q", data, 40)
        shentsize, shnum, shstrndx = struct.unpack_from(o + "HHH", data, 58)
        shdr_fmt, want_entsize = o + "IIQQQQ", 64
    if shentsize != want_entsize or shoff + shentsize * shnum > n:
        return errno.EINVAL, None

    def info(idx: int) -> tuple[int, int, int] | None:
        if idx == 0 or idx >= shnum:
            return None
        name, _t, _f, _a, off, size = struct.unpack_from(shdr_fmt, data, shoff + idx * shentsize)
        if off + size > n:
            return None
        return off, size, name

    strs = info(shstrndx)
    if strs is None or strs[1] == 0 or data[strs[0] + strs[1] - 1] != 0:
        return errno.EINVAL, None
    names = bytes(data[strs[0]:strs[0] + strs[1]])
    target = wanted.encode("latin-1")
    for idx in range(1, shnum):
        sec = info(idx)
        if sec is None or sec[2] >= len(names):
            continue
        # strcmp: the table ends in a NUL, so this is the name up to its NUL, compared in
        # len(target) + 1 bytes however long the name is
        if names.startswith(target + b"\0", sec[2]):
            return 0, bytes(data[sec[0]:sec[0] + sec[1]])
    return errno.ENOENT, None
