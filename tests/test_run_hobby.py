"""Seed 004's hobby modules run in the emulated i386 CPU against the hobby profile."""

import subprocess
import sys

from conftest import SAMPLES

from emulator.kernel import Kernel


def test_hello_prints_seed_004_lines():
    k = Kernel("hobby-i386")
    assert k.insmod(SAMPLES / "hobby/hello.o").ok
    assert k.log.console_drain() == "Hello from hello.ko!\n"
    assert k.rmmod("hello").ok
    assert k.log.console_drain() == "Goodbye from hello.ko.\n"
    assert list(k.modules) == []


def test_counter_computes_what_its_source_promises():
    k = Kernel("hobby-i386")
    assert k.insmod(SAMPLES / "hobby/counter.o").ok
    assert k.log.console_drain().splitlines() == [
        "counter: init", "counter: double -> 6", "counter: add -> 9", "counter: square -> 81",
        "counter: ticks = 3", "counter: total = 81", "counter: weighted = 30"]
    assert k.rmmod("counter").ok
    assert k.log.console_drain() == "counter: exit after ticks = 3\n"


def test_common_symbol_is_refused_and_kernel_stays_usable():
    k = Kernel("hobby-i386")
    r = k.insmod(SAMPLES / "hobby/common.o")
    assert r.rc == -8 and "COMMON" in (r.message or "") + "".join(x.text for x in k.log)
    assert k.insmod(SAMPLES / "hobby/hello.o").ok


def test_run_command():
    r = subprocess.run([sys.executable, "-m", "emulator.cli", "run", "--rmmod",
                        str(SAMPLES / "hobby/hello.o")], capture_output=True, text=True)
    assert r.returncode == 0
    assert r.stdout == "Hello from hello.ko!\nGoodbye from hello.ko.\n"


def test_run_names_the_limit_that_stopped_an_endless_init():
    """The kernel's report is the soft-lockup watchdog's; kmodsim also says which of its own
    limits ended the run, on stderr."""
    xorshift = SAMPLES / "linux/xorshift/xorshift.ko"
    r = subprocess.run([sys.executable, "-m", "emulator.cli", "run", str(xorshift),
                        "rounds=100000000", "--max-insns", "50000"], capture_output=True, text=True)
    assert r.returncode == 7        # EXIT_BUDGET (emulator.cli.status), not the kill's 137
    assert "watchdog: BUG: soft lockup - CPU#0 stuck for" in r.stdout
    assert "the --max-insns budget of 50000 instructions" in r.stderr
