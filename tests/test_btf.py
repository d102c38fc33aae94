"""The BTF reader: hand-assembled blobs for every kind, then the real vmlinux BTF."""

import lzma
import struct
from pathlib import Path

import pytest

from linker.errors import ProfileError
from linker.profiles.btf import BTF_MAGIC, BtfError, BtfKind as K, parse_btf

ROOT = Path(__file__).resolve().parent.parent
VMLINUX_BTF = ROOT.parent / "shared" / "kernel" / "debian-6.1.0-56-amd64" / "vmlinux.btf.xz"


class BtfBuilder:
    """Assembles a BTF blob the way pahole lays one out: header, types, strings."""

    def __init__(self, endian="<"):
        self.endian = endian
        self.strings = bytearray(b"\0")
        self.offsets = {"": 0}
        self.records = []

    def s(self, name):
        if name not in self.offsets:
            self.offsets[name] = len(self.strings)
            self.strings += name.encode() + b"\0"
        return self.offsets[name]

    def add(self, kind, name="", vlen=0, kind_flag=0, size_or_type=0, extra=b""):
        info = (kind_flag << 31) | (int(kind) << 24) | vlen
        self.records.append(struct.pack(self.endian + "III", self.s(name), info, size_or_type) + extra)
        return len(self.records)  # type ids start at 1

    def u32s(self, fmt, *values):
        return struct.pack(self.endian + fmt, *values)

    def int_(self, name, size, bits=None, encoding=0, offset=0):
        bits = 8 * size if bits is None else bits
        return self.add(K.BTF_KIND_INT, name, size_or_type=size,
                        extra=self.u32s("I", (encoding << 24) | (offset << 16) | bits))

    def ptr(self, t):
        return self.add(K.BTF_KIND_PTR, size_or_type=t)

    def array(self, elem, index, nelems):
        return self.add(K.BTF_KIND_ARRAY, extra=self.u32s("III", elem, index, nelems))

    def composite(self, kind, name, size, members, kind_flag=0):
        extra = b""
        for mname, mtype, bit_offset, bitfield_size in members:
            offset = (bitfield_size << 24) | bit_offset if kind_flag else bit_offset
            extra += self.u32s("III", self.s(mname), mtype, offset)
        return self.add(kind, name, len(members), kind_flag, size, extra)

    def struct_(self, name, size, members, kind_flag=0):
        return self.composite(K.BTF_KIND_STRUCT, name, size, members, kind_flag)

    def union(self, name, size, members, kind_flag=0):
        return self.composite(K.BTF_KIND_UNION, name, size, members, kind_flag)

    def enum(self, name, size, values, signed=False):
        extra = b"".join(self.u32s("Ii" if signed else "II", self.s(n), v) for n, v in values)
        return self.add(K.BTF_KIND_ENUM, name, len(values), int(signed), size, extra)

    def enum64(self, name, size, values, signed=False):
        extra = b""
        for n, v in values:
            v &= (1 << 64) - 1
            extra += self.u32s("III", self.s(n), v & 0xFFFFFFFF, v >> 32)
        return self.add(K.BTF_KIND_ENUM64, name, len(values), int(signed), size, extra)

    def ref(self, kind, name, t):
        return self.add(kind, name, size_or_type=t)

    def func(self, name, proto, linkage=1):
        return self.add(K.BTF_KIND_FUNC, name, vlen=linkage, size_or_type=proto)

    def func_proto(self, ret, params):
        extra = b"".join(self.u32s("II", self.s(n), t) for n, t in params)
        return self.add(K.BTF_KIND_FUNC_PROTO, vlen=len(params), size_or_type=ret, extra=extra)

    def var(self, name, t, linkage=1):
        return self.add(K.BTF_KIND_VAR, name, size_or_type=t, extra=self.u32s("I", linkage))

    def datasec(self, name, size, entries):
        extra = b"".join(self.u32s("III", *e) for e in entries)
        return self.add(K.BTF_KIND_DATASEC, name, len(entries), size_or_type=size, extra=extra)

    def decl_tag(self, name, t, component_idx):
        return self.add(K.BTF_KIND_DECL_TAG, name, size_or_type=t,
                        extra=self.u32s("i", component_idx))

    def build(self):
        types = b"".join(self.records)
        header = struct.pack(self.endian + "HBBIIIII", BTF_MAGIC, 1, 0, 24,
                             0, len(types), len(types), len(self.strings))
        return header + types + bytes(self.strings)


def sample_builder(endian="<"):
    """A miniature kernel: list_head, a kernel_param-like struct with an anonymous union,
    a _ddebug-like struct with kind_flag bitfields, an old-style bitfield, and one of every
    other kind."""
    b = BtfBuilder(endian)
    ids = {}
    ids["int"] = b.int_("int", 4, encoding=1)                                   # 1
    ids["char"] = b.int_("char", 1, encoding=2)                                 # 2
    ids["ulong"] = b.int_("long unsigned int", 8)                               # 3
    ids["uint"] = b.int_("unsigned int", 4)                                     # 4
    ids["u16"] = b.ref(K.BTF_KIND_TYPEDEF, "u16", b.int_("short unsigned int", 2))
    ids["const_u16"] = b.ref(K.BTF_KIND_CONST, "", ids["u16"])
    # BTF may point forward: list_head's members use the pointer type that follows it.
    ids["list_head"] = lh = len(b.records) + 1
    b.struct_("list_head", 16, [("next", lh + 1, 0, 0), ("prev", lh + 1, 64, 0)])
    b.ptr(lh)
    ids["char16"] = b.array(ids["char"], ids["int"], 16)
    ids["anon_union"] = b.union("", 8, [("arg", b.ptr(0), 0, 0), ("str", b.ptr(ids["char"]), 0, 0)])
    ids["kernel_param"] = b.struct_("kernel_param", 24, [
        ("name", b.ptr(b.ref(K.BTF_KIND_CONST, "", ids["char"])), 0, 0),
        ("perm", ids["const_u16"], 64, 0),
        ("", ids["anon_union"], 128, 0),
    ])
    ids["_ddebug"] = b.struct_("_ddebug", 16, [
        ("format", b.ptr(ids["char"]), 0, 0),
        ("lineno", ids["uint"], 64, 18),
        ("class_id", ids["uint"], 82, 6),
        ("flags", ids["uint"], 88, 8),
    ], kind_flag=1)
    bits3 = b.int_("unsigned int", 4, bits=3, offset=0)
    ids["oldbits"] = b.struct_("oldbits", 4, [("a", bits3, 0, 0), ("b", bits3, 3, 0)])
    ids["task"] = b.struct_("task_struct", 64, [
        ("tasks", lh, 0, 0),
        ("pid", b.ref(K.BTF_KIND_TYPEDEF, "pid_t", ids["int"]), 128, 0),
        ("comm", ids["char16"], 160, 0),
        ("state", b.ref(K.BTF_KIND_VOLATILE, "", ids["int"]), 288, 0),
        ("", b.struct_("", 8, [("nested", ids["ulong"], 0, 0)]), 320, 0),
        ("parent", b.ref(K.BTF_KIND_RESTRICT, "", b.ptr(0)), 384, 0),
    ])
    ids["enum"] = b.enum("module_state", 4, [("MODULE_STATE_LIVE", 0), ("NEG", -1)], signed=True)
    ids["enum64"] = b.enum64("big", 8, [("HUGE", 1 << 40), ("MINUS", -2)], signed=True)
    ids["fwd"] = b.ref(K.BTF_KIND_FWD, "opaque", 0)
    ids["proto"] = b.func_proto(ids["int"], [("fmt", b.ptr(ids["char"])), ("", 0)])
    ids["func"] = b.func("_printk", ids["proto"], linkage=1)
    ids["var"] = b.var("jiffies", ids["ulong"], linkage=1)
    ids["datasec"] = b.datasec(".data", 8, [(ids["var"], 0, 8)])
    ids["float"] = b.add(K.BTF_KIND_FLOAT, "double", size_or_type=8)
    ids["decl_tag"] = b.decl_tag("user", ids["func"], 0)
    ids["type_tag"] = b.ref(K.BTF_KIND_TYPE_TAG, "percpu", ids["int"])
    return b, ids


@pytest.fixture(params=["<", ">"], ids=["little", "big"])
def sample(request):
    b, ids = sample_builder(request.param)
    return parse_btf(b.build()), ids


def test_header_and_counts(sample):
    btf, ids = sample
    assert btf.header.magic == BTF_MAGIC and btf.header.version == 1
    assert len(btf) == max(ids.values()) + 1
    assert btf.pointer_size == 8  # from "long unsigned int"


def test_every_kind_decodes(sample):
    btf, ids = sample
    kinds = {btf.type(i).kind for i in range(1, len(btf))}
    assert kinds == set(K) - {K.BTF_KIND_UNKN}
    assert btf.type(0).name == "void"


@pytest.mark.parametrize("path, offset, size", [
    ("tasks", 0, 16),
    ("pid", 16, 4),
    ("comm", 20, 16),
    ("state", 36, 4),
    ("nested", 40, 8),            # through an anonymous struct
    ("parent", 48, 8),            # restrict pointer
    ("tasks.prev", 8, 8),         # a path through a named member
])
def test_task_members(sample, path, offset, size):
    btf, _ = sample
    field = btf.member("task_struct", path)
    assert (field.offset, field.size, field.bitfield_size) == (offset, size, 0)


def test_anonymous_union_member(sample):
    btf, _ = sample
    arg = btf.member("kernel_param", "arg")
    assert (arg.offset, arg.size) == (16, 8)
    assert btf.member("kernel_param", "str").offset == 16
    assert (btf.member("kernel_param", "perm").offset, btf.member("kernel_param", "perm").size) == (8, 2)
    assert btf.member_names("kernel_param") == ["name", "perm", "arg", "str"]


@pytest.mark.parametrize("name, offset, size, bit_offset, bits", [
    ("lineno", 8, 3, 64, 18),
    ("class_id", 10, 1, 82, 6),
    ("flags", 11, 1, 88, 8),
])
def test_kind_flag_bitfields(sample, name, offset, size, bit_offset, bits):
    btf, _ = sample
    f = btf.member("_ddebug", name)
    assert (f.offset, f.size, f.bit_offset, f.bitfield_size) == (offset, size, bit_offset, bits)
    assert f.is_bitfield


def test_old_style_bitfields_take_width_from_int(sample):
    btf, _ = sample
    b = btf.member("oldbits", "b")
    assert (b.bit_offset, b.bitfield_size, b.offset, b.size) == (3, 3, 0, 1)


def test_sizes(sample):
    btf, ids = sample
    assert btf.sizeof(ids["char16"]) == 16
    assert btf.sizeof(ids["const_u16"]) == 2          # const -> typedef -> int
    assert btf.sizeof_struct("task_struct") == 64
    assert btf.sizeof(ids["type_tag"]) == 4
    assert btf.sizeof(ids["var"]) == 8
    with pytest.raises(BtfError):
        btf.sizeof(ids["fwd"])


def test_kind_payloads(sample):
    btf, ids = sample
    assert [(v.name, v.value) for v in btf.type(ids["enum"]).enum_values] == [
        ("MODULE_STATE_LIVE", 0), ("NEG", -1)]
    assert [(v.name, v.value) for v in btf.type(ids["enum64"]).enum_values] == [
        ("HUGE", 1 << 40), ("MINUS", -2)]
    proto = btf.type(ids["proto"])
    assert [p.name for p in proto.params] == ["fmt", ""] and proto.ref_type_id == ids["int"]
    assert btf.type(ids["func"]).linkage == 1 and btf.type(ids["func"]).ref_type_id == ids["proto"]
    assert btf.type(ids["var"]).linkage == 1
    assert btf.type(ids["datasec"]).secinfos[0].type_id == ids["var"]
    assert btf.type(ids["decl_tag"]).component_idx == 0
    assert btf.type(ids["float"]).size == 8
    assert btf.type(ids["char"]).int_encoding == 2
    assert btf.type(ids["int"]).int_bits == 32
    assert btf.type(ids["char16"]).array == (ids["char"], ids["int"], 16)
    assert btf.type(ids["fwd"]).kind == K.BTF_KIND_FWD


def test_find_by_name(sample):
    btf, ids = sample
    assert btf.find_struct("list_head").type_id == ids["list_head"]
    assert [t.type_id for t in btf.find("_printk")] == [ids["func"]]
    assert btf.find("unsigned int", K.BTF_KIND_INT)[0].size == 4


@pytest.mark.parametrize("struct_name, path, expected", [
    ("task_struct", "comm", "char[16]"),
    ("task_struct", "tasks", "struct list_head"),
    ("task_struct", "pid", "pid_t"),
    ("task_struct", "state", "volatile int"),
    ("list_head", "next", "struct list_head *"),
    ("kernel_param", "name", "const char *"),
])
def test_type_names(sample, struct_name, path, expected):
    btf, _ = sample
    assert btf.type_name(btf.member(struct_name, path).type_id) == expected


def test_function_pointer_name(sample):
    btf, ids = sample
    b, ids2 = sample_builder()
    fp = b.ptr(ids2["proto"])
    btf2 = parse_btf(b.build())
    assert btf2.type_name(fp) == "int (*)(char *, ...)"


@pytest.mark.parametrize("struct_name, path", [
    ("task_struct", "nope"),
    ("task_struct", "comm.x"),     # char[16] has no members
    ("no_such_struct", "x"),
])
def test_lookup_errors(sample, struct_name, path):
    btf, _ = sample
    with pytest.raises(BtfError):
        btf.member(struct_name, path)


def corrupt_blobs():
    good = sample_builder()[0].build()
    yield "too short", good[:10]
    yield "bad magic", b"\x00\x00" + good[2:]
    yield "bad version", good[:2] + b"\x02" + good[3:]
    truncated = bytearray(good)
    struct.pack_into("<I", truncated, 20, 1 << 20)  # str_len past the end
    yield "string section past end", bytes(truncated)
    odd = bytearray(good)
    struct.pack_into("<I", odd, 12, struct.unpack_from("<I", good, 12)[0] - 4)  # type_len - 4
    yield "type record past the section", bytes(odd)
    b = BtfBuilder()
    b.add(K.BTF_KIND_INT, "x", size_or_type=4, extra=b"\0\0\0\0")
    unknown = bytearray(b.build())
    unknown[24 + 7] = 25  # kind byte of the first type
    yield "unknown kind", bytes(unknown)


@pytest.mark.parametrize("what, blob", list(corrupt_blobs()), ids=[w for w, _ in corrupt_blobs()])
def test_corrupt_input(what, blob):
    with pytest.raises(BtfError) as info:
        parse_btf(blob)
    assert isinstance(info.value, ProfileError)
    assert "\n" not in str(info.value)


def test_bad_string_offset():
    b = BtfBuilder()
    b.records.append(struct.pack("<III", 999, int(K.BTF_KIND_PTR) << 24, 0))
    with pytest.raises(BtfError, match="outside the string section"):
        parse_btf(b.build())  # the pointer-size probe indexes every name
    btf = parse_btf(b.build(), pointer_size=4)
    with pytest.raises(BtfError, match="outside the string section"):
        btf.type(1)
    with pytest.raises(BtfError, match="no type id 2"):
        btf.type(2)


# -- the real kernel ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def vmlinux():
    if not VMLINUX_BTF.is_file():
        pytest.skip("../shared/kernel is not available")
    return parse_btf(lzma.decompress(VMLINUX_BTF.read_bytes()))


# Offsets checked independently with pahole 1.24 (`pahole -F btf -C task_struct vmlinux.btf`)
# and against real modules (.gnu.linkonce.this_module is 0x380 bytes with init_module
# relocated at 0x138 and cleanup_module at 0x350).
PAHOLE = [
    ("task_struct", "stack", 32, 8),
    ("task_struct", "tasks", 2192, 16),
    ("task_struct", "pid", 2416, 4),
    ("task_struct", "tgid", 2420, 4),
    ("task_struct", "real_parent", 2432, 8),
    ("task_struct", "comm", 2976, 16),
    ("module", "state", 0, 4),
    ("module", "list", 8, 16),
    ("module", "name", 24, 56),
    ("module", "init", 312, 8),
    ("module", "core_layout", 320, 80),
    ("module", "init_layout", 400, 80),
    ("module", "exit", 848, 8),
    ("module", "refcnt", 856, 4),
    ("kernel_param", "perm", 24, 2),
    ("kernel_param", "level", 26, 1),
    ("kernel_param", "flags", 27, 1),
    ("kernel_param", "arg", 32, 8),
    ("modversion_info", "crc", 0, 8),
    ("modversion_info", "name", 8, 56),
]


@pytest.mark.shared
@pytest.mark.parametrize("struct_name, path, offset, size", PAHOLE)
def test_real_btf_matches_pahole(vmlinux, struct_name, path, offset, size):
    f = vmlinux.member(struct_name, path)
    assert (f.offset, f.size) == (offset, size)


@pytest.mark.shared
@pytest.mark.parametrize("struct_name, size", [
    ("task_struct", 9792), ("module", 896), ("kernel_param", 40), ("modversion_info", 64),
    ("list_head", 16), ("kparam_array", 32), ("kparam_string", 16), ("kernel_symbol", 12)])
def test_real_btf_struct_sizes(vmlinux, struct_name, size):
    assert vmlinux.sizeof_struct(struct_name) == size


@pytest.mark.shared
def test_real_btf_second_path(vmlinux):
    """comm found by name, and again by summing the member record by hand."""
    task = vmlinux.find_struct("task_struct")
    [comm] = [m for m in task.members if m.name == "comm"]
    assert comm.bit_offset // 8 == vmlinux.member("task_struct", "comm").offset
    assert vmlinux.type_name(comm.type_id) == "char[16]"
    bits = vmlinux.member("_ddebug", "lineno")
    assert (bits.bit_offset, bits.bitfield_size) == (256, 18)
