"""``__versions``: one ``struct modversion_info`` per imported symbol.

Each record is 64 bytes: an ``unsigned long`` CRC (only the low 32 bits matter) followed by
the NUL-padded name filling the rest (``MODULE_NAME_LEN`` = 64 - sizeof(long)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..elf.records import BytesLike, RecordLayout

MODVERSION_INFO_SIZE = 64


@dataclass(frozen=True)
class ModVersion:
    crc: int
    name: str


def versions_table(data: BytesLike, layout: RecordLayout) -> dict[str, int]:
    """``{name: crc}``, the first record of each name winning (the kernel's scan order)."""
    crcs, names = _records(data, layout)
    table: dict[str, int] = {}
    for c, n in zip(crcs, names):
        table.setdefault(n.split(b"\0", 1)[0].decode("latin-1"), c & 0xFFFFFFFF)
    return table


def _records(data: BytesLike, layout: RecordLayout) -> tuple[list[int], list[bytes]]:
    word = layout.word_size
    order = "<" if layout.little else ">"
    dtype = np.dtype([("crc", f"{order}u{word}"), ("name", f"S{MODVERSION_INFO_SIZE - word}")])
    recs = np.frombuffer(bytes(data), dtype=dtype, count=len(data) // MODVERSION_INFO_SIZE)
    return recs["crc"].tolist(), recs["name"].tolist()


def parse_versions(data: BytesLike, layout: RecordLayout) -> list[ModVersion]:
    """Every record of a ``__versions`` section; a short tail is ignored as the kernel does."""
    crcs, names = _records(data, layout)
    # numpy's S type drops trailing NULs; strcmp stops at the first one
    return [ModVersion(c & 0xFFFFFFFF, n.split(b"\0", 1)[0].decode("latin-1"))
            for c, n in zip(crcs, names)]
