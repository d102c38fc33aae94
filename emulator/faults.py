"""What happens when module code breaks, reported as the real kernel reports it.

``run_guarded`` runs a module's init or exit. When the CPU stops on a trap, the report is
printed line for line as 6.1 prints it on x86-64 (tests/realkernel/faults*.real.txt and
../shared/golden show the real thing), in the order of the kernel's own functions:

* a page fault: ``page_fault_oops`` (``show_fault_oops``, then ``__die("Oops")``, the
  ``CR2:`` line, ``oops_end``); the process is killed with SIGKILL (``Killed``, 137) and,
  having faulted with interrupts off, ``note: insmod[N] exited with irqs disabled``;
* a non-canonical address: ``exc_general_protection`` -> ``die_addr`` (Unicorn reports the
  access as unmapped: the address decides); a divide error, an invalid opcode: ``die()``,
  SIGSEGV (``Segmentation fault``, 139);
* a ``ud2`` listed in the module's ``__bug_table``: ``report_bug`` -> ``kernel BUG at F:L!``
  and ``die("invalid opcode")``, or a WARN (``__warn``): the report, taint W, and execution
  goes on after the ``ud2``; ``WARN_ON_ONCE`` marks its entry BUGFLAG_DONE in module memory;
* the stack's guard page: ``handle_stack_overflow`` -> ``die("stack guard page")`` -> a panic;
* an init that never returns: the soft-lockup watchdog's report (``watchdog_timer_fn``), then
  kmodsim kills the process like a fatal signal (the real kernel would spin on: a documented
  choice, so a scenario can go on);
* ``panic()`` (``__stack_chk_fail``, a module calling panic): its lines, then the kernel is
  dead (``Kernel.panicked``) and a scenario stops there, as the real VM does.

A report's Call Trace scans the stack as ``show_trace_log_lvl`` does and confirms return
addresses with the module's ORC tables (:mod:`emulator.unwind`); the kernel frames under the
module (``do_one_initcall`` ...) and the user registers of the syscall are the reference
machine's, as its call traces show them. The Code: line shows module text as the kernel
holds it after load-time patching (ftrace's NOPs; ``apply_returns``' ``ret; int3``).
``explain_fault`` adds, outside the kernel-exact output, the source line, the instructions
around RIP and the relocations behind them (``Kernel.last_fault_report`` holds the facts).
"""

from dataclasses import dataclass, field

from unicorn import UC_ERR_INSN_INVALID, UC_HOOK_INSN_INVALID, UcError
from unicorn import x86_const as X

from linker.bits import MASK64
from linker.load.linkkernel import TAINT_FLAGS
from linker.load.pipeline import LinkedModule
from linker.loglevels import (LOGLEVEL_ALERT, LOGLEVEL_CRIT, LOGLEVEL_EMERG, LOGLEVEL_ERR,
                              LOGLEVEL_INFO,
                              LOGLEVEL_WARNING, MESSAGE_LOGLEVEL_DEFAULT)

from .budget import WARN_COST, BudgetExhausted
from .bugtable import BUGFLAG_DONE, BUGFLAG_NO_CUT_HERE, BUGFLAG_ONCE, BUGFLAG_WARNING, find_bug
from .errors import KernelPanic
from .kapi.guestmem import nonzero_words
from .kallsyms import module_symbol
from .memmap import THREAD_SIZE
from .sources import SourceLine, find_source, printable, source_line, source_roots
from .unwind import FUNCTION_ENTRY, Unwinder, module_orc_table

SIGKILL, SIGSEGV = 9, 11
EXTRA_TRAPS = {}    # a stop reason or vector -> its handler(k, ctx, trap, regs): emulator.traps
HARDWARE = "QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014"
KERNEL_FRAMES = {  # the load and unload paths as the reference kernel's call traces show them
    "init": ("do_one_initcall+0x59/0x220", "do_init_module+0x4a/0x1f0",
             "__do_sys_finit_module+0xac/0x120", "do_syscall_64+0x5d/0xb0",
             "entry_SYSCALL_64_after_hwframe+0x6e/0xd8"),
    "exit": ("__do_sys_delete_module+0x1b9/0x330", "do_syscall_64+0x5d/0xb0",
             "entry_SYSCALL_64_after_hwframe+0x6e/0xd8"),
    # a module's seq_file show, as busybox cat reaches it: sendfile into the /proc file
    # (recorded on the reference kernel with a show function that dereferences NULL)
    "read": ("seq_read_iter+0x122/0x450", "proc_reg_read_iter+0x4d/0x90",
             "generic_file_splice_read+0xda/0x1a0", "splice_direct_to_actor+0xab/0x260",
             "do_splice_direct+0x95/0xe0", "do_sendfile+0x361/0x4e0",
             "__x64_sys_sendfile64+0xaa/0xc0", "do_syscall_64+0x5d/0xb0",
             "entry_SYSCALL_64_after_hwframe+0x6e/0xd8"),
}
# a kthread's function, a work item in a kworker, a timer callback (emulator.sched): no
# syscall under them
KERNEL_FRAMES.update({
    "kthread": ("kthread+0xd7/0x100", "? kthread_complete_and_exit+0x20/0x20",
                "ret_from_fork+0x1f/0x30"),
    "worker": ("process_one_work+0x1c7/0x380", "worker_thread+0x4d/0x380",
               "? rescuer_thread+0x3a0/0x3a0", "kthread+0xd7/0x100",
               "? kthread_complete_and_exit+0x20/0x20", "ret_from_fork+0x1f/0x30"),
    "timer": ("call_timer_fn+0x27/0x130", "__run_timers+0x21c/0x2b0",
              "run_timer_softirq+0x19/0x30", "__do_softirq+0xc5/0x275"),
    "irq": ("__handle_irq_event_percpu+0x46/0x190", "handle_irq_event+0x34/0x70",
            "handle_edge_irq+0x9f/0x240", "__common_interrupt+0x3f/0xa0",
            "common_interrupt+0x7e/0xa0"),
})
SYSCALL_NR = {"init": 0x139, "exit": 0xB0, "read": 0x28}  # finit_module, delete_module, sendfile
# do_init_module's own dump_stack() (its warning sits in a .cold part)
DUMP_STACK_FRAMES = ("dump_stack_lvl+0x44/0x5c", "do_init_module.cold+0x21/0x26") + \
    KERNEL_FRAMES["init"][2:]
# panic()'s own frames above its caller (tests/realkernel/faults5.real.txt), and where the
# kernel functions that call panic() do so
PANIC_FRAMES = ("dump_stack_lvl+0x44/0x5c", "panic+0x118/0x2f4")
PANIC_CALLERS = {"__stack_chk_fail": "__stack_chk_fail+0x10/0x10"}
PANIC_TIMEOUT = -1          # realkernel boots with panic=-1: reboot at once, no end line

# __die_header's flags on the reference kernel (PREEMPT_DYNAMIC, SMP, PTI off: not vulnerable)
DIE_FLAGS = " PREEMPT SMP NOPTI"
# bug_entry (include/asm-generic/bug.h with GENERIC_BUG_RELATIVE_POINTERS, DEBUG_BUGVERBOSE)
INSN_UD2 = b"\x0f\x0b"
CUT_HERE = "------------[ cut here ]------------"
# X86_PF_* error code bits (arch/x86/include/asm/trap_pf.h)
X86_PF_PROT, X86_PF_WRITE, X86_PF_USER, X86_PF_INSTR = 0x1, 0x2, 0x4, 0x10
# __VIRTUAL_MASK: the reference machine runs with 5-level paging (QEMU's -cpu max has LA57:
# its direct map is at ff11..., its vmalloc'ed stacks at ffa0...), so an address is
# canonical when bits 63..56 are all equal
VIRTUAL_MASK = (1 << 56) - 1
# traps that reach die() (arch/x86/kernel/traps.c do_error_trap's strings), by vector
TRAP_NAMES = {0: "divide error", 3: "int3", 4: "overflow", 5: "bounds", 6: "invalid opcode",
              7: "device not available", 12: "stack segment", 13: "general protection fault",
              17: "alignment check"}
# the soft-lockup watchdog (kernel/watchdog.c, watchdog_thresh = 10): its hrtimer fires every
# 2 * thresh / 5 s; a CPU is stuck once the timestamp (running_clock() >> 30, about seconds)
# is more than 2 * thresh past the last touch
WATCHDOG_PERIOD_NS = 4_000_000_000
# where the hrtimer's 4 s ticks fall: lockup_detector_init starts it during boot, a different
# phase each boot (reports at x.55 to x.85 s past a multiple of 4 s; /proc/timer_list: 0.50 to
# 0.82 s, 2.48 s on a slow boot); tests/realkernel/faults7 (26 s) and faults8 (23 s) need
# [0.70, 0.99) s, hostile_loop's boot (22 s) had one below 0.696 (tests/test_hostile.py)
WATCHDOG_PHASE_NS = 750_000_000
SOFTLOCKUP_THRESH = 20
# BUG() in kernel functions kmodsim runs: CONFIG_DEBUG_LIST's checks (with
# CONFIG_BUG_ON_DATA_CORRUPTION, as on the reference kernel) and fortify_panic. The ud2 of
# each, and the 64 bytes of code around it (the Code: line), from the reference kernel's
# image (its __bug_table and text; tests/realkernel/budget5, budget6, budget8)
KERNEL_BUG_SITES = {
    ("lib/string_helpers.c", 1027): (0xffffffff81a1e1db,
        "f0ab3a824889d6e8809cfeff498d7c24e0e8f9ec88ffe9a0d3b1ff4889fe48c7"
        "c7e8ad3a82e8629cfeff0f0b488b542410488b7424084c89e948c7c726ae3a82"),
    # SLUB's set_freepointer BUG_ON(object == fp): a double free (tests/realkernel/heapbugs)
    ("mm/slub.c", 419): (0xffffffff8132e504,
        "5ee9c0e9ffff498b46083e488328010f85b2feffff498b46084c89f7488b4008"
        "e88130ad00e99dfeffff0f0b488b1503bb6e01e9a0fdffff66662e0f1f840000"),
    ("lib/list_debug.c", 23): (0xffffffff81a1e32d,
        "4889da48c7c698b23a824889ef49c7c4f0ffffffe8bf910100e98c70b2ff48c7"
        "c738b33a82e8109bfeff0f0b4889f24889c14889fe48c7c738b43a82e8f99afe"),
    ("lib/list_debug.c", 25): (0xffffffff81a1e37a,
        "c7c7e0b33a82e8e29afeff0f0b4889c148c7c788b33a82e8d19afeff0f0b48c7"
        "c760b33a82e8c39afeff0f0b4889fe48c7c770b43a82e8b29afeff0f0b4889d1"),
    ("lib/list_debug.c", 27): (0xffffffff81a1e36c,
        "feff0f0b4889d14889c64c89c248c7c7e0b33a82e8e29afeff0f0b4889c148c7"
        "c788b33a82e8d19afeff0f0b48c7c760b33a82e8c39afeff0f0b4889fe48c7c7"),
    ("lib/list_debug.c", 30): (0xffffffff81a1e35b,
        "f24889c14889fe48c7c738b43a82e8f99afeff0f0b4889d14889c64c89c248c7"
        "c7e0b33a82e8e29afeff0f0b4889c148c7c788b33a82e8d19afeff0f0b48c7c7"),
    ("lib/list_debug.c", 33): (0xffffffff81a1e344,
        "0100e98c70b2ff48c7c738b33a82e8109bfeff0f0b4889f24889c14889fe48c7"
        "c738b43a82e8f99afeff0f0b4889d14889c64c89c248c7c7e0b33a82e8e29afe"),
    ("lib/list_debug.c", 49): (0xffffffff81a1e38b,
        "c7c788b33a82e8d19afeff0f0b48c7c760b33a82e8c39afeff0f0b4889fe48c7"
        "c770b43a82e8b29afeff0f0b4889d148c7c790b53a824889c2e89e9afeff0f0b"),
    ("lib/list_debug.c", 51): (0xffffffff81a1e3e9,
        "b53a82e8769afeff0f0b4889fe48c7c7d0b43a82e8659afeff0f0b4889fe48c7"
        "c7a0b43a82e8549afeff0f0b4c8b4f20418b74242831c048c7c3a63439828b7f"),
    ("lib/list_debug.c", 53): (0xffffffff81a1e3d8,
        "e88a9afeff0f0b4889fe4889ca48c7c708b53a82e8769afeff0f0b4889fe48c7"
        "c7d0b43a82e8659afeff0f0b4889fe48c7c7a0b43a82e8549afeff0f0b4c8b4f"),
    ("lib/list_debug.c", 56): (0xffffffff81a1e3c7,
        "feff0f0b4889f24889fe48c7c740b53a82e88a9afeff0f0b4889fe4889ca48c7"
        "c708b53a82e8769afeff0f0b4889fe48c7c7d0b43a82e8659afeff0f0b4889fe"),
    ("lib/list_debug.c", 59): (0xffffffff81a1e3b3,
        "feff0f0b4889d148c7c790b53a824889c2e89e9afeff0f0b4889f24889fe48c7"
        "c740b53a82e88a9afeff0f0b4889fe4889ca48c7c708b53a82e8769afeff0f0b"),
    ("lib/list_debug.c", 62): (0xffffffff81a1e39f,
        "e8c39afeff0f0b4889fe48c7c770b43a82e8b29afeff0f0b4889d148c7c790b5"
        "3a824889c2e89e9afeff0f0b4889f24889fe48c7c740b53a82e88a9afeff0f0b"),
}
# where the kernel's string functions fault on memory they cannot reach (their rep movsb,
# rep stosb or load), and the code there as the running kernel holds it (return thunks
# patched out): tests/realkernel/hostile_huge
KERNEL_FAULT_SITES = {
    "memset": (0xFFFFFFFF819FA059,          # memset_erms+0x9: rep stosb
               "01480fafc6f348ab89d1f3aa4c89c8c3cccccccc66662e0f1f840000000000669049"
               "89f94088f04889d1f3aa4c89c8c3cccccccc66662e0f1f84000000000066"),
    "memcpy": (0xFFFFFFFF81A48EA6,          # memcpy_erms+0x6: rep movsb
               "cccccccceb1e0f1f004889f84889d148c1e90383e207f348a589d1f3a4c3cccccccc66"
               "904889f84889d1f3a4c3cccccccc0f1f004889f84883fa20727e4038fe"),
    "memcmp": (0xFFFFFFFF819ECB92,          # memcmp+0x2: its word loop's load
               "c8c3cccccccc410fb648014983c00184c975c131c0ebe44983c0014180380075f6ebf0"
               "0f1f440000eb14488b0648390775174883c7084883c6084883ea084883"),
    "strncpy": (0xFFFFFFFF819EC826,         # strncpy+0x16: its byte store
                "4883c20184c975f1c3cccccccc0f1f80000000004889f84885d2741e4801fa4889f944"
                "0fb6064180f8014488014883deff4883c1014839ca75e8c3cccccccc0f"),
}
# WARN_ONCE()s in the kernel's vsnprintf (lib/vsprintf.c) as printk reaches them
# (tests/realkernel/hostile_printk1): the message's start, the site, the ud2, its code
KERNEL_WARN_SITES = {
    "field width": ("lib/vsprintf.c", 2693, "set_field_width", 0xFFFFFFFF819EE071,
                    "886302c1e8108843034883c4085bc3cccccccc48c7c7ae51418289742404c60572902101"
                    "01e8cf396bff0f0b8b742404ebb70f1f8000000000550fbfc64889fd"),
    "precision": ("lib/vsprintf.c", 2702, "set_precision", 0xFFFFFFFF819EE0D6,
                  "b8ff7f000039c30f4fd8885d06887d075b5dc3cccccccc48c7c7c7514182c6050c90210101"
                  "e86a396bff0f0bebcb660f1f44000089c84154c1f80855534889fb"),
}
PRINTK_WARN_FRAMES = {"field width": ("vsnprintf+0x201/0x550",),
                      "precision": ("vsnprintf+0x251/0x550",)}
PRINTK_FRAMES = ("vprintk_store+0x1c1/0x520", "vprintk_emit+0xec/0x290", "_printk+0x68/0x83")
# %pV nested until the stack overflows (tests/realkernel/hostile_printk3): each level's
# frames, and where the next vsnprintf's prologue touches the guard page
PV_LEVEL_FRAMES = ("va_format.constprop.0+0x8b/0x130", "vsnprintf+0x1a8/0x550")
VSNPRINTF_PROLOGUE = (0xFFFFFFFF819F238E,     # vsnprintf+0xe
                      "4889d14889df4889ea5b5d415c415de9a8eeffff0f1f84000000000041574156415541"
                      "54555348 83ec2048893c2465488b042528000000488944241831c048c7".replace(" ", ""))
KERNEL_FAULT_SITES["__memset"] = KERNEL_FAULT_SITES["memset"]
KERNEL_FAULT_SITES["__memcpy"] = KERNEL_FAULT_SITES["memcpy"]
KERNEL_CODE = {addr: bytes.fromhex(code) for addr, code in
               list(KERNEL_BUG_SITES.values()) + list(KERNEL_FAULT_SITES.values()) +
               [site[3:] for site in KERNEL_WARN_SITES.values()] + [VSNPRINTF_PROLOGUE]}
# __list_del_entry_valid's reads of prev->next and next->prev (a bad pointer faults there)
LIST_DEL_READS = (0xFFFFFFFF8154901F, 0xFFFFFFFF8154902B)
# the reaping shell's path to release_task (tests/realkernel/budget6): wait4
WAIT4_FRAMES = ("release_task+0x408/0x560", "wait_consider_task+0x4f9/0xaa0",
                "do_wait+0xda/0x320", "kernel_wait4+0xb4/0x160", "__do_sys_wait4+0xa2/0xb0",
                "do_syscall_64+0x5d/0xb0", "entry_SYSCALL_64_after_hwframe+0x6e/0xd8")
# sh's fork (clone) adding the new task to the list (tests/realkernel/hostile_tasks1)
CLONE_FRAMES = ("__list_add_rcu+0x12/0x30", "copy_process+0x1494/0x1ae0",
                "kernel_clone+0xbf/0x430", "__do_sys_clone+0x7b/0xb0", "do_syscall_64+0x5d/0xb0",
                "entry_SYSCALL_64_after_hwframe+0x6e/0xd8")
CLONE_USER_REGS = (
    "RIP: 0033:0x4610d3",
    "Code: 1f 84 00 00 00 00 00 64 48 8b 04 25 10 00 00 00 45 31 c0 31 d2 31 f6 bf 11 00 20 01 "
    "4c 8d 90 d0 02 00 00 b8 38 00 00 00 0f 05 <48> 3d 00 f0 ff ff 77 35 89 c2 85 c0 75 2c 64 "
    "48 8b 04 25 10 00 00",
    "RSP: 002b:00007ffc4ccbc1e8 EFLAGS: 00000246 ORIG_RAX: 0000000000000038",
    "RAX: ffffffffffffffda RBX: 0000000000000000 RCX: 00000000004610d3",
    "RDX: 0000000000000000 RSI: 0000000000000000 RDI: 0000000001200011",
    "RBP: 0000000000000000 R08: 0000000000000000 R09: 0000000000000000",
    "R10: 0000000007486690 R11: 0000000000000246 R12: 0000000000000001",
    "R13: 0000000007488840 R14: 0000000000000000 R15: 0000000000000000",
)
WAIT4_USER_REGS = (
    "RIP: 0033:0x460a63",
    "Code: ff ff ff ff e9 0e 00 00 00 66 2e 0f 1f 84 00 00 00 00 00 0f 1f 40 00 80 3d 28 33 18 "
    "00 00 49 89 ca 74 14 b8 3d 00 00 00 0f 05 <48> 3d 00 f0 ff ff 77 5d c3 0f 1f 40 00 48 83 "
    "ec 28 89 54 24 14 48",
    "RSP: 002b:00007ffcb140f398 EFLAGS: 00000202 ORIG_RAX: 000000000000003d",
    "RAX: ffffffffffffffda RBX: 00000000300f5840 RCX: 0000000000460a63",
    "RDX: 0000000000000000 RSI: 00007ffcb140f3bc RDI: 00000000ffffffff",
    "RBP: 0000000000000001 R08: 0000000000000000 R09: 00000000005e2740",
    "R10: 0000000000000000 R11: 0000000000000202 R12: 00000000300f5840",
    "R13: 00000000300f4710 R14: 0000000000000000 R15: 0000000000000001",
)


class KernelStackOverflow(Exception):
    """A kernel function kmodsim runs for module code nested deeper than the kernel stack
    holds (vsnprintf's %pV, ``depth`` levels): handle_stack_overflow, then a panic."""

    def __init__(self, depth, via_printk=True):
        super().__init__(f"kernel stack overflow: %pV {depth} deep")
        self.depth, self.via_printk = depth, via_printk


class KernelBug(Exception):
    """``BUG()`` in a kernel function kmodsim runs for module code (a list check of
    CONFIG_DEBUG_LIST, fortify_panic): its handler prints what the function prints and
    raises this; the report is report_bug's and die("invalid opcode")'s at the function's
    own ``ud2`` (KERNEL_BUG_SITES), and the calling process gets SIGSEGV."""

    def __init__(self, file, line):
        super().__init__(f"kernel BUG at {file}:{line}!")
        self.file, self.line = file, line


@dataclass
class FaultState:
    """``k.faults``: what the kernel's fault paths remember between reports."""

    running: "Context | None" = None          # the module code running now, if any
    oops_count: int = 0                       # die_counter
    exec_summary_regs: dict | None = None     # the first oops's registers
    panicked: str | None = None               # the panic message: the kernel is dead
    panic_timeout: int = PANIC_TIMEOUT
    lockups: list = field(default_factory=list)   # "timeout"/"budget": what ended each endless run
    lockup_in: str | None = None              # where the last one was: module code, kernel, loader
    watchdog_touched: bool = False            # the running code touched the watchdog
    kernel_fault: tuple | None = None         # (kernel function address, exception) of the last one
    cr2: int = 0                              # the last page fault's address
    code_cr2: int | None = None               # CR2 after the oops code's own failed read, if any
    last_trace: list = field(default_factory=list)   # (address, reliable) of the last Call Trace
    last_fault_report: "FaultReport | None" = None
    reports: list = field(default_factory=list)   # every FaultReport, in order (emulator.report)
    cr3_hooks: dict = field(default_factory=dict)   # id(module) -> Unicorn hooks on its CR3 writes


@dataclass
class Outcome:
    value: int = 0
    signal: int | str | None = None


@dataclass
class Context:
    """Which module code was running, and for which syscall (``init``: finit_module,
    ``exit``: delete_module): that decides the kernel frames under the module's."""

    mod: object
    what: str


@dataclass
class Trap:
    """Why the CPU stopped: ``kind`` is page_fault, gp, trap (a vector), stack_guard,
    lockup or kernel_fault; ``access``/``addr`` for memory faults."""

    kind: str
    rip: int
    vector: int | None = None
    access: str | None = None
    addr: int | None = None


@dataclass
class FaultReport:
    """What the last report was about, for ``explain_fault`` and notebooks."""

    kind: str
    title: str
    module: str | None
    what: str
    rip: int
    regs: dict
    addr: int | None = None
    access: str | None = None
    frames: list = field(default_factory=list)     # (address, reliable) of the Call Trace
    signal: int | str | None = None
    symbol: tuple | None = None     # (name, offset, size) of RIP, kept: init may be freed


# --------------------------------------------------------------------------- running

def run_guarded(k, mod, func, what, args=(), sentinel=None):
    """Call ``func`` (init or exit of ``mod``, or a function of it a read runs) with
    ``args``, returning to ``sentinel`` (default: do_one_initcall's return address); a
    trap becomes its report and an Outcome.

    A WARN resumes the code after its ``ud2``; anything else ends the call: Outcome.signal
    is the signal that killed the caller, or ``"panic"``.
    """
    ctx = Context(mod, what)
    k.faults.running = ctx
    k.faults.watchdog_touched = False
    try:
        with k.budget.suspended():      # module code has its own limits; reports are whole
            return _run(k, ctx, func, args, sentinel)
    finally:
        k.faults.running = None


def _run(k, ctx, func, args=(), sentinel=None):
    m = k.machine
    resume = None
    while True:
        try:
            if resume is None:
                value = k.call(func, args, sentinel)
            else:
                value = _resume(k, resume)
        except KernelPanic:
            return Outcome(0, "panic")
        except UcError as exc:
            trap = _trap_from_error(k, exc)
        else:
            if m.stop_reason == "returned":
                return Outcome(value)
            trap = _trap_from_stop(k)
        result = handle_trap(k, ctx, trap)
        if isinstance(result, Outcome):
            if result.signal is not None and ctx.what == "exit":
                # try_stop_module took the reference count to zero before exit ran: the
                # module stays listed, Unloading, with a count of -1 (kmodsim's delete_module
                # drops it only when it frees the module)
                ctx.mod.refcnt -= 1
            return result
        resume = result


def _resume(k, pc):
    """Go on from ``pc`` on the same stack until the call returns (after a WARN the hook
    did not take, see hook_warnings), on what is left of the syscall's budget."""
    m = k.machine
    if k.debugger is not None:      # it drives the run, as in Kernel.call
        k.debugger.run_call(k, pc, k.sentinel)
    else:
        k.run_budgeted(pc)
    if m.pc == k.sentinel and m.stop_reason in (None, "timeout", "budget"):
        m.stop_reason = "returned"
    return m.reg(m.RET)


def hook_warnings(k):
    """A WARN in module code is reported from the CPU's invalid-opcode hook and the CPU goes
    on after its ``ud2`` in the same run, as ``__warn`` returns to the code: the run's
    instruction count and deadline carry on (a WARN storm spends the syscall's budget;
    each report is charged WARN_COST). Anything else that is not an instruction stops the
    CPU as before (a BUG, a ``ud2`` of no table, a bad opcode)."""
    k.machine.uc.hook_add(UC_HOOK_INSN_INVALID, lambda uc, user: _on_invalid_insn(k))


def _on_invalid_insn(k):
    ctx = k.faults.running
    if ctx is None or k.faults.panicked is not None:
        return False
    m = k.machine
    try:
        rip = m.pc
        if m.read(rip, 2) != INSN_UD2:
            return False
        entry = find_bug(k, rip)
        if entry is None or not entry.flags & BUGFLAG_WARNING:
            return False
        report_bug(k, ctx, rip, _regs(m, rip))
        touch_watchdog(k)       # the report's stack dump (printk_stack_address)
        m.set_reg(m.IP, rip + len(INSN_UD2))
        k.budget.charge(WARN_COST)
    except BudgetExhausted as exc:
        m.stop(exc.reason)          # on to the soft-lockup report
    except Exception:               # nothing may escape a Unicorn hook: the stop path reports
        return False
    return True


def _trap_from_error(k, exc):
    m = k.machine
    rip = m.pc
    if exc.errno == UC_ERR_INSN_INVALID:
        return Trap("trap", rip, vector=6)
    if m.last_fault is not None:
        access, addr = m.last_fault[0], m.last_fault[1]
        return _memory_trap(k, rip, access, addr)
    return Trap("trap", rip, vector=13)     # anything else the CPU refused: a #GP


def _trap_from_stop(k):
    m = k.machine
    reason = m.stop_reason or ""
    if reason == "kernel fault":
        rip, exc = k.faults.kernel_fault
        if isinstance(exc, KernelBug):
            return Trap("kernel_bug", rip)
        if isinstance(exc, KernelStackOverflow):
            return Trap("kernel_stack", rip)
        addr = getattr(exc, "addr", None)        # MemoryFault, HeapError carry one
        access = getattr(exc, "access", "read")  # MemoryFault says which
        if addr is None:
            return Trap("kernel_fault", rip, access="read", addr=rip)
        site = KERNEL_FAULT_SITES.get(k.kapi.names.get(rip))
        if site is not None and k.profile.kind == "linux":
            rip = site[0]           # the instruction of the real function that faults
        trap = _memory_trap(k, rip, "write" if access == "write" else "read", addr)
        return trap
    if reason.startswith("interrupt "):
        return Trap("trap", m.pc, vector=int(reason.split()[1]))
    if reason in EXTRA_TRAPS:       # hlt, a triple fault (emulator.traps)
        return Trap(reason, m.pc)
    return Trap("lockup", m.pc)    # the wall-clock limit or the instruction budget


def _memory_trap(k, rip, access, addr):
    if not is_canonical(addr):
        return Trap("gp", rip, access=access, addr=addr)
    if on_guard_page(k, addr):
        return Trap("stack_guard", rip, access=access, addr=addr)
    return Trap("page_fault", rip, access=access, addr=addr)


def is_canonical(addr):
    """Bits 63..56 all equal (get_kernel_gp_address's test, with 5-level paging)."""
    addr &= MASK64
    return addr <= VIRTUAL_MASK or addr >= (MASK64 ^ VIRTUAL_MASK)


def on_guard_page(k, addr):
    """``get_stack_guard_info``: the page just below the task's (vmap'ed) stack."""
    bottom, _ = stack_bounds(k)
    return bottom is not None and bottom - 4096 <= addr < bottom


def handle_trap(k, ctx, trap):
    """Report ``trap``; an Outcome ends the call, an int is where the code goes on."""
    regs = _regs(k.machine, trap.rip)
    if (extra := EXTRA_TRAPS.get(trap.kind, EXTRA_TRAPS.get(trap.vector))) is not None:
        return extra(k, ctx, trap, regs)
    if trap.kind in ("page_fault", "kernel_fault"):
        return page_fault_oops(k, ctx, regs, trap.access, trap.addr)
    if trap.kind == "gp":
        return general_protection(k, ctx, regs, trap.addr)
    if trap.kind == "stack_guard":
        return handle_stack_overflow(k, ctx, regs, trap.addr)
    if trap.kind == "lockup":
        return soft_lockup(k, ctx, regs)
    if trap.kind == "kernel_bug":
        return kernel_bug(k, ctx, k.faults.kernel_fault[1])
    if trap.kind == "kernel_stack":
        return kernel_stack_overflow(k, ctx, k.faults.kernel_fault[1])
    if trap.vector == 6:
        return invalid_op(k, ctx, regs)
    name = TRAP_NAMES.get(trap.vector, f"trap {trap.vector}")
    if trap.vector == 13:
        return general_protection(k, ctx, regs, None)
    return die(k, ctx, name, regs, 0)


# --------------------------------------------------------------------------- traps

def page_fault_oops(k, ctx, regs, access, address):
    """``page_fault_oops``: show_fault_oops, __die("Oops"), the CR2 line, oops_end."""
    m = k.machine
    error = _error_code(m, access, address)
    oops_begin(k)
    if error & X86_PF_INSTR:
        region = m.region_of(address)
        if region is not None and not region.perms & 4:   # present, not executable
            k.printk(LOGLEVEL_CRIT, "kernel tried to execute NX-protected page - exploit attempt? "
                                "(uid: 0)")
    if address < 4096:
        k.printk(LOGLEVEL_ALERT, f"BUG: kernel NULL pointer dereference, address: {address:016x}")
    else:
        k.printk(LOGLEVEL_ALERT, f"BUG: unable to handle page fault for address: {address:016x}")
    kind = ("instruction fetch" if error & X86_PF_INSTR else
            "write access" if error & X86_PF_WRITE else "read access")
    k.printk(LOGLEVEL_ALERT, f"#PF: supervisor {kind} in kernel mode")
    why = "permissions violation" if error & X86_PF_PROT else "not-present page"
    k.printk(LOGLEVEL_ALERT, f"#PF: error_code(0x{error:04x}) - {why}")
    k.printk(LOGLEVEL_INFO, _page_walk(m, address))
    k.faults.cr2 = address
    _die(k, ctx, "Oops", regs, error)
    k.printk(MESSAGE_LOGLEVEL_DEFAULT, f"CR2: {address:016x}")
    return oops_end(k, ctx, regs, SIGKILL, irqs_off=True, addr=address, access=access,
                    title=f"page fault ({kind}, {why})")


def general_protection(k, ctx, regs, address):
    """``exc_general_protection``: the address the instruction used decides the hint."""
    if address is None:
        title = "general protection fault"
    elif is_canonical(address):
        title = f"general protection fault, maybe for address 0x{address:x}"
    else:
        title = f"general protection fault, probably for non-canonical address 0x{address:x}"
    return die(k, ctx, title, regs, 0, addr=address)


def invalid_op(k, ctx, regs):
    """``exc_invalid_op``: a ``ud2`` in the bug table is a BUG or a WARN (``handle_bug``)."""
    m = k.machine
    rip = regs["RIP"]
    try:
        is_ud2 = m.read(rip, 2) == INSN_UD2
    except Exception:
        is_ud2 = False
    kind = report_bug(k, ctx, rip, regs) if is_ud2 else None
    if kind == "warn":
        return rip + len(INSN_UD2)
    entry = find_bug(k, rip) if kind == "bug" else None
    about = f"kernel BUG at {entry.file}:{entry.line}" if entry and entry.file else None
    return die(k, ctx, "invalid opcode", regs, 0, about=about)


def kernel_bug(k, ctx, bug):
    """BUG() inside a kernel function module code called (KernelBug): report_bug's lines
    and die("invalid opcode") with RIP at the function's ``ud2``; the trace starts at the
    module code that called it (the CPU is at the function's entry, the return address on
    top of the stack)."""
    site = KERNEL_BUG_SITES.get((bug.file, bug.line), (k.machine.pc, ""))[0]
    ctx.trace_prefix = getattr(bug, "frames", ())   # the kernel frames above the module's
    k.printk(MESSAGE_LOGLEVEL_DEFAULT, CUT_HERE)
    k.printk(LOGLEVEL_CRIT, f"kernel BUG at {bug.file}:{bug.line}!")
    return die(k, ctx, "invalid opcode", _regs(k.machine, site), 0,
               about=f"kernel BUG at {bug.file}:{bug.line}")


def kernel_stack_overflow(k, ctx, exc):
    """A kernel function nested until the task's stack ran into its guard page
    (KernelStackOverflow): ``handle_stack_overflow``'s line, die("stack guard page") with RIP
    at the prologue of the next vsnprintf and the nested frames down to the module, then
    (on the double-fault stack) the panic."""
    m = k.machine
    bottom, top = stack_bounds(k)
    address = bottom - 0x18                 # the prologue's first store below the stack
    k.printk(LOGLEVEL_EMERG, f"BUG: TASK stack guard page was hit at {hashed(address)} "
                             f"(stack is {hashed(bottom)}..{hashed(top)})")
    oops_begin(k)
    regs = _regs(m, VSNPRINTF_PROLOGUE[0])
    regs["RSP"] = bottom - 8
    k.faults.cr2 = address
    if k.faults.oops_count == 0:
        k.faults.exec_summary_regs = dict(regs)
    k.faults.oops_count += 1
    k.printk(MESSAGE_LOGLEVEL_DEFAULT, f"stack guard page: 0000 [#{k.faults.oops_count}]{DIE_FLAGS}")
    cpu_line(k)
    regs_block(k, regs)
    prefix = PV_LEVEL_FRAMES * exc.depth + (PRINTK_FRAMES if exc.via_printk else ())
    unwinder = module_unwinder(k)
    k.faults.last_trace = show_trace(k, ctx, unwinder, unwinder.start_at_call(m.sp), m.sp,
                                     prefix=prefix)
    print_modules(k)
    return oops_end(k, ctx, regs, SIGKILL, in_interrupt=True, title="stack guard page",
                    addr=address)


def release_task_bug(k, reaper, problem, path="wait4"):
    """The task list was found corrupt by ``reaper`` (the shell): reaping a task in wait4
    (release_task's list_del) or forking one (``path`` "clone": copy_process's list_add).
    CONFIG_DEBUG_LIST's check BUG()s (``problem``: the line of lib/list_debug.c and what it
    printed), or the kernel faults on a pointer it follows (``problem``: a MemoryFault).
    The shell dies holding tasklist_lock with interrupts off: nothing can fork or exit any
    more, and the kernel is as dead as after a panic (tests/realkernel/budget6, budget7,
    hostile_tasks1: realkernel's VM hangs there)."""
    frames, user = (CLONE_FRAMES, CLONE_USER_REGS) if path == "clone" else \
        (WAIT4_FRAMES, WAIT4_USER_REGS)
    ctx = Context(None, path)
    regs = {"RIP": 0, "RSP": 0xFFA00000005A3A68, "EFLAGS": 0x46, "RAX": 0, "RBX": 0,
            "RCX": 0xC0000000FFFFEFFF, "RDX": 0, "RSI": 0xFFFFEFFF, "RDI": 1, "RBP": 0,
            "R08": 0, "R09": 0xFFA00000005A3900, "R10": 3, "R11": 0xFFFFFFFF82AD4448,
            "R12": 0x11, "R13": 0, "R14": 0, "R15": 0}
    if isinstance(problem, Exception):       # a pointer it followed is not mapped
        addr = getattr(problem, "addr", 0) or 0
        regs["RIP"] = LIST_DEL_READS[0]
        oops_begin(k)
        k.printk(LOGLEVEL_ALERT, f"BUG: unable to handle page fault for address: {addr:016x}"
                 if addr >= 4096 else
                 f"BUG: kernel NULL pointer dereference, address: {addr:016x}")
        k.printk(LOGLEVEL_ALERT, "#PF: supervisor read access in kernel mode")
        k.printk(LOGLEVEL_ALERT, "#PF: error_code(0x0000) - not-present page")
        k.printk(LOGLEVEL_INFO, "PGD 0 P4D 0 ")
        k.faults.cr2 = addr
        title, about = "Oops", "page fault in release_task's list_del"
    else:
        line, message = problem
        k.printk(LOGLEVEL_ERR, message)
        k.printk(MESSAGE_LOGLEVEL_DEFAULT, CUT_HERE)
        k.printk(LOGLEVEL_CRIT, f"kernel BUG at lib/list_debug.c:{line}!")
        oops_begin(k)
        regs["RIP"] = KERNEL_BUG_SITES.get(("lib/list_debug.c", line), (0, ""))[0]
        title, about = "invalid opcode", f"kernel BUG at lib/list_debug.c:{line}"
    if k.faults.oops_count == 0:
        k.faults.exec_summary_regs = dict(regs)
    k.faults.oops_count += 1
    k.printk(MESSAGE_LOGLEVEL_DEFAULT, f"{title}: 0000 [#{k.faults.oops_count}]{DIE_FLAGS}")
    cpu_line(k)
    regs_block(k, regs)
    k.printk(MESSAGE_LOGLEVEL_DEFAULT, "Call Trace:")
    k.printk(MESSAGE_LOGLEVEL_DEFAULT, " <TASK>")
    for frame in frames:
        k.printk(MESSAGE_LOGLEVEL_DEFAULT, f" {frame}")
    for line in user:
        k.printk(MESSAGE_LOGLEVEL_DEFAULT, line)
    k.printk(MESSAGE_LOGLEVEL_DEFAULT, " </TASK>")
    print_modules(k)
    k.add_taint("D", True)
    k.printk(LOGLEVEL_WARNING, "---[ end trace 0000000000000000 ]---")
    regs_block(k, k.faults.exec_summary_regs or regs)
    _record(k, ctx, "oops", about, regs, signal=SIGSEGV, frames=[])
    k.printk(LOGLEVEL_INFO, f"note: {reaper.comm}[{reaper.pid}] exited with irqs disabled")
    depth = 2 if path == "clone" else 3       # the locks it held (tasklist_lock, ...)
    k.printk(LOGLEVEL_INFO, f"note: {reaper.comm}[{reaper.pid}] exited with preempt_count {depth}")
    where = "copy_process" if path == "clone" else "release_task"
    k.faults.panicked = (f"kmodsim: the kernel hung: {reaper.comm}[{reaper.pid}] died in "
                         f"{where} holding tasklist_lock")


def report_bug(k, ctx, bugaddr, regs):
    """``report_bug``: ``"warn"``, ``"bug"`` or None (not in any bug table)."""
    entry = find_bug(k, bugaddr)
    if entry is None:
        return None
    warning, once = entry.flags & BUGFLAG_WARNING, entry.flags & BUGFLAG_ONCE
    if warning and once:
        if entry.flags & BUGFLAG_DONE:
            return "warn"
        entry.set_flags(k.machine, entry.flags | BUGFLAG_DONE)
    if not entry.flags & BUGFLAG_NO_CUT_HERE:
        k.printk(MESSAGE_LOGLEVEL_DEFAULT, CUT_HERE)
    if warning:
        warn(k, ctx, entry, bugaddr, regs)
        return "warn"
    if entry.file is not None:
        k.printk(LOGLEVEL_CRIT, f"kernel BUG at {entry.file}:{entry.line}!")
    else:
        k.printk(LOGLEVEL_CRIT, f"Kernel BUG at {backtrace_symbol(k, bugaddr)} "
                            f"[verbose debug info unavailable]")
    return "bug"


def warn(k, ctx, entry, bugaddr, regs):
    """``__warn``: the WARNING line, the modules, show_regs, the end marker, then the taint."""
    where = f"{entry.file}:{entry.line} " if entry.file is not None else ""
    k.printk(LOGLEVEL_WARNING, f"WARNING: CPU: 0 PID: {k.tasks.current.pid} at {where}"
                           f"{symbol(k, bugaddr)}")
    print_modules(k)
    show_regs(k, ctx, regs)
    k.printk(LOGLEVEL_WARNING, "---[ end trace 0000000000000000 ]---")
    k.add_taint(_taint_letter(entry.flags >> 8), False)
    _record(k, ctx, "warn", f"WARNING at {where.strip() or symbol(k, bugaddr)}", regs)


def handle_stack_overflow(k, ctx, regs, address):
    """``handle_stack_overflow``: the guard page line (``%p``: hashed pointers), ``die()``;
    the oops happened on the double-fault stack, so oops_end panics."""
    bottom, top = stack_bounds(k)
    k.printk(LOGLEVEL_EMERG, f"BUG: TASK stack guard page was hit at {hashed(address)} "
                         f"(stack is {hashed(bottom)}..{hashed(top)})")
    return die(k, ctx, "stack guard page", regs, 0, in_interrupt=True)


def touch_watchdog(k):
    """``touch_softlockup_watchdog``/``touch_nmi_watchdog``, or a schedule() that lets the
    watchdog's stopper run: the CPU is not stuck as far as the watchdog can tell."""
    k.faults.watchdog_touched = True


def soft_lockup(k, ctx, regs):
    """``watchdog_timer_fn``'s report for a CPU stuck in module code, then the process is
    killed (kmodsim's choice: the real kernel keeps spinning and reports every ~20 s).
    ``regs`` are where the run stopped; the report shows where the timer interrupt lands.

    The report comes only where the real watchdog would give it: a run that kept touching
    the watchdog (a WARN storm: each report's stack dump touches it; a loop that calls
    cond_resched or sleeps) or that is stuck inside a kernel function kmodsim runs (printk's
    vsnprintf runs with interrupts off) is never reported by the kernel; kmodsim ends it at
    its budget all the same, silently (tests/realkernel/hostile_storm, hostile_preempt)."""
    m = k.machine
    # which of kmodsim's limits stopped the CPU (the CLI names it; the report is the kernel's)
    reason = m.stop_reason if m.stop_reason in ("timeout", "budget") else \
        k.budget.exhausted or "budget"
    k.budget.exhausted = k.budget.exhausted or reason
    k.budget.disarm()       # the syscall ends here: what is left of it must not be cut
    k.faults.lockups.append(reason)
    in_kernel = m.pc in k.kapi.names or m.pc in k.kapi.handlers
    k.faults.lockup_in = "kernel" if in_kernel else "module"
    if in_kernel or k.faults.watchdog_touched:
        return Outcome(0, SIGKILL)
    # stopped in a kernel function kmodsim runs: the report shows it there (running on
    # would call it again)
    regs = _regs(m, m.pc if in_kernel else _interrupt_point(k))
    stuck = _advance_to_watchdog(k)
    k.printk(LOGLEVEL_EMERG, f"watchdog: BUG: soft lockup - CPU#0 stuck for {stuck}s! "
                         f"[{k.tasks.current.comm}:{k.tasks.current.pid}]")
    print_modules(k)
    show_regs(k, ctx, regs)
    k.add_taint("L", False)
    _record(k, ctx, "lockup", "soft lockup", regs, signal=SIGKILL)
    return Outcome(0, SIGKILL)


def kernel_lockup(k, reason):
    """The syscall's budget ran out in the kernel's own code (the loader's steps), outside
    any module code: the watchdog's line for the process, the modules, the CPU line, and
    the process is killed (SIGKILL), as after an endless init. Returns the signal."""
    k.budget.exhausted = k.budget.exhausted or reason
    k.faults.lockups.append(reason)
    k.faults.lockup_in = "loader"
    stuck = _advance_to_watchdog(k)
    k.printk(LOGLEVEL_EMERG, f"watchdog: BUG: soft lockup - CPU#0 stuck for {stuck}s! "
                             f"[{k.tasks.current.comm}:{k.tasks.current.pid}]")
    print_modules(k)
    cpu_line(k)
    k.add_taint("L", False)
    return SIGKILL


# --------------------------------------------------------------------------- die

def console_verbose(k):
    """``console_verbose()``: from now on the console shows every level (oops, panic)."""
    k.log.console_verbose()
    k.faults.code_cr2 = None


def oops_begin(k):
    """``oops_begin``/``oops_enter``: the console turns verbose and lock debugging is switched
    off quietly (so the D taint later prints no 'Disabling lock debugging' line)."""
    console_verbose(k)
    k.log.once.add("lockdep")


def _die(k, ctx, title, regs, err):
    """``__die``: ``__die_header`` and ``__die_body``: the title line, show_regs, the modules."""
    if k.faults.oops_count == 0:
        k.faults.exec_summary_regs = dict(regs)   # the executive summary shows the first oops
    k.faults.oops_count += 1
    k.printk(MESSAGE_LOGLEVEL_DEFAULT, f"{title}: {err & 0xFFFF:04x} [#{k.faults.oops_count}]{DIE_FLAGS}")
    show_regs(k, ctx, regs)
    print_modules(k)


def die(k, ctx, title, regs, err, in_interrupt=False, addr=None, about=None):
    """``die()``: oops_begin, __die, oops_end with SIGSEGV. ``about`` titles the
    last_fault_report when ``title`` says less (a BUG is an "invalid opcode")."""
    oops_begin(k)
    _die(k, ctx, title, regs, err)
    return oops_end(k, ctx, regs, SIGSEGV, in_interrupt=in_interrupt, title=about or title,
                    addr=addr)


def oops_end(k, ctx, regs, signal, irqs_off=False, in_interrupt=False, title="Oops",
             addr=None, access=None):
    """``oops_end``: taint D, the end marker, the executive summary (the first oops's
    registers), then the task dies (``make_task_dead``) or, in interrupt, the kernel panics."""
    in_interrupt = in_interrupt or k.sched.atomic > 0     # a timer callback (emulator.sched)
    k.add_taint("D", True)
    k.printk(LOGLEVEL_WARNING, "---[ end trace 0000000000000000 ]---")
    summary = k.faults.exec_summary_regs or regs
    regs_block(k, summary)
    _record(k, ctx, "oops", title, regs, signal="panic" if in_interrupt else signal,
            addr=addr, access=access)
    if in_interrupt:
        panic(k, "Fatal exception in interrupt", raise_=False)
        return Outcome(0, "panic")
    if irqs_off:
        k.printk(LOGLEVEL_INFO, f"note: {k.tasks.current.comm}[{k.tasks.current.pid}] exited with irqs disabled")
    return Outcome(0, signal)


def print_modules(k):
    k.printk(MESSAGE_LOGLEVEL_DEFAULT, f"Modules linked in: {modules_linked_in(k)}")


def modules_linked_in(k):
    """``print_modules()``'s list: ``oops_mod(OE+) [last unloaded: cmd_mod(OE)]``."""
    out = "".join(f" {m.name}{m.flags()}" for m in k.modules if m.state != "UNFORMED")
    if k.loader.last_unloaded:
        out += f" [last unloaded: {k.loader.last_unloaded[0]}{k.loader.last_unloaded[1]}]"
    return out.lstrip()


# --------------------------------------------------------------------------- panic

def panic(k, message, raise_=True):
    """``panic()``: the message, a stack dump (unless an oops already printed one), the
    x86 notifier's ``Kernel Offset`` line; with panic=-1 the machine restarts before the end
    marker. The kernel is dead from here (``Kernel.panicked``); raises KernelPanic."""
    console_verbose(k)
    k.printk(LOGLEVEL_EMERG, f"Kernel panic - not syncing: {message}")
    if "D" not in k.taints:
        panic_stack(k)
    k.printk(LOGLEVEL_EMERG, "Kernel Offset: disabled")
    if k.faults.panic_timeout == 0:
        k.printk(LOGLEVEL_EMERG, f"---[ end Kernel panic - not syncing: {message} ]---")
    k.faults.panicked = message
    if raise_:
        raise KernelPanic(message)


def panic_stack(k):
    """panic()'s dump_stack: from a kernel function that module code called (the CPU sits
    at its entry, the return address at [rsp]) the module frames follow; otherwise the
    frames of the load path."""
    m = k.machine
    ctx = k.faults.running
    caller = None
    try:
        caller = m.read_ptr(m.sp)
    except Exception:
        pass
    if ctx is None or caller is None or module_of(k, caller) is None:
        return dump_stack(k, PANIC_FRAMES + KERNEL_FRAMES["init"][1:])
    cpu_line(k)
    name = k.kapi.names.get(m.pc)
    prefix = list(PANIC_FRAMES)
    if name and name != "panic":
        prefix.append(PANIC_CALLERS.get(name) or symbol(k, m.pc) or f"0x{m.pc:x}")
    unwinder = module_unwinder(k)
    state = unwinder.start_at_call(m.sp)
    frames = show_trace(k, ctx, unwinder, state, m.sp, prefix=prefix)
    _record(k, ctx, "panic", f"panic in {name or 'the kernel'}", _regs(m, caller),
            signal="panic", frames=frames)


# --------------------------------------------------------------------------- show_regs

def cpu_line(k):
    """``dump_stack_print_info``: the CPU line (Debian adds its version) and the machine."""
    p = k.profile
    tainted = f"Tainted: {k.taints.string()}" if k.taints else "Not tainted"
    k.printk(MESSAGE_LOGLEVEL_DEFAULT, f"CPU: 0 PID: {k.tasks.current.pid} Comm: {k.tasks.current.comm} "
                                 f"{tainted} {p.release or p.name} {_uname_suffix(p)}")
    k.printk(MESSAGE_LOGLEVEL_DEFAULT, f"Hardware name: {HARDWARE}")


def show_regs(k, ctx, regs):
    """``show_regs``: the CPU line, the registers, the Call Trace of the kernel stack."""
    cpu_line(k)
    regs_block(k, regs)
    unwinder = module_unwinder(k)
    state = unwinder.start(regs)
    frames = show_trace(k, ctx, unwinder, state, regs["RSP"],
                        prefix=getattr(ctx, "trace_prefix", ()))
    k.faults.last_trace = frames


def regs_block(k, regs):
    """``__show_regs`` (SHOW_REGS_ALL): RIP, Code, the registers, segments, control regs."""
    p = k.printk
    rip = regs["RIP"]
    if k.machine.bits == 32:
        return regs_block_i386(k, regs)
    p(MESSAGE_LOGLEVEL_DEFAULT, f"RIP: 0010:{symbol(k, rip) or f'0x{rip:x}'}")
    p(MESSAGE_LOGLEVEL_DEFAULT, code_line(k, rip))
    p(MESSAGE_LOGLEVEL_DEFAULT, f"RSP: 0018:{regs['RSP']:016x} EFLAGS: {regs['EFLAGS']:08x}")
    for row in (("RAX", "RBX", "RCX"), ("RDX", "RSI", "RDI"), ("RBP", "R08", "R09"),
                ("R10", "R11", "R12"), ("R13", "R14", "R15")):
        p(MESSAGE_LOGLEVEL_DEFAULT, " ".join(f"{r}: {regs[r]:016x}" for r in row))
    p(MESSAGE_LOGLEVEL_DEFAULT, "FS:  0000000000000000(0000) GS:ff1100001f200000(0000) "
                          "knlGS:0000000000000000")
    p(MESSAGE_LOGLEVEL_DEFAULT, "CS:  0010 DS: 0000 ES: 0000 CR0: 0000000080050033")
    p(MESSAGE_LOGLEVEL_DEFAULT, f"CR2: {k.faults.cr2:016x} CR3: 0000000006074000 "
                          f"CR4: 0000000000751ef0")
    p(MESSAGE_LOGLEVEL_DEFAULT, "PKRU: 55555554")


def regs_block_i386(k, regs):
    """i386's ``__show_regs`` (the hobby kernel runs 32-bit): EIP, Code, the registers,
    the segment selectors as the CPU has them, CR2."""
    p = k.printk
    eip = regs["EIP"]
    p(MESSAGE_LOGLEVEL_DEFAULT, f"EIP: {symbol(k, eip) or f'0x{eip:x}'}")
    p(MESSAGE_LOGLEVEL_DEFAULT, code_line(k, eip))
    p(MESSAGE_LOGLEVEL_DEFAULT, " ".join(f"{r}: {regs[r]:08x}" for r in ("EAX", "EBX", "ECX", "EDX")))
    p(MESSAGE_LOGLEVEL_DEFAULT, " ".join(f"{r}: {regs[r]:08x}" for r in ("ESI", "EDI", "EBP", "ESP")))
    p(MESSAGE_LOGLEVEL_DEFAULT, " ".join(f"{r}: {regs[r]:04x}" for r in ("DS", "ES", "FS", "GS", "SS"))
      + f" EFLAGS: {regs['EFLAGS']:08x}")
    p(MESSAGE_LOGLEVEL_DEFAULT, f"CR2: {k.faults.cr2 & 0xFFFFFFFF:08x}")


def code_line(k, rip):
    """``show_opcodes``: 42 bytes before RIP, ``<..>`` around RIP's byte, 21 after, as the
    kernel holds them now. The kernel copies all 64 at once: when any is unreadable it says
    so, and the failed read leaves its address in CR2."""
    m = k.machine
    start = rip - 42
    data = KERNEL_CODE.get(rip)     # a kernel function's BUG site: the reference's bytes
    if data is not None:
        return ("Code: " + " ".join(f"{b:02x}" for b in data[:42]) + f" <{data[42]:02x}> " +
                " ".join(f"{b:02x}" for b in data[43:]))
    data = b""
    for off in range(0, 64):
        try:
            data += m.read(start + off, 1)
        except Exception:
            k.faults.cr2 = (start + off) & MASK64
            return f"Code: Unable to access opcode bytes at 0x{start & MASK64:x}."
    return ("Code: " + " ".join(f"{b:02x}" for b in data[:42]) + f" <{data[42]:02x}> " +
            " ".join(f"{b:02x}" for b in data[43:]))


def _user_regs(k, what):
    """The syscall's user registers, where the unwinder reaches the entry frame."""
    nr = SYSCALL_NR[what]
    return [
        "RIP: 0033:0x47fbe9",
        "Code: 08 89 e8 5b 5d c3 66 2e 0f 1f 84 00 00 00 00 00 90 48 89 f8 48 89 f7 48 89 d6 48 89 "
        "ca 4d 89 c2 4d 89 c8 4c 8b 4c 24 08 0f 05 <48> 3d 01 f0 ff ff 73 01 c3 48 c7 c1 e0 ff ff ff "
        "f7 d8 64 89 01 48",
        f"RSP: 002b:00007ffcb7334238 EFLAGS: 00000246 ORIG_RAX: {nr:016x}",
        "RAX: ffffffffffffffda RBX: 0000000039ca5980 RCX: 000000000047fbe9",
        "RDX: 0000000000000000 RSI: 0000000039ca5980 RDI: 0000000000000003",
        "RBP: 0000000000000003 R08: 00000000005e2740 R09: 0000000000000000",
        "R10: 0000000000000000 R11: 0000000000000246 R12: 0000000039ca4b70",
        "R13: 0000000039ca4b98 R14: 0000000000000000 R15: 0000000000000000",
    ]


# --------------------------------------------------------------------------- Call Trace

def show_trace(k, ctx, unwinder, state, scan_from, prefix=(), header=True):
    """``show_trace_log_lvl`` over the task stack: every kernel-text word from ``scan_from``
    up is printed, ``? `` unless it is the slot the unwinder confirms; at the return into
    the kernel (the address Kernel.call pushed) the load path's frames and the syscall's
    user registers follow. Returns the (address, reliable) frames printed."""
    p = k.printk
    m = k.machine
    if header:      # not inside an exception stack's part (emulator.traps)
        p(MESSAGE_LOGLEVEL_DEFAULT, "Call Trace:")
    p(MESSAGE_LOGLEVEL_DEFAULT, " <TASK>")
    for line in prefix:
        p(MESSAGE_LOGLEVEL_DEFAULT, f" {line}")
    bottom, top = stack_bounds(k)
    slot = max(scan_from, bottom or scan_from)
    slot = (slot + 7) & ~7
    frames = []
    sentinel = k.sentinel
    while top is not None and slot < top:
        try:
            word = m.read_ptr(slot)
        except Exception:
            break
        if is_kernel_text(k, word):
            reliable = slot == state.return_address_ptr()
            if word == sentinel:
                frames.append((word, reliable))
                _kernel_tail(k, ctx, reliable)
                break
            p(MESSAGE_LOGLEVEL_DEFAULT, f" {'' if reliable else '? '}{backtrace_symbol(k, word)}")
            frames.append((word, reliable))
            if reliable:
                unwinder.next(state)
        slot += 8
    p(MESSAGE_LOGLEVEL_DEFAULT, " </TASK>")
    return frames


def _kernel_tail(k, ctx, reliable):
    """The frames under the module: the syscall's path and, when the unwinder got there,
    the entry frame's user registers (``show_regs_if_on_stack``)."""
    mark = "" if reliable else "? "
    for frame in KERNEL_FRAMES[ctx.what]:
        k.printk(MESSAGE_LOGLEVEL_DEFAULT, f" {'' if frame.startswith('? ') else mark}{frame}")
    if reliable and ctx.what in SYSCALL_NR:
        for line in _user_regs(k, ctx.what):
            k.printk(MESSAGE_LOGLEVEL_DEFAULT, line)


def module_unwinder(k):
    """An :class:`Unwinder` over the kernel stack with the loaded modules' ORC tables."""
    m = k.machine
    tables = {}
    bottom, top = stack_bounds(k)

    def find_orc(ip):
        mod = module_of(k, ip, whole=True)
        if mod is not None and not isinstance(mod.linked, LinkedModule):
            return None         # a hobby module: no ORC tables (nor any unwinder there)
        if mod is not None:
            if mod.name not in tables:
                tables[mod.name] = module_orc_table(m, mod.linked)
            table = tables[mod.name]
            return table.find(ip) if table is not None else None
        if k.kernel_code is not None and k.kernel_code.runs(ip):
            return k.kernel_code.orc(ip)    # the kernel's own code: its ORC (emulator/kernelcode.py)
        if ip in k.kapi.names or ip in k.kapi.handlers or ip in KERNEL_CODE:
            return FUNCTION_ENTRY   # a kernel function kmodsim runs: always at its entry
        return None

    def read(addr):
        if bottom is None or not bottom <= addr < top:
            return None
        try:
            return m.read_ptr(addr)
        except Exception:
            return None

    return Unwinder(find_orc, read, stop=lambda ip: ip == k.sentinel)


def stack_bounds(k):
    """The stack the running code is on: [bottom, top) (a kthread's own, the IRQ stack in
    a timer callback: emulator.sched)."""
    if k.profile.kind != "linux":
        return None, None
    return k.sched.stack_top - THREAD_SIZE, k.sched.stack_top


def module_of(k, addr, whole=False):
    """The module whose text holds ``addr`` (``__module_text_address``), or whose memory
    does with ``whole`` (``__module_address``)."""
    for mod in k.modules:
        lm = mod.linked
        if lm is None or mod.state == "UNFORMED":
            continue
        img, lay = lm.image, lm.layout
        core_end = lay.core_size if whole else lay.core_text_size
        if img.core_addr <= addr < img.core_addr + core_end:
            return mod
        if mod.init_size and img.init_addr is not None:
            init_end = lay.init_size if whole else lay.init_text_size
            if img.init_addr <= addr < img.init_addr + init_end:
                return mod
    return None


def is_kernel_text(k, addr):
    """``__kernel_text_address``: the kernel's text or a module's."""
    text = k.profile.kernel_text
    if text is not None and text.start <= addr < text.end:
        return True
    return module_of(k, addr) is not None


def symbol(k, addr):
    """``%pS``: ``name+0x11/0x2c [module]``; None without a symbol."""
    return k.symbolize(addr, with_offset=True)


def backtrace_symbol(k, addr):
    """``%pB``: the symbol of ``addr - 1`` with the offset of ``addr`` (a return address
    after a call at a function's very end still names that function); hex without one."""
    for mod in k.modules:
        hit = module_symbol(mod, addr - 1)
        if hit is not None:
            name, off, size = hit
            return f"{name}+{off + 1:#x}/{size & MASK64:#x} [{mod.name}]"
    if module_of(k, addr) is None:
        text = k.symbolize(addr, with_offset=True)
        if text:
            return text
    return f"0x{addr:x}"


# --------------------------------------------------------------------------- bug table

# --------------------------------------------------------------------------- module text

RET_INT3 = b"\xc3\xcc\xcc\xcc\xcc"     # ret; int3 x4: a return thunk patched out


def apply_returns(k, mod):
    """``module_finalize`` -> ``apply_returns``: every ``jmp __x86_return_thunk`` listed in
    the module's ``.return_sites`` (s32, place-relative) becomes ``ret; int3...`` when the
    CPU needs no return thunk, as on the reference machine: its Code: lines show
    ``c3 cc cc cc cc`` where the object has ``e9 <rel32>``. Kept here, next to the Code:
    line it makes exact; emulator/modules.py calls it after ftrace's NOPs."""
    lm, m = mod.linked, k.machine
    idx = lm.info.find_sec(".return_sites")
    thunk = k.profile.exports.get("__x86_return_thunk")
    if not idx or idx not in lm.image.sections or thunk is None:
        return 0
    base = lm.image.address_of(idx)
    patched = 0
    for entry, disp in nonzero_words(m, base, lm.layout.placements[idx].size):
        site = (entry + disp) & MASK64
        try:
            insn = m.read(site, 5)
        except Exception:
            continue
        rel = int.from_bytes(insn[1:5], "little", signed=True)
        if insn[0] == 0xE9 and (site + 5 + rel) & MASK64 == thunk.addr:
            m.write(site, RET_INT3)
            patched += 1
    return patched


# --------------------------------------------------------------------------- explain

def explain_fault(k, report=None, context=6, source_dirs=()):
    """For students, outside the kernel-exact output: what the last report was about, in
    terms of the module's own files. The faulting address as a section offset, the source
    line (from the .ko's DWARF line program for that section), the instructions around RIP
    as the kernel holds them (capstone), and the relocation behind each instruction there.
    Returns text (empty when nothing faulted).

    The source line's text is read only from a regular file under one of ``source_dirs``
    (``--source-dir``) or beside the module (the directory of the file ``Kernel.insmod``
    read it from): see :func:`find_source`. Nothing the module's debug info names is ever
    opened as it stands (an absolute path, ``..``, ``/proc``, ``/dev``, ``/sys``); when the
    text is not shown, the ``source:`` line says why."""
    report = report or k.faults.last_fault_report
    if report is None:
        return ""
    out = [f"kmodsim explain: {report.title} in {report.what}"
           + (f" of {report.module}" if report.module else "")]
    if report.addr is not None:
        out.append(f"  address:     {report.addr:016x}" +
                   (f" ({report.access})" if report.access else ""))
    rip = report.rip
    where = (f"{report.symbol[0]}+{report.symbol[1]:#x}/{report.symbol[2]:#x} [{report.module}]"
             if report.symbol else symbol(k, rip) or f"0x{rip:x}")
    out.append(f"  at:          {where}")
    mod = k.modules.find(report.module) if report.module else None
    if mod is None or not isinstance(mod.linked, LinkedModule):   # hobby: no DWARF kept
        return "\n".join(out) + "\n"
    roots = source_roots(source_dirs, mod.file)
    place = section_offset(mod.linked, rip)
    if place is not None:
        idx, name, off = place
        out.append(f"  section:     {name}+{off:#x} of {mod.name}.ko")
        src = source_line(mod.linked, idx, off, roots)
        if src is not None:
            shown = f"    {printable(src.text.strip())}" if src.text else \
                f" (not shown: {src.note})" if src.note else ""
            out.append(f"  source:      {printable(src.path)}:{src.line}{shown}")
    out.append("  code:")
    out += ["    " + line for line in disassemble_around(k, mod, rip, context, report.symbol)]
    frames = [a for a, r in report.frames if r and a != rip and module_of(k, a) is not None]
    if frames:
        out.append("  called from:")
        for addr in frames[:8]:
            where = section_offset(mod.linked, addr - 1) if module_of(k, addr) is mod else None
            src = source_line(mod.linked, where[0], where[2], read=False) if where else None
            at = f"  ({printable(src.path)}:{src.line})" if src else ""
            out.append(f"    {backtrace_symbol(k, addr)}{at}")
        if len(frames) > 8:
            out.append(f"    ... {len(frames) - 8} more module frames")
    return "\n".join(out) + "\n"


def section_offset(lm, addr):
    """(section index, name, offset) of a loaded module address: the DWARF, the symbols and
    the relocations all speak of section offsets in the unrelocated object."""
    for idx, (_, _, start) in lm.image.sections.items():
        size = lm.layout.placements[idx].size
        if start <= addr < start + size:
            return idx, lm.info.section(idx).name, addr - start
    return None


def disassemble_around(k, mod, rip, context=6, hit=None):
    """The instructions of RIP's function up to RIP and ``context // 2`` after it, with the
    relocation applied at each, ``=>`` on RIP's line. The bytes are the CPU's (patched at
    load); for an init already freed, the loader's copy of them."""
    from capstone import CS_ARCH_X86, CS_MODE_64, Cs

    hit = hit or module_symbol(mod, rip)
    if hit is None:
        return [f"(no symbol at 0x{rip:x})"]
    name, off, size = hit
    start = rip - off
    length = min(size & MASK64, off + 64)
    note = []
    try:
        code = k.machine.read(start, length)
    except Exception:
        place = section_offset(mod.linked, start)
        code = mod.linked.image.section_bytes(place[0])[place[2]:place[2] + length] if place else b""
        if not code:
            return ["(code not mapped)"]
        note = ["(init is freed: the loader's relocated copy, before ftrace's NOPs)"]
    relocs = module_relocations(mod.linked, start, length)
    lines, at = [], None
    for insn in Cs(CS_ARCH_X86, CS_MODE_64).disasm(code, start):
        if insn.address == rip:
            at = len(lines)
        rel = [r for a, r in relocs if insn.address <= a < insn.address + insn.size]
        text = f"{'=>' if insn.address == rip else '  '} {name}+{insn.address - start:#x}: " \
               f"{insn.bytes.hex(' '):<24} {insn.mnemonic} {insn.op_str}".rstrip()
        if rel:
            text += "    ; " + ", ".join(rel)
        lines.append(text)
        if at is not None and len(lines) > at + context // 2:
            break
    if at is None:
        return note + lines[-context:] + [f"=> 0x{rip:x}: (not an instruction boundary)"]
    return note + lines[max(0, at - context):]


def module_relocations(lm, start, length):
    """(address, ``R_X86_64_PC32 .bss-0x4``) of the relocations applied in [start, +length)."""
    from linker.elf.constants import R_X86_64
    from linker.load.relocate import read_relocations, relocation_sections
    info = lm.info
    out = []
    for rel, target in relocation_sections(info):
        if target not in lm.image.sections:
            continue
        base = lm.image.address_of(target)
        size = lm.layout.placements[target].size
        if base + size <= start or start + length <= base:
            continue
        r_offset, r_type, r_sym, addend = read_relocations(info, rel)
        for i in range(len(r_offset)):
            addr = base + int(r_offset[i])
            if not start <= addr < start + length:
                continue
            sym = int(r_sym[i])
            name = info.symbol_name(sym)
            if not name:
                shndx = int(info.syms["st_shndx"][sym])
                name = info.section(shndx).name if 0 < shndx < info.shnum else "?"
            add = int(addend[i]) if addend is not None else 0
            try:
                kind = R_X86_64(int(r_type[i])).name
            except ValueError:
                kind = f"type {int(r_type[i])}"
            out.append((addr, f"{kind} {name}{add:+#x}" if add else f"{kind} {name}"))
    return sorted(out)


# --------------------------------------------------------------------------- helpers

def dump_stack(k, frames=None):
    """``dump_stack()`` called by the kernel itself on the load path (do_init_module's
    "suspiciously returned" warning, tests/realkernel/lifecycle): the CPU line, the load
    path's frames from dump_stack_lvl down, the syscall's user registers."""
    cpu_line(k)
    k.printk(MESSAGE_LOGLEVEL_DEFAULT, "Call Trace:")
    k.printk(MESSAGE_LOGLEVEL_DEFAULT, " <TASK>")
    for frame in frames or DUMP_STACK_FRAMES:
        k.printk(MESSAGE_LOGLEVEL_DEFAULT, f" {frame}")
    for line in _user_regs(k, "init"):
        k.printk(MESSAGE_LOGLEVEL_DEFAULT, line)
    k.printk(MESSAGE_LOGLEVEL_DEFAULT, " </TASK>")


def hashed(addr):
    """``%p``: the kernel prints a per-boot hash of the pointer, 16 hex digits; kmodsim's is
    fixed (siphash with a random key cannot be reproduced anyway)."""
    import hashlib
    digest = hashlib.blake2b((addr or 0).to_bytes(8, "little"), digest_size=4).hexdigest()
    return f"00000000{digest}"


def _interrupt_point(k):
    """Where the watchdog's timer interrupt finds the CPU. QEMU's TCG takes interrupts
    between translation blocks; kmodsim runs on to the first block that starts at or
    before the previous one (a loop's head), so the report does not depend on when the
    wall-clock limit struck."""
    from unicorn import UC_HOOK_BLOCK
    m = k.machine
    seen = {"last": None, "blocks": 0}

    def on_block(uc, addr, size, user):
        seen["blocks"] += 1
        last, seen["last"] = seen["last"], addr
        if (last is not None and addr <= last) or seen["blocks"] > 4096:
            uc.emu_stop()

    hook = m.uc.hook_add(UC_HOOK_BLOCK, on_block)
    m.uc.ctl_flush_tb()     # blocks translated before the hook existed would not call it
    running, k.faults.running = k.faults.running, None    # no WARN report from here
    try:
        m.uc.emu_start(m.pc, k.sentinel)
    except UcError:
        pass
    finally:
        k.faults.running = running
        m.uc.hook_del(hook)
        m.uc.ctl_flush_tb()
    return m.pc


def _advance_to_watchdog(k):
    """Seconds the watchdog reports, with the clock moved to its report.

    The hrtimer ticks every WATCHDOG_PERIOD_NS (from WATCHDOG_PHASE_NS after boot); each
    tick's stopper work stamps ``touch_ts``, which stops once the CPU spins in module code.
    The report comes at the first tick whose timestamp (``running_clock() >> 30``) is more
    than SOFTLOCKUP_THRESH past ``report_ts``; printing on the serial console touches the
    watchdog (``touch_nmi_watchdog``), which moves ``report_ts`` to the next tick. The
    duration printed is counted from ``touch_ts``.
    """
    def ts(ns):
        return ns >> 30

    def next_tick(ns):
        return ns + WATCHDOG_PERIOD_NS - (ns - WATCHDOG_PHASE_NS) % WATCHDOG_PERIOD_NS

    touch = next_tick(k.time.ns) - WATCHDOG_PERIOD_NS
    report_ts = ts(touch)
    printed = _last_console_ns(k)
    if printed is not None and printed >= touch:
        report_ts = ts(next_tick(printed))
    tick = touch
    while ts(tick) <= report_ts + SOFTLOCKUP_THRESH:
        tick += WATCHDOG_PERIOD_NS
    if tick > k.time.ns:
        k.time.advance(tick - k.time.ns)
    return ts(tick) - ts(touch)


def _last_console_ns(k):
    """When the console last printed (its line's timestamp), or None."""
    import re
    for chunk in reversed(k.log.console):
        hit = re.findall(r"^\[\s*(\d+)\.(\d{6})\] ", chunk, re.M)
        if hit:
            secs, usecs = hit[-1]
            return int(secs) * 1_000_000_000 + int(usecs) * 1000
    return None


def _error_code(m, access, addr):
    code = 0
    if access == "write":
        code |= X86_PF_WRITE
    if access == "fetch":
        code |= X86_PF_INSTR
    if m.region_of(addr) is not None:
        code |= X86_PF_PROT  # present: a protection violation
    return code


def _page_walk(m, addr):
    """``dump_pagetable``'s line. kmodsim has no page tables: a not-present address stops
    at the first level as a user address does on the reference machine (``PGD 0 P4D 0 ``),
    a present one shows the module area's tables and a PTE with the page's permissions
    (NX, RW, present) and no physical address."""
    region = m.region_of(addr)
    if region is None:
        return "PGD 0 P4D 0 "
    pte = 0x161 | (0x2 if region.perms & 2 else 0) | (0 if region.perms & 4 else 1 << 63)
    return f"PGD 2a14067 P4D 2a15067 PUD 2a17067 PMD 1ff31067 PTE {pte:x}"


REGS_I386 = {"EAX": X.UC_X86_REG_EAX, "EBX": X.UC_X86_REG_EBX, "ECX": X.UC_X86_REG_ECX,
             "EDX": X.UC_X86_REG_EDX, "ESI": X.UC_X86_REG_ESI, "EDI": X.UC_X86_REG_EDI,
             "EBP": X.UC_X86_REG_EBP, "ESP": X.UC_X86_REG_ESP, "EFLAGS": X.UC_X86_REG_EFLAGS,
             "CS": X.UC_X86_REG_CS, "DS": X.UC_X86_REG_DS, "ES": X.UC_X86_REG_ES,
             "FS": X.UC_X86_REG_FS, "GS": X.UC_X86_REG_GS, "SS": X.UC_X86_REG_SS}


def _regs(m, rip):
    if m.bits == 32:    # the hobby kernel: only the i386 registers exist (no R8..R15)
        regs = {n: m.reg(r) for n, r in REGS_I386.items()}
        regs["EFLAGS"] |= 0x202
        regs["RIP"] = regs["EIP"] = rip
        regs["RSP"], regs["RBP"] = regs["ESP"], regs["EBP"]    # what the unwinder reads
        return regs
    names = {"RAX": X.UC_X86_REG_RAX, "RBX": X.UC_X86_REG_RBX, "RCX": X.UC_X86_REG_RCX,
             "RDX": X.UC_X86_REG_RDX, "RSI": X.UC_X86_REG_RSI, "RDI": X.UC_X86_REG_RDI,
             "RBP": X.UC_X86_REG_RBP, "RSP": X.UC_X86_REG_RSP, "R08": X.UC_X86_REG_R8,
             "R09": X.UC_X86_REG_R9, "R10": X.UC_X86_REG_R10, "R11": X.UC_X86_REG_R11,
             "R12": X.UC_X86_REG_R12, "R13": X.UC_X86_REG_R13, "R14": X.UC_X86_REG_R14,
             "R15": X.UC_X86_REG_R15, "EFLAGS": X.UC_X86_REG_EFLAGS}
    regs = {n: m.reg(r) for n, r in names.items()}
    regs["EFLAGS"] |= 0x202        # kernel code runs with interrupts on (IF) and bit 1 set
    regs["RIP"] = rip
    return regs


def _taint_letter(bit):
    """BUGFLAG_TAINT(t) keeps the taint's bit number in the flags' high byte."""
    return TAINT_FLAGS[bit][1] if bit < len(TAINT_FLAGS) else "W"


def _record(k, ctx, kind, title, regs, signal=None, addr=None, access=None, frames=None):
    """``Kernel.last_fault_report``: what explain_fault and notebooks look at."""
    mod = module_of(k, regs["RIP"], whole=True)
    k.faults.last_fault_report = report = FaultReport(
        kind=kind, title=title, module=ctx.mod.name if ctx.mod is not None else None, what=ctx.what,
        rip=regs["RIP"], regs=dict(regs), addr=addr, access=access,
        frames=list(k.faults.last_trace if frames is None else frames), signal=signal,
        symbol=module_symbol(mod, regs["RIP"]) if mod is not None else None)
    k.faults.reports.append(report)


def _uname_suffix(profile):
    # "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)" -> "#1  Debian 6.1.192-2"
    version = profile.version or "#1"
    words = version.split()
    deb = [w for w in words if w[:1].isdigit() and "." in w]
    return f"{words[0]}  Debian {deb[0]}" if deb else words[0]


__all__ = ["Outcome", "Context", "FaultReport", "run_guarded", "handle_trap",
           "page_fault_oops", "general_protection", "report_bug", "warn", "die", "panic",
           "soft_lockup", "dump_stack", "show_trace", "code_line", "module_of",
           "is_canonical", "explain_fault",
           "source_line", "find_source", "SourceLine", "apply_returns", "LOGLEVEL_WARNING"]
