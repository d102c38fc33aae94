"""samples/hostile: modules written to hurt kmodsim, against the real kernel (issue 10).

Each module of samples/hostile does one hostile thing (an endless loop, a WARN storm, a 4 GiB
memset, a wild store, a privileged instruction, a write into its own code, a corrupted task
list, an endless recursion, a printk that asks for gigabytes, debug info naming host files,
a 1 GiB .bss, impossible allocations). What Debian's 6.1.0-56-amd64 does with each was
recorded with ../shared/tools/realkernel in tests/realkernel/hostile_*.{sh,real.txt}.

Three kinds of test, every hostile run in a child process of its own (``python
tests/test_hostile.py --child ...``) under a 4 GiB address-space limit and a hard timeout, so
that a run that hangs or eats memory fails its own test and nothing else:

- test_recording_fidelity: ``kmodsim script`` of each recorded scenario reproduces every
  normalised line of the recording (scenario-diff's rules, test_scenarios.normalize), except
  the lines listed in MISSING with the reason no honest simulator can match them; and
  test_console_shows_nothing_the_real_kernel_did_not: the console shows no kernel line the
  real one did not (fidelity alone counts only the real kernel's lines);
- test_hostile_module: each module once through the Python API, with a wall-clock budget
  (``Kernel(timeout_s=BUDGET_S)``): the run ends within the budget plus SLACK_S, the child's
  peak RSS stays under MAX_RSS_MB, nothing raises, the report the real kernel gives (or its
  behaviour) is there, and then samples/linux/hello_debug loads and runs in the same kernel
  (or, where the real machine died, the simulated one is dead too);
- test_explain_*: ``--explain`` after a WARN whose file, per the module's debug info, is a host
  file (/etc/passwd, /proc/self/environ, /dev/zero, ../../etc/hostname, /dev/stdin) opens none
  of them and shows none of their text.

What the real kernel does for an endless init is never to return: kmodsim must stop such a
run at its budget, so there the expected outcome is the real kernel's report (if any) within
the budget, the module left Loading, and the kernel still usable.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from test_scenarios import fidelity, normalize

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REAL = HERE / "realkernel"
HOSTILE = ROOT / "samples" / "hostile"
HELLO = ROOT / "samples" / "linux" / "hello_debug" / "hello_debug.ko"
HELLO_LINE = "hello_debug: pr_info is always on"

BUDGET_S = 3.0           # the wall-clock budget of a hostile run: Kernel(timeout_s=BUDGET_S)
SLACK_S = 1.0            # issue 10: no run over its budget by more than 1 s
MAX_RSS_MB = 600         # issue 10: peak host memory of a run
AS_LIMIT = 4 << 30       # each child's address-space limit (issue 10: 4 GB per kernel)
CHILD_TIMEOUT_S = 120    # a child still running then has hung: it is killed, the test fails
QUICK_WATCHDOG_S = 0.3   # scenarios whose init never ends: as test_faults' quick_watchdog

# --------------------------------------------------------------------------- the recordings

# scenario -> the modules it needs (in /mods), as realkernel was given them
SCENARIOS = {
    "hostile_loop": ["loop_forever.ko"],
    "hostile_preempt": ["loop_preempt.ko", HELLO],
    "hostile_warn": ["warn_storm.ko", HELLO],
    "hostile_storm": ["warn_storm.ko"],
    "hostile_huge": ["huge_memset.ko", "huge_memcpy.ko", "huge_memcmp.ko", "huge_strncpy.ko",
                     HELLO],
    "hostile_wild1": ["wild_write.ko", "self_modify.ko", HELLO],
    "hostile_wild2": ["wild_write.ko", HELLO],
    "hostile_wild3": ["wild_write.ko", HELLO],
    "hostile_priv1": ["priv_insn.ko", HELLO],
    "hostile_priv2": ["priv_insn.ko", HELLO],
    "hostile_priv3": ["priv_insn.ko", HELLO],
    "hostile_priv4": ["priv_insn.ko", HELLO],
    "hostile_tasks1": ["tasks_corrupt.ko", HELLO],
    "hostile_tasks2": ["tasks_corrupt.ko", HELLO],
    "hostile_stack": ["stack_overflow.ko"],
    "hostile_printk1": ["printk_flood.ko", HELLO],
    "hostile_printk2": ["printk_flood.ko", HELLO],
    "hostile_printk3": ["printk_flood.ko"],
    "hostile_printk4": ["printk_flood.ko"],
    "hostile_paths": ["debug_paths.ko", HELLO],
    "hostile_alloc": ["big_kmalloc.ko", "huge_bss.ko", HELLO],
}

# scenarios whose init never returns on the real kernel: replayed with a short watchdog
ENDLESS = {"hostile_loop", "hostile_preempt", "hostile_storm", "hostile_printk4"}

# normalised lines of a recording that no simulator can reproduce, at most, and why. Every
# scenario was recorded twice (hostile_huge after a rebuild twice more) and the two boots
# compared: the lines counted here are the ones that differed; everything else was the same.
MISSING = {
    "hostile_loop": 0, "hostile_preempt": 0, "hostile_storm": 0, "hostile_huge": 0,
    "hostile_wild1": 0, "hostile_wild2": 0, "hostile_wild3": 0, "hostile_priv1": 0,
    "hostile_priv2": 0, "hostile_priv3": 0, "hostile_priv4": 0, "hostile_tasks1": 0,
    "hostile_tasks2": 0, "hostile_printk1": 0, "hostile_printk2": 0, "hostile_printk4": 0,
    "hostile_paths": 0,
    # the log keeps the newest 128 KiB, counted with the "? " guesses of each stack dump
    # (stale words on the stack, different in every boot): where the kept part starts moves
    # by a few lines (5 between the two recordings)
    "hostile_warn": 10,
    # CONFIG_RANDOMIZE_KSTACK_OFFSET: each syscall starts up to 1 KiB lower on the stack, so
    # the recursion reaches the guard page up to 128 calls earlier or later (the two
    # recordings: 1995 and 1896 frames; the one committed has the fewer)
    "hostile_stack": 128,
    # the same random offset decides which instruction of the %pV recursion (vsnprintf,
    # format_decode, va_format: frames of different sizes) first touches the guard page: the
    # RIP line and its repeat in the summary, and a few frames of the trace
    "hostile_printk3": 16,
    # warn_alloc's memory report (Mem-Info) counts pages as the guest's memory stands at
    # that instant: the active_anon, slab, mapped, free, per-node, buddy-list and page-cache
    # counters differ from boot to boot
    "hostile_alloc": 8,
}


# the one number of a recording no simulator can reproduce: how long the soft-lockup watchdog
# says the CPU was stuck. Its hrtimer ticks every 4 s from where lockup_detector_init started
# it during boot, a different instant each boot (/proc/timer_list's watchdog_timer_fn expiry,
# probed on five boots of the reference: 4.72, 4.50, 10.48, 8.79 and 8.82 s, i.e. 0.72, 0.50,
# 2.48, 0.79 and 0.82 s past a multiple of 4 s), and the report's "stuck for" is the first
# tick's running_clock() >> 30 past the threshold: 22 s when the phase is below 0.696 s
# (hostile_loop's boot: 24.55 s), 23 s above (faults8's: 24.85 s). kmodsim has one phase,
# pinned by tests/test_faults.py's exact faults7 and faults8; here only the number is masked,
# the report itself must be there.
BOOT_DEPENDENT = re.compile(r"(soft lockup - CPU#\d+ stuck for )\d+(s!)")


def mask_boot_dependent(text):
    return BOOT_DEPENDENT.sub(r"\1Ns\2", text)


def module_paths(mods):
    return [str(m if isinstance(m, Path) else HOSTILE / m) for m in mods]


# --------------------------------------------------------------------------- the children

def run_child(mode, spec, timeout=CHILD_TIMEOUT_S, env=None):
    """Run this file as ``--child MODE`` with ``spec`` (JSON); return its JSON answer.

    The child sets its own address-space limit before importing kmodsim, answers in a file
    (stdout is the module's business) and reports any exception as ``error`` (the traceback).
    A child that does not answer (killed by the timeout, or dead) fails the calling test with
    what it printed."""
    with tempfile.TemporaryDirectory() as tmp:
        answer = Path(tmp) / "answer.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode,
               json.dumps(spec), str(answer)]
        # the child imports this checkout's kmodsim, whatever an installed one points at
        env = dict(os.environ if env is None else env)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        started = time.monotonic()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.PIPE, capture_output=True,
                                  timeout=timeout, env=env)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"the child did not finish in {timeout} s (a hang): "
                        f"stderr {tail(exc.stderr)}")
        wall = time.monotonic() - started
        if not answer.exists():
            pytest.fail(f"the child died without answering (exit {proc.returncode}): "
                        f"stderr {tail(proc.stderr)}")
        result = json.loads(answer.read_text())
    result["stderr"] = proc.stderr.decode("utf-8", "replace")
    result["wall"] = wall
    return result


def tail(data, n=3000):
    text = (data or b"").decode("utf-8", "replace") if isinstance(data, bytes) else data or ""
    return text[-n:]


def no_traceback(result):
    assert result["error"] is None, f"kmodsim raised:\n{result['error']}"
    assert "Traceback" not in result["stderr"], result["stderr"][-3000:]


def under_memory_cap(result):
    assert result["maxrss_mb"] < MAX_RSS_MB, \
        f"peak host memory {result['maxrss_mb']:.0f} MB (cap {MAX_RSS_MB} MB)"


# --------------------------------------------------------------------------- fidelity

_replays = {}


def replay(name):
    """kmodsim script of a recorded scenario, in a child; once per test session (a child
    that hung or died fails every test that asks for it, without running again)."""
    if name not in _replays:
        spec = {"scenario": str(REAL / f"{name}.sh"), "modules": module_paths(SCENARIOS[name]),
                "timeout_s": QUICK_WATCHDOG_S if name in ENDLESS else None}
        try:
            _replays[name] = run_child("scenario", spec)
        except pytest.fail.Exception as exc:
            _replays[name] = exc
            raise
    if isinstance(_replays[name], BaseException):
        pytest.fail(str(_replays[name]), pytrace=False)
    return _replays[name]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_recording_fidelity(name):
    result = replay(name)
    no_traceback(result)
    under_memory_cap(result)
    real = mask_boot_dependent((REAL / f"{name}.real.txt").read_text())
    sim = mask_boot_dependent(result["output"])
    matched, total = fidelity(real, sim)
    assert matched >= total - MISSING[name], (matched, total, diff(real, sim))


def console_lines(text):
    """The kernel's lines on the console: timestamped lines before === DMESG, normalised."""
    part = mask_boot_dependent(text.split("=== DMESG", 1)[0])
    return [line for raw, line in zip(part.splitlines(), normalize_each(part.splitlines()))
            if re.match(r"^\[\s*\d+\.\d+\] ", raw) and line is not None]


def normalize_each(lines):
    """normalize() line by line (None where it drops the line), to keep raw and normal paired."""
    out = []
    for raw in lines:
        got = normalize(raw)
        out.append(got[0] if got else None)
    return out


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_console_shows_nothing_the_real_kernel_did_not(name):
    """Fidelity counts the real kernel's lines only; the console must not show kernel lines
    the real one never printed either (a soft-lockup report for a loop that yields, a report
    after a WARN storm, a second report where the real machine was already dead)."""
    result = replay(name)
    no_traceback(result)
    real = set(console_lines((REAL / f"{name}.real.txt").read_text()))
    extra = [line for line in console_lines(result["output"]) if line not in real]
    assert not extra, f"on the console, never on the real one: {extra[:10]}"


def diff(real, sim, limit=40):
    """The first lines of scenario-diff -v, for the assertion message."""
    import difflib
    lines = list(difflib.unified_diff(normalize(real), normalize(sim), "real", "sim",
                                      lineterm="", n=0))
    return "\n".join(lines[:limit])


def test_every_recording_has_its_scenario_and_modules():
    recorded = {p.name[:-len(".real.txt")] for p in REAL.glob("hostile*.real.txt")}
    assert recorded == set(SCENARIOS) == set(MISSING)
    for name, mods in SCENARIOS.items():
        assert (REAL / f"{name}.sh").is_file()
        assert all(Path(p).is_file() for p in module_paths(mods)), name


# --------------------------------------------------------------------------- each module

@dataclass
class Case:
    """One hostile load and what the real kernel does with it.

    ok: the load succeeds (rc 0, no signal); signal: the signal that kills insmod (9, 11,
    "panic") or None when not checked; rc: the errno of a refused load; present/absent:
    text the log must / must not hold; state: the module's /proc/modules state afterwards
    (None: not listed); then_rmmod: rmmod the module after the load (its name); dead: the
    real machine is gone afterwards (panic, reset, deadlock), so hello_debug must not load;
    log_max: the log (as dmesg prints it) is bounded as the kernel's 128 KiB buffer bounds it;
    budget: the wall-clock budget (BUDGET_S unless said); guard_of: the fault is on the
    page right after the buffer whose address is the N-th the module's first line prints."""

    module: str
    args: str = ""
    ok: bool = False
    signal: object = None
    rc: int | None = None
    present: list = field(default_factory=list)
    absent: list = field(default_factory=list)
    state: str | None = "Loading"
    then_rmmod: str | None = None
    dead: bool = False
    log_max: int | None = None
    budget: float = BUDGET_S
    guard_of: int | None = None
    why: str = ""

    @property
    def id(self):
        return f"{self.module}[{self.args}]" if self.args else self.module


PF_WRITE = "#PF: error_code(0x0002) - not-present page"
PF_READ = "#PF: error_code(0x0000) - not-present page"
PANIC = "Kernel panic - not syncing: Fatal exception in interrupt"
LOCKUP = "watchdog: BUG: soft lockup - CPU#0 stuck for"
# busybox dmesg reads at most log_buf_len (128 KiB) of "<6>[    1.234567] text\n" lines
LOG_MAX = 128 << 10

CASES = [
    # ---- loops: the real insmod never returns
    Case("loop_forever",
         present=[LOCKUP, "RIP: 0010:loop_forever_init+0x11/0x1000 [loop_forever]"],
         why="hostile_loop: jmp . with preemption off: the soft-lockup watchdog reports"),
    Case("loop_preempt", absent=["soft lockup", "rcu: INFO", "blocked for more than"],
         why="hostile_preempt: cond_resched() in the loop: nothing ever reports it; the "
             "module stays Loading and the system goes on"),
    Case("warn_storm", present=["WARNING: CPU: 0 PID: 84 at samples/hostile/warn_storm.c:28 "
                                "warn_storm_init+0x28/0x1000 [warn_storm]"],
         absent=["soft lockup"], log_max=LOG_MAX,
         why="hostile_storm: each report's stack dump touches the watchdog, so no lockup is "
             "ever reported; the log keeps only what its 128 KiB hold"),
    Case("warn_storm", "rounds=200", ok=True, state="Live", log_max=LOG_MAX,
         present=["warn_storm: 200 warnings"], why="hostile_warn"),
    Case("printk_flood", "mode=tree depth=30", absent=["soft lockup", "rcu: INFO"],
         why="hostile_printk4: 2^31 nested vsnprintf calls for one line, ~45 min on the real "
             "kernel, with interrupts off (inside printk): no watchdog, no report, a silent "
             "machine; a kernel-side handler must not outlive the budget"),
    # ---- huge lengths: the real kernel runs off the page and faults on the guard page
    Case("huge_memset", signal=9, guard_of=0,
         present=[PF_WRITE, "RIP: 0010:memset_erms+0x9/0x20"],
         why="hostile_huge"),
    Case("huge_memcpy", signal=9, guard_of=0,
         present=[PF_READ, "RIP: 0010:memcpy_erms+0x6/0x10"],
         why="hostile_huge"),
    Case("huge_memcmp", signal=9, guard_of=1,
         present=[PF_READ, "RIP: 0010:memcmp+0x2/0x50"],
         why="hostile_huge"),
    Case("huge_strncpy", signal=9, guard_of=0,
         present=[PF_WRITE, "RIP: 0010:strncpy+0x16/0x30"],
         why="hostile_huge"),
    # ---- wild pointers, own code
    Case("wild_write", "target=kernel", signal=9,
         present=["BUG: unable to handle page fault for address: ffffffffdeadbeef", PF_WRITE,
                  "RIP: 0010:wild_write_init+0x8b/0x1000 [wild_write]"], why="hostile_wild1"),
    Case("wild_write", "target=user", signal=9,
         present=["BUG: unable to handle page fault for address: 0000000012345678", PF_WRITE],
         why="hostile_wild2"),
    Case("wild_write", "target=noncanon", signal=11,
         present=["general protection fault, probably for non-canonical address "
                  "0x4141414141414141: 0000 [#1] PREEMPT SMP NOPTI"], why="hostile_wild3"),
    Case("self_modify", signal=9,
         present=["self_modify: patch_me() = 1",
                  "#PF: error_code(0x0003) - permissions violation",
                  "RIP: 0010:self_modify_init+0x18/0x1000 [self_modify]"],
         absent=["patch_me() = 2"], why="hostile_wild1: module text is read-only"),
    # ---- privileged instructions
    Case("priv_insn", "insn=hlt", ok=True, state="Live", present=["priv_insn: hlt done"],
         absent=["WARNING", "Oops", "invalid opcode"], why="hostile_priv1"),
    Case("priv_insn", "insn=out", ok=True, state="Live", present=["priv_insn: out done"],
         absent=["WARNING", "Oops", "general protection"], why="hostile_priv1"),
    Case("priv_insn", "insn=wrmsr", ok=True, state="Live", present=["priv_insn: wrmsr done"],
         absent=["WARNING", "general protection"],
         why="hostile_priv1: QEMU ignores a write to an MSR it does not know"),
    Case("priv_insn", "insn=cli", ok=True, state="Live",
         present=["initcall priv_insn_init+0x0/0x1000 [priv_insn] returned with disabled "
                  "interrupts",
                  "WARNING: CPU: 0 PID: 84 at init/main.c:1284 do_one_initcall+0x1d7/0x220"],
         why="hostile_priv1"),
    Case("priv_insn", "insn=tf", ok=True, state="Live",
         present=["WARNING: CPU: 0 PID: 84 at arch/x86/kernel/traps.c:1089 exc_debug+0x101/0x1a0",
                  "priv_insn: tf done"],
         why="hostile_priv1: and the trap flag must not follow into the next module"),
    Case("priv_insn", "insn=ud2", signal=11,
         present=["invalid opcode: 0000 [#1] PREEMPT SMP NOPTI",
                  "RIP: 0010:priv_insn_init+0xba/0x1000 [priv_insn]"],
         absent=["kernel BUG at"], why="hostile_priv2"),
    Case("priv_insn", "insn=int3", signal="panic", dead=True,
         present=["int3: 0000 [#1] PREEMPT SMP NOPTI", PANIC], why="hostile_priv3"),
    Case("priv_insn", "insn=cr3", dead=True, absent=["priv_insn: cr3 done"],
         why="hostile_priv4: a triple fault resets the machine"),
    # ---- the task list
    Case("tasks_corrupt", "how=loop", ok=True, then_rmmod="tasks_corrupt", dead=True, state=None,
         present=["list_add corruption. prev->next should be next (",
                  "kernel BUG at lib/list_debug.c:30!"],
         why="hostile_tasks1: found by the fork for rmmod, under tasklist_lock: a deadlock"),
    Case("tasks_corrupt", "how=poison", ok=True, then_rmmod="tasks_corrupt", dead=True, state=None,
         present=["->next is LIST_POISON1 (dead000000000100)",
                  "kernel BUG at lib/list_debug.c:53!"],
         why="hostile_tasks2: found when insmod is reaped, under tasklist_lock: a deadlock"),
    # ---- stacks and printk
    Case("stack_overflow", signal="panic", dead=True,
         present=["BUG: TASK stack guard page was hit at",
                  "RIP: 0010:descend.isra.0+0x5/0xf [stack_overflow]", PANIC],
         why="hostile_stack"),
    Case("printk_flood", "mode=width", ok=True, state="Live",
         present=["field width 1073741824 too large", "precision 1073741824 too large",
                  "printk_flood: [precision]", "printk_flood: width done"],
         why="hostile_printk1"),
    Case("printk_flood", "mode=tree depth=20", ok=True, state="Live", budget=10.0,
         present=["] printk_flood: [xx\n", "printk_flood: tree done"],
         why="hostile_printk1: 2^21 nested vsnprintf calls, 2.6 s on the real kernel; the "
             "line's length overflows vprintk_store's u16 reserve_size"),
    Case("printk_flood", "mode=lines count=20000", ok=True, state="Live", log_max=LOG_MAX,
         budget=10.0,
         present=["printk_flood: line 19999", "printk_flood: lines done"],
         absent=["] printk_flood: line 0\n", "printk_flood: line 16000\n"],
         why="hostile_printk2: the log keeps the last ~3000 lines (a few ms on the real "
             "kernel; kmodsim's default budget, as printk costs more there)"),
    Case("printk_flood", "mode=chain", signal="panic", dead=True,
         present=["BUG: TASK stack guard page was hit at", PANIC], why="hostile_printk3"),
    # ---- debug info, memory
    *[Case("debug_paths", f"which={i}", ok=True, state="Live",
           present=[f"WARNING: CPU: 0 PID: 84 at {path}:1 {fn}+0xe/"], why="hostile_paths")
      for i, path, fn in [(1, "/etc/passwd", "at_passwd"),
                          (2, "/proc/self/environ", "at_environ"),
                          (3, "/dev/zero", "at_zero"),
                          (4, "../../../../../../../../etc/hostname", "at_hostname"),
                          (5, "/dev/stdin", "at_stdin")]],
    Case("huge_bss", rc=-12, state=None, absent=["huge_bss: 1073741824 bytes"],
         why="hostile_alloc: more than the module area: module_alloc refuses, ENOMEM"),
    Case("big_kmalloc", ok=True, state="Live",
         present=["WARNING: CPU: 0 PID: 84 at mm/page_alloc.c:5634 __alloc_pages+0x2a9/0x330",
                  "big_kmalloc: kmalloc(1073741824) = 0000000000000000",
                  "WARNING: CPU: 0 PID: 84 at mm/util.c:596 kvmalloc_node+0xc0/0xd0",
                  "big_kmalloc: kvmalloc(4294967296) = 0000000000000000",
                  "insmod: vmalloc error: size 68719476736, exceeds total pages, "
                  "mode:0xcc0(GFP_KERNEL), nodemask=(null),cpuset=/,mems_allowed=0",
                  "big_kmalloc: vmalloc(68719476736) = 0000000000000000",
                  "big_kmalloc: kmalloc(0) = 0000000000000010, ZERO_OR_NULL_PTR 1"],
         why="hostile_alloc"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_hostile_module(case):
    spec = {"module": str(HOSTILE / f"{case.module}.ko"), "args": case.args,
            "budget": case.budget, "then_rmmod": case.then_rmmod}
    r = run_child("module", spec)
    no_traceback(r)
    # the budget holds, whatever the module did
    assert r["elapsed"] <= case.budget + SLACK_S, \
        f"{r['elapsed']:.1f} s for a budget of {case.budget} s"
    under_memory_cap(r)
    log = r["log"]
    if case.log_max is not None:
        assert r["log_bytes"] <= case.log_max + (16 << 10), \
            f"the log holds {r['log_bytes']} bytes: the kernel's buffer keeps {case.log_max}"
    # the real kernel's outcome
    load = r["load"]
    if case.ok:
        assert (load["rc"], load["signal"]) == (0, None), load
    else:
        assert (load["rc"], load["signal"]) != (0, None), f"the load succeeded: {load}"
    if case.signal is not None:
        assert load["signal"] == case.signal, load
    if case.rc is not None:
        assert load["rc"] == case.rc, load
    missing = [text for text in case.present if text not in log]
    if missing:
        pytest.fail(f"not in the log: {missing}\nthe log ends:\n{log[-3000:]}", pytrace=False)
    found = [text for text in case.absent if text in log]
    if found:
        at = log.index(found[0])
        pytest.fail(f"in the log: {found}\n{log[max(0, at - 300):at + 600]}", pytrace=False)
    if case.guard_of is not None:
        assert_faults_on_the_guard_page(case, log)
    if not case.dead:
        assert r["state"] == case.state, r["proc_modules"]
    # and afterwards
    after = r["after"]
    if case.dead:       # refused (a "panic" Result, an error, an exception): anything but a load
        assert not (after["rc"] == 0 and after["signal"] is None and after["ran"]), \
            f"the real machine is gone after {case.id}, but a module still loaded: {after}"
    else:
        assert (after["rc"], after["signal"], after["ran"]) == (0, None, True), after
        assert after["rmmod_rc"] == 0, after


def assert_faults_on_the_guard_page(case, log):
    """huge_*: the module prints its buffers' addresses; the kernel's string function runs
    off the end of one of them (which one: the one the real kernel's code reads first) and
    faults on the first byte of the vmalloc guard page after it."""
    line = next((ln for ln in log.splitlines() if f"{case.module}: " in ln and " at " in ln), "")
    addrs = re.findall(r"\b[0-9a-f]{16}\b", line)
    assert len(addrs) > case.guard_of, f"no buffer address printed: {line!r}"
    guard = int(addrs[case.guard_of], 16) + 4096
    want = f"BUG: unable to handle page fault for address: {guard:016x}"
    got = re.findall(r"BUG: unable to handle page fault for address: \S+", log)
    assert want in got, f"want {want!r} (the page after the buffer), got {got}"


# --------------------------------------------------------------------------- --explain

HOST_FILES = ["/etc/passwd", "/proc/self/environ", "/dev/zero", "/etc/hostname", "/dev/stdin"]
SECRET = "kmodsim-hostile-secret-7d1f"


@pytest.mark.parametrize("which", [1, 2, 3, 4, 5])
def test_explain_opens_no_file_the_debug_info_names(which):
    """explain_fault after debug_paths' WARN: every file opened while it ran is recorded
    (an audit hook in the child); none may be the host file the DWARF names, and nothing of
    their text (the first line of /etc/passwd, the environment) may be shown. The child's
    stdin is a pipe that never closes: reading /dev/stdin would hang it."""
    env = dict(os.environ, KMODSIM_HOSTILE_SECRET=SECRET)
    r = run_child("explain", {"which": which}, timeout=60, env=env)
    no_traceback(r)
    under_memory_cap(r)
    host = {os.path.realpath(p) for p in HOST_FILES} | set(HOST_FILES)
    opened = [raw for raw, real in r["opened"] if raw in host or real in host]
    assert not opened, f"explain opened {opened}"
    assert SECRET not in r["text"]
    passwd = first_line("/etc/passwd")
    assert not passwd or passwd not in r["text"]


def test_explain_on_the_command_line_shows_no_host_file():
    """``kmodsim run --explain`` with the environment holding a secret: neither the secret
    nor /etc/passwd's first line may reach the output, and the run ends."""
    env = dict(os.environ, KMODSIM_HOSTILE_SECRET=SECRET)
    for which in (1, 2):
        proc = subprocess.run([sys.executable, "-m", "emulator.cli", "run", "--explain",
                               str(HOSTILE / "debug_paths.ko"), f"which={which}"],
                              cwd=ROOT, env=env, stdin=subprocess.PIPE, capture_output=True,
                              timeout=60)
        out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        assert "Traceback" not in out, out[-3000:]
        assert SECRET not in out
        passwd = first_line("/etc/passwd")
        assert not passwd or passwd not in out
        assert "WARNING: CPU: 0 PID: 84 at " in out


def first_line(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.readline().strip()
    except OSError:
        return ""


# --------------------------------------------------------------------------- the child side

def _child(mode, spec, answer_path):
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    out = {"error": None}
    try:
        if mode == "scenario":
            out.update(_child_scenario(**spec))
        elif mode == "module":
            out.update(_child_module(**spec))
        elif mode == "explain":
            out.update(_child_explain(**spec))
        else:
            raise ValueError(mode)
    except BaseException:               # noqa: BLE001 - reported, with its traceback
        import traceback
        out["error"] = traceback.format_exc()
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(answer_path).write_text(json.dumps(out))


def _child_scenario(scenario, modules, timeout_s):
    from emulator.cli.script import read_modules, scenario_output
    from emulator.kernel import Kernel
    if timeout_s is not None:
        Kernel.__init__.__kwdefaults__["timeout_s"] = timeout_s
    started = time.monotonic()
    output = scenario_output(Path(scenario).read_text(), read_modules(modules))
    return {"output": output, "elapsed": time.monotonic() - started}


def _log_excerpt(log, keep=256 << 10):
    """The log for the assertions: whole, or its head and tail if it is huge."""
    if len(log) <= 2 * keep:
        return log
    return log[:keep] + "\n[... cut by test_hostile ...]\n" + log[-keep:]


def _result(r):
    return {"rc": r.rc, "signal": r.signal, "message": r.message}


def _child_module(module, args, budget, then_rmmod):
    from emulator.kernel import Kernel
    k = Kernel(timeout_s=budget)
    started = time.monotonic()
    load = k.insmod(module, args)
    steps = []
    if then_rmmod:
        steps.append(_result(k.rmmod(then_rmmod)))
    elapsed = time.monotonic() - started
    log = k.dmesg()
    name = Path(module).stem
    proc = k.proc_modules() if k.panicked is None else ""
    line = next((ln for ln in proc.splitlines() if ln.startswith(name + " ")), None)
    out = {"load": _result(load), "steps": steps, "elapsed": elapsed,
           "log": _log_excerpt(log), "log_bytes": len(log.encode("latin-1", "replace")),
           "proc_modules": proc, "state": line.split()[4] if line else None}
    # afterwards: a normal module, in the same kernel; its line is among the newest (the
    # log may have dropped old records meanwhile: no offsets into the earlier text)
    after = {"ran_before": HELLO_LINE in log}
    try:
        r = k.insmod(str(HELLO))
        after.update(_result(r))
        after["ran"] = HELLO_LINE in "\n".join(k.dmesg().splitlines()[-8:])
        after["rmmod_rc"] = k.rmmod("hello_debug").rc if r.ok else None
    except Exception as exc:            # noqa: BLE001 - a dead kernel may refuse by raising
        after.update(rc=None, signal=None, ran=False, raised=f"{type(exc).__name__}: {exc}")
    out["after"] = after
    return out


def _child_explain(which):
    opened = []

    def hook(event, args):
        if event == "open" and args and isinstance(args[0], (str, bytes)):
            path = args[0].decode("utf-8", "replace") if isinstance(args[0], bytes) else args[0]
            opened.append(path)

    from emulator.faults import explain_fault
    from emulator.kernel import Kernel
    k = Kernel(timeout_s=BUDGET_S)
    load = k.insmod(str(HOSTILE / "debug_paths.ko"), f"which={which}")
    sys.addaudithook(hook)
    text = explain_fault(k)
    seen = list(opened)             # resolved from the child's working directory, as opened
    return {"load": _result(load), "text": text, "elapsed": 0.0,
            "opened": [(p, os.path.realpath(p)) for p in seen]}


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--child":
    _child(sys.argv[2], json.loads(sys.argv[3]), sys.argv[4])
