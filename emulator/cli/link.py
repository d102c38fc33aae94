"""``kmodsim link``: ``load_module`` up to and including relocation, nothing executed.

Prints where every section went, what every undefined symbol resolved to and how many
relocations of each type were applied; ``--json`` prints the same as one JSON object and
``--dump DIR`` writes each placed section's relocated bytes to ``DIR/<index>.bin``. On a
refusal it prints the kernel's log lines, as dmesg would show them, and exits 1.

With a hobby profile (``--profile hobby-i386``) the module goes through the hobby kernel's
loader (:mod:`linker.load.hobby`): sectioned, or with ``--inplace`` as seed 004 loads it,
followed by what that gets wrong and how the two loaders' results differ.
"""

import errno
import json
import sys
from pathlib import Path

from linker.errors import KmodError
from linker.load import LinkKernel, link_module
from linker.load.hobby import KMALLOC_SLACK, InPlaceModule, hobby_report, link_hobby, link_inplace
from linker.load.pipeline import dump_sections

from . import COMMANDS
from .common import module_or_last_with, print_log, print_refusal, profile_of, read_module


def add_parser(sub):
    p = sub.add_parser("link", help=COMMANDS["link"],
                       description="Run Linux 6.1's load_module() (or the hobby loader) up to "
                                   "relocation and show the result.")
    p.add_argument("module", metavar="MODULE", nargs="?")
    p.add_argument("--profile", default=None, metavar="P",
                   help="kernel profile name or file (default: linux-6.1.0-56-amd64)")
    p.add_argument("--with", dest="with_", nargs="+", default=[], metavar="MODULE",
                   help="link these modules first, so their exports resolve")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--dump", metavar="DIR", help="write DIR/<index>.bin for each placed section")
    p.add_argument("--inplace", action="store_true",
                   help="hobby profiles: relocate in the file buffer, as seed 004's loader does")
    p.add_argument("--ignore-vermagic", action="store_true",
                   help="as finit_module's MODULE_INIT_IGNORE_VERMAGIC (modprobe --force-vermagic)")
    p.add_argument("--ignore-modversions", action="store_true",
                   help="as MODULE_INIT_IGNORE_MODVERSIONS (modprobe --force-modversion)")
    p.set_defaults(run=run)
    return p


def run(args):
    module_or_last_with(args)
    profile = profile_of(args)
    if profile.kind == "hobby":
        return run_hobby(args, profile)
    kernel = LinkKernel(profile)
    flags = (1 if args.ignore_modversions else 0) | (2 if args.ignore_vermagic else 0)
    # a file that cannot be read is no refused load: "kmodsim link: can't open 'X': ..."
    deps = [read_module(dep) for dep in args.with_]
    data = read_module(args.module)
    try:
        for dep in deps:
            link_module(dep, kernel, register=True)
        lm = link_module(data, kernel, flags=flags)
    except KmodError as exc:
        return print_refusal("link", args.module, kernel.log, exc.errno)
    result = link_result(lm, profile)
    if args.dump:
        dump(lm, args.dump)
    if args.json:
        _print_json(result)
    else:
        print_text(result, kernel.log)
    return 0


def dump(lm, directory):
    """``--dump DIR``; a directory that cannot be made or written is a KmodError, in
    mkdir's words when it is the directory itself."""
    try:
        dump_sections(lm, directory)
    except OSError as exc:
        what = f"can't create directory '{exc.filename}'" if isinstance(exc, FileExistsError) \
            or exc.filename == directory else f"can't write '{exc.filename}'"
        raise KmodError(f"--dump: {what}: {exc.strerror}", exc.errno or errno.EIO) from None


def link_result(lm, profile):
    """What ``kmodsim link --json`` prints for a Linux module."""
    return {
        "module": lm.name,
        "arch": profile.arch,
        "profile": profile.name,
        "sections": [{"index": i, "name": n, "addr": a, "size": s, "region": r}
                     for i, n, a, s, r in lm.placed_sections()],
        "symbols": {name: r.value for name, r in lm.symbols.resolved.items()},
        "relocations": {"applied": sum(lm.relocations.values()), "by_type": dict(lm.relocations)},
        "core_size": lm.layout.core_size,
        "init_size": lm.layout.init_size,
    }


def _print_json(result):
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")


def print_text(result, log):
    print(f"module {result['module']} ({result['arch']}, profile {result['profile']}): "
          f"core {result['core_size']} bytes, init {result['init_size']} bytes")
    print()
    print(f"  {'[Nr]':>5} {'Name':28} {'Address':18} {'Size':>8}  Region")
    for s in result["sections"]:
        print(f"  [{s['index']:>3}] {s['name'][:28]:28} {s['addr']:#018x} {s['size']:#8x}  {s['region']}")
    print()
    print(f"  {len(result['symbols'])} undefined symbols resolved:")
    for name, value in sorted(result["symbols"].items()):
        print(f"    {value:#018x}  {name}")
    rel = result["relocations"]
    print()
    print(f"  {rel['applied']} relocations applied: " +
          ", ".join(f"{k} {v}" for k, v in sorted(rel["by_type"].items())))
    if log:
        print()
        print("  kernel log:")
        print_log(log, sys.stdout, indent="    ")


# ------------------------------------------------------------------------ the hobby kernel

def run_hobby(args, profile):
    """``kmodsim link --profile <hobby profile> [--inplace] [--json] [--dump DIR] MODULE``."""
    if args.with_:
        print(f"kmodsim link: --with does not apply to the hobby kernel {profile.name}: it exports "
              f"only {', '.join(sorted(profile.exports))} and never links one module against "
              f"another", file=sys.stderr)
        return 1
    kernel = LinkKernel(profile)
    name = Path(args.module).stem
    report = None
    data = read_module(args.module)
    try:
        if args.inplace:
            lm = link_inplace(data, kernel, name)
            report = hobby_report(data, profile, name, inplace=lm)
        else:
            lm = link_hobby(data, kernel, name)
    except KmodError as exc:
        return print_refusal("link", args.module, kernel.log, exc.errno, exc.message)
    result = hobby_result(lm, report)
    if args.dump:
        dump(lm, args.dump)
    if args.json:
        _print_json(result)
    else:
        print_hobby_text(lm, result, kernel.log)
    if args.inplace and lm.stopped:      # only seed 004's in-place loader can stop early
        print(f"kmodsim link: {args.module}: seed 004's loader does not finish: {lm.stopped}",
              file=sys.stderr)
        return 1
    return 0


def hobby_result(lm, report=None):
    """What ``kmodsim link --json`` prints for a hobby module: the Linux shape, plus the mode,
    the allocation, ``.this_module``'s entries and, in place, what the seed gets wrong."""
    profile = lm.profile
    out = {
        "module": lm.name,
        "arch": profile.arch,
        "profile": profile.name,
        "mode": lm.mode,
        "sections": [{"index": i, "name": n, "addr": a, "size": s, "region": r}
                     for i, n, a, s, r in lm.placed_sections()],
        "symbols": {name: hit.value for name, hit in lm.symbols.resolved.items()},
        "relocations": {"applied": sum(lm.relocations.values()), "by_type": dict(lm.relocations)},
        # sectioned: the one allocation; in place: the kmalloc'd buffer (file size + 5)
        "core_size": lm.size,
        "init_size": 0,
        "base": lm.base,
        "init": lm.init_addr,
        "exit": lm.exit_addr,
    }
    if isinstance(lm, InPlaceModule):
        out["relocations"]["skipped"] = dict(lm.skipped)
        out["stopped"] = lm.stopped
    if report is not None:
        out["report"] = [{"kind": f.kind, "text": f.text} for f in report.findings]
        out["differences"] = report.differences
    return out


def _plural(n, word, suffix="s"):
    return f"{n} {word}{suffix if n != 1 else ''}"


def print_hobby_text(lm, result, log):
    if lm.mode == "inplace":
        print(f"module {result['module']} ({result['arch']}, profile {result['profile']}): in "
              f"place, as seed 004 loads it: the file in one kmalloc({lm.memory.file_size:#x} + "
              f"{KMALLOC_SLACK}) buffer at {lm.base:#010x}")
    else:
        print(f"module {result['module']} ({result['arch']}, profile {result['profile']}): "
              f"sectioned, one allocation of {lm.size:#x} bytes at {lm.base:#010x}")
    print()
    print(f"  {'[Nr]':>5} {'Name':28} {'Address':10} {'Size':>8}  Region")
    for s in result["sections"]:
        print(f"  [{s['index']:>3}] {s['name'][:28]:28} {s['addr']:#010x} {s['size']:#8x}  "
              f"{s['region']}")
    print()
    print(f"  {_plural(len(result['symbols']), 'undefined symbol')} resolved" +
          (":" if result["symbols"] else ""))
    for name, value in sorted(result["symbols"].items()):
        print(f"    {value:#010x}  {name}")
    rel = result["relocations"]
    print()
    by_type = sorted(rel["by_type"].items())
    print(f"  {_plural(rel['applied'], 'relocation')} applied" +
          "".join(f"{', ' if n else ': '}{k} {v}" for n, (k, v) in enumerate(by_type)))
    if rel.get("skipped"):
        print(f"  {sum(rel['skipped'].values())} relocations skipped silently: " +
              ", ".join(f"{k} {v}" for k, v in sorted(rel["skipped"].items())))
    if result["init"] is not None:
        print()
        init, exit_ = result["init"], result["exit"]
        print(f"  .this_module: init {init:#010x} ({lm.symbol_at(init) or '?'}), "
              f"exit {exit_:#010x} ({lm.symbol_at(exit_) or '?'})")
    if result.get("stopped"):
        print()
        print(f"  the seed's loader stops: {result['stopped']}")
    if "report" in result:
        print()
        print(f"  what loading in place gets wrong ({_plural(len(result['report']), 'finding')}):")
        for f in result["report"] or [{"text": "nothing found"}]:
            print(f"    {f['text']}")
        print()
        print("  in place vs sectioned:")
        for line in result["differences"]:
            print(f"    {line}")
    if log:
        print()
        print("  kernel log:")
        print_log(log, sys.stdout, indent="    ")
