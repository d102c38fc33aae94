"""The reference kernel's own machine code for its pure library functions.

``sort``, ``rb_insert_color``, ``sscanf``, ``crc32_le``, ``bitmap_weight``... only compute.
Instead of a Python handler each, kmodsim runs the Debian kernel's own code for them, in the
emulated CPU, at their real addresses: a module's ``call sort`` lands on ``sort``'s real
bytes and runs unhooked; when that code calls a function kmodsim implements in Python
(``kmalloc``, ``_printk``, ``memcpy``...), the call lands on that function's address, which
is hooked, and the Python handler runs as for a module's call.

The code and the ``.rodata`` it reads come from the profile's side file
``NAME.kernelcode.xz``, written by ``linker/profiles/kernelcode.py`` from the Debian package
(which functions qualify and why is documented there; the file records the SHA256 of the
vmlinux it came from), and their ORC rows, so an oops's call trace unwinds through them
(``faults``' ``find_orc`` asks :meth:`Installed.orc`). No file, no kernel code: every kernel
address stays a Python entry.

Which of the shipped functions run (:meth:`KernelCode.runnable`):

* a function kmodsim implements in Python keeps its Python handler (a profile binding, the
  registry's handler of that name, or a ``builtin:noop``): the Python is what the tests
  pin down, and its address stays hooked, also for kernel code that calls it;
* a function runs as kernel code when every function it calls runs as kernel code or has a
  Python handler.

The kernel-text code hook (``Kernel._map_kernel``) then covers the kernel text *minus* the
functions that run as kernel code (:func:`hooked_ranges`), taken out of it on first use
(:class:`Installed`).
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field
from pathlib import Path

from unicorn import UC_HOOK_CODE

from linker.profiles import kernelcode as generator

from .kapi import registry
from .unwind import OrcEntry, OrcTable

ORC_ROW = 8 + 6      # a shipped ORC row: u64 ip, then the 6-byte struct orc_entry

_CACHE: dict[Path, KernelCode | None] = {}


@dataclass(frozen=True)
class KFunction:
    names: tuple[str, ...]
    addr: int
    size: int
    calls: tuple[str, ...]        # other shipped functions it calls (or names as pointers)
    boundary: tuple[str, ...]     # functions it calls that kmodsim implements in Python
    features: tuple[int, ...]     # .altinstructions cpuid bits (unpatched form shipped)
    data: tuple[tuple[int, int], ...]   # the .rodata it reads: (addr, size)

    @property
    def name(self):
        return self.names[0]


@dataclass
class KernelCode:
    """One profile's shipped kernel code: its functions and the spans of bytes."""
    path: Path
    source: dict
    functions: dict[str, KFunction]                  # every name (aliases too) -> function
    spans: list[tuple[str, int, bytes]]              # (kind, addr, bytes) by address
    orc_raw: bytes = b""                             # (u64 ip, 6-byte ORC entry) rows
    # per profile path, for install(): runnable() and the (address, name) of each Python
    # function that code calls; a test that changes which functions have Python handlers
    # clears it
    runnable_cache: dict[Path, tuple] = field(default_factory=dict, repr=False)
    _unique: dict[int, KFunction] | None = field(default=None, repr=False)
    _span_starts: list[int] | None = field(default=None, repr=False)
    _orc: OrcTable | None = field(default=None, repr=False)

    @property
    def unique(self) -> dict[int, KFunction]:
        """address -> function, each once."""
        if self._unique is None:
            self._unique = {f.addr: f for f in self.functions.values()}
        return self._unique

    @classmethod
    def parse(cls, path, data):
        manifest, payload = generator.deserialize(data)
        functions = {}
        for rec in manifest["functions"]:
            f = KFunction(tuple(rec["names"]), int(rec["addr"], 16), rec["size"],
                          tuple(rec["calls"]), tuple(rec["boundary"]), tuple(rec["features"]),
                          tuple((int(a, 16), n) for a, n in rec["data"]))
            for name in f.names:
                functions[name] = f
        spans, at = [], 0
        for span in manifest["spans"]:
            spans.append((span["kind"], int(span["addr"], 16), payload[at:at + span["size"]]))
            at += span["size"]
        spans.sort(key=lambda span: span[1])
        orc_raw = payload[at:at + ORC_ROW * manifest.get("orc_entries", 0)]
        return cls(Path(path), manifest["source"], functions, spans, orc_raw)

    @property
    def orc(self) -> OrcTable:
        """The shipped code's ORC table (built on first use: an oops's call trace)."""
        if self._orc is None:
            rows = []
            for at in range(0, len(self.orc_raw), ORC_ROW):
                ip, = struct.unpack_from("<Q", self.orc_raw, at)
                entry = OrcEntry.unpack(self.orc_raw[at + 8:at + ORC_ROW])
                rows.append((ip, 0 if entry.is_terminator else 1, entry))
            rows.sort(key=lambda r: (r[0], r[1]))     # as unwind_init sorts them
            self._orc = OrcTable([r[0] for r in rows], [r[2] for r in rows])
        return self._orc

    @property
    def span_starts(self) -> list[int]:
        if self._span_starts is None:
            self._span_starts = [addr for _kind, addr, _data in self.spans]
        return self._span_starts

    def runnable(self, has_python) -> frozenset[int]:
        """Addresses of the functions that run as kernel code, given ``has_python(name)``:
        whether kmodsim implements that function in Python (see the module docstring)."""
        unique = {f.addr: f for f in self.functions.values()}
        python = {a for a, f in unique.items() if any(has_python(n) for n in f.names)}
        boundary_ok = {}
        run = set(unique) - python
        changed = True
        while changed:
            changed = False
            for a in list(run):
                f = unique[a]
                for b in f.boundary:
                    if b not in boundary_ok:
                        boundary_ok[b] = has_python(b)
                ok = all(boundary_ok[b] for b in f.boundary) and all(
                    self.functions[c].addr in run or self.functions[c].addr in python
                    for c in f.calls)
                if not ok:
                    run.discard(a)
                    changed = True
        return frozenset(run)

    def bytes_at(self, addr: int, size: int) -> bytes:
        """Shipped bytes: a function's code (patched), or .rodata it reads."""
        i = bisect.bisect_right(self.span_starts, addr) - 1
        _kind, base, data = self.spans[i]
        if not (base <= addr and addr + size <= base + len(data)):
            raise ValueError(f"{addr:#x}+{size:#x} is not in the shipped spans")
        return data[addr - base:addr - base + size]

    def islands(self, runnable) -> list[tuple[int, int]]:
        """The runnable functions as merged ``[start, end)`` ranges (a function's size runs
        to the next symbol, so neighbours merge)."""
        unique = {f.addr: f for f in self.functions.values()}
        spans = sorted((a, a + unique[a].size) for a in runnable)
        out: list[list[int]] = []
        for lo, hi in spans:
            if out and lo <= out[-1][1]:
                out[-1][1] = max(out[-1][1], hi)
            else:
                out.append([lo, hi])
        return [(lo, hi) for lo, hi in out]


def side_file(profile) -> Path | None:
    """Where a profile's kernel code would be: ``NAME.kernelcode.xz`` beside its JSON."""
    if profile.kind != "linux":
        return None
    return Path(profile.path).with_name(f"{profile.name}.kernelcode.xz")


def load(profile) -> KernelCode | None:
    """The profile's kernel code, read once per process; None when it ships none."""
    path = side_file(profile)
    if path is None:
        return None
    if path not in _CACHE:
        try:
            data = path.read_bytes()
        except OSError:
            _CACHE[path] = None
        else:
            _CACHE[path] = KernelCode.parse(path, data)
    return _CACHE[path]


def has_python(profile):
    """``has_python(name)``: does kmodsim implement export ``name`` in Python (a binding,
    the registry's handler of that name, or a profile no-op)? The lookup
    ``KapiTable.handler_at`` makes, without creating anything."""
    def check(name):
        binding = profile.binding(name)
        if binding is None:
            binding = registry.LINUX_DEFAULT_BINDINGS.get(name)
        if binding is not None:
            return registry.resolve(binding) is not None
        return registry.by_export(name) is not None
    return check


class Installed:
    """The kernel code of one kernel: written into its image, and the kernel-text hook kept
    off the functions that run as kernel code.

    Every hooked range costs each Python kernel call a little (Unicorn walks its code hooks
    on every hooked instruction; ``bench/kernelcode.py``: ~12 ns a hook, so splitting the
    text around all ~1,200 islands at boot made a ``ktime_get`` call 2.5x slower). So the
    text starts as one hooked range, as without kernel code, and a function becomes kernel
    code on its first call: its address's handler (pre-set in ``KapiTable.handlers``) is
    :meth:`activate`, which takes the function and every shipped function it can reach out
    of the hook, flushes the translated kernel text, and sends the CPU back to the same
    address, where the kernel's code now runs. A kernel that never calls library code keeps
    its single hook.
    """

    def __init__(self, code, runnable, machine, callback, start, end):
        self.code = code
        self.runnable = runnable
        self.machine = machine
        self.callback = callback
        self.start, self.end = start, end
        # each function's code and .rodata are written when it first runs: a kernel that
        # never calls library code backs no memory for it
        self.written: set[tuple[int, int]] = set()
        self.bytes_written = 0
        self.active: set[int] = set()
        self.islands: list[tuple[int, int]] = []
        self.hooks: list = []
        self._unique = code.unique
        self._rehook()

    def runs(self, addr):
        """Is ``addr`` inside kernel code that runs unhooked now?"""
        i = bisect.bisect_right(self.islands, (addr, float("inf"))) - 1
        return i >= 0 and self.islands[i][0] <= addr < self.islands[i][1]

    def orc(self, ip):
        """The ORC entry for ``ip`` in running kernel code (for the unwinder), or None."""
        return self.code.orc.find(ip) if self.runs(ip) else None

    def closure(self, addr):
        """``addr``'s function and every runnable shipped function it reaches."""
        out, todo = set(), [addr]
        while todo:
            a = todo.pop()
            if a in out or a not in self.runnable:
                continue
            out.add(a)
            todo.extend(self.code.functions[c].addr for c in self._unique[a].calls)
        return out

    def activate(self, k, m):
        """The handler of a shipped function not yet taken out of the hook (see above)."""
        addr = m.pc
        new = self.closure(addr) - self.active
        if not new:                     # cannot happen: an active function is not hooked
            raise RuntimeError(f"kernel code at {addr:#x} reached the hook")
        for a in sorted(new):
            f = self._unique[a]
            for at, size in ((a, f.size),) + f.data:      # its code, then its .rodata
                if (at, size) not in self.written:
                    self.machine.write(at, self.code.bytes_at(at, size))
                    self.written.add((at, size))
                    self.bytes_written += size
            k.kapi.handlers.pop(a, None)
        self.active |= new
        self._rehook()
        self.machine.uc.reg_write(self.machine.IP, addr)   # fetch it again, unhooked
        return registry.HANDLED

    def _rehook(self):
        uc = self.machine.uc
        for h in self.hooks:
            uc.hook_del(h)
        self.islands = self.code.islands(self.active)
        self.hooks = [uc.hook_add(UC_HOOK_CODE, self.callback, begin=lo, end=hi - 1)
                      for lo, hi in hooked_ranges(self, self.start, self.end)]
        if self.active:
            uc.ctl_remove_cache(self.start, self.end)


def install(machine, profile, kapi, callback, start, end) -> Installed | None:
    """Make the shipped kernel code ready to run in the kernel image (mapped by
    ``Kernel._map_kernel``; its bytes are written on first use), hook ``[start, end)`` to
    ``callback`` (``on_kernel_code``) and pre-set the handler of each runnable function to
    :meth:`Installed.activate`; name in
    ``kapi.names`` every Python-run function that code calls, so its call finds the handler
    although no module linked against it. None when the profile ships none (then the
    caller hooks the text itself)."""
    code = load(profile)
    if code is None:
        return None
    runnable, callees = _prepared(code, profile)
    for addr, name in callees:
        kapi.names.setdefault(addr, name)
    installed = Installed(code, runnable, machine, callback, start, end)
    activate = installed.activate       # one bound method for all (not one object each)
    kapi.handlers.update(dict.fromkeys(runnable, activate))
    return installed


def _prepared(code, profile):
    """``(runnable, [(addr, name) of each Python function that code calls])``, once per
    profile."""
    prepared = code.runnable_cache.get(profile.path)
    if prepared is None:
        runnable = code.runnable(has_python(profile))
        callees = [(addr, name) for name in _python_callees(code, runnable)
                   if (addr := _address(profile, name)) is not None]
        prepared = code.runnable_cache[profile.path] = (runnable, callees)
    return prepared


def _python_callees(code, runnable):
    """The names of the functions that runnable kernel code calls which run in Python."""
    out = {generator.RETURN_THUNK}
    out |= {generator.THUNK_PREFIX + r for r in generator.RET_THUNK_REGS}
    for f in {f.addr: f for f in code.functions.values()}.values():
        if f.addr in runnable:
            out.update(f.boundary)
            out.update(c for c in f.calls if code.functions[c].addr not in runnable)
    return sorted(out)


def _address(profile, name):
    exp = profile.exports.get(name)
    if exp is not None and exp.addr:
        return exp.addr
    return profile.kallsyms().address(name)


def hooked_ranges(installed, start, end):
    """``[start, end)`` minus the islands of active kernel code: where the kernel-text code
    hook must still hand each instruction to ``Kernel.on_kernel_code``."""
    if installed is None:
        return [(start, end)]
    out, at = [], start
    for lo, hi in installed.islands:
        if lo > at:
            out.append((at, min(lo, end)))
        at = max(at, hi)
    if at < end:
        out.append((at, end))
    return out


def runs(profile, name):
    """Would a module's call to export ``name`` run the kernel's own code (for
    ``kmodsim check``)?"""
    code = load(profile)
    f = code.functions.get(name) if code is not None else None
    return f is not None and f.addr in _prepared(code, profile)[0]


def describe(installed) -> str:
    src = installed.code.source
    return (f"kernel code: {len(installed.runnable)} functions can run as the kernel's own "
            f"code, {len(installed.active)} do now in {len(installed.islands)} islands "
            f"({installed.bytes_written} bytes from {src.get('package')}, vmlinux sha256 "
            f"{src.get('vmlinux_sha256', '?')[:16]}...)")


__all__ = ["KernelCode", "KFunction", "Installed", "load", "install", "hooked_ranges", "runs",
           "has_python", "side_file", "describe"]
