"""Kernel profiles: the target kernel as the loader and the emulator see it.

A profile is data (``FORMAT.md`` beside this file): the facts the loader checks (arch,
ELF class and machine, vermagic, the module descriptor section), the kernel's exported
symbols (address, CRC, GPL-only, namespace), the struct offsets kmodsim needs, a few
config options, and the kernel-API implementation each export is bound to.

    >>> from linker.profiles import load_profile
    >>> p = load_profile()                      # linux-6.1.0-56-amd64
    >>> hex(p.exports["_printk"].crc)
    '0x92997ed8'
    >>> p.offsetof("task_struct", "comm")
    2976
    >>> p.binding("_printk")
    'builtin:printk._printk'

Profiles are cached per process (``clear_cache()`` forgets them).  Nothing here reads
``../shared``: the shipped profiles live in ``data/`` and are made by ``generate.py``.
"""

from __future__ import annotations

import bisect
import json
import os
import re
import types
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from linker.errors import ProfileError

__all__ = [
    "DEFAULT_PROFILE", "DATA_DIR", "Profile", "Export", "Field", "StructInfo", "Descriptor",
    "ModuleArea", "ExportTable", "Kallsyms", "KallsymsSymbol", "load_profile", "list_profiles",
    "clear_cache", "parse_binding",
]

DEFAULT_PROFILE = "linux-6.1.0-56-amd64"
DATA_DIR = Path(__file__).resolve().parent / "data"
FORMAT_VERSION = 1
KINDS = ("linux", "hobby")
EXPORT_COLUMNS = ("name", "addr", "crc", "flags", "namespace", "exporter")

_BUILTIN_RE = re.compile(r"builtin:[A-Za-z_]\w*\.[A-Za-z_]\w*")
_PYTHON_RE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")
# Sections of a profile that map names to things: a user profile merges them key by key,
# and (except in config, where null means "is not set") a null value removes the key.
_MERGED = ("checks", "descriptor", "module_area", "kernel_text", "kernel_image", "config", "bindings",
           "exports", "structs", "source")
_NULL_REMOVES = ("bindings", "structs")

_CACHE: dict[str, "Profile"] = {}


# -- records ---------------------------------------------------------------------------------

class Export(NamedTuple):
    """One exported kernel symbol.  ``addr`` and ``crc`` are ``None`` when unknown."""

    name: str
    addr: int | None
    crc: int | None
    gpl_only: bool
    namespace: str | None
    exporter: str | None
    percpu: bool


class Field(NamedTuple):
    """A struct member: byte ``offset`` and ``size``; bitfields also give their bits."""

    offset: int
    size: int
    type: str | None = None
    struct: str | None = None       # the member's struct type, when it is one
    bit_offset: int | None = None   # bits from the start of the struct (bitfields only)
    bit_size: int | None = None


class StructInfo(NamedTuple):
    name: str
    size: int
    fields: Mapping[str, Field]


class Descriptor(NamedTuple):
    """The module descriptor: which section holds it and where its fields are."""

    section: str
    struct: str
    size: int
    fields: Mapping[str, Field]

    def offsetof(self, field: str) -> int:
        try:
            return self.fields[field].offset
        except KeyError:
            raise ProfileError(f"module descriptor {self.struct} has no field {field!r}") from None


class ModuleArea(NamedTuple):
    start: int
    end: int


class KallsymsSymbol(NamedTuple):
    addr: int
    type: str
    name: str
    percpu: bool


def parse_binding(spec: str) -> tuple[str, str]:
    """``"builtin:printk._printk"`` -> ``("builtin", "printk._printk")``;
    ``"mypkg.kapi:my_printk"`` -> ``("python", "mypkg.kapi:my_printk")``."""
    if spec.startswith("builtin:"):
        if _BUILTIN_RE.fullmatch(spec):
            return "builtin", spec[len("builtin:"):]
    elif _PYTHON_RE.fullmatch(spec):
        return "python", spec
    raise ProfileError(f"binding {spec!r} is neither builtin:<group>.<name> nor package.module:function")


# -- exports ---------------------------------------------------------------------------------

class ExportTable(Mapping[str, Export]):
    """name -> Export, read from a profile's exports file plus inline overrides.

    Loading only reads the file and counts its columns.  A lookup binary-searches the
    text (the generator writes it sorted by name; an unsorted file still works, through a
    linear search), and a line becomes an ``Export`` only when it is asked for.  Iterating
    builds the whole name index once.
    """

    def __init__(self, text: str, overlay: Mapping[str, dict[str, Any] | None], where: str) -> None:
        if text and not text.endswith("\n"):
            text += "\n"        # the binary search relies on every line ending in one
        self._text = text        # the exports file
        self._overlay = overlay  # name -> dict of fields, or None for "removed"
        self._where = where
        self._body = 0           # offset of the first line that is not a "#" comment
        while text.startswith("#", self._body):
            self._body = text.index("\n", self._body) + 1
        self._index: dict[str, str] | None = None   # name -> TSV line, for iteration
        self._names: list[str] | None = None

    def _line(self, name: str) -> str | None:
        """The TSV line of ``name``, or None."""
        if self._index is not None:
            return self._index.get(name)
        if not name or "\t" in name or "\n" in name:
            return None
        text = self._text
        lo, hi = self._body, len(text)
        while lo < hi:  # lo is always the start of a line
            mid = (lo + hi) // 2
            start = text.rfind("\n", lo, mid) + 1 or lo
            end = text.find("\n", start)
            key = text[start:text.find("\t", start, end)]
            if key == name:
                return text[start:end]
            if key < name:
                lo = end + 1
            else:
                hi = start
        # Not found: the file may not be sorted (a hand-written one), so look linearly.
        if text.startswith(f"{name}\t", self._body):
            start = self._body
        else:
            start = text.find(f"\n{name}\t", self._body) + 1
            if start == 0:
                return None
        return text[start:text.find("\n", start)]

    def index(self) -> ExportTable:
        """Build the whole name index now (~20 ms), so later lookups are dict lookups."""
        self._lines()
        return self

    def _lines(self) -> dict[str, str]:
        if self._index is None:
            self._index = {line[:line.find("\t")]: line
                           for line in self._text[self._body:].splitlines() if line}
        return self._index

    def __getitem__(self, name: str) -> Export:
        over = self._overlay.get(name, ...)
        if over is None:
            raise KeyError(name)
        line = self._line(name)
        if line is None and over is ...:
            raise KeyError(name)
        export = (_export_from_line(line, self._where) if line is not None
                  else Export(name, None, None, False, None, None, False))
        if over is not ...:
            export = _export_with(export, over, f"{self._where}: export {name}")
        return export

    def __contains__(self, name: str) -> bool:  # type: ignore[override]  # names only
        over = self._overlay.get(name, ...)
        if over is ...:
            return self._line(name) is not None
        return over is not None

    def _keys(self) -> list[str]:
        if self._names is None:
            rows = self._lines()
            names = [n for n in rows if self._overlay.get(n, ...) is not None]
            names += [n for n, v in self._overlay.items() if v is not None and n not in rows]
            self._names = names
        return self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def __repr__(self) -> str:
        return f"<ExportTable {len(self)} exports>"


def _export_from_line(line: str, where: str) -> Export:
    row = line.split("\t")
    if len(row) != len(EXPORT_COLUMNS):
        raise ProfileError(f"{where}: exports line {row[0]!r} has {len(row)} columns, not 6")
    name, addr, crc, flags, namespace, exporter = row
    try:
        return Export(name, int(addr, 16) if addr else None, int(crc, 16) if crc else None,
                      "G" in flags, namespace or None, exporter or None, "P" in flags)
    except ValueError:
        raise ProfileError(f"{where}: export {name}: bad address or CRC {addr!r} {crc!r}") from None


def _export_with(export: Export, fields: object, where: str) -> Export:
    if not isinstance(fields, dict):
        raise ProfileError(f"{where}: must be an object or null")
    unknown = set(fields) - set(Export._fields)
    if unknown:
        raise ProfileError(f"{where}: unknown fields {sorted(unknown)}")
    values = export._asdict()
    for key, value in fields.items():
        if key in ("addr", "crc"):
            value = _int(value, f"{where}.{key}", allow_none=True)
        elif key in ("gpl_only", "percpu"):
            value = _bool(value, f"{where}.{key}")
        elif key in ("namespace", "exporter"):
            value = _str(value, f"{where}.{key}", allow_none=True) or None
        elif key == "name" and value != export.name:
            raise ProfileError(f"{where}: name {value!r} differs from its key")
        values[key] = value
    return Export(**values)


def _read_exports_file(path: Path) -> str:
    """The exports file's text, after a whole-file check that every line has 6 columns."""
    try:
        text = _read_text(path)
    except OSError as exc:
        raise ProfileError(f"cannot read exports file {path}: {exc.strerror}") from exc
    if text and not text.endswith("\n"):
        text += "\n"  # so the count below sees every line
    if text.count("\t") != (len(EXPORT_COLUMNS) - 1) * text.count("\n"):
        raise ProfileError(f"{path}: every line must have {len(EXPORT_COLUMNS)} tab-separated "
                           "columns (name addr crc flags namespace exporter)")
    return text


# -- kallsyms --------------------------------------------------------------------------------

class Kallsyms:
    """The kernel's symbol table for symbolising addresses, like ``%pS`` and oops reports."""

    def __init__(self, symbols: Iterable[KallsymsSymbol]) -> None:
        self.symbols = list(symbols)
        # Per-CPU offsets and absolute values are not addresses: leave them out of lookups.
        located = sorted((s for s in self.symbols if not s.percpu and s.type not in "Aa"),
                         key=lambda s: s.addr)
        self._addrs = [s.addr for s in located]
        self._located = located
        self._by_name: dict[str, KallsymsSymbol] | None = None

    @classmethod
    def from_system_map(cls, text: str) -> Kallsyms:
        symbols = []
        in_percpu = False
        for lineno, line in enumerate(text.splitlines(), 1):
            parts = line.split()
            if len(parts) < 3:
                raise ProfileError(f"kallsyms line {lineno}: expected 'addr type name'")
            try:
                addr = int(parts[0], 16)
            except ValueError:
                raise ProfileError(f"kallsyms line {lineno}: bad address {parts[0]!r}") from None
            name = parts[2]
            if name == "__per_cpu_start":
                in_percpu = True
            elif name == "__per_cpu_end":
                in_percpu = False
            symbols.append(KallsymsSymbol(addr, parts[1], name, in_percpu and parts[1] not in "Aa"))
        return cls(symbols)

    def __len__(self) -> int:
        return len(self.symbols)

    def __iter__(self) -> Iterator[KallsymsSymbol]:
        return iter(self.symbols)

    def address(self, name: str) -> int | None:
        """The address of ``name`` (a global symbol wins over a file-local one)."""
        if self._by_name is None:
            by_name: dict[str, KallsymsSymbol] = {}
            for s in self.symbols:
                old = by_name.get(s.name)
                if old is None or (old.type.islower() and s.type.isupper()):
                    by_name[s.name] = s
            self._by_name = by_name
        hit = self._by_name.get(name)
        return None if hit is None else hit.addr

    def lookup(self, addr: int) -> tuple[KallsymsSymbol, int, int] | None:
        """``(symbol, offset, size)`` for the symbol containing ``addr``, or ``None``.

        As kallsyms does (``get_symbol_pos``), a symbol's size runs to the next higher
        address and of several symbols at one address the first is reported; past the
        last symbol there is no size, so nothing matches.
        """
        i = bisect.bisect_right(self._addrs, addr) - 1
        if i < 0:
            return None
        sym = self._located[bisect.bisect_left(self._addrs, self._addrs[i])]
        j = bisect.bisect_right(self._addrs, sym.addr)
        if j >= len(self._addrs):
            return None  # past the last symbol: no size, not inside the kernel
        size = self._addrs[j] - sym.addr
        return sym, addr - sym.addr, size

    def symbolize(self, addr: int) -> str:
        """``"name+0x1d/0x40"`` as ``%pS`` prints it, or ``"0x..."`` when nothing matches."""
        hit = self.lookup(addr)
        if hit is None:
            return f"0x{addr:x}"
        sym, offset, size = hit
        return f"{sym.name}+0x{offset:x}/0x{size:x}"


# -- the profile -----------------------------------------------------------------------------

class Profile:
    """One target kernel.  Built by ``load_profile``; treat it as read-only (it is shared)."""

    def __init__(self, doc: dict[str, Any], path: Path, exports_path: Path | None,
                 kallsyms_path: Path | None, bases: Iterable[str]) -> None:
        where = f"profile {doc.get('name', path)}"
        self.path = path
        self.bases = tuple(bases)  # the chain of "base" profiles, nearest first
        self.name = _str(doc.get("name"), f"{where}: name")
        where = f"profile {self.name}"
        self.description = _str(doc.get("description", ""), f"{where}: description")
        self.kind = _choice(doc.get("kind"), KINDS, f"{where}: kind")
        self.arch = _str(doc.get("arch"), f"{where}: arch")
        self.machine = _str(doc.get("machine", self.arch), f"{where}: machine")
        self.elf_class = _choice(doc.get("elf_class"), (32, 64), f"{where}: elf_class")
        self.e_machine = _int(doc.get("e_machine"), f"{where}: e_machine")
        self.endian = _choice(doc.get("endian"), ("little", "big"), f"{where}: endian")
        self.calling_convention = _str(doc.get("calling_convention"), f"{where}: calling_convention")
        self.release = _str(doc.get("release"), f"{where}: release", allow_none=True)
        self.version = _str(doc.get("version"), f"{where}: version", allow_none=True)
        self.vermagic = _str(doc.get("vermagic"), f"{where}: vermagic", allow_none=True)
        self.runnable = _bool(doc.get("runnable"), f"{where}: runnable")
        self.not_runnable_reason = _str(doc.get("not_runnable_reason"),
                                        f"{where}: not_runnable_reason", allow_none=True)
        if not self.runnable and not self.not_runnable_reason:
            raise ProfileError(f"{where}: runnable is false but not_runnable_reason is empty")
        self.checks = types.MappingProxyType(
            _dict(doc.get("checks", {}), f"{where}: checks"))
        self.page_size = _int(doc.get("page_size"), f"{where}: page_size")
        if self.page_size <= 0 or self.page_size & (self.page_size - 1):
            raise ProfileError(f"{where}: page_size {self.page_size} is not a power of two")
        self.module_area = _area(doc.get("module_area"), f"{where}: module_area")
        self.kernel_text = _area(doc.get("kernel_text"), f"{where}: kernel_text")
        self.kernel_image = _area(doc.get("kernel_image"), f"{where}: kernel_image")
        self.kernel_symbols = types.MappingProxyType(
            {k: _int(v, f"{where}: kernel_symbols.{k}")
             for k, v in _dict(doc.get("kernel_symbols", {}), f"{where}: kernel_symbols").items()})
        self.percpu_module_base = _int(doc.get("percpu_module_base"), f"{where}: percpu_module_base",
                                       allow_none=True)
        self.totalram_pages = _int(doc.get("totalram_pages"), f"{where}: totalram_pages",
                                   allow_none=True)
        self.trusted_keys = tuple(_trusted_key(k, f"{where}: trusted_keys")
                                  for k in doc.get("trusted_keys") or ())
        self.config = types.MappingProxyType(_dict(doc.get("config", {}), f"{where}: config"))
        self.structs = types.MappingProxyType(_structs(doc.get("structs", {}), where))
        self.descriptor = _descriptor(doc.get("descriptor"), where)
        self._bindings = types.MappingProxyType(_bindings(doc.get("bindings", {}), where))
        self.source = doc.get("source")
        self.exports_path = exports_path
        self.kallsyms_path = kallsyms_path
        text = _read_exports_file(exports_path) if exports_path else ""
        overlay = _dict(doc.get("exports", {}), f"{where}: exports")
        self.exports = ExportTable(text, overlay, where)
        self._kallsyms: Kallsyms | None = None

    def __repr__(self) -> str:
        return f"<Profile {self.name} {self.arch} {len(self.exports)} exports>"

    # -- kernel API bindings --

    @property
    def bindings(self) -> Mapping[str, str]:
        """export name -> implementation (``builtin:group.name`` or ``pkg.mod:func``)."""
        return self._bindings

    def binding(self, name: str) -> str | None:
        """The implementation ``name`` is bound to, or ``None`` (the emulator stubs it)."""
        return self._bindings.get(name)

    # -- structs --

    def struct(self, name: str) -> StructInfo:
        try:
            return self.structs[name]
        except KeyError:
            raise ProfileError(f"profile {self.name} has no struct {name!r}") from None

    def sizeof(self, struct: str) -> int:
        return self.struct(struct).size

    def field(self, struct: str, path: str) -> Field:
        """Member ``path`` of ``struct``: ``"comm"``, or ``"core_layout.size"`` through a
        member whose struct type the profile also describes."""
        offset = 0
        current = self.struct(struct)
        parts = path.split(".")
        for i, part in enumerate(parts):
            found = current.fields.get(part)
            if found is None:
                raise ProfileError(f"profile {self.name}: struct {current.name} has no field "
                                   f"{part!r} recorded")
            f = found
            offset += f.offset
            if i + 1 < len(parts):
                if f.struct is None:
                    raise ProfileError(f"profile {self.name}: {struct}.{'.'.join(parts[:i + 1])}"
                                       " is not a struct the profile describes")
                current = self.struct(f.struct)
        if offset == f.offset:
            return f
        bit_offset = None if f.bit_offset is None else f.bit_offset + 8 * (offset - f.offset)
        return f._replace(offset=offset, bit_offset=bit_offset)

    def offsetof(self, struct: str, path: str) -> int:
        return self.field(struct, path).offset

    # -- symbols --

    def kallsyms(self) -> Kallsyms:
        """Every kernel symbol (System.map), loaded on first call.  Profiles without a
        symbol file fall back to their exports that have addresses (type ``?``)."""
        if self._kallsyms is None:
            if self.kallsyms_path is not None:
                self._kallsyms = _read_kallsyms(self.kallsyms_path)
            else:
                self._kallsyms = Kallsyms(
                    KallsymsSymbol(e.addr, "?", e.name, e.percpu)
                    for e in (self.exports[n] for n in self.exports) if e.addr is not None)
        return self._kallsyms


# -- loading ---------------------------------------------------------------------------------

def list_profiles() -> list[str]:
    """The names of the shipped profiles."""
    return sorted(p.name[:-len(".json")] for p in DATA_DIR.glob("*.json"))


def clear_cache() -> None:
    _CACHE.clear()


def load_profile(name_or_path: str | os.PathLike[str] = DEFAULT_PROFILE) -> Profile:
    """A shipped profile by name, or a user's profile file (or a folder with profile.json)."""
    path = _locate(name_or_path, Path.cwd())
    key = str(path)
    profile = _CACHE.get(key)
    if profile is None:
        doc, bases = _read_document(path, ())
        profile = Profile(doc, path, doc.pop("_exports_path"), doc.pop("_kallsyms_path"), bases)
        _CACHE[key] = profile
    return profile


def _locate(name_or_path: object, relative_to: Path) -> Path:
    if not isinstance(name_or_path, (str, os.PathLike)) or not os.fspath(name_or_path):
        raise ProfileError(f"profile name must be a non-empty string, not {name_or_path!r}")
    text = os.fspath(name_or_path)
    shipped = DATA_DIR / f"{text}.json"
    if os.sep not in text and "/" not in text and not text.endswith(".json") and shipped.is_file():
        return shipped
    path = (relative_to / text).resolve()
    if path.is_dir():
        path = path / "profile.json"
    if path.is_file():
        return path
    raise ProfileError(f"unknown profile {text!r}: not a shipped profile "
                       f"({', '.join(list_profiles())}) nor a profile file")


def _read_document(path: Path, chain: tuple[Path, ...]) -> tuple[dict[str, Any], list[str]]:
    """The profile at ``path`` with its ``base`` chain merged in; side-file paths made absolute."""
    if path in chain:
        raise ProfileError(f"profile {path}: 'base' chain loops back to itself")
    try:
        doc = json.loads(_read_text(path))
    except OSError as exc:
        raise ProfileError(f"cannot read profile {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ProfileError(f"profile {path}: not valid JSON: {exc.msg} at line {exc.lineno} "
                           f"column {exc.colno}") from exc
    if not isinstance(doc, dict):
        raise ProfileError(f"profile {path}: must be a JSON object")
    fmt = doc.get("format", FORMAT_VERSION)
    if fmt != FORMAT_VERSION:
        raise ProfileError(f"profile {path}: format {fmt!r} is not supported (want {FORMAT_VERSION})")
    for key in ("exports_file", "kallsyms_file"):
        value = doc.get(key)
        if value is not None:
            doc[key] = str((path.parent / _str(value, f"profile {path}: {key}")).resolve())
    doc.setdefault("name", path.stem if path.name != "profile.json" else path.parent.name)
    base = doc.pop("base", None)
    bases = []
    if base is not None:
        base_path = _locate(_str(base, f"profile {path}: base"), path.parent)
        base_doc, base_bases = _read_document(base_path, chain + (path,))
        base_doc.pop("_exports_path"), base_doc.pop("_kallsyms_path")
        bases = [base_doc["name"], *base_bases]
        doc = _merge_profiles(base_doc, doc, path)
    doc["_exports_path"] = _opt_path(doc.get("exports_file"))
    doc["_kallsyms_path"] = _opt_path(doc.get("kallsyms_file"))
    return doc, bases


def _merge_profiles(base: dict[str, Any], over: dict[str, Any], path: Path) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if key in _MERGED and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value, key in _NULL_REMOVES)
        else:
            merged[key] = value
    return merged


def _deep_merge(base: dict[str, Any], over: dict[str, Any], null_removes: bool) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if value is None and null_removes:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value, null_removes)
        else:
            merged[key] = value
    return merged


def _read_text(path: str | os.PathLike[str]) -> str:
    data = Path(path).read_bytes()
    if str(path).endswith(".gz"):
        import gzip  # only the lazily read kallsyms file is compressed

        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ProfileError(f"{path}: not a valid gzip file: {exc}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path}: not UTF-8 text (byte {exc.start})") from exc


def _read_kallsyms(path: Path) -> Kallsyms:
    try:
        return Kallsyms.from_system_map(_read_text(path))
    except OSError as exc:
        raise ProfileError(f"cannot read kallsyms file {path}: {exc.strerror}") from exc


def _opt_path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


# -- validation helpers: each raises ProfileError with one line ------------------------------

def _str(value, where, allow_none=False):
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise ProfileError(f"{where} must be a string, not {_json_type(value)}")
    return value


def _bool(value, where):
    if not isinstance(value, bool):
        raise ProfileError(f"{where} must be true or false, not {_json_type(value)}")
    return value


def _int(value, where, allow_none=False):
    """An integer, written as a JSON number or a string like ``"0xffffffffc0000000"``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool):
        raise ProfileError(f"{where} must be an integer, not {_json_type(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            pass
    raise ProfileError(f"{where} must be an integer or a \"0x...\" string, not {value!r}")


def _choice(value, allowed, where):
    if value not in allowed or isinstance(value, bool):
        raise ProfileError(f"{where} must be one of {', '.join(map(str, allowed))}, not {value!r}")
    return value


def _dict(value, where):
    if not isinstance(value, dict):
        raise ProfileError(f"{where} must be an object, not {_json_type(value)}")
    return value


def _json_type(value):
    return {type(None): "null", bool: "a boolean", int: "a number", float: "a number",
            str: "a string", list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


def _trusted_key(value, where):
    value = _dict(value, where)
    signer = _str(value.get("signer"), f"{where}.signer")
    key_id = _str(value.get("key_id"), f"{where}.key_id").lower().replace(":", "")
    try:
        bytes.fromhex(key_id)
    except ValueError:
        raise ProfileError(f"{where}.key_id: {key_id!r} is not hex") from None
    return (signer, key_id)


def _area(value, where):
    if value is None:
        return None
    value = _dict(value, where)
    area = ModuleArea(_int(value.get("start"), f"{where}.start"), _int(value.get("end"), f"{where}.end"))
    if area.end <= area.start:
        raise ProfileError(f"{where}: end 0x{area.end:x} is not above start 0x{area.start:x}")
    return area


def _field(value, where):
    value = _dict(value, where)
    return Field(_int(value.get("offset"), f"{where}.offset"),
                 _int(value.get("size"), f"{where}.size"),
                 _str(value.get("type"), f"{where}.type", allow_none=True),
                 _str(value.get("struct"), f"{where}.struct", allow_none=True),
                 _int(value.get("bit_offset"), f"{where}.bit_offset", allow_none=True),
                 _int(value.get("bit_size"), f"{where}.bit_size", allow_none=True))


def _structs(value, where):
    structs = {}
    for name, s in _dict(value, f"{where}: structs").items():
        w = f"{where}: structs.{name}"
        s = _dict(s, w)
        fields = _dict(s.get("fields", {}), f"{w}.fields")
        structs[name] = StructInfo(name, _int(s.get("size"), f"{w}.size"), types.MappingProxyType(
            {f: _field(v, f"{w}.fields.{f}") for f, v in fields.items()}))
    return structs


def _descriptor(value, where):
    w = f"{where}: descriptor"
    value = _dict(value, w)
    fields = {f: _field(v, f"{w}.fields.{f}")
              for f, v in _dict(value.get("fields"), f"{w}.fields").items()}
    for required in ("init", "exit"):
        if required not in fields:
            raise ProfileError(f"{w}: fields must include {required!r}")
    return Descriptor(_str(value.get("section"), f"{w}.section"),
                      _str(value.get("struct"), f"{w}.struct"),
                      _int(value.get("size"), f"{w}.size"), types.MappingProxyType(fields))


def _bindings(value, where):
    bindings = {}
    for name, spec in _dict(value, f"{where}: bindings").items():
        spec = _str(spec, f"{where}: binding of {name}")
        try:
            parse_binding(spec)
        except ProfileError as exc:
            raise ProfileError(f"{where}: {exc}") from None
        bindings[name] = spec
    return bindings
