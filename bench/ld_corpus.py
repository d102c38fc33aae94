"""Compare kmodsim's relocated sections with GNU ld's over a module corpus.

    python bench/ld_corpus.py [DIR] [--arch amd64|i386] [--limit N] [--jobs N] [--show N]

DIR is a tree of ``.ko`` files; by default the Debian 12 tree that
``../shared/tools/debian-modules ARCH`` unpacks. ``--limit N`` (default 300) takes N modules
spread evenly over the sorted list, so a run is repeatable. Each module is linked in-process
as ``kmodsim link --json --dump`` would (after the modules it depends on, as depmod orders
them: ``modules.dep`` when the tree has one, else each module's ``depends=``), then by ld at
the same addresses (``tests/ldcompare.py``), and every placed section is compared.

Prints how many modules, sections and bytes were compared, how many modules kmodsim refused
(and why, grouped), how many differ, and the first ``--show`` mismatches. Exits 1 when a
section differs or ld fails, 2 when ld or the corpus is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from corpus import corpus_dir  # noqa: E402  (one way to find the Debian tree)
sys.path.insert(0, str(HERE.parent / "tests"))

import ldcompare  # noqa: E402

PROFILES = {"amd64": "linux-6.1.0-56-amd64", "i386": "linux-6.1.0-50-686"}
EMULATIONS = {"amd64": "elf_x86_64", "i386": "elf_i386"}


# ---------------------------------------------------------------------------------------
# dependencies, as depmod computes them


def module_name(path):
    return Path(path).name.split(".ko")[0].replace("-", "_")


def modinfo_depends(path):
    """The module names in ``depends=`` of a module's ``.modinfo`` (what modpost wrote)."""
    data = Path(path).read_bytes()
    try:
        h = ldcompare.read_headers(data)
    except (ValueError, IndexError):
        return []
    for s in h.sections:
        if s.name == ".modinfo":
            for entry in data[s.sh_offset:s.sh_offset + s.sh_size].split(b"\0"):
                if entry.startswith(b"depends="):
                    text = entry[len(b"depends="):].decode("latin-1")
                    return [d.replace("-", "_") for d in text.split(",") if d]
    return []


def read_modules_dep(tree):
    """``modules.dep`` of the tree (or of its parent), as ``{name: [dependency names]}``."""
    for folder in (Path(tree), Path(tree).parent):
        dep = folder / "modules.dep"
        if dep.is_file():
            out = {}
            for line in dep.read_text().splitlines():
                target, sep, rest = line.partition(":")
                if sep:
                    out[module_name(target)] = [module_name(p) for p in rest.split()]
            return out
    return None


class Dependencies:
    """Which modules to link before a module, first to last (modprobe's order)."""

    def __init__(self, paths, modules_dep=None):
        self.paths = {module_name(p): Path(p) for p in paths}
        self.modules_dep = modules_dep
        self._direct = {}

    def direct(self, name):
        if name not in self._direct:
            path = self.paths.get(name)
            self._direct[name] = modinfo_depends(path) if path else []
        return self._direct[name]

    def order(self, name):
        """Paths of every module ``name`` needs, each after the ones it needs itself."""
        if self.modules_dep is not None and name in self.modules_dep:
            # modules.dep lists the closure with the ones loaded last first
            return [self.paths[d] for d in reversed(self.modules_dep[name]) if d in self.paths]
        order, seen = [], {name}

        def visit(n):
            for d in self.direct(n):
                if d not in seen and d in self.paths:
                    seen.add(d)
                    visit(d)
                    order.append(d)

        visit(name)
        return [self.paths[d] for d in order]


def spread(items, limit):
    """``limit`` items spread evenly over ``items`` (all of them when there are fewer)."""
    if limit is None or limit >= len(items):
        return list(items)
    return [items[i * len(items) // limit] for i in range(limit)]


# ---------------------------------------------------------------------------------------
# one module


@dataclass
class Outcome:
    module: str
    status: str                      # "compared", "refused", "ld-failed", "error"
    reason: str = ""
    sections: int = 0
    bytes: int = 0
    mismatches: list = field(default_factory=list)   # their str()
    percpu: int = 0
    relocations: Counter = field(default_factory=Counter)   # type name -> count


def link_in_process(path, deps, profile_name, dump_dir):
    """``kmodsim link PATH --with DEPS... --json --dump DIR`` without a new process."""
    from emulator.cli.link import link_result
    from linker.errors import KmodError
    from linker.load import LinkKernel, link_module
    from linker.load.pipeline import dump_sections
    from linker.profiles import load_profile

    profile = load_profile(profile_name)
    kernel = LinkKernel(profile)
    for dep in deps:
        try:
            link_module(Path(dep).read_bytes(), kernel, register=True)
        except KmodError as exc:
            raise ldcompare.LinkRefused(f"dependency {module_name(dep)}: {_why(kernel, exc)}") \
                from exc
    try:
        lm = link_module(Path(path).read_bytes(), kernel)
    except KmodError as exc:
        raise ldcompare.LinkRefused(_why(kernel, exc)) from exc
    dump_sections(lm, dump_dir)
    return link_result(lm, profile)


def _why(kernel, exc):
    """The refusal's message; for unknown symbols the first of them, not the last."""
    unknown = [r.text for r in kernel.log if "Unknown symbol" in r.text]
    return unknown[0] if unknown else getattr(exc, "message", str(exc))


def compare_module(job):
    """Worker: link one module with kmodsim and with ld, compare; an :class:`Outcome`."""
    path, deps, profile_name, emulation = job
    name = module_name(path)
    with tempfile.TemporaryDirectory(prefix="ldcorpus-") as tmp:
        try:
            result = link_in_process(path, deps, profile_name, Path(tmp) / "dump")
        except ldcompare.LinkRefused as exc:
            return Outcome(name, "refused", str(exc))
        except Exception:  # a crash in kmodsim: report it, keep going
            return Outcome(name, "error", traceback.format_exc(limit=-3).strip())
        counts = ldcompare.Counts()
        try:
            found = ldcompare.compare_with_ld(path, result, Path(tmp) / "dump", Path(tmp) / "ld",
                                              emulation, counts)
        except ldcompare.LdFailed as exc:
            return Outcome(name, "ld-failed", str(exc))
    return Outcome(name, "compared", "", counts.sections, counts.bytes, [str(m) for m in found],
                   counts.percpu, Counter(result["relocations"]["by_type"]))


# ---------------------------------------------------------------------------------------
# the run


def run_corpus(tree, arch="amd64", limit=300, jobs=None, progress=None):
    """Compare ``limit`` modules of ``tree``: the list of :class:`Outcome`, in module order."""
    paths = sorted(Path(tree).rglob("*.ko"))
    deps = Dependencies(paths, read_modules_dep(tree))
    chosen = spread(paths, limit)
    work = [(p, deps.order(module_name(p)), PROFILES[arch], EMULATIONS[arch]) for p in chosen]
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1:
        outcomes = []
        for job in work:
            outcomes.append(compare_module(job))
            if progress:
                progress(outcomes[-1])
        return outcomes
    with ProcessPoolExecutor(jobs) as pool:
        outcomes = []
        for outcome in pool.map(compare_module, work, chunksize=4):
            outcomes.append(outcome)
            if progress:
                progress(outcome)
        return outcomes


def summarise(outcomes, show=5, out=sys.stdout):
    compared = [o for o in outcomes if o.status == "compared"]
    differing = [o for o in compared if o.mismatches]
    refused = [o for o in outcomes if o.status == "refused"]
    broken = [o for o in outcomes if o.status in ("ld-failed", "error")]
    print(f"modules compared:     {len(compared)} of {len(outcomes)}", file=out)
    print(f"sections compared:    {sum(o.sections for o in compared)}", file=out)
    print(f"bytes compared:       {sum(o.bytes for o in compared)}", file=out)
    print(f"per-CPU sections:     {sum(o.percpu for o in compared)}", file=out)
    relocs = sum((o.relocations for o in compared), Counter())
    print(f"relocations applied:  {sum(relocs.values())} (" +
          ", ".join(f"{k} {v}" for k, v in sorted(relocs.items())) + ")", file=out)
    print(f"mismatching modules:  {len(differing)}", file=out)
    print(f"mismatching sections: {sum(len(o.mismatches) for o in differing)}", file=out)
    print(f"kmodsim refused:      {len(refused)}", file=out)
    print(f"ld failed / crashed:  {len(broken)}", file=out)
    if refused:
        kinds = Counter(_kind(o.reason) for o in refused)
        print("refusals, by kind:", file=out)
        for kind, n in kinds.most_common(8):
            example = next(o for o in refused if _kind(o.reason) == kind)
            print(f"  {n:5}  {kind}  (e.g. {example.module}: {example.reason})", file=out)
    shown = [m for o in differing for m in o.mismatches][:show]
    if shown:
        print(f"first {len(shown)} mismatches:", file=out)
        for m in shown:
            print("  " + m.replace("\n", "\n  "), file=out)
    for o in broken[:show]:
        print(f"{o.status}: {o.module}:\n    " + o.reason.replace("\n", "\n    "), file=out)
    return 1 if differing or broken else 0


def _kind(reason):
    """A refusal's message without the module and symbol names, to group refusals."""
    words = reason.split()
    if "Unknown symbol" in reason:
        return "Unknown symbol"
    return " ".join(w for w in words[:6] if not w.endswith(":"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?", help="tree of .ko files (default: the Debian tree)")
    ap.add_argument("--arch", choices=sorted(PROFILES), default="amd64")
    ap.add_argument("--limit", type=int, default=300, help="modules to compare (default 300)")
    ap.add_argument("--jobs", type=int, default=None, help="worker processes (default: CPUs)")
    ap.add_argument("--show", type=int, default=5, help="mismatches to print (default 5)")
    args = ap.parse_args(argv)
    missing = ldcompare.tools_missing()
    if missing:
        print(f"ld_corpus: not installed: {', '.join(missing)}", file=sys.stderr)
        return 2
    tree = Path(args.dir) if args.dir else corpus_dir(args.arch)
    if tree is None or not tree.is_dir():
        print("ld_corpus: no module tree (give DIR, or install ../shared/tools/debian-modules)",
              file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    outcomes = run_corpus(tree, args.arch, args.limit, args.jobs)
    print(f"{tree} ({args.arch}, profile {PROFILES[args.arch]}, "
          f"{time.perf_counter() - t0:.0f} s)")
    status = summarise(outcomes, args.show)
    note = profile_note(PROFILES[args.arch], outcomes)
    if note:
        print(note)
    return status


def profile_note(profile_name, outcomes):
    """What it means when the profile knows no addresses for vmlinux's exports (i386)."""
    from linker.profiles import load_profile
    profile = load_profile(profile_name)
    vmlinux = [e for e in profile.exports.values() if e.exporter == "vmlinux"]
    blank = sum(1 for e in vmlinux if e.addr is None)
    if not blank:
        return ""
    head = f"note: {blank} of the {len(vmlinux)} vmlinux exports of {profile_name} have no address"
    if any("Unknown symbol" in o.reason for o in outcomes if o.status == "refused"):
        return (f"{head}; kmodsim resolves nothing to them ('Unknown symbol ... (err -2)'), so "
                f"only modules that import nothing from vmlinux were compared")
    return (f"{head}; kmodsim gives them placeholder addresses and ld got the same values, so "
            f"the relocation arithmetic is compared, not real-kernel addresses")


if __name__ == "__main__":
    sys.exit(main())
