"""Issue 13, item 1: no silent stubs.

A call to a kernel function kmodsim cannot run stops the task that made it, with kmodsim's
note naming the function and its caller, a distinct exit status (4) and
``Result.not_simulated``; the simulated kernel stays usable, the module left as after an oops
in its init (``Loading``). The profile's explicit no-ops are the only functions skipped.
``kmodsim check`` lists such imports before any run.

``samples/linux/notsim`` keeps keys in an rbtree: it calls ``rb_insert_color``. The default
profile runs that as the reference kernel's own code (emulator.kernelcode); the tests pin a
kernel where nothing runs it: a user profile (no kernel code beside it) binding it to a
Python function that does not exist, so nothing else can take its place.
"""

import json

import pytest
from conftest import SAMPLES, run_cli

from emulator.kapi import registry
from emulator.kapi.registry import NOT_SIMULATED, KapiTable, NotSimulatedCall, can_run, resolve
from emulator.kernel import Kernel
from emulator.modules import Result
from linker.profiles import load_profile

NOTSIM = str(SAMPLES / "linux/notsim/notsim.ko")
HELLO = str(SAMPLES / "linux/hello_debug/hello_debug.ko")
MESSAGE = "rb_insert_color is not simulated (called from fill+0x6a [notsim]); the run stopped here"


@pytest.fixture(scope="module")
def pinned(tmp_path_factory):
    """A profile where rb_insert_color cannot run, whatever kmodsim implements elsewhere."""
    path = tmp_path_factory.mktemp("profile") / "amd64-no-rbtree.json"
    path.write_text(json.dumps({
        "base": "linux-6.1.0-56-amd64", "name": "amd64-no-rbtree",
        "bindings": {"rb_insert_color": "builtin:absent.rb_insert_color"}}))
    return str(path)


def loaded(k):
    return {line.split()[0]: line.split()[4] for line in k.proc_modules().splitlines()}


# --------------------------------------------------------------------------- the Python API

def test_a_call_that_cannot_run_stops_init_and_says_where(pinned):
    with Kernel(pinned) as k:
        r = k.insmod(NOTSIM)
        assert r.signal == 9 and r.rc == 0 and not r.ok
        assert r.not_simulated == ("rb_insert_color", "fill+0x6a [notsim]")
        assert isinstance(r.not_simulated, NotSimulatedCall)
        assert r.not_simulated.message == MESSAGE
        assert k.kapi.stops == [r.not_simulated] and k.kapi.stop is None
        log = k.dmesg()
        assert "notsim: init: inserting 3 keys" in log
        assert "root key" not in log                    # nothing ran past the call
        assert "kmodsim" not in log                     # kmodsim's note is not a kernel line
        assert "Oops" not in log and "D" not in k.taints  # no report: the kernel did not fault
        assert loaded(k) == {"notsim": "Loading"}        # as after an oops in init


def test_the_kernel_stays_usable_after_the_stop(pinned):
    with Kernel(pinned) as k:
        k.insmod(NOTSIM)
        assert k.insmod(HELLO).ok
        assert k.rmmod("hello_debug").ok
        assert k.rmmod("notsim").rc == -16               # EBUSY: still Loading
        assert loaded(k) == {"notsim": "Loading"}
        assert "hello_debug: unloaded" in k.dmesg()


def test_a_call_that_cannot_run_stops_exit(pinned):
    with Kernel(pinned) as k:
        assert k.insmod(NOTSIM, "in_exit=1").ok
        r = k.rmmod("notsim")
        assert r.signal == 9 and r.not_simulated == ("rb_insert_color", "fill+0x6a [notsim]")
        assert loaded(k) == {"notsim": "Unloading"}      # as after an oops in exit
        assert "notsim: exit: inserting 3 keys" in k.dmesg()
        assert "notsim: exit\n" not in k.dmesg()


def test_the_default_profile_runs_it():
    """What the pin stands in for: the default kernel runs rb_insert_color (kernel code),
    and the tree comes out balanced as on the real kernel."""
    with Kernel() as k:
        r = k.insmod(NOTSIM)
        if r.not_simulated is not None:
            pytest.skip(f"this tree does not run it: {r.not_simulated.message}")
        assert r.ok and "notsim: root key 2" in k.dmesg()


def test_a_tail_call_names_the_module_code_that_made_it():
    """init ending in ``jmp __platform_driver_register``: the return address is the kernel's
    (do_one_initcall), so the note names the module's init instead."""
    from types import SimpleNamespace as NS
    ret = 0xFFFFFFFF81002459
    m = NS(sp=0x1000, read_ptr=lambda addr: ret)
    k = NS(sentinel=ret, symbolize=lambda addr: "do_one_initcall+0x59/0x220",
           faults=NS(running=NS(mod=NS(name="hp_accel"), what="init")))
    assert registry.caller_of(k, m) == "hp_accel's init (a tail call)"
    k.sentinel = 0
    assert registry.caller_of(k, m) == "do_one_initcall+0x59"
    k.symbolize = lambda addr: "fill+0x6a/0xa0 [notsim]"
    assert registry.caller_of(k, m) == "fill+0x6a [notsim]"


def test_results_without_a_stop_say_none():
    assert Result(0).not_simulated is None


def test_there_is_no_silent_policy():
    with pytest.raises(ValueError):
        KapiTable(load_profile(), "record")


def test_the_stop_reason_is_reported_through_faults():
    from emulator import faults
    with Kernel():
        assert faults.EXTRA_TRAPS[NOT_SIMULATED] is registry.on_not_simulated


# --------------------------------------------------------------------------- the command line

def test_run_exit_status_and_note(pinned):
    r = run_cli("run", "--profile", pinned, NOTSIM)
    assert r.returncode == 4
    assert r.stderr.decode() == f"kmodsim: {MESSAGE}\n"
    out = r.stdout.decode()
    assert out.endswith("notsim: init: inserting 3 keys\n") and "kmodsim" not in out


def test_run_exit_status_in_exit(pinned):
    r = run_cli("run", "--profile", pinned, NOTSIM, "in_exit=1", "--rmmod")
    assert r.returncode == 4 and r.stderr.decode() == f"kmodsim: {MESSAGE}\n"


def test_run_of_a_dependency_that_stops(pinned):
    r = run_cli("run", "--profile", pinned, "--with", NOTSIM, HELLO)
    assert r.returncode == 4 and r.stderr.decode() == f"kmodsim: {MESSAGE}\n"
    assert "hello_debug" not in r.stdout.decode()       # the run ended there


def test_kmod_insmod_says_it_too(pinned):
    r = run_cli("insmod", "--profile", pinned, NOTSIM)
    assert r.returncode == 4 and r.stderr.decode() == f"kmodsim: {MESSAGE}\n"


def test_script_kills_the_insmod_and_notes_it_outside_the_kernel_log(pinned, tmp_path):
    scenario = tmp_path / "s.sh"
    scenario.write_text("insmod /mods/notsim.ko\necho \"status $?\"\ncat /proc/modules\n"
                        "insmod /mods/hello_debug.ko && echo ok\n")
    r = run_cli("script", "--profile", pinned, scenario, NOTSIM, HELLO)
    assert r.returncode == 4
    out = r.stdout.decode()
    head, dmesg = out.split("=== DMESG\n")
    assert head.splitlines()[1:4] == [f"kmodsim: {MESSAGE}", "Killed", "status 137"]
    assert "notsim 28672 1 - Loading" in head and head.rstrip().endswith("ok")
    assert "kmodsim" not in dmesg and "notsim: init: inserting 3 keys" in dmesg


def test_script_without_a_stop_exits_0(tmp_path):
    scenario = tmp_path / "s.sh"
    scenario.write_text("insmod /mods/hello_debug.ko\n")
    assert run_cli("script", scenario, HELLO).returncode == 0


# --------------------------------------------------------------------------- kmodsim check

def test_check_lists_what_cannot_run(pinned):
    r = run_cli("check", "--profile", pinned, NOTSIM, HELLO)
    assert r.returncode == 1
    assert r.stdout.decode().splitlines() == [
        f"{NOTSIM}: 1 of the 4 kernel functions it calls cannot be run by kmodsim "
        f"(a call stops the run):",
        "  rb_insert_color",
        f"{HELLO}: kmodsim runs all 4 kernel functions it calls"]


def test_check_json(pinned):
    r = run_cli("check", "--json", "--profile", pinned, NOTSIM)
    assert r.returncode == 1
    (rec,) = json.loads(r.stdout)
    assert rec["module"] == NOTSIM and rec["name"] == "notsim"
    assert rec["not_simulated"] == ["rb_insert_color"]
    assert rec["simulated"] == ["__fentry__", "__x86_return_thunk", "_printk"]
    assert rec["data"] == ["param_ops_bool"] and rec["unknown"] == []


def test_check_passes_a_module_it_can_run():
    assert run_cli("check", HELLO).returncode == 0


def test_check_needs_a_module_given_with_it():
    importer = SAMPLES / "linux/importer/importer.ko"
    exporter = SAMPLES / "linux/exporter/exporter.ko"
    alone = run_cli("check", "--json", importer)
    assert json.loads(alone.stdout)[0]["unknown"] == ["kmodsim_add", "kmodsim_calls",
                                                       "kmodsim_greet", "kmodsim_secret"]
    both = json.loads(run_cli("check", "--json", importer, exporter).stdout)
    assert both[0]["unknown"] == [] and set(both[0]["from_given_modules"].values()) == {"exporter"}


def test_check_hobby_object():
    r = run_cli("check", SAMPLES / "hobby/hello.o")
    assert r.returncode == 0 and "runs the kernel function it calls" in r.stdout.decode()


def test_check_bad_file(tmp_path):
    bad = tmp_path / "bad.ko"
    bad.write_bytes(b"not an elf file at all")
    r = run_cli("check", bad)
    assert r.returncode == 1 and r.stderr.startswith(b"kmodsim check: ")


# --------------------------------------------------------------------------- the no-op list

def test_noop_bindings_resolve_to_the_noop():
    assert resolve("builtin:noop.add_device_randomness") is registry.noop
    assert registry.noop(None, None) == 0


@pytest.mark.parametrize("name", ["__SCT__preempt_schedule", "__SCT__preempt_schedule_notrace",
                                  "trace_event_buffer_reserve", "perf_trace_buf_alloc",
                                  "__traceiter_xdp_exception", "__SCT__tp_func_xdp_exception",
                                  "bpf_trace_run3", "do_trace_netlink_extack",
                                  "add_device_randomness"])
def test_the_profile_lists_these_as_noops(name):
    p = load_profile()
    assert p.binding(name) == f"builtin:noop.{name}"
    assert can_run(p, name) == "noop"


def test_noops_are_vmlinux_functions_only():
    p = load_profile()
    for name, binding in p.bindings.items():
        if binding.startswith("builtin:noop."):
            assert p.exports[name].exporter == "vmlinux", name
            assert binding == f"builtin:noop.{name}"


@pytest.mark.parametrize("name", ["__stack_chk_fail", "__fentry__", "__x86_return_thunk",
                                  "__x86_indirect_thunk_rax"])
def test_real_functions_are_not_noops(name):
    """__stack_chk_fail panics; __fentry__ and the thunks are real rets and jumps."""
    p = load_profile()
    assert not p.binding(name).startswith("builtin:noop.")
    assert can_run(p, name) == "implemented"


def test_debian_exports_no_debug_hooks_to_skip():
    """Why the list has no lockdep, might_sleep or sanitizer entries: none is exported."""
    p = load_profile()
    hooks = [n for n in p.exports if n.startswith(("lockdep_", "lock_acquire", "lock_release",
                                                   "__might_sleep", "__might_fault",
                                                   "__kasan", "kasan_", "__kcsan", "kcsan_",
                                                   "__ubsan", "__sanitizer"))]
    assert hooks == []


def test_static_calls_bind_to_what_their_trampoline_jumps_to():
    p = load_profile()
    assert p.binding("__SCT__cond_resched") == "builtin:sched.__cond_resched"
    assert p.binding("__SCT__might_resched") == "builtin:sched.__cond_resched"


# --------------------------------------------------------------------------- bench/corpus_run.py

def _corpus_run():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "corpus_run", SAMPLES.parent / "bench" / "corpus_run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_corpus_run_skips_without_the_corpus(monkeypatch, capsys):
    monkeypatch.setenv("KMODSIM_DEBIAN_MODULES", "/nonexistent/debian-modules")
    assert _corpus_run().main([]) == 0
    assert "not available" in capsys.readouterr().out


def test_corpus_run_tabulates_outcomes(tmp_path, capsys):
    import shutil
    for name in ("hello_debug", "init_fails", "notsim"):
        shutil.copy(SAMPLES / f"linux/{name}/{name}.ko", tmp_path)
    out = tmp_path / "records.jsonl"
    assert _corpus_run().main([str(tmp_path), "--jobs", "1", "--quiet", "--json", str(out)]) == 0
    records = {r["module"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert records["hello_debug"]["outcome"] == "init 0, exit ok"
    assert records["init_fails"]["outcome"] == "init rc=-ENODEV"
    assert records["notsim"]["outcome"] in ("init 0, exit ok", "not simulated (init)")
    table = capsys.readouterr().out
    assert "| init 0, exit ok |" in table and "| **total** | 3 | |" in table
