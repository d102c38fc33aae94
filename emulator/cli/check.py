"""``kmodsim check MODULE...``: before any run, the kernel functions a module calls that
kmodsim cannot run.

A call to one of them stops the run (``kmodsim: F is not simulated ...``, exit status 4), so
an instructor checks an assignment's reference solution before releasing it. Each import
(an undefined symbol of the module) is one of:

* a kernel function kmodsim runs: a Python implementation, the reference kernel's own
  machine code (``emulator.kernelcode``, for pure library functions, when the profile ships
  it), or one of the profile's no-ops;
* **not simulated**: a kernel function with neither; listed, and the exit status is 1;
* a function or variable of another module: fine when that module is given too, else
  listed as needing it (it is not kmodsim's to simulate: load it with ``--with``);
* kernel data (a variable the module reads: ``jiffies``, ``__tracepoint_*``): read as the
  simulated kernel holds it; listed with ``--json`` only;
* unknown: not exported at all; the load fails with ``Unknown symbol`` on the real kernel
  too.

Nothing runs: the module is only read. ``--json`` prints one object per module.
"""

import json
import sys

from linker.errors import KmodError
from linker.module.metadata import ModuleInfo
from linker.profiles import DEFAULT_PROFILE, load_profile

from ..kapi.registry import can_run
from . import COMMANDS
from .common import read_module

EXIT_NOT_SIMULATED = 1      # (run's status 4 is for a run that was stopped)
ELFCLASS32, EM_386 = 1, 3


def add_parser(sub):
    p = sub.add_parser("check", help=COMMANDS["check"],
                       description="List the kernel functions each MODULE imports that "
                                   "kmodsim cannot run (a call to one stops the run). Exit "
                                   "status 1 when there is any.")
    p.add_argument("modules", nargs="+", metavar="MODULE")
    p.add_argument("--profile", default=None, metavar="P",
                   help="kernel profile (default: linux-6.1.0-56-amd64; hobby-i386 for an "
                        "ELF32 i386 object)")
    p.add_argument("--json", action="store_true", help="one JSON object per module, a list")
    p.set_defaults(run=run)
    return p


def _profile_for(data, name):
    if name:
        return load_profile(name)
    if data[4:5] == bytes([ELFCLASS32]) and data[18:20] == EM_386.to_bytes(2, "little"):
        return load_profile("hobby-i386")
    return load_profile(DEFAULT_PROFILE)


def _is_code(profile, addr):
    """An export at ``addr`` is a function when it is in the kernel's text (the range the
    emulator hooks: a call there runs its Python implementation)."""
    if addr is None:
        return False
    text, image = profile.kernel_text, profile.kernel_image
    if text is None:
        return False
    start = image.start if image is not None else text.start
    return start <= addr < text.end


def check_module(info, profile, given):
    """What ``info``'s imports need: a dict (the ``--json`` record, without ``module``).
    ``given``: export name -> module name, for the modules given together."""
    rec = {"name": info.name, "profile": profile.name, "imports": 0, "simulated": [],
           "kernel_code": [], "noop": [], "not_simulated": [], "from_given_modules": {},
           "needs_modules": {}, "data": [], "unknown": []}
    for sym in sorted(set(info.undefined_symbols)):
        if sym == "_GLOBAL_OFFSET_TABLE_":
            continue
        rec["imports"] += 1
        if sym in given:
            rec["from_given_modules"][sym] = given[sym]
            continue
        exp = profile.exports.get(sym)
        if exp is None:
            rec["unknown"].append(sym)
        elif exp.exporter not in (None, "vmlinux", "kernel"):
            rec["needs_modules"][sym] = exp.exporter.rsplit("/", 1)[-1]
        elif not _is_code(profile, exp.addr):
            rec["data"].append(sym)
        else:
            how = can_run(profile, sym)
            if how is None and _runs_kernel_code(profile, sym):
                how = "kernel_code"
            key = {"implemented": "simulated", "noop": "noop",
                   "kernel_code": "kernel_code"}.get(how, "not_simulated")
            rec[key].append(sym)
    return rec


def _runs_kernel_code(profile, name):
    """Does a call to ``name`` run the reference kernel's own machine code (emulator.kernelcode,
    when the profile ships it)?"""
    try:
        from ..kernelcode import runs
    except ImportError:             # a tree without it
        return False
    return runs(profile, name)


def run(args):
    infos = []
    for path in args.modules:
        data = read_module(path)
        profile = _profile_for(data, args.profile)
        try:
            info = ModuleInfo(data, path=path)
            info.undefined_symbols      # parse now: a bad file is reported as one
        except KmodError:
            raise
        except Exception as exc:        # not an ELF module kmodsim can read
            raise KmodError(f"{path}: not a module kmodsim can read ({exc})") from None
        infos.append((path, info, profile))
    given = {}
    for path, info, _ in infos:
        for exp in info.exports:
            given.setdefault(exp.name, info.name or path)
    records = []
    for path, info, profile in infos:
        own = {n: m for n, m in given.items() if m != (info.name or path)}
        records.append({"module": path, **check_module(info, profile, own)})
    if args.json:
        json.dump(records, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for rec in records:
            _print(rec)
    return EXIT_NOT_SIMULATED if any(r["not_simulated"] for r in records) else 0


def _print(rec):
    funcs = sum(len(rec[key]) for key in ("simulated", "kernel_code", "noop", "not_simulated"))
    bad = rec["not_simulated"]
    if bad:
        print(f"{rec['module']}: {len(bad)} of the {funcs} kernel functions it calls cannot be "
              f"run by kmodsim (a call stops the run):")
        for name in bad:
            print(f"  {name}")
    else:
        noops = f", {len(rec['noop'])} of them no-ops" if rec["noop"] else ""
        what = "the kernel function" if funcs == 1 else f"all {funcs} kernel functions"
        print(f"{rec['module']}: kmodsim runs {what} it calls{noops}")
    needs = sorted(set(rec["needs_modules"].values()))
    if needs:
        print(f"  needs module{'s' if len(needs) > 1 else ''} {', '.join(needs)} "
              f"(give {'them' if len(needs) > 1 else 'it'} too, and load with --with)")
    if rec["unknown"]:
        print(f"  not exported by the kernel nor by a module given (the load fails with "
              f"'Unknown symbol'): {', '.join(rec['unknown'])}")
