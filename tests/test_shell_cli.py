"""``kmodsim shell`` as a student types it: host paths copied into /mods, one prompt per
line when its input is a pipe, and readline's history and completion on a terminal."""

import io
import subprocess
import sys

import pytest
from conftest import ROOT, SAMPLES, run_cli

from emulator.cli import shell as shell_cli
from emulator.kernel import Kernel
from emulator.shell import Shell
from emulator.system import KernelSystem

HELLO = SAMPLES / "linux/hello_debug/hello_debug.ko"
HELLO_REL = "samples/linux/hello_debug/hello_debug.ko"


def typed(monkeypatch, text, *argv, cwd=None):
    """``kmodsim shell ARGV`` with ``text`` on its stdin (a pipe, not a terminal)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    return run_cli("shell", *argv, cwd=cwd)


def test_piped_input_one_prompt_per_line(monkeypatch):
    r = typed(monkeypatch, "echo one\ncd /tmp\necho two\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "/mods # echo one\none\n/mods # cd /tmp\n/tmp # echo two\ntwo\n"


def test_piped_input_output_under_its_command(monkeypatch):
    r = typed(monkeypatch, "lsmod\ninsmod hello_debug.ko\nlsmod\n", HELLO)
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "/mods # lsmod"
    assert lines[1].startswith("Module ")
    assert lines[2] == "/mods # insmod hello_debug.ko"
    assert lines[3] == "/mods # lsmod"
    assert lines[5].startswith("hello_debug ")
    assert b"copied" not in r.stderr          # the guest had it: nothing copied


def test_insmod_a_host_path_copies_it_into_mods(monkeypatch):
    r = typed(monkeypatch, f"insmod {HELLO_REL}\nls /mods\nlsmod\n", cwd=ROOT)
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr
    assert f"kmodsim: copied {HELLO_REL} to /mods/hello_debug.ko" in r.stderr.decode()
    assert f"/mods # insmod {HELLO_REL}\n/mods # ls /mods\nhello_debug.ko\n" in out
    assert "\nhello_debug            20480  0" in out


def test_insmod_an_absolute_host_path_after_another_command(monkeypatch, tmp_path):
    copy = tmp_path / "my module.ko"
    copy.write_bytes(HELLO.read_bytes())
    r = typed(monkeypatch, f"echo go && insmod '{copy}'; cat /proc/modules\n")
    out = r.stdout.decode()
    assert "go\n" in out and "hello_debug 20480 0 - Live" in out
    assert r.stderr.decode().endswith(" to /mods/my module.ko\n")


def test_a_host_path_that_is_not_there_is_the_guests_error(monkeypatch, tmp_path):
    r = typed(monkeypatch, "insmod nosuch/dir/x.ko\necho $?\n", cwd=tmp_path)
    assert b"copied" not in r.stderr
    out = r.stdout.decode()
    assert "insmod: can't insert 'nosuch/dir/x.ko': No such file or directory" in out
    assert out.endswith("/mods # echo $?\n254\n")      # busybox insmod's status


def test_host_paths_only_for_module_applets(monkeypatch):
    r = typed(monkeypatch, f"cat {HELLO_REL} | wc -c\n", cwd=ROOT)
    assert b"copied" not in r.stderr
    assert "No such file or directory" in (r.stdout + r.stderr).decode()


def test_shell_through_a_real_pipe():
    r = subprocess.run([sys.executable, "-m", "emulator.cli", "shell"], input=b"echo hi\n",
                       capture_output=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"/mods # echo hi\nhi\n"


# ------------------------------------------------------------------ on a terminal

@pytest.fixture
def guest():
    k = Kernel()
    return Shell(KernelSystem(k), {"hello_debug.ko": HELLO.read_bytes()})


def test_completion_of_commands_and_paths(guest):
    c = shell_cli.Completer(guest, host_cwd=ROOT)
    assert c.candidates("", "insm") == ["insmod "]
    assert "lsmod " in c.candidates("echo x; ", "ls")
    assert c.candidates("insmod ", "hello") == ["hello_debug.ko"]
    assert c.candidates("cat ", "/pr") == ["/proc/"]
    assert "/proc/modules" in c.candidates("cat ", "/proc/mod")
    assert c.candidates("insmod ", "samples/linux/hello_d") == ["samples/linux/hello_debug/"]
    assert c.candidates("cat ", "samples/") == []       # not a module argument: guest only


def test_terminal_session_uses_readline(monkeypatch, tmp_path):
    readline = pytest.importorskip("readline")
    monkeypatch.setattr(shell_cli, "_is_terminal", lambda stream: True)
    monkeypatch.setattr(shell_cli.Path, "home", classmethod(lambda cls: tmp_path))
    prompts = []
    lines = iter(["echo typed", "exit 3"])

    def fake_input(prompt):
        prompts.append(prompt)
        return next(lines)

    monkeypatch.setattr("builtins.input", fake_input)
    readline.add_history("echo typed")
    r = run_cli("shell")
    assert r.returncode == 3
    assert prompts == ["/mods # ", "/mods # "]
    assert r.stdout == b"typed\n"                  # input() echoes nothing itself
    completer = readline.get_completer()
    assert isinstance(getattr(completer, "__self__", None), shell_cli.Completer)
    assert "echo typed" in (tmp_path / shell_cli.HISTORY_FILE).read_text()
