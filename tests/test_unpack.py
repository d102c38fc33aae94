"""Compressed modules unpack with a bound: a few kilobytes claiming gigabytes (a
decompression bomb) end in ENOMEM, as the real tools end when the memory is not there,
instead of taking the host's memory."""

import bz2
import errno
import functools
import gzip
import lzma

import pytest

from linker.errors import KmodError
from linker.module import depmod
from linker.module.unpack import MAX_UNPACKED, TooLarge, unpack_bzip2, unpack_gzip, unpack_xz

LIMIT = 1 << 20                 # the tests use a small limit: a real-sized bomb takes seconds
BOMB = b"\0" * (LIMIT + 1)


@pytest.mark.parametrize("compress, unpack", [(gzip.compress, unpack_gzip),
                                              (bz2.compress, unpack_bzip2),
                                              (lzma.compress, unpack_xz)])
def test_a_bomb_stops_at_the_limit_and_a_module_unpacks(compress, unpack):
    with pytest.raises(TooLarge):
        unpack(compress(BOMB), limit=LIMIT)
    data = b"\x7fELF" + bytes(range(256)) * 64
    assert unpack(compress(data), limit=LIMIT) == data
    assert unpack(compress(data)) == data     # the default limit
    with pytest.raises((EOFError, OSError, lzma.LZMAError, ValueError)):
        unpack(compress(data)[:-12])          # cut short: refused, not returned partly


def test_the_default_limit_is_far_above_any_real_module():
    assert MAX_UNPACKED >= 256 << 20


def test_kmod_refuses_an_xz_bomb_with_enomem(tmp_path, monkeypatch):
    monkeypatch.setattr(depmod, "unpack_xz", functools.partial(unpack_xz, limit=LIMIT))
    path = tmp_path / "bomb.ko.xz"
    path.write_bytes(lzma.compress(BOMB))
    with pytest.raises(KmodError) as info:
        depmod.kmod_file_load(str(path))
    assert info.value.errno == errno.ENOMEM
