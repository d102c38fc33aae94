"""The module subsystem: what happens once a module is formed, as 6.1 does it.

``init_module`` runs the loader (:mod:`linker.load`) and then the rest of ``load_module``:
``complete_formation`` (duplicate exports, memory protections, ftrace's NOPs), the module
arguments (``parse_args``), ``do_init_module`` (init < 0 fails the load and frees the module,
init > 0 warns); ``delete_module`` unloads (in use: EWOULDBLOCK; no exit: EBUSY unless
forced). ``proc_modules`` prints /proc/modules as 6.1's ``m_show``.
"""

import errno
import os
import stat
from dataclasses import dataclass

from linker import hostio
from linker.bits import sign_extend
from linker.errors import KmodError
from linker.load.hobby import link_hobby
from linker.loglevels import LOGLEVEL_ERR, LOGLEVEL_WARNING
from linker.load.linkkernel import Module
from linker.load.pipeline import LinkedModule, free_module_memory, link_module, register_module

from . import faults, traps
from .kapi import kernel_params
from .kapi.guestmem import nonzero_words
from .machine import PROT_EXEC, PROT_READ, PROT_WRITE, MemoryFault

O_NONBLOCK, O_TRUNC = 0o4000, 0o1000
SHT_RELA, SHT_NOBITS, SHT_REL = 4, 8, 9
NOP5 = bytes.fromhex("0f1f440000")  # x86's ideal 5-byte NOP, what ftrace writes over __fentry__ calls


@dataclass
class Result:
    """What a syscall did: ``rc`` (0 or -errno), and the signal that killed the caller, if any;
    ``not_simulated``: the call to a kernel function kmodsim cannot run that killed it
    (``("rb_insert_color", "hl_init+0x52 [hl]")``, a kapi.registry.NotSimulatedCall)."""

    rc: int
    signal: int | None = None
    message: str | None = None
    not_simulated: tuple | None = None
    init_failed: bool = False       # rc is what the module's init returned (emulator.report)
    init_returned: int | None = None    # what init returned, when it returned

    @property
    def ok(self):
        return self.rc == 0 and self.signal is None



class ModuleLoader:
    """``k.loader``: load, init, unload, module references, and what /proc/modules shows.

    The module list itself is ``k.modules`` (the linker's :class:`ModuleTable`, which the
    load steps search); this is the rest of ``kernel/module/main.c``.
    """

    def __init__(self, kernel):
        self.k = kernel
        self.last_unloaded: tuple[str, str] | None = None   # (name, flags) for print_modules

    def init_module(self, image, args="", flags=0, name=None, syscall="finit_module"):
        """The ``finit_module``/``init_module`` syscall: 0 or ``-errno`` (as ``Result``).

        ``name`` names a hobby module (that format carries no name; the file's stem is used).
        ``init_module`` copies the image from user memory first and refuses one shorter than
        an ELF header silently (copy_module_from_user), where finit_module's check prints.
        """
        image = bytes(image)
        if syscall == "init_module" and self.k.profile.kind == "linux" and \
                len(image) < (64 if self.k.profile.elf_class == 64 else 52):
            return Result(-errno.ENOEXEC)
        if self.k.profile.kind == "hobby":
            return self._init_hobby(image, name or "module")
        try:
            lm = link_module(image, self.k, flags, keep=True)
        except KmodError as exc:
            return Result(-exc.errno, message=exc.message)
        mod = register_module(self.k, lm, state="COMING", free_init=False)
        mod.refcnt, mod.args = 2, args
        for used in mod.uses:      # ref_module: each module it uses is held once
            used.refcnt += 1
        mod.init_addr, mod.exit_addr = self._descriptor_functions(lm)
        mod.init_size = lm.layout.init_size
        mod.core_size = lm.layout.core_size
        err = self._complete_formation(mod)
        if err:
            self._free_module(mod)
            return Result(err)
        err = self._parse_module_args(mod, args)
        if err:
            mod.state = "GOING"
            self._free_module(mod)
            return Result(err)
        return self._do_init_module(mod)

    finit_module = init_module

    def insmod(self, path, args=""):
        """Load a module file as ``insmod`` would: a process named insmod makes the call.
        The module keeps the file's absolute path as ``mod.file``: ``explain_fault`` shows
        source only from files beside it (or under a ``--source-dir``). A file that is not
        a regular one is OSError EISDIR or EINVAL (kernel_read_file's test), never opened
        blocking nor read without end (a FIFO, /dev/zero)."""
        fd = os.open(path, hostio.READ)
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            err = errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL
            raise OSError(err, os.strerror(err), path)
        with open(fd, "rb") as fh:
            data = fh.read()
        known = {id(m) for m in self.k.modules}
        try:
            with self.k.tasks.process("insmod"):
                return self.init_module(data, args, name=os.path.basename(path).split(".")[0])
        finally:
            for mod in self.k.modules:
                if id(mod) not in known:
                    mod.file = os.path.abspath(path)

    def _init_hobby(self, image, name):
        """Seed 004's kernel: link (sectioned), map, call ``init`` with cdecl; no states."""
        try:
            lm = link_hobby(image, self.k, name, keep=True)
        except KmodError as exc:
            return Result(-exc.errno, message=exc.message)
        mod = Module(name, state="COMING", linked=lm, init_addr=lm.init_addr or 0,
                     exit_addr=lm.exit_addr or 0, core_size=lm.layout.core_size)
        self.k.modules.add(mod)
        self.k.machine.map(lm.image.core_addr, lm.layout.core_size,
                           PROT_READ | PROT_WRITE | PROT_EXEC, f"{name} module")
        self.k.machine.write_image(lm.image.core_addr, lm.image.core)
        for sym, hit in lm.symbols.resolved.items():
            self.k.kapi.names.setdefault(hit.value, sym)
        if mod.init_addr:
            outcome = faults.run_guarded(self.k, mod, mod.init_addr, "init")
            if outcome.signal is not None:
                return Result(0, signal=outcome.signal, not_simulated=self.k.kapi.take_stop())
            # seed 004's kernel ignores what init returns; kmodsim reports it (Result, run)
            mod.state = "LIVE"
            return Result(0, init_returned=sign_extend(outcome.value, 32))
        mod.state = "LIVE"
        return Result(0)

    def _descriptor_functions(self, lm):
        """``mod->init``/``mod->exit``: read from the relocated descriptor."""
        d = self.k.profile.descriptor
        idx = lm.info.index.get("mod") or lm.info.find_sec(d.section)
        if not idx or idx not in lm.image.sections:
            return 0, 0
        base = lm.image.address_of(idx)
        word = self.k.machine.word
        raw = lm.image.read(base, d.size or 8)

        def field(name):
            f = d.fields.get(name)
            if f is None or raw is None or f.offset + word > len(raw):
                return 0
            return int.from_bytes(raw[f.offset:f.offset + word], "little")

        return field("init"), field("exit")

    def _complete_formation(self, mod):
        """Exported names must be new (verify_exported_symbols); map the module's memory."""
        for name, hit in mod.exports.items():
            if self.k.vmlinux_symbol(name) is not None:
                owner = "kernel"
            else:
                other = next((h for h in self.k.modules.exported(name) if h.owner is not mod), None)
                owner = other.owner.name if other else None
            if owner is not None:
                self.k.printk(LOGLEVEL_ERR, f"{mod.name}: exports duplicate symbol {name} (owned by {owner})")
                return -errno.ENOEXEC
        self._map_module(mod)
        return 0

    def _map_module(self, mod):
        lm, m, lay = mod.linked, self.k.machine, mod.linked.layout
        img = lm.image
        name = mod.name
        core = [(0, lay.core_text_size, PROT_READ | PROT_EXEC, "text"),
                (lay.core_text_size, lay.core_ro_size, PROT_READ, "rodata"),
                (lay.core_ro_size, lay.core_ro_after_init_size, PROT_READ | PROT_WRITE,
                 "ro_after_init"),
                (lay.core_ro_after_init_size, lay.core_size, PROT_READ | PROT_WRITE, "data")]
        for lo, hi, perms, what in core:
            if hi > lo:
                m.map(img.core_addr + lo, hi - lo, perms, f"{name} core {what}")
        zero = _zero_spans(lm)     # a big .bss stays unbacked until touched
        m.write_image(img.core_addr, img.core, zero.get("core", ()))
        if lay.init_size:
            init = [(0, lay.init_text_size, PROT_READ | PROT_EXEC, "init text"),
                    (lay.init_text_size, lay.init_ro_size, PROT_READ, "init rodata"),
                    (lay.init_ro_size, lay.init_size, PROT_READ | PROT_WRITE, "init data")]
            for lo, hi, perms, what in init:
                if hi > lo:
                    m.map(img.init_addr + lo, hi - lo, perms, f"{name} {what}")
            m.write_image(img.init_addr, img.init, zero.get("init", ()))
        self._ftrace_nop(mod)
        faults.apply_returns(self.k, mod)     # module_finalize: return thunks patched out
        traps.hook_cr3_writes(self.k, mod)    # Unicorn ignores CR3: a load of it resets
        for rname, res in lm.symbols.resolved.items():
            if res.how == "vmlinux":
                self.k.kapi.names.setdefault(res.value, rname)

    def _ftrace_nop(self, mod):
        """ftrace_module_init: every ``call __fentry__`` listed in __mcount_loc becomes a NOP."""
        lm, m = mod.linked, self.k.machine
        idx = lm.info.find_sec("__mcount_loc")
        if not idx or idx not in lm.image.sections:
            return
        size = lm.layout.placements[idx].size
        for _, site in nonzero_words(m, lm.image.address_of(idx), size, 8, signed=False):
            try:
                if m.read(site, 1) == b"\xe8":
                    m.write(site, NOP5)
            except MemoryFault:
                continue

    def _parse_module_args(self, mod, args):
        return module_parse_args(self.k, mod, args)

    def _do_init_module(self, mod):
        ret = 0
        if mod.init_addr:
            outcome = faults.run_guarded(self.k, mod, mod.init_addr, "init")
            if outcome.signal is not None:
                return Result(0, signal=outcome.signal, not_simulated=self.k.kapi.take_stop())
            ret = sign_extend(outcome.value, 32)
            traps.check_initcall_irqs(self.k, mod)     # do_one_initcall's irqs_disabled()
        if ret < 0:
            mod.state = "GOING"
            mod.refcnt -= 1
            self._free_module(mod)
            return Result(ret, init_failed=True)
        if ret > 0:
            self.k.printk(LOGLEVEL_WARNING,
                        f"do_init_module: '{mod.name}'->init suspiciously returned {ret}, it should "
                        f"follow 0/-E convention\ndo_init_module: loading module anyway...")
            faults.dump_stack(self.k)
        mod.state = "LIVE"
        mod.refcnt -= 1
        self._free_init(mod)
        return Result(0)

    def _free_init(self, mod):
        lay, img = mod.linked.layout, mod.linked.image
        if lay.core_ro_after_init_size > lay.core_ro_size:
            self.k.machine.protect(img.core_addr + lay.core_ro_size,
                                 lay.core_ro_after_init_size - lay.core_ro_size, PROT_READ)
        if lay.init_size and img.init_addr is not None:
            self.k.machine.unmap(img.init_addr, lay.init_size)
            self.k.module_area.free(img.init_addr)
            img.init_addr = None   # given back: free_module_memory must not free it again
        mod.init_size = 0

    def _free_module(self, mod):
        module_free_params(self.k, mod)
        traps.unhook_cr3_writes(self.k, mod)
        lm, m = mod.linked, self.k.machine
        lay, img = lm.layout, lm.image
        for used in list(mod.uses):
            if mod in used.holders:
                used.holders.remove(mod)
            used.refcnt -= 1
        if mod in self.k.modules:
            self.k.modules.remove(mod)
        if m.region_of(img.core_addr):
            m.unmap(img.core_addr, lay.core_size)
        if mod.init_size and img.init_addr is not None and m.region_of(img.init_addr):
            m.unmap(img.init_addr, lay.init_size)
        free_module_memory(self.k, lm)

    def delete_module(self, name, flags=O_NONBLOCK):
        """The ``delete_module`` syscall."""
        if not name or len(name) >= 56:
            return Result(-errno.ENOENT)
        mod = self.k.modules.find(name)
        if mod is None:
            return Result(-errno.ENOENT)
        if mod.holders:
            return Result(-errno.EWOULDBLOCK)
        if mod.state != "LIVE":
            return Result(-errno.EBUSY)
        forced = False
        if mod.init_addr and not mod.exit_addr:
            forced = self._try_force_unload(flags)
            if not forced:
                return Result(-errno.EBUSY)
        if mod.refcnt - 1 != 0:
            forced = self._try_force_unload(flags)
            if not forced:
                return Result(-errno.EWOULDBLOCK)
        mod.state = "GOING"
        if mod.exit_addr:
            outcome = faults.run_guarded(self.k, mod, mod.exit_addr, "exit")
            if outcome.signal is not None:
                return Result(0, signal=outcome.signal, not_simulated=self.k.kapi.take_stop())
        if self.k.profile.kind == "hobby":
            self.k.modules.remove(mod)
            self.k.machine.unmap(mod.linked.image.core_addr, mod.core_size)
            self.k.module_area.free(mod.linked.image.core_addr)
            return Result(0)
        self.last_unloaded = (mod.name, mod.flags(show_state=False))
        self._free_module(mod)
        return Result(0)

    def rmmod(self, name, flags=O_NONBLOCK):
        """Unload as ``rmmod`` would: a process named rmmod makes the call."""
        with self.k.tasks.process("rmmod"):
            return self.delete_module(name, flags)

    def _try_force_unload(self, flags):
        if flags & O_TRUNC and self.k.profile.config.get("CONFIG_MODULE_FORCE_UNLOAD"):
            self.k.add_taint("R", True)
            return True
        return False

    # ------------------------------------------------------------------------ references

    def module_at(self, descriptor_addr):
        """The module whose ``struct module`` (THIS_MODULE) is at ``descriptor_addr``."""
        d = self.k.profile.descriptor
        for mod in self.k.modules:
            info, image = linux_parts(mod)
            if info is None:
                continue
            idx = info.index.get("mod") or info.find_sec(d.section)
            if idx and idx in image.sections and image.address_of(idx) == descriptor_addr:
                return mod
        return None

    def module_get(self, descriptor_addr, try_=True):
        """``try_module_get``/``__module_get``: one more reference; a module going away
        refuses (``module_is_live``); NULL (built-in code) always succeeds."""
        mod = self.module_at(descriptor_addr) if descriptor_addr else None
        if mod is None:
            return True
        if try_ and mod.state == "GOING":
            return False
        mod.refcnt += 1
        return True

    def module_put(self, descriptor_addr):
        mod = self.module_at(descriptor_addr) if descriptor_addr else None
        if mod is not None:
            mod.refcnt -= 1

    # ------------------------------------------------------------------------ /proc, /sys

    def proc_modules(self):
        lines = []
        for mod in self.k.modules:
            if mod.state == "UNFORMED":
                continue
            size = mod.core_size + mod.init_size
            users = "".join(f"{h.name}," for h in mod.holders)
            if mod.init_addr and not mod.exit_addr:
                users += "[permanent],"
            state = {"GOING": "Unloading", "COMING": "Loading"}.get(mod.state, "Live")
            flags = mod.flags()
            line = (f"{mod.name} {size} {mod.refcnt - 1} {users or '-'} {state} "
                    f"0x{mod.linked.image.core_addr:016x}")
            lines.append(line + (f" {flags}" if flags else ""))
        return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------------------- parameters
# load_module's parse_args step: the module's relocated __param handed to kernel/params.c's
# rules (emulator.kapi.kernel_params) with the emulated memory, the kernel's one parameter
# heap and the log

def _zero_spans(lm):
    """``{alloc: [(offset, size)]}``: the NOBITS sections of a module's image, which hold
    zeros (move_module zeroes the memory and copies nothing in; unless a relocation section
    patches one)."""
    sections = lm.info.elf.sections
    patched = {s.sh_info for s in sections[1:] if s.sh_type in (SHT_REL, SHT_RELA)}
    spans = {}
    for idx, p in lm.layout.placements.items():
        if sections[idx].sh_type == SHT_NOBITS and idx not in patched:
            spans.setdefault(p.alloc, []).append((p.offset, p.size))
    return spans


def module_params(k, mod):
    idx = mod.linked.info.find_sec("__param")
    if not idx:
        return []
    addr = mod.linked.image.address_of(idx)
    size = mod.linked.layout.placements[idx].size
    return kernel_params.read_params(k.machine, addr, size, ops_name=k.kapi.names.get,
                                     bits=k.machine.bits)


def module_parse_args(k, mod, args):
    """``parse_args`` over the module's arguments; 0 or -errno."""
    mod.params = module_params(k, mod)
    result = kernel_params.parse_module_args(mod.name, args, mod.params, k.machine, k.params,
                                      k.printk, custom=EmulatedOps(k),
                                      add_taint=lambda flag: k.add_taint(flag, False))
    return result.rc


class EmulatedOps:
    """A module's own ``struct kernel_param_ops`` (module_param_cb), run in the CPU:
    ``set(const char *val, const struct kernel_param *kp)`` and ``get(char *buffer, kp)``."""

    def __init__(self, k):
        self.k = k

    def flags(self, param):
        return self.k.machine.read_int(param.ops_addr, 4)

    def _fn(self, param, slot):
        return self.k.machine.read_ptr(param.ops_addr + 8 * slot)

    def set(self, param, val):
        k, fn = self.k, self._fn(param, 1)
        if not fn:
            return -errno.EINVAL
        buf = 0
        if val is not None:
            buf = k.slab.kmalloc(len(val) + 1)
            k.machine.write(buf, bytes(val) + b"\0")
        try:
            return sign_extend(k.call(fn, (buf, param.kp_addr)), 32)
        finally:
            if buf:
                k.slab.kfree(buf)

    def get(self, param):
        k, fn = self.k, self._fn(param, 2)
        if not fn:
            return -errno.EINVAL
        buf = k.slab.kmalloc(4096, 0x100)
        try:
            n = sign_extend(k.call(fn, (buf, param.kp_addr)), 32)
            return n if n < 0 else k.machine.read(buf, min(n, 4096))
        finally:
            k.slab.kfree(buf)


def module_free_params(k, mod):
    """``destroy_params`` at unload or after a failed load: free kmalloc'ed strings. A
    parameter whose variable a corrupt relocation pointed at no memory is skipped (the
    real kernel would oops in param_array_free; kmodsim does not reproduce that)."""
    for p in mod.params:
        try:
            kernel_params.param_free(p, k.machine, k.params)
        except MemoryFault:
            continue


def linux_parts(mod):
    """(LoadInfo, Image) of a module the Linux loader linked; (None, None) for a hobby one."""
    lm = mod.linked
    if isinstance(lm, LinkedModule):
        return lm.info, lm.image
    return None, None

