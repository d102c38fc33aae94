"""The shell process: what a busybox ``sh`` process has, and what its builtins and applets
reach through it.

:class:`ShellProcess` holds the process's state (the System it calls, its open files,
variables, positional parameters, functions, working directory, ``$?``) and its services:
System calls with the console flushed after each, ash's messages, files through the System
(and /dev/null and /dev/zero, which it answers itself), variables. The interpreter,
:class:`~.interp.Shell`, is built on it; builtins and applets are given one.
"""

from __future__ import annotations

import errno as E
import posixpath
from typing import Callable

from .handles import (ConsoleHandle, FileHandle, Handle, NullHandle, ZeroHandle, full_write,
                      read_all)
from .patterns import IFS_WHITESPACE
from .syscalls import (O_RDONLY, SHELL_DEVICES, SIGINT, SIGPIPE, Stat, System, TaskKilled,
                       normpath, strsignal)


class ShellProcess:
    """One busybox ``sh`` process in the guest: its state, its System calls, its messages,
    its files. ``run`` (a parsed command) is the interpreter's."""

    def __init__(self, system: System, *, write: Callable[[bytes], None] | None = None,
                 script_name: str = "/scenario.sh", cwd: str = "/mods"):
        self.system = system
        self.output = bytearray()
        self._write = write or self.output.extend
        self.script_name = script_name
        self.arg0 = script_name
        self.interactive = False
        self.cwd = cwd
        self.vars = {"HOME": "/", "TERM": "linux", "PATH": "/sbin:/usr/sbin:/bin:/usr/bin",
                     "IFS": IFS_WHITESPACE, "PS1": "# ", "PS2": "> ", "PS4": "+ ",
                     "OPTIND": "1", "PWD": cwd, "SHLVL": "2", "OLDPWD": "/"}
        # what the guest's `sh /scenario.sh` exports (tests/realkernel/user1: a program's
        # environment): HOME and TERM from the kernel, PATH, SHLVL, and /init's cd
        self.exported = {"HOME", "TERM", "PWD", "PATH", "SHLVL", "OLDPWD"}
        self.positional: list[str] = []
        self.functions: dict[str, object] = {}
        self.status = 0
        self.pid = 1
        self.lineno = 0
        self.commandname: str | None = script_name
        self.console = ConsoleHandle(self._emit)
        self.fds: dict[int, Handle] = {0: self.console, 1: self.console, 2: self.console}
        # a pipeline's elements after the one running (ash has forked them all already;
        # kmodsim runs them one after the other): (comm, argv or None for a forked sh), or
        # None if not a literal simple command (Shell._pipe_peer). What ps shows of them.
        self.pipe_later: list[tuple[str, list[str] | None] | None] = []
        self._local_frames: list[dict] = []
        self._loop_depth = 0

    def run(self, node) -> int:
        """Run a parsed command (an AST node); its status. The interpreter's (interp.Shell)."""
        raise NotImplementedError

    # -- the System and the console -------------------------------------------------------

    def flush_console(self) -> None:
        """Write out the kernel lines that reached the console since the last System call."""
        data = self.system.console_drain()
        if data:
            self._write(data)

    def _emit(self, data: bytes) -> None:
        self.flush_console()
        self._write(data)

    def _sys(self, name: str, *args):
        """Call the System; what the call printed on the console comes out right after it."""
        try:
            return getattr(self.system, name)(*args)
        finally:
            self.flush_console()

    # -- messages -------------------------------------------------------------------------

    def _error(self, message: str, command: str | None = None) -> None:
        """ash's ash_vmsg: ``arg0: [command: ][line N: ]message`` on stderr."""
        name = command or self.commandname
        text = f"{self.arg0}: "
        if name:
            if name != self.arg0:
                text += f"{name}: "
            if not self.interactive:
                text += f"line {self.lineno}: "
        self._puts(2, text + message + "\n")

    def _puts(self, fd: int, text: str | bytes) -> int:
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
        handle = self.fds.get(fd)
        return full_write(handle, data) if handle else -E.EBADF

    def _signal_message(self, exc: TaskKilled, handle: Handle) -> None:
        """What ash prints when a foreground job dies of a signal (not SIGINT/SIGPIPE)."""
        if exc.signo in (SIGINT, SIGPIPE):
            return
        text = strsignal(exc.signo) + (" (core dumped)" if exc.core_dumped else "")
        full_write(handle, (text + "\n").encode())

    # -- files ----------------------------------------------------------------------------

    def _abspath(self, path: str) -> str:
        return normpath(posixpath.join(self.cwd, path)) if path else ""

    def _stat(self, path: str) -> Stat | int:
        if path in SHELL_DEVICES:
            return Stat(is_dir=False, mode=0o666, kind="c", rdev=SHELL_DEVICES[path])
        return self._sys("stat", path)

    def _list_dir(self, path: str) -> list[str] | int:
        return self._sys("list_dir", path)

    def _open(self, path: str, flags: int) -> Handle | int:
        if not path:
            return -E.ENOENT
        if path == "/dev/null":
            return NullHandle()
        if path == "/dev/zero":
            return ZeroHandle()
        fd = self._sys("open", path, flags)
        return fd if fd < 0 else FileHandle(self._sys, fd)

    def read_file(self, path: str) -> bytes | int:
        """A whole file's bytes (open + read to the end), or -errno."""
        handle = self._open(self._abspath(path), O_RDONLY)
        if isinstance(handle, int):
            return handle
        try:
            return read_all(handle)
        finally:
            handle.close()

    def release(self) -> str:
        """uname -r, as the System's /proc/sys/kernel/osrelease says."""
        data = self.read_file("/proc/sys/kernel/osrelease")
        return data.decode().strip() if isinstance(data, bytes) else ""

    # -- variables ------------------------------------------------------------------------

    def getvar(self, name: str) -> str | None:
        if name == "?":
            return str(self.status)
        if name == "#":
            return str(len(self.positional))
        if name == "$":
            return str(self.pid)
        if name == "!":
            return ""
        if name == "-":
            return ""
        if name in ("@", "*"):
            return " ".join(self.positional)
        if name.isdigit():
            index = int(name)
            if index == 0:
                return self.arg0 if self.arg0 != "sh" or not self.interactive else "sh"
            return self.positional[index - 1] if index <= len(self.positional) else None
        return self.vars.get(name)

    def setvar(self, name: str, value: str) -> None:
        self.vars[name] = value
