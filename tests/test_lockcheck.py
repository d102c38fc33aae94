"""Lock debugging (``--checks locks``, emulator.checks.locks): lockdep's reports for the lock
samples of samples/linux/bugs, as the 6.1 source prints them (Debian's kernel has lockdep
off, so there is no recording to compare with), and their ``lock_errors`` entries."""

import json

import pytest
from conftest import SAMPLES, run_cli

from emulator.kernel import Kernel

BUGS = SAMPLES / "linux/bugs"


def record(module, params="", rmmod=True, checks="locks"):
    with Kernel(checks=checks) as k:
        r = k.insmod(str(BUGS / f"{module}.ko"), params)
        if rmmod and r.ok:
            k.rmmod(module)
        return k.report(), k.dmesg()


def block(dmesg, headline):
    """The report's lines from its headline on, without the timestamps."""
    lines = [line.split("] ", 1)[1] if "] " in line else "" for line in dmesg.splitlines()]
    start = lines.index(headline)
    return lines[start - 2:]


def test_a_double_unlock_is_a_bad_unlock_balance():
    rec, dmesg = record("double_unlock")
    assert rec["outcome"] == "clean"
    [err] = rec["lock_errors"]
    assert (err["kind"], err["lock"], err["task"], err["owner"]) == \
        ("double_unlock", "&du_lock", "insmod/84", None)
    assert err["at"].startswith("du_twice+0x") and err["at"].endswith(" [double_unlock]")
    assert err["title"] == "WARNING: bad unlock balance detected!"
    lines = block(dmesg, "WARNING: bad unlock balance detected!")
    assert lines[:3] == ["", "=====================================",
                         "WARNING: bad unlock balance detected!"]
    assert lines[3].startswith("6.1.0-56-amd64 #1 Tainted: G")
    assert lines[5] == "insmod/84 is trying to release lock (&du_lock) at:"
    assert lines[6].startswith("[<ffffffffc") and lines[6].endswith(f"] {err['at']}")
    assert lines[7:12] == ["but there are no more locks to release!", "",
                           "other info that might help us debug this:",
                           "no locks held by insmod/84.", ""]
    assert lines[12] == "stack backtrace:" and lines[13].startswith("CPU: 0 PID: 84 Comm: insmod")
    assert f" {err['at']}" in lines and " du_twice" not in lines
    assert lines[-1] == "double_unlock: unlocked twice"     # and the code goes on


def test_an_unlock_by_another_task_names_the_owner():
    rec, dmesg = record("double_unlock", "by_worker=1")
    [err] = rec["lock_errors"]
    assert err["kind"] == "unlock_not_owner" and err["owner"] == "insmod/84"
    assert err["task"].startswith("kworker/") and err["at"].startswith("du_release+0x")
    assert f"{err['task']} is trying to release lock (&du_lock) at:" in dmesg


def test_init_returning_with_a_mutex_held():
    rec, dmesg = record("lock_held")
    [err] = rec["lock_errors"]
    assert (err["kind"], err["lock"], err["task"], err["held"]) == \
        ("held_at_return", "&held_lock", "insmod/84", ["&held_lock"])
    assert err["at"].startswith("held_take+0x") and err["at"].endswith(" [lock_held]")
    lines = block(dmesg, "WARNING: lock held when returning to user space!")
    assert lines[4:] == ["------------------------------------------------",
                         "insmod/84 is leaving the kernel with locks still held!",
                         "1 lock held by insmod/84:",
                         lines[-1]]
    assert lines[-1].startswith(" #0: ffffffffc") and \
        lines[-1].endswith(f" (&held_lock){{+.+.}}-{{3:3}}, at: {err['at']}")


def test_exit_returning_with_a_mutex_held_frees_it():
    """rmmod frees the module's memory (free_module's vfree) before it returns: lockdep's
    debug_check_no_locks_freed reports first, and turns itself off."""
    rec, dmesg = record("lock_held", "in_exit=1")
    [err] = rec["lock_errors"]
    assert (err["kind"], err["task"], err["title"]) == \
        ("held_at_return", "rmmod/85", "WARNING: held lock freed!")
    assert err["at"].startswith("held_take+0x")
    assert "rmmod/85 is freeing memory ffffffffc" in dmesg
    assert "CPU: 0 PID: 85 Comm: rmmod" in dmesg
    assert "lock held when returning" not in dmesg


def test_an_inverted_lock_order_is_a_circular_dependency():
    rec, dmesg = record("lock_order")
    [err] = rec["lock_errors"]
    assert (err["kind"], err["lock"], err["held_lock"], err["task"]) == \
        ("inversion", "&lock_a", "&lock_b", "insmod/84")
    assert err["at"].startswith("order_ba+0x") and err["held_at"].startswith("order_ba+0x")
    assert err["order"] == ["&lock_a", "&lock_b"]
    assert err["order_at"][0].startswith("order_ab+0x")         # where b was taken under a
    lines = block(dmesg, "WARNING: possible circular locking dependency detected")
    assert lines[5] == "insmod/84 is trying to acquire lock:"
    assert lines[6].endswith(f" (&lock_a){{+.+.}}-{{3:3}}, at: {err['at']}")
    assert lines[8] == "but task is already holding lock:"
    assert lines[9].endswith(f" (&lock_b){{+.+.}}-{{3:3}}, at: {err['held_at']}")
    assert "-> #1 (&lock_b){+.+.}-{3:3}:" in lines and "-> #0 (&lock_a){+.+.}-{3:3}:" in lines
    at = lines.index(" Possible unsafe locking scenario:")
    assert lines[at + 2:at + 10] == [
        "       CPU0                    CPU1", "       ----                    ----",
        "  lock(&lock_b);", "                               lock(&lock_a);",
        "                               lock(&lock_b);", "  lock(&lock_a);", "",
        " *** DEADLOCK ***"]
    assert lines[-1] == "lock_order: shared=2"


def test_recursive_locking_is_reported_instead_of_deadlocking():
    rec, dmesg = record("lock_order", "recursive=1")
    assert rec["outcome"] == "clean" and [c["rc"] for c in rec["calls"]] == [0, 0]
    [err] = rec["lock_errors"]
    assert (err["kind"], err["lock"]) == ("recursive", "&lock_a")
    assert err["at"].startswith("take_twice+0x") and err["held_at"].startswith("take_twice+0x")
    assert err["at"] != err["held_at"]
    lines = block(dmesg, "WARNING: possible recursive locking detected")
    assert lines[1] == "=" * 44 and lines[5] == "insmod/84 is trying to acquire lock:"
    assert "  lock(&lock_a);" in lines and " May be due to missing lock nesting notation" in lines


@pytest.mark.parametrize("module", ["clean_heap", "memheavy"])
def test_the_clean_modules_have_no_lock_errors(module):
    rec, _ = record(module)
    assert rec["lock_errors"] == [] and rec["checks"] == ["locks"]


@pytest.mark.parametrize("sample", ["locks", "kthreads", "workq", "waitq", "kworker",
                                    "deferred", "irqlab", "timers"])
def test_the_lock_using_samples_have_no_lock_errors(sample):
    path = SAMPLES / f"linux/{sample}/{sample}.ko"
    if not path.exists():
        pytest.skip(f"no {sample} sample")
    with Kernel(checks="locks") as k:
        assert k.insmod(str(path)).ok, k.dmesg()
        k.rmmod(sample)
        assert k.report()["lock_errors"] == [], k.dmesg()


@pytest.mark.parametrize("module, params", [
    ("double_unlock", ""), ("double_unlock", "by_worker=1"), ("lock_held", ""),
    ("lock_held", "in_exit=1"), ("lock_order", "")])
def test_without_the_check_nothing_changes(module, params):
    plain, plain_dmesg = record(module, params, checks=())
    other, other_dmesg = record(module, params, checks="leaks,memory")
    assert plain["lock_errors"] == [] and plain_dmesg == other_dmesg
    assert "WARNING" not in plain_dmesg and plain["outcome"] == "clean"


def test_the_cli_record_with_the_check_is_deterministic():
    argv = ("run", "--json", "--rmmod", "--max-insns", "5000000", "--checks", "locks",
            BUGS / "lock_order.ko")
    first, second = run_cli(*argv), run_cli(*argv)
    assert first.returncode == 0 and first.stdout == second.stdout
    rec = json.loads(first.stdout)
    assert rec["checks"] == ["locks"] and [e["kind"] for e in rec["lock_errors"]] == ["inversion"]
    plain = run_cli("run", "--rmmod", BUGS / "lock_order.ko")
    assert "circular locking" not in plain.stdout.decode() if isinstance(plain.stdout, bytes) \
        else "circular locking" not in plain.stdout


def test_the_plain_runs_match_debians_kernel():
    """tests/realkernel/lockbugs: on Debian's kernel (lock debugging off) every lock bug
    loads and unloads with nothing in the log; the plain runs do the same, line for line."""
    from pathlib import Path

    from test_scenarios import fidelity, run
    real = Path(__file__).parent / "realkernel"
    sim = run(real / "lockbugs.sh", [BUGS / f"{m}.ko"
                                     for m in ("double_unlock", "lock_held", "lock_order")])
    assert fidelity((real / "lockbugs.real.txt").read_text(), sim) == (29, 29)
