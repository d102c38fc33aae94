"""``simplify_symbols``: every symbol's final value, as Linux 6.1 computes it.

Defined symbols become section address + ``st_value`` (a per-CPU section's symbols use the
module's per-CPU base); ``SHN_ABS`` stays; ``SHN_COMMON`` is refused ("please compile with
-fno-common"); undefined symbols are looked up with ``resolve_symbol`` (vmlinux, then loaded
modules, with the GPL, CRC and namespace rules); a weak undefined symbol may stay 0. The kernel
does not stop at the first problem: each one prints its line and the last error is returned.

Defined symbols are computed for the whole table at once; only the symbols that need a
decision (undefined, common, out of range) are visited one by one, in table order, so the
messages come out in the kernel's order.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..bits import MASK64
from ..elf.constants import EM, SHN, STB
from ..elf.records import st_bind
from ..errors import KmodError
from .checks import check_version
from ..loglevels import LOGLEVEL_ERR, LOGLEVEL_WARNING

if TYPE_CHECKING:
    from .info import LoadInfo
    from .layout import Image
    from .checks import LoadingModule
    from .linkkernel import LinkKernel, Module, SymbolHit


class Resolution(NamedTuple):
    """How one undefined symbol was resolved."""

    name: str
    value: int
    how: str                 # "vmlinux", "module:<name>", "weak", "ignored"
    crc: int | None = None
    gpl_only: bool = False
    namespace: str = ""


@dataclass
class SymbolValues:
    values: np.ndarray                       # uint64, one per symbol-table entry
    # name -> Resolution (undefined symbols)
    resolved: dict[str, Resolution] = field(default_factory=dict)
    uses: list[Module] = field(default_factory=list)   # modules this one now references


def ignore_undef_symbol(e_machine: int, name: str) -> bool:
    return e_machine in (EM.EM_386, EM.EM_X86_64) and name == "_GLOBAL_OFFSET_TABLE_"


def section_bases(info: LoadInfo, image: Image, percpu_base: int | None,
                  copy_base: int) -> np.ndarray:
    """sh_addr of every section: final address if placed, else its place in the load copy."""
    bases = np.zeros(info.shnum + 1, dtype=np.uint64)
    for s in info.elf.sections:
        if s.index in image.sections:
            bases[s.index] = image.address_of(s.index)
        else:
            bases[s.index] = (copy_base + s.sh_offset) & MASK64
    pcpu = info.index.get("pcpu", 0)
    if pcpu and percpu_base is not None:
        bases[pcpu] = percpu_base
    return bases


def simplify_symbols(info: LoadInfo, image: Image, kernel: LinkKernel, mod: LoadingModule,
                     percpu_base: int | None = None, copy_base: int = 0) -> SymbolValues:
    syms = info.syms
    shndx = syms["st_shndx"].astype(np.int64)
    values = syms["st_value"].astype(np.uint64)
    bases = section_bases(info, image, percpu_base, copy_base)
    shnum = info.shnum
    regular = (shndx > 0) & (shndx < shnum)
    with np.errstate(over="ignore"):
        values[regular] = values[regular] + bases[shndx[regular]]
    special = np.flatnonzero(~regular & (shndx != SHN.SHN_ABS) & (shndx != SHN.SHN_LIVEPATCH))
    result = SymbolValues(values)
    ret = 0
    fast = _fast_vmlinux(info, kernel, mod)
    resolved = result.resolved
    fast_idx: list[int] = []
    fast_val: list[int] = []
    for i in special.tolist():
        if i == 0:
            continue
        name = info.symbol_name(i)
        x = int(shndx[i])
        if x == SHN.SHN_UNDEF:
            hit = fast(name)
            if hit is not None:
                fast_idx.append(i)
                fast_val.append(hit.value)
                resolved[name] = Resolution(name, hit.value, "vmlinux", hit.crc, hit.gpl_only,
                                            hit.namespace)
                continue
            err = _resolve(info, kernel, mod, i, name, result)
            if err:
                ret = err
        elif x == SHN.SHN_COMMON:
            if name.startswith("__gnu_lto"):
                continue
            kernel.printk(LOGLEVEL_WARNING, f"{mod.name}: please compile with -fno-common")
            ret = -errno.ENOEXEC
        else:
            kernel.printk(LOGLEVEL_ERR, f"{mod.name}: Symbol {name} has an invalid section index "
                                    f"{x} (max {shnum - 1})")
            ret = -errno.ENOEXEC
    if fast_idx:
        values[fast_idx] = np.array(fast_val, dtype=np.uint64)
    if ret:
        last = kernel.log[-1].text if kernel.log else "simplify_symbols failed"
        raise KmodError(last, -ret)
    return result


def _fast_vmlinux(info: LoadInfo, kernel: LinkKernel,
                  mod: LoadingModule) -> Callable[[str], SymbolHit | None]:
    """The common case of ``resolve_symbol`` without its side paths: a vmlinux export with
    no namespace, allowed to this module, whose CRC matches. Anything else returns None and
    takes the full path, which prints whatever the kernel prints."""
    from .checks import _versions
    gplok = "P" not in mod.taints
    check = kernel.profile.checks.get("modversions", False)
    versions = _versions(info) if check and info.index.get("vers") else None
    if check and versions is None:
        return lambda name: None  # no __versions: try_to_force_load's path

    cache, lookup = kernel._vmlinux, kernel.vmlinux_symbol

    def fast(name: str) -> SymbolHit | None:
        hit = cache.get(name, cache)
        if hit is cache:
            hit = lookup(name)
        if hit is None or hit.namespace or (hit.gpl_only and not gplok):
            return None
        # (versions is a table whenever check is set)
        if check and hit.crc is not None and versions.get(name) != hit.crc:  # type: ignore[union-attr]
            return None
        if hit.gpl_only:
            mod.using_gplonly_symbols = True
        return hit

    return fast


def _resolve(info: LoadInfo, kernel: LinkKernel, mod: LoadingModule, i: int, name: str,
             result: SymbolValues) -> int:
    hit, err = resolve_symbol(info, kernel, mod, name)
    if hit is not None:
        result.values[i] = hit.value
        owner = hit.owner
        how = "vmlinux" if owner is None else f"module:{owner.name}"
        result.resolved[name] = Resolution(name, hit.value, how, hit.crc, hit.gpl_only, hit.namespace)
        if owner is not None and owner not in result.uses:
            result.uses.append(owner)
        return 0
    bind = st_bind(int(info.syms["st_info"][i]))
    if err == 0 and (bind == STB.STB_WEAK or ignore_undef_symbol(info.elf.e_machine, name)):
        result.resolved[name] = Resolution(name, 0, "weak" if bind == STB.STB_WEAK else "ignored")
        return 0
    err = err or -errno.ENOENT
    kernel.printk(LOGLEVEL_WARNING, f"{mod.name}: Unknown symbol {name} (err {err})")
    return err


def resolve_symbol(info: LoadInfo, kernel: LinkKernel, mod: LoadingModule,
                   name: str) -> tuple[SymbolHit | None, int]:
    """``resolve_symbol``: ``(SymbolHit or None, err)``; err is 0 when simply not found."""
    gplok = "P" not in mod.taints
    hit = kernel.find_symbol(name, gplok)
    if hit is None:
        return None, 0
    if hit.gpl_only:
        mod.using_gplonly_symbols = True
    owner = hit.owner
    if owner is not None and "P" in owner.taints:
        if getattr(mod, "using_gplonly_symbols", False):
            kernel.printk(LOGLEVEL_ERR, f"{mod.name}: module using GPL-only symbols uses symbols "
                                    f"{name} from proprietary module {owner.name}.")
            return None, 0
        if "P" not in mod.taints:
            kernel.printk(LOGLEVEL_WARNING, f"{mod.name}: module uses symbols {name} from proprietary "
                                        f"module {owner.name}, inheriting taint.")
            mod.taints.add("P")
    if not check_version(info, kernel, name, hit.crc, mod):
        return None, -errno.EINVAL
    if hit.namespace and hit.namespace not in info.get_all_modinfo("import_ns"):
        kernel.printk(LOGLEVEL_ERR, f"{mod.name}: module uses symbol ({name}) from namespace "
                                f"{hit.namespace}, but does not import it.")
        return None, -errno.EINVAL
    return hit, 0
