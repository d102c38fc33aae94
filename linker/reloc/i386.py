"""i386 relocations as Linux 6.1 applies them (``apply_relocate``, ``CONFIG_X86_32``): REL
only, the addend is the place's current contents, no zero-target and no range checks.
The seed-004 hobby loader uses the same two formulas for ``R_386_32`` and ``R_386_PC32``.
"""

from __future__ import annotations

from typing import Any

from ..bits import MASK64
from ..elf.constants import EM, R_386
from .table import RelocArch, RelType


def _s_plus_a(S: Any, A: Any, P: Any) -> Any:
    return (S + A) & MASK64


def _s_plus_a_minus_p(S: Any, A: Any, P: Any) -> Any:
    return (S + A - P) & MASK64


I386_TYPES: dict[int, RelType] = {t.number: t for t in (
    RelType(R_386.R_386_32, "R_386_32", 4, "S + A", _s_plus_a),
    RelType(R_386.R_386_PC32, "R_386_PC32", 4, "S + A - P", _s_plus_a_minus_p),
    RelType(R_386.R_386_PLT32, "R_386_PLT32", 4, "S + A - P", _s_plus_a_minus_p),  # since 5.12
)}

I386 = RelocArch(
    machine=EM.EM_386, rela=False, types=I386_TYPES,
    unknown_message="module: %s: Unknown relocation: %u",
    wrong_kind_message="module %s: REL relocation unsupported")  # sic: 6.1's RELA stub says REL

# seed 004: a switch over R_386_32 and R_386_PC32 with no default case
HOBBY_TYPES: dict[int, RelType] = {k: v for k, v in I386_TYPES.items()
                                   if k in (R_386.R_386_32, R_386.R_386_PC32)}
