"""The run record (emulator.report), the exit statuses (emulator.cli.status) and the debug
checks (emulator.checks: kmemleak, KASAN), against the bug-class samples of
samples/linux/bugs: each bug named with its kind and place, the clean module with none."""

import json
from pathlib import Path

import pytest
from conftest import SAMPLES, run_cli
from test_scenarios import fidelity

from emulator.checks import parse_checks
from emulator.cli.script import scenario_output
from emulator.cli.status import STATUSES, status_of
from emulator.kernel import Kernel
from emulator.report import SCHEMA

BUGS = SAMPLES / "linux/bugs"
FAULTS = SAMPLES / "linux/faults"
REAL = Path(__file__).parent / "realkernel"
FIELDS = {"schema", "exit_status", "outcome", "reason", "kernel", "checks", "calls", "dmesg",
          "faults", "leaks", "memory_errors", "lock_errors", "not_simulated", "budget"}


def record(module, *params, rmmod=True, checks="leaks,memory", **kernel):
    with Kernel(checks=checks, **kernel) as k:
        r = k.insmod(str(BUGS / f"{module}.ko"), " ".join(params))
        if rmmod and r.ok:
            k.rmmod(module)
        if k.checks.kmemleak is not None and k.panicked is None:
            k.checks.kmemleak.scan()
        return k.report(), k


# --------------------------------------------------------------------------- the record

def test_the_clean_module_has_no_reports():
    rec, _ = record("clean_heap")
    assert set(rec) == FIELDS and rec["schema"] == SCHEMA == "kmodsim.run/1"
    assert (rec["exit_status"], rec["outcome"], rec["reason"]) == (0, "clean", None)
    assert rec["leaks"] == rec["memory_errors"] == rec["faults"] == rec["lock_errors"] == []
    assert [(c["syscall"], c["module"], c["rc"], c["errno"]) for c in rec["calls"]] == \
        [("insmod", "clean_heap", 0, None), ("rmmod", "clean_heap", 0, None)]
    assert rec["checks"] == ["leaks", "memory"] and rec["not_simulated"] == []
    assert rec["dmesg"][-2:] == ["[    1.800003] clean_heap: 4 nodes",
                                 "[    1.800004] clean_heap: freed"]
    json.dumps(rec)         # all of it JSON


@pytest.mark.parametrize("module, size, where", [
    ("leak_init", 64, "leak_init_init+"),       # the only pointer was a local of init
    ("leak_exit", 40, "leak_exit_init+"),       # exit freed one record of two
])
def test_a_leak_is_named_with_its_size_and_where_it_was_allocated(module, size, where):
    rec, k = record(module)
    assert len(rec["leaks"]) == 1, rec["leaks"]
    leak = rec["leaks"][0]
    assert (leak["size"], leak["module"], leak["comm"]) == (size, module, "insmod")
    assert leak["at"].startswith(where) and leak["at"].endswith(f" [{module}]")
    assert leak["backtrace"][0] == "kmalloc_trace+0x0/0x90"
    assert leak["backtrace"][-1] == "entry_SYSCALL_64_after_hwframe+0x6e/0xd8"
    assert rec["memory_errors"] == [] and rec["exit_status"] == 0
    assert rec["dmesg"][-1].endswith(
        "] kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)")
    text = k.checks.kmemleak.file_text().splitlines()
    assert text[0] == f"unreferenced object {leak['address']} (size {size}):"
    assert text[1].startswith('  comm "insmod", pid ') and ", jiffies " in text[1]
    assert text[2] == "  hex dump (first 32 bytes):" and text[5] == "  backtrace:"
    assert text[6].startswith("    [<") and text[6].endswith("] kmalloc_trace+0x0/0x90")


def test_a_leak_in_init_is_found_while_the_module_is_still_loaded():
    rec, _ = record("leak_init", rmmod=False)
    assert [leak["size"] for leak in rec["leaks"]] == [64]
    rec, _ = record("leak_exit", rmmod=False)      # still referenced from its .bss
    assert rec["leaks"] == []


@pytest.mark.parametrize("module, kind, access, size, where, line", [
    ("uaf", "use-after-free", "read", 4, "uaf_init+", "uaf.c:21"),
    ("overflow", "slab-out-of-bounds", "write", 4, "overflow_init+", "overflow.c:16"),
    ("double_free", "double-free", None, None, "double_free_init+", "double_free.c:23"),
    ("invalid_free", "invalid-free", None, None, "invalid_free_init+", "invalid_free.c:22"),
])
def test_a_memory_error_is_named_with_its_kind_and_place(module, kind, access, size, where,
                                                        line):
    rec, k = record(module)
    assert len(rec["memory_errors"]) == 1, rec["memory_errors"]
    err = rec["memory_errors"][0]
    assert (err["kind"], err["access"], err["size"]) == (kind, access, size)
    assert err["at"].startswith(where) and err["at"].endswith(f" [{module}]")
    assert err["source"] == f"samples/linux/bugs/{line}"
    assert err["allocated"][1].startswith(where)
    log = k.dmesg()
    assert f"] BUG: KASAN: {kind} in {err['at']}\n" in log
    assert log.count("] " + "=" * 66 + "\n") == 2
    if access:
        assert f"] {access.capitalize()} of size {size} at addr {err['address'][2:]} by task " \
               f"insmod/" in log
    else:
        assert f"] Free of addr {err['address'][2:]} by task insmod/" in log
    assert "] Memory state around the buggy address:\n" in log
    assert rec["faults"] == [] and rec["exit_status"] == 0
    # the object an invalid free missed is leaked as well
    assert [leak["at"].split("+")[0] for leak in rec["leaks"]] == \
        (["invalid_free_init"] if module == "invalid_free" else [])
    assert "B" in rec["kernel"]["tainted"]          # TAINT_BAD_PAGE


def test_kasan_tells_freed_from_out_of_bounds():
    _, k = record("uaf")
    log = k.dmesg()
    assert "] Freed by task " in log and "] The buggy address is located 4 bytes inside of\n" in log
    assert " 8-byte region [" in log
    _, k = record("overflow")
    assert "] The buggy address is located 0 bytes to the right of\n" in k.dmesg()
    assert "Freed by task" not in k.dmesg()


def test_without_checks_a_double_free_is_slubs_bug_and_kills_insmod():
    rec, _ = record("double_free", checks=())
    assert rec["memory_errors"] == [] and rec["checks"] == []
    assert rec["exit_status"] == 139 and rec["outcome"] == "killed"
    [fault] = rec["faults"]
    assert (fault["kind"], fault["title"]) == ("bug", "kernel BUG at mm/slub.c:419")
    assert fault["rip"] == "__kmem_cache_free+0x284/0x2a0"
    assert fault["caller"].startswith("double_free_init+") and fault["signal"] == 11
    assert fault["source"] == "samples/linux/bugs/double_free.c:23"


def test_without_checks_the_other_bugs_print_nothing():
    for module in ("uaf", "overflow", "invalid_free", "leak_init"):
        rec, k = record(module, checks=())
        assert rec["faults"] == rec["leaks"] == rec["memory_errors"] == []
        assert "kmodsim:" not in k.dmesg() and rec["exit_status"] == 0


def test_the_plain_run_matches_debians_kernel():
    """tests/realkernel/heapbugs: the only line apart is the garbage the use-after-free reads
    (SLUB's hardened free pointer, keyed at random on the real kernel)."""
    names = ["leak_init", "leak_exit", "uaf", "overflow", "clean_heap", "invalid_free",
             "double_free"]
    sim = scenario_output((REAL / "heapbugs.sh").read_text(),
                          {f"{n}.ko": (BUGS / f"{n}.ko").read_bytes() for n in names})
    matched, total = fidelity((REAL / "heapbugs.real.txt").read_text(), sim)
    assert total - matched <= 1, (matched, total)
    assert "uaf: misses=2\n" not in sim         # the freed object was written over


# --------------------------------------------------------------------------- faults

@pytest.mark.parametrize("module, kind, status", [
    ("null_read", "oops", 137), ("div_zero", "divide", 139), ("gp_fault", "gp", 139),
    ("bug_on", "bug", 139), ("warn_on", "warn", 0), ("stack_smash", "stack_protector", 6),
])
def test_each_fault_has_its_kind_and_its_exit_status(module, kind, status):
    with Kernel() as k:
        k.insmod(str(FAULTS / f"{module}.ko"))
        rec = k.report()
    assert rec["faults"][0]["kind"] == kind, rec["faults"]
    assert rec["exit_status"] == status
    f = rec["faults"][0]
    if kind not in ("stack_protector",):
        assert f["rip"].endswith(f" [{module}]") and f["source"].startswith(
            f"samples/linux/faults/{module}.c:")


# --------------------------------------------------------------------------- the command

def run(*argv):
    r = run_cli("run", *argv)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def test_exit_statuses_of_run(tmp_path):
    no_rbtree = tmp_path / "amd64-no-rbtree.json"      # as tests/test_stubs.py pins it
    no_rbtree.write_text(json.dumps({
        "base": "linux-6.1.0-56-amd64", "name": "amd64-no-rbtree",
        "bindings": {"rb_insert_color": "builtin:absent.rb_insert_color"}}))
    junk = tmp_path / "junk.ko"
    junk.write_bytes(b"not an ELF file at all")
    linux = SAMPLES / "linux"
    cases = [
        ((linux / "hello_debug/hello_debug.ko", "--rmmod"), "clean", None),
        ((junk,), "refused", "insmod: ERROR: could not insert module"),
        ((linux / "init_fails/init_fails.ko",), "init_failed", "kmodsim: the init of init_fails"),
        ((FAULTS / "null_read.ko",), "killed", "Killed"),
        ((BUGS / "double_free.ko",), "killed", "Segmentation fault"),
        ((FAULTS / "stack_smash.ko",), "panic", "kmodsim: the kernel panicked: stack-protector"),
        ((FAULTS / "spin.ko", "--max-insns", "200000"), "budget", "--max-insns budget"),
        ((linux / "notsim/notsim.ko", "--profile", no_rbtree), "not_simulated",
         "is not simulated"),
        ((linux / "hello_debug/hello_debug.ko", "--max-memory", "1M"), "memory",
         "memory limit"),
    ]
    seen = set()
    for argv, outcome, says in cases:
        rc, out, err = run(*argv)
        want = status_of(outcome, 9 if says == "Killed" else 11)
        assert rc == want, (argv, rc, err)
        assert "Traceback" not in err
        if says:
            assert says in err, (argv, err)
        seen.add(rc)
    assert len(seen) == len(cases)      # every way to end has its own status
    assert {s for s, _ in STATUSES.values() if s is not None} >= {0, 1, 3, 4, 5, 6, 7}


def test_run_json_is_the_record_and_two_runs_are_byte_identical():
    argv = ("--json", "--checks", "leaks,memory", "--max-insns", "3000000",
            BUGS / "leak_exit.ko", "--rmmod")
    first, second = run(*argv), run(*argv)
    assert first == second and first[0] == 0
    rec = json.loads(first[1])
    assert rec["schema"] == SCHEMA and len(rec["leaks"]) == 1
    assert rec["budget"]["max_insns"] == 3000000 and rec["budget"]["stopped_by"] is None
    assert rec["budget"]["timeout_s"] == 600.0      # the wall clock: only a safety net


def test_a_budget_run_is_deterministic_and_says_what_stopped_it():
    argv = ("--json", "--max-insns", "300000", BUGS / "memheavy.ko", "rounds=1000000")
    first, second = run(*argv), run(*argv)
    assert first == second and first[0] == 7
    rec = json.loads(first[1])
    assert rec["outcome"] == "budget" and rec["budget"]["stopped_by"] == "max_insns"
    assert not rec["budget"]["wall_clock_safety_net"]


def test_script_json(tmp_path):
    scenario = tmp_path / "s.sh"
    scenario.write_text("insmod uaf.ko; echo rc=$?\n")
    r = run_cli("script", "--json", "--checks", "memory", scenario, BUGS / "uaf.ko")
    rec = json.loads(r.stdout)
    assert r.returncode == 0 == rec["exit_status"]
    assert [e["kind"] for e in rec["memory_errors"]] == ["use-after-free"]
    assert rec["scenario_output"][:2] == ["=== SCENARIO", "rc=0"]


def test_checks_argument():
    assert parse_checks("leaks, memory") == ("leaks", "memory")
    assert parse_checks("all") == ("leaks", "memory", "locks") and parse_checks("") == ()
    with pytest.raises(ValueError, match="unknown check 'leak'"):
        parse_checks("leak")
    rc, _, err = run("--checks", "bogus", BUGS / "clean_heap.ko")
    assert rc == 2 and "unknown check 'bogus'" in err


@pytest.mark.parametrize("sample", ["chardev", "miscdev", "procfs_lab", "sysfs_lab", "kthreads",
                                    "timers", "workq", "waitq", "usercopy", "params"])
def test_no_leak_is_reported_for_what_the_kernel_keeps(sample):
    """Devices, /proc and /sys entries, kthreads, timers and works a module registered: the
    kernel keeps them (and their memory) while loaded; unloading gives them back."""
    path = SAMPLES / f"linux/{sample}/{sample}.ko"
    with Kernel(checks="leaks,memory") as k:
        assert k.insmod(str(path)).ok, k.dmesg()
        k.checks.kmemleak.scan()
        k.rmmod(sample)
        k.checks.kmemleak.scan()
        rec = k.report()
    assert rec["leaks"] == [] and rec["memory_errors"] == [], rec["leaks"]


def test_kmemleak_file_in_debugfs(tmp_path):
    """With the leak check on, debugfs has mm/kmemleak.c's file: 'echo scan' scans now and
    prints the dmesg line, reading gives the reports, 'clear' forgets them, a command it does
    not know is EINVAL (busybox: 'write error: Invalid argument')."""
    from conftest import run_cli
    script = tmp_path / "kl.sh"
    script.write_text("mount -t debugfs none /sys/kernel/debug\nls /sys/kernel/debug | grep kmemleak\n"
                      "insmod leak_init.ko\necho scan > /sys/kernel/debug/kmemleak; echo rc=$?\n"
                      "head -2 /sys/kernel/debug/kmemleak\n"
                      "echo bogus > /sys/kernel/debug/kmemleak; echo rc=$?\n"
                      "echo clear > /sys/kernel/debug/kmemleak\ncat /sys/kernel/debug/kmemleak | wc -l\n")
    r = run_cli("script", "--checks", "leaks", str(script), str(BUGS / "leak_init.ko"))
    out = r.stdout.decode()
    assert "kmemleak\nrc=0\nunreferenced object 0x" in out and "(size 64):\n  comm \"insmod\"" in out
    assert "sh: write error: Invalid argument\nrc=1\n0\n" in out
    assert "kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)" in out
    plain = run_cli("script", str(script), str(BUGS / "leak_init.ko")).stdout.decode()
    assert "can't create /sys/kernel/debug/kmemleak: Permission denied" in plain
    assert "unreferenced object" not in plain and "suspected memory leaks" not in plain
