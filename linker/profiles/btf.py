"""A reader for the BPF Type Format (BTF), enough to lay out kernel structs.

BTF is the compact type description the kernel carries in its ``.BTF`` section
(``Documentation/bpf/btf.rst``, ``include/uapi/linux/btf.h``)::

    btf_header | type section | string section

The type section is a sequence of ``btf_type`` records (``name_off``, ``info``,
``size``/``type``), each followed by kind-specific data; type ids are assigned in
order, starting at 1 (0 is ``void``).  The string section is NUL-terminated names.

Only the profile generator uses this module: it turns the kernel's BTF into the
handful of struct offsets a profile records, so a profile never needs BTF at load
time.  The parse is lazy where it pays: one pass records where each type starts,
and members, enum values and names are decoded when somebody asks for them.

    btf = parse_btf(raw_bytes)
    field = btf.member("task_struct", "comm")     # Field(offset=..., size=16, ...)
    btf.sizeof_struct("module")
"""

from __future__ import annotations

import enum
import struct as _struct
from collections.abc import Iterator
from dataclasses import dataclass

from linker.errors import ProfileError

BTF_MAGIC = 0xEB9F
BTF_VERSION = 1
BTF_HEADER_MIN_LEN = 24  # magic..str_len: the fields this reader knows


class BtfError(ProfileError):
    """The BTF blob is malformed, or asks for a type it does not have."""


class BtfKind(enum.IntEnum):
    """``BTF_KIND_*`` from ``include/uapi/linux/btf.h``."""

    BTF_KIND_UNKN = 0
    BTF_KIND_INT = 1
    BTF_KIND_PTR = 2
    BTF_KIND_ARRAY = 3
    BTF_KIND_STRUCT = 4
    BTF_KIND_UNION = 5
    BTF_KIND_ENUM = 6
    BTF_KIND_FWD = 7
    BTF_KIND_TYPEDEF = 8
    BTF_KIND_VOLATILE = 9
    BTF_KIND_CONST = 10
    BTF_KIND_RESTRICT = 11
    BTF_KIND_FUNC = 12
    BTF_KIND_FUNC_PROTO = 13
    BTF_KIND_VAR = 14
    BTF_KIND_DATASEC = 15
    BTF_KIND_FLOAT = 16
    BTF_KIND_DECL_TAG = 17
    BTF_KIND_TYPE_TAG = 18
    BTF_KIND_ENUM64 = 19


K = BtfKind

# Bytes of kind-specific data after the 12-byte btf_type, as (fixed, per vlen item).
_TRAILER = {
    K.BTF_KIND_INT: (4, 0),          # u32 encoding/offset/bits
    K.BTF_KIND_PTR: (0, 0),
    K.BTF_KIND_ARRAY: (12, 0),       # struct btf_array
    K.BTF_KIND_STRUCT: (0, 12),      # struct btf_member[vlen]
    K.BTF_KIND_UNION: (0, 12),
    K.BTF_KIND_ENUM: (0, 8),         # struct btf_enum[vlen]
    K.BTF_KIND_FWD: (0, 0),
    K.BTF_KIND_TYPEDEF: (0, 0),
    K.BTF_KIND_VOLATILE: (0, 0),
    K.BTF_KIND_CONST: (0, 0),
    K.BTF_KIND_RESTRICT: (0, 0),
    K.BTF_KIND_FUNC: (0, 0),
    K.BTF_KIND_FUNC_PROTO: (0, 8),   # struct btf_param[vlen]
    K.BTF_KIND_VAR: (4, 0),          # struct btf_var
    K.BTF_KIND_DATASEC: (0, 12),     # struct btf_var_secinfo[vlen]
    K.BTF_KIND_FLOAT: (0, 0),
    K.BTF_KIND_DECL_TAG: (4, 0),     # struct btf_decl_tag
    K.BTF_KIND_TYPE_TAG: (0, 0),
    K.BTF_KIND_ENUM64: (0, 12),      # struct btf_enum64[vlen]
}

# Kinds whose third word is a size; the others (PTR, TYPEDEF, FUNC, ...) hold a type id.
_SIZED = frozenset({K.BTF_KIND_INT, K.BTF_KIND_STRUCT, K.BTF_KIND_UNION, K.BTF_KIND_ENUM,
                    K.BTF_KIND_ENUM64, K.BTF_KIND_FLOAT, K.BTF_KIND_DATASEC})
# Kinds that only qualify or rename another type: sizeof and member lookup look through them.
_MODIFIERS = frozenset({K.BTF_KIND_TYPEDEF, K.BTF_KIND_VOLATILE, K.BTF_KIND_CONST,
                        K.BTF_KIND_RESTRICT, K.BTF_KIND_TYPE_TAG})
_COMPOSITE = frozenset({K.BTF_KIND_STRUCT, K.BTF_KIND_UNION})

BTF_INT_SIGNED = 1 << 0
BTF_INT_CHAR = 1 << 1
BTF_INT_BOOL = 1 << 2


@dataclass(frozen=True)
class BtfHeader:
    magic: int
    version: int
    flags: int
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int


@dataclass(frozen=True)
class BtfMember:
    """One ``btf_member``, with the kind_flag split of ``offset`` already applied."""

    name: str
    type_id: int
    bit_offset: int
    bitfield_size: int  # 0 when the member is not a bitfield


@dataclass(frozen=True)
class BtfEnumValue:
    name: str
    value: int


@dataclass(frozen=True)
class BtfParam:
    name: str
    type_id: int


@dataclass(frozen=True)
class BtfVarSecinfo:
    type_id: int
    offset: int
    size: int


@dataclass(frozen=True)
class BtfType:
    """One decoded type record.  Kind-specific fields are ``None`` where they do not apply.

    (Code that tests ``kind`` before reading such a field says ``# type: ignore``: a type
    checker cannot follow the kind.)
    """

    type_id: int
    kind: BtfKind
    name: str
    vlen: int
    kind_flag: int
    size: int | None = None          # INT, STRUCT, UNION, ENUM, ENUM64, FLOAT, DATASEC
    ref_type_id: int | None = None   # PTR, TYPEDEF, qualifiers, FUNC, FUNC_PROTO (return), VAR, DECL_TAG
    int_encoding: int | None = None  # INT: BTF_INT_SIGNED | BTF_INT_CHAR | BTF_INT_BOOL
    int_offset: int | None = None    # INT: BTF_INT_OFFSET
    int_bits: int | None = None      # INT: BTF_INT_BITS
    array: tuple[int, int, int] | None = None   # ARRAY: (elem type, index type, nelems)
    members: tuple[BtfMember, ...] | None = None
    enum_values: tuple[BtfEnumValue, ...] | None = None
    params: tuple[BtfParam, ...] | None = None
    linkage: int | None = None       # VAR linkage, FUNC linkage (vlen)
    secinfos: tuple[BtfVarSecinfo, ...] | None = None
    component_idx: int | None = None  # DECL_TAG


@dataclass(frozen=True)
class Field:
    """Where a member lives inside its outermost struct."""

    offset: int            # bytes from the start of the struct (first byte of a bitfield)
    size: int              # bytes (the bytes a bitfield touches)
    type_id: int
    bit_offset: int        # bits from the start of the struct
    bitfield_size: int     # 0 unless a bitfield

    @property
    def is_bitfield(self) -> bool:
        return self.bitfield_size != 0


def parse_btf(data: bytes | bytearray | memoryview, pointer_size: int | None = None) -> Btf:
    """Parse a raw ``.BTF`` section.  ``pointer_size`` defaults to ``sizeof(long)`` in it."""
    return Btf(bytes(data), pointer_size)


class Btf:
    """The types of one BTF blob, indexed by type id and looked up by name."""

    def __init__(self, data: bytes, pointer_size: int | None = None) -> None:
        self.data = data
        self.header, self._endian = _read_header(data)
        h = self.header
        self._types_start = h.hdr_len + h.type_off
        self._str_start = h.hdr_len + h.str_off
        self._str_end = self._str_start + h.str_len
        self._u32 = _struct.Struct(self._endian + "I")
        self._btf_type = _struct.Struct(self._endian + "III")
        self._offsets = self._index_types()
        self._cache: dict[int, BtfType] = {}
        self._by_name: dict[str, list[int]] | None = None
        self.pointer_size: int = pointer_size or self._guess_pointer_size()

    # -- the one sequential pass ----------------------------------------------------

    def _index_types(self):
        """Record the byte offset of every type record; type id i is at ``offsets[i]``."""
        offsets = [0]  # type id 0 is void and has no record
        pos = self._types_start
        end = pos + self.header.type_len
        unpack = self._btf_type.unpack_from
        trailer = {int(k): v for k, v in _TRAILER.items()}
        while pos < end:
            if pos + 12 > end:
                raise BtfError(f"BTF: type record at offset {pos} runs past the type section")
            _, info, _ = unpack(self.data, pos)
            kind = (info >> 24) & 0x1F
            try:
                fixed, per_item = trailer[kind]
            except KeyError:
                raise BtfError(f"BTF: unknown kind {kind} for type id {len(offsets)}") from None
            offsets.append(pos)
            pos += 12 + fixed + per_item * (info & 0xFFFF)
        if pos != end:
            raise BtfError(f"BTF: last type record runs past the type section ({pos} > {end})")
        return offsets

    # -- strings ----------------------------------------------------------------

    def string(self, offset: int) -> str:
        """The NUL-terminated string at ``offset`` in the string section."""
        start = self._str_start + offset
        if offset < 0 or start >= self._str_end:
            raise BtfError(f"BTF: string offset {offset} outside the string section")
        end = self.data.find(b"\0", start, self._str_end)
        if end < 0:
            raise BtfError(f"BTF: string at offset {offset} is not NUL-terminated")
        return self.data[start:end].decode("utf-8", "replace")

    # -- types ------------------------------------------------------------------

    def __len__(self) -> int:
        """The number of type ids, counting void (id 0)."""
        return len(self._offsets)

    def type(self, type_id: int) -> BtfType:
        """Decode type ``type_id`` (memoised)."""
        cached = self._cache.get(type_id)
        if cached is not None:
            return cached
        if type_id == 0:
            t = BtfType(0, K.BTF_KIND_UNKN, "void", 0, 0)
        elif 0 < type_id < len(self._offsets):
            t = self._decode(type_id, self._offsets[type_id])
        else:
            raise BtfError(f"BTF: no type id {type_id} (have 1..{len(self._offsets) - 1})")
        self._cache[type_id] = t
        return t

    def types(self) -> Iterator[BtfType]:
        """Every type, in id order (decodes them all: slow on a whole vmlinux)."""
        return (self.type(i) for i in range(1, len(self._offsets)))

    def _decode(self, type_id, pos):
        name_off, info, size_or_type = self._btf_type.unpack_from(self.data, pos)
        kind = K((info >> 24) & 0x1F)
        vlen = info & 0xFFFF
        kind_flag = info >> 31
        common = dict(type_id=type_id, kind=kind, name=self.string(name_off),
                      vlen=vlen, kind_flag=kind_flag)
        if kind in _SIZED:
            common["size"] = size_or_type
        else:
            common["ref_type_id"] = size_or_type
        extra = pos + 12
        decode = _DECODERS.get(kind)
        if decode is not None:
            common.update(decode(self, extra, vlen, kind_flag))
        if kind == K.BTF_KIND_FUNC:
            common["linkage"] = vlen
        return BtfType(**common)

    def _items(self, fmt, pos, count):
        return _struct.iter_unpack(self._endian + fmt, self.data[pos:pos + _struct.calcsize(fmt) * count])

    # -- lookup by name -----------------------------------------------------------

    def _names(self):
        """name -> [type ids], for named types (built once, on first use)."""
        if self._by_name is None:
            by_name = {}
            unpack = self._btf_type.unpack_from
            data, offsets = self.data, self._offsets
            find = data.find
            base, stop = self._str_start, self._str_end
            for type_id in range(1, len(offsets)):
                name_off = unpack(data, offsets[type_id])[0]
                if name_off:
                    start = base + name_off
                    end = find(b"\0", start, stop)
                    if end < 0:
                        raise BtfError(f"BTF: name offset {name_off} of type id {type_id} is "
                                       "outside the string section or not NUL-terminated")
                    by_name.setdefault(data[start:end].decode("utf-8", "replace"), []).append(type_id)
            self._by_name = by_name
        return self._by_name

    def find(self, name: str, kind: BtfKind | None = None) -> list[BtfType]:
        """Every type called ``name`` (optionally of one kind), in id order."""
        found = [self.type(i) for i in self._names().get(name, ())]
        if kind is not None:
            found = [t for t in found if t.kind == kind]
        return found

    def find_struct(self, name: str) -> BtfType:
        """The struct (or union) called ``name``; a complete definition beats a forward one."""
        candidates = [t for t in self.find(name) if t.kind in _COMPOSITE]
        if not candidates:
            raise BtfError(f"BTF: no struct or union named {name!r}")
        # Deduplicated vmlinux BTF has one definition per name; if a blob has more, prefer
        # the struct over the union and then the first one, so the answer is stable.
        candidates.sort(key=lambda t: (t.kind != K.BTF_KIND_STRUCT, t.type_id))
        return candidates[0]

    # -- sizes and layout -------------------------------------------------------

    def resolve(self, type_id: int) -> BtfType:
        """Follow typedefs and qualifiers (const, volatile, restrict, type tags)."""
        seen = 0
        t = self.type(type_id)
        while t.kind in _MODIFIERS:
            seen += 1
            if seen > len(self._offsets):
                raise BtfError(f"BTF: type id {type_id} is a loop of typedefs/qualifiers")
            t = self.type(t.ref_type_id)  # type: ignore[arg-type]
        return t

    def sizeof(self, type_id: int) -> int:
        """``sizeof`` the type, in bytes."""
        t = self.resolve(type_id)
        if t.kind == K.BTF_KIND_PTR:
            return self.pointer_size
        if t.kind == K.BTF_KIND_ARRAY:
            elem, _, nelems = t.array  # type: ignore[misc]
            return nelems * self.sizeof(elem)
        if t.kind == K.BTF_KIND_VAR:
            return self.sizeof(t.ref_type_id)  # type: ignore[arg-type]
        if t.size is not None:
            return t.size
        raise BtfError(f"BTF: type id {type_id} ({t.kind.name} {t.name!r}) has no size")

    def sizeof_struct(self, name: str) -> int:
        return self.find_struct(name).size  # type: ignore[return-value]  # a struct has one

    def member(self, struct_name: str, path: str) -> Field:
        """Resolve ``"comm"`` or ``"core_layout.size"`` inside struct ``struct_name``.

        Anonymous struct/union members are searched through, as C does, so
        ``kernel_param.arg`` finds the ``arg`` of its unnamed union.
        """
        return self.member_in(self.find_struct(struct_name).type_id, path,
                              where=struct_name)

    def member_in(self, type_id: int, path: str, where: str | None = None) -> Field:
        where = where or self.type_name(type_id)
        bit_offset = 0
        current = type_id
        for part in path.split("."):   # at least one part: member is always set
            composite = self.resolve(current)
            if composite.kind not in _COMPOSITE:
                raise BtfError(f"BTF: {where}.{path}: {part!r} is inside a non-struct member")
            chain = self._find_member(composite, part)
            if chain is None:
                raise BtfError(f"BTF: {where} has no member {path!r}")
            for m in chain:
                bit_offset += m.bit_offset
            member = chain[-1]
            current = member.type_id
        if member.bitfield_size:
            first = bit_offset // 8
            last = (bit_offset + member.bitfield_size - 1) // 8
            return Field(first, last - first + 1, member.type_id, bit_offset, member.bitfield_size)
        if bit_offset % 8:
            raise BtfError(f"BTF: {where}.{path} is not byte-aligned (bit {bit_offset})")
        return Field(bit_offset // 8, self.sizeof(member.type_id), member.type_id, bit_offset, 0)

    def member_names(self, struct_name: str) -> list[str]:
        """The names ``member()`` accepts at the top level, anonymous members flattened."""
        names = []

        def walk(composite):
            for m in composite.members:
                if m.name:
                    names.append(m.name)
                else:
                    inner = self.resolve(m.type_id)
                    if inner.kind in _COMPOSITE:
                        walk(inner)
        walk(self.find_struct(struct_name))
        return names

    def _find_member(self, composite, name):
        """The chain of members from ``composite`` down to the one called ``name``."""
        for m in composite.members:
            if m.name == name:
                return [m]
        for m in composite.members:
            if not m.name:
                inner = self.resolve(m.type_id)
                if inner.kind in _COMPOSITE:
                    chain = self._find_member(inner, name)
                    if chain is not None:
                        return [m] + chain
        return None

    # -- names for humans ---------------------------------------------------------

    def type_name(self, type_id: int, _depth: int = 0) -> str:
        """A C-like spelling: ``char[16]``, ``struct list_head``, ``struct module *``."""
        if _depth > 32:
            return "..."
        t = self.type(type_id)
        k = t.kind
        if k == K.BTF_KIND_UNKN:
            return "void"
        if k in (K.BTF_KIND_STRUCT, K.BTF_KIND_UNION, K.BTF_KIND_ENUM, K.BTF_KIND_ENUM64):
            word = {K.BTF_KIND_STRUCT: "struct", K.BTF_KIND_UNION: "union"}.get(k, "enum")
            return f"{word} {t.name}" if t.name else f"{word} (anon)"
        if k == K.BTF_KIND_FWD:
            return f"{'union' if t.kind_flag else 'struct'} {t.name}"
        if k == K.BTF_KIND_PTR:
            inner = self.type(t.ref_type_id)  # type: ignore[arg-type]
            if inner.kind == K.BTF_KIND_FUNC_PROTO:
                return self._proto_name(inner, "(*)", _depth)
            return self.type_name(t.ref_type_id, _depth + 1) + " *"  # type: ignore[arg-type]
        if k == K.BTF_KIND_ARRAY:
            elem, _, nelems = t.array  # type: ignore[misc]
            return f"{self.type_name(elem, _depth + 1)}[{nelems}]"
        if k in (K.BTF_KIND_CONST, K.BTF_KIND_VOLATILE, K.BTF_KIND_RESTRICT):
            word = k.name[len("BTF_KIND_"):].lower()
            return f"{word} {self.type_name(t.ref_type_id, _depth + 1)}"  # type: ignore[arg-type]
        if k == K.BTF_KIND_TYPE_TAG:
            return self.type_name(t.ref_type_id, _depth + 1)  # type: ignore[arg-type]
        if k == K.BTF_KIND_FUNC_PROTO:
            return self._proto_name(t, "", _depth)
        return t.name or f"({k.name} {type_id})"

    def _proto_name(self, proto, declarator, depth):
        args = ", ".join(self.type_name(p.type_id, depth + 1) if p.type_id else "..."
                         for p in proto.params) or "void"
        return f"{self.type_name(proto.ref_type_id, depth + 1)} {declarator}({args})".replace("  ", " ")

    # -- internals --------------------------------------------------------------

    def _guess_pointer_size(self):
        for name in ("long unsigned int", "long int", "unsigned long", "long"):
            for t in self.find(name, K.BTF_KIND_INT):
                return t.size
        return 8


def _read_header(data):
    if len(data) < BTF_HEADER_MIN_LEN:
        raise BtfError(f"BTF: {len(data)} bytes is too short for a header")
    for endian in ("<", ">"):
        if _struct.unpack_from(endian + "H", data)[0] == BTF_MAGIC:
            break
    else:
        raise BtfError(f"BTF: bad magic 0x{int.from_bytes(data[:2], 'little'):04x}")
    header = BtfHeader(*_struct.unpack_from(endian + "HBBIIIII", data))
    if header.version != BTF_VERSION:
        raise BtfError(f"BTF: unsupported version {header.version}")
    if header.hdr_len < BTF_HEADER_MIN_LEN:
        raise BtfError(f"BTF: header length {header.hdr_len} is too short")
    for what, off, length in (("type", header.type_off, header.type_len),
                              ("string", header.str_off, header.str_len)):
        if header.hdr_len + off + length > len(data):
            raise BtfError(f"BTF: {what} section runs past the end of the data")
    if header.str_len and data[header.hdr_len + header.str_off] != 0:
        raise BtfError("BTF: string section does not start with the empty string")
    return header, endian


# -- kind-specific decoders: (btf, pos after btf_type, vlen, kind_flag) -> fields -------

def _decode_int(btf, pos, vlen, kind_flag):
    raw = btf._u32.unpack_from(btf.data, pos)[0]
    return dict(int_encoding=(raw >> 24) & 0x0F, int_offset=(raw >> 16) & 0xFF,
                int_bits=raw & 0xFF)


def _decode_array(btf, pos, vlen, kind_flag):
    return dict(array=_struct.unpack_from(btf._endian + "III", btf.data, pos))


def _decode_members(btf, pos, vlen, kind_flag):
    members = []
    for name_off, type_id, offset in btf._items("III", pos, vlen):
        if kind_flag:
            bit_offset, bitfield_size = offset & 0xFFFFFF, offset >> 24
        else:
            # Old-style bitfield: the member's int type carries the width and a bit offset.
            bit_offset, bitfield_size = offset, 0
            t = btf.resolve(type_id)
            if t.kind == K.BTF_KIND_INT and (t.int_offset or t.int_bits != 8 * t.size):
                bit_offset += t.int_offset
                bitfield_size = t.int_bits
        members.append(BtfMember(btf.string(name_off), type_id, bit_offset, bitfield_size))
    return dict(members=tuple(members))


def _decode_enum(btf, pos, vlen, kind_flag):
    fmt = "Ii" if kind_flag else "II"  # kind_flag: signed values
    return dict(enum_values=tuple(BtfEnumValue(btf.string(n), v)
                                  for n, v in btf._items(fmt, pos, vlen)))


def _decode_enum64(btf, pos, vlen, kind_flag):
    values = []
    for name_off, lo, hi in btf._items("III", pos, vlen):
        value = (hi << 32) | lo
        if kind_flag and value >= 1 << 63:
            value -= 1 << 64
        values.append(BtfEnumValue(btf.string(name_off), value))
    return dict(enum_values=tuple(values))


def _decode_params(btf, pos, vlen, kind_flag):
    return dict(params=tuple(BtfParam(btf.string(n), t) for n, t in btf._items("II", pos, vlen)))


def _decode_var(btf, pos, vlen, kind_flag):
    return dict(linkage=btf._u32.unpack_from(btf.data, pos)[0])


def _decode_datasec(btf, pos, vlen, kind_flag):
    return dict(secinfos=tuple(BtfVarSecinfo(*item) for item in btf._items("III", pos, vlen)))


def _decode_decl_tag(btf, pos, vlen, kind_flag):
    return dict(component_idx=_struct.unpack_from(btf._endian + "i", btf.data, pos)[0])


_DECODERS = {
    K.BTF_KIND_INT: _decode_int,
    K.BTF_KIND_ARRAY: _decode_array,
    K.BTF_KIND_STRUCT: _decode_members,
    K.BTF_KIND_UNION: _decode_members,
    K.BTF_KIND_ENUM: _decode_enum,
    K.BTF_KIND_ENUM64: _decode_enum64,
    K.BTF_KIND_FUNC_PROTO: _decode_params,
    K.BTF_KIND_VAR: _decode_var,
    K.BTF_KIND_DATASEC: _decode_datasec,
    K.BTF_KIND_DECL_TAG: _decode_decl_tag,
}
