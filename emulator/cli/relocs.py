"""``kmodsim relocs``: a module's relocations, in the order the kernel applies them.

Without ``--step``, one line per relocation: the place (section + offset), the type, the
symbol, S, A, P and the value written. With ``--step``, each relocation in full, as
:meth:`linker.load.stepper.Step.text` gives it: how the symbol was resolved, the formula with
the numbers filled in, the bytes and the instruction before and after. ``--section NAME``
shows only the relocations that patch section NAME (or come from relocation section NAME);
the ones before it are still applied, so the bytes shown are the kernel's. ``--limit N``
stops after N shown. A refused load prints the kernel's lines and exits 1.
"""

import errno
import sys
from pathlib import Path

from linker.errors import KmodError
from linker.load import LinkKernel
from linker.load.stepper import stepper_for

from . import COMMANDS
from .common import module_or_last_with, print_refusal, profile_of, read_module


def add_parser(sub):
    p = sub.add_parser("relocs", help=COMMANDS["relocs"],
                       description="Apply a module's relocations one at a time, in the kernel's "
                                   "order, and show each: place, symbol, S, A, P, the value "
                                   "written; --step also shows the formula, the bytes and the "
                                   "instruction before and after.")
    p.add_argument("module", metavar="MODULE", nargs="?")
    p.add_argument("--profile", default=None, metavar="P",
                   help="kernel profile name or file (default: linux-6.1.0-56-amd64)")
    p.add_argument("--with", dest="with_", nargs="+", default=[], metavar="MODULE",
                   help="link these modules first, so their exports resolve")
    p.add_argument("--step", action="store_true",
                   help="show every relocation in full, one after another (on a terminal, "
                        "pausing after each: Enter for the next, q to stop)")
    p.add_argument("--no-pause", action="store_true",
                   help="with --step on a terminal: do not pause between relocations")
    p.add_argument("--section", metavar="NAME",
                   help="show only the relocations that patch section NAME")
    p.add_argument("--limit", type=int, metavar="N", help="show at most N relocations")
    p.set_defaults(run=run)
    return p


def run(args):
    module_or_last_with(args)
    if args.limit is not None and args.limit < 0:
        raise KmodError(f"--limit {args.limit}: must be 0 or more", errno.EINVAL)
    profile = profile_of(args)
    kernel = LinkKernel(profile)
    # a file that cannot be read is no refused load: "kmodsim relocs: can't open 'X': ..."
    deps = [read_module(dep) for dep in args.with_]
    data = read_module(args.module)
    try:
        st = stepper_for(data, with_=deps, kernel=kernel, name=Path(args.module).stem)
    except KmodError as exc:
        return print_refusal("relocs", args.module, kernel.log, exc.errno, exc.message)
    plan = st.plan()
    if args.section is not None and not any(args.section in (r, t) for r, t, _ in plan):
        names = sorted({t for _, t, n in plan if n})
        print(f"kmodsim relocs: no relocation of {args.module} patches {args.section}; "
              f"these sections have relocations: {', '.join(names) or 'none'}", file=sys.stderr)
        return 1
    print(f"{st.name} ({profile.arch}, profile {profile.name}): {len(st)} relocations in "
          f"{len(plan)} sections, in the order the kernel applies them")
    print()
    if not args.step:
        print(_table_header(st.bits))
    shown = 0
    pause = _pauser(args)
    for step in st:
        if args.limit is not None and shown >= args.limit:
            break
        if args.section is not None and args.section not in (step.target_name, step.rel_section):
            continue
        shown += 1
        if args.step:
            print(step.text())
            print()
            if pause is not None and not pause():
                break
        else:
            print(_table_line(step))
            for line in step.error or ():
                print(f"      refused: {line}")
    if st.error is not None:
        return print_refusal("relocs", args.module, kernel.log, errno.ENOEXEC, st.error[0])
    if not args.step and st.done:
        counts = {}
        for step in st.history:
            counts[step.type_name] = counts.get(step.type_name, 0) + 1
        print()
        print(f"  {len(st.history)} relocations applied: " +
              ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


def _pauser(args, stdin=None, stdout=None):
    """With --step on a terminal (both ends), a function that waits for the student after a
    relocation: True to go on (Enter), False to stop (q, or the end of the input). None when
    there is nobody to wait for (a pipe, a file, --no-pause)."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    if not args.step or getattr(args, "no_pause", False):
        return None
    try:
        if not (stdin.isatty() and stdout.isatty()):
            return None
    except (AttributeError, ValueError):
        return None

    def pause():
        stdout.write("-- Enter: next relocation, q: quit -- ")
        stdout.flush()
        answer = stdin.readline()
        return bool(answer) and answer.strip().lower() not in ("q", "quit")
    return pause


def _table_header(bits):
    w = bits // 4 + 2
    return (f"  {'Place':<32} {'Type':<16} {'Symbol':<28} {'S':<{w}} {'A':>8}  {'P':<{w}} Value")


def _table_line(step):
    w = step.bits // 4 + 2
    place = f"{step.target_name}+{step.r_offset:#x}" if step.r_offset is not None \
        else f"({step.rel_section})"
    S = f"{step.S:#0{w}x}" if step.S is not None else "-"
    A = (f"-{-step.A:#x}" if step.A < 0 else f"{step.A:#x}") if step.A is not None else "-"
    P = f"{step.P:#0{w}x}" if step.P is not None else "-"
    if step.error:
        value = "refused"
    elif step.width:
        value = f"{step.written:#0{2 * step.width + 2}x}"
    else:
        value = "(none)"
    return (f"  {place:<32} {step.type_name:<16} {step.symbol or '-':<28} {S:<{w}} {A:>8}  "
            f"{P:<{w}} {value}")
