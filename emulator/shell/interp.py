"""The shell: one busybox ``sh`` process walking the parsed script.

:class:`Shell` (a :class:`~.process.ShellProcess`: state, System calls, messages, files)
runs command lines (the tree walk, pipelines, subshells, functions), expands words and
performs redirections. Builtins run inside it; each applet runs as a process of its own
(``System.spawn``/``System.reap`` around it).
"""

from __future__ import annotations

import errno as E
import posixpath
from typing import Callable

from ..vfs import is_kernel_path
from .applets import APPLETS, BUSYBOX_APPLETS, NOEXEC_APPLETS, USAGE, Applet
from .arith import Arith, ArithError
from .builtins import BUILTINS
from .control import (AppletExit, ExitShell, FatalError, LoopControl, NotSimulated,
                      ReturnFromFunction)
from .handles import BufferHandle
from .patterns import IFS_WHITESPACE, has_glob, pattern_regex, split_fields
from .process import ShellProcess
from .syntax import (AndOr, Case, For, FunctionDef, Group, If, Loop, Parser, Pipeline,
                     Redirect, Redirected, Sequence, ShellSyntaxError, Simple, Word)
from .syscalls import (O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, Stat, System,
                       TaskKilled, strerror)


class Shell(ShellProcess):
    """One busybox ``sh`` process in the guest, over a System.

    ``Shell(system, modules)`` sets up the guest realkernel boots: ``modules`` (name ->
    bytes) unpacked into the System's initramfs in /mods, the working directory /mods and
    the environment init gets from the kernel (HOME=/, TERM=linux). ``run_script(text)``
    runs a scenario as ``sh /scenario.sh`` and returns its exit status;
    ``run_interactive(line)`` runs one line the way an interactive ash would (no line
    numbers in messages, a syntax error does not end the shell). Output goes to ``write``
    (bytes), by default into ``self.output``; the scenario's stdout and stderr are both the
    console, as in the guest. The shell keeps no files: every path but /dev/null and
    /dev/zero is the System's.
    """

    def __init__(self, system: System, modules: dict | None = None, *,
                 write: Callable[[bytes], None] | None = None, script_name: str = "/scenario.sh",
                 cwd: str = "/mods"):
        super().__init__(system, write=write, script_name=script_name, cwd=cwd)
        self._cmdsub_status: int | None = None
        self._command_assigns: list[str] = []   # the running command's NAME=value prefixes
        if modules:  # realkernel copies them into its cpio's /mods (not a syscall: no flush)
            system.unpack_initramfs({posixpath.join("/mods", name): data
                                     for name, data in modules.items()})

    # -- running --------------------------------------------------------------------------

    def run_script(self, text: str) -> int:
        """``sh /scenario.sh``: parse and run one command line after another."""
        self.system.unpack_initramfs(
            {self.script_name: text.encode("utf-8", "surrogateescape")})
        self.arg0 = self.commandname = self.script_name
        self.interactive = False
        status = self._run_text(text, stop_on_syntax_error=True)
        self.flush_console()
        return status

    def run_interactive(self, line: str) -> int:
        """One line typed at an interactive ``sh`` prompt; ExitShell propagates on ``exit``."""
        self.arg0, self.commandname, self.interactive = "sh", None, True
        status = self._run_text(line, stop_on_syntax_error=False, interactive=True)
        self.flush_console()
        return status

    def _run_text(self, text: str, stop_on_syntax_error: bool, interactive: bool = False) -> int:
        parser = Parser(text)
        while True:
            try:
                node = parser.command_line()
            except ShellSyntaxError as exc:
                self.lineno = exc.line
                self.commandname = None if interactive else self.arg0
                self._error(f"syntax error: {exc.message}")
                self.status = 2
                if stop_on_syntax_error:
                    return 2
                return self.status
            if node is None:
                return self.status
            try:
                self.status = self.run(node)
            except ExitShell as exc:
                if interactive:
                    raise
                return exc.status
            except ReturnFromFunction as exc:
                return exc.status
            except LoopControl:
                self.status = 0
            except FatalError:
                self.status = 2
                if not interactive:
                    return 2
            except TaskKilled as exc:
                # the shell itself died (a builtin's syscall): its parent, init's sh, says so
                self._signal_message(exc, self.console)
                return 128 + exc.signo

    # -- the tree walk --------------------------------------------------------------------

    def run(self, node) -> int:
        handler = getattr(self, "_run_" + type(node).__name__)
        return handler(node)

    def _run_Sequence(self, node: Sequence) -> int:
        status = self.status
        for item in node.items:
            status = self.status = self.run(item)
        return status

    def _run_AndOr(self, node: AndOr) -> int:
        status = self.status = self.run(node.first)
        for op, pipeline in node.rest:
            if (op == "&&") == (status == 0):
                status = self.status = self.run(pipeline)
        return status

    def _run_Pipeline(self, node: Pipeline) -> int:
        if len(node.commands) == 1:
            status = self.run(node.commands[0])
        else:
            status = self._run_pipe(node.commands)
        return int(not status) if node.negate else status

    def _run_pipe(self, commands: list) -> int:
        """Each element runs in a subshell; they run one after the other here, each one's
        output buffered as the next one's input (ash runs them at once; the bytes that
        reach the console are the same unless an element reads what a later one writes)."""
        data = None
        status = 0
        for index, command in enumerate(commands):
            self.pipe_later = [self._pipe_peer(c) for c in commands[index + 1:]]
            last = index == len(commands) - 1
            fds = dict(self.fds)
            if data is not None:
                fds[0] = BufferHandle(data)
            sink = None if last else BufferHandle()
            if sink is not None:
                fds[1] = sink
            try:
                status = self._subshell(lambda c=command: self.run(c), fds)
            finally:
                self.pipe_later = []
            data = bytes(sink.data) if sink is not None else None
        return status

    def _pipe_peer(self, node) -> tuple[str, list[str] | None] | None:
        """A pipeline element as ps sees it before it has run: (comm, argv) of the process
        it runs (argv None: a forked sh running a builtin or function), None when it is not
        a simple command of literal words (expanding them would run them)."""
        if not isinstance(node, Simple) or node.assigns or node.redirects or not node.words:
            return None
        if not all(p[0] == "lit" and (p[2] or not has_glob([(ch, False) for ch in p[1]]))
                   for word in node.words for p in word.parts):
            return None
        argv = ["".join(p[1] for p in word.parts) for word in node.words]
        name = argv[0]
        if name in self.functions or name in BUILTINS:
            return "sh", None
        applet = name[len("/bin/"):] if name.startswith("/bin/") else name
        return posixpath.basename(applet)[:15], argv

    def _subshell(self, body: Callable[[], int], fds: dict | None = None) -> int:
        """Run ``body`` in a forked copy of the shell: its variables, cwd and exit stay in it."""
        saved = (dict(self.vars), set(self.exported), list(self.positional),
                 dict(self.functions), self.cwd, self.fds, self._local_frames,
                 self._loop_depth)
        self.fds = fds if fds is not None else dict(self.fds)
        self._local_frames, self._loop_depth = [], 0
        try:
            return body()
        except ExitShell as exc:
            return exc.status
        except ReturnFromFunction as exc:
            return exc.status
        except LoopControl:
            return 0
        except FatalError:
            return 2
        except TaskKilled as exc:
            self._signal_message(exc, saved[5].get(2, self.console))
            return 128 + exc.signo
        finally:
            (self.vars, self.exported, self.positional, self.functions, self.cwd,
             self.fds, self._local_frames, self._loop_depth) = saved

    def _run_Group(self, node: Group) -> int:
        if node.subshell:
            return self._subshell(lambda: self.run(node.body))
        return self.run(node.body)

    def _run_Redirected(self, node: Redirected) -> int:
        return self._with_redirects(node.redirects, lambda: self.run(node.command))

    def _run_FunctionDef(self, node: FunctionDef) -> int:
        self.functions[node.name] = node.body
        return 0

    def _run_If(self, node: If) -> int:
        for condition, body in node.clauses:
            if self.run(condition) == 0:
                return self.run(body)
        return self.run(node.otherwise) if node.otherwise else 0

    def _run_Loop(self, node: Loop) -> int:
        status = 0
        self._loop_depth += 1
        try:
            while (self.run(node.condition) == 0) != node.until:
                try:
                    status = self.run(node.body)
                except LoopControl as exc:
                    if exc.levels > 1:
                        raise LoopControl(exc.kind, exc.levels - 1) from None
                    if exc.kind == "break":
                        break
        finally:
            self._loop_depth -= 1
        return status

    def _run_For(self, node: For) -> int:
        self.lineno = node.line
        values = list(self.positional) if node.words is None else self.expand_words(node.words)
        status = 0
        self._loop_depth += 1
        try:
            for value in values:
                self.setvar(node.name, value)
                try:
                    status = self.run(node.body)
                except LoopControl as exc:
                    if exc.levels > 1:
                        raise LoopControl(exc.kind, exc.levels - 1) from None
                    if exc.kind == "break":
                        break
        finally:
            self._loop_depth -= 1
        return status

    def _run_Case(self, node: Case) -> int:
        self.lineno = node.line
        subject = self.expand_text(node.word)
        for patterns, body in node.arms:
            for pattern in patterns:
                if pattern_regex(self._pattern_chars(pattern)).match(subject):
                    return self.run(body) if body else 0
        return 0

    def _run_Simple(self, node: Simple) -> int:
        self.lineno = node.line
        self._cmdsub_status = None
        argv = self.expand_words(node.words)
        if not argv:
            for name, word in node.assigns:
                self.setvar(name, self.expand_text(word))
            status = self._cmdsub_status or 0
            return self._with_redirects(node.redirects, lambda: status)
        if argv == ["exec"]:
            return self._exec_redirects(node.redirects)
        values = [(name, self.expand_text(word)) for name, word in node.assigns]
        saved = {name: self.vars.get(name) for name, _ in values}
        for name, value in values:
            self.vars[name] = value
        self._command_assigns = [name for name, _ in values]   # exported to a program
        try:
            return self._with_redirects(node.redirects, lambda: self._execute(argv))
        finally:
            self._command_assigns = []
            for name, value in saved.items():
                if value is None:
                    self.vars.pop(name, None)
                else:
                    self.vars[name] = value

    def _exec_redirects(self, redirects: list) -> int:
        """``exec`` with redirections only: they stay for the rest of the shell; a file no
        descriptor refers to any more is closed (``exec 3<&-``: close(2), the driver's
        release runs)."""
        opened, before = [], list(self.fds.values())
        try:
            for redirect in redirects:
                if not self._redirect(redirect, opened):
                    return 1
            return 0
        finally:
            closed = []
            for handle in before:
                if not any(h is handle for h in self.fds.values()) and \
                        not any(h is handle for h in closed):
                    closed.append(handle)
                    handle.close()

    def _execute(self, argv: list[str]) -> int:
        name = argv[0]
        if name == "exec":  # the command replaces the shell: run it, then the shell is gone
            raise ExitShell(self._execute(argv[1:]) if len(argv) > 1 else 0)
        if name in self.functions:
            return self._call_function(name, argv)
        if name in BUILTINS:
            saved, self.commandname = self.commandname, name
            try:
                return BUILTINS[name](self, argv)
            finally:
                self.commandname = saved
        applet = name[len("/bin/"):] if name.startswith("/bin/") else name
        if applet in APPLETS:
            return self._run_applet(applet, argv)
        return self._run_external(name, argv)

    def _run_external(self, name: str, argv: list[str]) -> int:
        """A program: ``./test`` or ``/mods/test`` by its path, another name looked up in
        $PATH (after the applets, as busybox's standalone shell does)."""
        if "/" in name:         # ash forks without looking: the child's execve fails
            return self._run_program(name, argv)
        else:
            path = self._find_in_path(name)
            if path is not None:
                return self._run_program(path, argv)
            if name in BUSYBOX_APPLETS:
                self._puts(2, f"kmodsim: {name}: busybox applet not simulated\n")
                return 127
        self._error(f"{name}: not found")
        return 127

    def _is_program(self, path: str) -> bool:
        # only the rootfs holds programs: reading a kernel file to look could run a
        # module's show function (and /dev/zero never ends)
        return not is_kernel_path(path) and is_program(self.read_file(path))

    def _find_in_path(self, name: str) -> str | None:
        """ash's path search: ``dir/name`` for the first directory of $PATH holding a
        program ``name`` (as execve gets it: relative when the directory is)."""
        for directory in (self.vars.get("PATH") or "").split(":"):
            path = posixpath.join(directory or ".", name)
            stat = self._stat(self._abspath(path))
            if not isinstance(stat, int) and not stat.is_dir and \
                    self._is_program(self._abspath(path)):
                return path
        return None

    def environment(self) -> list[str]:
        """The environment a program gets: the exported variables and the command's
        assignments, in ash's order (``listvars`` walks its 39 hash buckets: a name's
        first letter times 16 plus its letters' sum, modulo 39; in a bucket, oldest first)."""
        names = [n for n in self.vars if n in self.exported or n in self._command_assigns]
        order = sorted(range(len(names)), key=lambda i: (ash_hashvar(names[i]), i))
        return [f"{names[i]}={self.vars[names[i]]}" for i in order]

    def _run_program(self, filename: str, argv: list[str]) -> int:
        """fork, execve(filename) in the child (System.execve), wait: its status; a program
        killed by a signal gets ash's message, as an applet does."""
        path = self._abspath(filename)
        stat = self._stat(path)
        if isinstance(stat, int) or not self._is_program(path):
            # nothing there, or a .ko or a directory: execve fails (ENOENT, EACCES)
            return self._exec_failed(argv[0], E.EACCES if not isinstance(stat, int)
                                     else -stat)
        if not hasattr(self.system, "execve"):     # a System that runs no programs
            self._puts(2, f"kmodsim: {argv[0]}: running programs is not simulated\n")
            return 127
        pid = self._sys("spawn", posixpath.basename(path)[:15], argv)
        killed = None
        try:
            status = self._sys("execve", filename, argv, self.environment(), self.cwd,
                               dict(self.fds))
            if status < 0:          # the child's exec failed: it says so and exits
                self._error(f"{argv[0]}: {errmsg(-status, 'not found')}")
                status = 127 if -status in (E.ENOENT, E.ENOTDIR) else 126
        except TaskKilled as exc:
            killed, status = exc, 128 + exc.signo
        finally:
            self._sys("reap", pid)
        if killed:
            if getattr(killed, "note", None):   # a kernel function kmodsim cannot run
                self._puts(2, f"kmodsim: {killed.note}\n")
            self._signal_message(killed, self.fds[2])
        return status & 0xFF

    def _exec_failed(self, name: str, err: int) -> int:
        """The forked child's execve failed before anything ran: ash's message in the
        child, its exit status (127 for ENOENT/ENOTDIR, else 126)."""
        pid = self._sys("spawn", "sh")
        try:
            self._error(f"{name}: {errmsg(err, 'not found')}")
        finally:
            self._sys("reap", pid)
        return 127 if err in (E.ENOENT, E.ENOTDIR) else 126

    def _call_function(self, name: str, argv: list[str]) -> int:
        saved = self.positional
        self.positional = argv[1:]
        self._local_frames.append({})
        try:
            return self.run(self.functions[name])
        except ReturnFromFunction as exc:
            return exc.status
        finally:
            for var, value in self._local_frames.pop().items():
                if value is None:
                    self.vars.pop(var, None)
                else:
                    self.vars[var] = value
            self.positional = saved

    def _run_applet(self, name: str, argv: list[str]) -> int:
        """Fork (System.spawn), run the applet, wait (System.reap); print a fatal signal.

        comm: NOEXEC applets set it to their name (set_task_comm) in the forked sh, whose
        cmdline stays the shell's; the others are exec'd by their name, which the kernel
        takes for comm (tests/realkernel/ps2: ``tail /proc/self/comm`` says tail), with
        argv for cmdline.
        """
        if name in NOEXEC_APPLETS:
            pid = self._sys("spawn", name)
        else:
            pid = self._sys("spawn", name[:15], argv)
        killed = None
        app = Applet(self, name)
        try:
            try:
                if argv[1:] == ["--help"] and name in USAGE:
                    app.usage(0)  # show_usage_if_dash_dash_help: exit 0
                status = APPLETS[name](app, argv)
            except AppletExit as exc:
                status = exc.status
            app.flush()  # exit(): stdio writes out what it holds, errors unreported
        except NotSimulated as exc:
            self._puts(2, f"kmodsim: {exc}\n")
            status = 127
        except TaskKilled as exc:
            killed, status = exc, 128 + exc.signo
        finally:
            self._sys("reap", pid)
        if killed:
            if getattr(killed, "note", None):   # a kernel function kmodsim cannot run
                self._puts(2, f"kmodsim: {killed.note}\n")
            self._signal_message(killed, self.fds[2])
        return status & 0xFF

    # -- redirections ---------------------------------------------------------------------

    def _with_redirects(self, redirects: list, body: Callable[[], int]) -> int:
        if not redirects:
            return body()
        saved, opened = self.fds, []
        self.fds = dict(saved)
        try:
            for redirect in redirects:
                if not self._redirect(redirect, opened):
                    return 1
            return body()
        finally:
            self.fds = saved
            for handle in opened:
                handle.close()

    def _redirect(self, redirect: Redirect, opened: list) -> bool:
        op = redirect.op
        fd = redirect.fd if redirect.fd is not None else (0 if op[0] == "<" else 1)
        target = self.expand_text(redirect.target)
        if op in ("<<", "<<-"):
            self.fds[fd] = BufferHandle(target.encode("utf-8", "surrogateescape"))
            return True
        if op in (">&", "<&"):
            if target == "-":
                self.fds.pop(fd, None)
                return True
            if target.isdigit():
                source = self.fds.get(int(target))
                if source is None:
                    self._error(f"{target}: Bad file descriptor")
                    return False
                self.fds[fd] = source
                return True
            op = ">" if op == ">&" else "<"
        path = self._abspath(target)
        if op == "<":
            handle = self._open(path, O_RDONLY)
        elif op == "<>":
            handle = self._open(path, O_RDWR | O_CREAT)
        else:
            handle = self._open(path, O_WRONLY | O_CREAT | (O_APPEND if op == ">>" else O_TRUNC))
        if isinstance(handle, int):
            if op == "<":
                self._error(f"can't open {target}: {errmsg(-handle, 'no such file')}", self.arg0)
            else:
                self._error(f"can't create {target}: {errmsg(-handle, 'nonexistent directory')}",
                            self.arg0)
            return False
        opened.append(handle)
        self.fds[fd] = handle
        return True

    # -- expansion ------------------------------------------------------------------------

    def expand_words(self, words: list) -> list[str]:
        fields = []
        for word in words:
            fields.extend(self.expand_word(word))
        return fields

    def expand_word(self, word: Word) -> list[str]:
        """Parameter, command and arithmetic expansion, field splitting, globbing and
        quote removal of one word: zero or more fields."""
        result = []
        for chars in self._fields(word.parts):
            result.extend(self._glob_field(chars))
        return result

    def expand_text(self, word: Word) -> str:
        """One word expanded without field splitting or globbing (assignments, redirections,
        case subjects)."""
        return "".join(self._part_text(part) for part in word.parts)

    def _part_text(self, part: tuple) -> str:
        if part[0] == "lit":
            return part[1]
        value = self._part_value(part)
        return " ".join(value) if isinstance(value, list) else value

    def _fields(self, parts: tuple) -> list[list]:
        """Fields as lists of (char, quoted) pairs."""
        fields, current, started = [], [], False
        ifs = self.vars.get("IFS", IFS_WHITESPACE)
        for part in parts:
            if part[0] == "lit":
                current.extend((c, part[2]) for c in part[1])
                started = started or bool(part[1]) or part[2]
                continue
            value = self._part_value(part)
            quoted = part[-2] if part[0] == "cmd" else part[-1]
            if isinstance(value, list):  # "$@"
                for index, item in enumerate(value):
                    if index:
                        fields.append(current)
                        current = []
                    current.extend((c, True) for c in item)
                    started = True
                continue
            if quoted:
                current.extend((c, True) for c in value)
                started = True
                continue
            pieces = split_fields(value, ifs)
            if not pieces:
                if value and started and value[0] in ifs:
                    fields.append(current)
                    current, started = [], False
                continue
            if value[0] in ifs and started:
                fields.append(current)
                current = []
            for index, piece in enumerate(pieces):
                if index:
                    fields.append(current)
                    current = []
                current.extend((c, False) for c in piece)
            started = True
            if value[-1] in ifs:
                fields.append(current)
                current, started = [], False
        if started:
            fields.append(current)
        return fields

    def _part_value(self, part: tuple) -> str | list:
        kind = part[0]
        if kind == "cmd":
            return self._command_substitution(part[1], part[3])
        if kind == "arith":
            return self._arithmetic(part[1])
        _, name, op, arg, quoted = part
        if name == "@" and quoted and op is None:
            return list(self.positional)
        value = self.getvar(name)
        if op is None:
            return value or ""
        if op == "len":
            return str(len(value or ""))
        unset = value is None or (op[0] == ":" and value == "")
        bare = op.lstrip(":")
        if bare == "-":
            return self._arg_text(arg) if unset else value
        if bare == "=":
            if unset:
                value = self._arg_text(arg)
                self.setvar(name, value)
            return value
        if bare == "+":
            return "" if unset else self._arg_text(arg)
        if bare == "?":
            if unset:
                message = self._arg_text(arg) or "parameter not set"
                self._error(f"{name}: {message}")
                raise FatalError()
            return value
        return self._remove_pattern(value or "", op, arg)

    def _arg_text(self, arg: tuple) -> str:
        return "".join(self._part_text(part) for part in arg)

    def _remove_pattern(self, value: str, op: str, arg: tuple) -> str:
        chars = []
        for part in arg:
            if part[0] == "lit":
                chars.extend((c, part[2]) for c in part[1])
            else:
                chars.extend((c, True) for c in self._part_text(part))
        regex = pattern_regex(chars)
        cuts = range(len(value) + 1)
        if op in ("#", "##"):
            for n in (reversed(cuts) if op == "##" else cuts):
                if regex.match(value[:n]):
                    return value[n:]
        else:
            for n in (cuts if op == "%%" else reversed(cuts)):
                if regex.match(value[n:]):
                    return value[:n]
        return value

    def _pattern_chars(self, word: Word) -> list:
        chars = []
        for part in word.parts:
            if part[0] == "lit":
                chars.extend((c, part[2]) for c in part[1])
            else:
                quoted = part[-2] if part[0] == "cmd" else part[-1]
                chars.extend((c, quoted) for c in self._part_text(part))
        return chars

    def _command_substitution(self, source: str, line: int) -> str:
        sink = BufferHandle()
        fds = dict(self.fds)
        fds[1] = sink
        saved_line = self.lineno

        def body():
            parser = Parser(source, line)
            status = 0
            while True:
                try:
                    node = parser.command_line()
                except ShellSyntaxError as exc:
                    self.lineno = exc.line
                    self._error(f"syntax error: {exc.message}")
                    return 2
                if node is None:
                    return status
                status = self.status = self.run(node)

        self._cmdsub_status = self._subshell(body, fds)
        self.lineno = saved_line
        return bytes(sink.data).decode("utf-8", "surrogateescape").rstrip("\n")

    def _arithmetic(self, source: str) -> str:
        text = self._arg_text(tuple(Parser(source)._read_parts(stop="", quoted=True)))
        try:
            return str(Arith(text, self.getvar, self.setvar).evaluate())
        except ArithError as exc:
            self._error(str(exc))
            raise FatalError() from None

    # -- globbing -------------------------------------------------------------------------

    def _glob_field(self, chars: list) -> list[str]:
        text = "".join(c for c, _ in chars)
        if not has_glob(chars):
            return [text]
        matches = self._glob(chars)
        return matches if matches else [text]

    def _glob(self, chars: list) -> list[str]:
        components, current = [], []
        for c, quoted in chars:
            if c == "/":
                components.append(current)
                current = []
            else:
                current.append((c, quoted))
        components.append(current)
        absolute = not components[0] and len(components) > 1
        if absolute:
            components = components[1:]
        paths = ["/" if absolute else ""]
        for index, component in enumerate(components):
            last = index == len(components) - 1
            if not component:
                if last:  # a trailing "/": directories only
                    paths = [p + "/" for p in paths
                             if isinstance(self._stat(self._abspath(p)), Stat)
                             and self._stat(self._abspath(p)).is_dir]
                continue
            paths = self._glob_step(paths, component)
            if not paths:
                return []
        return sorted(paths)

    def _glob_step(self, bases: list[str], component: list) -> list[str]:
        def join(base, name):
            if not base:
                return name
            return base + name if base.endswith("/") else base + "/" + name

        if not has_glob(component):
            name = "".join(c for c, _ in component)
            found = []
            for base in bases:
                path = join(base, name)
                if not isinstance(self._stat(self._abspath(path) or "/"), int):
                    found.append(path)
            return found
        regex = pattern_regex(component)
        dot = component[0][0] == "."
        found = []
        for base in bases:
            names = self._list_dir(self._abspath(base) if base else self.cwd)
            if isinstance(names, int):
                continue
            if dot:
                names = [".", ".."] + list(names)
            for name in names:
                if name.startswith(".") and not dot:
                    continue
                if regex.match(name):
                    found.append(join(base, name))
        return found


def is_program(data: bytes | int) -> bool:
    """An ELF executable or shared object (e_type 2 or 3): what realkernel's cp would
    leave executable in /mods (a user-space helper such as tests/realkernel/finit.c);
    a module (ET_REL) is not executable there."""
    return isinstance(data, bytes) and data[:4] == b"\x7fELF" and len(data) > 17 \
        and data[16] in (2, 3)


def ash_hashvar(name: str) -> int:
    """ash's hashvar(): which of the 39 buckets of its variable table holds ``name``."""
    raw = name.encode("utf-8", "surrogateescape")
    return ((raw[0] << 4) + sum(raw)) % 39 if raw else 0


def errmsg(err: int, absent: str) -> str:
    """ash's errmsg(): ENOENT and ENOTDIR get ash's own wording."""
    return absent if err in (E.ENOENT, E.ENOTDIR) else strerror(err)
