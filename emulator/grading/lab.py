"""``Lab``: what a grading test does to a submission, in the words of a lab handout.

A test gets one as the ``lab`` fixture (:mod:`emulator.grading.plugin`), bound to the test's
fresh kernel and to the submission under test::

    def test_loads_with_start(lab):
        lab.load(start=5)                          # insmod counter.ko start=5, or fail saying why
        assert "counter: start=5" in lab.dmesg()
        assert lab.read("/sys/module/counter/parameters/start") == "5\\n"
        lab.unload()                               # rmmod counter, or fail saying why
        lab.assert_clean()                         # no oops, WARN, BUG, lockup in the log

``insmod``/``rmmod`` return the kernel's :class:`~emulator.modules.Result` as they are;
``load``/``unload`` assert that they went well and, when they did not, fail with the reason
an instructor would write (:func:`describe`): ``insmod: ERROR: could not insert module
counter.ko: Unknown symbol in module`` followed by the module's own log lines, ``the module's
init oopsed: BUG: kernel NULL pointer dereference, address: 0000000000000000``, ...

Everything here goes through the kernel's public API (``Kernel.insmod``, ``rmmod``,
``open``, ``dmesg``) and the busybox shell; user programs run with ``Kernel.run_program``
where the kernel has it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex

from linker.errors import KmodError

# kmod 30 tools/insmod.c mod_strerror (emulator.cli.common has the same table for the CLI;
# the library does not import the command line)
MOD_STRERROR = {errno.ENOEXEC: "Invalid module format", errno.ENOENT: "Unknown symbol in module",
                errno.ESRCH: "Module has wrong symbol version", errno.EINVAL: "Invalid parameters"}

# what, in a kernel log, says the kernel was hurt: (marker, what an instructor calls it)
TROUBLE = (
    ("BUG: KASAN:", "KASAN report"),
    ("BUG: kernel NULL pointer dereference", "NULL pointer dereference (oops)"),
    ("BUG: unable to handle page fault", "bad memory access (oops)"),
    ("watchdog: BUG: soft lockup", "soft lockup (endless loop)"),
    ("BUG: sleeping function called from invalid context", "sleeping in atomic context"),
    ("BUG: scheduling while atomic", "scheduling while atomic"),
    ("kernel BUG at", "BUG()"),
    ("general protection fault", "general protection fault (oops)"),
    ("divide error", "divide error (oops)"),
    ("WARNING: CPU:", "WARN"),
    ("unreferenced object", "memory leak (kmemleak)"),
    ("suspected memory leak", "memory leak (kmemleak)"),
    ("UBSAN:", "UBSAN report"),
    ("which is not an allocated object", "invalid or double kfree"),
    ("Kernel panic", "kernel panic"),
    ("BUG:", "kernel BUG report"),
)


# what the kernel says of every out-of-tree, unsigned module it loads
KERNEL_NOTES = ("loading out-of-tree module taints kernel",
                "module verification failed: signature and/or required key missing")


def mod_strerror(err):
    return MOD_STRERROR.get(err, os.strerror(err))


def format_params(params):
    """``{"start": 5, "name": "a b"}`` -> ``start=5 name="a b"``, as a shell passes them to
    insmod (the kernel's parse_args takes double quotes around a value)."""
    words = []
    for key, value in params.items():
        if isinstance(value, bool):
            value = "Y" if value else "N"
        elif isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        value = str(value)
        words.append(f'{key}="{value}"' if any(c.isspace() for c in value) else f"{key}={value}")
    return " ".join(words)


def trouble_in(log):
    """The kinds of trouble a log shows, first seen first, each once:
    ``["NULL pointer dereference (oops)"]``."""
    found = []
    for line in log.splitlines():
        for marker, what in TROUBLE:
            if marker in line:
                if marker == "BUG: KASAN:":     # BUG: KASAN: use-after-free in f+0x2a/...
                    kind = line.split(marker, 1)[1].strip().split(" ", 1)[0]
                    what = f"KASAN report ({kind})" if kind else what
                if what not in found:
                    found.append(what)
                break
    return found


def first_report_line(log):
    """The first line of the log that says something went wrong (``BUG: ...``, ``WARNING:
    ...``), without its timestamp; or None."""
    for line in log.splitlines():
        text = line.split("] ", 1)[1] if line.startswith("[") and "] " in line else line
        if any(marker in text for marker, _ in TROUBLE):
            return text
    return None


def module_lines(log, name):
    """The lines ``name`` printed as ``name: ...`` (pr_fmt's usual prefix) and the kernel's
    lines about it, timestamps dropped."""
    out = []
    for line in log.splitlines():
        text = line.split("] ", 1)[1] if line.startswith("[") and "] " in line else line
        if name and (text.startswith(f"{name}: ") or f" {name} " in f" {text} "):
            if any(note in text for note in KERNEL_NOTES):
                continue
            out.append(text)
    return out


def not_simulated_reason(what, ns):
    """Why a step stopped at a call to a kernel function kmodsim cannot run (``ns``, the
    kernel's NotSimulatedCall): kmodsim's limit, not the submission's mistake, said so."""
    return (f"{what}: kmodsim cannot run {ns.function}: the module called it (from "
            f"{ns.caller}) and kmodsim does not simulate that kernel function, so the run "
            f"stopped there. This is a limit of kmodsim, not a mistake in the submission "
            f"(`kmodsim check` lists such calls); grade this part on a real kernel.")


def describe(k, result, what, name=None):
    """Why ``result`` (of insmod or rmmod, ``what``) is not a success, in a sentence or
    three: the tool's error, then what the kernel said. None when it went well."""
    if result.ok:
        return None
    log = k.dmesg()
    if result.not_simulated is not None:
        return not_simulated_reason(what, result.not_simulated)
    if result.signal == "panic":
        return f"{what}: the kernel panicked: {result.message or k.panicked}"
    if result.signal is not None:
        report = k.faults.last_fault_report
        title = report.title if report is not None else None
        first = first_report_line(log)
        before = [t for t in trouble_in(log) if "soft lockup" not in t]
        if report is not None and report.kind == "lockup" or (first and "soft lockup" in first):
            return (f"{what}: the module's code never returned (soft lockup: an endless loop?); "
                    f"{what} was killed"
                    + (f" (before, the log shows: {', '.join(before)})" if before else "")
                    + f"\n{first or ''}").rstrip()
        where = f" in {report.what}" if report is not None and report.what else ""
        return (f"{what}: the module crashed{where} and {what} was killed by signal "
                f"{result.signal}: {first or title or 'see the kernel log'}")
    err = -result.rc
    if what.startswith("rmmod"):
        head = f"rmmod: ERROR: could not remove module {name}: {os.strerror(err)}"
    else:
        head = f"insmod: ERROR: could not insert module {what[len('insmod '):]}: {mod_strerror(err)}"
    said = module_lines(log, name)
    return "\n".join([head] + said[-8:])


class LabFailure(AssertionError):
    """A lab step did not go as the handout says; the message says why."""


class Lab:
    """The steps of a lab test on one kernel: load, unload, read and write files, run
    shell commands and programs, look at the log."""

    def __init__(self, kernel, submission):
        self.kernel = kernel
        self.submission = str(submission) if submission is not None else None
        self.loaded = []             # names of the modules this lab loaded, newest last

    def __repr__(self):              # no address: reports must read the same every run
        name = os.path.basename(self.submission) if self.submission else None
        return f"<Lab {name}>"

    # ------------------------------------------------------------------ modules

    def module_name(self, path=None):
        """The name the kernel will give the module at ``path`` (the submission by
        default): its ``.modinfo`` name, else the file's stem."""
        path = path or self.submission
        from linker.module import ModuleInfo     # the loader's own reading of .modinfo
        try:
            name = ModuleInfo.from_path(path).name
        except Exception:            # not a module at all: the load will say so
            name = None
        return name or os.path.basename(path).split(".")[0].replace("-", "_")

    def insmod(self, path=None, args="", **params):
        """``insmod PATH ARGS PARAM=VALUE...``: the kernel's Result (rc, signal, ...)."""
        path = path or self.submission
        line = " ".join(part for part in (args, format_params(params)) if part)
        try:
            result = self.kernel.insmod(path, line)
        except (OSError, KmodError) as exc:
            raise LabFailure(f"insmod {os.path.basename(path)}: {exc}") from None
        if result.ok:
            self.loaded.append(self.module_name(path))
        return result

    def load(self, path=None, args="", **params):
        """insmod that must succeed; fails the test with the reason otherwise."""
        __tracebackhide__ = True     # pytest: the failure is the test's line, not ours
        path = path or self.submission
        result = self.insmod(path, args, **params)
        why = describe(self.kernel, result, f"insmod {os.path.basename(path)}",
                       self.module_name(path))
        if why:
            raise LabFailure(why)
        return result

    def rmmod(self, name=None):
        """``rmmod NAME`` (the submission's module by default): the kernel's Result."""
        name = name or (self.loaded[-1] if self.loaded else self.module_name())
        result = self.kernel.rmmod(name)
        if result.ok and name in self.loaded:
            self.loaded.remove(name)
        return result

    def unload(self, name=None):
        """rmmod that must succeed (the module's exit ran and returned)."""
        __tracebackhide__ = True     # pytest: the failure is the test's line, not ours
        name = name or (self.loaded[-1] if self.loaded else self.module_name())
        result = self.rmmod(name)
        why = describe(self.kernel, result, f"rmmod {name}", name)
        if why:
            raise LabFailure(why)
        return result

    def is_loaded(self, name=None):
        name = name or self.module_name()
        return any(line.split(" ", 1)[0] == name
                   for line in self.kernel.proc_modules().splitlines())

    # ------------------------------------------------------------------ the log

    def dmesg(self):
        """The log as busybox ``dmesg`` prints it (timestamps included)."""
        return self.kernel.dmesg()

    def messages(self, name=None):
        """The log's texts without timestamps; with ``name``, only the lines that module
        printed (``name: ...``), not the kernel's own about every out-of-tree module
        (``counter: loading out-of-tree module taints kernel.``)."""
        lines = [line.split("] ", 1)[1] if line.startswith("[") and "] " in line else line
                 for line in self.kernel.dmesg().splitlines()]
        if name is None:
            return lines
        return [line for line in lines if line.startswith(f"{name}: ")
                and not any(note in line for note in KERNEL_NOTES)]

    def trouble(self):
        """What went wrong in the kernel so far (oops, WARN, BUG, lockup, KASAN...)."""
        found = trouble_in(self.kernel.dmesg())
        report = self.report()
        for problem in _report_problems(report):
            if problem not in found:
                found.append(problem)
        return found

    def assert_clean(self):
        """Fail unless the log shows no oops, WARN, BUG, lockup or sanitizer report (and
        ``Kernel.report()``, where the kernel has it, no problem)."""
        __tracebackhide__ = True     # pytest: the failure is the test's line, not ours
        found = self.trouble()
        if found:
            first = first_report_line(self.kernel.dmesg())
            raise LabFailure("the kernel log shows: " + ", ".join(found)
                             + (f"\n{first}" if first else ""))

    def report(self):
        """``Kernel.report()`` (the run record and its checks) where the kernel has it."""
        # feature test: Kernel.report() is being added alongside (KASAN/kmemleak checks)
        report = getattr(self.kernel, "report", None)
        return report() if callable(report) else None

    # ------------------------------------------------------------------ files

    def read(self, path, size=1 << 20):
        """The contents of a guest file (``/proc/...``, ``/sys/...``, ``/dev/...``) as text;
        OSError as a process would get it."""
        return self.read_bytes(path, size).decode("utf-8", "replace")

    def read_bytes(self, path, size=1 << 20):
        __tracebackhide__ = True     # pytest: the failure is the test's line, not ours
        with self._task(f"reading {path}"):
            f = self.kernel.open(path, os.O_RDONLY)
            try:
                chunks = []
                while size > 0:
                    chunk = f.read(min(size, 65536))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size -= len(chunk)
                return b"".join(chunks)
            finally:
                f.close()

    def write(self, path, data):
        """Write ``data`` (str or bytes) to a guest file; the count written."""
        __tracebackhide__ = True     # pytest: the failure is the test's line, not ours
        with self._task(f"writing {path}"):
            f = self.kernel.open(path, os.O_WRONLY)
            try:
                return f.write(data.encode() if isinstance(data, str) else bytes(data))
            finally:
                f.close()

    @contextlib.contextmanager
    def _task(self, what):
        """A file operation whose task the module's code killed (an oops in its fops, or a
        call kmodsim cannot run) fails the test saying which, not with a bare TaskKilled."""
        from ..shell.syscalls import TaskKilled
        kapi = getattr(self.kernel, "kapi", None)
        stops = len(getattr(kapi, "stops", ()))
        try:
            yield
        except TaskKilled as exc:
            new = list(getattr(kapi, "stops", ()))[stops:]
            if new:
                raise LabFailure(not_simulated_reason(what, new[-1])) from None
            note = getattr(exc, "note", None)
            first = first_report_line(self.kernel.dmesg())
            raise LabFailure(f"{what}: the module crashed and the process was killed by "
                             f"signal {exc.signo}: {note or first or 'see the kernel log'}"
                             ) from None

    # ------------------------------------------------------------------ shell and programs

    def sh(self, commands, modules=None):
        """Run busybox shell commands on this kernel (the submission is in /mods, as in
        ``kmodsim script``): ``(status, output)``, output being what the console showed."""
        from ..shell import Shell            # the shell only for tests that use it
        from ..system import KernelSystem
        files = dict(modules or {})
        if self.submission and os.path.isfile(self.submission):
            with open(self.submission, "rb") as fh:
                files.setdefault(os.path.basename(self.submission), fh.read())
        shell = Shell(KernelSystem(self.kernel), files)
        try:
            status = shell.run_script(commands)
        except Exception as exc:      # the kernel died under the shell (panic, memory cap)
            shell.flush_console()
            return 128, shell.output.decode("latin-1") + f"\n[{type(exc).__name__}: {exc}]\n"
        return status, shell.output.decode("latin-1")

    def run(self, program, *argv):
        """Run a user program (a host file, copied into /mods) in the guest:
        ``Kernel.run_program``'s result (status, output, signal)."""
        run_program = getattr(self.kernel, "run_program", None)   # feature test: new API
        if run_program is None:
            try:
                from ..user.run import run_program as _run
            except ImportError:
                import pytest
                pytest.skip("this kmodsim cannot run user programs (no Kernel.run_program)")
            return _run(self.kernel, program, [f"./{os.path.basename(program)}", *argv])
        return run_program(program, [f"./{os.path.basename(program)}", *argv])

    def shell_quote(self, word):
        return shlex.quote(word)


def _report_problems(report):
    """What ``Kernel.report()`` found, as short strings: the run record's (a dict,
    emulator.report) leaks and memory errors."""
    if report is None:
        return []
    if isinstance(report, dict):
        found = []
        for error in report.get("memory_errors") or ():
            kind = error.get("kind", "memory error") if isinstance(error, dict) else error
            found.append(f"KASAN report ({kind})" if isinstance(error, dict) else str(kind))
        leaks = report.get("leaks") or ()
        if leaks:
            found.append("memory leak (kmemleak)")
        return found
    for attr in ("problems", "findings", "errors"):
        value = getattr(report, attr, None)
        if value:
            return [str(v).splitlines()[0] for v in value]
    if isinstance(report, (list, tuple)):
        return [str(v).splitlines()[0] for v in report]
    return []
