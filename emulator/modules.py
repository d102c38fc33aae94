"""The module subsystem: what happens once a module is formed, as 6.1 does it.

``init_module`` runs the loader (:mod:`linker.load`) and then the rest of ``load_module``:
``complete_formation`` (duplicate exports, memory protections, ftrace's NOPs), the module
arguments (``parse_args``), ``do_init_module`` (init < 0 fails the load and frees the module,
init > 0 warns); ``delete_module`` unloads (in use: EWOULDBLOCK; no exit: EBUSY unless
forced). ``proc_modules`` prints /proc/modules as 6.1's ``m_show``.
"""

import errno
from dataclasses import dataclass

from linker.errors import KmodError
from linker.load.kernel import KERN_ERR, KERN_WARNING, TAINT_FLAGS
from linker.load.pipeline import free_module_memory, link_module, register_module

from .machine import E, MemoryFault, R, W

O_NONBLOCK, O_TRUNC = 0o4000, 0o1000
NOP5 = bytes.fromhex("0f1f440000")  # x86's ideal 5-byte NOP, what ftrace writes over __fentry__ calls


@dataclass
class Result:
    """What a syscall did: ``rc`` (0 or -errno), and the signal that killed the caller, if any."""

    rc: int
    signal: int | None = None
    message: str | None = None

    @property
    def ok(self):
        return self.rc == 0 and self.signal is None



MODULE_FLAG_LETTERS = ("P", "F", "O", "E", "C", "K", "X", "T", "N")  # taint_flags[].module


def module_flags(mod, show_state=True):
    """``module_flags``: ``(OE)``, ``(OE+)`` while loading, ``(OE-)`` while unloading."""
    letters = "".join(letter for _, letter, _ in TAINT_FLAGS
                      if letter in mod.taints and letter in MODULE_FLAG_LETTERS)
    if not letters and not (show_state and mod.state in ("GOING", "COMING")):
        return ""
    state = {"GOING": "-", "COMING": "+"}.get(mod.state, "") if show_state else ""
    return f"({letters}{state})"


class ModuleOps:
    """The module subsystem of :class:`Kernel`: load, init, unload, and what /proc shows."""

    def init_module(self, image, args="", flags=0, name=None, syscall="finit_module"):
        """The ``finit_module``/``init_module`` syscall: 0 or ``-errno`` (as ``Result``).

        ``name`` names a hobby module (that format carries no name; the file's stem is used).
        ``init_module`` copies the image from user memory first and refuses one shorter than
        an ELF header silently (copy_module_from_user), where finit_module's check prints.
        """
        image = bytes(image)
        if syscall == "init_module" and self.profile.kind == "linux" and \
                len(image) < (64 if self.profile.elf_class == 64 else 52):
            return Result(-errno.ENOEXEC)
        if self.profile.kind == "hobby":
            return self._init_hobby(image, name or "module")
        try:
            lm = link_module(image, self, flags, keep=True)
        except KmodError as exc:
            return Result(-exc.errno, message=exc.message)
        mod = register_module(self, lm, state="COMING", free_init=False)
        mod.lm, mod.refcnt, mod.args = lm, 2, args
        for used in mod.uses:      # ref_module: each module it uses is held once
            used.refcnt = getattr(used, "refcnt", 1) + 1
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
        """Load a module file as ``insmod`` would: a process named insmod makes the call."""
        import os
        with open(path, "rb") as fh:
            data = fh.read()
        with self.process("insmod"):
            return self.init_module(data, args, name=os.path.basename(path).split(".")[0])

    def _init_hobby(self, image, name):
        """Seed 004's kernel: link (sectioned), map, call ``init`` with cdecl; no states."""
        from linker.load.hobby import link_hobby
        from linker.load.kernel import LoadedModule
        try:
            lm = link_hobby(image, self, name, keep=True)
        except KmodError as exc:
            return Result(-exc.errno, message=exc.message)
        mod = LoadedModule(name, {}, set(), state="COMING", image=lm.image)
        mod.lm, mod.refcnt, mod.args = lm, 1, ""
        mod.init_addr, mod.exit_addr = lm.init_addr or 0, lm.exit_addr or 0
        mod.core_size, mod.init_size = lm.layout.core_size, 0
        self.add_module(mod)
        self.machine.map(lm.image.core_addr, lm.layout.core_size, R | W | E, f"{name} module")
        self.machine.write(lm.image.core_addr, bytes(lm.image.core))
        for sym, res in lm.symbols.resolved.items():
            value = res if isinstance(res, int) else getattr(res, "value", None)
            if value is not None:
                self.names.setdefault(value, sym)
        if mod.init_addr:
            outcome = self.run_module_code(mod, mod.init_addr, "init")
            if outcome.signal is not None:
                return Result(0, signal=outcome.signal)
        mod.state = "LIVE"
        return Result(0)

    def _descriptor_functions(self, lm):
        """``mod->init``/``mod->exit``: read from the relocated descriptor."""
        d = self.profile.descriptor
        idx = lm.info.index.get("mod") or lm.info.find_sec(d.section)
        if not idx or idx not in lm.image.sections:
            return 0, 0
        base = lm.image.address_of(idx)
        word = self.machine.word
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
            if self.vmlinux_symbol(name) is not None:
                owner = "kernel"
            else:
                other = next((h for h in self._module_exports.get(name, ()) if h.owner is not mod), None)
                owner = other.owner.name if other else None
            if owner is not None:
                self.printk(KERN_ERR, f"{mod.name}: exports duplicate symbol {name} (owned by {owner})")
                return -errno.ENOEXEC
        self._map_module(mod)
        return 0

    def _map_module(self, mod):
        lm, m, lay = mod.lm, self.machine, mod.lm.layout
        img = lm.image
        name = mod.name
        core = [(0, lay.core_text_size, R | E, "text"),
                (lay.core_text_size, lay.core_ro_size, R, "rodata"),
                (lay.core_ro_size, lay.core_ro_after_init_size, R | W, "ro_after_init"),
                (lay.core_ro_after_init_size, lay.core_size, R | W, "data")]
        for lo, hi, perms, what in core:
            if hi > lo:
                m.map(img.core_addr + lo, hi - lo, perms, f"{name} core {what}")
        m.write(img.core_addr, bytes(img.core))
        if lay.init_size:
            init = [(0, lay.init_text_size, R | E, "init text"),
                    (lay.init_text_size, lay.init_ro_size, R, "init rodata"),
                    (lay.init_ro_size, lay.init_size, R | W, "init data")]
            for lo, hi, perms, what in init:
                if hi > lo:
                    m.map(img.init_addr + lo, hi - lo, perms, f"{name} {what}")
            m.write(img.init_addr, bytes(img.init))
        self._ftrace_nop(mod)
        from .faults import apply_returns
        apply_returns(self, mod)     # module_finalize: return thunks patched out
        for rname, res in lm.symbols.resolved.items():
            if res.how == "vmlinux":
                self.names.setdefault(res.value, rname)

    def _ftrace_nop(self, mod):
        """ftrace_module_init: every ``call __fentry__`` listed in __mcount_loc becomes a NOP."""
        lm, m = mod.lm, self.machine
        idx = lm.info.find_sec("__mcount_loc")
        if not idx:
            return
        raw = lm.image.section_bytes(idx)
        for off in range(0, len(raw) - 7, 8):
            site = int.from_bytes(raw[off:off + 8], "little")
            try:
                if m.read(site, 1) == b"\xe8":
                    m.write(site, NOP5)
            except MemoryFault:
                continue

    def _parse_module_args(self, mod, args):
        from .kapi.paramops import module_parse_args
        return module_parse_args(self, mod, args)

    def _do_init_module(self, mod):
        ret = 0
        if mod.init_addr:
            outcome = self.run_module_code(mod, mod.init_addr, "init")
            if outcome.signal is not None:
                return Result(0, signal=outcome.signal)
            ret = _signed(outcome.value, 32)
        if ret < 0:
            mod.state = "GOING"
            mod.refcnt -= 1
            self._free_module(mod)
            return Result(ret)
        if ret > 0:
            self.printk(KERN_WARNING,
                        f"do_init_module: '{mod.name}'->init suspiciously returned {ret}, it should "
                        f"follow 0/-E convention\ndo_init_module: loading module anyway...")
            self.dump_stack()
        mod.state = "LIVE"
        mod.refcnt -= 1
        self._free_init(mod)
        return Result(0)

    def _free_init(self, mod):
        lay, img = mod.lm.layout, mod.lm.image
        if lay.core_ro_after_init_size > lay.core_ro_size:
            self.machine.protect(img.core_addr + lay.core_ro_size,
                                 lay.core_ro_after_init_size - lay.core_ro_size, R)
        if lay.init_size and img.init_addr is not None:
            self.machine.unmap(img.init_addr, lay.init_size)
            self.module_area.free(img.init_addr)
            img.init_addr = None   # given back: free_module_memory must not free it again
        mod.init_size = 0

    def _free_module(self, mod):
        from .kapi.paramops import module_free_params
        module_free_params(self, mod)
        lm, m = mod.lm, self.machine
        lay, img = lm.layout, lm.image
        for used in list(mod.uses):
            if mod in used.holders:
                used.holders.remove(mod)
            used.refcnt = getattr(used, "refcnt", 1) - 1
        if mod in self.modules:
            self.remove_module(mod)
        if m.region_of(img.core_addr):
            m.unmap(img.core_addr, lay.core_size)
        if mod.init_size and img.init_addr is not None and m.region_of(img.init_addr):
            m.unmap(img.init_addr, lay.init_size)
        free_module_memory(self, lm)

    def delete_module(self, name, flags=O_NONBLOCK):
        """The ``delete_module`` syscall."""
        if not name or len(name) >= 56:
            return Result(-errno.ENOENT)
        mod = self.find_module(name)
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
            outcome = self.run_module_code(mod, mod.exit_addr, "exit")
            if outcome.signal is not None:
                return Result(0, signal=outcome.signal)
        if self.profile.kind == "hobby":
            self.remove_module(mod)
            self.machine.unmap(mod.lm.image.core_addr, mod.core_size)
            self.module_area.free(mod.lm.image.core_addr)
            return Result(0)
        self.last_unloaded = (mod.name, module_flags(mod, show_state=False))
        self._free_module(mod)
        return Result(0)

    def rmmod(self, name, flags=O_NONBLOCK):
        """Unload as ``rmmod`` would: a process named rmmod makes the call."""
        with self.process("rmmod"):
            return self.delete_module(name, flags)

    def process(self, comm):
        """A short-lived task that is ``current`` while the block runs (as the shell forks)."""
        import contextlib

        @contextlib.contextmanager
        def scope():
            if self.profile.kind != "linux":
                yield None
                return
            parent = self.current
            task = self.spawn(comm)
            try:
                yield task
            finally:
                self.reap(task)
                self._set_current(parent)

        return scope()

    def _try_force_unload(self, flags):
        if flags & O_TRUNC and self.profile.config.get("CONFIG_MODULE_FORCE_UNLOAD"):
            self.add_taint("R", True)
            return True
        return False

    # ------------------------------------------------------------------------ running code

    def run_module_code(self, mod, func, what):
        """Call a module's init or exit; faults become oops reports (emulator.faults)."""
        from .faults import run_guarded
        return run_guarded(self, mod, func, what)

    def dump_stack(self):
        from .faults import dump_stack
        dump_stack(self)

    # ------------------------------------------------------------------------ /proc, /sys

    def proc_modules(self):
        lines = []
        for mod in self.modules:
            if mod.state == "UNFORMED":
                continue
            size = mod.core_size + mod.init_size
            users = "".join(f"{h.name}," for h in mod.holders)
            if mod.init_addr and not mod.exit_addr:
                users += "[permanent],"
            state = {"GOING": "Unloading", "COMING": "Loading"}.get(mod.state, "Live")
            flags = module_flags(mod)
            line = (f"{mod.name} {size} {mod.refcnt - 1} {users or '-'} {state} "
                    f"0x{mod.lm.image.core_addr:016x}")
            lines.append(line + (f" {flags}" if flags else ""))
        return "".join(line + "\n" for line in lines)

    def tainted(self):
        bits = 0
        for i, (_, letter, _) in enumerate(TAINT_FLAGS):
            if letter in self.taints:
                bits |= 1 << i
        return bits


def _signed(value, bits):
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value

