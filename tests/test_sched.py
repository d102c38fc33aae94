"""The scheduler, timers, deferred work and locks (emulator.sched, emulator.kapi.sched,
timers, locks) against the real kernel's recordings, and what it must survive.

Each recording in tests/realkernel (timers1, kthreads1, workq1, waitq1, sleep_atomic1,
deferred1, kworker1, hung1, forgot0-2, locks1) was
made with ../shared/tools/realkernel from the samples in samples/linux (the first line of
each .sh says how); kmodsim reproduces every normalised line, and two runs of a scenario
print the same bytes.
"""

from pathlib import Path

import pytest
from conftest import SAMPLES
from test_scenarios import fidelity, normalize, run

from emulator.cli.script import scenario_output
from emulator.kernel import Kernel
from emulator.sched import TASK_UNINTERRUPTIBLE, wheel_expiry

REAL = Path(__file__).parent / "realkernel"
LINUX = SAMPLES / "linux"
RECORDED = {"timers1": "timers", "kthreads1": "kthreads", "workq1": "workq",
            "waitq1": "waitq", "sleep_atomic1": "sleep_atomic", "deferred1": "deferred",
            "kworker1": "kworker", "hung1": "sched_hostile", "forgot0": "forgot",
            "forgot1": "forgot", "forgot2": "forgot", "locks1": "locks"}
HOSTILE = LINUX / "sched_hostile" / "sched_hostile.ko"


def sample(name):
    return LINUX / name / f"{name}.ko"


def scenario(name):
    return run(REAL / f"{name}.sh", [sample(RECORDED[name])])


# --------------------------------------------------------------------------- recordings

@pytest.mark.parametrize("name", sorted(RECORDED))
def test_recording_fidelity(name):
    real = (REAL / f"{name}.real.txt").read_text()
    matched, total = fidelity(real, scenario(name))
    assert matched == total, (matched, total)


@pytest.mark.parametrize("name", ["kthreads1", "waitq1", "deferred1", "locks1", "forgot0"])
def test_two_runs_are_byte_identical(name):
    assert scenario(name) == scenario(name)


def test_recordings_say_how_they_were_made():
    for name in RECORDED:
        first = (REAL / f"{name}.sh").read_text().splitlines()[:2]
        assert first[0].startswith(f"# {name}:") and "realkernel" in first[1], name


# --------------------------------------------------------------------------- timers

@pytest.mark.parametrize("expires,now,fires", [
    (1025, 1000, 1026),             # level 0: the next jiffy after the expiry
    (1000, 1000, 1001),
    (999, 1000, 1000),              # already due: the next tick
    (1062, 1000, 1063),             # 62 away: still level 0
    (1063, 1000, 1064),             # 63 away: level 1, granule 8: rounded up past it
    (1076, 1000, 1080),             # msleep(300)'s 76 jiffies: 320 ms, as on the guest
    (1504, 1000, 1536),             # 504 away: level 2, granule 64
])
def test_timer_wheel_granularity(expires, now, fires):
    assert wheel_expiry(expires, now) == fires


def test_timer_fires_in_softirq_during_sleep_and_is_gone_after():
    with Kernel() as k:
        assert k.insmod(str(sample("timers")), "shots=2 period_ms=40").ok
        assert "fired" not in k.dmesg()
        k.sched.sleep(1_000_000_000)
        log = k.dmesg()
        assert log.count("in_interrupt=1 in_softirq=1 in_task=0") == 2
        assert not k.sched.timers
        assert k.rmmod("timers").ok
        assert "exit after 2 of 2, was pending=0" in k.dmesg()


def test_rmmod_cancels_a_pending_timer():
    with Kernel() as k:
        k.insmod(str(sample("timers")), "period_ms=5000")
        assert len(k.sched.timers) == 1
        k.rmmod("timers")
        assert not k.sched.timers
        assert "was pending=1" in k.dmesg()
        k.sched.sleep(10_000_000_000)
        assert "fired" not in k.dmesg()


# --------------------------------------------------------------------------- kthreads

def test_kthread_is_a_task_with_its_own_stack_and_goes_away_at_kthread_stop():
    with Kernel() as k:
        k.insmod(str(sample("kthreads")))
        thread = next(t for t in k.tasks.live() if t.comm == "kmodsim_kt")
        assert thread.pid == 85 and thread.is_kthread
        assert thread.stack_top and thread.ctx is not None      # asleep in msleep
        assert k.tasks.state(thread) == "D"
        k.sched.sleep(400_000_000)
        assert k.dmesg().count("kthreads: tick") == 2
        k.rmmod("kthreads")
        assert thread not in k.tasks.live() and thread.dead
        assert "kthread_stop returned 20" in k.dmesg()


def test_simulated_time_moves_only_as_far_as_asked():
    with Kernel() as k:
        k.insmod(str(sample("kthreads")))
        before = k.time.ns
        k.sched.sleep(1_000_000_000)
        assert k.time.ns == before + 1_000_000_000


# --------------------------------------------------------------------------- workqueues

def test_work_runs_in_a_kworker_and_system_wq_is_a_real_object():
    with Kernel() as k:
        k.insmod(str(sample("workq")))
        system_wq = k.machine.read_ptr(k.export_addr("system_wq"))
        assert system_wq and k.slab.heap.contains(system_wq)
        assert "work runs in_task=1 kworker=1" in k.dmesg()
        assert "delayed work runs" not in k.dmesg()
        k.sched.sleep(300_000_000)
        assert "delayed work runs in_task=1" in k.dmesg()


# --------------------------------------------------------------------------- hostile

def hostile(how, script="sleep 2"):
    """sched_hostile.ko how=N in a scenario: insmod, ``script``, rmmod."""
    text = (f"insmod sched_hostile.ko how={how}; echo rc=$?\n{script}\n"
            "rmmod sched_hostile; echo rc=$?\n")
    return scenario_output(text, {HOSTILE.name: HOSTILE.read_bytes()})


@pytest.mark.parametrize("how", [0, 4])
def test_a_task_that_can_never_wake_is_reported_and_killed(how):
    out = hostile(how)
    assert "INFO: task insmod:84 blocked for more than 120 seconds." in out
    assert "kmodsim: insmod[84] sleeps with nothing left to wake it: killed" in out
    assert "Killed\nrc=137" in out and "Traceback" not in out


def test_a_storm_of_wakeups_shares_the_cpu_and_stops_at_rmmod():
    out = hostile(2)
    assert "rc=0\nrc=0" in out and "exit after" in out and "Traceback" not in out


def test_a_sleeping_loop_over_many_seconds_is_cheap_and_deterministic():
    out = hostile(3, "sleep 5")
    rounds = int(out.split("exit after ")[1].split()[0])
    assert 350 < rounds < 450               # msleep(1) is 3 jiffies: 12 ms
    assert out == hostile(3, "sleep 5")


def test_spinning_kthread_is_ended_by_the_budget():
    with Kernel(timeout_s=0.3) as k:
        r = k.insmod(str(HOSTILE), "how=1")
        assert r.ok
        spinner = next(t for t in k.sched.kthread_tasks() if t.comm == "hostile_spin")
        assert spinner.dead
        assert k.rmmod("sched_hostile").ok


# --------------------------------------------------------------------------- locks

def test_mutex_contention_blocks_and_hands_off():
    out = normalize(scenario("waitq1"))
    assert out.count("waitq: consumed 1") == 2


def test_preempt_count_is_the_per_cpu_value_with_need_resched_inverted():
    with Kernel() as k:
        assert k.sched.preempt_count() == 0
        k.sched.preempt_add(1)
        assert k.sched.preempt_count() == 1
        k.sched.preempt_set(0)
        assert k.sched.preempt_count() == 0


def test_scheduling_while_atomic_prints_and_goes_on():
    out = scenario("sleep_atomic1")
    assert "BUG: scheduling while atomic: insmod/84/0x00000002" in out
    assert "returned with preemption imbalance" in out
    assert "sleep_atomic 16384 0 - Live" in out


def test_task_states():
    with Kernel() as k:
        k.insmod(str(sample("kthreads")))
        thread = next(t for t in k.tasks.live() if t.comm == "kmodsim_kt")
        assert k.sched.state_of(thread) == TASK_UNINTERRUPTIBLE
        kworker = next(t for t in k.tasks.live() if t.comm == "kworker/0:2")
        assert k.tasks.state(kworker) == "I"


def test_ps_lists_the_modules_kthread():
    """ps1: busybox ps while kthreads.ko's thread runs, and after rmmod."""
    real = (REAL / "ps1.real.txt").read_text()
    sim = run(REAL / "ps1.sh", [SAMPLES / "linux/kthreads/kthreads.ko"])
    matched, total = fidelity(real, sim)
    assert matched == total


def test_ps_in_pipelines_and_an_exec_d_applets_comm():
    """ps2: an exec'd applet is named after itself (tail), a redirection is opened by the
    forked sh; ps sees the pipeline's later elements with their pids and argv (quoted words
    too), kernel threads whose names grep matches, and is deterministic."""
    real = (REAL / "ps2.real.txt").read_text()
    sim = run(REAL / "ps2.sh", [SAMPLES / "linux/kthreads/kthreads.ko"])
    assert fidelity(real, sim) == (15, 15)
    assert run(REAL / "ps2.sh", [SAMPLES / "linux/kthreads/kthreads.ko"]) == sim


@pytest.mark.parametrize("cmdline,comm,shown", [
    (b"", "kthreadd", "[kthreadd]"),
    (b"sh\0/scenario.sh\0", "sh", "sh /scenario.sh"),
    (b"sh\0/scenario.sh\0", "ps", "{ps} sh /scenario.sh"),
    (b"/bin/sh\0/init\0nokaslr\0", "init", "{init} /bin/sh /init nokaslr"),
    (b"-sh\0", "sh", "-sh"),                        # a login shell's argv[0]
    (b"tail\0-3\0", "tail", "tail -3"),
    (b"x" * 200 + b"\0", "x", "x" * 64),            # cut to the columns left
])
def test_ps_command_column_is_busybox_read_cmdline(cmdline, comm, shown):
    from emulator.shell.applets.procs import read_cmdline
    assert read_cmdline(cmdline, 65, comm) == shown


# A kthread that spins without sleeping (sched_hostile how=1) on the real guest (-smp 1,
# voluntary preemption): insmod returns and the shell goes on until it next waits (rmmod's
# fork); from then on the spinner has the CPU for good, user space never runs again and
# realkernel's timeout cuts the guest off (no DMESG section). RCU's stall report at ~21 s
# touches the watchdog, so the first soft lockup comes at ~45 s ("stuck for 45s"). kmodsim
# shares the CPU with the spinner instead (the fair scheduler's slices), and the rmmod that
# follows stops it: not the recording yet.
@pytest.mark.xfail(strict=True, reason="a spinning kthread does not hang the guest for good "
                                       "in kmodsim: the scenario goes on (spin1, spin2)")
@pytest.mark.parametrize("name", ["spin1", "spin2"])
def test_a_spinning_kthread_takes_the_cpu_for_good(name):
    real = (REAL / f"{name}.real.txt").read_text()
    sim = run(REAL / f"{name}.sh", [HOSTILE])
    matched, total = fidelity(real, sim)
    assert matched == total


def test_a_sleep_of_years_costs_no_more_than_one_of_seconds():
    """kthreads.ko period_ms=-1: msleep((unsigned)-1) is MAX_JIFFY_OFFSET jiffies, and
    rmmod's kthread_stop waits for it. khungtaskd reports rmmod once at 120 s; after that
    no check can report anything, so simulated time goes to the expiry at once (fuzz
    campaign 1, input 2019809: the clock walked 120 s at a time, past every limit)."""
    import time
    script = "insmod kthreads.ko period_ms=-1; echo rc=$?\nrmmod kthreads; echo rc=$?\n"
    t0 = time.monotonic()
    out = scenario_output(script, {"kthreads.ko": (LINUX / "kthreads/kthreads.ko").read_bytes()})
    assert time.monotonic() - t0 < 10
    assert "INFO: task rmmod:" in out and "blocked for more than 120 seconds." in out
    assert "kthreads: kthread_stop returned 10" in out
