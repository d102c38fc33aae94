"""``apply_relocations``: walk the relocation sections in index order, patch the image.

A section is processed when its ``sh_info`` names an allocated section (after the flag
changes of the earlier steps, so ``.modinfo``, ``__versions``, per-CPU data and debug sections
are skipped); ``SHT_REL`` and ``SHT_RELA`` go to the architecture's routine, which accepts
only its own kind. The first failure stops everything, as in the kernel.

``apply_relocations`` patches ``image`` in place (the only step that changes its input) and
returns ``{type name: count}``. ``fast=True`` uses the vectorised path of
:mod:`linker.reloc.apply`, falling back to the scalar one per section when needed.
"""

import errno

import numpy as np

from ..errors import KmodError
from ..reloc.apply import RelocationError, apply_section_scalar, apply_section_vector
from .kernel import KERN_ERR

SHT_RELA, SHT_REL = 4, 9
SHF_ALLOC = 0x2
SHF_RELA_LIVEPATCH = 0x00100000

REL_DTYPES = {
    (64, True): np.dtype([("r_offset", "<u8"), ("r_info", "<u8"), ("r_addend", "<i8")]),
    (64, False): np.dtype([("r_offset", "<u8"), ("r_info", "<u8")]),
    (32, True): np.dtype([("r_offset", "<u4"), ("r_info", "<u4"), ("r_addend", "<i4")]),
    (32, False): np.dtype([("r_offset", "<u4"), ("r_info", "<u4")]),
}


def relocation_sections(info):
    """The relocation sections the kernel applies, in order: ``(rel section, target index)``."""
    out = []
    for s in info.elf.sections[1:]:
        target = s.sh_info
        if target >= info.shnum or not info.sh_flags[target] & SHF_ALLOC:
            continue
        if s.sh_type in (SHT_REL, SHT_RELA):
            out.append((s, target))
    return out


def read_relocations(info, s):
    """``(r_offset, r_type, r_sym, r_addend or None)`` arrays of one section."""
    bits = info.elf.layout.bits
    rela = s.sh_type == SHT_RELA
    dtype = REL_DTYPES[(bits, rela)]
    data = s.data
    arr = np.frombuffer(data, dtype=dtype, count=len(data) // dtype.itemsize)
    r_info = arr["r_info"].astype(np.uint64)
    if bits == 64:
        r_sym, r_type = (r_info >> np.uint64(32)).astype(np.int64), (r_info & np.uint64(0xFFFFFFFF)).astype(np.int64)
    else:
        r_sym, r_type = (r_info >> np.uint64(8)).astype(np.int64), (r_info & np.uint64(0xFF)).astype(np.int64)
    addend = arr["r_addend"].astype(np.int64) if rela else None
    return arr["r_offset"].astype(np.uint64), r_type, r_sym, addend


def apply_relocations(info, image, symvals, arch, kernel, mod_name, fast=True):
    counts = {}
    nsyms = len(symvals)
    for s, target in relocation_sections(info):
        if info.sh_flags[s.index] & SHF_RELA_LIVEPATCH:
            continue  # livepatch relocations are applied by livepatch, not here
        if (s.sh_type == SHT_RELA) != arch.rela:
            _fail(kernel, [arch.wrong_kind_message % mod_name], errno.ENOEXEC)
        r_offset, r_type, r_sym, addend = read_relocations(info, s)
        bad = np.flatnonzero(r_sym >= nsyms)
        if len(bad):
            _fail(kernel, [f"kmodsim: {mod_name}: relocation {int(bad[0])} of {s.name} refers to "
                           f"symbol {int(r_sym[bad[0]])}, past the end of the symbol table"],
                  errno.ENOEXEC, log=False)
        alloc, sec_off, sec_addr = image.sections[target]
        sec_size = image.layout.placements[target].size
        buf = image.buffer(alloc)
        got = None
        if fast:
            got = apply_section_vector(arch, np.frombuffer(buf, dtype=np.uint8), sec_off, sec_size,
                                       sec_addr, r_offset, r_type, r_sym, addend, symvals,
                                       mod_name, s.name)
        if got is None:
            entries = zip(r_offset.tolist(), r_type.tolist(), r_sym.tolist(),
                          addend.tolist() if addend is not None else [None] * len(r_offset))
            try:
                got = apply_section_scalar(arch, buf, sec_off, sec_size, sec_addr, entries, symvals,
                                           mod_name, s.name)
            except RelocationError as exc:
                _fail(kernel, exc.lines, errno.ENOEXEC, log=not exc.lines[0].startswith("kmodsim:"))
        for k, v in got.items():
            counts[k] = counts.get(k, 0) + v
    return counts


def _fail(kernel, lines, err, log=True):
    if log:
        for line in lines:
            kernel.printk(KERN_ERR, line)
    exc = KmodError(lines[0], err)
    exc.lines = lines
    raise exc
