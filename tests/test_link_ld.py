"""kmodsim's relocated bytes equal GNU ld's, section by section.

For every committed sample (Linux ``.ko`` with ``ld -m elf_x86_64``, hobby ``.o`` with
``ld -m elf_i386``) and every golden seed module, ``kmodsim link --json --dump`` runs, then
ld links the same object with each listed section at kmodsim's address and each resolved
symbol ``--defsym``ed (see ``tests/ldcompare.py``), and every listed section must come out
byte for byte the same. Skipped without ld. ``KMODSIM_CORPUS=1`` adds a run over 50 Debian
modules of each architecture (``bench/ld_corpus.py`` does the same over any number).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import ldcompare
from conftest import run_cli
from elfwriter import Sec, build_rel

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
GOLDEN = ROOT.parent / "shared" / "golden" / "seed-modules"
EXPORTER = SAMPLES / "linux" / "exporter" / "exporter.ko"

needs_ld = pytest.mark.skipif(shutil.which("ld") is None, reason="GNU ld is not installed")


@dataclass(frozen=True)
class Case:
    path: Path
    profile: str | None = None
    with_: tuple = ()
    emulation: str | None = None

    @property
    def hobby(self):
        return self.profile == "hobby-i386"


def cases():
    out = []
    for p in sorted(SAMPLES.glob("linux/*/*.ko")):       # signed/ included
        with_ = (EXPORTER,) if p.stem == "importer" else ()
        out.append(pytest.param(Case(p, None, with_), id=f"linux/{p.parent.name}/{p.name}"))
    for p in sorted(SAMPLES.glob("hobby/*.o")):
        out.append(pytest.param(Case(p, "hobby-i386", (), "elf_i386"), id=f"hobby/{p.name}"))
    golden = sorted(GOLDEN.glob("*/*.ko")) if GOLDEN.is_dir() else []
    for p in golden:
        out.append(pytest.param(Case(p), id=f"golden/{p.name}", marks=pytest.mark.shared))
    if not golden:
        out.append(pytest.param(None, id="golden", marks=pytest.mark.skip(
            reason=f"{GOLDEN} is absent")))
    return out


def link(case, tmp_path, in_process=True):
    """kmodsim's JSON for ``case``; skips a hobby object the hobby profile cannot link.

    ``kmodsim link`` runs in this process (``conftest.run_cli``), or with ``in_process=False``
    as a child process (``test_ld_did_relocate`` keeps that path covered)."""
    try:
        return ldcompare.kmodsim_link(case.path, tmp_path / "dump", case.profile, case.with_,
                                      run_cli=run_cli if in_process else None)
    except ldcompare.LinkRefused as exc:
        if case.hobby:
            # common.o is refused by design (a COMMON symbol), the others while the hobby
            # profile is being written
            pytest.skip(f"kmodsim does not link {case.path.name} with {case.profile}: {exc}")
        raise


@needs_ld
@pytest.mark.parametrize("case", cases())
def test_relocated_bytes_equal_ld(case, tmp_path):
    result = link(case, tmp_path)
    counts = ldcompare.Counts()
    mismatches = ldcompare.compare_with_ld(case.path, result, tmp_path / "dump", tmp_path / "ld",
                                           case.emulation, counts)
    assert not mismatches, "\n".join(map(str, mismatches))
    assert counts.sections == len(result["sections"]) > 0
    assert result["relocations"]["applied"] > 0


# -- the comparison itself ------------------------------------------------------------------


@needs_ld
def test_a_wrong_byte_is_found_and_its_relocation_named(tmp_path):
    """Flip a byte kmodsim relocated: exactly that section differs, at that relocation."""
    if shutil.which("readelf") is None:
        pytest.skip("readelf is not installed")
    module = SAMPLES / "linux" / "params" / "params.ko"
    result = link(Case(module), tmp_path)
    headers = ldcompare.read_headers(module.read_bytes())
    lines = ldcompare.RelocationLines(module, headers)
    section = next(s for s in result["sections"] if s["name"] == ".init.text")
    r_offset, width, line = lines.lines(section["index"])[0]
    dump = tmp_path / "dump" / f"{section['index']}.bin"
    data = bytearray(dump.read_bytes())
    data[r_offset + width - 1] ^= 0x01
    dump.write_bytes(data)
    found = ldcompare.compare_with_ld(module, result, tmp_path / "dump", tmp_path / "ld")
    assert [(m.index, m.offset, m.relocation) for m in found] == \
        [(section["index"], r_offset + width - 1, line)]
    assert found[0].ours[:width] != found[0].theirs[:width]


@needs_ld
def test_ld_did_relocate(tmp_path):
    """ld's bytes are not just the file's: a section with relocations changed."""
    module = SAMPLES / "linux" / "params" / "params.ko"
    result = link(Case(module), tmp_path, in_process=False)    # the real command, once
    data = module.read_bytes()
    headers = ldcompare.read_headers(data)
    text = next(s for s in headers.sections if s.name == ".init.text")
    raw = data[text.sh_offset:text.sh_offset + text.sh_size]
    ldcompare.compare_with_ld(module, result, tmp_path / "dump", tmp_path / "ld")
    out = ldcompare.output_sections((tmp_path / "ld" / "module.out").read_bytes())
    addr, theirs = out[ldcompare.placed_name(text.index)]
    assert addr == next(s["addr"] for s in result["sections"] if s["index"] == text.index)
    assert len(theirs) == len(raw) and theirs != raw


SHF_A, SHF_WA, SHF_AX, SHF_AMS = 0x2, 0x3, 0x6, 0x32


def test_prepare_object_changes_headers_only():
    """Renamed placed sections, no MERGE, unplaced ones not ALLOC, skipped relocations inert."""
    obj = build_rel([
        Sec(".text", 1, b"\x90" * 8, flags=SHF_AX),                       # 1 placed
        Sec(".rela.text", 4, bytes(24), link=9, info=1, align=8, entsize=24),
        Sec(".rodata.str1.1", 1, b"a\0", flags=SHF_AMS, entsize=1),      # 3 placed
        Sec(".data..percpu", 1, bytes(8), flags=SHF_WA, align=8),        # 4 placed, per-CPU
        Sec(".rela.data..percpu", 4, bytes(24), link=9, info=4, align=8, entsize=24),
        Sec(".modinfo", 1, b"license=GPL\0", flags=SHF_A),               # 6 not placed
        Sec(".debug_info", 1, bytes(4)),
        Sec(".rela.debug_info", 4, bytes(24), link=9, info=7, align=8, entsize=24),
        Sec(".symtab", 2, bytes(24), link=10, align=8, entsize=24),
        Sec(".strtab", 3, b"\0"),
    ])
    copy = ldcompare.prepare_object(bytes(obj), placed={1, 3, 4}, percpu={4})
    before = ldcompare.read_headers(bytes(obj)).sections
    after = ldcompare.read_headers(copy).sections
    got = [(s.name, s.sh_type, s.sh_flags) for s in after[1:11]]
    assert got == [
        (".kms.1", 1, SHF_AX),
        (".rela.text", 4, 0),
        (".kms.3", 1, SHF_A),
        (".kms.4", 1, SHF_WA),
        (".rela.data..percpu", 1, 0),      # the kernel never applies these
        (".modinfo", 1, 0),
        (".debug_info", 1, 0),
        (".rela.debug_info", 1, 0),
        (".symtab", 2, 0),
        (".strtab", 3, 0),
    ]
    shstrtab = len(after) - 1      # moved to the end of the file and grown
    for b, a in zip(before[1:shstrtab], after[1:shstrtab]):
        assert (a.sh_offset, a.sh_size) == (b.sh_offset, b.sh_size)
        assert copy[a.sh_offset:a.sh_offset + a.sh_size] == obj[b.sh_offset:b.sh_offset + b.sh_size]


def test_defsym_quotes_names_ld_would_read_as_numbers():
    assert ldcompare.defsym_options({"edd": 0x10, "w": -1}, 32) == \
        ['--defsym="edd"=0x10', '--defsym="w"=0xffffffff']


# -- the Debian corpus ----------------------------------------------------------------------


@needs_ld
@pytest.mark.corpus
@pytest.mark.parametrize("arch", ["amd64", "i386"])
def test_corpus_modules_equal_ld(arch):
    if os.environ.get("KMODSIM_CORPUS") != "1":
        pytest.skip("set KMODSIM_CORPUS=1 to compare 50 Debian modules with ld")
    if str(ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(ROOT / "bench"))
    import ld_corpus

    tree = ld_corpus.corpus_dir(arch)
    if tree is None:
        pytest.skip(f"the Debian {arch} module tree is not available")
    outcomes = ld_corpus.run_corpus(tree, arch, limit=50)
    compared = [o for o in outcomes if o.status == "compared"]
    refused = [f"{o.module}: {o.reason}" for o in outcomes if o.status == "refused"]
    if not compared and all("Unknown symbol" in r for r in refused):
        pytest.skip(f"kmodsim resolves no vmlinux symbol with {ld_corpus.PROFILES[arch]}: "
                    f"{refused[0]}")
    broken = [f"{o.module}: {o.status}: {o.reason}" for o in outcomes
              if o.status in ("ld-failed", "error")]
    mismatches = [m for o in compared for m in o.mismatches]
    assert not broken, "\n".join(broken)
    assert not mismatches, "\n".join(mismatches[:20])
    assert len(compared) >= 45, refused
