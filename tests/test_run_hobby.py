"""Seed 004's hobby modules run in the emulated i386 CPU against the hobby profile."""

import subprocess
import sys

import pytest
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


def _user_profile(tmp_path, package, binding):
    pkg = tmp_path / package
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "console.py").write_text(
        "def monitor_write(k, m):\n"
        "    k.log.console_write(b'[mine] ' + m.read_cstring(m.arg(0)))\n")
    path = tmp_path / "mine.json"
    path.write_text('{"base": "hobby-i386", "name": "mine", "description": "a test", '
                    f'"bindings": {{"monitor_write": "{binding}"}}}}')
    return path


def test_a_profiles_python_is_found_beside_it(tmp_path):
    """A binding's module in the profile's own directory is imported from there: nothing to
    add to sys.path first (issue 19)."""
    path = _user_profile(tmp_path, "beside_pkg", "beside_pkg.console:monitor_write")
    assert str(tmp_path) not in sys.path
    with Kernel(str(path)) as k:
        assert k.insmod(str(SAMPLES / "hobby/hello.o")).ok
        assert "[mine] Hello from hello.ko!" in k.console_text()
    assert str(tmp_path) not in sys.path


@pytest.mark.parametrize("binding, why", [
    ("nowhere_pkg.console:monitor_write",
     "cannot import nowhere_pkg.console: ModuleNotFoundError: No module named 'nowhere_pkg'"),
    ("absent_fn_pkg.console:no_such_function", "has no no_such_function")])
def test_a_binding_that_cannot_be_had_fails_when_the_kernel_is_made(tmp_path, binding, why):
    """Not at the module's first call (it was 'monitor_write is not simulated' then): the
    profile, the binding, the module tried and why, and kmodsim run exits 1."""
    from conftest import run_cli

    from linker.errors import ProfileError
    path = _user_profile(tmp_path, "absent_fn_pkg", binding)
    with pytest.raises(ProfileError) as info:
        Kernel(str(path))
    assert f"the binding of monitor_write, {binding}: " in str(info.value)
    assert why in str(info.value)
    r = run_cli("run", "--profile", str(path), str(SAMPLES / "hobby/hello.o"))
    assert r.returncode == 1 and why in r.stderr.decode()


def test_what_a_hobby_init_returned_is_reported():
    """Seed 004's kernel ignores init's return value; kmodsim gives it: in the Result and on
    stderr after the console (issue 19)."""
    from conftest import run_cli
    with Kernel("hobby-i386") as k:
        assert k.insmod(str(SAMPLES / "hobby/hello.o")).init_returned == 0
    r = run_cli("run", str(SAMPLES / "hobby/counter.o"))
    assert r.returncode == 0
    assert r.stderr.decode().endswith("kmodsim: the init of counter returned 0\n")
