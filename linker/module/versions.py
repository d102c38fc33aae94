"""``__versions``: one ``struct modversion_info`` per imported symbol.

Each record is 64 bytes: an ``unsigned long`` CRC (only the low 32 bits matter) followed by
the NUL-padded name filling the rest (``MODULE_NAME_LEN`` = 64 - sizeof(long)).
"""

from dataclasses import dataclass

MODVERSION_INFO_SIZE = 64


@dataclass(frozen=True)
class ModVersion:
    crc: int
    name: str


def parse_versions(data, layout):
    """Every record of a ``__versions`` section; a short tail is ignored as the kernel does."""
    data = bytes(data)
    word = layout.word_size
    out = []
    for off in range(0, len(data) - MODVERSION_INFO_SIZE + 1, MODVERSION_INFO_SIZE):
        crc = layout.addr.unpack_from(data, off)[0] & 0xFFFFFFFF
        raw = data[off + word:off + MODVERSION_INFO_SIZE]
        end = raw.find(b"\0")
        out.append(ModVersion(crc, raw[:end if end >= 0 else len(raw)].decode("latin-1")))
    return out
