"""Running a program: for the shell (``System.execve``) and from Python (``run_program``).

:func:`exec_program` is what the shell's forked child does after ``fork``: ``execve`` the
file with the shell's argv, environment, working directory and open files, and run it to
its end; it returns the exit status, ``-errno`` when the exec fails (ash prints the
message), and raises :class:`~emulator.shell.TaskKilled` when a signal kills the program.

:func:`run_program` (``Kernel.run_program``) runs a host file as realkernel's guest would
run it from /mods, with its output captured: ``ProgramResult(status, output, signal)``.
"""

from __future__ import annotations

import errno
import posixpath
from dataclasses import dataclass

from linker.errors import KmodError

from ..errors import KernelPanic
from ..shell.handles import (BufferHandle, ConsoleHandle, FileHandle, Handle, NullHandle,
                             ZeroHandle)
from ..shell.syscalls import TaskKilled
from ..vfs import Stat
from .binfmt import ExecError
from .files import resolve
from .process import UserProcess

# the environment the scenario's shell gives its commands (tests/realkernel/user1): what
# run_program passes when no env is given, in ash's order
DEFAULT_ENV = ("SHLVL=2", "HOME=/", "OLDPWD=/", "TERM=linux",
               "PATH=/sbin:/usr/sbin:/bin:/usr/bin", "PWD=/mods")


def handle_stat(handle: Handle) -> Stat:
    """What fstat says of one of the shell's open files."""
    if isinstance(handle, ConsoleHandle):
        return Stat(is_dir=False, mode=0o600, kind="c", rdev=(5, 1))      # /dev/console
    if isinstance(handle, ZeroHandle):
        return Stat(is_dir=False, mode=0o666, kind="c", rdev=(1, 5))
    if isinstance(handle, NullHandle):
        return Stat(is_dir=False, mode=0o666, kind="c", rdev=(1, 3))
    if isinstance(handle, BufferHandle):
        return Stat(is_dir=False, mode=0o600, kind="p")                   # a pipe
    if isinstance(handle, FileHandle):
        return Stat(is_dir=False, mode=0o644)
    return Stat(is_dir=False, mode=0o600, kind="c", rdev=(5, 1))


def exec_program(system, filename: str, argv: list[str], envp: list[str], cwd: str,
                 fds: dict) -> int:
    """execve(filename, argv, envp) in the current task (the shell spawned it), then the
    program's run: its exit status, or -errno if the exec failed; TaskKilled when a
    signal ends it. ``filename`` as the shell passes it (``./test``, ``/mods/test``, a
    $PATH directory joined to the name); ``fds``: the shell's open files (fd -> Handle)."""
    k = system.k
    if k.panicked is not None:
        raise KernelPanic(k.panicked)
    if k.profile.kind != "linux" or k.machine.bits != 64:
        return -errno.ENOEXEC              # seed 004's kernel has no user space
    stdio = {fd: (h, handle_stat(h)) for fd, h in fds.items()}
    proc = UserProcess(k, system, k.tasks.current, resolve(cwd, filename), filename, argv,
                       envp, cwd, stdio)

    def run():
        try:
            proc.exec()
        except ExecError as exc:
            if exc.not_simulated:
                proc.note(f"{filename}: {exc}")
                return 127, None
            return -exc.errno, None
        return proc.run()

    outcome = k.budgeted(run)
    if not isinstance(outcome, tuple):       # the kernel died, or its own code overran
        if k.panicked is not None:
            raise KernelPanic(k.panicked)
        raise TaskKilled(outcome.signal if isinstance(outcome.signal, int) else 9)
    status, signo = outcome
    if proc.killed_by is not None:
        raise proc.killed_by
    if signo is not None:
        raise TaskKilled(signo)
    return status


@dataclass
class ProgramResult:
    """A program's end: ``status`` as ``$?`` shows it (128 + N when signal N killed it),
    ``signal`` (or None), and what it wrote on stdout and stderr, in order (``output``),
    and each apart."""

    status: int
    output: bytes
    signal: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""

    def __iter__(self):                      # status, output = k.run_program(...)
        return iter((self.status, self.output))


class _Capture(Handle):
    def __init__(self, both: bytearray):
        self.both, self.mine = both, bytearray()

    def write(self, data):
        self.both += data
        self.mine += data
        return len(data)


def run_program(k, system, path, argv=None, env=None, cwd="/mods") -> ProgramResult:
    """Copy the host file ``path`` into the guest's /mods and run it there as the
    scenario shell would (``./NAME``, its environment unless ``env`` is given), through
    ``system`` (a KernelSystem over ``k``); raises ExecError when the exec fails."""
    name = posixpath.basename(str(path))
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise KmodError(f"can't open '{path}': {exc.strerror}", exc.errno) from None
    system.unpack_initramfs({posixpath.join(cwd, name): data})
    argv = list(argv) if argv is not None else [f"./{name}"]
    envp = list(env) if env is not None else list(DEFAULT_ENV)
    if isinstance(env, dict):
        envp = [f"{key}={value}" for key, value in env.items()]
    both = bytearray()
    out, err = _Capture(both), _Capture(both)
    pid = system.spawn(name[:15])
    signo = None
    try:
        status = exec_program(system, f"./{name}", argv, envp, cwd,
                              {0: NullHandle(), 1: out, 2: err})
    except TaskKilled as exc:
        signo, status = exc.signo, 128 + exc.signo
    finally:
        system.reap(pid)
    if status < 0:
        raise ExecError(-status)
    return ProgramResult(status, bytes(both), signo, bytes(out.mine), bytes(err.mine))
