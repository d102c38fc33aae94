"""What happens when module code breaks, reported as the real kernel reports it.

``run_guarded`` runs a module's init or exit. When the CPU stops on a fault, the report is
printed line for line in the order of 6.1's ``page_fault_oops``/``die``/``__die``
(x86-64, tests/realkernel and ../shared/golden show the real thing), the kernel is tainted
D, the console turns verbose (``console_verbose``: every level from then on), and the
process that made the syscall is killed: SIGKILL for a page fault in init (the shell prints
``Killed``, status 137), SIGSEGV through ``die()`` for other traps.
"""

from dataclasses import dataclass

from unicorn import UcError
from unicorn import x86_const as X

from linker.load.kernel import KERN_ALERT, KERN_DEFAULT_LEVEL, KERN_EMERG, KERN_WARNING

SIGKILL, SIGSEGV = 9, 11
HARDWARE = "QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014"
KERNEL_FRAMES = {  # the load and unload paths as the reference kernel's call traces show them
    "init": ("do_one_initcall+0x59/0x220", "do_init_module+0x4a/0x1f0",
             "__do_sys_finit_module+0xac/0x120", "do_syscall_64+0x5d/0xb0",
             "entry_SYSCALL_64_after_hwframe+0x6e/0xd8"),
    "exit": ("__do_sys_delete_module.constprop.0+0x178/0x280", "do_syscall_64+0x5d/0xb0",
             "entry_SYSCALL_64_after_hwframe+0x6e/0xd8"),
}
SYSCALL_NR = {"init": 0x139, "exit": 0xB0}  # finit_module, delete_module


@dataclass
class Outcome:
    value: int = 0
    signal: int | None = None


def run_guarded(k, mod, func, what):
    from .kernel import KernelPanic
    m = k.machine
    try:
        value = k.call(func)
    except KernelPanic:
        return Outcome(0, "panic")
    except UcError as exc:
        return oops(k, mod, what, exc)
    if m.stop_reason == "kernel fault":
        return oops(k, mod, what, None, rip=k.kernel_fault[0])
    if m.stop_reason != "returned":
        return lockup(k, mod, what)
    return Outcome(value)


# --------------------------------------------------------------------------- oops

def oops(k, mod, what, exc, rip=None):
    m = k.machine
    fault = m.last_fault or ("unknown", m.pc, 0)
    access, addr = fault[0], fault[1]
    rip = m.pc if rip is None else rip
    oops_enter(k)
    error = _error_code(m, access, addr)
    if addr < 4096:
        k.printk(KERN_ALERT, f"BUG: kernel NULL pointer dereference, address: {addr:016x}")
    else:
        k.printk(KERN_ALERT, f"BUG: unable to handle page fault for address: {addr:016x}")
    kind = {"write": "write access", "fetch": "instruction fetch"}.get(access, "read access")
    k.printk(KERN_ALERT, f"#PF: supervisor {kind} in kernel mode")
    present = "permissions violation" if error & 1 else "not-present page"
    k.printk(KERN_ALERT, f"#PF: error_code(0x{error:04x}) - {present}")
    k.printk(KERN_DEFAULT_LEVEL, "PGD 0 P4D 0 ")
    k.oops_count += 1
    k.printk(KERN_DEFAULT_LEVEL, f"Oops: {error:04x} [#{k.oops_count}] PREEMPT SMP NOPTI")
    regs = _regs(m)
    report_registers_and_trace(k, mod, what, regs, rip, cr2=addr)
    k.printk(KERN_DEFAULT_LEVEL, f"CR2: {addr:016x}")
    # oops_end: the D taint comes after the report (the CPU lines above do not show it)
    k.add_taint("D", True)
    k.printk(KERN_DEFAULT_LEVEL, "---[ end trace 0000000000000000 ]---")
    _regs_block(k, mod, regs, rip, addr)
    k.printk(KERN_DEFAULT_LEVEL, f"note: {k.current.comm}[{k.current.pid}] exited with irqs disabled")
    return Outcome(0, SIGKILL if what == "init" else SIGKILL)


def report_registers_and_trace(k, mod, what, regs, rip, cr2):
    p = k.profile
    k.printk(KERN_DEFAULT_LEVEL, f"CPU: 0 PID: {k.current.pid} Comm: {k.current.comm} Tainted: "
                                 f"{k.taint_string()} {p.release} {_uname_suffix(p)}")
    k.printk(KERN_DEFAULT_LEVEL, f"Hardware name: {HARDWARE}")
    _regs_block(k, mod, regs, rip, cr2, first=True)
    k.printk(KERN_DEFAULT_LEVEL, "Call Trace:")
    k.printk(KERN_DEFAULT_LEVEL, " <TASK>")
    for frame in KERNEL_FRAMES[what]:
        k.printk(KERN_DEFAULT_LEVEL, f" {frame}")
    nr = SYSCALL_NR[what]
    user = [
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
    for line in user:
        k.printk(KERN_DEFAULT_LEVEL, line)
    k.printk(KERN_DEFAULT_LEVEL, " </TASK>")
    k.printk(KERN_DEFAULT_LEVEL, f"Modules linked in: {k.modules_linked_in()}")


def _regs_block(k, mod, regs, rip, cr2, first=False):
    p = k.printk
    p(KERN_DEFAULT_LEVEL, f"RIP: 0010:{k.symbolize(rip, with_offset=True) or f'0x{rip:x}'}")
    p(KERN_DEFAULT_LEVEL, code_line(k, rip))
    p(KERN_DEFAULT_LEVEL, f"RSP: 0018:{regs['RSP']:016x} EFLAGS: {regs['EFLAGS']:08x}")
    for row in (("RAX", "RBX", "RCX"), ("RDX", "RSI", "RDI"), ("RBP", "R08", "R09"),
                ("R10", "R11", "R12"), ("R13", "R14", "R15")):
        p(KERN_DEFAULT_LEVEL, " ".join(f"{r}: {regs[r]:016x}" for r in row))
    p(KERN_DEFAULT_LEVEL, "FS:  0000000000000000(0000) GS:ff1100001f200000(0000) "
                          "knlGS:0000000000000000")
    p(KERN_DEFAULT_LEVEL, "CS:  0010 DS: 0000 ES: 0000 CR0: 0000000080050033")
    cr2_shown = k.code_cr2 if k.code_cr2 is not None else cr2
    p(KERN_DEFAULT_LEVEL, f"CR2: {cr2_shown:016x} CR3: 0000000006074000 CR4: 0000000000751ef0")
    p(KERN_DEFAULT_LEVEL, "PKRU: 55555554")


def code_line(k, rip):
    """``Code:`` the 42 bytes before RIP and 22 from it, ``<..>`` around RIP's byte; when the
    bytes before are unmapped, the kernel says so (and the failed read sets CR2)."""
    m = k.machine
    start = rip - 42
    try:
        before = m.read(start, 42)
    except Exception:
        k.code_cr2 = start
        return f"Code: Unable to access opcode bytes at 0x{start:x}."
    try:
        after = m.read(rip, 22)
    except Exception:
        after = b""
    parts = [f"{b:02x}" for b in before]
    if after:
        parts.append(f"<{after[0]:02x}>")
        parts += [f"{b:02x}" for b in after[1:]]
    return "Code: " + " ".join(parts)


def _error_code(m, access, addr):
    code = 0
    if access == "write":
        code |= 2
    if access == "fetch":
        code |= 0x10
    region = m.region_of(addr)
    if region is not None:
        code |= 1  # present: a protection violation
    return code


def _regs(m):
    names = {"RAX": X.UC_X86_REG_RAX, "RBX": X.UC_X86_REG_RBX, "RCX": X.UC_X86_REG_RCX,
             "RDX": X.UC_X86_REG_RDX, "RSI": X.UC_X86_REG_RSI, "RDI": X.UC_X86_REG_RDI,
             "RBP": X.UC_X86_REG_RBP, "RSP": X.UC_X86_REG_RSP, "R08": X.UC_X86_REG_R8,
             "R09": X.UC_X86_REG_R9, "R10": X.UC_X86_REG_R10, "R11": X.UC_X86_REG_R11,
             "R12": X.UC_X86_REG_R12, "R13": X.UC_X86_REG_R13, "R14": X.UC_X86_REG_R14,
             "R15": X.UC_X86_REG_R15, "EFLAGS": X.UC_X86_REG_EFLAGS}
    return {n: m.reg(r) for n, r in names.items()}


def _uname_suffix(profile):
    # "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)" -> "#1  Debian 6.1.192-2"
    version = profile.version or "#1"
    words = version.split()
    deb = [w for w in words if w[:1].isdigit() and "." in w]
    return f"{words[0]}  Debian {deb[0]}" if deb else words[0]


def oops_enter(k):
    """``oops_begin``/``oops_enter``: the console turns verbose and lock debugging is switched
    off quietly (so the D taint later prints no 'Disabling lock debugging' line)."""
    k.console_verbose()
    k.once.add("lockdep")


# --------------------------------------------------------------------------- lockup, stack

def lockup(k, mod, what):
    """An init that never returns: reported as the soft-lockup watchdog words it, then the
    loading process is killed like a fatal signal (the real kernel would keep spinning)."""
    k.console_verbose()
    k.printk(KERN_EMERG, f"watchdog: BUG: soft lockup - CPU#0 stuck for 22s! "
                         f"[{k.current.comm}:{k.current.pid}]")
    k.printk(KERN_DEFAULT_LEVEL, f"Modules linked in: {k.modules_linked_in()}")
    k.add_taint("L", False)
    return Outcome(0, SIGKILL)


def dump_stack(k):
    p = k.profile
    k.printk(KERN_DEFAULT_LEVEL, f"CPU: 0 PID: {k.current.pid} Comm: {k.current.comm} Tainted: "
                                 f"{k.taint_string()} {p.release} {_uname_suffix(p)}")
    k.printk(KERN_DEFAULT_LEVEL, f"Hardware name: {HARDWARE}")
    k.printk(KERN_DEFAULT_LEVEL, "Call Trace:")
    k.printk(KERN_DEFAULT_LEVEL, " <TASK>")
    for frame in ("dump_stack_lvl+0x44/0x5c",) + KERNEL_FRAMES["init"][1:]:
        k.printk(KERN_DEFAULT_LEVEL, f" {frame}")
    k.printk(KERN_DEFAULT_LEVEL, " </TASK>")


__all__ = ["Outcome", "run_guarded", "oops", "lockup", "dump_stack", "KERN_WARNING"]
