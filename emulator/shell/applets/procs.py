"""The applet that lists processes: ps (busybox 1.35, as the guest's busybox-static prints it:
``PID   USER     COMMAND``, tests/realkernel/ps1)."""

from __future__ import annotations

import posixpath

from .applet import Applet

# busybox's read_cmdline gets this many columns (get_terminal_width: 80 off a tty, less one)
PS_WIDTH = 79
COMM_LEN = 16       # procps_status_t.comm: the kernel's TASK_COMM_LEN, NUL included

# The guest's boot kworkers as its ps shows them: /proc/<pid>/stat names a workqueue worker
# ``comm-workqueue`` (wq_worker_comm: the last workqueue it ran work for), cut to 15
# characters by busybox. Which workqueue a boot worker ran last is the guest's history, not
# something kmodsim replays: the recorded names (tests/realkernel/ps1), by pid and comm.
GUEST_KWORKER_NAMES = {
    (7, "kworker/0:0"): "kworker/0:0-rcu",
    (8, "kworker/0:0H"): "kworker/0:0H-ev",
    (9, "kworker/u2:0"): "kworker/u2:0-ev",
    (17, "kworker/0:1"): "kworker/0:1-eve",
    (24, "kworker/u2:1"): "kworker/u2:1-ev",
    (47, "kworker/0:2"): "kworker/0:2-rcu",
}


def applet_ps(app: Applet, argv: list[str]) -> int:
    """busybox ps without options: every /proc/<pid> in pid order, ``%5u %-8.8s`` pid and
    user, then the command (read_cmdline): ``[comm]`` for a task with an empty cmdline (a
    kernel thread), else the cmdline's words, with ``{comm} `` before them when comm is not
    the start of argv[0]'s basename (a forked sh running an applet: ``{ps} sh /scenario.sh``).

    The pipeline's later elements are running already on the real machine (ash forks them
    all first); kmodsim runs them afterwards, so ps adds them after itself with the pids
    they get next, as the shell knows them (``ShellProcess.pipe_later``).
    """
    app.getopt(argv, "")        # no options (invalid ones: glibc's message, the usage);
    shell = app.shell           # operands are ignored, as getopt32 leaves them (``ps aux``)
    own = pid_of(shell.read_file("/proc/self/status"))
    names = shell._list_dir("/proc")
    pids = sorted(int(n) for n in names if n.isdigit()) if not isinstance(names, int) else []
    app.write("PID   USER     COMMAND\n")
    for pid in pids:
        comm = shell.read_file(f"/proc/{pid}/comm")
        cmdline = shell.read_file(f"/proc/{pid}/cmdline")
        if isinstance(comm, int) or isinstance(cmdline, int):
            continue        # it exited meanwhile: procps_scan skips it
        name = comm.decode("utf-8", "surrogateescape").rstrip("\n")
        name = GUEST_KWORKER_NAMES.get((pid, name), name)[:COMM_LEN - 1]
        app.write(ps_line(pid, uid_of(shell.read_file(f"/proc/{pid}/status")), name, cmdline))
    shell_cmdline = shell.read_file("/proc/self/cmdline")     # ps is a forked sh too
    for offset, peer in enumerate(shell.pipe_later, 1):
        if peer is None:
            continue
        comm, later = peer
        cmdline = shell_cmdline if later is None else b"".join(
            a.encode("utf-8", "surrogateescape") + b"\0" for a in later)
        if not isinstance(cmdline, int):
            app.write(ps_line(own + offset, 0, comm[:COMM_LEN - 1], cmdline))
    return app.fflush_stdout_and_exit(0)


def status_field(status: bytes | int, name: str) -> int:
    """A number from /proc/<pid>/status (``Uid:\\t0\\t0\\t0\\t0``: the first), 0 if absent."""
    if isinstance(status, bytes):
        for line in status.decode("utf-8", "surrogateescape").splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def uid_of(status: bytes | int) -> int:
    return status_field(status, "Uid")


def pid_of(status: bytes | int) -> int:
    return status_field(status, "Pid")


def ps_line(pid: int, uid: int, comm: str, cmdline: bytes) -> str:
    """``%5u %-8.8s `` and read_cmdline's text; the user is the uid's number when
    /etc/passwd does not name it (the guest has none)."""
    prefix = "%5u %-8.8s " % (pid, str(uid))
    return prefix + read_cmdline(cmdline, PS_WIDTH - len(prefix), comm) + "\n"


def read_cmdline(raw: bytes, col: int, comm: str) -> str:
    """libbb read_cmdline: ``[comm]`` for an empty cmdline; else the words joined by
    spaces, ``{comm} `` before them unless comm starts argv[0]'s basename; ``col`` columns."""
    data = raw[:col - 1].rstrip(b"\0")
    if not data:
        return f"[{comm}]"[:col - 1]
    text = data.decode("utf-8", "surrogateescape")
    argv0 = text.split("\0", 1)[0].split(" ", 1)[0]
    base = posixpath.basename(argv0) if not argv0.endswith("/") else ""
    base = base[1:] if base.startswith("-") else base
    text = "".join(" " if ord(ch) < 32 else ch for ch in text)
    if not base.startswith(comm):
        text = f"{{{comm}}} " + text
    return text[:col - 1]
