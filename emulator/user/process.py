"""A user process: a static x86-64 executable run in the kernel's emulated CPU.

:class:`UserProcess` is one ``execve`` and what follows: the image mapped in the user half
(:mod:`.binfmt`, :mod:`.mm`), the registers the program starts with, and the outer loop
that runs it. The loop runs the program's code in Unicorn until it stops: at a ``syscall``
instruction (a ``UC_HOOK_INSN`` hook stops the CPU), at a fault, or when the run's budget
is spent. A system call is handled here, in Python, outside the emulation
(:mod:`.syscalls`), with the program's registers saved (``context_save``) around anything
that runs kernel code (``finit_module`` runs a module's init through ``k.call``) and put
back after; then the program goes on.

While the program's own code runs, it sees only its own memory: a ``UC_HOOK_TLB_FILL``
hook (Unicorn's virtual TLB) refuses every address from ``TASK_SIZE`` up, so a load,
store or jump into the kernel's half is a page fault (SIGSEGV), as it is for a user
process. The hook lets everything through while kernel code runs for a syscall, and the
TLB is flushed on each return to the program. What the program maps is unmapped when it
exits; the kernel's mappings stay as they were.

A fault kills the program with its signal, and the kernel logs what 6.1 logs for an
unhandled signal (``show_unhandled_signals`` is 1): ``comm[pid]: segfault at ADDR ip IP sp
SP error E in file[start+size] likely on CPU 0 (core 0, socket 0)`` and the ``Code:``
line, at KERN_INFO (tests/realkernel/user1, user2). The whole run (instructions and
syscalls) spends one budget (:mod:`emulator.budget`, ``--timeout``/``--max-insns``): a
program that does not end is killed (SIGKILL) when it runs out, with a ``kmodsim:`` line
on its standard error saying which limit stopped it.

Not simulated: threads and ``fork``/``clone``/``execve`` from a program, signal delivery
to handlers (a fault kills the program even if it set a handler; ``kill`` of another
process only says so), pipes and sockets, ``rmdir``/``rename``, file mappings (``mmap`` of
a descriptor says so and returns -ENODEV), 32-bit programs (said so, status 127); each
unsimulated system call returns ``-ENOSYS`` and is named once on the program's stderr
(``kmodsim: syscall 57 (fork) not simulated, returned -ENOSYS``). A ``poll``/``select``
with no timeout and nothing ready would wait for ever (nothing else runs to wake it): the
program is killed with a ``kmodsim:`` line. Addresses are fixed where the guest randomises
them (no ASLR): an ``ET_EXEC`` where it says, a static-pie at 0x555555554000, the stack
below 0x7ffffffff000, mmap top-down below the stack's 8 MiB and a 128 MiB gap.
"""

from __future__ import annotations

import errno
import posixpath
import threading

from unicorn import (UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH, UC_ERR_EXCEPTION, UC_ERR_FETCH_PROT,
                     UC_ERR_FETCH_UNMAPPED, UC_ERR_INSN_INVALID, UC_ERR_READ_PROT,
                     UC_ERR_READ_UNMAPPED, UC_ERR_WRITE_PROT, UC_ERR_WRITE_UNMAPPED, UC_HOOK_INSN,
                     UC_HOOK_TLB_FILL, UC_MEM_FETCH, UC_MEM_WRITE, UC_PROT_ALL, UcError)
from unicorn import x86_const as X

from linker.loglevels import LOGLEVEL_INFO, LOGLEVEL_WARNING

from ..budget import CALL_COST, BudgetExhausted
from ..errors import KernelClosed, KernelPanic, MemoryLimitExceeded
from ..machine import PROT_EXEC, PROT_READ, PROT_WRITE
from ..shell.syscalls import TaskKilled
from .binfmt import (STACK_TOP, TASK_SIZE, ExecError, create_elf_tables, map_segments,
                     parse_executable, random_bytes)
from .files import FdTable, HandleFile, resolve
from .mm import RESERVED, STACK_SIZE, AddressSpace
from .syscalls import SYSCALLS, ProcessExit, syscall_name

SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGKILL, SIGSEGV = 4, 5, 6, 7, 8, 9, 11
# x86 page-fault error code bits (arch/x86/include/asm/trap_pf.h)
X86_PF_PROT, X86_PF_WRITE, X86_PF_USER, X86_PF_INSTR = 1, 2, 4, 0x10
# what the CPU's exceptions become for a user process (arch/x86/kernel/traps.c)
VECTOR_SIGNALS = {0: SIGFPE, 1: SIGTRAP, 3: SIGTRAP, 4: SIGSEGV, 5: SIGSEGV, 6: SIGILL,
                  7: SIGFPE, 12: SIGBUS, 13: SIGSEGV, 14: SIGSEGV, 16: SIGFPE, 17: SIGBUS,
                  19: SIGFPE}
NEVER = 0x10             # emu_start's `until`: below mmap_min_addr, never user code
USER_EFLAGS = 0x202
MAX_EXEC_SIZE = 1 << 30            # an executable's bytes the loader reads at most
GPRS = (X.UC_X86_REG_RAX, X.UC_X86_REG_RBX, X.UC_X86_REG_RCX, X.UC_X86_REG_RDX,
        X.UC_X86_REG_RSI, X.UC_X86_REG_RDI, X.UC_X86_REG_RBP, X.UC_X86_REG_R8,
        X.UC_X86_REG_R9, X.UC_X86_REG_R10, X.UC_X86_REG_R11, X.UC_X86_REG_R12,
        X.UC_X86_REG_R13, X.UC_X86_REG_R14, X.UC_X86_REG_R15)
SYSCALL_ARGS = (X.UC_X86_REG_RDI, X.UC_X86_REG_RSI, X.UC_X86_REG_RDX, X.UC_X86_REG_R10,
                X.UC_X86_REG_R8, X.UC_X86_REG_R9)


class UserProcess:
    """One program run: ``run()`` returns ``(status, signal)``; ExecError before it runs."""

    def __init__(self, k, system, task, path: str, filename: str, argv: list[str],
                 envp: list[str], cwd: str, stdio: dict):
        self.k, self.system, self.task = k, system, task
        self.machine = k.machine
        self.path = path                      # absolute, in the guest (/proc/self/exe)
        self.filename = filename              # as execve got it (AT_EXECFN)
        self.argv, self.envp, self.cwd = argv, envp, cwd
        self.pid = task.pid if task is not None else 1
        self.ppid = k.tasks.shell.pid if k.tasks.shell is not None else 1
        self.comm = posixpath.basename(filename)[:15]
        self.fs = k.fs                        # the kernel's file layer (emulator.files)
        self.mm = AddressSpace(self.machine, f"pid {self.pid} {self.comm}", self._log_enomem)
        self.files = FdTable()
        for fd, (handle, stat) in stdio.items():    # the shell's open files
            self.files.install(HandleFile(self, handle, stat), fd=fd)
        self.warned: set[int] = set()         # unsimulated syscalls already named
        self.sigactions: dict[int, bytes] = {}
        self.umask = 0o022
        self.sigmask = 0
        self.rseq = 0                         # the registered rseq area
        self.random_counter = 0               # getrandom's stream
        self.in_user = False
        self._syscall_pending = False
        self.refused = None                   # (access, address) the TLB hook refused
        self.killed_by = None                 # the TaskKilled a syscall raised
        self._hooks = []
        self.exe_name = posixpath.basename(path)

    # -- exec -----------------------------------------------------------------------------

    def exec(self):
        """Read, check and map the executable; build the stack and the registers."""
        data = self.read_file(self.path, MAX_EXEC_SIZE)
        if isinstance(data, int):
            raise ExecError(-data)
        exe = parse_executable(data)
        if exe.interpreter is not None:
            # the guest has no dynamic loader: open_exec(interpreter) fails
            st = self.fs.stat(exe.interpreter)
            raise ExecError(errno.ENOENT if isinstance(st, int) else errno.ENOEXEC,
                            f"dynamically linked (interpreter {exe.interpreter})")
        try:
            loaded = map_segments(exe, data, self.mm, self.exe_name)
            self.mm.set_brk(loaded.brk)
            self.mm.map_fixed(STACK_TOP - STACK_SIZE, STACK_SIZE, PROT_READ | PROT_WRITE,
                              "[stack]")
            enc = [s.encode("utf-8", "surrogateescape") for s in self.argv]
            env = [s.encode("utf-8", "surrogateescape") for s in self.envp]
            sp = create_elf_tables(self.machine, STACK_TOP,
                                   self.filename.encode("utf-8", "surrogateescape"), enc, env,
                                   exe, loaded, random_bytes(self.path, self.pid))
        except BaseException:
            self.mm.release()
            raise
        self._start_registers(loaded.entry, sp)

    def _start_registers(self, entry, sp):
        """ELF_PLAT_INIT and start_thread: every register zero, the entry point and stack,
        the user's flags, no FS or GS base."""
        uc = self.machine.uc
        for reg in GPRS:
            uc.reg_write(reg, 0)
        uc.reg_write(X.UC_X86_REG_RSP, sp)
        uc.reg_write(X.UC_X86_REG_RIP, entry)
        uc.reg_write(X.UC_X86_REG_EFLAGS, USER_EFLAGS)
        uc.reg_write(X.UC_X86_REG_FS_BASE, 0)
        uc.reg_write(X.UC_X86_REG_GS_BASE, 0)
        self.context = uc.context_save()

    # -- the outer loop -------------------------------------------------------------------

    def run(self):
        """Run the program to its end: ``(status, signal)``. Kernel panics, the memory
        limit and the kernel being closed propagate; a budget that runs out kills it."""
        uc = self.machine.uc
        self._hooks = [uc.hook_add(UC_HOOK_INSN, self._on_syscall, None, 1, 0,
                                   X.UC_X86_INS_SYSCALL),
                       uc.hook_add(UC_HOOK_TLB_FILL, self._on_tlb_fill)]
        done = threading.Event()           # the program is over: the timer goes
        remaining = self.k.budget.remaining_us()
        if remaining:
            threading.Thread(target=self._watch, args=(remaining / 1e6, done),
                             name="kmodsim-user-timeout", daemon=True).start()
        try:
            while True:
                self._run_user()
                if self._syscall_pending:
                    self._syscall_pending = False
                    self._do_syscall()
        except ProcessExit as end:
            return end.status, end.signal
        except TaskKilled as exc:       # a module's oops killed the process in a syscall
            self.killed_by = exc
            return 128 + exc.signo, exc.signo
        except BudgetExhausted as exc:
            with self.k.budget.suspended():
                self._out_of_budget(exc.reason)
            return 128 + SIGKILL, SIGKILL
        finally:
            done.set()
            with self.k.budget.suspended():
                self._exit_mm()

    def _watch(self, seconds, done):
        """The wall clock over the program's own code: one timer for the whole run (a
        thread per slice of user code would cost more than the slice), which stops the
        CPU at the deadline, and every 10 ms after it, while user code runs. Kernel code
        run for a syscall has its own timer, and does not start past the deadline."""
        if done.wait(seconds):
            return
        while not done.is_set():
            if self.in_user:
                self.machine.stop("timeout")
            done.wait(0.01)

    def _exit_mm(self):
        """do_exit: the files are closed, the memory goes, the CPU is the kernel's again."""
        uc = self.machine.uc
        self.in_user = False
        for h in self._hooks:
            uc.hook_del(h)
        self._hooks = []
        self.files.close_all()
        self.mm.release()
        uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)
        uc.reg_write(X.UC_X86_REG_FS_BASE, 0)

    def _run_user(self):
        """Run the program's code from its saved context until it stops."""
        k, m, uc = self.k, self.machine, self.machine.uc
        budget = k.budget
        over = budget.over()
        if over is not None:
            raise BudgetExhausted(over)
        uc.context_restore(self.context)
        uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)
        count = budget.run_count()
        self.refused = None
        self.in_user = True
        error = None
        try:
            with budget.suspended():
                m.run(uc.reg_read(X.UC_X86_REG_RIP), NEVER, count=count)   # see _watch
        except UcError as exc:
            error = exc
        finally:
            self.in_user = False
            self.context = uc.context_save()
        if self._syscall_pending:
            return
        if error is not None:
            self._fault_from_error(error)
        reason = m.stop_reason or ""
        if reason.startswith("interrupt "):
            self._fault_from_vector(int(reason.split()[1]))
        if reason == "timeout":
            budget.exhausted = budget.exhausted or "timeout"
            raise BudgetExhausted("timeout")
        pc = uc.reg_read(X.UC_X86_REG_RIP)
        if pc == NEVER:                 # Unicorn stops there before fetching: a fault
            self._segfault("fetch", pc, present=False)
        if self._after_hlt(pc):
            # hlt at CPL 3 is a #GP (traps: ... general protection fault)
            uc.reg_write(X.UC_X86_REG_RIP, pc - 1)
            self.context = uc.context_save()
            self._general_protection()
        if count:
            budget.run_used_all(count)
            raise BudgetExhausted("budget")
        raise BudgetExhausted(budget.over() or "timeout")   # Unicorn stopped for no reason

    def _after_hlt(self, pc):
        data = self.read_user(pc - 1, 1, PROT_EXEC)
        return data == b"\xf4"

    # -- hooks (inside the emulation: they only record and stop) ---------------------------

    def _on_syscall(self, uc, user):
        if not self.in_user:
            return
        self._syscall_pending = True
        uc.emu_stop()

    def _on_tlb_fill(self, uc, vaddr, access, entry, user):
        if self.in_user and (vaddr >= TASK_SIZE or any(lo <= vaddr < hi for lo, hi in RESERVED)):
            # the kernel's half (or kmodsim's scratch buffer): a page fault for the program
            # (Unicorn then stops with UC_ERR_EXCEPTION; _fault_from_error finds it here)
            self.refused = ({UC_MEM_WRITE: "write", UC_MEM_FETCH: "fetch"}.get(access, "read"),
                            vaddr)
            return False
        entry.paddr = vaddr
        entry.perms = UC_PROT_ALL
        return True

    # -- system calls ---------------------------------------------------------------------

    def _do_syscall(self):
        k, uc = self.k, self.machine.uc
        k.budget.charge(CALL_COST)
        uc.context_restore(self.context)
        nr = uc.reg_read(X.UC_X86_REG_RAX)
        args = [uc.reg_read(r) for r in SYSCALL_ARGS]
        rip = uc.reg_read(X.UC_X86_REG_RIP)
        rflags = uc.reg_read(X.UC_X86_REG_EFLAGS)
        if self.task is not None:
            k.tasks.set_current(self.task)
        handler = SYSCALLS.get(nr)
        if handler is None:
            result = self._not_simulated(nr)
        else:
            try:
                result = handler(self, *args)
            except (ProcessExit, TaskKilled, KernelPanic, KernelClosed, MemoryLimitExceeded):
                raise
            except Exception as exc:      # a kmodsim bug: said so, never a traceback
                self.note(f"internal error in syscall {nr} ({syscall_name(nr)}): "
                          f"{type(exc).__name__}: {exc}; the program was killed")
                self.die(SIGKILL)
        uc.context_restore(self.context)       # kernel code may have run: the user's again
        uc.reg_write(X.UC_X86_REG_RAX, result & 0xFFFF_FFFF_FFFF_FFFF)
        uc.reg_write(X.UC_X86_REG_RCX, rip)    # what the syscall instruction leaves there
        uc.reg_write(X.UC_X86_REG_R11, rflags)
        self.context = uc.context_save()

    def _not_simulated(self, nr):
        """-ENOSYS; a syscall 6.1 has is named on the program's stderr, once."""
        name = syscall_name(nr)
        if name is not None and nr not in self.warned:
            self.warned.add(nr)
            self.note(f"syscall {nr} ({name}) not simulated, returned -ENOSYS")
        return -errno.ENOSYS

    def read_file(self, path, limit):
        """A regular file's bytes, as kernel_read_file reads them (exec, finit_module):
        -errno (EACCES for anything but a regular file, EFBIG past ``limit``)."""
        st = self.fs.stat(path)
        if isinstance(st, int):
            return st
        if st.is_dir or st.kind not in ("", "-"):
            return -errno.EACCES
        file = self.fs.open(path, 0)
        if isinstance(file, int):
            return file
        try:
            chunks, total = [], 0
            while True:
                piece = file.read_bytes(1 << 20)
                if isinstance(piece, int):
                    return piece
                if not piece:
                    return b"".join(chunks)
                total += len(piece)
                if total > limit:
                    return -errno.EFBIG
                chunks.append(piece)
        finally:
            file.release()

    def note(self, text):
        """A ``kmodsim:`` line on the program's standard error."""
        err = self.files.get(2)
        if err is not None:
            err.write_bytes(f"kmodsim: {text}\n".encode())

    def note_once(self, key, text):
        if key not in self.warned:
            self.warned.add(key)
            self.note(text)

    def set_fs_base(self, addr):
        self.machine.uc.context_restore(self.context)
        self.machine.uc.reg_write(X.UC_X86_REG_FS_BASE, addr)
        self.context = self.machine.uc.context_save()

    def user_reg(self, reg):
        self.machine.uc.context_restore(self.context)
        return self.machine.uc.reg_read(reg)

    # -- user memory (copy_to_user / copy_from_user) ---------------------------------------

    def read_user(self, addr, size, prot=PROT_READ):
        """``size`` bytes of the program's memory, or None (EFAULT)."""
        if size < 0 or not self.mm.accessible(addr, size, prot):
            return None
        return self.machine.read(addr, size) if size else b""

    def write_user(self, addr, data):
        if not self.mm.accessible(addr, len(data), PROT_WRITE):
            return False
        if data:
            self.machine.write(addr, data)
        return True

    def read_string(self, addr, limit=4096):
        """strncpy_from_user: the string (bytes), -EFAULT, or -ENAMETOOLONG past ``limit``."""
        out = bytearray()
        while len(out) < limit:
            chunk = 4096 - (addr + len(out)) % 4096
            chunk = min(chunk, limit - len(out))
            data = self.read_user(addr + len(out), chunk)
            if data is None:
                return -errno.EFAULT
            nul = data.find(b"\0")
            if nul >= 0:
                return bytes(out + data[:nul])
            out += data
        return -errno.ENAMETOOLONG

    def read_path(self, addr):
        """getname(): an absolute path, or -errno (EFAULT, ENAMETOOLONG, ENOENT for "")."""
        raw = self.read_string(addr, 4096)
        if isinstance(raw, int):
            return raw
        if not raw:
            return -errno.ENOENT
        return resolve(self.cwd, raw.decode("utf-8", "surrogateescape"))

    # -- faults and signals ---------------------------------------------------------------

    def _fault_from_error(self, exc):
        m = self.machine
        if exc.errno == UC_ERR_INSN_INVALID:
            raise ProcessExit(128 + SIGILL, SIGILL)
        if self.refused is not None:        # a kernel page: present, but not the user's
            access, addr = self.refused
            self._segfault(access, addr, present=True)
        # an access to memory nobody mapped (Unicorn reports UC_ERR_EXCEPTION for it in
        # virtual-TLB mode) or against a page's permissions: the invalid-memory hook saw it
        if exc.errno in (UC_ERR_READ_UNMAPPED, UC_ERR_WRITE_UNMAPPED, UC_ERR_FETCH_UNMAPPED,
                         UC_ERR_READ_PROT, UC_ERR_WRITE_PROT, UC_ERR_FETCH_PROT,
                         UC_ERR_EXCEPTION) and m.last_fault is not None:
            access, addr = m.last_fault[0], m.last_fault[1]
            self._segfault(access, addr)
        self._general_protection()

    def _fault_from_vector(self, vector):
        if vector == 14:        # the TLB hook refused an address of the kernel's half
            addr = self.user_reg(X.UC_X86_REG_CR2)
            self._segfault(self._fault_access(), addr, present=False)
        if vector == 13:
            self._general_protection()
        signo = VECTOR_SIGNALS.get(vector, SIGSEGV)
        self.die(signo, core=signo != SIGTRAP)

    def _fault_access(self):
        """Which access the instruction at RIP made, as far as kmodsim can tell: a fetch
        when RIP itself is not the program's to run, else a read."""
        rip = self.user_reg(X.UC_X86_REG_RIP)
        return "fetch" if self.read_user(rip, 1, PROT_EXEC) is None else "read"

    def _segfault(self, access, addr, present=None):
        """A page fault the program cannot take: ``show_signal_msg``, then SIGSEGV."""
        vma = self.mm.vma_at(addr) if addr < TASK_SIZE else None
        if present is None:
            present = vma is not None
        error = X86_PF_USER | (X86_PF_PROT if present else 0) | \
            (X86_PF_WRITE if access == "write" else 0) | (X86_PF_INSTR if access == "fetch" else 0)
        ip, sp = self.user_reg(X.UC_X86_REG_RIP), self.user_reg(X.UC_X86_REG_RSP)
        self.k.printk(LOGLEVEL_INFO,
                      f"{self.comm}[{self.pid}]: segfault at {addr:x} ip {ip:016x} sp {sp:016x} "
                      f"error {error:x}{self._vma_text(ip)} likely on CPU 0 (core 0, socket 0)")
        self.k.printk(LOGLEVEL_INFO, self._code_line(ip))
        self.die(SIGSEGV, core=True)

    def _general_protection(self):
        """A #GP in user mode (a privileged instruction, a non-canonical address):
        ``traps: comm[pid] general protection fault ip:.. sp:.. error:0 in file[..]``."""
        ip, sp = self.user_reg(X.UC_X86_REG_RIP), self.user_reg(X.UC_X86_REG_RSP)
        self.k.printk(LOGLEVEL_INFO, f"traps: {self.comm}[{self.pid}] general protection fault "
                                     f"ip:{ip:x} sp:{sp:x} error:0{self._vma_text(ip)}")
        self.die(SIGSEGV, core=True)

    def _vma_text(self, ip):
        """print_vma_addr: `` in file[start+size]`` for the first VMA ending above ``ip``
        when a file backs it."""
        vma = self.mm.find_vma(ip)
        if vma is None or not vma.file_backed:
            return ""
        return f" in {vma.name}[{vma.start:x}+{vma.end - vma.start:x}]"

    def _code_line(self, ip):
        """show_opcodes for user memory: 42 bytes before IP, IP's byte in <>, 21 after."""
        start = ip - 42
        data = self.read_user(start, 64) if 0 <= start else None
        if data is None:
            return f"Code: Unable to access opcode bytes at 0x{start & 0xFFFF_FFFF_FFFF_FFFF:x}."
        return ("Code: " + " ".join(f"{b:02x}" for b in data[:42]) + f" <{data[42]:02x}> " +
                " ".join(f"{b:02x}" for b in data[43:]))

    def die(self, signo, core=False):
        raise ProcessExit(128 + signo, signo, core)

    def _out_of_budget(self, reason):
        k = self.k
        k.budget.exhausted = k.budget.exhausted or reason
        limit = (f"the --max-insns budget of {k.max_insns} instructions" if reason == "budget"
                 else f"the --timeout of {k.timeout_s:g} s")
        self.note(f"{self.filename} ran until {limit} and was killed")

    def _log_enomem(self):
        self.k.printk(LOGLEVEL_WARNING, f"__vm_enough_memory: pid: {self.pid}, comm: "
                                        f"{self.comm}, no enough memory for the allocation")
