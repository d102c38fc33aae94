"""Interrupt handlers and I/O ports: request_irq/free_irq, request_region/release_region,
and the ``in``/``out`` instructions of module code.

The lines and port regions are ``k.irqs`` (emulator.irq). A port nobody emulates reads as
all ones, as QEMU's PC answers for an unassigned port; a write to one goes nowhere. A
kmodsim-only extension raises an interrupt (:func:`raise_irq`): the line's handlers run in
hard interrupt context, a threaded handler's thread runs when the handler asks for it.
"""

import errno

from unicorn import UC_HOOK_INSN
from unicorn import x86_const as X

from linker.loglevels import LOGLEVEL_ERR

from ..irq import IRQ_WAKE_THREAD, IRQF_PROBE_SHARED, IrqAction
from ..sched import TASK_INTERRUPTIBLE, TASK_NORMAL
from .registry import INT, PTR, UINT, ULONG, kapi

RESOURCE_SIZE = 64          # struct resource { start; end; name @16; flags @24; ... }


def _neg(m, e):
    return (-e) & m.mask


@kapi("irq.request_threaded_irq", irq=UINT, handler=PTR, thread_fn=PTR, irqflags=ULONG,
      devname=PTR, dev_id=PTR)
def request_threaded_irq(k, m, irq, handler, thread_fn, irqflags, devname, dev_id):
    """__setup_irq: a line another driver holds unshared is -EBUSY with genirq's line; a
    threaded handler gets its irq/N-name thread."""
    from ..irq import IRQF_SHARED
    if (irqflags & IRQF_SHARED and not dev_id) or (not handler and not thread_fn):
        return _neg(m, errno.EINVAL)
    desc = k.irqs.desc(irq)
    if desc is None:
        return _neg(m, errno.EINVAL)
    name = m.read_cstring(devname, 256).decode("latin-1") if devname else ""
    action = IrqAction(handler, thread_fn, irqflags & 0xFFFFFFFF, name, dev_id)
    old = k.irqs.add_action(irq, action)
    if old is not None:
        if not action.flags & IRQF_PROBE_SHARED:
            k.printk(LOGLEVEL_ERR, f"genirq: Flags mismatch irq {irq}. {action.flags:08x} "
                                   f"({name}) vs. {old.flags:08x} ({old.name})")
        return _neg(m, errno.EBUSY)
    if thread_fn:
        thread = k.sched.create_kthread(f"irq/{irq}-{name}"[:15], thread_fn, 0)
        thread.body = IrqThreadBody(irq, action)
        action.thread = thread
        k.sched.set_state(thread, TASK_INTERRUPTIBLE)
    return 0


@kapi("irq.free_irq", irq=UINT, dev_id=PTR)
def free_irq(k, m, irq, dev_id):
    """The action goes (its thread stops); the devname it was requested with."""
    action = k.irqs.remove_action(irq, dev_id)
    if action is None:
        return 0
    if action.thread is not None and not action.thread.dead:
        k.sched.exit_task(action.thread)
    return 0


@kapi("irq.enable_irq", irq=UINT)
def enable_irq(k, m, irq):
    desc = k.irqs.desc(irq)
    if desc is not None and desc.disabled:
        desc.disabled -= 1


@kapi("irq.disable_irq", "irq.disable_irq_nosync", "irq.disable_hardirq", irq=UINT)
def disable_irq(k, m, irq):
    desc = k.irqs.desc(irq)
    if desc is not None:
        desc.disabled += 1
    return 1


@kapi("irq.synchronize_irq", "irq.synchronize_hardirq", irq=UINT)
def synchronize_irq(k, m, irq):
    """No handler runs while the caller does, on one CPU."""
    return 1


class IrqThreadBody:
    """``irq_thread``: run the threaded handler each time the hard handler woke it."""

    def __init__(self, irq, action):
        self.irq, self.action = irq, action
        self.pending = 0

    def run(self, sched, task):
        while sched.k.faults.panicked is None:
            if task.ctx is not None:
                how, _ = sched.resume_frame(task)
            elif self.pending:
                self.pending -= 1
                how, _ = sched.run_frame(task, self.action.thread_fn,
                                         (self.irq, self.action.dev_id), "kthread")
            else:
                sched.set_state(task, TASK_INTERRUPTIBLE)
                return
            if how == "switch":
                return
            if how == "dead":
                sched.exit_task(task)
                return


def raise_irq(k, irq):
    """kmodsim only: interrupt line ``irq`` fires once. Its handlers run in hard interrupt
    context (a threaded one's thread is woken when the handler says IRQ_WAKE_THREAD); a
    disabled line counts it and runs nothing. False if the line has no handler."""
    desc = k.irqs.desc(irq)
    if desc is None or not desc.actions or k.faults.panicked is not None:
        return False
    desc.count += 1
    if desc.disabled:
        return True
    for action in list(desc.actions):
        if not action.handler and not action.thread_fn:
            continue                 # one of the guest's own drivers
        ret = IRQ_WAKE_THREAD
        if action.handler:
            k.sched.run_atomic(action.handler, (irq, action.dev_id), what="irq", hard=True)
            ret = k.machine.reg(k.machine.RET) & 0xFFFFFFFF
        if ret & IRQ_WAKE_THREAD and action.thread is not None:
            action.thread.body.pending += 1
            k.sched.wake(action.thread, TASK_NORMAL)
    k.sched.run_pending()
    return True


# --------------------------------------------------------------------------- port regions

@kapi("irq.__request_region", parent=PTR, start=ULONG, n=ULONG, name=PTR, flags=INT)
def request_region(k, m, parent, start, n, name, flags):
    """I/O ports only (``ioport_resource``); memory regions are granted as asked."""
    text = m.read_cstring(name, 256).decode("latin-1") if name else ""
    res = k.slab.kmalloc(RESOURCE_SIZE, 0x100)
    m.write_int(res, 8, start)
    m.write_int(res + 8, 8, start + n - 1)
    m.write_ptr(res + 16, name)
    m.write_int(res + 24, 8, 0x80000100)        # IORESOURCE_BUSY | IORESOURCE_IO
    if parent == k.export_addr("ioport_resource"):
        node = k.irqs.request_region(start, n, text)
        if node is None:
            k.slab.kfree(res)
            return 0
        node.addr = res
    return res


@kapi("irq.__release_region", parent=PTR, start=ULONG, n=ULONG)
def release_region(k, m, parent, start, n):
    if parent == k.export_addr("ioport_resource"):
        node = k.irqs.release_region(start, n)
        if node is not None and node.addr:
            k.slab.kfree(node.addr)


# --------------------------------------------------------------------------- in / out

def _port_in(k, port, size):
    return (1 << (8 * size)) - 1        # an unassigned port: all ones


def hook_ports(k):
    """Module code's ``in``/``out``: ports nobody emulates read as all ones (QEMU's
    unassigned-port reads), writes to them are dropped."""
    if k.profile.kind != "linux":
        return
    uc = k.machine.uc
    uc.hook_add(UC_HOOK_INSN, lambda uc_, port, size, user: _port_in(k, port, size),
                aux1=X.UC_X86_INS_IN)
    uc.hook_add(UC_HOOK_INSN, lambda uc_, port, size, value, user: None,
                aux1=X.UC_X86_INS_OUT)

