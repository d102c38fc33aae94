"""``struct load_info``: the loader's working view of one module file.

``setup_load_info`` finds the sections the kernel looks up by name (only ``SHF_ALLOC`` ones,
like ``find_sec``), the symbol table and its strings, and the module's name.
``rewrite_section_headers`` then clears ``SHF_ALLOC`` on ``.modinfo`` and ``__versions``.
The section flags live in ``info.sh_flags``, a copy the steps may change as the kernel
changes its copy of the headers; the file's bytes are never touched.
"""

from __future__ import annotations

import errno as _errno
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn

import numpy as np

from ..elf.constants import SHF, SHT
from ..elf.reader import cstring_at
from ..errors import ElfError
from ..module.modinfo import modinfo_entries

if TYPE_CHECKING:
    from ..elf.reader import ElfFile, Section
    from ..profiles import Profile
    from .linkkernel import LinkKernel

_SHF_ALLOC = int(SHF.SHF_ALLOC)   # a plain int: find_sec tests it per section

MODULE_INIT_IGNORE_MODVERSIONS = 1
MODULE_INIT_IGNORE_VERMAGIC = 2
MODULE_INIT_COMPRESSED_FILE = 4

NO_NAME = "(missing .modinfo section or name field)"

SYM_DTYPES = {
    (64, True): np.dtype([("st_name", "<u4"), ("st_info", "u1"), ("st_other", "u1"),
                          ("st_shndx", "<u2"), ("st_value", "<u8"), ("st_size", "<u8")]),
    (32, True): np.dtype([("st_name", "<u4"), ("st_value", "<u4"), ("st_size", "<u4"),
                          ("st_info", "u1"), ("st_other", "u1"), ("st_shndx", "<u2")]),
}


@dataclass
class LoadInfo:
    elf: ElfFile
    flags: int = 0
    name: str | None = None
    sig_ok: bool = False
    index: dict[str, int] = field(default_factory=dict)  # sym, str, mod, info, vers, pcpu -> index
    sh_flags: list[int] = field(default_factory=list)
    modinfo: list[tuple[str, str]] = field(default_factory=list)
    # numpy structured array of the symbol table (SYM_DTYPES), read by setup_load_info
    syms: np.ndarray = None  # type: ignore[assignment]
    strtab: bytes = b""

    @property
    def shnum(self) -> int:
        return self.elf.shnum

    def section(self, i: int) -> Section:
        return self.elf.sections[i]

    def find_sec(self, name: str) -> int:
        """The kernel's ``find_sec``: first section with SHF_ALLOC (as flagged now) and that name."""
        by_name = self.__dict__.get("_by_name")
        if by_name is None:
            by_name = self.__dict__["_by_name"] = {}
            for s in self.elf.sections[1:]:
                by_name.setdefault(s.name, []).append(s.index)
        for i in by_name.get(name, ()):
            if self.sh_flags[i] & _SHF_ALLOC:
                return i
        return 0

    def get_modinfo(self, tag: str) -> str | None:
        for key, value in self.modinfo:
            if key == tag:
                return value
        return None

    def get_all_modinfo(self, tag: str) -> list[str]:
        return [v for k, v in self.modinfo if k == tag]

    def symbol_name(self, i: int) -> str:
        return cstring_at(self.strtab, int(self.syms["st_name"][i])).decode("latin-1")


def setup_load_info(elf: ElfFile, kernel: LinkKernel, flags: int = 0) -> LoadInfo:
    info = LoadInfo(elf, flags)
    info.sh_flags = [s.sh_flags for s in elf.sections]
    info.index["info"] = info.find_sec(".modinfo")
    if info.index["info"]:
        info.modinfo = modinfo_entries(elf.sections[info.index["info"]].data)
        info.name = info.get_modinfo("name")
    info.index["sym"] = info.index["str"] = 0
    for s in elf.sections[1:]:
        if s.sh_type == SHT.SHT_SYMTAB:
            info.index["sym"], info.index["str"] = s.index, s.sh_link
            break
    if info.index["sym"] == 0:
        raise_warn(kernel, f"{info.name or NO_NAME}: module has no symbols (stripped?)")
    desc = kernel.profile.descriptor.section
    info.index["mod"] = info.find_sec(desc)
    if not info.index["mod"]:
        raise_warn(kernel, f"{info.name or NO_NAME}: No module found in object")
    if info.name is None:
        info.name = descriptor_name(info, kernel.profile)
    info.index["vers"] = 0 if flags & MODULE_INIT_IGNORE_MODVERSIONS else info.find_sec("__versions")
    info.index["pcpu"] = info.find_sec(".data..percpu")
    _read_symbols(info)
    return info


def descriptor_name(info: LoadInfo, profile: Profile) -> str | None:
    """The ``name`` field of the on-disk descriptor (``struct module``), if the format has one."""
    fields = profile.descriptor.fields
    if "name" not in fields:
        return None
    sec = info.elf.sections[info.index["mod"]]
    off = fields["name"].offset
    raw = bytes(sec.data[off:off + fields["name"].size])
    return raw.split(b"\0", 1)[0].decode("latin-1")


def _read_symbols(info: LoadInfo) -> None:
    elf = info.elf
    sym = elf.sections[info.index["sym"]]
    dtype = SYM_DTYPES.get((elf.layout.bits, elf.layout.little))
    if dtype is None:
        dtype = SYM_DTYPES[(elf.layout.bits, True)].newbyteorder(">")
    data = sym.data
    n = len(data) // dtype.itemsize
    info.syms = np.frombuffer(data, dtype=dtype, count=n)
    info.strtab = elf.string_table(info.index["str"])


def raise_warn(kernel: LinkKernel, line: str, errno: int = _errno.ENOEXEC) -> NoReturn:
    from ..loglevels import LOGLEVEL_WARNING
    kernel.printk(LOGLEVEL_WARNING, line)
    raise ElfError(line, errno)


def rewrite_section_headers(info: LoadInfo) -> LoadInfo:
    """Track but do not keep ``.modinfo`` and ``__versions``: they lose SHF_ALLOC."""
    for key in ("vers", "info"):
        idx = info.index.get(key, 0)
        info.sh_flags[idx] &= ~_SHF_ALLOC
    # section 0 may be index 0 when absent: the kernel clears it too (it has no flags)
    return info
