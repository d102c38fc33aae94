"""Corrupted variants of sample modules: one small byte-level edit per function.

Every function takes the module's bytes and returns new bytes with exactly one thing
changed; nothing moves (sections keep their offsets and sizes), so the rest of the file is
what the compiler wrote. Offsets are found with kmodsim's own ELF reader, which is fine
here: the reader is tested against binutils elsewhere, and these edits only need to know
where a header, a record or a string lives.

A variant is a recipe, a list of ``(function name, args...)`` steps applied in order by
:func:`apply_recipe`, so tests and the real-kernel scenarios can name and rebuild it.
"""

from linker.elf.reader import ElfFile
from linker.module.versions import MODVERSION_INFO_SIZE

SHT_PROGBITS, SHT_SYMTAB, SHT_RELA, SHT_REL = 1, 2, 4, 9
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
SHN_COMMON = 0xFFF2


# --------------------------------------------------------------------------- finding things

def _section(elf, section):
    """A section by name (the first of that name) or by index."""
    if isinstance(section, int):
        return elf.sections[section]
    for s in elf.sections[1:]:
        if s.name == section:
            return s
    raise KeyError(f"no section {section!r}")


def _shdr_offset(elf, index):
    return elf.header.e_shoff + index * elf.layout.shdr.size


def _symbol_index(elf, name):
    for sym in elf.symbols:
        if sym.name == name:
            return sym.index
    raise KeyError(f"no symbol {name!r}")


def _put(data, offset, raw):
    out = bytearray(data)
    out[offset:offset + len(raw)] = raw
    return bytes(out)


# --------------------------------------------------------------------------- raw bytes

def poke(data, section, offset, raw):
    """Overwrite ``raw`` at ``offset`` inside a section's file contents."""
    s = _section(ElfFile(data), section)
    if offset < 0 or offset + len(raw) > s.sh_size:
        raise ValueError(f"{len(raw)} bytes at {offset:#x} do not fit in {s.name} ({s.sh_size:#x})")
    return _put(data, s.sh_offset + offset, bytes(raw))


# --------------------------------------------------------------------------- section headers

def set_section_field(data, section, field, value):
    """Set one ``Elf_Shdr`` field (``sh_type``, ``sh_flags``, ``sh_info``...) of a section."""
    elf = ElfFile(data)
    s = _section(elf, section)
    header = s.header._replace(**{field: value})
    return _put(data, _shdr_offset(elf, s.index), elf.layout.shdr.pack(*header))


def set_section_type(data, section, sh_type):
    return set_section_field(data, section, "sh_type", sh_type)


def add_section_flag(data, section, flag):
    s = _section(ElfFile(data), section)
    return set_section_field(data, section, "sh_flags", s.sh_flags | flag)


def drop_section_flag(data, section, flag):
    s = _section(ElfFile(data), section)
    return set_section_field(data, section, "sh_flags", s.sh_flags & ~flag)


def rename_section(data, old, new):
    """Rewrite a section's name in place in ``.shstrtab`` (``new`` no longer than the name)."""
    elf = ElfFile(data)
    s = _section(elf, old)
    if len(new) > len(s.name):
        raise ValueError(f"{new!r} is longer than {s.name!r}")
    names = elf.sections[elf.shstrndx]
    offset = names.sh_offset + s.sh_name
    return _put(data, offset, new.encode().ljust(len(s.name), b"\0"))


# --------------------------------------------------------------------------- .modinfo

def modinfo_entries(data):
    """``[(key, value)]`` of ``.modinfo`` in file order."""
    s = _section(ElfFile(data), ".modinfo")
    out = []
    for raw in bytes(s.data).split(b"\0"):
        if raw:
            key, _, value = raw.decode("latin-1").partition("=")
            out.append((key, value))
    return out


def _write_modinfo(data, entries):
    s = _section(ElfFile(data), ".modinfo")
    blob = b"".join(f"{k}={v}".encode("latin-1") + b"\0" for k, v in entries)
    if len(blob) > s.sh_size:
        raise ValueError(f".modinfo would grow to {len(blob)} bytes, it has {s.sh_size}: "
                         "remove another entry first")
    return _put(data, s.sh_offset, blob.ljust(s.sh_size, b"\0"))


def set_modinfo(data, key, value):
    """Replace the first ``key=`` entry's value (``None`` removes it; a new key is appended).

    The section keeps its size: what the entries no longer use is NUL padding, which the
    kernel's ``get_modinfo`` steps over. A value that does not fit raises ``ValueError``.
    """
    entries = modinfo_entries(data)
    keys = [k for k, _ in entries]
    if key in keys:
        i = keys.index(key)
        if value is None:
            del entries[i]
        else:
            entries[i] = (key, value)
    elif value is not None:
        entries.append((key, value))
    return _write_modinfo(data, entries)


def rename_modinfo_key(data, old, new):
    """``old=value`` becomes ``new=value`` (the first such entry)."""
    entries = modinfo_entries(data)
    keys = [k for k, _ in entries]
    i = keys.index(old)
    entries[i] = (new, entries[i][1])
    return _write_modinfo(data, entries)


# --------------------------------------------------------------------------- __versions

def _version_offset(data, symbol):
    elf = ElfFile(data)
    s = _section(elf, "__versions")
    word = elf.layout.word_size
    for off in range(0, s.sh_size - MODVERSION_INFO_SIZE + 1, MODVERSION_INFO_SIZE):
        raw = bytes(data[s.sh_offset + off + word:s.sh_offset + off + MODVERSION_INFO_SIZE])
        if raw.split(b"\0", 1)[0] == symbol.encode():
            return elf, s, off
    raise KeyError(f"no __versions entry for {symbol!r}")


def set_version_crc(data, symbol, crc):
    """Set the CRC the module recorded for ``symbol``."""
    elf, s, off = _version_offset(data, symbol)
    return _put(data, s.sh_offset + off, elf.layout.addr.pack(crc))


def version_crc(data, symbol):
    elf, s, off = _version_offset(data, symbol)
    return elf.layout.addr.unpack_from(data, s.sh_offset + off)[0]


def drop_version(data, symbol):
    """Remove ``symbol``'s record: later records move up, the last one becomes all zeros."""
    _, s, off = _version_offset(data, symbol)
    start, end = s.sh_offset + off, s.sh_offset + s.sh_size
    rest = bytes(data[start + MODVERSION_INFO_SIZE:end])
    return _put(data, start, rest + bytes(MODVERSION_INFO_SIZE))


# --------------------------------------------------------------------------- symbols

def set_symbol_shndx(data, symbol, shndx):
    """Set ``st_shndx`` of the first symbol called ``symbol`` (or of symbol number ``symbol``)."""
    elf = ElfFile(data)
    index = symbol if isinstance(symbol, int) else _symbol_index(elf, symbol)
    lay = elf.layout
    record = elf.symtab.sh_offset + index * lay.sym.size
    # st_shndx follows name, info, other in Elf64_Sym; name, value, size, info, other in Elf32_Sym
    field = 6 if lay.bits == 64 else 14
    return _put(data, record + field, lay.u16.pack(shndx))


# --------------------------------------------------------------------------- relocations

def _rela_record(data, rel_section, index):
    elf = ElfFile(data)
    s = _section(elf, rel_section)
    rec = elf.layout.rela if s.sh_type == SHT_RELA else elf.layout.rel
    if not 0 <= index < s.sh_size // rec.size:
        raise IndexError(f"{s.name} has no relocation {index}")
    offset = s.sh_offset + index * rec.size
    return elf, rec, offset, list(rec.unpack_from(data, offset))


def relocation(data, rel_section, index):
    """``(r_offset, r_sym, r_type, r_addend or None)`` of one relocation."""
    elf, _, _, fields = _rela_record(data, rel_section, index)
    lay = elf.layout
    addend = fields[2] if len(fields) == 3 else None
    return fields[0], lay.r_sym(fields[1]), lay.r_type(fields[1]), addend


def set_reloc_type(data, rel_section, index, r_type):
    elf, rec, offset, fields = _rela_record(data, rel_section, index)
    lay = elf.layout
    fields[1] = lay.r_info(lay.r_sym(fields[1]), r_type)
    return _put(data, offset, rec.pack(*fields))


def set_reloc_addend(data, rel_section, index, addend):
    elf, rec, offset, fields = _rela_record(data, rel_section, index)
    if len(fields) != 3:
        raise ValueError("a REL entry has no addend field")
    fields[2] = addend
    return _put(data, offset, rec.pack(*fields))


# --------------------------------------------------------------------------- recipes

def apply_recipe(data, recipe):
    """Apply ``[(function name, *args), ...]`` in order."""
    for name, *args in recipe:
        data = globals()[name](data, *args)
    return bytes(data)
