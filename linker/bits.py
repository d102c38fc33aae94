"""Fixed-width integers as the kernel's C sees them: masks, sign extension, wrap-around.

Python ints are unbounded; a ``u32`` field, an ``s64`` offset or a ``long`` addend are not.
These helpers are the one place that turns between the two, for the linker and the emulator.
"""

from __future__ import annotations

MASK32 = (1 << 32) - 1
MASK64 = (1 << 64) - 1


def mask(bits: int) -> int:
    """All ones in the low ``bits`` bits: ``mask(32) == 0xffffffff``."""
    return (1 << bits) - 1


def to_unsigned(value: int, bits: int) -> int:
    """The low ``bits`` of ``value`` read as an unsigned number (C's cast to ``u<bits>``)."""
    return value & ((1 << bits) - 1)


def sign_extend(value: int, bits: int) -> int:
    """The low ``bits`` of ``value`` read as a two's complement number (C's cast to ``s<bits>``).

    ``sign_extend(0xfffffffc, 32) == -4``; ``sign_extend(-4, 32) == -4``;
    ``sign_extend(0x80, 8) == -128``.
    """
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value
