"""The module descriptor: ``struct module __this_module`` or a hobby kernel's equivalent.

For Linux it is ``.gnu.linkonce.this_module``, written by modpost into the ``.mod.c``: the
module's name at ``offsetof(struct module, name)`` and the ``init``/``exit`` pointers, which
are zero in the file and filled by two relocations against ``init_module`` and
``cleanup_module``. A hobby kernel (seed 004) uses its own section, e.g. ``.this_module``
holding ``{init, exit}``. The profile says which section and which offsets; without one, the
fields are found from the relocations themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .fields import field_map, symbol_at

if TYPE_CHECKING:
    from ..elf.reader import ElfFile
    from ..profiles import Profile

LINUX_SECTION = ".gnu.linkonce.this_module"
LINUX_INIT_SYMBOL = "init_module"
LINUX_EXIT_SYMBOL = "cleanup_module"


@dataclass(frozen=True)
class DescriptorFormat:
    """Where a kernel expects the descriptor and its fields (from a profile)."""

    section: str
    size: int | None = None
    name_offset: int | None = None
    init_offset: int | None = None
    exit_offset: int | None = None


@dataclass(frozen=True)
class Pointer:
    """A pointer field: its offset in the descriptor and what it refers to."""

    offset: int
    target: str          # symbol (+addend) as the relocation names it
    function: str | None  # the function found at that place, if any


@dataclass(frozen=True)
class ModuleDescriptor:
    section: str
    section_index: int
    size: int
    name: str | None
    init: Pointer | None
    exit: Pointer | None
    pointers: tuple[Pointer, ...]   # every relocated field, in offset order


# seed 004's struct module { int (*init)(void); void (*exit)(void); }
HOBBY_FORMAT = DescriptorFormat(".this_module", size=8, init_offset=0, exit_offset=4)


def guess_format(elf: ElfFile) -> DescriptorFormat | None:
    if elf.section_by_name(LINUX_SECTION) is not None:
        return DescriptorFormat(LINUX_SECTION, name_offset=0x18 if elf.layout.bits == 64 else 0xC)
    if elf.section_by_name(HOBBY_FORMAT.section) is not None:
        return HOBBY_FORMAT
    return None


def parse_descriptor(elf: ElfFile, fmt: DescriptorFormat | None = None) -> ModuleDescriptor | None:
    """The descriptor, or ``None`` when the object has no such section."""
    fmt = fmt or guess_format(elf)
    if fmt is None:
        return None
    sec = elf.section_by_name(fmt.section)
    if sec is None:
        return None
    fields = field_map(elf, sec)
    pointers: list[Pointer] = []
    for off, ref in fields.items():
        func = None
        if 0 < ref.shndx < len(elf.sections):
            hit = symbol_at(elf, ref.shndx, ref.section_offset)
            func = hit.name if hit is not None else None
        elif ref.is_undefined:
            func = ref.symbol.name
        pointers.append(Pointer(off, ref.describe(elf), func))
    init = _pick(pointers, fmt.init_offset, LINUX_INIT_SYMBOL)
    exit_ = _pick(pointers, fmt.exit_offset, LINUX_EXIT_SYMBOL)
    name = None
    if fmt.name_offset is not None and sec.file_size > fmt.name_offset:
        raw = bytes(sec.data[fmt.name_offset:fmt.name_offset + 56])
        name = raw.split(b"\0", 1)[0].decode("latin-1")
    return ModuleDescriptor(sec.name, sec.index, sec.sh_size, name, init, exit_, tuple(pointers))


def _pick(pointers: list[Pointer], offset: int | None, linux_symbol: str) -> Pointer | None:
    if offset is not None:
        return next((p for p in pointers if p.offset == offset), None)
    # Linux: modpost points .init at init_module and .exit at cleanup_module (aliases)
    return next((p for p in pointers if p.target == linux_symbol), None)


def format_from_profile(profile: Profile) -> DescriptorFormat:
    """The :class:`DescriptorFormat` a kernel profile describes (``profile.descriptor``)."""
    d = profile.descriptor
    fields = d.fields

    def off(name: str) -> int | None:
        return fields[name].offset if name in fields else None

    return DescriptorFormat(d.section, size=d.size, name_offset=off("name"),
                            init_offset=off("init"), exit_offset=off("exit"))
