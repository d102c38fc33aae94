"""User programs (emulator.user): static x86-64 executables run by the scenario shell and by
``Kernel.run_program``, against what the real kernel printed for the same programs.

The programs are ours, committed with their sources (samples/user: ``hello_glibc`` is
``gcc -static``, ``hello_pie`` the same as static-pie, ``hello_musl`` ``musl-gcc -static``,
``raw`` and ``finit`` ``-nostdlib`` raw-syscall programs). tests/realkernel/user1 and user2
ran them on the real Debian 6.1.0-56-amd64 guest (argv, environment, uname, files, stdout
into a file, exit statuses, unknown syscalls, brk/mmap, a NULL write and a NULL call,
finit_module from a program, PATH lookup); user3 what a program may not do (the kernel's
half, a dynamically linked program, a module's oops in finit_module); user4 a program
driving a module's character device (``devtest``); kmodsim must reproduce every line.
"""

import errno

import pytest
from conftest import SAMPLES
from test_scenarios import REAL, fidelity, run

from emulator.kernel import Kernel
from emulator.user import SYSCALLS, ExecError
from emulator.user.binfmt import STACK_TOP, parse_executable
from emulator.user.sysnames import NR

USER = SAMPLES / "user"
HELLO = SAMPLES / "linux" / "hello_debug" / "hello_debug.ko"
SCENARIOS = {
    "user1": [HELLO, USER / "hello_glibc", USER / "hello_pie"],
    "user2": [HELLO, USER / "hello_musl", USER / "raw", USER / "finit"],
    "user3": [HELLO, USER / "raw", USER / "hello_dyn", USER / "finit", USER / "hello_glibc",
              SAMPLES / "linux" / "oops_null" / "oops_null.ko"],
    "user4": [SAMPLES / "linux" / "chardev_lab" / "chardev_lab.ko", USER / "devtest"],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_matches_the_real_kernel(name):
    sim = run(REAL / f"{name}.sh", SCENARIOS[name])
    matched, total = fidelity((REAL / f"{name}.real.txt").read_text(), sim)
    assert matched == total, (matched, total)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_is_deterministic(name):
    first = run(REAL / f"{name}.sh", SCENARIOS[name])
    assert run(REAL / f"{name}.sh", SCENARIOS[name]) == first


def test_segfault_is_logged_as_show_signal_msg_logs_it():
    sim = run(REAL / "user1.sh", SCENARIOS["user1"])
    assert "about to write through NULL\nSegmentation fault\nrc=139\n" in sim
    assert ("hello_glibc[91]: segfault at 0 ip 00000000004017ff sp 00007fffffffe" in sim
            and "error 6 in hello_glibc[401000+79000] likely on CPU 0 (core 0, socket 0)" in sim)
    # the Code: line is the real one byte for byte (the same binary at the same address)
    assert ("Code: 8d 3d be 88 07 00 e8 50 92 00 00 e9 76 fe ff ff 48 8d 3d 45 88 07 00 e8 1f"
            " fc 00 00 48 8b 3d d8 4e 0a 00 e8 23 f4 00 00 31 c0 <89> 04 25") in sim


# ------------------------------------------------------------------------ run_program

@pytest.fixture
def k():
    with Kernel() as kernel:
        yield kernel


def test_run_program_returns_status_and_output(k):
    status, output = k.run_program(USER / "raw")
    assert status == 7
    assert b"unknown syscall 335=-38\n" in output and b"pid=84\nppid=83\n" in output
    assert b"Linux 6.1.0-56-amd64 x86_64\n" in output


def test_glibc_and_musl_programs_run_from_python(k):
    r = k.run_program(USER / "hello_glibc", ["hello_glibc", "a b"], env=["X=1"])
    assert r.status == 3 and r.signal is None
    assert b"argv[1]=a b\nenv X=1\n" in r.stdout and r.stderr == b"to stderr\n"
    r = k.run_program(USER / "hello_musl")
    assert r.status == 0 and b"read=16: written by musl\n" in r.output


def test_a_fault_kills_the_program_and_the_kernel_stays_usable(k):
    r = k.run_program(USER / "hello_musl", ["./hello_musl", "segv"])
    assert (r.status, r.signal) == (139, 11)
    assert "segfault at 0 ip 0000000000000000" in k.dmesg()
    assert k.insmod(str(HELLO)).rc == 0
    assert k.run_program(USER / "raw").status == 7


@pytest.mark.parametrize("mode,signal,line", [
    ("kread", 11, "segfault at ffffffff81000000 ip 0000000000401706"),  # present, user: 5
    ("kjump", 11, "segfault at ffffffff81000000 ip ffffffff81000000"),
    ("hlt", 11, "general protection fault ip:"),
    ("ud2", 4, None),
])
def test_a_program_cannot_reach_the_kernel(k, mode, signal, line):
    """User code sees only its own memory: the kernel's half faults (a TLB hook), and a
    privileged instruction is a #GP."""
    r = k.run_program(USER / "raw", ["./raw", mode])
    assert (r.status, r.signal) == (128 + signal, signal)
    if line is not None:
        assert line in k.dmesg()
    assert k.machine.read(0xFFFFFFFF81000000, 1)      # the kernel's mappings are still there


def test_the_programs_memory_goes_when_it_exits(k):
    before = k.machine.maps()
    k.run_program(USER / "hello_glibc")
    assert k.machine.maps() == before
    assert all(r.start >= STACK_TOP or r.start >= 1 << 56 for r in k.machine.regions)


def test_an_unsimulated_syscall_is_named_once(k):
    r = k.run_program(USER / "raw", ["./raw", "fork"])
    assert r.output == (b"kmodsim: syscall 57 (fork) not simulated, returned -ENOSYS\n"
                        b"fork=-38\nfork=-38\n")


def test_an_endless_program_ends_with_the_budget():
    with Kernel(max_insns=200_000) as k:
        r = k.run_program(USER / "raw", ["./raw", "loop"])
        assert (r.status, r.signal) == (137, 9)
        assert r.stderr == (b"kmodsim: ./raw ran until the --max-insns budget of 200000 "
                            b"instructions and was killed\n")
        r = k.run_program(USER / "raw", ["./raw", "spin", "100000000"])   # syscalls spend it
        assert r.signal == 9
        assert k.run_program(USER / "raw").status == 7
    with Kernel(timeout_s=0.5) as k:
        r = k.run_program(USER / "raw", ["./raw", "loop"])
        assert r.signal == 9 and b"--timeout of 0.5 s" in r.stderr


def test_a_huge_mmap_fails_as_the_kernel_fails_it(k):
    r = k.run_program(USER / "raw")
    assert b"mmap 1 TiB=-12\n" in r.output
    assert "__vm_enough_memory: pid: 84, comm: raw, no enough memory" in k.dmesg()
    assert k.machine.committed < 64 << 20


def test_finit_module_from_a_program(k):
    k.vfs.unpack([("/mods/hello_debug.ko", 0o644, HELLO.read_bytes())])
    r = k.run_program(USER / "finit", ["./finit", "/mods/hello_debug.ko"])
    assert (r.status, r.output) == (0, b"rc=0\n")
    assert "hello_debug: loaded" in k.dmesg()
    r = k.run_program(USER / "finit", ["./finit", "/mods/hello_debug.ko"])
    assert (r.status, r.output) == (1, b"rc=-17\n")


def test_a_dynamically_linked_program_is_not_found():
    """The guest has no dynamic loader: execve fails with ENOENT (ash: "not found")."""
    data = bytearray((USER / "raw").read_bytes())
    exe = parse_executable(bytes(data))
    assert exe.interpreter is None
    with pytest.raises(ExecError) as info:
        parse_executable(b"\x7fELF" + bytes(60))
    assert info.value.errno == errno.ENOEXEC


def test_the_syscall_table_covers_what_libc_startup_and_stdio_use():
    for name in ("brk", "arch_prctl", "set_tid_address", "set_robust_list", "rseq",
                 "prlimit64", "uname", "readlinkat", "getrandom", "mprotect", "mmap",
                 "munmap", "newfstatat", "fstat", "ioctl", "write", "writev", "readv",
                 "exit", "exit_group", "openat", "open", "close", "read", "pread64",
                 "pwrite64", "lseek", "dup", "dup2", "dup3", "fcntl", "getdents64",
                 "access", "faccessat", "unlink", "mknod", "mknodat", "poll", "select",
                 "getpid", "getppid", "getuid", "geteuid", "getgid", "getegid",
                 "clock_gettime", "nanosleep", "kill", "init_module", "finit_module",
                 "delete_module"):
        assert NR[name] in SYSCALLS, name


def test_shell_runs_programs_by_path_and_reports_what_it_cannot_run():
    from emulator.cli.script import scenario_output
    i386 = b"\x7fELF\x01\x01\x01" + bytes(9) + b"\x02\x00\x03\x00" + bytes(40)
    out = scenario_output("./i386; echo rc=$?\n./nothere; echo rc=$?\n"
                          "PATH=/mods:$PATH raw | grep -c =; echo rc=$?\n"
                          "raw; echo rc=$?\nFOO=1 ./raw >/dev/null; echo rc=$?\n",
                          {"i386": i386, "raw": (USER / "raw").read_bytes()})
    assert ("kmodsim: ./i386: 32-bit (i386) programs are not simulated\nrc=127\n"
            "/scenario.sh: line 2: ./nothere: not found\nrc=127\n"
            "15\nrc=0\n/scenario.sh: line 4: raw: not found\nrc=127\nrc=7\n") in out


def test_going_over_the_memory_limit_in_a_program_stops_the_run():
    from emulator.errors import MemoryLimitExceeded
    with Kernel() as k:
        k.machine.max_memory = k.machine.committed + (1 << 20)
        with pytest.raises(MemoryLimitExceeded):
            k.run_program(USER / "hello_glibc")


def test_the_environment_is_in_ashs_order():
    from emulator.shell.interp import ash_hashvar
    names = ["SHLVL", "HOME", "OLDPWD", "TERM", "PATH", "FOO", "PWD"]   # user1's real order
    assert [ash_hashvar(n) for n in names] == sorted(ash_hashvar(n) for n in names)
