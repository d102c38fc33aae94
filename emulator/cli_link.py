"""``kmodsim link``: ``load_module`` up to and including relocation, nothing executed.

Prints where every section went, what every undefined symbol resolved to and how many
relocations of each type were applied; ``--json`` prints the same as one JSON object and
``--dump DIR`` writes each placed section's relocated bytes to ``DIR/<index>.bin``. On a
refusal it prints the kernel's log lines, as dmesg would show them, and exits 1.
"""

import errno
import json
import os
import sys
from pathlib import Path

from linker.errors import KmodError

KERN_LEVEL_NAMES = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")


def add_parser(sub):
    p = sub.add_parser("link", help="lay out, resolve and relocate a module as the kernel does",
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


def _read(path):
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise KmodError(f"{path}: {exc.strerror}", exc.errno or errno.ENOENT) from None


def run(args):
    from linker.load import LinkKernel, link_module
    from linker.profiles import DEFAULT_PROFILE, load_profile

    if args.module is None:
        if not args.with_:
            raise KmodError("no module given", errno.EINVAL)
        # `link --with A B C` : the last name is the module itself
        args.module = args.with_.pop()
    profile = load_profile(args.profile or DEFAULT_PROFILE)
    kernel = LinkKernel(profile)
    flags = (1 if args.ignore_modversions else 0) | (2 if args.ignore_vermagic else 0)
    if profile.kind == "hobby":
        from linker.load.hobby import run_link_hobby
        return run_link_hobby(args, profile, _read)
    try:
        for dep in args.with_:
            link_module(_read(dep), kernel, register=True)
        lm = link_module(_read(args.module), kernel, flags=flags)
    except KmodError as exc:
        print_log(kernel.log, sys.stderr)
        name = errno.errorcode.get(exc.errno, str(exc.errno))
        print(f"kmodsim link: {args.module}: load refused: {name} ({os.strerror(exc.errno)})",
              file=sys.stderr)
        return 1
    result = link_result(lm, profile)
    if args.dump:
        from linker.load.pipeline import dump_sections
        dump_sections(lm, args.dump)
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_text(result, kernel.log)
    return 0


def link_result(lm, profile):
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


def print_log(records, out):
    for r in records:
        print(f"<{KERN_LEVEL_NAMES[r.level]}> {r.text}", file=out)


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
        for r in log:
            print(f"    <{KERN_LEVEL_NAMES[r.level]}> {r.text}")
