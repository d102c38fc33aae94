"""Relocation tables, one per architecture, and the code that applies them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ProfileError
from .i386 import HOBBY_TYPES, I386
from .table import RelocArch, RelType
from .x86_64 import X86_64

if TYPE_CHECKING:
    from ..profiles import Profile

ARCHES: dict[str, RelocArch] = {"x86_64": X86_64, "i386": I386}


def arch_for(profile: Profile) -> RelocArch:
    """The relocation rules of a profile's architecture."""
    try:
        return ARCHES[profile.arch]
    except KeyError:
        raise ProfileError(f"no relocation table for architecture {profile.arch!r}") from None


__all__ = ["ARCHES", "HOBBY_TYPES", "I386", "RelType", "RelocArch", "X86_64", "arch_for"]
