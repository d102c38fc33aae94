"""Interrupt lines and I/O ports (emulator.irq, emulator.kapi.irq) against the reference
guest (tests/realkernel/irqlab1), and the kmodsim-only way to raise an interrupt."""

from pathlib import Path

import pytest
from conftest import SAMPLES
from test_scenarios import fidelity, run

from emulator.irq import Irqs
from emulator.kapi.irq import raise_irq
from emulator.kernel import Kernel

REAL = Path(__file__).parent / "realkernel"
IRQLAB = SAMPLES / "linux" / "irqlab" / "irqlab.ko"


def test_recording_fidelity():
    real = (REAL / "irqlab1.real.txt").read_text()
    matched, total = fidelity(real, run(REAL / "irqlab1.sh", [IRQLAB]))
    assert matched == total, (matched, total)


@pytest.mark.parametrize("start,n,ok", [
    (0x300, 8, True),           # free, inside the PCI bus window
    (0x60, 1, False),           # keyboard
    (0x3f8, 8, False),          # serial
    (0x3fc, 8, False),          # overlaps serial's end
    (0x600, 4, False),          # ACPI PM1a_EVT_BLK inside the PIIX4's window
    (0x610, 4, True),           # free inside the PIIX4's window
    (0xcf8, 1, False),          # PCI conf1
    (0x10000, 1, False),        # past the port space
])
def test_request_region_follows_the_resource_tree(start, n, ok):
    irqs = Irqs()
    assert (irqs.request_region(start, n, "t") is not None) == ok
    if ok:
        assert irqs.request_region(start, n, "again") is None
        assert irqs.release_region(start, n) is not None
        assert irqs.request_region(start, n, "again") is not None


def test_proc_ioports_is_the_guests():
    real = (REAL / "irqlab1.real.txt").read_text()
    assert Irqs().proc_ioports() in real


def test_raised_interrupt_runs_the_handler_in_hardirq_context():
    with Kernel() as k:
        assert k.insmod(str(IRQLAB)).ok
        assert raise_irq(k, 7) and raise_irq(k, 7)
        assert "interrupt 7, count 2, in_hardirq=1 dev=1" in k.dmesg()
        assert "  7:          2   IO-APIC   7-edge      irqlab" in k.irqs.proc_interrupts()
        assert k.sched.preempt_count() == 0
        k.rmmod("irqlab")
        assert not raise_irq(k, 7)
        assert "exit after 2 interrupts" in k.dmesg()


def test_unshared_line_in_use_is_ebusy_with_genirqs_line():
    with Kernel() as k:
        k.insmod(str(IRQLAB), "irq=1 shared=1 base=0x310")
        log = k.dmesg()
        assert "genirq: Flags mismatch irq 1. 00000080 (irqlab) vs. 00000000 (i8042)" in log
        assert "request_irq(1) = -16" in log


def test_ports_nobody_emulates_read_all_ones():
    with Kernel() as k:
        k.insmod(str(IRQLAB), "base=0x310 len=4")
        assert "inb(0x310) = 0xff inw = 0xffff inl = 0xffffffff" in k.dmesg()


def test_a_scenario_fires_an_interrupt_with_kmodsim_irq():
    """kmodsim-irq IRQ [COUNT] (kmodsim only, not busybox): the module's handler runs in
    hard interrupt context each time, /proc/interrupts counts it; a line nobody
    requested and a bad argument say so."""
    from pathlib import Path

    from conftest import SAMPLES

    from emulator.cli.script import scenario_output
    script = ("insmod irqlab.ko irq=11; kmodsim-irq 11 3; echo rc=$?\n"
              "grep irqlab /proc/interrupts\n"
              "kmodsim-irq 10; echo rc=$?\nkmodsim-irq eleven; echo rc=$?\nrmmod irqlab\n")
    out = scenario_output(script, {"irqlab.ko": Path(SAMPLES / "linux/irqlab/irqlab.ko").read_bytes()})
    assert "rc=0\n 11:          3   IO-APIC  11-fasteoi   irqlab\n" in out
    assert "kmodsim-irq: no handler on IRQ 10\nrc=1\n" in out
    assert "kmodsim-irq: usage: kmodsim-irq IRQ [COUNT]" in out and "rc=2\n" in out
    for n in (1, 2, 3):
        assert f"irqlab: interrupt 11, count {n}, in_hardirq=1 dev=1" in out
    assert "irqlab: exit after 3 interrupts" in out
