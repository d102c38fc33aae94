"""What the CPU does with the privileged instructions a module may run at CPL 0, and the
WARNs of kernel functions that refuse impossible requests, as 6.1 reports them.

:mod:`emulator.faults` reports faults; this module adds the traps and warnings beside them
(registered in ``faults.EXTRA_TRAPS``, so faults never imports this file):

* ``hlt``: the CPU waits for the next interrupt (the timer's next jiffy) and goes on:
  nothing printed (tests/realkernel/hostile_priv1);
* the trap flag: the single-step ``#DB`` lands in ``exc_debug_kernel``, whose
  ``WARN_ON_ONCE(dr6 & DR_STEP)`` reports it from the #DB stack, clears TF and returns;
* ``int3`` nobody set: ``do_int3`` finds no handler, ``die("int3")``, and since the #BP
  handler counts as an interrupt (``irqentry_nmi_enter``) oops_end panics
  (tests/realkernel/hostile_priv3);
* ``mov %reg, %cr3`` with anything but the page tables: the next fetch faults with no page
  tables to handle it, a triple fault, the machine resets at once: nothing more reaches the
  console (tests/realkernel/hostile_priv4); the kernel is dead as after a panic;
* an init that returns with interrupts off: ``do_one_initcall``'s WARN (init/main.c);
* kmalloc beyond MAX_ORDER: ``__alloc_pages``' ``WARN_ON_ONCE_GFP(order >= MAX_ORDER)``;
  kvmalloc beyond INT_MAX: ``kvmalloc_node``'s ``WARN_ON_ONCE`` (tests/realkernel/
  hostile_alloc). Both NULL;
* vsnprintf's WARN_ONCE on a field width or precision it cannot hold (``kernel_warn``).
"""

from unicorn import UC_HOOK_CODE
from unicorn import x86_const as X

from linker.loglevels import LOGLEVEL_WARNING, MESSAGE_LOGLEVEL_DEFAULT

from . import faults
from .faults import (CUT_HERE, EXTRA_TRAPS, KERNEL_CODE, KERNEL_FRAMES, KERNEL_WARN_SITES,
                     PRINTK_FRAMES, PRINTK_WARN_FRAMES, Outcome, code_line, cpu_line, die,
                     module_unwinder, print_modules, regs_block, show_trace, symbol)

HZ_NS = 4_000_000           # CONFIG_HZ=250: the timer interrupt that ends a hlt
X86_EFLAGS_TF, X86_EFLAGS_IF = 0x100, 0x200
GFP_NOWARN = 0x2000         # ___GFP_NOWARN in 6.1
MAX_ORDER, PAGE_SHIFT = 11, 12
INT_MAX = (1 << 31) - 1
PAGE_SIZE = 1 << PAGE_SHIFT
# the page tables the reference's insmod runs on (show_regs' CR3: faults.regs_block)
KERNEL_CR3 = 0x6074000
# kernel WARN sites: (file, line, the ud2's address, the 64 bytes of code around it) from
# the reference kernel (its kallsyms, and the Code: lines of tests/realkernel/hostile_*)
WARN_SITES = {
    "alloc_pages": ("mm/page_alloc.c", 5634, 0xFFFFFFFF812F94D9,
                    "00 00 00 48 89 44 24 08 e9 5f fe ff ff 83 fd 0a 0f 86 d3 fd ff ff 80 3d 3a "
                    "da 90 01 00 0f 85 5b fe ff ff c6 05 2d da 90 01 01 <0f> 0b e9 4d fe ff ff "
                    "f7 c2 00 00 08 00 75 55 89 d8 24 7f f7 c2 00"),
    "kvmalloc_node": ("mm/util.c", 596, 0xFFFFFFFF812ACD00,
                      "00 00 48 8d 4c 0a ff e8 4e 3a 04 00 48 83 c4 18 5b 5d 41 5c c3 cc cc cc "
                      "cc 48 b9 00 00 00 00 00 20 00 00 eb c3 80 e7 20 75 e6 <0f> 0b eb e2 66 "
                      "66 2e 0f 1f 84 00 00 00 00 00 90 0f 1f 44 00 00 53"),
    "initcall": ("init/main.c", 1284, 0xFFFFFFFF81002637,
                 "c6 03 e5 32 82 4c 89 e7 e8 86 a9 9e 00 fb 0f 1f 44 00 00 e9 c0 fe ff ff 4c 89 "
                 "e2 48 89 de 48 c7 c7 08 e9 32 82 e8 09 f4 09 00 <0f> 0b e9 b1 fe ff ff bd ff "
                 "ff ff ff e9 b0 fe ff ff e8 a3 60 a4 00"),
    "exc_debug": ("arch/x86/kernel/traps.c", 1089, 0xFFFFFFFF81A452B1,
                  "b9 05 00 00 00 48 89 e1 48 89 ea 48 c7 c6 45 99 35 82 bf 03 00 00 00 e8 8d "
                  "db 68 ff 3d 01 80 00 00 74 22 f6 44 24 01 40 74 1b <0f> 0b 48 81 a5 90 00 "
                  "00 00 ff fe ff ff eb 0c 80 e4 bf 48 89 04 24"),
}
for _site in WARN_SITES.values():
    KERNEL_CODE[_site[2]] = bytes.fromhex(_site[3].replace("<", "").replace(">", ""))
# the frames between __alloc_pages and module code, by the kernel function it called
ALLOC_PAGES_FRAMES = {"__kmalloc": ("__kmalloc_large_node+0x6e/0xe0", "__kmalloc+0xbf/0x150")}
DB_ENTRY_FRAME = "asm_exc_debug+0x1a/0x40"


# --------------------------------------------------------------------------- CPU traps

def on_hlt(k, ctx, trap, regs):
    """``hlt`` with interrupts on: the next timer tick wakes the CPU after the instruction."""
    k.time.advance(HZ_NS - k.time.ns % HZ_NS)
    return trap.rip


def on_debug(k, ctx, trap, regs):
    """The single-step #DB (TF set by module code): ``exc_debug_kernel``'s WARN_ON_ONCE on
    DR_STEP, reported from the #DB stack (the module's registers in its ``<#DB>`` part),
    then TF is cleared in the interrupted flags and the code goes on."""
    m = k.machine
    if k.profile.kind != "linux":       # the hobby kernel has no #DB handler to speak of
        return die(k, ctx, "trap 1", regs, 0)
    m.set_reg(X.UC_X86_REG_EFLAGS, m.reg(X.UC_X86_REG_EFLAGS) & ~X86_EFLAGS_TF)
    if "warn:exc_debug" in k.log.once:
        return trap.rip
    k.log.once.add("warn:exc_debug")
    file, line, site, _ = WARN_SITES["exc_debug"]
    p = k.printk
    p(MESSAGE_LOGLEVEL_DEFAULT, CUT_HERE)
    p(LOGLEVEL_WARNING, f"WARNING: CPU: 0 PID: {k.tasks.current.pid} at {file}:{line} "
                        f"{symbol(k, site) or 'exc_debug'}")
    print_modules(k)
    cpu_line(k)
    db = dict(regs, RIP=site, EFLAGS=0x2)
    regs_block(k, db)
    p(MESSAGE_LOGLEVEL_DEFAULT, "Call Trace:")
    p(MESSAGE_LOGLEVEL_DEFAULT, " <#DB>")
    p(MESSAGE_LOGLEVEL_DEFAULT, f" {DB_ENTRY_FRAME}")
    short_regs(k, dict(regs, EFLAGS=regs["EFLAGS"] | X86_EFLAGS_TF))
    p(MESSAGE_LOGLEVEL_DEFAULT, " </#DB>")
    unwinder = module_unwinder(k)
    show_trace(k, ctx, unwinder, unwinder.start(regs), regs["RSP"], header=False)
    p(LOGLEVEL_WARNING, "---[ end trace 0000000000000000 ]---")
    k.add_taint("W", False)
    return trap.rip


def short_regs(k, regs):
    """``__show_regs(regs, SHOW_REGS_SHORT)``: the interrupted context inside a trace."""
    p = k.printk
    p(MESSAGE_LOGLEVEL_DEFAULT, f"RIP: 0010:{symbol(k, regs['RIP']) or hex(regs['RIP'])}")
    p(MESSAGE_LOGLEVEL_DEFAULT, code_line(k, regs["RIP"]))
    p(MESSAGE_LOGLEVEL_DEFAULT, f"RSP: 0018:{regs['RSP']:016x} EFLAGS: {regs['EFLAGS']:08x}")
    for row in (("RAX", "RBX", "RCX"), ("RDX", "RSI", "RDI"), ("RBP", "R08", "R09"),
                ("R10", "R11", "R12"), ("R13", "R14", "R15")):
        p(MESSAGE_LOGLEVEL_DEFAULT, " ".join(f"{r}: {regs[r]:016x}" for r in row))


def on_int3(k, ctx, trap, regs):
    """A breakpoint nobody set: ``die("int3")`` in NMI-like context: a panic."""
    return die(k, ctx, "int3", regs, 0, in_interrupt=k.profile.kind == "linux")


def on_triple_fault(k, ctx, trap, regs):
    """CR3 loaded with no page tables: a triple fault; QEMU resets the machine before
    anything more is printed. The kernel is gone (``Kernel.panicked``)."""
    k.faults.panicked = "kmodsim: a triple fault (CR3 loaded with no page tables): " \
                        "the machine reset"
    return Outcome(0, "panic")


EXTRA_TRAPS.update({"hlt": on_hlt, "triple fault": on_triple_fault, 1: on_debug,
                    3: on_int3})


# --------------------------------------------------------------------------- mov to CR3

def hook_cr3_writes(k, mod):
    """Every ``mov %reg, %cr3`` in the module's text, hooked at its own address (Unicorn
    ignores CR3 without paging): loading anything but the page tables resets the machine.
    The hooks go with the module (:func:`unhook_cr3_writes`)."""
    m = k.machine
    if m.bits != 64 or k.profile.kind != "linux":
        return
    hooks = [m.uc.hook_add(UC_HOOK_CODE, _on_cr3_write, k, begin=addr, end=addr)
             for start, size in module_text_ranges(mod) for addr in _cr3_writes(m, start, size)]
    if hooks:
        _hooks_of(k)[id(mod)] = hooks


def _cr3_writes(m, start, size, chunk=1 << 20):
    """Addresses of the ``[REX] 0f 22 /r`` (mov to %cr3: modrm 0xd8-0xdf) in ``[start,
    start + size)``, read a chunk at a time with the byte before and the two after it (a
    NOBITS text as large as the module area is neither copied whole nor scanned where it
    is all zeros)."""
    for lo in range(start, start + size, chunk):
        hi = min(lo + chunk, start + size)
        first = max(lo - 1, start)
        try:
            code = m.read(first, min(hi + 2, start + size) - first)
        except Exception:
            continue
        if code.count(0) == len(code):
            continue
        at = code.find(b"\x0f\x22", lo - first)
        while 0 <= at < hi - first:
            if at + 2 < len(code) and (code[at + 2] & 0xF8) == 0xD8:
                rex = at and 0x40 <= code[at - 1] <= 0x4F
                yield first + at - (1 if rex else 0)
            at = code.find(b"\x0f\x22", at + 1)


def _hooks_of(k):
    return k.faults.cr3_hooks


def module_text_ranges(mod):
    img, lay = mod.linked.image, mod.linked.layout
    ranges = [(img.core_addr, lay.core_text_size)]
    if getattr(img, "init_addr", None) and getattr(lay, "init_text_size", 0):
        ranges.append((img.init_addr, lay.init_text_size))
    return [(a, s) for a, s in ranges if a and s]


GPRS = (X.UC_X86_REG_RAX, X.UC_X86_REG_RCX, X.UC_X86_REG_RDX, X.UC_X86_REG_RBX,
        X.UC_X86_REG_RSP, X.UC_X86_REG_RBP, X.UC_X86_REG_RSI, X.UC_X86_REG_RDI,
        X.UC_X86_REG_R8, X.UC_X86_REG_R9, X.UC_X86_REG_R10, X.UC_X86_REG_R11,
        X.UC_X86_REG_R12, X.UC_X86_REG_R13, X.UC_X86_REG_R14, X.UC_X86_REG_R15)


def _on_cr3_write(uc, address, size, user):
    """The hooked address still holding a ``mov %reg, %cr3`` (module memory is reused once
    a module's init is freed): a value that is not the page tables stops the CPU."""
    k = user
    try:
        code = bytes(uc.mem_read(address, 4))
        rex = code[0] if 0x40 <= code[0] <= 0x4F else 0
        op = code[1:] if rex else code[:3]
        if op[:2] != b"\x0f\x22" or op[2] & 0xF8 != 0xD8:
            return
        reg = (op[2] & 7) | (8 if rex & 1 else 0)
        if uc.reg_read(GPRS[reg]) & ~0xFFF & ((1 << 52) - 1) != KERNEL_CR3:
            k.machine.stop("triple fault")
    except Exception:           # nothing may escape a Unicorn hook
        pass


def unhook_cr3_writes(k, mod):
    for hook in _hooks_of(k).pop(id(mod), ()):
        try:
            k.machine.uc.hook_del(hook)
        except Exception:
            pass


# --------------------------------------------------------------------------- kernel WARNs

def kernel_function_warn(k, key, prefix=(), message=None, once=True):
    """A WARN in a kernel function module code called (the CPU at its entry, the return
    address on top of the stack): the report with ``prefix`` (the kernel frames between the
    WARN and the module), the module's frames, the syscall's; taint W. ``once``:
    WARN_ON_ONCE, one report per boot."""
    if once:
        if f"warn:{key}" in k.log.once:
            return
        k.log.once.add(f"warn:{key}")
    file, line, site, _ = WARN_SITES[key]
    m, ctx = k.machine, k.faults.running
    k.printk(MESSAGE_LOGLEVEL_DEFAULT, CUT_HERE)
    if message is not None:
        k.printk(LOGLEVEL_WARNING, message)
    k.printk(LOGLEVEL_WARNING, f"WARNING: CPU: 0 PID: {k.tasks.current.pid} at {file}:{line} "
                               f"{symbol(k, site) or key}")
    print_modules(k)
    cpu_line(k)
    regs_block(k, faults._regs(m, site))
    if ctx is not None:
        unwinder = module_unwinder(k)
        show_trace(k, ctx, unwinder, unwinder.start_at_call(m.sp), m.sp, prefix=prefix)
    k.printk(LOGLEVEL_WARNING, "---[ end trace 0000000000000000 ]---")
    k.add_taint("W", False)


def kernel_warn(k, message, printk=True):
    """WARN_ONCE() in the kernel's vsnprintf (KERNEL_WARN_SITES) while module code called a
    kernel function (at its entry, the return address on top of the stack): __warn_printk's
    lines, then __warn's report with the frames from vsnprintf down through printk (when
    printk called it) to the module, taint W; the function goes on. Once per boot per site."""
    key = next((start for start in KERNEL_WARN_SITES if message.startswith(start)), None)
    if key is None or f"warn:{key}" in k.log.once:
        return
    k.log.once.add(f"warn:{key}")
    file, line, func, site, _ = KERNEL_WARN_SITES[key]
    m, ctx = k.machine, k.faults.running
    k.printk(LOGLEVEL_WARNING, CUT_HERE)
    k.printk(MESSAGE_LOGLEVEL_DEFAULT, message)
    k.printk(LOGLEVEL_WARNING, f"WARNING: CPU: 0 PID: {k.tasks.current.pid} at {file}:{line} "
                               f"{symbol(k, site) or func}")
    print_modules(k)
    regs = faults._regs(m, site)
    if ctx is not None:
        cpu_line(k)
        regs_block(k, regs)
        prefix = PRINTK_WARN_FRAMES[key] + (PRINTK_FRAMES if printk else ())
        unwinder = module_unwinder(k)
        show_trace(k, ctx, unwinder, unwinder.start_at_call(m.sp), m.sp, prefix=prefix)
    k.printk(LOGLEVEL_WARNING, "---[ end trace 0000000000000000 ]---")
    k.add_taint("W", False)


def alloc_pages_refuses(k, size, flags):
    """``__alloc_pages``: an order of MAX_ORDER or more is NULL, with WARN_ON_ONCE_GFP
    (silent under __GFP_NOWARN). True when ``size`` is that large."""
    if size <= PAGE_SIZE << (MAX_ORDER - 1) or k.profile.kind != "linux":
        return False
    if not flags & GFP_NOWARN:
        name = k.kapi.names.get(k.machine.pc, "")
        frames = ALLOC_PAGES_FRAMES.get(name.split(".")[-1], ("__kmalloc_large_node+0x6e/0xe0",))
        kernel_function_warn(k, "alloc_pages", prefix=frames)
    return True


def kvmalloc(k, size, flags):
    """``kvmalloc_node``: kmalloc (quietly, beyond a page), then vmalloc; more than INT_MAX
    is NULL with a WARN_ON_ONCE."""
    if size <= PAGE_SIZE << (MAX_ORDER - 1) or k.profile.kind != "linux":
        return k.slab.kmalloc(size, flags)
    if size > INT_MAX:
        if not flags & GFP_NOWARN:
            kernel_function_warn(k, "kvmalloc_node")
        return 0
    return k.slab.vmalloc(size, flags)


# --------------------------------------------------------------------------- initcalls

def check_initcall_irqs(k, mod):
    """``do_one_initcall``: an init that returned with interrupts disabled gets them back
    (``local_irq_enable``) and a WARN naming it."""
    m = k.machine
    if m.bits != 64:
        return
    # and one that left the preempt count changed (a spinlock held, or released after
    # "scheduling while atomic" reset it: emulator.sched) gets it set back
    imbalance = k.sched.preempt_count() != 0
    irqs_off = not m.reg(X.UC_X86_REG_EFLAGS) & X86_EFLAGS_IF
    if not imbalance and not irqs_off:
        return
    if imbalance:
        k.sched.preempt_set(0)
    if irqs_off:
        m.set_reg(X.UC_X86_REG_EFLAGS, m.reg(X.UC_X86_REG_EFLAGS) | X86_EFLAGS_IF)
    what = ("preemption imbalance " if imbalance else "") + \
        ("disabled interrupts " if irqs_off else "")
    file, line, site, _ = WARN_SITES["initcall"]
    p = k.printk
    p(MESSAGE_LOGLEVEL_DEFAULT, CUT_HERE)
    p(LOGLEVEL_WARNING, f"initcall {symbol(k, mod.init_addr) or hex(mod.init_addr)} "
                        f"returned with {what}")
    p(LOGLEVEL_WARNING, f"WARNING: CPU: 0 PID: {k.tasks.current.pid} at {file}:{line} "
                        f"{symbol(k, site) or 'do_one_initcall'}")
    print_modules(k)
    cpu_line(k)
    regs_block(k, faults._regs(m, site))
    p(MESSAGE_LOGLEVEL_DEFAULT, "Call Trace:")
    p(MESSAGE_LOGLEVEL_DEFAULT, " <TASK>")
    for frame in KERNEL_FRAMES["init"][1:]:
        p(MESSAGE_LOGLEVEL_DEFAULT, f" {frame}")
    for line_ in faults._user_regs(k, "init"):
        p(MESSAGE_LOGLEVEL_DEFAULT, line_)
    p(MESSAGE_LOGLEVEL_DEFAULT, " </TASK>")
    p(LOGLEVEL_WARNING, "---[ end trace 0000000000000000 ]---")
    k.add_taint("W", False)
