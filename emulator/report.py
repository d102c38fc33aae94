"""The run record: what a run did, for graders (``kmodsim run --json``, ``kmodsim script
--json``, ``Kernel.report()``), one versioned JSON object, ``"schema": "kmodsim.run/1"``
(README "The run record" documents every field).

Everything in it comes from the kernel's subsystems as they were left: the syscalls made
(``Kernel.calls``, :class:`Syscall`), the log, the fault reports (``k.faults.reports``,
each kept where emulator.faults prints it), what the debug checks found
(``k.checks``: emulator.checks), the calls kmodsim could not run (``k.kapi.stops``) and
the budgets. Nothing in it depends on the host or the wall clock unless the wall clock cut
the run (``budget.stopped_by`` says so): the same module and arguments give the same
record, byte for byte (``json.dumps(record, sort_keys=True)``).

The exit status is the command line's (emulator.cli.status: a table, data only): the one
``kmodsim run`` exits with for these syscalls.
"""

import errno as _errno
import re
from typing import NamedTuple

from . import faults
from .checks.track import source_at
from .cli.status import status_of

SCHEMA = "kmodsim.run/1"
LOAD_CALLS = ("insmod", "init_module")
UNLOAD_CALLS = ("rmmod", "delete_module")
# log lines of reports that are no oops, and the kind they are (emulator.sched prints them)
LOG_FAULTS = (("BUG: scheduling while atomic", "sched_atomic"),
              ("BUG: sleeping function called from invalid context", "sched_atomic"))
MODULE_FRAME = re.compile(r"^ (?:\? )?(\S+\+0x[0-9a-f]+/0x[0-9a-f]+ \[\S+\])$")


class Syscall(NamedTuple):
    """One syscall the kernel made, as the record needs it: ``lockups`` how many soft
    lockups the kernel had seen after it, ``charged``/``exhausted`` its budget's."""

    syscall: str
    module: str | None
    result: object
    lockups: int
    charged: int
    exhausted: str | None


def build(k):
    """The record (a dict) of everything ``k`` has run so far."""
    outcome, signal, reason = outcome_of(k)
    return {
        "schema": SCHEMA,
        "exit_status": status_of(outcome, signal),
        "outcome": outcome,
        "reason": reason,
        "kernel": {"profile": k.profile.name, "tainted": k.taints.string() if k.taints else "",
                   "panicked": k.faults.panicked},
        "checks": list(k.checks.names),
        "calls": [call_record(c) for c in k.calls],
        # the hobby kernel has a console only (seed 004's monitor_write)
        "dmesg": (k.console_text() if k.profile.kind == "hobby" else k.dmesg()).splitlines(),
        "faults": fault_records(k),
        "leaks": list(k.checks.leaks),
        "memory_errors": list(k.checks.memory_errors),
        "lock_errors": list(k.checks.lock_errors),
        "not_simulated": [{"function": s.function, "caller": s.caller} for s in k.kapi.stops],
        "budget": budget_record(k),
    }


# ---------------------------------------------------------------------------- the calls

def call_record(c):
    r = c.result
    rc = r.rc
    return {"syscall": c.syscall, "module": _module_name(c.module), "rc": rc,
            "errno": _errno.errorcode.get(-rc, str(-rc)) if rc < 0 else None,
            "signal": r.signal, "init_failed": bool(getattr(r, "init_failed", False)),
            "not_simulated": None if r.not_simulated is None else
            {"function": r.not_simulated.function, "caller": r.not_simulated.caller}}


def _module_name(what):
    if not what:
        return None
    base = str(what).rsplit("/", 1)[-1]
    return base[:-3] if base.endswith(".ko") else base


def outcome_of(k):
    """``(outcome, signal, reason)`` as ``kmodsim run`` ends: the first syscall that did
    not go well decides (emulator.cli.status); ``reason`` is its one line."""
    if k.machine.over_limit is not None:
        return "memory", None, str(k.machine.over_limit)
    lockups = 0
    for c in k.calls:
        r, name = c.result, _module_name(c.module)
        if r.not_simulated is not None:
            return "not_simulated", None, r.not_simulated.message
        if r.signal == "panic":
            return "panic", None, f"the kernel panicked: {k.faults.panicked or r.message}"
        if r.signal is not None:
            if c.lockups > lockups:
                limit = k.faults.lockups[c.lockups - 1]
                what = ("the --max-insns budget" if limit == "budget"
                        else "the --timeout wall clock")
                return "budget", r.signal, f"{c.syscall} {name} ran until {what} and was stopped"
            how = {9: "killed (SIGKILL)", 11: "killed (SIGSEGV)"}.get(r.signal, "killed")
            return "killed", r.signal, f"{c.syscall} {name} was {how} by the kernel's oops"
        lockups = c.lockups
        if r.rc < 0:
            err = _errno.errorcode.get(-r.rc, str(-r.rc))
            if c.syscall in LOAD_CALLS and getattr(r, "init_failed", False):
                return "init_failed", None, f"the init of {name} returned -{err}"
            verb = "load" if c.syscall in LOAD_CALLS else "unload"
            return "refused", None, f"the kernel refused to {verb} {name}: {err}"
    return "clean", None, None


# ---------------------------------------------------------------------------- faults

def fault_records(k):
    """Every report emulator.faults made (``k.faults.reports``), then the log's other
    reports (a sleep in atomic context), then the panic if no report covered it."""
    out = [fault_record(k, f) for f in k.faults.reports]
    out += log_faults(k)
    if k.faults.panicked is not None and not any(f["kind"] in ("panic", "stack_protector")
                                                 for f in out):
        out.append({"kind": _panic_kind(k.faults.panicked), "title": k.faults.panicked,
                    "module": None, "in": None, "rip": None, "caller": None, "source": None,
                    "address": None, "access": None, "signal": "panic"})
    return out


def fault_kind(f, panicked=None):
    """The record's kind of a FaultReport: oops, bug, warn, divide, gp, panic, lockup,
    usercopy, stack_protector (``panicked``: the panic's message)."""
    title = f.title or ""
    if f.kind in ("warn", "lockup"):
        return f.kind
    if f.kind == "panic":
        return _panic_kind(f"{title} {panicked or ''}")
    if title.startswith("kernel BUG at mm/usercopy.c"):
        return "usercopy"
    if title.startswith(("kernel BUG", "Kernel BUG")):
        return "bug"
    if title.startswith("divide error"):
        return "divide"
    if title.startswith("general protection fault"):
        return "gp"
    return "oops"


def _panic_kind(message):
    return "stack_protector" if "stack-protector" in (message or "") else "panic"


def fault_record(k, f):
    rip = f.rip
    if f.symbol is not None and f.module:
        where = f"{f.symbol[0]}+{f.symbol[1]:#x}/{f.symbol[2]:#x} [{f.module}]"
    else:
        where = _symbol(k, rip)
    caller = next((a for a, reliable in f.frames if reliable and faults.module_of(k, a)),
                  None)
    if f.symbol is not None and f.module:           # module code (its init may be freed)
        source = source_at(k, rip, f.module)
    else:
        source = source_at(k, caller - 1) if caller else None
    return {"kind": fault_kind(f, k.faults.panicked), "title": f.title, "module": f.module,
            "in": f.what,
            "rip": where, "caller": faults.backtrace_symbol(k, caller) if caller else None,
            "source": source, "address": None if f.addr is None else f"0x{f.addr:016x}",
            "access": f.access, "signal": f.signal}


def log_faults(k):
    """Reports that are log lines only (``BUG: scheduling while atomic``): their kind and
    the first module frame of the Call Trace after them."""
    out = []
    lines = [r.text for r in k.log]
    for i, text in enumerate(lines):
        for prefix, kind in LOG_FAULTS:
            if text.startswith(prefix):
                rip = None
                for line in lines[i + 1:i + 60]:
                    hit = MODULE_FRAME.match(line)
                    if hit:
                        rip = hit.group(1)
                        break
                out.append({"kind": kind, "title": text, "module": None, "in": None,
                            "rip": rip, "caller": None, "source": None, "address": None,
                            "access": None, "signal": None})
    return out


def _symbol(k, addr):
    try:
        return faults.symbol(k, addr) or f"0x{addr:x}"
    except Exception:
        return f"0x{addr:x}"


# ---------------------------------------------------------------------------- budget

def budget_record(k):
    """The limits and what stopped a syscall: ``stopped_by`` is ``max_insns`` (the
    instruction budget), ``timeout`` (the wall clock: ``--timeout``, or the safety net of a
    ``--max-insns`` run, ``wall_clock_safety_net``) or None."""
    stopped = next((c.exhausted for c in k.calls if c.exhausted), None)
    return {"max_insns": k.max_insns or None, "timeout_s": k.timeout_s,
            "charged_insns": sum(c.charged for c in k.calls),
            "stopped_by": {"budget": "max_insns", "timeout": "timeout"}.get(stopped),
            "wall_clock_safety_net": bool(k.max_insns) and stopped == "timeout"}


__all__ = ["SCHEMA", "Syscall", "build", "outcome_of", "fault_kind"]
