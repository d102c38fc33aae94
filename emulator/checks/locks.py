"""Lock debugging (``PROVE_LOCKING``: kernel/locking/lockdep.c), for a kernel built without
it: what lockdep prints for the lock bugs modules make, as the 6.1 source's format strings
write it (Debian's kernel has lockdep, DEBUG_MUTEXES and DEBUG_SPINLOCK off, so none of it
can be recorded with realkernel).

The locking functions (emulator.kapi.locks) tell :class:`Lockdep` of each acquire and
release (``k.checks.lockdep``), the syscall's return to user space of its end
(``Checks.syscall_exit``). Like lockdep it keeps each task's held locks and the order
locks were taken in (a lock taken while another is held is a dependency, with the stack
that made it), and reports:

* ``double_unlock``, ``unlock_not_owner``: print_unlock_imbalance_bug, "WARNING: bad
  unlock balance detected!" (with PROVE_LOCKING the release is checked before
  DEBUG_MUTEXES' ``DEBUG_LOCKS_WARN_ON(__owner_task(owner) != current)``, and that report
  turns the latter off);
* ``recursive``: print_deadlock_bug, "WARNING: possible recursive locking detected"; the
  mutex or rw-semaphore is then not taken (the real task would sleep for ever);
* ``inversion``: print_circular_bug, "WARNING: possible circular locking dependency
  detected", with the dependency chain of its two locks;
* ``held_at_return``: lockdep_sys_exit, "WARNING: lock held when returning to user
  space!", at the end of a syscall (insmod's init, rmmod's exit, a read...).

As in 6.1, the first report turns lock debugging off (``debug_locks_off``), as does an
oops; each report becomes one ``lock_errors`` entry of the run record.

Simplified, documented in the README: a lock's class is the lock itself (lockdep's is the
static key of its init site: two instances of one class are two classes here); a lock is
named by the name its init passed (``mutex_init(&lock_a)`` passes ``"&lock_a"``), else by
the module symbol it sits at (``lock_a`` as DEFINE_MUTEX names it, ``sym+0x10`` inside
one), else by its address. Debian's ``spin_lock_init`` is inline and passes no name, so a
spinlock is named by its symbol. Read acquisitions (rwlocks, rw-semaphores) are tracked
but neither make dependencies nor count as recursion; trylocks make no dependencies;
semaphores are not lockdep's (they have no dep_map in 6.1). The stack backtraces name
``dump_stack_lvl`` (a 6.1 build's offsets) then the module's frames: lockdep's own
functions, which the reference kernel does not have, are left out.
"""

from dataclasses import dataclass, field

from linker.loglevels import LOGLEVEL_WARNING

from .. import faults
from .track import module_stack

LOGLEVEL_DEFAULT = faults.MESSAGE_LOGLEVEL_DEFAULT

X86_EFLAGS_IF = 0x200
SOFTIRQ_MASK = 0xFF00
# lockdep_wait_type without PREEMPT_RT: LD_WAIT_SPIN for spinlock_t and rwlock_t
# (LD_WAIT_CONFIG), LD_WAIT_SLEEP for mutexes and rw-semaphores
WAIT_TYPE = {"spin": 2, "rwlock": 2, "mutex": 3, "rwsem": 3}
SLEEPING = ("mutex", "rwsem")
STACK_FRAMES = ("dump_stack_lvl+0x44/0x5c",)
KINDS = ("double_unlock", "unlock_not_owner", "held_at_return", "recursive", "inversion")
TITLES = {"double_unlock": "WARNING: bad unlock balance detected!",
          "unlock_not_owner": "WARNING: bad unlock balance detected!",
          "held_at_return": "WARNING: lock held when returning to user space!",
          "recursive": "WARNING: possible recursive locking detected",
          "inversion": "WARNING: possible circular locking dependency detected"}


@dataclass
class HeldLock:
    """One ``struct held_lock``: the lock (``instance``), its kind, where it was taken
    (``acquire_ip``, a return address into the module)."""

    addr: int
    kind: str
    ip: int
    read: bool = False
    trylock: bool = False
    at: str = ""                    # ``ip`` symbolised when taken (its module may go)
    home: tuple | None = None       # (module, start, end) of the module memory it is in


@dataclass
class LockClass:
    """What lockdep knows of one lock: its name, its usage bits (taken with hardirqs /
    softirqs enabled, as a writer or a reader), the locks taken while it was held."""

    name: str
    kind: str
    usage: set = field(default_factory=set)
    after: dict = field(default_factory=dict)      # lock -> (trace frames) of the first


class Lockdep:
    """``k.checks.lockdep``: the held locks of each task, the dependencies, the reports."""

    def __init__(self, k):
        self.k = k
        self.enabled = True             # debug_locks
        self.reported = []              # dicts (emulator.report)
        self.names = {}                 # lock -> the name its init passed
        self.classes = {}               # lock -> LockClass
        self.held = {}                  # id(task) -> (task, [HeldLock])
        self._places = ((), {})         # (the modules, {address: (symbol, home)}) cached

    # -- told by the locking functions (emulator.kapi.locks) ---------------------------

    def init(self, lock, name_addr):
        """``__mutex_init``/``__init_rwsem``/``__raw_spin_lock_init``: the name passed
        (``#mutex``: ``"&lock_a"``); the lock starts a new class."""
        name = None
        if name_addr:
            try:
                name = self.k.machine.read_cstring(name_addr, 128)
                name = name.decode("latin-1") if isinstance(name, bytes) else name
            except Exception:
                name = None
        if name:
            self.names[lock] = name
        self.classes.pop(lock, None)

    def acquire(self, lock, kind, read=False, trylock=False):
        """``lock_acquire``, before the lock is taken: False when it reported a recursive
        acquisition of a sleeping lock, which the caller then does not take."""
        if not self._on():
            return True
        k = self.k
        task = k.tasks.current
        ip = self._ret_ip()
        cls = self._class(lock, kind)
        cls.usage.update(self._usage(read))
        new = HeldLock(lock, kind, ip, read, trylock, self._place(ip)[0], self._place(lock)[1])
        held = self._held(task)
        if not trylock:
            prev = next((h for h in held if h.addr == lock), None)
            if prev is not None and not (read and prev.read):
                self._recursive(task, held, prev, new)
                return kind not in SLEEPING
            if not read:
                for h in held:
                    if h.read or h.addr == lock:
                        continue
                    if self._path(lock, h.addr):
                        self._circular(task, held, h, new)
                        break
                    after = self._class(h.addr, h.kind).after
                    if lock not in after:
                        after[lock] = self._trace()
        held.append(new)
        return True

    def release(self, lock):
        """``lock_release``: the lock leaves the task's held locks; a lock it does not hold
        is print_unlock_imbalance_bug (another task's: ``unlock_not_owner``)."""
        if not self._on():
            return
        task = self.k.tasks.current
        held = self._held(task)
        for i in range(len(held) - 1, -1, -1):
            if held[i].addr == lock:
                del held[i]
                return
        owner = None
        for other, locks in self.held.values():
            hit = next((h for h in locks if h.addr == lock), None)
            if hit is not None and other is not task:
                owner = other
                locks.remove(hit)
                break
        self._unlock_imbalance(task, lock, owner)

    def syscall_exit(self):
        """``lockdep_sys_exit`` for each process the syscall ran: one that is back in user
        space (or gone) holding locks. Tasks asleep in the kernel and kthreads are not."""
        if not self._on():
            return
        for task, held in list(self.held.values()):
            freed = next((h for h in held if h.home and h.home[0] not in self.k.modules), None)
            if freed is not None:       # free_module's vfree: debug_check_no_locks_freed
                self._freed(task, held, freed)
                return
            if not held or task.is_kthread or (task.blocked is not None and not task.dead):
                continue
            self._held_at_return(task, held)
            return

    # -- the reports -------------------------------------------------------------------

    def _unlock_imbalance(self, task, lock, owner):
        w = self._warn
        ip = self._ret_ip()
        self.enabled = False
        w("")
        w("=====================================")
        w("WARNING: bad unlock balance detected!")
        w(self._ident())
        w("-------------------------------------")
        w(f"{_task(task)} is trying to release lock ({self._name(lock)}) at:")
        w(f"[<{ip:016x}>] {self._sym(ip)}")
        w("but there are no more locks to release!")
        w("")
        w("other info that might help us debug this:")
        self._print_held(task)
        w("")
        w("stack backtrace:")
        self._dump_stack()
        kind = "unlock_not_owner" if owner is not None else "double_unlock"
        self._record(kind, lock, task, self._sym(ip), owner=owner)

    def _acquire_header(self, title, task, new, prev):
        """The opening lockdep prints for a lock being taken while ``prev`` is held: the
        title between rules of its length, who, the lock wanted, the lock held."""
        w = self._warn
        w("")
        w("=" * len(title))
        w(title)
        w(self._ident())
        w("-" * len(title))
        w(f"{_task(task)} is trying to acquire lock:")
        w(self._lock_line(new))
        w("")
        w("but task is already holding lock:")
        w(self._lock_line(prev))
        w("")

    def _recursive(self, task, held, prev, new):
        w = self._warn
        self.enabled = False
        name = self._name(new.addr)
        self._acquire_header("WARNING: possible recursive locking detected", task, new, prev)
        w("other info that might help us debug this:")
        w(" Possible unsafe locking scenario:")
        w("")
        w("       CPU0")
        w("       ----")
        w(f"  lock({name});")
        w(f"  lock({name});")
        w("")
        w(" *** DEADLOCK ***")
        w("")
        w(" May be due to missing lock nesting notation")
        w("")
        self._print_held(task)
        w("")
        w("stack backtrace:")
        self._dump_stack()
        self._record("recursive", new.addr, task, new.at, held_at=prev.at)

    def _circular(self, task, held, prev, new):
        """Adding prev -> new closed a cycle: new -> ... -> prev was there already.
        print_circular_bug with check_src = new, check_tgt = prev."""
        w = self._warn
        self.enabled = False
        src, tgt = self._name(new.addr), self._name(prev.addr)
        chain = self._path(new.addr, prev.addr)     # [new, ..., prev]
        self._acquire_header("WARNING: possible circular locking dependency detected", task,
                             new, prev)
        w("which lock already depends on the new lock.")
        w("")
        w("")
        w("the existing dependency chain (in reverse order) is:")
        depth = len(chain) - 1
        # the target's entry (prev) first, back to the root's (new): each with the stack
        # that added the dependency leading to it; the root's is the current stack
        for i in range(depth, -1, -1):
            lock = chain[i]
            trace = self.classes[chain[i - 1]].after[lock] if i else self._trace()
            w("")
            w(f"-> #{i} {self._class_text(lock)}:")
            for frame in trace:
                w(f"       {frame}")
        w("")
        w("other info that might help us debug this:")
        w("")
        parent = self._name(chain[-2]) if depth else src     # get_lock_parent(target)
        if depth > 1:
            w("Chain exists of:")
            w(f"  {src} --> {parent} --> {tgt}")
            w("")
        w(" Possible unsafe locking scenario:")
        w("")
        w("       CPU0                    CPU1")
        w("       ----                    ----")
        w(f"  lock({tgt});")
        w(f"                               lock({parent});")
        w(f"                               lock({tgt});")
        w(f"  lock({src});")
        w("")
        w(" *** DEADLOCK ***")
        w("")
        self._print_held(task)
        w("")
        w("stack backtrace:")
        self._dump_stack()
        first = self.classes[chain[-2]].after[chain[-1]] if depth else ()
        self._record("inversion", new.addr, task, new.at, held_lock=tgt, held_at=prev.at,
                     order=[self._name(a) for a in chain], order_at=list(first))

    def _freed(self, task, held, h):
        """print_freed_lock_bug: the module's memory was freed (free_module, at the end of
        rmmod or of a failed insmod) with the lock in it held. Its stack is the syscall's
        frames under dump_stack_lvl (vfree's and free_module's are left out)."""
        w = self._warn
        self.enabled = False
        mod, start, end = h.home
        w("")
        w("=========================")
        w("WARNING: held lock freed!")
        w(self._ident())
        w("-------------------------")
        w(f"{_task(task)} is freeing memory {start:016x}-{end - 1:016x}, with a lock still "
          f"held there!")
        w(self._lock_line(h))
        self._print_held(task)
        w("")
        w("stack backtrace:")
        what = "exit" if task.comm == "rmmod" or mod.state == "GOING" else "init"
        self._dump_task_stack(task, STACK_FRAMES + faults.KERNEL_FRAMES[what], what)
        self._record("held_at_return", h.addr, task, h.at, held=[self._name(x.addr) for x in held],
                     title="WARNING: held lock freed!")

    def _held_at_return(self, task, held):
        w = self._warn
        self.enabled = False
        w("")
        w("================================================")
        w("WARNING: lock held when returning to user space!")
        w(self._ident())
        w("------------------------------------------------")
        w(f"{_task(task)} is leaving the kernel with locks still held!")
        self._print_held(task)
        first = held[0]
        self._record("held_at_return", first.addr, task, first.at,
                     held=[self._name(h.addr) for h in held])

    # -- what the reports print --------------------------------------------------------

    def _warn(self, text):
        self.k.printk(LOGLEVEL_WARNING, text)

    def _ident(self):
        """print_kernel_ident: the release, the version's first word, the taint."""
        k = self.k
        p = k.profile
        version = (p.version or "#1").split()[0]
        tainted = f"Tainted: {k.taints.string()}" if k.taints else "Not tainted"
        return f"{p.release or p.name} {version} {tainted}"

    def _print_held(self, task):
        """lockdep_print_held_locks."""
        held = self._held(task)
        if not held:
            self._warn(f"no locks held by {_task(task)}.")
            return
        self._warn(f"{len(held)} lock{'s' if len(held) > 1 else ''} held by {_task(task)}:")
        for i, h in enumerate(held):
            self._warn(f" #{i}: {self._lock_line(h)}")

    def _lock_line(self, h):
        """print_lock: ``%px (name){usage}-{outer:inner}, at: %pS``."""
        return f"{h.addr:016x} {self._class_text(h.addr)}, at: {self._sym(h.ip)}"

    def _class_text(self, lock):
        """print_lock_name: ``(&lock_a){+.+.}-{3:3}``, the usage bits (taken with hardirqs,
        then softirqs, enabled: as a writer, as a reader), the wait types."""
        cls = self.classes.get(lock)
        if cls is None:
            return f"({self._name(lock)})"
        chars = ""
        for state in ("hardirq", "softirq"):
            for read in (False, True):
                chars += "+" if (state, read) in cls.usage else "."
        wait = WAIT_TYPE.get(cls.kind, 3)
        return f"({cls.name}){{{chars}}}-{{{wait}:{wait}}}"

    def _dump_stack(self):
        """dump_stack: the CPU line, the Call Trace from the locking function's caller."""
        k = self.k
        m = k.machine
        faults.cpu_line(k)
        unwinder = faults.module_unwinder(k)
        ctx = k.faults.running or faults.Context(None, "init")
        faults.show_trace(k, ctx, unwinder, unwinder.start_at_call(m.sp), m.sp,
                          prefix=STACK_FRAMES)

    def _dump_task_stack(self, task, frames, what):
        """dump_stack for a syscall whose module code is over (the task is no longer
        ``current`` here): its CPU line, the frames given, its user registers."""
        k, p = self.k, self.k.printk
        tainted = f"Tainted: {k.taints.string()}" if k.taints else "Not tainted"
        prof = k.profile
        p(LOGLEVEL_DEFAULT, f"CPU: 0 PID: {task.pid} Comm: {task.comm} {tainted} "
                            f"{prof.release or prof.name} {faults._uname_suffix(prof)}")
        p(LOGLEVEL_DEFAULT, f"Hardware name: {faults.HARDWARE}")
        p(LOGLEVEL_DEFAULT, "Call Trace:")
        p(LOGLEVEL_DEFAULT, " <TASK>")
        for frame in frames:
            p(LOGLEVEL_DEFAULT, f" {frame}")
        for line in faults._user_regs(k, what):
            p(LOGLEVEL_DEFAULT, line)
        p(LOGLEVEL_DEFAULT, " </TASK>")

    def _record(self, kind, lock, task, at, title=None, owner=None, **extra):
        """The run record's entry (README "The run record"): ``at`` is the call of the
        locking function that went wrong (``f+0x1d/0x2f [mod]``)."""
        rec = {"kind": kind, "title": title or TITLES[kind], "lock": self._name(lock),
               "task": _task(task), "at": at, "owner": _task(owner) if owner else None}
        rec.update(extra)
        self.reported.append(rec)

    # -- helpers -----------------------------------------------------------------------

    def _on(self):
        """debug_locks: off after the first report, and after an oops (oops_enter)."""
        if self.enabled and any(f.kind not in ("warn", "lockup")
                                for f in self.k.faults.reports):
            self.enabled = False
        return self.enabled

    def _held(self, task):
        entry = self.held.get(id(task))
        if entry is None or entry[0] is not task:
            entry = self.held[id(task)] = (task, [])
        return entry[1]

    def _class(self, lock, kind):
        cls = self.classes.get(lock)
        if cls is None:
            cls = self.classes[lock] = LockClass(self._name(lock), kind)
        return cls

    def _name(self, lock):
        name = self.names.get(lock)
        if name:
            return name
        cls = self.classes.get(lock)
        if cls is not None:
            return cls.name
        from ..kallsyms import module_symbol
        for mod in self.k.modules:
            hit = module_symbol(mod, lock)
            if hit is not None:
                sym, off, _ = hit
                return sym if off == 0 else f"{sym}+{off:#x}"
        return f"{lock:016x}"

    def _usage(self, read):
        k = self.k
        from unicorn import x86_const as X
        hard = bool(k.machine.reg(X.UC_X86_REG_EFLAGS) & X86_EFLAGS_IF)
        soft = not (k.sched.preempt_count() & SOFTIRQ_MASK)
        # the usage bits (LOCK_ENABLED_*) of the states enabled as the lock is taken
        return [(state, read) for state, on in (("hardirq", hard), ("softirq", soft)) if on]

    def _ret_ip(self):
        """``_RET_IP_`` of the locking function: the return address on top of the stack."""
        m = self.k.machine
        try:
            return m.read_ptr(m.sp)
        except Exception:
            return m.pc

    def _place(self, addr):
        """``(symbol, home)`` of an address, kept while the same modules are loaded (an
        acquire in a loop symbolises its call site once)."""
        mods = tuple(id(mod) for mod in self.k.modules)
        if self._places[0] != mods:
            self._places = (mods, {})
        cache = self._places[1]
        hit = cache.get(addr)
        if hit is None:
            hit = cache[addr] = (self._sym(addr), self._home(addr))
        return hit

    def _home(self, lock):
        mod = faults.module_of(self.k, lock, whole=True)
        if mod is None or mod.linked is None:
            return None
        img, lay = mod.linked.image, mod.linked.layout
        if img.core_addr <= lock < img.core_addr + lay.core_size:
            return mod, img.core_addr, img.core_addr + lay.core_size
        return mod, img.init_addr, img.init_addr + lay.init_size

    def _sym(self, ip):
        return faults.symbol(self.k, ip) or f"0x{ip:x}"

    def _trace(self):
        """save_trace: the module's frames (symbolised) under the locking function."""
        stack = module_stack(self.k)
        if stack is None:
            return (self._sym(self._ret_ip()),)
        frames = stack.frames()[1:]         # not the locking function itself
        return tuple(f if isinstance(f, str) else faults.backtrace_symbol(self.k, f)
                     for f in frames)

    def _path(self, start, goal):
        """The dependency path start -> ... -> goal (a list of locks), or None (BFS)."""
        if start == goal:
            return [start]
        seen, queue = {start: None}, [start]
        while queue:
            cur = queue.pop(0)
            cls = self.classes.get(cur)
            for nxt in (cls.after if cls is not None else ()):
                if nxt in seen:
                    continue
                seen[nxt] = cur
                if nxt == goal:
                    path = [nxt]
                    while seen[path[-1]] is not None:
                        path.append(seen[path[-1]])
                    return path[::-1]
                queue.append(nxt)
        return None


def _task(task):
    return f"{task.comm}/{task.pid}"


__all__ = ["Lockdep", "HeldLock", "LockClass", "KINDS"]
