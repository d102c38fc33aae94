"""One budget per syscall: instructions and wall-clock time that nothing escapes.

Each syscall into the simulated kernel (``finit_module``, ``delete_module``, the ``read`` that
runs a ``/proc`` file's show) gets one :class:`Budget` (``k.budget``), made when the syscall
starts and spent by everything that runs on its behalf until it returns:

* module code: Unicorn counts its instructions (``count``), and a timer stops the CPU at the
  deadline. A WARN does not end the run: the report is printed from the CPU's
  invalid-opcode hook and the CPU goes on in the same run (``emulator.faults``), so the
  count and the deadline carry on; an oops ends the run, and the budget is spent either way;
* the kernel's own work for the module (:mod:`emulator.kapi`): every kernel function call
  is charged :data:`CALL_COST` instructions, and long ones charge as they go (string and
  memory functions one instruction per :data:`BYTES_PER_INSN` bytes, printf one per
  conversion, a WARN report :data:`WARN_COST`), checking the budget each time;
* the loader and the rest of the kernel's Python (``load_module``'s steps): a watchdog
  thread raises :class:`BudgetExhausted` in the syscall's thread at the deadline
  (``PyThreadState_SetAsyncExc``), so a loop over a file's contents stops where it is. It
  is suspended while module code runs (the timer and the charges cover that).

When the budget runs out in module code the syscall ends as an endless init does: the
soft-lockup watchdog's report where the real watchdog would give one
(:func:`emulator.faults.soft_lockup`; none for a WARN storm or a loop that sleeps, which
touch the watchdog), and the process is killed; in the loader, the watchdog's line and the
kill (:func:`emulator.faults.kernel_lockup`). ``Budget.exhausted`` says which limit ended it
(``"timeout"`` or ``"budget"``), ``k.faults.lockup_in`` where.

The two limits: ``timeout_s`` (wall clock) and ``max_insns`` (instructions, 0: none). A
run limited by instructions is deterministic, so the wall clock must not cut it first:
with ``max_insns`` and no explicit ``timeout_s``, the wall-clock limit is
:data:`BACKSTOP_S` (a backstop, not the limit). Module instructions of one run are counted
exactly; the kernel's charges are counted against the same limit, and a run of module code
starts with what is left, so one syscall does at most ``max_insns`` module instructions
plus ``max_insns`` of kernel work (a module function that returns normally, such as a
parameter's ``set`` op before init, is bounded by the budget left but not counted after).
Kernel work kmodsim does not redo (a %pV struct formatted again) is charged all the same,
and counts against the wall clock at :data:`INSNS_PER_SECOND`. A ``timeout_s`` of 0 or
None is no wall-clock limit.
"""

import ctypes
import threading
import time

DEFAULT_TIMEOUT_S = 10.0
BACKSTOP_S = 600.0          # the wall clock with --max-insns alone: only a backstop
CALL_COST = 100             # instructions charged for each kernel function called
BYTES_PER_INSN = 8          # a string or memory function: one instruction per 8 bytes
CONVERSION_COST = 50        # each printf conversion (vsnprintf's loop)
WARN_COST = 50_000          # one WARN report (__warn: show_regs, the trace, ~30 printks)
CHUNK = 64 << 10            # the most guest memory a kernel function holds at once
INSNS_PER_SECOND = 10 ** 9  # what skipped kernel work costs on the wall clock (see charge)


def wall_clock_limit(timeout_s, max_insns):
    """The wall-clock limit of a syscall: ``timeout_s`` when given; else 10 s, or with an
    instruction budget only :data:`BACKSTOP_S` (the instructions decide, deterministically)."""
    if timeout_s is not None:
        return timeout_s
    return BACKSTOP_S if max_insns else DEFAULT_TIMEOUT_S


class BudgetExhausted(BaseException):
    """The syscall's budget ran out (``reason``: ``"timeout"`` or ``"budget"``).

    A BaseException, as KeyboardInterrupt is: the loader's ``except Exception`` must not
    swallow it."""

    def __init__(self, reason="timeout"):
        super().__init__(reason)
        self.reason = reason


class Budget:
    """What one syscall may still spend (see the module's docstring)."""

    def __init__(self, max_insns=0, timeout_s=DEFAULT_TIMEOUT_S):
        self.max_insns = max_insns or 0
        self.timeout_s = timeout_s
        self.charged = 0            # kernel work, and module runs that used their whole count
        self.deadline = time.monotonic() + timeout_s if timeout_s else None
        self.exhausted = None       # "timeout" or "budget" once it ran out
        self.skipped_s = 0.0        # kernel work not redone, as wall-clock seconds
        self._watchdog = None

    # -- instructions ------------------------------------------------------------------

    def run_count(self):
        """Unicorn's ``count`` for the next run of module code (0: no limit); an exhausted
        budget gives 1, never 0 (which would be no limit)."""
        if not self.max_insns:
            return 0
        return max(self.max_insns - self.charged, 1)

    def run_used_all(self, count):
        """A run stopped by its ``count``: the instructions are spent."""
        self.charged += count
        self.exhausted = self.exhausted or "budget"

    def charge(self, insns=CALL_COST, skipped=False):
        """Spend ``insns`` of kernel work; raise :class:`BudgetExhausted` if the budget (or
        the wall clock) has run out. ``skipped``: work the kernel does that kmodsim got
        without doing it again (a repeated %pV): it takes the kernel's time, so it counts
        against the wall clock as well, at INSNS_PER_SECOND."""
        self.charged += insns
        if skipped:
            self.skipped_s += insns / INSNS_PER_SECOND
        if self.max_insns and self.charged >= self.max_insns:
            self.exhausted = self.exhausted or "budget"
            raise BudgetExhausted(self.exhausted)
        if self.deadline is not None and time.monotonic() + self.skipped_s >= self.deadline:
            self.exhausted = self.exhausted or "timeout"
            raise BudgetExhausted(self.exhausted)

    def charge_bytes(self, n):
        self.charge(max(n // BYTES_PER_INSN, 1))

    def check(self):
        self.charge(0)

    # -- wall clock --------------------------------------------------------------------

    def remaining_us(self):
        """Microseconds left for the next run of module code (at least 1); 0: no limit."""
        if self.deadline is None:
            return 0
        return max(int((self.deadline - self.skipped_s - time.monotonic()) * 1e6), 1)

    def over(self):
        """Which limit has run out already, or None (no charge)."""
        if self.exhausted:
            return self.exhausted
        if self.max_insns and self.charged >= self.max_insns:
            return "budget"
        if self.deadline is not None and time.monotonic() + self.skipped_s >= self.deadline:
            return "timeout"
        return None

    # -- the watchdog over Python code -------------------------------------------------

    def arm(self):
        """Start the watchdog for the calling thread (see :class:`Watchdog`)."""
        if self.deadline is not None and self._watchdog is None:
            self._watchdog = Watchdog(self)
        return self

    def disarm(self):
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None

    def suspended(self):
        """A context where the watchdog raises nothing (module code runs under its own
        timer and charges; fault reports must not be cut in the middle)."""
        return self._watchdog.suspended() if self._watchdog is not None else _NoGuard()


class _NoGuard:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)
_set_async_exc.restype = ctypes.c_int


class Watchdog:
    """At the budget's deadline, raise BudgetExhausted("timeout") in the thread that armed
    it, wherever its Python code is (and again every :data:`REPEAT_S` until it is
    disarmed, should something swallow it), unless suspended."""

    REPEAT_S = 0.05

    def __init__(self, budget):
        self.budget = budget
        self.thread_id = threading.get_ident()
        self.lock = threading.Lock()
        self.depth = 0              # suspensions in force
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="kmodsim-watchdog", daemon=True)
        self.thread.start()

    def _watch(self):
        wait = max(self.budget.deadline - time.monotonic(), 0)
        while not self.done.wait(wait):
            with self.lock:
                if self.done.is_set():
                    return
                if self.depth == 0:
                    self.budget.exhausted = self.budget.exhausted or "timeout"
                    _set_async_exc(self.thread_id, BudgetExhausted)
            wait = self.REPEAT_S

    def _cancel_pending(self):
        # an exception set but not raised yet in our thread: take it back
        _set_async_exc(self.thread_id, ctypes.py_object())

    def stop(self):
        with self.lock:
            self.done.set()
            if threading.get_ident() == self.thread_id:
                self._cancel_pending()

    class _Suspension:
        def __init__(self, dog):
            self.dog = dog

        def __enter__(self):
            dog = self.dog
            with dog.lock:
                dog.depth += 1
                if threading.get_ident() == dog.thread_id:
                    dog._cancel_pending()
            return self

        def __exit__(self, *exc):
            with self.dog.lock:
                self.dog.depth -= 1
            return False

    def suspended(self):
        return self._Suspension(self)
