"""``kmodsim script SCENARIO.sh MODULE...`` and ``kmodsim shell [MODULE...]``.

``script`` takes the same arguments as ``../shared/tools/realkernel`` and frames its output
the same way (``=== SCENARIO``, the scenario's output with the console lines where they
appeared, ``=== DMESG``, the kernel log written during the scenario, ``=== END``), so
``scenario-diff REAL SIM`` can compare the two. ``shell`` runs the same commands typed one
line at a time against one simulated kernel.
"""

import os
import sys


def add_parser(sub):
    p = sub.add_parser("script", help="run a busybox scenario against a simulated kernel",
                       description="Run SCENARIO.sh as realkernel runs it in its guest, with the "
                                   "MODULEs in /mods, and print the same framed output.")
    p.add_argument("scenario", metavar="SCENARIO.sh")
    p.add_argument("modules", nargs="*", metavar="MODULE")
    p.add_argument("--profile", default=None, metavar="P")
    p.set_defaults(run=run_script)
    s = sub.add_parser("shell", help="an interactive busybox shell on a simulated kernel",
                       description="Type busybox commands (insmod, rmmod, lsmod, cat /proc/...) "
                                   "against one simulated kernel; MODULEs are in /mods.")
    s.add_argument("modules", nargs="*", metavar="MODULE")
    s.add_argument("--profile", default=None, metavar="P")
    s.set_defaults(run=run_shell)
    return p


def _modules(paths):
    mods = {}
    for path in paths:
        with open(path, "rb") as fh:
            mods[os.path.basename(path)] = fh.read()
    return mods


def scenario_output(scenario_text, modules, profile=None):
    """The framed text realkernel prints, produced by kmodsim."""
    from linker.profiles import DEFAULT_PROFILE

    from .kernel import Kernel, KernelPanic
    from .shell import Shell
    from .system import KernelSystem
    k = Kernel(profile or DEFAULT_PROFILE)
    system = KernelSystem(k)
    shell = Shell(system, modules)
    try:
        shell.run_script(scenario_text)
    except KernelPanic:             # the guest is dead: no more commands, and no dmesg
        shell.flush_console()
    start = system.clear_index      # what `dmesg -c` in the scenario cleared is gone
    out = ["=== SCENARIO\n", shell.output.decode("latin-1")]
    if not out[-1].endswith("\n") and out[-1]:
        out.append("\n")
    if k.panicked is not None:      # realkernel's VM restarts (panic=-1): the output ends
        return "".join(out)
    out.append("=== DMESG\n")
    from .kernel import format_record
    out += [format_record(r) + "\n" for r in k.log[start:]]
    out.append("=== END\n")
    return "".join(out)


def run_script(args):
    with open(args.scenario, encoding="utf-8", errors="surrogateescape") as fh:
        text = fh.read()
    sys.stdout.buffer.write(scenario_output(text, _modules(args.modules), args.profile)
                            .encode("latin-1"))
    return 0


def run_shell(args):
    from linker.profiles import DEFAULT_PROFILE

    from .kernel import Kernel, KernelPanic
    from .shell import Shell
    from .system import KernelSystem
    k = Kernel(args.profile or DEFAULT_PROFILE)

    def write(data):
        sys.stdout.buffer.write(bytes(data))
        sys.stdout.flush()

    shell = Shell(KernelSystem(k), _modules(args.modules), write=write)
    status = 0
    while True:
        try:
            line = input("/mods # ")
        except EOFError:
            print()
            return status
        try:
            status = shell.run_interactive(line)
        except KernelPanic:         # the kernel is dead: the session ends with it
            shell.flush_console()
            return 1
        except SystemExit as exc:
            return exc.code or 0
        except Exception as exc:   # the shell's own exit (ExitShell) and anything else
            if type(exc).__name__ == "ExitShell":
                return getattr(exc, "status", 0)
            raise
