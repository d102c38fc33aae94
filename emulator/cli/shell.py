"""``kmodsim shell [MODULE...]``: busybox commands typed one line at a time against one
simulated kernel, the MODULEs in /mods (``kmodsim script`` runs them from a file).

As a student types it:

* a host path works where a module is named: ``insmod samples/linux/hello_debug/hello_debug.ko``
  copies that file into the guest's /mods (as realkernel packs modules into its initramfs)
  and runs ``insmod /mods/hello_debug.ko``. A name the guest already has is the guest's.
* on a terminal, the prompt is busybox's (``/mods # ``, the working directory then ``#``),
  with readline's line editing, a history kept across sessions and Tab completion of
  applets, builtins, guest paths and (for a module argument) host paths;
* with its input from a pipe or a file, each line read is echoed after its prompt, so the
  output reads as a terminal session would: one prompt per line, each command's output
  under it.
"""

import re
import sys
from pathlib import Path

from linker.errors import KmodError
from linker.profiles import DEFAULT_PROFILE

from ..errors import KernelPanic
from ..kernel import Kernel
from ..shell import Shell
from ..system import KernelSystem
from . import COMMANDS
from .common import read_module
from .script import read_modules

GUEST_MODULES = "/mods"
# the applets whose arguments name a module file: a host path there is copied into /mods
MODULE_APPLETS = ("insmod", "modinfo")
# `insmod WORD`, at the start of the line or after ; & | ( and blanks; WORD unquoted or
# quoted whole with '' or ""
_MODULE_WORD = re.compile(r"(?P<lead>(?:^|[;&|(]|\s)\s*(?:%s)\s+)"
                          r"(?P<word>'[^']*'|\"[^\"$`\\]*\"|[^\s;&|<>()'\"]+)"
                          % "|".join(MODULE_APPLETS))
HISTORY_FILE = ".kmodsim_history"
HISTORY_LENGTH = 1000


def add_parser(sub):
    s = sub.add_parser("shell", help=COMMANDS["shell"],
                       description="Type busybox commands (insmod, rmmod, lsmod, cat /proc/...) "
                                   "against one simulated kernel; MODULEs are in /mods. A host "
                                   "path given to insmod or modinfo is copied into /mods first.")
    s.add_argument("modules", nargs="*", metavar="MODULE")
    s.add_argument("--profile", default=None, metavar="P")
    s.set_defaults(run=run)
    return s


# ============================================================================ host paths

def _guest_has(system, path):
    return not isinstance(system.stat(path), int)


def bring_host_modules(line, shell, cwd=None, note=None):
    """``line`` with each module argument that names a host file (and no guest file)
    replaced by ``/mods/NAME``, the file's bytes copied there first. ``cwd``: the host
    directory relative paths start from (the process's own by default); ``note(text)`` is
    told each copy. A host file that cannot be read is left to the guest to complain about."""
    base = Path.cwd() if cwd is None else Path(cwd)

    def swap(match):
        word = match.group("word")
        name = word[1:-1] if word[:1] in "'\"" else word
        guest_path = name if name.startswith("/") else f"{shell.cwd.rstrip('/')}/{name}"
        if not name or _guest_has(shell.system, guest_path):
            return match.group(0)
        host = Path(name) if Path(name).is_absolute() else base / name
        if not host.is_file():
            return match.group(0)
        try:
            data = read_module(str(host))
        except (KmodError, OSError):
            return match.group(0)
        target = f"{GUEST_MODULES}/{host.name}"
        shell.system.unpack_initramfs({target: data})
        if note is not None:
            note(f"kmodsim: copied {name} to {target}")
        return match.group("lead") + _quote(target)

    return _MODULE_WORD.sub(swap, line)


def _quote(path):
    return path if re.fullmatch(r"[\w@%+=:,./-]+", path) else "'" + path.replace("'", "'\\''") + "'"


# ============================================================================ completion

class Completer:
    """readline's completer: the first word of a command completes to an applet or a
    builtin, any other word to a guest path (from the shell's working directory); after
    insmod or modinfo, host paths are offered too (they are copied in when run)."""

    def __init__(self, shell, host_cwd=None):
        self.shell = shell
        self.host_cwd = Path.cwd() if host_cwd is None else Path(host_cwd)
        self._matches = []

    def commands(self):
        from ..shell.applets import APPLETS
        from ..shell.builtins import BUILTINS
        return sorted(set(APPLETS) | set(BUILTINS))

    def guest_paths(self, text):
        directory, _, stem = text.rpartition("/")
        where = directory if text.startswith("/") else \
            f"{self.shell.cwd.rstrip('/')}/{directory}".rstrip("/") or "/"
        if text.startswith("/") and not directory:
            where = "/"
        names = self.shell.system.list_dir(where or "/")
        if isinstance(names, int):
            return []
        prefix = f"{directory}/" if directory or text.startswith("/") else ""
        out = []
        for name in sorted(names):
            if not name.startswith(stem):
                continue
            st = self.shell.system.stat(f"{where.rstrip('/')}/{name}")
            slash = "/" if not isinstance(st, int) and st.is_dir else ""
            out.append(prefix + name + slash)
        return out

    def host_paths(self, text):
        directory, _, stem = text.rpartition("/")
        folder = Path(directory) if directory else Path(".")
        if not folder.is_absolute():
            folder = self.host_cwd / folder
        try:
            entries = sorted(p for p in folder.iterdir() if p.name.startswith(stem))
        except OSError:
            return []
        prefix = f"{directory}/" if directory else ""
        return [prefix + p.name + ("/" if p.is_dir() else "") for p in entries
                if not p.name.startswith(".") or stem.startswith(".")]

    def candidates(self, line, text):
        """What ``text`` (the word being typed, ``line`` everything before it) can become."""
        before = re.split(r"[;&|(]", line)[-1].split()
        if not before:
            return [c + " " for c in self.commands() if c.startswith(text)]
        found = self.guest_paths(text)
        if before[0] in MODULE_APPLETS:
            found += [p for p in self.host_paths(text) if p not in found]
        return found

    def complete(self, text, state):
        if state == 0:
            import readline
            line = readline.get_line_buffer()[:readline.get_begidx()]
            try:
                self._matches = self.candidates(line, text)
            except Exception:        # a completer must never break the prompt
                self._matches = []
        return self._matches[state] if state < len(self._matches) else None


def _setup_readline(completer):
    """Line editing, history and completion on a terminal; None where Python has no
    readline (Windows without pyreadline3): then input() works without them."""
    try:
        import readline
    except ImportError:
        return None
    readline.set_completer(completer.complete)
    readline.set_completer_delims(" \t\n;&|()<>")
    if "libedit" in (getattr(readline, "__doc__", "") or ""):
        readline.parse_and_bind("bind ^I rl_complete")       # macOS's libedit
    else:
        readline.parse_and_bind("tab: complete")
    history = Path.home() / HISTORY_FILE
    try:
        readline.read_history_file(history)
    except OSError:
        pass
    readline.set_history_length(HISTORY_LENGTH)
    return history


def _save_history(history):
    if history is None:
        return
    import readline
    try:
        readline.write_history_file(history)
    except OSError:
        pass


# ============================================================================ the loop

def _lines(prompt_for, write_text, terminal):
    """The lines typed: on a terminal through input() (readline), else read from stdin,
    each echoed after its prompt."""
    while True:
        prompt = prompt_for()
        if terminal:
            try:
                yield input(prompt)
            except EOFError:
                write_text("\n")
                return
            continue
        line = sys.stdin.readline()
        if not line:
            return
        line = line.rstrip("\n").rstrip("\r")
        write_text(f"{prompt}{line}\n")
        yield line


def run(args):
    k = args.kernel = Kernel(args.profile or DEFAULT_PROFILE)   # closed by kmodsim's main

    def write(data):
        sys.stdout.buffer.write(bytes(data))
        sys.stdout.flush()

    def write_text(text):
        sys.stdout.write(text)
        sys.stdout.flush()

    def note(text):
        print(text, file=sys.stderr, flush=True)

    shell = Shell(KernelSystem(k), read_modules(args.modules), write=write)
    terminal = _is_terminal(sys.stdin) and _is_terminal(sys.stdout)
    history = _setup_readline(Completer(shell)) if terminal else None
    status = 0
    try:
        for line in _lines(lambda: f"{shell.cwd} # ", write_text, terminal):
            try:
                status = shell.run_interactive(bring_host_modules(line, shell, note=note))
            except KernelPanic:         # the kernel is dead: the session ends with it
                shell.flush_console()
                return 1
            except SystemExit as exc:
                return exc.code or 0
            except Exception as exc:   # the shell's own exit (ExitShell) and anything else
                if type(exc).__name__ == "ExitShell":
                    return getattr(exc, "status", 0)
                raise
        return status
    finally:
        _save_history(history)


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


__all__ = ["Completer", "bring_host_modules", "run", "add_parser"]
