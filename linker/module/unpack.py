"""Decompressing a module, with a bound on what comes out.

kmod unpacks xz and zstd modules in user space, busybox's insmod gzip, bzip2 and xz. A few
kilobytes of compressed zeros can claim gigabytes, so kmodsim stops at ``MAX_UNPACKED``
(far above any real module: Debian's largest is under 20 MiB) and reports ENOMEM, which is
what the real tools get when that much memory cannot be had.
"""

from __future__ import annotations

import bz2
import lzma
import shutil
import subprocess
import tempfile
import zlib

MAX_UNPACKED = 256 << 20


class TooLarge(Exception):
    """The data unpacks to more than the limit."""


def _bounded(decompressor, data: bytes, limit: int) -> bytes:
    out = decompressor.decompress(data, max_length=limit + 1)
    if len(out) > limit:
        raise TooLarge(limit)
    if not decompressor.eof:
        raise EOFError("compressed data ends early")
    return out


def unpack_xz(data: bytes, limit: int = MAX_UNPACKED, auto: bool = False) -> bytes:
    """xz (``auto``: any format liblzma recognises); raises lzma.LZMAError, EOFError, TooLarge."""
    return _bounded(lzma.LZMADecompressor(format=lzma.FORMAT_AUTO if auto else lzma.FORMAT_XZ),
                    data, limit)


def unpack_gzip(data: bytes, limit: int = MAX_UNPACKED) -> bytes:
    """One gzip member; raises zlib.error, EOFError, TooLarge."""
    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = d.decompress(data, limit + 1)
    if len(out) > limit:
        raise TooLarge(limit)
    if not d.eof:
        raise EOFError("compressed data ends early")
    return out


def unpack_bzip2(data: bytes, limit: int = MAX_UNPACKED) -> bytes:
    """bzip2; raises OSError, EOFError, TooLarge."""
    return _bounded(bz2.BZ2Decompressor(), data, limit)


def unpack_zstd(data: bytes, limit: int = MAX_UNPACKED) -> bytes | None:
    """zstd through the ``zstd`` tool (Python 3.11 has no zstd); None without the tool.
    Raises ValueError for data it refuses, TooLarge past the limit (the tool is stopped)."""
    tool = shutil.which("zstd")
    if tool is None:
        return None
    with tempfile.TemporaryFile() as src:
        src.write(data)
        src.seek(0)
        proc = subprocess.Popen([tool, "-dcq"], stdin=src, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        try:
            out = proc.stdout.read(limit + 1)
            if len(out) > limit:
                raise TooLarge(limit)
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
    if proc.returncode not in (0, -9):
        raise ValueError("zstd refused the data")
    return out
