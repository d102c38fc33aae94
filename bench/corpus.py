"""Link every module of a tree, as the kernel would load them, and time it.

    python bench/corpus.py [DIR] [--arch amd64|i386] [--jobs N] [--limit N] [--no-baseline]

DIR defaults to the Debian tree ``../shared/tools/debian-modules ARCH`` unpacks. Inter-module
symbols resolve as they would after depmod: each module's ``depends=`` (written by modpost)
names the modules it needs, and those are linked first and registered, so their exports
(with their real addresses and CRCs) are found by the next links. The tree is split over
two processes: one links every module that others depend on, in dependency order, and
streams each one's exports to the other, which links the modules nobody depends on as soon
as what they need has arrived; no module is linked twice.

Prints ``linked X/Y modules, R relocations, T s`` and, measured in the same run, how long
pyelftools takes merely to iterate the same relocation entries.
"""

import argparse
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

DEFAULT_TOOL = HERE.parent.parent / "shared" / "tools" / "debian-modules"
PROFILES = {"amd64": "linux-6.1.0-56-amd64", "i386": "linux-6.1.0-50-686"}


def corpus_dir(arch="amd64"):
    """The ``kernel/`` folder of the Debian module tree for ``arch`` (unpacked by
    ../shared/tools/debian-modules on first use), or ``None`` when it cannot be had.
    The other corpus scripts and the corpus tests use this one."""
    tool = Path(os.environ.get("KMODSIM_DEBIAN_MODULES", DEFAULT_TOOL))
    if not tool.exists():
        return None
    try:
        out = subprocess.run([str(tool), arch], capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0 or not out.stdout.strip():
        return None
    path = Path(out.stdout.strip().splitlines()[-1]) / "kernel"
    return path if path.is_dir() else None


def read_module(path):
    """The file mapped, not read: a loader never touches a .ko's debug info, most of it."""
    import mmap
    with open(path, "rb") as fh:
        try:
            return memoryview(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
        except ValueError:   # an empty file cannot be mapped
            return memoryview(b"")


def scan(paths):
    """name -> (path, [dependency names]) from each module's .modinfo."""
    from linker.module.kmod_format import kmod_section
    from linker.module.modinfo import modinfo_entries
    mods = {}
    for p in paths:
        data = read_module(p)
        err, raw = kmod_section(data, ".modinfo")
        entries = dict(modinfo_entries(raw)) if not err else {}
        name = entries.get("name") or p.name.split(".")[0].replace("-", "_")
        deps = [d.replace("-", "_") for d in entries.get("depends", "").split(",") if d]
        mods[name] = (p, deps)
    return mods


def components(mods):
    """Groups of modules connected by dependencies (union-find), largest first."""
    parent = {n: n for n in mods}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for name, (_, deps) in mods.items():
        for d in deps:
            if d in mods:
                parent[find(name)] = find(d)
    groups = defaultdict(list)
    for n in mods:
        groups[find(n)].append(n)
    return sorted(groups.values(), key=len, reverse=True)


def topo(names, mods):
    order, seen = [], set()

    def visit(n):
        if n in seen or n not in mods:
            return
        seen.add(n)
        for d in mods[n][1]:
            visit(d)
        order.append(n)

    for n in sorted(names):
        visit(n)
    return order


def _link_one(kernel, name, path, stats, publish=None):
    from linker.errors import KmodError
    from linker.load import link_module
    from linker.load.pipeline import register_module
    try:
        lm = link_module(read_module(path), kernel)
    except KmodError as exc:
        stats["failures"].append((name, exc.errno, exc.message))
        kernel.log.clear()
        return
    stats["linked"] += 1
    stats["relocs"] += sum(lm.relocations.values())
    if publish is not None:
        owner = register_module(kernel, lm)
        owner.linked = None      # keep only the exports: the image is freed
        publish(name, {n: (h.value, h.crc, h.gpl_only, h.namespace) for n, h in owner.exports.items()},
                sorted(owner.taints))
    if kernel.module_area is not None:
        kernel.module_area.free(lm.image.core_addr)
    kernel.log.clear()


def _kernel(profile_name):
    from linker.load import LinkKernel
    from linker.profiles import load_profile
    return LinkKernel(load_profile(profile_name))


def _stub(kernel, name, exports, taints):
    """Register a module linked by the other worker: its exports, nothing else."""
    from linker.load.linkkernel import Module, SymbolHit
    owner = Module(name, {}, set(taints))
    for sym, (value, crc, gpl, ns) in exports.items():
        owner.exports[sym] = SymbolHit(sym, value, crc, gpl, ns, owner)
    kernel.modules.add(owner)


def provider_worker(profile_name, providers, leaves, conn):
    """Worker A: every module others depend on, in dependency order, streaming each one's
    exports to worker B as soon as it is linked; then it helps with the rest.

    ``leaves`` is a list, or a queue shared with worker B (``None`` ends it)."""
    kernel = _kernel(profile_name)
    stats = {"linked": 0, "relocs": 0, "failures": []}
    t0 = time.perf_counter()

    def publish(name, exports, taints):
        if conn is not None:
            conn.send((name, exports, taints))

    for name, path in providers:
        _link_one(kernel, name, path, stats, publish)
    if conn is not None:
        conn.send(None)
    for name, path in _drain(leaves):
        _link_one(kernel, name, path, stats)
    stats["time"] = time.perf_counter() - t0
    return stats


def _drain(leaves):
    if isinstance(leaves, list):
        yield from leaves
        return
    while (item := leaves.get()) is not None:
        yield item


def leaf_worker(profile_name, leaves, deps, conn, out):
    """Worker B: modules nobody depends on, taken from the shared queue in the order their
    providers become available, each linked once what it needs has arrived."""
    kernel = _kernel(profile_name)
    stats = {"linked": 0, "relocs": 0, "failures": []}
    t0 = time.perf_counter()
    have, done = set(), False

    def receive(block):
        nonlocal done
        while not done and (block or conn.poll()):
            msg = conn.recv()
            block = False
            if msg is None:
                done = True
            else:
                _stub(kernel, *msg)
                have.add(msg[0])

    for name, path in _drain(leaves):
        receive(False)
        while not done and not deps[name] <= have:
            receive(True)
        _link_one(kernel, name, path, stats)
    stats["time"] = time.perf_counter() - t0
    out.put(stats)


def time_one(profile, mods, name):
    if name not in mods:
        print(f"no module {name}")
        return 2
    kernel = _kernel(profile)
    stats = {"linked": 0, "relocs": 0, "failures": []}
    for dep in topo([name], mods)[:-1]:
        _link_one(kernel, dep, mods[dep][0], stats, publish=lambda *a: None)
    from linker.load import link_module
    data = Path(mods[name][0]).read_bytes()
    best = None
    for _ in range(5):
        t = time.perf_counter()
        lm = link_module(data, kernel)
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
        kernel.module_area.free(lm.image.core_addr)
    n = sum(lm.relocations.values())
    print(f"{name}: {n} relocations linked in {best:.3f} s (best of 5; "
          f"{len(topo([name], mods)) - 1} dependencies linked first)")
    from elftools.elf.elffile import ELFFile
    from elftools.elf.relocation import RelocationSection
    t = time.perf_counter()
    with open(mods[name][0], "rb") as fh:
        m = sum(1 for sec in ELFFile(fh).iter_sections() if isinstance(sec, RelocationSection)
                for _ in sec.iter_relocations())
    print(f"pyelftools: iterated {m} relocations in {time.perf_counter() - t:.2f} s")
    return 0


def pyelftools_iterate(paths):
    """Time pyelftools merely walking every relocation entry of every module."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.relocation import RelocationSection
    n = 0
    t0 = time.perf_counter()
    for p in paths:
        with open(p, "rb") as fh:
            elf = ELFFile(fh)
            for sec in elf.iter_sections():
                if isinstance(sec, RelocationSection):
                    for _ in sec.iter_relocations():
                        n += 1
    return n, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?")
    ap.add_argument("--arch", default="amd64", choices=sorted(PROFILES))
    ap.add_argument("--profile")
    ap.add_argument("--jobs", type=int, default=min(os.cpu_count() or 1, 2),
                    help="1 or 2 worker processes (default: 2 when there are two cores)")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--no-baseline", action="store_true", help="skip the pyelftools timing")
    ap.add_argument("--only", metavar="NAME",
                    help="time just this module (its dependencies are linked first, untimed)")
    a = ap.parse_args(argv)
    root = Path(a.dir) if a.dir else corpus_dir(a.arch)
    if root is None:
        print("corpus not available")
        return 2
    paths = sorted(root.rglob("*.ko"))[:a.limit]
    profile = a.profile or PROFILES[a.arch]
    t0 = time.perf_counter()
    mods = scan(paths)
    t_scan = time.perf_counter() - t0
    if a.only:
        return time_one(profile, mods, a.only)
    # worker A links every provider (a module another one depends on) in dependency order
    # and streams its exports to worker B; B starts on the modules nobody depends on, in the
    # order their providers become available, and A joins in when the providers are done
    order = topo(list(mods), mods)
    providers = {d for _, deps in mods.values() for d in deps if d in mods}
    prov = [(n, str(mods[n][0])) for n in order if n in providers]
    rank = {n: i for i, (n, _) in enumerate(prov)}
    deps = {n: {d for d in mods[n][1] if d in mods} for n in mods}
    leaves = sorted((n for n in order if n not in providers),
                    key=lambda n: max((rank[d] for d in deps[n]), default=-1))
    leaf_items = [(n, str(mods[n][0])) for n in leaves]
    t1 = time.perf_counter()
    if a.jobs > 1:
        import multiprocessing as mp
        ctx = mp.get_context("fork")
        a_end, b_end = ctx.Pipe()
        queue, out = ctx.Queue(), ctx.Queue()
        for item in leaf_items:
            queue.put(item)
        queue.put(None)
        queue.put(None)
        proc = ctx.Process(target=leaf_worker, args=(profile, queue, deps, b_end, out))
        proc.start()
        ra = provider_worker(profile, prov, queue, a_end)
        rb = out.get()
        proc.join()
        results = [ra, rb]
    else:
        results = [provider_worker(profile, prov, leaf_items, None)]
    t_link = time.perf_counter() - t1
    linked = sum(r["linked"] for r in results)
    relocs = sum(r["relocs"] for r in results)
    failures = [f for r in results for f in r["failures"]]
    total = time.perf_counter() - t0
    print(f"linked {linked}/{len(paths)} modules, {relocs} relocations, {total:.2f} s "
          f"(scan {t_scan:.2f} s, link {t_link:.2f} s on {len(results)} workers: "
          + ", ".join(f"{r['time']:.2f} s" for r in results) + ")")
    for name, err, msg in failures[:20]:
        print(f"  FAILED {name}: errno {err}: {msg}")
    if not a.no_baseline:
        n, dt = pyelftools_iterate(paths)
        print(f"pyelftools: iterated {n} relocations in {dt:.2f} s "
              f"({dt / total:.1f}x kmodsim's whole link)")
    return 0 if linked == len(paths) else 1


if __name__ == "__main__":
    sys.exit(main())
