"""The exit statuses of ``kmodsim run`` (and what ``script`` shares with it), in one table:
README "Exit statuses" lists the same. Data only (the standard library and .common): the
run record (emulator.report) names its ``exit_status`` from here.

``run`` ends with the first thing that went wrong, in the order it happened: a load the
loader refused, an init that returned an error, a process killed by an oops (the signal as
the shell shows it: 137 SIGKILL for a page fault, 139 SIGSEGV for every ``die()`` path),
a panic, a syscall's budget running out (``--max-insns``, ``--timeout``: the soft-lockup
report, then kmodsim's limit), a call to a kernel function kmodsim cannot run. Each has a
one-line reason on stderr (``kmodsim: ...``) besides what the kernel printed.
"""

from .common import EXIT_MEMORY, EXIT_NOT_SIMULATED

EXIT_OK = 0
EXIT_REFUSED = 1            # kmod's "could not insert/remove module", a file not usable
EXIT_USAGE = 2              # argparse
EXIT_INIT_FAILED = 5
EXIT_PANIC = 6
EXIT_BUDGET = 7
EXIT_SIGKILL, EXIT_SIGSEGV = 128 + 9, 128 + 11

# outcome -> (status, what it means): README "Exit statuses"
STATUSES = {
    "clean": (EXIT_OK, "loaded (and unloaded, with --rmmod) cleanly"),
    "refused": (EXIT_REFUSED, "the loader refused the module (or rmmod was refused), or a "
                              "file could not be used"),
    "usage": (EXIT_USAGE, "a command-line error"),
    "memory": (EXIT_MEMORY, "the run went over its memory limit (--max-memory)"),
    "not_simulated": (EXIT_NOT_SIMULATED, "the module called a kernel function kmodsim cannot "
                                          "run; the run stopped there"),
    "init_failed": (EXIT_INIT_FAILED, "the module's init returned an error (-errno)"),
    "panic": (EXIT_PANIC, "the kernel panicked"),
    "budget": (EXIT_BUDGET, "a syscall ran out of its budget (--max-insns or --timeout): "
                            "the soft-lockup report, then the process was stopped"),
    "killed": (None, "an oops killed the process: 128 + the signal, as a shell shows it "
                     "(137: SIGKILL, a page fault; 139: SIGSEGV, BUG, divide error, general "
                     "protection, invalid opcode)"),
}


def status_of(outcome, signal=None):
    """The exit status of an outcome (``killed``: 128 + ``signal``)."""
    if outcome == "killed":
        return 128 + (signal if isinstance(signal, int) else 9)
    return STATUSES[outcome][0]


__all__ = ["STATUSES", "status_of", "EXIT_OK", "EXIT_REFUSED", "EXIT_USAGE", "EXIT_MEMORY",
           "EXIT_NOT_SIMULATED", "EXIT_INIT_FAILED", "EXIT_PANIC", "EXIT_BUDGET",
           "EXIT_SIGKILL", "EXIT_SIGSEGV"]
