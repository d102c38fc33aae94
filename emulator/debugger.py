"""The execution stepper: breakpoints, single steps and views of a module's code as it runs.

A :class:`Debugger` attaches to a :class:`~emulator.kernel.Kernel` (``kernel.debugger``);
from then on ``Kernel.call`` hands every run of module code (init, exit, a parameter's
callback) to :meth:`Debugger.run_call`, which runs it the way a debugger would: until a
breakpoint, one instruction, over a call, to the end of the function. A notebook drives it
from the outside while the load goes on in a worker thread that parks at each stop::

    dbg = Debugger(k)
    dbg.break_at("hello_debug_init")
    dbg.start_insmod("samples/linux/hello_debug/hello_debug.ko")   # stops at the breakpoint
    dbg.step(); dbg.step_over(); dbg.registers(); dbg.backtrace()
    dbg.cont()                                                     # init finishes: Finished

Kernel functions are Python (``Kernel.on_kernel_code``): a step onto a ``call _printk`` runs
the whole of ``_printk`` and stops at the instruction after the call, as one step. A fault
stops the debugger first (reason ``fault``), then goes on to the oops as without it.

The fast path stays fast: with no breakpoints, trace or coverage, ``run_call`` is one
``Machine.run``; breakpoints are one code hook per address (a kernel function's breakpoint
wraps its Python implementation instead: the kernel-text hook runs before any other hook),
trace and coverage one hook bounded to the module area. The GDB stub
(:mod:`emulator.gdbstub`) is this same debugger with a controller that speaks gdb's protocol.
"""

import queue
import re
import threading
from bisect import bisect_right
from dataclasses import dataclass, field

from unicorn import UC_HOOK_CODE, UcError
from unicorn import x86_const as X

from linker.load.stepper import Instruction

from .kapi.registry import HANDLED
from .logbuf import format_record
from .unwind import FUNCTION_ENTRY, Unwinder, UnwindState, module_orc_table
from .views import (Table, coverage_html, disassembly_view, eflags_text, execution_step,
                    hexdump_view, registers_view)

# gdb's signal numbers (gdb/signals.def), for stop replies and fault stops
SIGINT, SIGILL, SIGTRAP, SIGFPE, SIGSEGV, SIGXCPU = 2, 4, 5, 8, 11, 24
# why a run segment ended (Machine.stop_reason values the debugger sets)
BREAKPOINT, INTERRUPTED = "breakpoint", "interrupted"
STEP_COMMANDS = ("step", "over", "finish", "cont", "detach")
MAX_KERNEL_HOPS = 64      # kernel functions a single step may pass through (thunks)
CALL_SIZE = 5             # the kernel's `call` before the return address Kernel.call pushes

REGS64 = (("rax", X.UC_X86_REG_RAX), ("rbx", X.UC_X86_REG_RBX), ("rcx", X.UC_X86_REG_RCX),
          ("rdx", X.UC_X86_REG_RDX), ("rsi", X.UC_X86_REG_RSI), ("rdi", X.UC_X86_REG_RDI),
          ("rbp", X.UC_X86_REG_RBP), ("rsp", X.UC_X86_REG_RSP), ("r8", X.UC_X86_REG_R8),
          ("r9", X.UC_X86_REG_R9), ("r10", X.UC_X86_REG_R10), ("r11", X.UC_X86_REG_R11),
          ("r12", X.UC_X86_REG_R12), ("r13", X.UC_X86_REG_R13), ("r14", X.UC_X86_REG_R14),
          ("r15", X.UC_X86_REG_R15), ("rip", X.UC_X86_REG_RIP), ("eflags", X.UC_X86_REG_EFLAGS),
          ("cs", X.UC_X86_REG_CS), ("ss", X.UC_X86_REG_SS), ("ds", X.UC_X86_REG_DS),
          ("es", X.UC_X86_REG_ES), ("fs", X.UC_X86_REG_FS), ("gs", X.UC_X86_REG_GS),
          ("fs_base", X.UC_X86_REG_FS_BASE), ("gs_base", X.UC_X86_REG_GS_BASE))
REGS32 = (("eax", X.UC_X86_REG_EAX), ("ecx", X.UC_X86_REG_ECX), ("edx", X.UC_X86_REG_EDX),
          ("ebx", X.UC_X86_REG_EBX), ("esp", X.UC_X86_REG_ESP), ("ebp", X.UC_X86_REG_EBP),
          ("esi", X.UC_X86_REG_ESI), ("edi", X.UC_X86_REG_EDI), ("eip", X.UC_X86_REG_EIP),
          ("eflags", X.UC_X86_REG_EFLAGS), ("cs", X.UC_X86_REG_CS), ("ss", X.UC_X86_REG_SS),
          ("ds", X.UC_X86_REG_DS), ("es", X.UC_X86_REG_ES), ("fs", X.UC_X86_REG_FS),
          ("gs", X.UC_X86_REG_GS))


def register_table(bits):
    return REGS64 if bits == 64 else REGS32


# ============================================================================ records

@dataclass
class Stop:
    """Where and why the CPU stopped; the machine stays there until the next command.

    ``reason``: ``entry`` (before the first instruction of a call), ``breakpoint``,
    ``step``, ``finish`` (the function returned to its caller), ``returned`` (the code
    returned into the kernel that called it), ``fault`` (the CPU refused an instruction:
    ``message`` says what; the oops follows when execution goes on), ``timeout``,
    ``interrupted``. ``changed`` maps each register that differs from the previous stop
    to ``(old, new)``; ``window`` is the disassembly around ``pc`` as ``(Instruction,
    label, is_current)``.
    """

    reason: str
    pc: int
    where: str
    regs: dict
    changed: dict = field(default_factory=dict)
    window: list = field(default_factory=list)
    breakpoint: int | None = None
    signal: int = SIGTRAP
    message: str = ""
    value: int | None = None
    bits: int = 64

    @property
    def instruction(self):
        for insn, _, current in self.window:
            if current:
                return insn
        return None

    def headline(self):
        what = {"entry": "stopped before the first instruction", "breakpoint": "breakpoint",
                "step": "step", "finish": "returned to the caller", "returned":
                "returned to the kernel", "fault": "fault", "timeout": "time limit",
                "interrupted": "interrupted"}.get(self.reason, self.reason)
        extra = f": {self.message}" if self.message else ""
        ret = "rax" if self.bits == 64 else "eax"
        value = f" ({ret} = {self.value:#x})" if self.value is not None else ""
        return f"{what} at {self.where} ({self.pc:#0{self.bits // 4 + 2}x}){value}{extra}"

    def text(self):
        return execution_step(self).text()

    __str__ = text

    def __repr__(self):
        return f"<Stop {self.headline()}>"

    def _repr_html_(self):
        return execution_step(self)._repr_html_()


@dataclass
class Finished:
    """The driven call returned (``result``: what it returned, e.g. insmod's Result)."""

    result: object
    log: str = ""
    reason: str = "finished"

    def text(self):
        return f"finished: {self.result!r}\n{self.log}".rstrip("\n")

    __str__ = text

    def _repr_html_(self):
        import html
        return (f"<p><b>finished</b>: <code>{html.escape(repr(self.result))}</code></p>"
                f"<pre>{html.escape(self.log)}</pre>")


@dataclass
class Breakpoint:
    """A breakpoint: ``spec`` as given (a name, ``name+0x10`` or an address) and the
    addresses it resolved to (a name in several modules has several)."""

    spec: object
    addrs: set = field(default_factory=set)
    hits: int = 0
    enabled: bool = True

    @property
    def pending(self):
        return not self.addrs


@dataclass
class Frame:
    level: int
    pc: int
    sp: int
    where: str
    reliable: bool = True

    def text(self, bits=64):
        mark = "" if self.reliable else "? "
        return f"#{self.level:<2} {mark}{self.pc:#0{bits // 4 + 2}x} in {self.where}"


@dataclass
class _Call:
    func: int
    sentinel: int
    stopped: bool = False       # it has stopped at least once
    at_call_site: bool = False  # the entry stop: the kernel's call of func not yet made

    @property
    def call_site(self):
        return self.sentinel - CALL_SIZE


# ======================================================================== module code

@dataclass
class ModuleCode:
    """A module's sections, symbols and text bytes, kept once it has run: its init text is
    freed after init, yet coverage, traces and backtraces still name those addresses."""

    name: str
    sections: list           # (addr, size, name, executable), by address
    symbols: dict            # section name -> sorted [(addr, size, name, is_func)]
    texts: list              # (section name, addr, raw bytes) of executable sections

    @classmethod
    def of(cls, machine, mod):
        lm = mod.linked
        elf = lm.elf
        values = lm.symbols.values
        placed = {i: (addr, size, name, bool(elf.sections[i].sh_flags & 0x4))  # SHF_EXECINSTR
                  for i, name, addr, size, _ in lm.placed_sections()}
        texts = []
        for addr, size, name, exe in sorted(placed.values()):
            if size and exe:
                try:
                    texts.append((name, addr, machine.read(addr, size)))
                except Exception:
                    continue                                    # not mapped (freed)
        symbols = {}
        for sym in elf.symbols:
            if not sym.name or sym.type not in (0, 1, 2) or sym.shndx not in placed:
                continue                        # STT_NOTYPE, STT_OBJECT, STT_FUNC only
            if sym.index >= len(values) or values[sym.index] is None:
                continue
            symbols.setdefault(placed[sym.shndx][2], []).append(
                (int(values[sym.index]), sym.st_size, sym.name, sym.type == 2))
        for lst in symbols.values():
            lst.sort(key=lambda s: (s[0], not s[3]))   # stable: symbol-table order among equals
        return cls(mod.name, sorted(placed.values()), symbols, texts)

    def section_at(self, addr):
        best = None
        for sec in self.sections:
            if sec[0] <= addr < sec[0] + sec[1]:
                best = sec
        return best

    def contains_text(self, addr):
        return any(a <= addr < a + len(raw) for _, a, raw in self.texts)

    def lookup(self, addr):
        """``(name, offset)``: the symbol at or before ``addr`` in its section (code: the
        function; data: only inside the object's size), else the section; or None."""
        sec = self.section_at(addr)
        if sec is None:
            return None
        sec_addr, _, sec_name, exe = sec
        syms = self.symbols.get(sec_name, [])
        k = bisect_right([s[0] for s in syms], addr) - 1
        if k >= 0:
            while k > 0 and syms[k - 1][0] == syms[k][0]:
                k -= 1
            addr0, size, name, _ = syms[k]
            if exe or not size or addr < addr0 + size:
                return name, addr - addr0
        return sec_name, addr - sec_addr

    def functions(self):
        """``(addr, end, name)`` of every function, ends clipped to its text section."""
        out = []
        for _, sec_addr, raw in self.texts:
            sec_end = sec_addr + len(raw)
            syms = [s for lst in self.symbols.values() for s in lst
                    if s[3] and sec_addr <= s[0] < sec_end]
            syms.sort(key=lambda s: s[0])
            for k, (addr, size, name, _) in enumerate(syms):
                if out and out[-1][0] == addr:
                    continue                                  # an alias (init_module)
                nxt = next((s[0] for s in syms[k + 1:] if s[0] > addr), sec_end)
                end = min(addr + size, sec_end) if size else nxt
                out.append((addr, end, name))
        return out

    def read(self, addr, size):
        for _, a, raw in self.texts:
            if a <= addr < a + len(raw):
                return raw[addr - a:addr - a + size]
        return None

    def address_of(self, name):
        hits = [s for lst in self.symbols.values() for s in lst if s[2] == name]
        hits.sort(key=lambda s: not s[3])
        return hits[0][0] if hits else None


# ============================================================================ the debugger

class Debugger:
    """Drive module code in the CPU: breakpoints, steps, views, trace and coverage.

    ``controller`` decides what happens at a stop when no notebook session is waiting:
    a callable ``controller(stop) -> command`` (``"step"``, ``"over"``, ``"finish"``,
    ``"cont"``, ``"detach"``) or an object with such a ``stopped`` method (the GDB stub).
    Without one, stops are recorded in :attr:`stops` and execution continues.
    """

    def __init__(self, kernel, controller=None, coverage=False):
        if kernel.debugger is not None:
            raise ValueError("a debugger is already attached to this kernel (detach it first)")
        self.kernel = kernel
        self.machine = kernel.machine
        self.bits = self.machine.bits
        self.controller = controller
        self.stops = []                 # every stop, in order
        self.stop = None                # the last stop (while parked: where the CPU is)
        self.result = None              # Finished, once a session's call returned
        self.stop_at_entry = False      # one-shot: stop before the next call's first instruction
        self.entry_filter = None        # callable(func) -> bool: which call the entry stop is for
        self._breakpoints = []
        self._by_addr = {}              # address -> Breakpoint
        self._bp_hooks = {}             # module address -> hook handle
        self._kernel_bps = {}           # kernel function address -> its Python implementation
        self._skip = None               # the address a resumed run starts from: not a hit
        self._hit = None
        self._active = False            # breakpoints only act inside this debugger's runs
        self._calls = []
        self._last_regs = None
        self._session = None
        self._code = {}                 # (module name, text addresses) -> ModuleCode
        self._area_hooks = {}           # "coverage"/"trace" -> hook handle
        self._counts = {} if coverage else None
        self._trace = None
        self._counting = False
        self._resume_pc = None
        self._rep_pc = None             # a rep instruction being run out: not a hit again
        self._notes = None
        kernel.debugger = self

    # ------------------------------------------------------------------ attach, detach

    def detach(self):
        """Take every hook and breakpoint out and let the kernel run on its own again.
        A parked session first runs to its end (without breakpoints)."""
        if self._session is not None and self._session.parked:
            self._clear_breakpoints()
            self._resume("detach")
        self._clear_breakpoints()
        for h in self._area_hooks.values():
            self.machine.uc.hook_del(h)
        self._area_hooks.clear()
        if self._trace is not None:
            self.trace_stop()
        if self.kernel.debugger is self:
            self.kernel.debugger = None

    close = detach

    # ------------------------------------------------------------------ breakpoints

    def break_at(self, where):
        """A breakpoint at a module symbol (``"my_init"``, ``"mod:func"``,
        ``"func+0x10"``), a kernel export (``"_printk"``: the stop comes before its Python
        implementation runs) or an address. A name no loaded module has yet stays pending
        and resolves when a module that defines it runs. Returns the :class:`Breakpoint`."""
        bp = Breakpoint(where)
        self._breakpoints.append(bp)
        self._resolve(bp)
        return bp

    def delete(self, where=None):
        """Remove the breakpoints given as ``where`` (a spec, an address, a Breakpoint),
        or all of them."""
        for bp in list(self._breakpoints):
            if where is None or bp is where or bp.spec == where or \
                    (isinstance(where, int) and where in bp.addrs):
                self._breakpoints.remove(bp)
                for addr in bp.addrs:
                    self._unarm(addr, bp)

    def breakpoints(self):
        rows = [(str(n + 1), str(bp.spec), ", ".join(f"{a:#x} <{self.label(a)}>" for a in
                                                     sorted(bp.addrs)) or "(pending)",
                 str(bp.hits)) for n, bp in enumerate(self._breakpoints)]
        return Table("breakpoints", ("#", "where", "address", "hits"), rows)

    def _resolve(self, bp):
        """Find the addresses of ``bp`` among what is loaded now; arm the new ones."""
        for addr in self._addresses(bp.spec):
            if addr not in bp.addrs:
                bp.addrs.add(addr)
                self._arm(addr, bp)

    def _addresses(self, spec):
        if isinstance(spec, int):
            return [spec & self.machine.mask]
        text = str(spec).strip()
        if re.fullmatch(r"0x[0-9a-f]+", text, re.I):
            return [int(text, 16)]
        offset = 0
        m = re.fullmatch(r"(.+?)\+((?:0x)?[0-9a-fA-F]+)", text)
        if m:
            text, offset = m.group(1), int(m.group(2), 0)
        module = None
        if ":" in text:
            module, text = text.split(":", 1)
        hits = []
        for code in self._module_code(live_only=True):
            if module is not None and code.name != module:
                continue
            addr = code.address_of(text)
            if addr is not None:
                hits.append(addr + offset)
        if hits or module is not None:
            return hits
        addr = self._kernel_address(text)
        return [addr + offset] if addr is not None else []

    def _kernel_address(self, name):
        profile = self.kernel.profile
        exp = profile.exports.get(name)
        if exp is not None and exp.addr:
            return exp.addr
        if profile.kallsyms_path:
            return profile.kallsyms().address(name)
        return None

    def _arm(self, addr, bp):
        self._by_addr.setdefault(addr, bp)      # several at one address: the first counts hits
        if self._in_kernel(addr):
            if addr not in self._kernel_bps:
                self._wrap_kernel_function(addr)
        elif addr not in self._bp_hooks:
            uc = self.machine.uc
            self._bp_hooks[addr] = uc.hook_add(UC_HOOK_CODE, self._on_breakpoint,
                                               begin=addr, end=addr)
            uc.ctl_flush_tb()           # code translated before has no call to the new hook

    def _unarm(self, addr, bp):
        if self._by_addr.get(addr) is not bp:
            return
        others = [b for b in self._breakpoints if b is not bp and addr in b.addrs]
        if others:
            self._by_addr[addr] = others[0]
            return
        del self._by_addr[addr]
        hook = self._bp_hooks.pop(addr, None)
        if hook is not None:
            self.machine.uc.hook_del(hook)
        if addr in self._kernel_bps:
            del self._kernel_bps[addr]
            self.kernel.kapi.handlers.pop(addr, None)     # the kernel resolves it again on demand

    def _clear_breakpoints(self):
        for bp in list(self._breakpoints):
            self.delete(bp)

    def _on_breakpoint(self, uc, addr, size, user):
        if not self._active or addr == self._rep_pc:
            return
        if addr == self._skip:
            self._skip = None
            return
        bp = self._by_addr.get(addr)
        if bp is not None and bp.enabled:
            self._hit = addr
            self.machine.stop(BREAKPOINT)

    def _wrap_kernel_function(self, addr):
        """A kernel function is Python: the kernel-text hook runs it before any hook of
        ours could stop there, so the breakpoint wraps the implementation instead. At a hit
        nothing has run (``HANDLED`` leaves the PC on the function's entry)."""
        k = self.kernel
        k.kapi.handlers.pop(addr, None)
        self._kernel_bps[addr] = None          # the implementation, found at the first call

        def breakpoint_then_function(kk, m):
            bp = self._by_addr.get(addr)
            if self._active and self._skip != addr and bp is not None and bp.enabled:
                self._hit = addr
                m.stop(BREAKPOINT)
                return HANDLED
            if self._skip == addr:
                self._skip = None
            return self._kernel_impl(addr, breakpoint_then_function)(kk, m)

        k.kapi.handlers[addr] = breakpoint_then_function

    def _kernel_impl(self, addr, wrapper):
        impl = self._kernel_bps.get(addr)
        if impl is None:
            k = self.kernel
            k.kapi.handlers.pop(addr, None)
            impl = k.kapi.handler_at(addr)     # what the kernel runs there (it caches it...)
            k.kapi.handlers[addr] = wrapper     # ...where the breakpoint's wrapper stays
            if addr in self._kernel_bps:
                self._kernel_bps[addr] = impl
        return impl

    # ------------------------------------------------------------------ driving (notebook)

    def start_insmod(self, path, args="", stop_at_entry=False):
        """Begin ``insmod path args`` in a worker thread; return at the first stop (a
        :class:`Stop`) or, if nothing stops it, when it is done (:class:`Finished`)."""
        return self.start(self.kernel.insmod, str(path), args, stop_at_entry=stop_at_entry)

    def start_rmmod(self, name, stop_at_entry=False):
        """Begin ``rmmod name`` (its exit runs under the debugger); as :meth:`start_insmod`."""
        return self.start(self.kernel.rmmod, name, stop_at_entry=stop_at_entry)

    def start(self, fn, *args, stop_at_entry=False):
        """Run ``fn(*args)`` (something that calls module code) in a worker thread."""
        if self._session is not None and not self._session.finished:
            raise RuntimeError("a run is already under way: cont() or detach() it first")
        self.stop_at_entry = stop_at_entry
        self.result = None
        self._session = _Session(self, fn, args)
        self._session.thread.start()
        return self._session.wait()

    def step(self):
        """One instruction (a call into the kernel: the whole kernel function)."""
        return self._resume("step")

    stepi = step

    def step_over(self):
        """One instruction; a ``call`` runs until it has returned (or a breakpoint)."""
        return self._resume("over")

    next = step_over

    def finish(self):
        """Run until the current function returns to its caller."""
        return self._resume("finish")

    def cont(self):
        """Run to the next breakpoint, or to the end of the run."""
        return self._resume("cont")

    def _resume(self, command):
        s = self._session
        if s is None or not s.parked:
            raise RuntimeError("not stopped: start a run with start_insmod() first")
        return s.resume(command)

    # ------------------------------------------------------------------ Kernel.call's hook

    def run_call(self, kernel, func, sentinel):
        """Run the module function at ``func`` until it returns to ``sentinel`` (the
        Kernel.call contract): ``machine.stop_reason`` is ``"returned"`` then; a CPU
        fault propagates (UcError), a timeout or kernel fault leaves its stop_reason."""
        m = self.machine
        if self._session is not None and self._session.parked and \
                threading.current_thread() is not self._session.thread:
            raise RuntimeError("the debugger is stopped inside another run: cont() it first")
        call = _Call(func, sentinel)
        self._calls.append(call)
        self._counting = False          # others may have run the CPU since our last run
        try:
            m.set_reg(m.IP, func)
            self._prepare()
            entry = self.stop_at_entry and (self.entry_filter is None or self.entry_filter(func))
            if not entry and not self._by_addr:
                m.run(func, sentinel, timeout_us=kernel.timeout_us, count=kernel.max_insns)
                return
            command = "cont"
            if entry:
                self.stop_at_entry = False
                self._to_call_site(call)
                command = self._report(self._make_stop("entry", call))
            self._drive(call, command)
        finally:
            self._calls.pop()

    def _to_call_site(self, call):
        """The entry stop is where the kernel is about to call the module (as in
        do_one_initcall): the return address not yet pushed, the PC on the ``call``. So a
        breakpoint at the function's first instruction is hit by the first ``cont``
        (gdb steps over a breakpoint at the address it resumes from)."""
        m = self.machine
        if not self._in_kernel(call.call_site) or m.read_ptr(m.sp) != call.sentinel:
            return                      # no kernel text to stand in: stop on func itself
        m.set_reg(m.SP, m.sp + m.word)
        m.set_reg(m.IP, call.call_site)
        call.at_call_site = True

    def _make_the_call(self, call):
        m = self.machine
        m.push(call.sentinel)
        m.set_reg(m.IP, call.func)
        call.at_call_site = False

    def _drive(self, call, command):
        m = self.machine
        while True:
            if command == "detach":
                self._clear_breakpoints()
                command = "cont"
            try:
                stop = self._execute(call, command)
            except UcError as exc:
                self._report(self._make_stop("fault", call, signal=_fault_signal(exc),
                                             message=self._fault_text(exc)))
                raise
            if stop is None:
                return
            command = self._report(stop)
            if stop.reason in ("fault", "timeout"):
                return                  # emulator.faults reports it, as without a debugger
            if stop.reason == "returned":
                m.stop_reason = "returned"
                return

    def _report(self, stop):
        self.stop = stop
        self.stops.append(stop)
        if self._calls:
            self._calls[-1].stopped = True
        s = self._session
        if s is not None and threading.current_thread() is s.thread:
            command = s.park(stop)
        elif self.controller is None:
            command = "cont"
        elif hasattr(self.controller, "stopped"):
            command = self.controller.stopped(stop)
        else:
            command = self.controller(stop)
        if command not in STEP_COMMANDS:
            raise ValueError(f"unknown debugger command {command!r}")
        return command

    # ------------------------------------------------------------------ executing

    def _execute(self, call, command):
        """Carry out one command; the next Stop, or None once the call is over."""
        m = self.machine
        self._resume_pc = m.pc if call.stopped else None
        if call.at_call_site:
            self._make_the_call(call)
            self._resume_pc = None
            if command == "step":
                return self._make_stop("step", call)
            if command in ("over", "finish"):
                return self._run_to(call, call.sentinel, 0, "step")
        if m.pc == call.sentinel:
            return None
        if command != "step" and self._resume_pc is not None:
            insn = self.instruction_at(m.pc)
            if insn is not None and insn.mnemonic.startswith("rep"):
                stop = self._finish_rep(call, insn)
                if stop is not None:
                    return stop
        if command == "step":
            return self._step(call)
        if command == "over":
            return self._over(call)
        if command == "finish":
            return self._finish(call)
        return self._cont(call)

    def _finish_rep(self, call, insn):
        """Resuming from a ``rep`` string instruction: its iterations all run at one
        address, each a hit of a breakpoint there; run them out first (a step is one
        iteration, as the CPU's trap flag gives). A Stop if something else stopped it."""
        m = self.machine
        self._rep_pc = m.pc
        try:
            reason = self._run(m.pc, m.pc + len(insn.raw))
        finally:
            self._rep_pc = None
        if reason is not None or m.pc != insn.addr + len(insn.raw):
            return self._after(call, reason, "step")
        return None

    def _run(self, start, until, count=0):
        """One ``Machine.run`` with the breakpoints armed; returns its stop_reason."""
        k, m = self.kernel, self.machine
        # resuming where the debugger stopped: a breakpoint there is not hit again (only
        # for the first run segment of a command)
        self._skip, self._hit = (start if start == self._resume_pc else None), None
        self._resume_pc = None
        count = count or k.max_insns
        if count and not self._counting:
            # Unicorn counts instructions with a code hook it adds at the first counted
            # run; blocks translated before it have no call to it and would run whole
            m.uc.ctl_flush_tb()
        self._counting = bool(count)
        # Unicorn checks `until` while translating: a block translated before, that runs
        # through `until`, would not stop there. Drop the blocks holding it.
        m.uc.ctl_remove_cache(until, until + 1)
        self._active = True
        try:
            m.run(start, until, timeout_us=k.timeout_us, count=count)
        finally:
            self._active = False
        return m.stop_reason

    def _after(self, call, reason, kind):
        """The Stop a run segment ended with, or None when the call is over for good."""
        m = self.machine
        if reason == BREAKPOINT:
            bp = self._by_addr.get(self._hit)
            if bp is not None:
                bp.hits += 1
            return self._make_stop("breakpoint", call, breakpoint=self._hit)
        if reason == "returned" or m.pc == call.sentinel:
            m.stop_reason = "returned"
            bp = call.sentinel if call.sentinel in self._by_addr else None
            if kind == "cont" and bp is None:
                return None
            return self._make_stop("returned", call, value=m.reg(m.RET), breakpoint=bp)
        if reason == INTERRUPTED:
            m.stop_reason = None
            return self._make_stop("interrupted", call, signal=SIGINT)
        if reason == "timeout":
            return self._make_stop("timeout", call, signal=SIGXCPU,
                                   message="the wall-clock limit stopped the CPU")
        if reason == "kernel fault":
            addr, exc = self.kernel.faults.kernel_fault
            return self._make_stop("fault", call, signal=SIGSEGV,
                                   message=f"in kernel function {self.label(addr)}: {exc}")
        if reason is not None and reason.startswith("interrupt "):
            vector = int(reason.split()[1])
            return self._make_stop("fault", call, signal=SIGFPE if vector == 0 else SIGTRAP,
                                   message=f"CPU exception {vector}")
        return None if kind == "cont" else self._make_stop(kind, call)

    def _step(self, call):
        m = self.machine
        reason = self._run(m.pc, call.sentinel, count=1)
        if reason is not None:
            return self._after(call, reason, "step")
        # into the kernel: its Python implementation is one step, up to where it returns
        for _ in range(MAX_KERNEL_HOPS):
            pc = m.pc
            if m.trampoline is not None and pc == m.trampoline:
                reason = self._run(pc, call.sentinel, count=1)        # the kernel's `ret`
            elif self._in_kernel(pc) and pc != call.sentinel:
                bp = self._by_addr.get(pc)
                if bp is not None and bp.enabled:
                    bp.hits += 1                 # stepped onto a kernel function's breakpoint
                    return self._make_stop("breakpoint", call, breakpoint=pc)
                reason = self._run(pc, call.sentinel, count=1)        # the whole function
            else:
                break
            if reason is not None:
                return self._after(call, reason, "step")
        return self._after(call, None, "step")

    def _over(self, call):
        m = self.machine
        insn = self.instruction_at(m.pc)
        if insn is None or not insn.mnemonic.startswith("call"):
            return self._step(call)
        return self._run_to(call, m.pc + len(insn.raw), m.sp, "step")

    def _finish(self, call):
        frames = self._unwind(limit=2)
        if len(frames) < 2 or not frames[1].reliable:
            return self._cont(call)
        caller = frames[1]
        return self._run_to(call, caller.pc, caller.sp, "finish")

    def _cont(self, call):
        m = self.machine
        reason = self._run(m.pc, call.sentinel)
        return self._after(call, reason, "cont")

    def _run_to(self, call, target, sp_min, kind):
        """Run until the PC is ``target`` with the stack at ``sp_min`` or above (the
        frame that was current has returned: recursion passes ``target`` deeper down)."""
        m = self.machine
        while True:
            if target == call.sentinel:
                reason = self._run(m.pc, call.sentinel)
                stop = self._after(call, reason, kind)
                return stop
            reason = self._run(m.pc, target)
            if reason is not None or m.pc != target:
                stop = self._after(call, reason, kind)
                if reason is None and m.pc != call.sentinel:
                    return None         # the instruction budget ran out: a lockup
                return stop
            if m.sp >= sp_min:
                return self._make_stop(kind, call, value=m.reg(m.RET) if kind == "finish" else None)
            reason = self._run(m.pc, call.sentinel, count=1)   # a deeper frame: go past it
            if reason is not None:
                return self._after(call, reason, kind)

    # ------------------------------------------------------------------ stops

    def _make_stop(self, reason, call, breakpoint=None, signal=SIGTRAP, message="", value=None):
        m = self.machine
        regs = self.register_values()
        changed = {}
        if self._last_regs is not None:
            changed = {n: (self._last_regs[n], v) for n, v in regs.items()
                       if self._last_regs.get(n) != v}
        self._last_regs = regs
        pc = m.pc
        return Stop(reason, pc, self.where(pc), regs, changed, self._window(pc), breakpoint,
                    signal, message, value, self.bits)

    def _fault_text(self, exc):
        m = self.machine
        if m.last_fault is not None:
            access, addr, size = m.last_fault
            region = m.region_of(addr)
            what = f"[{region.label}]" if region else "unmapped"
            return f"{access} of {addr:#x} ({what}): {exc}"
        return str(exc)

    @property
    def current_call(self):
        """The address of the module function the kernel called (the run under way), or None."""
        return self._calls[-1].func if self._calls else None

    # ------------------------------------------------------------------ views

    def register_values(self):
        m = self.machine
        return {name: m.reg(reg) for name, reg in register_table(self.bits)}

    def registers(self):
        """The registers, those changed since the previous stop marked."""
        regs = self.register_values()
        changed = self.stop.changed if self.stop is not None and self.stop.regs == regs else {}
        pc = regs["rip" if self.bits == 64 else "eip"]
        return registers_view(regs, changed, self.bits, self.where(pc), self.label)

    def disassemble(self, addr=None, n=8):
        """``n`` instructions from ``addr`` (default: a window around the PC), with
        ``<func+off>`` for each address and for the addresses operands name."""
        pc = self.machine.pc
        if addr is None:
            rows = self._window(pc, n)
        else:
            addr = self._address(addr)
            rows = [(insn, self.label(insn.addr), insn.addr == pc)
                    for insn in self.instructions(addr, n)]
        return disassembly_view(rows, self.bits)

    def memory(self, addr, n=64):
        """A hexdump of ``n`` bytes at ``addr`` (an address or a symbol)."""
        addr = self._address(addr)
        try:
            data = self.machine.read(addr, n)
        except Exception:
            data = b""
        return hexdump_view(addr, data, self.label(addr), self.bits)

    def stack(self, n=8):
        """``n`` words from the stack pointer up, each with the symbol it points at."""
        m = self.machine
        sp = m.sp
        rows = []
        for i in range(n):
            slot = sp + i * m.word
            try:
                word = m.read_ptr(slot)
            except Exception:
                break
            name = self.label(word)
            rows.append((f"{'sp' if self.bits == 64 else 'esp'}+{i * m.word:#04x}",
                         f"{slot:#0{self.bits // 4 + 2}x}", f"{word:#0{self.bits // 4 + 2}x}",
                         f"<{name}>" if name else ""))
        return Table("stack", ("", "address", "value", "points at"), rows)

    def backtrace(self):
        """The call chain from the current instruction up to the kernel that called the
        module (ORC tables of emulator.unwind; ``?`` marks frames found by scanning)."""
        frames = self._unwind()
        rows = [(f"#{f.level}", "" if f.reliable else "?", f"{f.pc:#0{self.bits // 4 + 2}x}",
                 f.where) for f in frames]
        table = Table("backtrace", ("#", "", "pc", "function"), rows)
        table.frames = frames
        return table

    def instruction_at(self, addr):
        got = self.instructions(addr, 1)
        return got[0] if got else None

    def instructions(self, addr, n):
        """Up to ``n`` decoded instructions from ``addr`` (live memory, or the copy kept of
        freed init text)."""
        raw = self._code_bytes(addr, n * 15)
        out = []
        if not raw:
            return out
        notes = self._note_maker()
        for insn in notes.cs.disasm(raw, addr):
            out.append(Instruction(insn.address, bytes(insn.bytes), insn.mnemonic, insn.op_str,
                                   notes.note(insn)))
            if len(out) >= n:
                break
        return out

    def _window(self, pc, n=8):
        """Instructions around ``pc``: decoded from the start of its function (x86 cannot
        be decoded backwards), up to 3 before the PC, then on. Kernel functions have no
        instructions here: they are Python."""
        call = self._calls[-1] if self._calls else None
        if call is not None and call.at_call_site and pc == call.call_site:
            return [(Instruction(pc, b"", "call", f"{call.func:#x}",
                                 f" <{self.label(call.func)}>"), self.label(pc), True)]
        if self._in_kernel(pc):
            name = self.label(pc) or f"{pc:#x}"
            return [(Instruction(pc, b"", f"({name}: a kernel function, run in Python)", ""),
                     self.label(pc), True)]
        start = self._function_start(pc)
        before = []
        if start is not None and start < pc and pc - start < 4096:
            decoded = self.instructions(start, (pc - start) + 1)
            before = [i for i in decoded if i.addr < pc]
            if decoded and all(i.addr != pc for i in decoded) and decoded[-1].addr < pc:
                before = []       # pc is not on an instruction boundary from there
        before = before[-3:]
        after = self.instructions(pc, n - len(before))
        return [(i, self.label(i.addr), i.addr == pc) for i in before + after]

    def _function_start(self, addr):
        for code in self._codes_for(addr):
            hit = code.lookup(addr)
            if hit is not None and code.contains_text(addr):
                return addr - hit[1]
        return None

    def _code_bytes(self, addr, size):
        m = self.machine
        try:
            return m.read(addr, size)
        except Exception:
            pass
        region = m.region_of(addr)
        if region is not None:
            try:
                return m.read(addr, min(size, region.end - addr))
            except Exception:
                pass
        for code in self._code.values():
            raw = code.read(addr, size)
            if raw:
                return raw
        return b""

    def _note_maker(self):
        """The relocation stepper's operand annotator, naming addresses with our symbols."""
        if self._notes is None:
            self._notes = _Notes(self.bits, self.label)
        return self._notes

    # ------------------------------------------------------------------ names

    def where(self, addr):
        """``hello_debug_init+0x5 [hello_debug]``, ``_printk``, or the hex address."""
        hit = self.name_of(addr)
        if hit is None:
            return f"{addr:#x}"
        name, off, module = hit
        text = name if not off else f"{name}+{off:#x}"
        return f"{text} [{module}]" if module else text

    def label(self, addr):
        """``name+0x5`` (no module) or None: what disassembly shows in ``<...>``."""
        hit = self.name_of(addr)
        if hit is None:
            return None
        name, off, _ = hit
        return name if not off else f"{name}+{off:#x}"

    def name_of(self, addr):
        """``(name, offset, module or None)`` for an address, or None."""
        k, m = self.kernel, self.machine
        for code in self._codes_for(addr):
            hit = code.lookup(addr)
            if hit is not None:
                return hit[0], hit[1], code.name
        if m.trampoline is not None and addr == m.trampoline:
            return "kmodsim return trampoline", 0, None
        if addr in k.kapi.names:
            return k.kapi.names[addr], 0, None
        image = k.profile.kernel_image or k.profile.kernel_text
        if image is not None and image.start <= addr < image.end and k.profile.kallsyms_path:
            hit = k.profile.kallsyms().lookup(addr)
            if hit is not None:
                return hit[0].name, hit[1], None
        return None

    def _codes_for(self, addr):
        """The loaded modules' code (all of their sections), then the text kept of code
        that is gone (freed init)."""
        out = [c for c in self._module_code(live_only=True) if c.section_at(addr) is not None
               and (self._mapped(addr) or c.contains_text(addr))]
        out += [c for c in self._code.values() if c not in out and c.contains_text(addr)]
        return out

    def _mapped(self, addr):
        return self.machine.region_of(addr) is not None

    def _address(self, where):
        if isinstance(where, int):
            return where
        hits = self._addresses(where)
        if not hits:
            raise KeyError(f"no symbol {where!r} in the loaded modules or the kernel")
        return hits[0]

    def _in_kernel(self, addr):
        text = self.kernel.profile.kernel_text
        return text is not None and text.start <= addr < text.end

    # ------------------------------------------------------------------ module snapshots

    def _code_key(self, mod):
        return (mod.name, mod.linked.image.core_addr, id(mod))

    def _module_code(self, live_only=False):
        """ModuleCode of every module with code (taking snapshots of new ones)."""
        out = []
        for mod in self.kernel.modules:
            if mod.linked is None or mod.state == "UNFORMED":
                continue
            key = self._code_key(mod)
            if key not in self._code:
                try:
                    self._code[key] = ModuleCode.of(self.machine, mod)
                except Exception:
                    continue
            out.append(self._code[key])
        if live_only:
            return out
        return list(self._code.values())

    def _prepare(self):
        """At each call: snapshot new modules, resolve pending breakpoints, hook the
        module area for coverage and trace if they are on."""
        self._module_code()
        for bp in self._breakpoints:
            self._resolve(bp)
        if self._counts is not None:
            self._hook_area("coverage", self._on_coverage)
        if self._trace is not None:
            self._hook_area("trace", self._on_trace)

    def _hook_area(self, what, callback):
        if what in self._area_hooks:
            return
        area = self.kernel.profile.module_area
        self._area_hooks[what] = self.machine.uc.hook_add(UC_HOOK_CODE, callback,
                                                          begin=area.start, end=area.end - 1)

    def _unhook_area(self, what):
        h = self._area_hooks.pop(what, None)
        if h is not None:
            self.machine.uc.hook_del(h)

    # ------------------------------------------------------------------ coverage

    def record_coverage(self, on=True):
        """Count every module instruction executed from now on (one code hook bounded to
        the module area); :meth:`coverage` reports them."""
        if on:
            if self._counts is None:
                self._counts = {}
        else:
            self._unhook_area("coverage")
        return self

    def _on_coverage(self, uc, addr, size, user):
        counts = self._counts
        counts[addr] = counts.get(addr, 0) + 1

    def coverage(self):
        """Which module instructions ran, per function, with counts (:class:`Coverage`)."""
        if self._counts is None:
            raise RuntimeError("coverage is not being recorded: call record_coverage() first")
        self._module_code()
        return Coverage.build(self, dict(self._counts))

    # ------------------------------------------------------------------ trace

    def trace_to(self, path):
        """Write every module instruction executed from now on to ``path``, one line
        each: ``address: bytes  disassembly``. Returns the open :class:`Trace`."""
        if self._trace is not None:
            self.trace_stop()
        self._trace = Trace(path, self)
        if self._calls:
            self._hook_area("trace", self._on_trace)
        return self._trace

    def trace_stop(self):
        self._unhook_area("trace")
        if self._trace is not None:
            self._trace.close()
        trace, self._trace = self._trace, None
        return trace

    def _on_trace(self, uc, addr, size, user):
        if self._trace is not None:
            self._trace.write(addr, bytes(uc.mem_read(addr, size)))

    # ------------------------------------------------------------------ unwinding

    def _unwind(self, limit=64):
        """Frames from the current PC up to the kernel that called the module code."""
        m, k = self.machine, self.kernel
        call = self._calls[-1] if self._calls else None
        sentinel = call.sentinel if call else k.sentinel
        pc, sp = m.pc, m.sp
        frames = [Frame(0, pc, sp, self.where(pc))]
        if call is not None and call.at_call_site:
            return frames               # in the kernel, before it calls the module
        unwinder = self._unwinder(sentinel)
        if unwinder is not None and pc != sentinel:
            bp = m.reg(X.UC_X86_REG_RBP if self.bits == 64 else X.UC_X86_REG_EBP)
            state = UnwindState(pc, sp, bp, signal=True)
            while len(frames) < limit and unwinder.next(state):
                frames.append(Frame(len(frames), state.ip, state.sp, self.where(state.ip)))
                if state.ip == sentinel:
                    return frames
            if not state.error and frames[-1].pc == sentinel:
                return frames
        return frames + self._scan(frames[-1].sp, sentinel, len(frames), limit)

    def _unwinder(self, sentinel):
        if self.bits != 64:
            return None
        k, m = self.kernel, self.machine
        tables = {}

        def find_orc(ip):
            for mod in k.modules:
                lm = mod.linked
                if lm is None or not self._in_module(mod, ip):
                    continue
                if mod.name not in tables:
                    tables[mod.name] = module_orc_table(m, lm)
                table = tables[mod.name]
                return table.find(ip) if table is not None else None
            if ip in k.kapi.names or ip in k.kapi.handlers:
                return FUNCTION_ENTRY       # a kernel function: always at its entry
            return None

        def read(addr):
            try:
                return m.read_ptr(addr)
            except Exception:
                return None

        return Unwinder(find_orc, read, stop=lambda ip: ip == sentinel)

    def _in_module(self, mod, addr):
        img, lay = mod.linked.image, mod.linked.layout
        if img.core_addr <= addr < img.core_addr + lay.core_size:
            return True
        return bool(mod.init_size) and img.init_addr is not None and \
            img.init_addr <= addr < img.init_addr + lay.init_size

    def _scan(self, sp, sentinel, level, limit):
        """Best effort without unwind data: return addresses on the stack that point into
        module text (right after a call) or are the kernel's return address."""
        m = self.machine
        out = []
        slot = sp
        for _ in range(512):
            if len(out) + level >= limit:
                break
            try:
                word = m.read_ptr(slot)
            except Exception:
                break
            if word == sentinel or (self._is_module_text(word) and self._after_call(word)):
                out.append(Frame(level + len(out), word, slot + m.word, self.where(word), False))
                if word == sentinel:
                    break
            slot += m.word
        return out

    def _is_module_text(self, addr):
        region = self.machine.region_of(addr)
        return region is not None and region.perms & 4 and not self._in_kernel(addr) and \
            self.name_of(addr) is not None

    def _after_call(self, addr):
        for back in (5, 6, 2, 3, 7):                 # call rel32, call [rip+x], call *reg...
            insn = self.instruction_at(addr - back)
            if insn is not None and insn.mnemonic.startswith("call") and \
                    insn.addr + len(insn.raw) == addr:
                return True
        return False


def _fault_signal(exc):
    from unicorn import UC_ERR_INSN_INVALID
    return SIGILL if exc.errno == UC_ERR_INSN_INVALID else SIGSEGV


class _Notes:
    """Operand notes and the capstone handle of the relocation stepper's code view,
    reused with the debugger's names (``<_printk>``, ``# 0x... <p_int>``)."""

    def __init__(self, bits, label):
        from types import SimpleNamespace

        from linker.load.stepper import _CodeView
        view = _CodeView(SimpleNamespace(bits=bits))
        view.name_of = label           # an instance attribute: the view's cached one is unused
        self._view = view

    @property
    def cs(self):
        return self._view.cs

    def note(self, insn):
        return self._view.note(insn)


# ============================================================================ coverage

@dataclass
class FunctionCoverage:
    module: str
    name: str
    addr: int
    rows: list            # (Instruction, count)

    @property
    def total(self):
        return len(self.rows)

    @property
    def executed(self):
        return sum(1 for _, c in self.rows if c)

    def count(self, addr):
        for insn, c in self.rows:
            if insn.addr == addr:
                return c
        raise KeyError(f"no instruction at {addr:#x} in {self.name}")

    def counts(self):
        """``{offset in the function: count}`` for every instruction."""
        return {insn.addr - self.addr: c for insn, c in self.rows}


@dataclass
class Coverage:
    """Module instructions executed, per function: ``cov["xorshift_init"].counts()``."""

    functions: list
    counts: dict
    bits: int = 64

    @classmethod
    def build(cls, dbg, counts):
        funcs, seen = [], set()
        notes = dbg._note_maker()
        for code in dbg._code.values():
            for addr, end, name in code.functions():
                if (code.name, name, addr) in seen:
                    continue            # the same module seen twice (snapshots of one load)
                seen.add((code.name, name, addr))
                raw = code.read(addr, end - addr) or b""
                rows = [(Instruction(i.address, bytes(i.bytes), i.mnemonic, i.op_str,
                                     notes.note(i)), counts.get(i.address, 0))
                        for i in notes.cs.disasm(raw, addr)]
                funcs.append(FunctionCoverage(code.name, name, addr, rows))
        return cls(funcs, counts, dbg.bits)

    def __getitem__(self, name):
        hits = [f for f in self.functions if f.name == name or f"{f.module}:{f.name}" == name]
        hits.sort(key=lambda f: -f.executed)
        if not hits:
            raise KeyError(name)
        return hits[0]

    def count(self, addr):
        return self.counts.get(addr, 0)

    def text(self):
        lines = []
        digits = self.bits // 4
        for f in self.functions:
            lines.append(f"{f.name} [{f.module}]: {f.executed}/{f.total} instructions ran")
            for insn, c in f.rows:
                asm = f"{insn.mnemonic} {insn.op_str}".rstrip()
                lines.append(f"  {c:>8}  {insn.addr:#0{digits + 2}x} <+{insn.addr - f.addr}>  "
                             f"{asm}{insn.note}")
        return "\n".join(lines)

    __str__ = text

    def _repr_html_(self):
        return coverage_html(self)


# ============================================================================ trace

class Trace:
    """An instruction trace being written: ``0x...: e8 00 00 00 00  call 0x... <_printk>``."""

    def __init__(self, path, dbg):
        self.path = str(path)
        self.lines = 0
        self._fh = open(self.path, "w")
        self._dbg = dbg
        self._cache = {}

    def write(self, addr, raw):
        key = (addr, raw)
        text = self._cache.get(key)
        if text is None:
            insns = self._dbg._note_maker().cs.disasm(raw, addr)
            insn = next(iter(insns), None)
            asm = "(bad)" if insn is None else \
                f"{insn.mnemonic} {insn.op_str}".rstrip() + self._dbg._note_maker().note(insn)
            text = f"{addr:#0{self._dbg.bits // 4 + 2}x}: {raw.hex(' '):<23}  {asm}\n"
            self._cache[key] = text
        self._fh.write(text)
        self.lines += 1

    def close(self):
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._dbg.trace_stop()


# ============================================================================ sessions

class _Session:
    """A call that runs in a worker thread and parks at each stop for the notebook."""

    def __init__(self, dbg, fn, args):
        self.dbg = dbg
        self.events = queue.Queue()
        self.commands = queue.Queue()
        self.parked = False
        self.finished = False
        self._log_start = len(dbg.kernel.log)
        self.thread = threading.Thread(target=self._main, args=(fn, args), daemon=True,
                                       name="kmodsim-debugger")

    def _main(self, fn, args):
        try:
            result = fn(*args)
        except BaseException as exc:           # handed to the notebook, raised there
            self.events.put(("error", exc))
        else:
            self.events.put(("done", result))

    def park(self, stop):
        """In the worker: hand the stop over, wait for the next command."""
        self.parked = True
        self.events.put(("stop", stop))
        command = self.commands.get()
        self.parked = False
        return command

    def resume(self, command):
        self.commands.put(command)
        return self.wait()

    def wait(self):
        kind, value = self.events.get()
        if kind == "stop":
            return value
        self.finished = True
        self.thread.join()
        if kind == "error":
            raise value
        log = "".join(format_record(r) + "\n" for r in self.dbg.kernel.log[self._log_start:])
        self.dbg.result = Finished(value, log)
        self.dbg.stop = None
        return self.dbg.result


__all__ = ["Debugger", "Stop", "Finished", "Breakpoint", "Frame", "Coverage",
           "FunctionCoverage", "Trace", "ModuleCode", "register_table", "eflags_text",
           "SIGTRAP", "SIGSEGV", "SIGILL", "SIGINT", "SIGFPE", "SIGXCPU"]
