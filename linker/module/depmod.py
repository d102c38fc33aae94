"""depmod: which modules a module needs, computed and written as Debian 12's kmod 30 does it.

kmod's ``depmod`` (tools/depmod.c) reads every module under ``/lib/modules/VERSION``, takes
each module's exported symbols (the ``__crc_*`` names in ``.symtab``, or the strings of
``__ksymtab_strings`` without modversions) and its undefined symbols, and makes a module
depend on every other module exporting something it needs. Symbols no module exports (the
kernel's own, unless ``-E Module.symvers``/``-F System.map`` says so) are ignored.

The order of everything it writes comes from its data structures, so this module keeps them:

* the module array is the iteration order of kmod's ``modules_by_name`` hash (512 buckets,
  Paul Hsieh's superfast hash, each bucket sorted by ``strcmp``), then stably re-sorted by
  ``modules.order`` when that file exists (listed modules first, in its order);
* a symbol exported twice belongs to the module that comes later in that array
  (``hash_add`` replaces);
* a topological sort (a stack of modules nobody uses, popped from the top) numbers the
  modules; each module's dependency list is its transitive closure sorted by that number,
  so the modules that depend on others come first and ``modprobe`` loads the list backwards;
* ``modules.symbols`` follows the symbol hash (2048 buckets).

The binary indexes (``modules.*.bin``) are the module-init-tools trie kmod writes: built by
``IndexNode.insert`` and written post-order with big-endian offsets.

Reading them back as libkmod does (``IndexFile``, ``ModuleIndex``) is here too: modprobe
finds modules only through the binary indexes.

Not imitated: configuration files (``depmod.d``: ``search``/``override``/``external``/
``exclude``; kmod's defaults without any are used: a ``search updates`` list), and builtin
modules' own ``.modinfo`` (``modules.builtin.modinfo`` feeds only the builtin alias index).
One deliberate difference: a dependency cycle reachable from another cycle, on which kmod 30
never ends (see ``Depmod.report_cycles``).
"""

from __future__ import annotations

import errno
import fnmatch
import lzma
import os
import re
import stat
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from ..elf.constants import ELFMAG, EM, SHN, STB, STT_SPARC_REGISTER, ElfClass, ElfData
from ..elf.reader import cstring_at
from ..elf.records import BytesLike, st_bind, st_type
from ..errors import KmodError
from .kmod_format import kmod_modname
from .modinfo import parse_entry
from .unpack import TooLarge, unpack_xz, unpack_zstd

# ``log(level, text)``, ``show(text)`` and ``read(path) -> (contents, direct)`` of Depmod
LogFn = Callable[[str, str], None]
ShowFn = Callable[[str], None]
ReadFn = Callable[[str], tuple[bytes, bool]]

if TYPE_CHECKING:
    from typing import TypeAlias

    # report_cycles' walk: (module, the vertex it was reached from, the modules on the path)
    _Vertex: TypeAlias = "tuple[Mod, _Vertex | None, frozenset[Mod]]"
    # IndexFile.node: (prefix, {character: child offset}, [(priority, value)])
    _IndexNodeRead: TypeAlias = "tuple[str, dict[int, int], list[tuple[int, str]]]"

# Debian 12's kmod 30 is built "+ZSTD +XZ -ZLIB": .ko.gz files are not modules to it
KMOD_EXTENSIONS = (".ko", ".ko.xz", ".ko.zst")
MAGIC_ZSTD = b"\x28\xb5\x2f\xfd"
MAGIC_XZ = b"\xfd7zXZ\x00"
MAGIC_MAX = 6

CRC_PREFIX = b"__crc_"

MODULES_BY_NAME_BUCKETS = 512
SYMBOLS_BUCKETS = 2048

INDEX_MAGIC = 0xB007F457
INDEX_VERSION = (0x0002 << 16) | 0x0001
INDEX_CHILDMAX = 128
INDEX_NODE_PREFIX, INDEX_NODE_VALUES, INDEX_NODE_CHILDS = 0x80000000, 0x40000000, 0x20000000


# --------------------------------------------------------------------------- kmod's helpers

def hash_superfast(key: bytes) -> int:
    """shared/hash.c ``hash_superfast`` over the bytes of a C string (x86: little-endian
    16-bit reads, ``char`` signed)."""
    m = 0xFFFFFFFF
    n = len(key)
    h, rem = n, n & 3
    i = 0
    for _ in range(n >> 2):
        h = (h + (key[i] | key[i + 1] << 8)) & m
        tmp = (((key[i + 2] | key[i + 3] << 8) << 11) ^ h) & m
        h = ((h << 16) ^ tmp) & m
        h = (h + (h >> 11)) & m
        i += 4
    if rem == 3:
        h = (h + (key[i] | key[i + 1] << 8)) & m
        h ^= (h << 16) & m
        h ^= (_schar(key[i + 2]) << 18) & m
        h = (h + (h >> 11)) & m
    elif rem == 2:
        h = (h + (key[i] | key[i + 1] << 8)) & m
        h ^= (h << 11) & m
        h = (h + (h >> 17)) & m
    elif rem == 1:
        h = (h + _schar(key[i])) & m
        h ^= (h << 10) & m
        h = (h + (h >> 1)) & m
    h ^= (h << 3) & m
    h = (h + (h >> 5)) & m
    h ^= (h << 4) & m
    h = (h + (h >> 17)) & m
    h ^= (h << 25) & m
    h = (h + (h >> 6)) & m
    return h


def _schar(b: int) -> int:
    return b - 256 if b > 127 else b


def hash_order(keys: Iterable[str], n_buckets: int) -> list[str]:
    """The order ``hash_iter_next`` visits ``keys``: by bucket, then ``strcmp`` in a bucket."""
    mask = n_buckets - 1
    encoded = [(k.encode("latin-1"), k) for k in keys]
    encoded.sort(key=lambda e: (hash_superfast(e[0]) & mask, e[0]))
    return [k for _, k in encoded]


def alias_normalize(alias: str) -> str | None:
    """shared/util.c ``alias_normalize``: ``-`` becomes ``_`` outside ``[...]``; ``None`` for
    an unmatched bracket."""
    out = []
    i, n = 0, len(alias)
    while i < n:
        c = alias[i]
        if c == "]":
            return None
        if c == "[":
            end = alias.find("]", i)
            if end < 0:
                return None
            out.append(alias[i:end + 1])
            i = end + 1
            continue
        out.append("_" if c == "-" else c)
        i += 1
    return "".join(out)


def has_kmod_extension(name: str) -> bool:
    """``path_ends_with_kmod_ext``: a name longer than, and ending in, a module extension."""
    return any(len(name) > len(ext) and name.endswith(ext) for ext in KMOD_EXTENSIONS)


def kmod_file_load(path: str) -> tuple[bytes, bool]:
    """libkmod-file.c ``kmod_file_open``: ``(contents, direct)``; raises ``KmodError``.

    The compression is told by the magic, not the name: xz and zstd are decompressed in
    userspace (``direct`` false: kmod then uses ``init_module`` on the bytes), anything else
    is read as it is (``direct``: ``finit_module`` on the file). A file shorter than the
    longest magic (6 bytes) is refused with EINVAL before anything else is looked at.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise KmodError(exc.strerror or os.strerror(exc.errno),  # type: ignore[arg-type]
                        exc.errno) from exc
    if len(data) < MAGIC_MAX:
        raise KmodError(os.strerror(errno.EINVAL), errno.EINVAL)
    try:
        if data.startswith(MAGIC_XZ):
            return unpack_xz(data), False
        if data.startswith(MAGIC_ZSTD):
            # kmod links libzstd; kmodsim runs the zstd tool on it
            out = unpack_zstd(data)
            if out is None:
                raise KmodError("zstd-compressed module and no zstd tool to decompress it",
                                errno.EOPNOTSUPP)
            return out, False
    except TooLarge as exc:
        raise KmodError(os.strerror(errno.ENOMEM), errno.ENOMEM) from exc
    except (lzma.LZMAError, EOFError, ValueError) as exc:
        raise KmodError(os.strerror(errno.EINVAL), errno.EINVAL) from exc
    return data, True


# --------------------------------------------------------------------------- libkmod's ELF view

class KmodElf:
    """libkmod-elf.c's lenient view of a module: the header checks ``kmod_elf_new`` makes,
    sections found by name, ``.symtab`` read entry by entry. Raises ``KmodError`` (ENOEXEC
    or EINVAL, as ``kmod_elf_new`` sets errno)."""

    def __init__(self, data: BytesLike) -> None:
        self.data = data = bytes(data)
        n = len(data)
        if n <= 16 or data[:4] != ELFMAG:
            raise KmodError(os.strerror(errno.ENOEXEC), errno.ENOEXEC)
        ei_class, ei_data = data[4], data[5]
        elf32 = ei_class == ElfClass.ELFCLASS32
        if ei_class not in (ElfClass.ELFCLASS32, ElfClass.ELFCLASS64) \
                or n <= (52 if elf32 else 64) \
                or ei_data not in (ElfData.ELFDATA2LSB, ElfData.ELFDATA2MSB):
            raise KmodError(os.strerror(errno.EINVAL), errno.EINVAL)
        self.bits = 32 if elf32 else 64
        self.order = "<" if ei_data == ElfData.ELFDATA2LSB else ">"
        o = self.order
        self.machine, = struct.unpack_from(o + "H", data, 18)
        if self.bits == 32:
            shoff, = struct.unpack_from(o + "I", data, 32)
            entsize, shnum, shstrndx = struct.unpack_from(o + "HHH", data, 46)
            self._shdr, want = o + "IIIIII", 40     # name type flags addr offset size
        else:
            shoff, = struct.unpack_from(o + "Q", data, 40)
            entsize, shnum, shstrndx = struct.unpack_from(o + "HHH", data, 58)
            self._shdr, want = o + "IIQQQQ", 64
        if entsize != want or shoff + entsize * shnum > n:
            raise KmodError(os.strerror(errno.EINVAL), errno.EINVAL)
        self._shoff, self._shnum = shoff, shnum
        names = self._section_info(shstrndx)
        if names is None or names[1] == 0 or data[names[0] + names[1] - 1] != 0:
            raise KmodError(os.strerror(errno.EINVAL), errno.EINVAL)
        self._names = data[names[0]:names[0] + names[1]]
        self._by_name: dict[bytes, int] = {}
        for idx in range(1, shnum):
            info = self._section_info(idx)
            if info is None or info[2] >= len(self._names):
                continue
            self._by_name.setdefault(cstring_at(self._names, info[2]), idx)

    def _section_info(self, idx: int) -> tuple[int, int, int] | None:
        """``elf_get_section_info``: ``(offset, size, name_offset)`` or None when it lies
        outside the file (or the index is 0 or past the table)."""
        if idx == 0 or idx >= self._shnum:
            return None
        name, _t, _f, _a, off, size = struct.unpack_from(
            self._shdr, self.data, self._shoff + idx * (40 if self.bits == 32 else 64))
        if off + size > len(self.data):
            return None
        return off, size, name

    def section(self, name: str) -> bytes | None:
        """``kmod_elf_get_section``: the first section so named, or None."""
        idx = self._by_name.get(name.encode("latin-1"))
        if idx is None:
            return None
        off, size, _ = self._section_info(idx)  # type: ignore[misc]  # indexed: in the file
        return self.data[off:off + size]

    def section_size(self, idx: int) -> tuple[int, int] | None:
        info = self._section_info(idx)
        return info if info is None else info[:2]

    def symtab(self) -> tuple[bytes, list[tuple[int, int, int, int]]] | None:
        """``(strtab, [(st_name, st_info, st_shndx, st_value), ...])`` from entry 1 on, or
        None without a ``.strtab``/``.symtab`` or when ``.symtab`` is not whole entries."""
        strtab, symtab = self.section(".strtab"), self.section(".symtab")
        if strtab is None or symtab is None:
            return None
        if self.bits == 32:
            size, fmt = 16, self.order + "IIIBBH"       # name value size info other shndx
            if len(symtab) % size:
                return None
            rows = [(nm, info, shndx, value) for nm, value, _s, info, _o, shndx
                    in struct.iter_unpack(fmt, symtab)]
        else:
            size, fmt = 24, self.order + "IBBHQQ"       # name info other shndx value size
            if len(symtab) % size:
                return None
            rows = [(nm, info, shndx, value) for nm, info, _o, shndx, value, _s
                    in struct.iter_unpack(fmt, symtab)]
        return strtab, rows[1:]

    def u32_at(self, offset: int) -> int:
        return struct.unpack_from(self.order + "I", self.data, offset)[0]


def _cstring(buf: bytes, offset: int) -> bytes:
    return cstring_at(buf, offset)      # at most MAX_NAME bytes of it (linker.elf.reader)


def split_strings(buf: BytesLike) -> list[bytes]:
    """``kmod_elf_get_strings``: leading NULs skipped, runs of NULs separate strings, a last
    string without its NUL counted (a single byte left after the padding is nothing)."""
    buf = bytes(buf).lstrip(b"\0") or b"\0"
    if len(buf) <= 1:
        return []
    return [s for s in buf.split(b"\0") if s]


def elf_exported_symbols(elf: KmodElf) -> list[tuple[str, int]] | None:
    """``kmod_elf_get_symbols``: ``[(name, crc)]`` from the ``__crc_*`` symbols of
    ``.symtab``, falling back to every string of ``__ksymtab_strings`` (namespaces included,
    as kmod does) when there are none. ``None`` when neither exists (kmod's ENOENT)."""
    tab = elf.symtab()
    if tab is not None:
        strtab, rows = tab
        if all(nm < len(strtab) for nm, _i, _s, _v in rows):
            out = []
            for nm, _info, shndx, value in rows:
                name = _cstring(strtab, nm)
                if name.startswith(CRC_PREFIX):
                    out.append((name[len(CRC_PREFIX):].decode("latin-1"),
                                _resolve_crc(elf, value, shndx)))
            if out:
                return out
    strings = elf.section("__ksymtab_strings")
    if strings is None:
        return None
    return [(s.decode("latin-1"), 0) for s in split_strings(strings)]


def _resolve_crc(elf: KmodElf, value: int, shndx: int) -> int:
    """``kmod_elf_resolve_crc``: a CRC symbol's value is an offset into its section."""
    if shndx in (SHN.SHN_ABS, SHN.SHN_UNDEF):
        return value
    info = elf.section_size(shndx)
    if info is None or value > info[1] - 4:
        return 0xFFFFFFFFFFFFFFFF
    return elf.u32_at(info[0] + value)


@dataclass(frozen=True)
class DependencySymbol:
    name: str
    crc: int
    weak: bool


def elf_dependency_symbols(elf: KmodElf) -> list[DependencySymbol] | None:
    """``kmod_elf_get_dependency_symbols``: every undefined ``.symtab`` symbol in table
    order (weak ones marked), then the ``__versions`` entries no symbol named (such as
    ``module_layout``). ``None`` when kmod fails (EINVAL: no symbol table)."""
    versions = _versions(elf)
    tab = elf.symtab()
    if tab is None:
        return None
    strtab, rows = tab
    first: dict[str, int] = {}
    for i, (name, _crc) in enumerate(versions):
        first.setdefault(name, i)
    visited = set()
    out = []
    sparc = elf.machine in (EM.EM_SPARC, EM.EM_SPARCV9)
    for nm, info, shndx, _value in rows:
        if shndx != SHN.SHN_UNDEF:
            continue
        if sparc and st_type(info) == STT_SPARC_REGISTER:   # not really undefined
            continue
        if nm >= len(strtab):
            return None
        name = _cstring(strtab, nm).decode("latin-1")
        if not name:
            continue
        idx = first.get(name)
        if idx is not None:
            visited.add(idx)
        out.append(DependencySymbol(name, versions[idx][1] if idx is not None else 0,
                                    st_bind(info) == STB.STB_WEAK))
    out.extend(DependencySymbol(name, crc, False) for i, (name, crc) in enumerate(versions)
               if i not in visited)
    return out


def _versions(elf: KmodElf) -> list[tuple[str, int]]:
    sec = elf.section("__versions")
    if sec is None:
        return []
    word = 4 if elf.bits == 32 else 8
    if len(sec) % 64:
        return []
    fmt = elf.order + ("I" if word == 4 else "Q")
    return [(_cstring(sec[off + word:off + 64], 0).decode("latin-1"),
             struct.unpack_from(fmt, sec, off)[0]) for off in range(0, len(sec), 64)]


def elf_info(elf: KmodElf) -> list[tuple[str, str]]:
    """``kmod_module_get_info`` on a file: ``.modinfo``'s ``(key, value)`` pairs in order; a
    string without ``=`` is its own value."""
    sec = elf.section(".modinfo")
    if sec is None:
        return []
    out = []
    for raw in split_strings(sec):
        s = raw.decode("latin-1")
        key, value = parse_entry(s)
        out.append((key, value if "=" in s else s))
    return out


# --------------------------------------------------------------------------- binary index

class IndexNode:
    """One node of module-init-tools' index trie, as depmod builds it in memory."""

    __slots__ = ("prefix", "values", "children")

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.values: list[tuple[int, str]] = []    # kept sorted as index_add_value does
        self.children: dict[int, IndexNode] = {}   # character code -> IndexNode

    def add_value(self, value: str, priority: int) -> bool:
        """``index_add_value``: after every value of lower priority, before the rest.
        Returns whether ``value`` was already there (``-w`` warns about it)."""
        duplicate = any(v == value for _, v in self.values)
        pos = 0
        while pos < len(self.values) and self.values[pos][0] < priority:
            pos += 1
        self.values.insert(pos, (priority, value))
        return duplicate

    def insert(self, key: str, value: str, priority: int) -> bool:
        """``index_insert``: split the node where the key leaves its prefix, then descend."""
        node, i = self, 0
        while True:
            j = 0
            for j, ch in enumerate(node.prefix):
                if i + j >= len(key) or ch != key[i + j]:
                    child = IndexNode(node.prefix[j + 1:])
                    child.values, child.children = node.values, node.children
                    node.prefix, node.values, node.children = node.prefix[:j], [], {ord(ch): child}
                    break
            else:
                j = len(node.prefix)
            i += j
            if i == len(key):
                return node.add_value(value, priority)
            code = ord(key[i])
            if code not in node.children:
                child = IndexNode(key[i + 1:])
                child.add_value(value, priority)
                node.children[code] = child
                return False
            node, i = node.children[code], i + 1


def check_index_string(s: str) -> None:
    """``index__checkstring``: only 7-bit ASCII goes into an index (kmod stops: FATAL)."""
    for ch in s:
        if ord(ch) >= INDEX_CHILDMAX:
            raise DepmodFatal("Module index: bad character '%s'=0x%x - only 7-bit ASCII is "
                              "supported:\n%s" % (ch, ord(ch), s))


def index_write(root: IndexNode) -> bytes:
    """``index_write``: magic, version, the root's offset, then the nodes post-order."""
    out = bytearray(struct.pack(">III", INDEX_MAGIC, INDEX_VERSION, 0))
    root_off = _index_write_node(root, out)
    struct.pack_into(">I", out, 8, root_off)
    return bytes(out)


def _index_write_node(node: IndexNode, out: bytearray) -> int:
    offsets = []
    if node.children:
        first, last = min(node.children), max(node.children)
        for c in range(first, last + 1):
            child = node.children.get(c)
            offsets.append(_index_write_node(child, out) if child is not None else 0)
    offset = len(out)
    if node.prefix:
        out += node.prefix.encode("latin-1") + b"\0"
        offset |= INDEX_NODE_PREFIX
    if offsets:
        out += bytes((first, last)) + struct.pack(">%dI" % len(offsets), *offsets)
        offset |= INDEX_NODE_CHILDS
    if node.values:
        out += struct.pack(">I", len(node.values))
        for priority, value in node.values:
            out += struct.pack(">I", priority) + value.encode("latin-1") + b"\0"
        offset |= INDEX_NODE_VALUES
    return offset


# --------------------------------------------------------------------------- depmod proper

class DepmodFatal(KmodError):
    """A ``CRIT`` in depmod.c: kmod prints ``depmod: FATAL: ...`` and exits 1."""


@dataclass
class DepmodConfig:
    """``struct cfg``: where the tree is and what the command line asked for."""

    dirname: str
    sym_prefix: str = ""
    print_unknown: bool = False      # -e
    check_symvers: bool = False      # -E
    warn_dups: bool = False          # -w
    # ("path", dir) or ("builtin", ""), in search order
    searches: list[tuple[str, str]] = field(default_factory=lambda: [("path", "updates")])


@dataclass(eq=False)
class Mod:
    """``struct mod``: one module file and what depmod learned about it."""

    path: str
    modname: str
    relpath: str | None
    uncrelpath: str | None
    baselen: int
    sort_idx: int = 1
    dep_sort_idx: int = 0x7FFFFFFF
    idx: int = 0
    users: int = 0
    deps: list[Mod] = field(default_factory=list)
    info: list[tuple[str, str]] = field(default_factory=list)
    dep_symbols: list[DependencySymbol] | None = None
    visited: bool = False

    @property
    def out_path(self) -> str:
        """``mod_get_compressed_path``: relative to the tree when it is under it."""
        return self.relpath if self.relpath is not None else self.path


@dataclass(eq=False)
class Symbol:
    name: str
    crc: int
    owner: Mod | None


class Depmod:
    """``struct depmod`` and the steps of ``do_depmod``, in the order depmod.c runs them.

    ``log(level, text)`` receives each message as kmod prints it after ``depmod: LEVEL: ``
    (levels ``"ERROR"``, ``"WARNING"``); a ``DepmodFatal`` is a ``FATAL`` that ends the run.
    ``show(text)``, when set, gets what ``-v`` prints on stdout (each dependency found).
    """

    def __init__(self, cfg: DepmodConfig, log: LogFn | None = None,
                 show: ShowFn | None = None) -> None:
        self.cfg = cfg
        self.log: LogFn = log or (lambda level, text: None)
        self.show = show
        self.modules: list[Mod] = []
        self.by_name: dict[str, Mod] = {}
        self.by_uncrelpath: dict[str, Mod] = {}
        self.symbols: dict[str, Symbol] = {}

    # ---- finding modules (depmod_modules_search and friends)

    def modules_search(self) -> None:
        """Walk the tree in ``readdir`` order, adding every file with a module extension."""
        try:
            self._search_dir(self.cfg.dirname)
        except OSError as exc:
            self.log("ERROR", f"could not open directory {self.cfg.dirname}: {exc.strerror}")
            raise DepmodFatal(f"could not search modules: {exc.strerror}", exc.errno) from exc

    def _search_dir(self, path: str) -> None:
        with os.scandir(path) as it:
            entries = list(it)
        for entry in entries:
            name = entry.name
            if name in (".", "..", "build", "source"):
                continue
            full = path + "/" + name
            try:
                is_dir = entry.is_dir()
                is_reg = not is_dir and entry.is_file()
                if not (is_dir or is_reg):
                    mode = os.stat(full).st_mode
                    self.log("ERROR", "unsupported file type %s: %o" % (full, stat.S_IFMT(mode)))
                    continue
            except OSError as exc:
                self.log("ERROR", f"fstatat({path}, {name}): {exc.strerror}")
                continue
            if is_dir:
                try:
                    self._search_dir(full)
                except OSError as exc:
                    self.log("ERROR", f"openat({path}, {name}, O_RDONLY): {exc.strerror}")
            elif has_kmod_extension(name):
                self.search_file(full)

    def search_file(self, path: str) -> None:
        """``depmod_modules_search_file``: a second module of the same name replaces the first
        only when the search order prefers it."""
        modname = kmod_modname(path)
        old = self.by_name.get(modname)
        if old is not None:
            if self.is_higher_priority(old, path):
                return
            self.module_del(old)
        self.module_add(path)

    def is_higher_priority(self, old: Mod, newpath: str) -> bool:
        """``depmod_module_is_higher_priority`` without overrides or externals: the first
        ``search`` entry a path is under gives its priority; nothing matching ranks as
        ``built-in`` (-1 when the list has no built-in). ``new <= old`` keeps the old one.
        Like kmod, a new path matching an entry stops that entry being tried on the old."""
        d = self.cfg.dirname
        relnew = newpath[len(d) + 1:] if newpath.startswith(d) else None
        relold = old.path[len(d) + 1:] if old.path.startswith(d) else None
        bprio = oldprio = newprio = -1
        for i, (kind, spath) in enumerate(self.cfg.searches):
            if kind == "builtin":
                bprio = i
            elif kind == "path":
                if relnew is not None and relnew.startswith(spath + "/"):
                    newprio = i
                elif relold is not None and relold.startswith(spath + "/"):
                    oldprio = i
        newprio = bprio if newprio < 0 else newprio
        oldprio = bprio if oldprio < 0 else oldprio
        return newprio <= oldprio

    def module_add(self, path: str) -> Mod | None:
        """``depmod_module_add``: name from the file name, paths relative to the tree."""
        d = self.cfg.dirname
        modname = kmod_modname(path)
        lastslash = path.rfind("/")
        under = path.startswith(d) and path[len(d):len(d) + 1] == "/"
        relpath = path[len(d) + 1:] if under else None
        uncrelpath = None
        if relpath is not None:
            # the relative path cut to the directory, '/', as many characters as the name
            # has and three more: "kernel/x/foo.ko.xz" -> "kernel/x/foo.ko"
            uncrelpath = relpath[:lastslash - (len(d) + 1) + 1 + len(modname) + 3]
        mod = Mod(path=path, modname=modname, relpath=relpath, uncrelpath=uncrelpath,
                  baselen=lastslash)
        self.by_name[modname] = mod
        if uncrelpath is not None:
            if uncrelpath in self.by_uncrelpath:
                self.log("ERROR", f"hash_add_unique {uncrelpath}: File exists")
                del self.by_name[modname]
                self.log("ERROR", f"could not add module {path}: File exists")
                return None
            self.by_uncrelpath[uncrelpath] = mod
        return mod

    def module_del(self, mod: Mod) -> None:
        if mod.uncrelpath is not None:
            self.by_uncrelpath.pop(mod.uncrelpath, None)
        self.by_name.pop(mod.modname, None)

    # ---- ordering the modules

    def modules_build_array(self) -> None:
        """``depmod_modules_build_array``: the name hash's iteration order."""
        self.modules = [self.by_name[n] for n in hash_order(self.by_name, MODULES_BY_NAME_BUCKETS)]
        for i, mod in enumerate(self.modules):
            mod.idx = i

    def modules_sort(self) -> None:
        """``depmod_modules_sort``: modules listed in ``modules.order`` first, in its order."""
        order = os.path.join(self.cfg.dirname, "modules.order")
        try:
            with open(order, "rb") as fh:
                lines = fh.read().splitlines(keepends=True)
        except OSError as exc:
            self.log("WARNING", f"could not open modules.order at {self.cfg.dirname}: "
                                f"{exc.strerror}")
            return
        for n, line in enumerate(lines, 1):
            if not line.endswith(b"\n"):
                self.log("ERROR", f"{self.cfg.dirname}/modules.order:{n} corrupted line "
                                  f"misses '\\n'")
                return
        total = len(lines) + 1
        for n, line in enumerate(lines, 1):
            mod = self.by_uncrelpath.get(line[:-1].decode("latin-1"))
            if mod is not None:
                mod.sort_idx = n - total
        self.modules.sort(key=lambda m: m.sort_idx)    # glibc's qsort here is a merge sort
        for i, mod in enumerate(self.modules):
            mod.idx = i

    # ---- symbols and dependencies

    def symbol_add(self, name: str, crc: int, owner: Mod | None,
                   prefix_skipped: bool = False) -> None:
        """``depmod_symbol_add``: a later symbol of the same name replaces the earlier."""
        if not prefix_skipped and self.cfg.sym_prefix and name.startswith(self.cfg.sym_prefix):
            name = name[1:]
        self.symbols[name] = Symbol(name, crc, owner)

    def symbol_find(self, name: str) -> Symbol | None:
        if name.startswith("."):       # PPC64: .foo == foo
            name = name[1:]
        if self.cfg.sym_prefix and name.startswith(self.cfg.sym_prefix):
            name = name[1:]
        return self.symbols.get(name)

    def add_fake_syms(self) -> None:
        """``depmod_add_fake_syms``: names the loader provides (after -E or -F only)."""
        self.symbol_add("__this_module", 0, None, prefix_skipped=True)
        self.symbol_add("_GLOBAL_OFFSET_TABLE_", 0, None, prefix_skipped=True)
        if self.symbol_find("TOC.") is None:
            self.symbol_add("TOC.", 0, None, prefix_skipped=True)

    def load_symvers(self, lines: Iterable[str], filename: str = "Module.symvers") -> None:
        """``depmod_load_symvers`` (-E): vmlinux's ``CRC NAME vmlinux ...`` lines (fields
        split on blanks and tabs, so a line that ends at ``vmlinux`` keeps its newline there
        and does not count, as in kmod)."""
        for n, line in enumerate(lines, 1):
            parts = [t for t in re.split(r"[ \t]", line) if t]
            if len(parts) < 3 or parts[2] != "vmlinux":
                continue
            try:
                crc = int(parts[0], 16)
            except ValueError:
                self.log("ERROR", f"{filename}:{n} Invalid symbol version {parts[0]}: "
                                  f"No such file or directory")  # %m: a stale errno
                continue
            self.symbol_add(parts[1], crc, None)
        self.add_fake_syms()

    def load_system_map(self, lines: Iterable[str], filename: str = "System.map") -> None:
        """``depmod_load_system_map`` (-F): every ``__ksymtab_NAME`` symbol names an export."""
        for n, line in enumerate(lines, 1):
            parts = line.split(" ", 2)
            if len(parts) < 3:
                self.log("ERROR", f"{filename}:{n}: invalid line: {line}")
                continue
            name = parts[2].split("\n", 1)[0]
            if self.cfg.sym_prefix and name.startswith(self.cfg.sym_prefix):
                name = name[1:]
            if name.startswith("__ksymtab_"):
                self.symbol_add(name[len("__ksymtab_"):], 0, None, prefix_skipped=True)
        self.add_fake_syms()

    def load_modules(self, read: ReadFn = kmod_file_load) -> None:
        """``depmod_load_modules``: each module's exports into the symbol table, in array
        order; its ``.modinfo`` and undefined symbols kept for later."""
        for mod in self.modules:
            try:
                elf = KmodElf(read(mod.path)[0])
            except KmodError as exc:
                self.log("ERROR", f"failed to load symbols from {mod.path}: {exc.message}")
                continue
            for name, crc in elf_exported_symbols(elf) or ():
                self.symbol_add(name, crc, mod)
            mod.info = elf_info(elf)
            mod.dep_symbols = elf_dependency_symbols(elf)

    def load_dependencies(self) -> None:
        """``depmod_load_dependencies``: a module depends on each owner of a symbol it needs,
        once, in the order its symbol table first names one."""
        for mod in self.modules:
            for dep in mod.dep_symbols or ():
                sym = self.symbol_find(dep.name)
                if sym is None:
                    if self.cfg.print_unknown and not dep.weak:
                        self.log("WARNING", f"{mod.path} needs unknown symbol {dep.name}")
                    continue
                if self.cfg.check_symvers and sym.crc != dep.crc and not dep.weak \
                        and self.cfg.print_unknown:
                    self.log("WARNING", f"{mod.path} disagrees about version of symbol "
                                        f"{dep.name}")
                owner = sym.owner
                if owner is not None and owner not in mod.deps:
                    mod.deps.append(owner)
                    owner.users += 1
                    if self.show is not None:
                        self.show(f'{mod.path} needs "{sym.name}": {owner.path}\n')

    def calculate_dependencies(self) -> None:
        """``depmod_calculate_dependencies``: number the modules in topological order (a
        stack of modules nobody uses), then sort each dependency list by that number."""
        users = [m.users for m in self.modules]
        roots = [i for i, u in enumerate(users) if u == 0]
        n_sorted = 0
        while roots:
            src = self.modules[roots.pop()]
            src.dep_sort_idx = n_sorted
            n_sorted += 1
            for dst in src.deps:
                users[dst.idx] -= 1
                if users[dst.idx] == 0:
                    roots.append(dst.idx)
        if n_sorted < len(self.modules):
            self.report_cycles(users)
            raise DepmodFatal("", errno.EINVAL)
        for mod in self.modules:
            mod.deps.sort(key=lambda m: m.dep_sort_idx)

    def report_cycles(self, users: list[int]) -> None:
        """``depmod_report_cycles``: walk from every module left with users, print each
        cycle once (``Cycle detected: a -> b -> a``) and how many modules are in cycles.

        Deviation: kmod 30 never ends when, from one root, it walks into a cycle that does
        not contain that root (it allocates a vertex per step until it is killed). Here a
        path is not followed into a module it already went through; where kmod ends, that
        changes nothing, since such a path is exactly one kmod would follow forever.
        """
        roots = [m for m, u in zip(self.modules, users) if u > 0]
        loop_set: set[str] = set()
        while roots:
            root = roots.pop(0)
            stack: list[_Vertex] = [(root, None, frozenset((root,)))]   # (module, parent, path)
            while stack:
                vertex = stack.pop()
                mod, _parent, path = vertex
                if mod.visited and mod is root:
                    self._report_one_cycle(vertex, roots, loop_set)
                    continue
                mod.visited = True
                if not mod.deps:
                    if mod in roots:
                        roots.remove(mod)
                    continue
                stack.extend((dep, vertex, path | {dep}) for dep in mod.deps
                             if dep is root or dep not in path)
        self.log("ERROR", f"Found {len(loop_set)} modules in dependency cycles!")

    def _report_one_cycle(self, vertex: _Vertex, roots: list[Mod], loop_set: set[str]) -> None:
        chain = []
        v = vertex[1]
        while v is not None:
            chain.append(v[0])
            loop_set.add(v[0].modname)
            v = v[1]
        names = []
        for mod in reversed(chain):
            names.append(mod.modname)
            if mod in roots:
                roots.remove(mod)
        self.log("ERROR", "Cycle detected: " + " -> ".join(names + [vertex[0].modname]))

    def all_sorted_dependencies(self, mod: Mod) -> list[Mod]:
        """``mod_get_all_sorted_dependencies``: the transitive closure, topological order."""
        seen: set[Mod] = set()
        todo = list(mod.deps)
        while todo:
            d = todo.pop()
            if d not in seen:
                seen.add(d)
                todo.extend(d.deps)
        return sorted(seen, key=lambda m: m.dep_sort_idx)

    def load(self, read: ReadFn = kmod_file_load) -> None:
        """``depmod_load``."""
        self.load_modules(read)
        self.load_dependencies()
        self.calculate_dependencies()

    # ---- the files (depmod_output's table)

    def output_deps(self) -> bytes:
        lines = []
        for mod in self.modules:
            deps = self.all_sorted_dependencies(mod) if mod.deps else []
            lines.append(mod.out_path + ":" + "".join(" " + d.out_path for d in deps) + "\n")
        return "".join(lines).encode("latin-1")

    def output_deps_bin(self) -> bytes:
        idx = IndexNode()
        for mod in self.modules:
            line = mod.out_path + ":" + "".join(" " + d.out_path
                                                for d in self.all_sorted_dependencies(mod))
            self._index_insert(idx, mod.modname, line, mod.idx, "duplicate module deps:\n" + line)
        return index_write(idx)

    def _aliases(self) -> Iterator[tuple[Mod, str]]:
        for mod in self.modules:
            for key, value in mod.info:
                if key == "alias":
                    yield mod, value

    def output_aliases(self) -> bytes:
        return ("# Aliases extracted from modules themselves.\n" + "".join(
            f"alias {value} {mod.modname}\n" for mod, value in self._aliases())).encode("latin-1")

    def output_aliases_bin(self) -> bytes:
        idx = IndexNode()
        for mod, value in self._aliases():
            alias = alias_normalize(value)
            if alias is None:
                self.log("WARNING", f"Unmatched bracket in {value}")
                continue
            self._index_insert(idx, alias, mod.modname, mod.idx,
                               f"duplicate module alias:\n{alias} {mod.modname}")
        return index_write(idx)

    def _index_insert(self, idx: IndexNode, key: str, value: str, priority: int,
                      dup_message: str) -> None:
        check_index_string(key)
        check_index_string(value)
        if idx.insert(key, value, priority) and self.cfg.warn_dups:
            self.log("WARNING", dup_message)

    def output_softdeps(self) -> bytes:
        return ("# Soft dependencies extracted from modules themselves.\n" + "".join(
            f"softdep {mod.modname} {value}\n" for mod in self.modules
            for key, value in mod.info if key == "softdep")).encode("latin-1")

    def _owned_symbols(self) -> Iterator[tuple[Symbol, Mod]]:
        for name in hash_order(self.symbols, SYMBOLS_BUCKETS):
            sym = self.symbols[name]
            if sym.owner is not None:
                yield sym, sym.owner

    def output_symbols(self) -> bytes:
        return ("# Aliases for symbols, used by symbol_request().\n" + "".join(
            f"alias symbol:{s.name} {owner.modname}\n" for s, owner in self._owned_symbols())
        ).encode("latin-1")

    def output_symbols_bin(self) -> bytes:
        idx = IndexNode()
        for sym, owner in self._owned_symbols():
            alias = "symbol:" + sym.name
            self._index_insert(idx, alias, owner.modname, owner.idx,
                               f"duplicate module syms:\n{alias} {owner.modname}")
        return index_write(idx)

    def _open_tree_file(self, name: str) -> BinaryIO | None:
        try:
            return open(os.path.join(self.cfg.dirname, name), "rb")
        except OSError as exc:
            self.log("WARNING", f"could not open {name} at {self.cfg.dirname}: {exc.strerror}")
            return None

    def output_builtin_bin(self) -> bytes:
        fh = self._open_tree_file("modules.builtin")
        if fh is None:
            return b""
        idx = IndexNode()
        with fh:
            for raw in fh:
                line = raw.decode("latin-1")
                if not line[:1].isalpha() or not line[:1].isascii():
                    self.log("ERROR", f"Invalid modules.builtin line: {line}")
                    continue
                idx.insert(kmod_modname(line), "", 0)
        return index_write(idx)

    def output_builtin_alias_bin(self) -> bytes:
        """From ``modules.builtin.modinfo`` (``module.key=value\\0`` records): the aliases."""
        fh = self._open_tree_file("modules.builtin.modinfo")
        if fh is None:
            return b""
        with fh:
            data = fh.read()
        idx = IndexNode()
        for rec in data.split(b"\0"):
            modname, dot, rest = rec.partition(b".")
            key, eq, value = rest.partition(b"=")
            if not dot or not modname or not eq or key != b"alias" or not value:
                continue
            alias = alias_normalize(value.decode("latin-1"))
            if alias is None:
                self.log("WARNING", f"Unmatched bracket in {value.decode('latin-1')}")
                continue
            idx.insert(alias, modname.decode("latin-1"), 0)
        return index_write(idx)

    def output_devname(self) -> bytes:
        out: list[str] = []
        for mod in self.modules:
            devname: str | None = None
            kind: str | None = None
            major, minor = 0, 0
            for key, value in mod.info:
                if key != "alias":
                    continue
                if value.startswith("devname:"):
                    devname = value[len("devname:"):]
                else:
                    found = _major_minor(value)
                    if found is not None:
                        kind, major, minor = found
                if kind is not None and devname is not None:
                    break
            if devname is None:
                continue
            if kind is None:
                self.log("ERROR", f"Module '{mod.modname}' has devname ({devname}) but lacks "
                                  f"major and minor information. Ignoring.")
                continue
            if not out:
                out.append("# Device nodes to trigger on-demand module loading.\n")
            out.append(f"{mod.modname} {devname} {kind}{major}:{minor}\n")
        return "".join(out).encode("latin-1")

    # (name, writer, text): the -n output is the text files only, in this order
    OUTPUTS = (("modules.dep", "output_deps", True), ("modules.dep.bin", "output_deps_bin", False),
               ("modules.alias", "output_aliases", True),
               ("modules.alias.bin", "output_aliases_bin", False),
               ("modules.softdep", "output_softdeps", True),
               ("modules.symbols", "output_symbols", True),
               ("modules.symbols.bin", "output_symbols_bin", False),
               ("modules.builtin.bin", "output_builtin_bin", False),
               ("modules.builtin.alias.bin", "output_builtin_alias_bin", False),
               ("modules.devname", "output_devname", True))

    def output(self, stdout: BinaryIO | None = None) -> None:
        """``depmod_output``: to ``stdout`` (a binary stream) the text files one after the
        other; otherwise each file written beside a temporary name and renamed over."""
        for name, writer, text in self.OUTPUTS:
            if stdout is not None:
                if text:
                    stdout.write(getattr(self, writer)())
                continue
            data = getattr(self, writer)()
            self._write_file(name, data)

    def _write_file(self, name: str, data: bytes) -> None:
        d = self.cfg.dirname
        tmp = os.path.join(d, f"{name}.{os.getpid()}.kmodsim")
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except OSError as exc:
            self.log("ERROR", "openat(%s, %s, %o, %o): %s" % (
                d, os.path.basename(tmp), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644,
                exc.strerror))
            return
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, os.path.join(d, name))


def _major_minor(value: str) -> tuple[str, int, int] | None:
    """``sscanf(value, "char-major-%u-%u")`` (or block-): ``(kind, major, minor)``."""
    for prefix, kind in (("char-major-", "c"), ("block-major-", "b")):
        if value.startswith(prefix):
            nums = _scan_uints(value[len(prefix):])
            if nums is not None:
                return kind, nums[0], nums[1]
    return None


def _scan_uints(s: str) -> tuple[int, int] | None:
    def number(t: str) -> tuple[int | None, str]:
        t = t.lstrip(" \t\n")
        sign = t[:1] if t[:1] in "+-" else ""
        digits = ""
        for c in t[len(sign):]:
            if not c.isdigit():
                break
            digits += c
        if not digits:
            return None, t
        value = (-int(digits) if sign == "-" else int(digits)) & 0xFFFFFFFF
        return value, t[len(sign) + len(digits):]
    major, rest = number(s)
    if major is None or not rest.startswith("-"):
        return None
    minor, _ = number(rest[1:])
    return None if minor is None else (major, minor)


def depfile_up_to_date(dirname: str) -> bool:
    """``depfile_up_to_date`` (-A): True when no module file is newer than ``modules.dep``."""
    mtime = int(os.stat(os.path.join(dirname, "modules.dep")).st_mtime)

    def walk(path: str) -> bool:
        for entry in os.scandir(path):
            if entry.name in ("build", "source"):
                continue
            st = os.stat(entry.path)
            if stat.S_ISDIR(st.st_mode):
                if not walk(entry.path):
                    return False
            elif stat.S_ISREG(st.st_mode) and has_kmod_extension(entry.name) and \
                    int(st.st_mtime) > mtime:
                return False
        return True
    return walk(dirname)


def run_depmod(cfg: DepmodConfig, log: LogFn | None = None, files: Iterable[str] | None = None,
               symvers: tuple[str, Iterable[str]] | None = None,
               system_map: tuple[str, Iterable[str]] | None = None, show: ShowFn | None = None,
               read: ReadFn = kmod_file_load) -> Depmod:
    """``do_depmod`` after option parsing: search (or take ``files``), order, load, and
    return the ``Depmod`` ready for ``output``. ``symvers``/``system_map`` are ``(filename,
    lines)``. Raises ``DepmodFatal``."""
    dm = Depmod(cfg, log, show)
    if symvers is not None:
        dm.load_symvers(symvers[1], symvers[0])
    elif system_map is not None:
        dm.load_system_map(system_map[1], system_map[0])
    if files is None:
        dm.modules_search()
    else:
        for path in files:
            if not path.startswith("/"):
                raise DepmodFatal(f"{path}: not absolute path.", errno.EINVAL)
            if not os.path.exists(path):
                raise DepmodFatal(f"could not create module {path}: {os.strerror(errno.ENOENT)}",
                                  errno.ENOENT)
            if dm.module_add(path) is None:
                raise DepmodFatal(f"could not add module {path}: {os.strerror(errno.EEXIST)}",
                                  errno.EEXIST)
    dm.modules_build_array()
    dm.modules_sort()
    dm.load(read)
    return dm


# --------------------------------------------------------------------------- reading it back

class IndexFile:
    """libkmod-index.c's reader of a ``modules.*.bin`` trie: ``search`` (an exact key: the
    first value, as modules.dep.bin and modules.builtin.bin are read) and ``searchwild``
    (the keys are fnmatch patterns: every value of every key matching, as the alias and
    symbol indexes are read). ``IndexFile.open`` returns None for a missing file or one
    without the magic and major version, as ``index_file_open`` does."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.root = struct.unpack_from(">I", data, 8)[0]

    @classmethod
    def open(cls, path: str) -> IndexFile | None:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        if len(data) < 12 or struct.unpack_from(">I", data, 0)[0] != INDEX_MAGIC or \
                struct.unpack_from(">I", data, 4)[0] >> 16 != INDEX_VERSION >> 16:
            return None
        return cls(data)

    def node(self, offset: int) -> _IndexNodeRead | None:
        """``index_read``: ``(prefix, {char: child offset}, values)`` or None for offset 0;
        values ordered as ``add_value`` orders them (by priority, the later first on ties)."""
        if offset & 0x0FFFFFFF == 0:
            return None
        data, pos = self.data, offset & 0x0FFFFFFF
        prefix = ""
        if offset & INDEX_NODE_PREFIX:
            end = data.index(b"\0", pos)
            prefix, pos = data[pos:end].decode("latin-1"), end + 1
        children: dict[int, int] = {}
        if offset & INDEX_NODE_CHILDS:
            first, last = data[pos], data[pos + 1]
            offs = struct.unpack_from(">%dI" % (last - first + 1), data, pos + 2)
            children = {first + i: off for i, off in enumerate(offs) if off & 0x0FFFFFFF}
            pos += 2 + 4 * len(offs)
        values: list[tuple[int, str]] = []
        if offset & INDEX_NODE_VALUES:
            count, = struct.unpack_from(">I", data, pos)
            pos += 4
            for _ in range(count):
                priority, = struct.unpack_from(">I", data, pos)
                end = data.index(b"\0", pos + 4)
                _add_value(values, data[pos + 4:end].decode("latin-1"), priority)
                pos = end + 1
        return prefix, children, values

    def search(self, key: str) -> str | None:
        """``index_search``: the first value of exactly ``key``, or None."""
        node, i = self.node(self.root), 0
        while node is not None:
            prefix, children, values = node
            if key[i:i + len(prefix)] != prefix:
                return None
            i += len(prefix)
            if i == len(key):
                return values[0][1] if values else None
            child = children.get(ord(key[i]))
            node, i = (self.node(child) if child else None), i + 1
        return None

    def searchwild(self, key: str) -> list[tuple[int, str]]:
        """``index_searchwild``: ``[(priority, value)]`` of every key matching ``key``."""
        out: list[tuple[int, str]] = []
        node, i = self.node(self.root), 0
        while node is not None:
            prefix, children, values = node
            for j, ch in enumerate(prefix):
                if ch in "*?[":
                    self._wild_all(node, j, "", key[i + j:], out)
                    return out
                if key[i + j:i + j + 1] != ch:
                    return out
            i += len(prefix)
            for wild in "*?[":
                child = children.get(ord(wild))
                if child:
                    self._wild_all(self.node(child), 0, wild, key[i:], out)
            if i == len(key):
                for priority, value in values:
                    _add_value(out, value, priority)
                return out
            child = children.get(ord(key[i]))
            node, i = (self.node(child) if child else None), i + 1
        return out

    def _wild_all(self, node: _IndexNodeRead | None, j: int, pattern: str, subkey: str,
                  out: list[tuple[int, str]]) -> None:
        """``index_searchwild__all``: every key below, matched against what is left."""
        prefix, children, values = node  # type: ignore[misc]  # children are never offset 0
        pattern += prefix[j:]
        for ch in sorted(children):
            self._wild_all(self.node(children[ch]), 0, pattern + chr(ch), subkey, out)
        if values and kmod_fnmatch(pattern, subkey):
            for priority, value in values:
                _add_value(out, value, priority)


def _add_value(values: list[tuple[int, str]], value: str, priority: int) -> None:
    """libkmod-index.c ``add_value``: before the first value of equal or higher priority."""
    pos = 0
    while pos < len(values) and values[pos][0] < priority:
        pos += 1
    values.insert(pos, (priority, value))


def kmod_fnmatch(pattern: str, string: str) -> bool:
    """glibc ``fnmatch(pattern, string, 0)`` for module aliases: ``* ? [...]`` with ``[!``
    and ``[^`` negating, a backslash quoting the next character."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append("[" + pattern[i + 1] + "]" if pattern[i + 1] not in "[]!^" else
                       re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("!", "^") else i + 1)
            if end >= 0:
                body = pattern[i + 1:end]
                if body[:1] in ("!", "^"):
                    body = "!" + body[1:]
                out.append("[" + body + "]")
                i = end + 1
                continue
        out.append(c)
        i += 1
    return fnmatch.fnmatchcase(string, "".join(out))


@dataclass(frozen=True)
class DepEntry:
    """One ``modules.dep`` line: the module's path and its dependencies, absolute."""

    modname: str
    path: str
    deps: tuple[str, ...]


def parse_depline(dirname: str, line: str) -> DepEntry | None:
    """``kmod_module_parse_depline``: paths joined to ``DIR`` (absolute ones kept)."""
    path, colon, rest = line.partition(":")
    if not colon:
        return None
    return DepEntry(kmod_modname(path), _join(dirname, path),
                    tuple(_join(dirname, p) for p in rest.split()))


def _join(dirname: str, path: str) -> str:
    return path if path.startswith("/") else dirname + "/" + path


def _read_text(dirname: str, name: str) -> str:
    try:
        with open(os.path.join(dirname, name), "rb") as fh:
            return fh.read().decode("latin-1")
    except OSError:
        return ""


def read_softdeps(dirname: str) -> list[tuple[str, list[str], list[str]]]:
    """``[(pattern, pre, post)]`` from ``modules.softdep``, which libkmod reads as one more
    configuration file: ``softdep MOD pre: A B post: C`` (tokens before ``pre:``/``post:``
    count for neither)."""
    out = []
    for line in _read_text(dirname, "modules.softdep").splitlines():
        tokens = line.split()
        if len(tokens) < 3 or tokens[0] != "softdep" or line.startswith("#"):
            continue
        pattern = alias_normalize(tokens[1])
        if pattern is None:
            continue
        lists: dict[str, list[str]] = {"pre:": [], "post:": []}
        mode: str | None = None
        for tok in tokens[2:]:
            if tok in lists:
                mode = tok
            elif mode is not None:
                lists[mode].append(tok)
        out.append((pattern, lists["pre:"], lists["post:"]))
    return out


class ModuleIndex:
    """What libkmod (and so modprobe) knows about ``/lib/modules/VERSION``: the binary
    indexes depmod writes (libkmod reads no text index), and ``modules.softdep`` as a
    configuration file. A missing index is as if empty, as in libkmod."""

    def __init__(self, dirname: str) -> None:
        self.dirname = dirname
        self.indexes = {name: IndexFile.open(os.path.join(dirname, name + ".bin"))
                        for name in ("modules.dep", "modules.alias", "modules.symbols",
                                     "modules.builtin", "modules.builtin.alias")}
        self.softdep_table = read_softdeps(dirname)
        self._deps: dict[str, DepEntry | None] = {}

    def entry(self, name: str) -> DepEntry | None:
        """``kmod_search_moddep``: the module's ``modules.dep.bin`` line, parsed, or None."""
        if name not in self._deps:
            idx = self.indexes["modules.dep"]
            line = idx.search(name) if idx is not None else None
            self._deps[name] = parse_depline(self.dirname, line) if line is not None else None
        return self._deps[name]

    def is_builtin(self, name: str) -> bool:
        idx = self.indexes["modules.builtin"]
        return idx is not None and idx.search(name) is not None

    def _wild(self, index: str, key: str) -> list[str]:
        idx = self.indexes[index]
        return [value for _, value in idx.searchwild(key)] if idx is not None else []

    def lookup(self, name: str) -> list[str] | None:
        """``kmod_module_new_from_lookup`` in libkmod's order: the name in modules.dep; a
        ``symbol:`` alias; the aliases matching (every match, so a module matching twice
        is listed twice, in module order); a builtin module; a builtin module's alias.
        The module names, or None for a name kmod refuses (an unmatched bracket).
        Configuration aliases and install commands are not read."""
        alias = alias_normalize(name)
        if alias is None:
            return None
        if ":" not in alias and self.entry(alias) is not None:
            return [alias]
        if alias.startswith("symbol:"):
            found = self._wild("modules.symbols", alias)
            if found:
                return found
        found = self._wild("modules.alias", alias)
        if found:
            return found
        if self.is_builtin(alias):
            return [alias]
        return self._wild("modules.builtin.alias", alias)

    def path(self, name: str) -> str | None:
        entry = self.entry(name)
        return entry.path if entry is not None else None

    def dependencies(self, name: str) -> list[tuple[str, str]]:
        """``kmod_module_get_dependencies``: ``[(modname, path)]``, modules.dep's list
        reversed (libkmod prepends each), so the last listed is loaded first."""
        entry = self.entry(name)
        return [] if entry is None else [(kmod_modname(p), p) for p in reversed(entry.deps)]

    def softdeps(self, name: str) -> tuple[list[tuple[str, list[str] | None]],
                                           list[tuple[str, list[str] | None]]]:
        """``kmod_module_get_softdeps``: the first entry whose pattern matches, its pre and
        post names looked up (a name kmod cannot look up is ``None`` in the list)."""
        for pattern, pre, post in self.softdep_table:
            if kmod_fnmatch(pattern, name):
                return ([(d, self.lookup(d)) for d in pre], [(d, self.lookup(d)) for d in post])
        return [], []


def lookup_module(dirname: str, name: str) -> list[str]:
    """The module names ``name`` stands for in the tree at ``dirname`` (``[]`` if none)."""
    return ModuleIndex(dirname).lookup(name) or []
