"""Interrupt lines and I/O port regions, as the reference guest has them.

``k.irqs`` keeps the interrupt descriptors (the guest's own actions: the timer, i8042,
ttyS0, rtc0, acpi, as tests/realkernel/irqlab1 shows them) and the I/O port resource tree
(/proc/ioports on QEMU's i440FX machine). Modules add to both (``request_irq``,
``request_region``: emulator.kapi.irq) and the file layer renders them
(:meth:`Irqs.proc_interrupts`, :meth:`Irqs.proc_ioports`).

Nothing raises an interrupt on its own in kmodsim: :meth:`Irqs.raise_irq` (a kmodsim-only
extension, for notebooks and tests) runs a line's handlers in hard interrupt context, and
wakes the threads of threaded handlers that ask for it.
"""

from dataclasses import dataclass, field

IRQF_SHARED, IRQF_ONESHOT, IRQF_PROBE_SHARED = 0x80, 0x2000, 0x100
IRQ_NONE, IRQ_HANDLED, IRQ_WAKE_THREAD = 0, 1, 2
NR_IRQS = 24                # the IO-APIC's pins on the reference machine
IORESOURCE_BUSY = 0x80000000


@dataclass(eq=False)
class IrqAction:
    handler: int
    thread_fn: int
    flags: int
    name: str
    dev_id: int
    thread: object = None           # the irq/N-name kthread of a threaded handler


@dataclass(eq=False)
class IrqDesc:
    irq: int
    chip: str = "IO-APIC"
    hwirq: int = 0
    kind: str = "edge"
    count: int = 0
    actions: list = field(default_factory=list)
    disabled: int = 0


@dataclass(eq=False)
class Resource:
    start: int
    end: int
    name: str
    busy: bool = True
    children: list = field(default_factory=list)
    addr: int = 0                   # the struct resource handed to the module, if any


# the reference guest's lines: irq -> (chip, hwirq, type, [(name, flags)], count)
GUEST_IRQS = {0: ("local-APIC", 2, "edge", [("timer", 0x15A00)], 356),
              1: ("IO-APIC", 1, "edge", [("i8042", 0)], 9),
              4: ("IO-APIC", 4, "edge", [("ttyS0", 0)], 6),
              8: ("IO-APIC", 8, "edge", [("rtc0", 0)], 1),
              9: ("IO-APIC", 9, "fasteoi", [("acpi", IRQF_SHARED)], 0),
              12: ("IO-APIC", 12, "edge", [("i8042", 0)], 3)}
LEVEL_IRQS = (9, 10, 11)            # routed from PCI links by ACPI: fasteoi
# the other rows of /proc/interrupts (architecture counters), as on the reference guest
ARCH_ROWS = (("NMI", "Non-maskable interrupts"), ("LOC", "Local timer interrupts"),
             ("SPU", "Spurious interrupts"), ("PMI", "Performance monitoring interrupts"),
             ("IWI", "IRQ work interrupts"), ("RTR", "APIC ICR read retries"),
             ("RES", "Rescheduling interrupts"), ("CAL", "Function call interrupts"),
             ("TLB", "TLB shootdowns"), ("TRM", "Thermal event interrupts"),
             ("THR", "Threshold APIC interrupts"), ("DFR", "Deferred Error APIC interrupts"),
             ("MCE", "Machine check exceptions"), ("MCP", "Machine check polls"),
             ("ERR", ""), ("MIS", ""),
             ("PIN", "Posted-interrupt notification event"),
             ("NPI", "Nested posted-interrupt event"),
             ("PIW", "Posted-interrupt wakeup event"))
# /proc/ioports of the reference guest: (depth, start, end, name); PCI buses and devices'
# windows are not busy (a driver may claim ports inside them), the rest are
GUEST_IOPORTS = """\
0 0000 0cf7 PCI Bus 0000:00
1 0000 001f dma1
1 0020 0021 pic1
1 0040 0043 timer0
1 0050 0053 timer1
1 0060 0060 keyboard
1 0064 0064 keyboard
1 0070 0077 rtc0
1 0080 008f dma page reg
1 00a0 00a1 pic2
1 00c0 00df dma2
1 00f0 00ff fpu
1 0170 0177 0000:00:01.1
1 01f0 01f7 0000:00:01.1
1 0376 0376 0000:00:01.1
1 03c0 03df vga+
1 03f6 03f6 0000:00:01.1
1 03f8 03ff serial
1 0510 051b QEMU0002:00
1 0600 063f 0000:00:01.3
2 0600 0603 ACPI PM1a_EVT_BLK
2 0604 0605 ACPI PM1a_CNT_BLK
2 0608 060b ACPI PM_TMR
1 0700 070f 0000:00:01.3
0 0cf8 0cff PCI conf1
0 0d00 ffff PCI Bus 0000:00
1 afe0 afe3 ACPI GPE0_BLK
1 c000 c03f 0000:00:03.0
1 c040 c04f 0000:00:01.1
"""


def _not_busy(name):
    return name.startswith(("PCI Bus", "0000:", "QEMU"))


class Irqs:
    """``k.irqs``: interrupt descriptors and the I/O port resource tree."""

    def __init__(self):
        self.descs = {}
        for irq in range(NR_IRQS):
            kind = "fasteoi" if irq in LEVEL_IRQS else "edge"
            self.descs[irq] = IrqDesc(irq, hwirq=irq, kind=kind)
        for irq, (chip, hwirq, kind, actions, count) in GUEST_IRQS.items():
            desc = self.descs[irq]
            desc.chip, desc.hwirq, desc.kind, desc.count = chip, hwirq, kind, count
            desc.actions = [IrqAction(0, 0, flags, name, 0) for name, flags in actions]
        self.ioports = Resource(0, 0xFFFF, "PCI IO", busy=False)
        stack = [self.ioports]
        for line in GUEST_IOPORTS.splitlines():
            depth, start, end, name = line.split(" ", 3)
            node = Resource(int(start, 16), int(end, 16), name, busy=not _not_busy(name))
            del stack[int(depth) + 1:]
            stack[-1].children.append(node)
            stack.append(node)

    # ------------------------------------------------------------------ interrupt lines

    def desc(self, irq):
        return self.descs.get(irq)

    def add_action(self, irq, action):
        """__setup_irq's sharing rule: 0, or (-EBUSY, the action it clashes with)."""
        desc = self.descs[irq]
        for old in desc.actions:
            if not (old.flags & action.flags & IRQF_SHARED) or \
                    (old.flags ^ action.flags) & IRQF_ONESHOT:
                return old
        desc.actions.append(action)
        return None

    def remove_action(self, irq, dev_id):
        desc = self.descs.get(irq)
        if desc is None:
            return None
        for action in desc.actions:
            if action.dev_id == dev_id and action.handler | action.thread_fn:
                desc.actions.remove(action)
                return action
        return None

    def proc_interrupts(self):
        """/proc/interrupts as ``show_interrupts`` prints it with one CPU."""
        out = ["           CPU0       \n"]
        for irq, desc in sorted(self.descs.items()):
            if not desc.actions:
                continue
            names = ", ".join(a.name for a in desc.actions)
            out.append(f"{irq:>3}:{desc.count:>11}  {desc.chip:>8} {desc.hwirq:>3}-"
                       f"{desc.kind:<8}  {names}\n")
        for name, what in ARCH_ROWS:
            out.append(f"{name}:{0:>11}   {what}".rstrip() + "\n" if what else
                       f"{name}:{0:>11}\n")
        return "".join(out)

    # ------------------------------------------------------------------ port regions

    def request_region(self, start, n, name):
        """``__request_region`` in the port tree: the new busy Resource, or None when a
        busy region overlaps it."""
        if n == 0:
            return None
        end = start + n - 1
        parent = self.ioports
        while True:
            if start < parent.start or end > parent.end:
                return None
            conflict = next((c for c in parent.children
                             if c.start <= end and start <= c.end), None)
            if conflict is None:
                node = Resource(start, end, name)
                parent.children.append(node)
                parent.children.sort(key=lambda r: r.start)
                return node
            if conflict.busy or not (conflict.start <= start and end <= conflict.end):
                return None
            parent = conflict

    def release_region(self, start, n):
        """``__release_region``: the busy region that starts at ``start`` and has ``n``
        ports goes (None if there is none)."""
        end = start + n - 1

        def walk(parent):
            for child in parent.children:
                if child.start == start and child.end == end and child.busy:
                    parent.children.remove(child)
                    return child
                if child.start <= start and end <= child.end:
                    return walk(child)
            return None
        return walk(self.ioports)

    def proc_ioports(self):
        """/proc/ioports as ``r_show`` prints it (four hex digits, two spaces a level)."""
        out = []

        def walk(parent, depth):
            for child in parent.children:
                out.append(f"{'  ' * depth}{child.start:04x}-{child.end:04x} : {child.name}\n")
                walk(child, depth + 1)
        walk(self.ioports, 0)
        return "".join(out)
