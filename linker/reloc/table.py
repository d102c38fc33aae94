"""One relocation type, defined once, used by both the scalar and the vector path.

A :class:`RelType` holds the psABI formula and the kernel's checks for one type. ``value`` is
written with ``+``, ``-`` and masks only, so the same function computes one relocation on
Python ints (the stepper) and a whole section at once on ``numpy.uint64`` arrays (the fast
path); both reduce modulo 2**64 the way the kernel's ``u64`` arithmetic does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..bits import MASK64

__all__ = ["MASK64", "RelType", "RelocArch"]

# ``value(S, A, P)`` and ``overflow(v)`` take Python ints (one relocation) or numpy uint64
# arrays (a whole section), so their types stay open
Formula = Callable[[Any, Any, Any], Any]
OverflowCheck = Callable[[Any], Any]


@dataclass(frozen=True)
class RelType:
    """How the kernel applies one relocation type.

    ``width`` is the number of bytes written (0: nothing, as for ``R_X86_64_NONE``);
    ``formula`` the psABI expression in its letters (S symbol value, A addend, P place);
    ``value(S, A, P)`` computes it modulo 2**64; ``overflow(v)`` is true where the kernel
    reports "overflow in relocation type" (None: never checked); ``zero_target`` says the
    kernel refuses a place whose current contents are not zero (x86-64 since 4.15).
    """

    number: int
    name: str
    width: int
    formula: str
    value: Formula
    overflow: OverflowCheck | None = None
    zero_target: bool = False

    def __repr__(self) -> str:
        return f"<RelType {self.name} ({self.number}) {self.formula}, {self.width} bytes>"


@dataclass(frozen=True)
class RelocArch:
    """The relocation rules of one architecture as the kernel's loader applies them.

    ``rela`` says which section type the kernel processes (the other kind is refused with
    ``wrong_kind_message``); ``unknown_message`` is printed, formatted with the module name
    and the type, for a type not in ``types``.
    """

    machine: int
    rela: bool
    types: dict[int, RelType]
    unknown_message: str
    wrong_kind_message: str

    def get(self, number: int) -> RelType | None:
        return self.types.get(number)
