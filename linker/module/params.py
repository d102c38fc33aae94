"""``__param``: the module's ``struct kernel_param`` descriptors.

Layout (``include/linux/moduleparam.h``, the same since 4.2), per ELF class:

====================  ==========  ==========
field                 64-bit      32-bit
====================  ==========  ==========
name (char *)         0           0
mod (module *)        8           4
ops (ops *)           16          8
perm (u16)            24          12
level (s8)            26          14
flags (u8)            27          15
arg / str / arr       32          16
size                  40          20
====================  ==========  ==========

The type is read from the symbol ``ops`` points at (``param_ops_int`` is ``int``);
``param_array_ops`` means an array whose ``struct kparam_array`` (behind ``arr``) names the
element ops and the maximum count; ``param_ops_string`` means ``module_param_string``, whose
``struct kparam_string`` gives the buffer size.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .fields import FieldMap, FieldRef, field_map, string_at

if TYPE_CHECKING:
    from ..elf.reader import ElfFile, Section

KERNEL_PARAM = {64: dict(name=0, mod=8, ops=16, perm=24, level=26, flags=27, arg=32, size=40),
                32: dict(name=0, mod=4, ops=8, perm=12, level=14, flags=15, arg=16, size=20)}
KPARAM_ARRAY = {64: dict(max=0, elemsize=4, num=8, ops=16, elem=24, size=32),
                32: dict(max=0, elemsize=4, num=8, ops=12, elem=16, size=20)}
KPARAM_STRING = {64: dict(maxlen=0, string=8, size=16), 32: dict(maxlen=0, string=4, size=8)}

KERNEL_PARAM_FL_UNSAFE = 1
KERNEL_PARAM_FL_HWPARAM = 2


@dataclass(frozen=True)
class ParamInfo:
    name: str
    type: str                 # "int", "charp", "string", "array of int", ...
    ops: str                  # the ops symbol, e.g. "param_ops_int"
    perm: int
    level: int
    flags: int
    arg: str | None           # what ``arg`` points at, e.g. "mystr" or ".data+0x10"
    array_max: int | None = None
    array_elemsize: int | None = None
    array_num: str | None = None
    string_maxlen: int | None = None
    offset: int = 0           # of the descriptor inside __param


def ops_type(ops_symbol: str) -> str:
    if ops_symbol.startswith("param_ops_"):
        return ops_symbol[len("param_ops_"):]
    return ops_symbol or "?"


def parse_params(elf: ElfFile) -> list[ParamInfo]:
    sec = elf.section_by_name("__param")
    if sec is None:
        return []
    bits = elf.layout.bits
    kp = KERNEL_PARAM[bits]
    fields = field_map(elf, sec)
    data = sec.data
    u16, u32 = elf.layout.u16, elf.layout.u32
    out = []
    # the entries the file holds (a NOBITS __param has none, whatever its sh_size says)
    for off in range(0, len(data) - kp["size"] + 1, kp["size"]):
        name = string_at(elf, fields.get(off + kp["name"])) or ""
        ops_ref = fields.get(off + kp["ops"])
        ops = ops_ref.symbol.name if ops_ref is not None else ""
        arg_ref = fields.get(off + kp["arg"])
        perm = u16.unpack_from(data, off + kp["perm"])[0]
        level = int.from_bytes(data[off + kp["level"]:off + kp["level"] + 1], "little", signed=True)
        flags = data[off + kp["flags"]]
        extra: dict[str, Any] = {}
        ptype = ops_type(ops)
        if ops == "param_array_ops" and arg_ref is not None:
            extra = _array(elf, arg_ref, bits, u32)
            ptype = "array of " + ops_type(extra.pop("elem_ops"))
        elif ops == "param_ops_string" and arg_ref is not None:
            extra = _string(elf, arg_ref, bits, u32)
        out.append(ParamInfo(name, ptype, ops, perm, level, flags,
                             arg_ref.describe(elf) if arg_ref is not None else None,
                             offset=off, **extra))
    return out


def _struct_at(elf: ElfFile, ref: FieldRef | None,
               size: int) -> tuple[Section, int, FieldMap] | None:
    """(section, offset, FieldMap) of the struct a field points at, or None."""
    if ref is None or not 0 < ref.shndx < len(elf.sections):
        return None
    sec = elf.sections[ref.shndx]
    off = ref.section_offset
    if off < 0 or off + size > len(sec.data):
        return None
    return sec, off, field_map(elf, sec)


def _array(elf: ElfFile, ref: FieldRef, bits: int, u32: struct.Struct) -> dict[str, Any]:
    ka = KPARAM_ARRAY[bits]
    found = _struct_at(elf, ref, ka["size"])
    if found is None:
        return {"elem_ops": ""}
    sec, off, fields = found
    ops = fields.get(off + ka["ops"])
    num = fields.get(off + ka["num"])
    return {"elem_ops": ops.symbol.name if ops is not None else "",
            "array_max": u32.unpack_from(sec.data, off + ka["max"])[0],
            "array_elemsize": u32.unpack_from(sec.data, off + ka["elemsize"])[0],
            "array_num": num.describe(elf) if num is not None else None}


def _string(elf: ElfFile, ref: FieldRef, bits: int, u32: struct.Struct) -> dict[str, Any]:
    ks = KPARAM_STRING[bits]
    found = _struct_at(elf, ref, ks["size"])
    if found is None:
        return {}
    sec, off, _ = found
    return {"string_maxlen": u32.unpack_from(sec.data, off + ks["maxlen"])[0]}
