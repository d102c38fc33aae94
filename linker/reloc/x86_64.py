"""x86-64 relocations as Linux 6.1 applies them (``arch/x86/kernel/module.c``,
``__apply_relocate_add``): RELA only, every type refuses a non-zero place ("Skipping invalid
relocation target"), 32 and 32S are range-checked after the write, PC32/PLT32 are not (the
check sits under ``#if 0`` in 6.1).
"""

from __future__ import annotations

from typing import Any

from ..bits import MASK64
from ..elf.constants import EM, R_X86_64
from .table import RelocArch, RelType


def _s_plus_a(S: Any, A: Any, P: Any) -> Any:
    return (S + A) & MASK64


def _s_plus_a_minus_p(S: Any, A: Any, P: Any) -> Any:
    return (S + A - P) & MASK64


def _not_u32(v: Any) -> Any:
    return (v >> 32) != 0


def _not_s32(v: Any) -> Any:
    return (((v + 0x80000000) & MASK64) >> 32) != 0


X86_64_TYPES: dict[int, RelType] = {t.number: t for t in (
    RelType(R_X86_64.R_X86_64_NONE, "R_X86_64_NONE", 0, "none", _s_plus_a),
    RelType(R_X86_64.R_X86_64_64, "R_X86_64_64", 8, "S + A", _s_plus_a, zero_target=True),
    RelType(R_X86_64.R_X86_64_32, "R_X86_64_32", 4, "S + A", _s_plus_a, _not_u32, zero_target=True),
    RelType(R_X86_64.R_X86_64_32S, "R_X86_64_32S", 4, "S + A", _s_plus_a, _not_s32, zero_target=True),
    RelType(R_X86_64.R_X86_64_PC32, "R_X86_64_PC32", 4, "S + A - P", _s_plus_a_minus_p,
            zero_target=True),
    RelType(R_X86_64.R_X86_64_PLT32, "R_X86_64_PLT32", 4, "S + A - P", _s_plus_a_minus_p,
            zero_target=True),  # the kernel has no PLT: a direct call, as PC32
    RelType(R_X86_64.R_X86_64_PC64, "R_X86_64_PC64", 8, "S + A - P", _s_plus_a_minus_p,
            zero_target=True),
)}

X86_64 = RelocArch(
    machine=EM.EM_X86_64, rela=True, types=X86_64_TYPES,
    unknown_message="module: %s: Unknown rela relocation: %u",
    wrong_kind_message="module %s: REL relocation unsupported")
