"""The execution stepper: breakpoints, steps (over kernel calls too), views, backtraces in
nested module calls, the instruction trace and coverage.

Addresses are never written down here: each test reads them back from the loaded module's
symbols (``ModuleCode``) or the profile's exports, and compares the debugger with that.
"""

import re

import pytest
from conftest import SAMPLES

from emulator.debugger import SIGSEGV, Debugger, Finished, ModuleCode, Stop
from emulator.kernel import Kernel

HELLO = SAMPLES / "linux/hello_debug/hello_debug.ko"
PARAMS = SAMPLES / "linux/params/params.ko"
XORSHIFT = SAMPLES / "linux/xorshift/xorshift.ko"
RECURSE = SAMPLES / "linux/faults/recurse.ko"
OOPS_NULL = SAMPLES / "linux/oops_null/oops_null.ko"


def symbol_addr(k, module, name):
    mod = next(m for m in k.modules if m.name == module)
    return ModuleCode.of(k.machine, mod).address_of(name)


def plain_run(path, args=""):
    k = Kernel()
    return k.insmod(str(path), args), k.dmesg()


@pytest.fixture
def hello():
    """Stopped at the breakpoint on hello_debug_init."""
    k = Kernel()
    dbg = Debugger(k)
    dbg.break_at("hello_debug_init")
    stop = dbg.start_insmod(HELLO)
    yield k, dbg, stop
    if dbg._session is not None and dbg._session.parked:
        dbg.detach()


# ------------------------------------------------------------------ breakpoints and steps

def test_breakpoint_on_a_module_function(hello):
    k, dbg, stop = hello
    assert isinstance(stop, Stop) and stop.reason == "breakpoint"
    assert stop.pc == symbol_addr(k, "hello_debug", "hello_debug_init")
    assert stop.where == "hello_debug_init [hello_debug]"
    assert k.modules[0].state == "COMING"          # init is running
    assert "hello_debug: loaded" not in k.dmesg()     # not yet
    assert dbg.breakpoints().rows[0][3] == "1"        # one hit


def test_step_moves_one_instruction(hello):
    k, dbg, stop = hello
    first = dbg.instruction_at(stop.pc)
    nxt = dbg.step()
    assert nxt.reason == "step"
    assert nxt.pc == stop.pc + len(first.raw)
    assert nxt.changed["rip"] == (stop.pc, nxt.pc)


def _step_to_call_of(dbg, name):
    stop = dbg.stop
    for _ in range(40):
        insn = stop.instruction
        if insn.mnemonic == "call" and insn.note == f" <{name}>":
            return stop, insn
        stop = dbg.step()
    raise AssertionError(f"no call of {name}")


@pytest.mark.parametrize("command", ["step", "step_over"])
def test_a_kernel_call_is_one_step(hello, command):
    """``call _printk``: the whole Python implementation of _printk is one step."""
    k, dbg, _ = hello
    stop, insn = _step_to_call_of(dbg, "_printk")
    assert "pr_info is always on" not in k.dmesg()
    after = getattr(dbg, command)()
    assert after.reason == "step"
    assert after.pc == insn.addr + len(insn.raw)
    assert after.regs["rsp"] == stop.regs["rsp"]
    assert "hello_debug: pr_info is always on" in k.dmesg()


def test_continue_to_the_end(hello):
    k, dbg, _ = hello
    done = dbg.cont()
    assert isinstance(done, Finished) and done.result.rc == 0
    assert "pr_info is always on" in done.log
    assert k.modules[0].state == "LIVE"
    result, log = plain_run(HELLO)
    assert (done.result, k.dmesg()) == (result, log)


def test_breakpoint_on_a_kernel_export():
    """A stop at ``_printk`` comes before its Python implementation runs: the format is
    in rdi, the caller one frame up; a step runs it and returns to the caller."""
    k = Kernel()
    dbg = Debugger(k)
    dbg.break_at("_printk")
    stop = dbg.start_insmod(HELLO)
    assert stop.reason == "breakpoint"
    assert stop.pc == k.profile.exports["_printk"].addr
    assert b"pr_info is always on" in k.machine.read_cstring(stop.regs["rdi"])
    frames = dbg.backtrace().frames
    assert frames[0].where == "_printk"
    assert frames[1].where.startswith("hello_debug_init+") and frames[2].pc == k.sentinel
    assert frames[1].pc == k.machine.read_ptr(stop.regs["rsp"])
    back = dbg.step()
    assert back.pc == frames[1].pc
    assert "pr_info is always on" in k.dmesg()
    assert isinstance(dbg.cont(), Finished)


def test_stop_at_entry_is_the_kernels_call():
    """Stopped before the first instruction: the kernel is about to call init (the
    return address not pushed yet); a step enters init."""
    k = Kernel()
    dbg = Debugger(k)
    stop = dbg.start_insmod(HELLO, stop_at_entry=True)
    assert stop.reason == "entry"
    assert stop.where.startswith("do_one_initcall+")
    init = symbol_addr(k, "hello_debug", "hello_debug_init")
    assert stop.instruction.mnemonic == "call" and stop.instruction.op_str == f"{init:#x}"
    entered = dbg.step()
    assert entered.pc == init
    assert k.machine.read_ptr(entered.regs["rsp"]) == stop.pc + 5   # the return address
    assert isinstance(dbg.cont(), Finished)


def test_finish_returns_to_the_caller():
    k = Kernel()
    dbg = Debugger(k)
    dbg.break_at("dive.isra.0")
    stop = dbg.start_insmod(RECURSE, "limit=0")
    assert stop.where == "dive.isra.0 [recurse]"
    ret = k.machine.read_ptr(stop.regs["rsp"])
    done = dbg.finish()
    assert done.reason == "finish"
    assert done.pc == ret and done.where.startswith("recurse_init+")
    assert done.regs["rsp"] == stop.regs["rsp"] + 8
    assert isinstance(dbg.cont(), Finished)


def test_pending_breakpoint_resolves_per_module():
    k = Kernel()
    dbg = Debugger(k)
    bp = dbg.break_at("xorshift:xorshift_init")
    assert bp.pending
    dbg.start_insmod(XORSHIFT, "rounds=3")
    assert bp.addrs == {symbol_addr(k, "xorshift", "xorshift_init")}
    dbg.delete(bp)
    assert isinstance(dbg.cont(), Finished)


# ------------------------------------------------------------------ views

def test_registers_view(hello):
    k, dbg, stop = hello
    regs = dbg.registers()
    assert regs.values["rip"] == stop.pc
    text = str(regs)
    assert re.search(r"^rip\s+0x[0-9a-f]{16}\s+hello_debug_init \[hello_debug\]", text, re.M)
    assert re.search(r"^gs_base\s+0x[0-9a-f]{16}", text, re.M)
    dbg.step()
    html = dbg.registers()._repr_html_()
    assert "<table" in html and "rip" in html and "#ffff99" in html   # rip changed: marked


def test_memory_view_of_a_module_variable():
    """p_int=-7 was parsed before init: the hexdump at the symbol shows it."""
    k = Kernel()
    dbg = Debugger(k)
    dbg.break_at("params_init")
    dbg.start_insmod(PARAMS, "p_int=-7")
    view = dbg.memory("p_int", 16)
    assert view.data[:4] == (-7).to_bytes(4, "little", signed=True)
    assert "<p_int>" in view.title
    assert "f9 ff ff ff" in str(view)
    assert isinstance(dbg.cont(), Finished)


def test_disassembly_names_calls_and_marks_the_pc(hello):
    k, dbg, stop = hello
    text = str(dbg.disassemble(n=12))
    assert text.splitlines()[0].startswith("=> ") and "<hello_debug_init>:" in text
    assert "call 0x" in text and "<_printk>" in text and "<__dynamic_pr_debug>" in text
    listing = dbg.disassemble("hello_debug_init+0x5", 2)
    assert listing.instructions[0].addr == stop.pc + 5


def test_stack_view_shows_the_return_address(hello):
    k, dbg, stop = hello
    rows = dbg.stack(4).rows
    assert rows[0][2] == f"{k.sentinel:#018x}"
    assert rows[0][3].startswith("<do_one_initcall+")


def test_backtrace_in_nested_module_calls():
    """dive() calls itself: at the third entry the chain is dive x3, init, the kernel."""
    k = Kernel()
    dbg = Debugger(k)
    dbg.break_at("dive.isra.0")
    dbg.start_insmod(RECURSE, "limit=3")
    for _ in range(2):
        dbg.cont()
    frames = dbg.backtrace().frames
    names = [f.where.split("+")[0].split(" ")[0] for f in frames]
    assert names == ["dive.isra.0"] * 3 + ["recurse_init", "do_one_initcall"]
    assert all(f.reliable for f in frames)
    assert frames[-1].pc == k.sentinel
    assert frames[1].pc == frames[2].pc                     # the same call site twice
    dive = symbol_addr(k, "recurse", "dive.isra.0")
    assert frames[1].pc - dive == int(frames[1].where.split("+")[1].split()[0], 16)
    dbg.delete()
    done = dbg.cont()
    assert done.result.rc == 0


def test_stop_html_and_text(hello):
    k, dbg, stop = hello
    after = dbg.step()
    html = after._repr_html_()
    assert "hello_debug_init+0x5" in html and "rip" in html and "<table" in html
    assert str(after).startswith("step at hello_debug_init+0x5 [hello_debug]")


# ------------------------------------------------------------------ faults

def test_a_fault_stops_first_then_oopses_as_without_the_debugger():
    k = Kernel()
    dbg = Debugger(k)
    dbg.break_at("oops_null_init")
    dbg.start_insmod(OOPS_NULL)
    fault = dbg.cont()
    assert fault.reason == "fault" and fault.signal == SIGSEGV
    assert "write of 0x0" in fault.message
    assert "Oops" not in k.dmesg()                # not yet reported
    done = dbg.cont()
    result, log = plain_run(OOPS_NULL)
    assert done.result == result and result.signal == 9
    assert k.dmesg() == log


# ------------------------------------------------------------------ trace and coverage

def test_trace_file(tmp_path):
    k = Kernel()
    dbg = Debugger(k)
    path = tmp_path / "xorshift.trace"
    trace = dbg.trace_to(path)
    done = dbg.start_insmod(XORSHIFT, "rounds=10")
    assert isinstance(done, Finished)
    dbg.trace_stop()
    lines = path.read_text().splitlines()
    assert len(lines) == trace.lines > 0
    init = symbol_addr(k, "xorshift", "xorshift_init")
    line = re.compile(r"^0x([0-9a-f]{16}): ((?:[0-9a-f]{2} )*[0-9a-f]{2}) +(\S.*)$")
    first = line.match(lines[0])
    assert first and int(first.group(1), 16) == init
    for text in lines:
        assert line.match(text), text
    shl = [t for t in lines if re.search(r"\sshl rdx, 0xd$", t)]
    assert len(shl) == 10                                   # one per round
    assert any("call 0x" in t and "<_printk>" in t for t in lines)
    assert all("ffffffff81" not in t.split(":")[0] for t in lines)   # no kernel text


def test_coverage_counts_the_loop():
    k = Kernel()
    dbg = Debugger(k, coverage=True)
    assert isinstance(dbg.start_insmod(XORSHIFT, "rounds=10"), Finished)
    cov = dbg.coverage()
    init = cov["xorshift_init"]
    rows = {f"{i.mnemonic} {i.op_str}": c for i, c in init.rows}
    # the loop body: x ^= x << 13; x ^= x >> 7; x ^= x << 17 and i++, ten times
    for insn in ("shl rdx, 0xd", "shr rax, 7", "shl rbx, 0x11", "inc rcx"):
        assert rows[insn] == 10, insn
    assert rows["cmp rsi, rcx"] == 11                       # the test runs once more
    calls = [c for i, c in init.rows if i.note == " <ktime_get>"]
    assert calls == [0]                                      # calls=0: never ran
    assert init.rows[0][1] == 1 and init.executed < init.total
    assert cov["xorshift_exit"].executed == 0
    assert "xorshift_init [xorshift]" in str(cov) and "<table" in cov._repr_html_()


def test_coverage_and_trace_of_exit_after_init_text_is_freed(tmp_path):
    k = Kernel()
    dbg = Debugger(k, coverage=True)
    dbg.start_insmod(XORSHIFT, "rounds=2")
    assert k.modules[0].state == "LIVE"
    dbg.start_rmmod("xorshift")
    cov = dbg.coverage()
    assert cov["xorshift_exit"].executed == 1
    assert cov["xorshift_init"].counts()[0] == 1            # init is gone, still named


# ------------------------------------------------------------------ controllers, fast path

def test_fast_path_has_no_hooks():
    k = Kernel()
    dbg = Debugger(k)
    result = k.insmod(str(HELLO))
    assert result.rc == 0
    assert dbg._bp_hooks == {} and dbg._area_hooks == {} and dbg.stops == []


def test_a_controller_drives_a_synchronous_run():
    """Without a session, a controller callable answers each stop in the caller's thread."""
    k = Kernel()
    commands = iter(["step", "step", "cont"])
    seen = []

    def controller(stop):
        seen.append(stop)
        return next(commands)

    dbg = Debugger(k, controller=controller)
    dbg.break_at("hello_debug_init")
    assert k.insmod(str(HELLO)).rc == 0
    assert [s.reason for s in seen] == ["breakpoint", "step", "step"]
    assert seen[1].pc > seen[0].pc


def test_detach_restores_the_kernel(hello):
    k, dbg, _ = hello
    dbg.detach()
    assert k.debugger is None
    assert k.modules[0].state == "LIVE"
    assert isinstance(dbg.result, Finished)
    assert k.rmmod("hello_debug").rc == 0


def test_one_debugger_per_kernel():
    k = Kernel()
    Debugger(k)
    with pytest.raises(ValueError):
        Debugger(k)


def test_commands_need_a_stopped_run():
    dbg = Debugger(Kernel())
    with pytest.raises(RuntimeError):
        dbg.step()


def test_a_rep_instruction_is_one_hit_and_a_step_is_one_iteration():
    """dive() clears its locals with ``rep stos`` (rcx = 8): a breakpoint there is hit once
    per call, not once per iteration, however the block was translated before."""
    k = Kernel()
    dbg = Debugger(k)
    dbg.break_at("dive.isra.0+0x32")
    stop = dbg.start_insmod(RECURSE, "limit=1")
    assert stop.instruction.mnemonic.startswith("rep") and stop.regs["rcx"] == 8
    step = dbg.step()
    assert step.pc == stop.pc and step.regs["rcx"] == 7          # one iteration
    again = dbg.cont()                                           # dive(1): its own rep
    assert again.reason == "breakpoint" and again.regs["rcx"] == 8
    assert again.regs["rsp"] < stop.regs["rsp"]
    assert isinstance(dbg.cont(), Finished)


def test_step_over_a_module_call():
    """``call dive`` from init: step_over runs the whole recursion, stops after the call."""
    k = Kernel()
    dbg = Debugger(k)
    dbg.break_at("recurse_init")
    stop = dbg.start_insmod(RECURSE, "limit=2")
    for _ in range(10):
        insn = stop.instruction
        if insn.mnemonic == "call" and insn.note.startswith(" <dive"):
            break
        stop = dbg.step_over()
    after = dbg.step_over()
    assert after.reason == "step" and after.pc == insn.addr + len(insn.raw)
    assert after.regs["rsp"] == stop.regs["rsp"]
    assert isinstance(dbg.cont(), Finished)


def test_deleting_one_of_several_breakpoints_and_detaching():
    """delete(bp) compared a Breakpoint with the other breakpoints' address sets (TypeError:
    unhashable), so detach() failed with more than one breakpoint set."""
    k = Kernel()
    dbg = Debugger(k)
    first = dbg.break_at("hello_debug_init")
    dbg.break_at("hello_debug_exit")
    dbg.delete(first)
    assert [str(bp.spec) for bp in dbg._breakpoints] == ["hello_debug_exit"]
    dbg.break_at("hello_debug_init")
    dbg.detach()
    assert dbg._breakpoints == [] and k.debugger is None
