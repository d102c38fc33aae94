"""The checks of ``load_module`` before layout and between layout and symbols (6.1.192).

Each function is one kernel step, prints what the kernel prints into ``kernel.log`` and
raises :class:`~linker.errors.KmodError` with the kernel's errno where the kernel fails.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, NoReturn, Protocol

from ..elf.constants import SHF
from ..elf.records import BytesLike
from ..errors import KmodError
from ..module.signature import (MODULE_SIG_STRING, MODULE_SIGNATURE_SIZE, PKEY_ID_PKCS7,
                                ModuleSignatureHeader)
from ..module.der import signer_id
from .info import MODULE_INIT_IGNORE_MODVERSIONS, MODULE_INIT_IGNORE_VERMAGIC
from ..loglevels import LOGLEVEL_ERR, LOGLEVEL_NOTICE, LOGLEVEL_WARNING

if TYPE_CHECKING:
    from .info import LoadInfo
    from .linkkernel import LinkKernel

# a plain int, tested per section (an IntFlag operator builds an enum member)
_SHF_WRITE_EXEC = int(SHF.SHF_WRITE | SHF.SHF_EXECINSTR)


class LoadingModule(Protocol):
    """What the checks read and write of the module being loaded (the parts of ``struct
    module`` they touch): :class:`linker.load.pipeline.ModuleState` is one."""

    name: str
    taints: set[str]
    license: str | None
    using_gplonly_symbols: bool


GPL_COMPATIBLE = ("GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL",
                  "Dual MPL/GPL")


def fail(kernel: LinkKernel, level: int, line: str, err: int) -> NoReturn:
    kernel.printk(level, line)
    raise KmodError(line, err)


# --------------------------------------------------------------------------- signature

def module_sig_check(data: BytesLike, kernel: LinkKernel, flags: int = 0) -> tuple[int, bool]:
    """``module_sig_check``: returns ``(image_length, sig_ok)``.

    A trailer is looked at unless a ``MODULE_INIT_IGNORE_*`` flag "mangles" the module.
    The header is checked as ``mod_check_sig`` does; the PKCS#7 block is not verified
    cryptographically: a signature counts as verified when its signer and serial number are
    in the profile's ``trusted_keys`` (the kernel's built-in keyring), otherwise it is
    ENOKEY, "module with unavailable key", which like an unsigned module only taints.
    """
    length = len(data)
    mlen = len(MODULE_SIG_STRING)
    err = -errno.ENODATA
    mangled = flags & (MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC)
    if not mangled and length > mlen and bytes(data[length - mlen:]) == MODULE_SIG_STRING:
        length -= mlen
        err, length = _mod_verify_sig(data, length, kernel)
        if err == 0:
            return length, True
    reasons = {-errno.ENODATA: "unsigned module", -errno.ENOPKG: "module with unsupported crypto",
               -errno.ENOKEY: "module with unavailable key"}
    if err not in reasons:
        raise KmodError("module signature check failed", -err)
    if kernel.sig_enforce:
        fail(kernel, LOGLEVEL_NOTICE, f"Loading of {reasons[err]} is rejected", errno.EKEYREJECTED)
    return length, False


def _mod_verify_sig(data: BytesLike, modlen: int, kernel: LinkKernel) -> tuple[int, int]:
    if modlen <= MODULE_SIGNATURE_SIZE:
        return -errno.EBADMSG, modlen
    ms = ModuleSignatureHeader.unpack(bytes(data[modlen - MODULE_SIGNATURE_SIZE:modlen]))
    if ms.sig_len >= modlen - MODULE_SIGNATURE_SIZE:
        return -errno.EBADMSG, modlen
    if ms.id_type != PKEY_ID_PKCS7:
        kernel.printk(LOGLEVEL_ERR, "module: not signed with expected PKCS#7 message")
        return -errno.ENOPKG, modlen
    if ms.algo or ms.hash or ms.signer_len or ms.key_id_len or any(ms.pad):
        kernel.printk(LOGLEVEL_ERR, "module: PKCS#7 signature info has unexpected non-zero params")
        return -errno.EBADMSG, modlen
    length = modlen - ms.sig_len - MODULE_SIGNATURE_SIZE
    found = signer_id(bytes(data[length:length + ms.sig_len]))
    if found is not None:
        signer, serial = found
        if ((signer or b"").decode("latin-1"), serial.hex()) in kernel.profile.trusted_keys:
            return 0, length
    return -errno.ENOKEY, length


# --------------------------------------------------------------------------- modversions

def check_version(info: LoadInfo, kernel: LinkKernel, symname: str, crc: int | None,
                  mod: LoadingModule) -> bool:
    """``check_version``: True when the CRCs agree (or there is nothing to compare)."""
    if crc is None or not kernel.profile.checks.get("modversions", False):
        return True
    vers = info.index.get("vers", 0)
    if vers == 0:
        return try_to_force_load(kernel, mod, symname) == 0
    want = _versions(info).get(symname)
    if want is None:
        kernel.printk(LOGLEVEL_WARNING, f"{info.name}: no symbol version for {symname}")
        return False
    if want == crc:
        return True
    kernel.printk(LOGLEVEL_WARNING, f"{info.name}: disagrees about version of symbol {symname}")
    return False


def _versions(info: LoadInfo) -> dict[str, int]:
    """name -> CRC of the first ``__versions`` record with that name (the kernel's scan order)."""
    cached = info.__dict__.get("_versions")
    if cached is None:
        from ..module.versions import versions_table
        cached = versions_table(info.section(info.index["vers"]).data, info.elf.layout)
        info.__dict__["_versions"] = cached
    return cached


def try_to_force_load(kernel: LinkKernel, mod: LoadingModule, reason: str) -> int:
    if not kernel.profile.config.get("CONFIG_MODULE_FORCE_LOAD"):
        return -errno.ENOEXEC
    if not kernel.test_taint("F"):
        kernel.printk(LOGLEVEL_WARNING, f"{mod.name}: {reason}: kernel tainted.")
    add_taint_module(kernel, mod, "F", lockdep_unreliable=True)
    return 0


def check_modstruct_version(info: LoadInfo, kernel: LinkKernel, mod: LoadingModule) -> None:
    """Check the kernel's ``module_layout`` CRC before anything else uses the module."""
    if not kernel.profile.checks.get("modversions", False):
        return
    hit = kernel.find_symbol("module_layout")
    crc = hit.crc if hit is not None else None
    if not check_version(info, kernel, "module_layout", crc, mod):
        raise KmodError(f"{info.name}: module_layout version check failed", errno.ENOEXEC)


# --------------------------------------------------------------------------- modinfo

def same_magic(amagic: str, bmagic: str, has_crcs: bool) -> bool:
    if has_crcs:
        amagic = amagic[len(amagic.split(" ", 1)[0]):]
        bmagic = bmagic[len(bmagic.split(" ", 1)[0]):]
    return amagic == bmagic


def check_modinfo(info: LoadInfo, kernel: LinkKernel, mod: LoadingModule, flags: int = 0) -> None:
    """``check_modinfo``: vermagic, out-of-tree, retpoline, staging, livepatch, license, test."""
    profile = kernel.profile
    if profile.checks.get("vermagic", False):
        modmagic = None if flags & MODULE_INIT_IGNORE_VERMAGIC else info.get_modinfo("vermagic")
        if modmagic is None:
            if try_to_force_load(kernel, mod, "bad vermagic"):
                raise KmodError(f"{info.name}: no vermagic", errno.ENOEXEC)
        elif not same_magic(modmagic, profile.vermagic, bool(info.index.get("vers"))):
            fail(kernel, LOGLEVEL_ERR, f"{info.name}: version magic '{modmagic}' should be "
                                   f"'{profile.vermagic}'", errno.ENOEXEC)
    if profile.kind != "linux":
        return
    if info.get_modinfo("intree") is None:
        if not kernel.test_taint("O"):
            kernel.printk(LOGLEVEL_WARNING, f"{mod.name}: loading out-of-tree module taints kernel.")
        add_taint_module(kernel, mod, "O")
    if info.get_modinfo("retpoline") is None and profile.config.get("CONFIG_RETPOLINE"):
        # arch/x86/kernel/cpu/bugs.c: pr_fmt is "Spectre V2 : "
        kernel.printk(LOGLEVEL_ERR, "Spectre V2 : System may be vulnerable to spectre v2")
        kernel.printk(LOGLEVEL_WARNING, f"{mod.name}: loading module not compiled with retpoline compiler.")
    if info.get_modinfo("staging") is not None:
        add_taint_module(kernel, mod, "C")
        kernel.printk(LOGLEVEL_WARNING, f"{mod.name}: module is from the staging directory, the "
                                    "quality is unknown, you have been warned.")
    if info.get_modinfo("livepatch") is not None:
        if profile.config.get("CONFIG_LIVEPATCH"):
            add_taint_module(kernel, mod, "K")
            kernel.printk_once("livepatch", LOGLEVEL_NOTICE,
                               f"{mod.name}: tainting kernel with TAINT_LIVEPATCH")
        else:
            fail(kernel, LOGLEVEL_ERR, f"{mod.name}: module is marked as livepatch module, but "
                                   "livepatch support is disabled", errno.ENOEXEC)
    if profile.checks.get("license", False):
        set_license(kernel, mod, info.get_modinfo("license"))
    if info.get_modinfo("test") is not None:
        if not kernel.test_taint("N"):
            kernel.printk(LOGLEVEL_WARNING, f"{mod.name}: loading test module taints kernel.")
        add_taint_module(kernel, mod, "N")


def set_license(kernel: LinkKernel, mod: LoadingModule, license: str | None) -> None:
    license = "unspecified" if license is None else license
    mod.license = license
    if license not in GPL_COMPATIBLE:
        if not kernel.test_taint("P"):
            kernel.printk(LOGLEVEL_WARNING, f"{mod.name}: module license '{license}' taints kernel.")
        add_taint_module(kernel, mod, "P", lockdep_unreliable=True)


def add_taint_module(kernel: LinkKernel, mod: LoadingModule, letter: str,
                     lockdep_unreliable: bool = False) -> None:
    """``add_taint_module``: taint the kernel and the module; each call site says, as in the
    kernel, whether lock debugging stays reliable (only P and F here make it unreliable)."""
    kernel.add_taint(letter, lockdep_unreliable)
    mod.taints.add(letter)


def module_enforce_rwx_sections(info: LoadInfo, kernel: LinkKernel, mod: LoadingModule) -> None:
    if not kernel.profile.config.get("CONFIG_STRICT_MODULE_RWX"):
        return
    for s in info.elf.sections:
        if info.sh_flags[s.index] & _SHF_WRITE_EXEC == _SHF_WRITE_EXEC:
            fail(kernel, LOGLEVEL_ERR, f"{mod.name}: section {s.name} (index {s.index}) has invalid "
                                   "WRITE|EXEC flags", errno.ENOEXEC)


def blacklisted(info: LoadInfo, kernel: LinkKernel) -> None:
    if info.name in kernel.module_blacklist:
        fail(kernel, LOGLEVEL_ERR, f"Module {info.name} is blacklisted", errno.EPERM)


def add_unformed_module(kernel: LinkKernel, mod: LoadingModule) -> None:
    old = kernel.modules.find(mod.name)
    if old is not None:
        raise KmodError(f"module {mod.name} already loaded",
                        errno.EEXIST if old.state == "LIVE" else errno.EBUSY)


def unsigned_taint(kernel: LinkKernel, mod: LoadingModule, sig_ok: bool) -> None:
    if sig_ok or kernel.profile.checks.get("signature", "none") == "none":
        return
    kernel.printk_once("unsigned", LOGLEVEL_NOTICE,
                       f"{mod.name}: module verification failed: signature and/or required key "
                       "missing - tainting kernel")
    add_taint_module(kernel, mod, "E")


def check_module_license_and_versions(kernel: LinkKernel, mod: LoadingModule,
                                      info: LoadInfo) -> None:
    prev = kernel.test_taint("P")
    if mod.name == "ndiswrapper":
        kernel.add_taint("P", True)
    if mod.name in ("driverloader", "lve"):
        add_taint_module(kernel, mod, "P", lockdep_unreliable=True)
    if not prev and kernel.test_taint("P"):
        kernel.printk(LOGLEVEL_WARNING, f"{mod.name}: module license taints kernel.")
    def count(name: str) -> int:
        idx = info.find_sec(name)
        return info.section(idx).sh_size if idx else 0

    if kernel.profile.config.get("CONFIG_MODVERSIONS") and (
            (count("__ksymtab") and not info.find_sec("__kcrctab")) or
            (count("__ksymtab_gpl") and not info.find_sec("__kcrctab_gpl"))):
        if try_to_force_load(kernel, mod, "no versions for exported symbols"):
            raise KmodError(f"{mod.name}: no versions for exported symbols", errno.ENOEXEC)
