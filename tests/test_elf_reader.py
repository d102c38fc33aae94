"""The reader against pyelftools, the independent cross-check, on every sample."""

import pytest
from conftest import golden_modules, sample_objects
from elftools.elf.elffile import ELFFile as PyElf
from elftools.elf.relocation import RelocationSection as PyRel

from linker.elf import ElfFile
from linker.elf.constants import SHT
from linker.module.signature import read_signature

FILES = sample_objects() + golden_modules()


def _open_both(path):
    data = path.read_bytes()
    sig = read_signature(data)
    if sig is not None:
        data = data[:sig.elf_len]
    import io
    return ElfFile(data), PyElf(io.BytesIO(data))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_sections_match_pyelftools(path):
    ours, theirs = _open_both(path)
    assert ours.shnum == theirs.num_sections()
    for sec, ref in zip(ours.sections, theirs.iter_sections()):
        h = ref.header
        assert sec.name == ref.name
        # pyelftools decodes the type to its name at parse time; compare names
        assert SHT(sec.sh_type).name == h.sh_type
        assert (sec.sh_flags, sec.sh_offset, sec.sh_size, sec.sh_link, sec.sh_info,
                sec.sh_addralign, sec.sh_entsize) == \
            (h.sh_flags, h.sh_offset, h.sh_size, h.sh_link, h.sh_info, h.sh_addralign,
             h.sh_entsize)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_symbols_match_pyelftools(path):
    ours, theirs = _open_both(path)
    ref = [s for s in theirs.iter_sections() if s.header.sh_type == "SHT_SYMTAB"][0]
    assert len(ours.symbols) == ref.num_symbols()
    for sym, rs in zip(ours.symbols, ref.iter_symbols()):
        assert (sym.name, sym.st_value, sym.st_size) == (rs.name, rs["st_value"], rs["st_size"])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_relocations_match_pyelftools(path):
    ours, theirs = _open_both(path)
    refs = [s for s in theirs.iter_sections() if isinstance(s, PyRel)]
    assert [r.name for r in ours.relocation_sections] == [r.name for r in refs]
    for rsec, ref in zip(ours.relocation_sections, refs):
        got = [(r.r_offset, r.sym, r.type, r.addend) for r in rsec.entries]
        want = [(r["r_offset"], r["r_info_sym"], r["r_info_type"],
                 r["r_addend"] if ref.is_RELA() else None) for r in ref.iter_relocations()]
        assert got == want, rsec.name
