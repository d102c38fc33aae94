"""The kernel's own code for its library: how much it covers, what it costs, how fast it runs.

    python bench/kernelcode.py [--modules DIR] [--bench N] [--calls N] [--vmlinuz PATH]

1. Coverage. The shipped side file (``linker/profiles/data/NAME.kernelcode.xz``, made by
   ``python -m linker.profiles.kernelcode``): functions, bytes of code and ``.rodata``,
   raw and xz. Of the vmlinux exports that Debian's own modules import (``--modules``,
   default the tree ``../shared/tools/debian-modules amd64`` unpacked), how many run in
   Python, how many as the kernel's code, how many neither; and how many modules have
   every vmlinux import runnable, before and after. With ``--vmlinuz`` (the Debian
   bzImage), why the others are not pure (the generator's first reason for each).
2. Speed. ``samples/linux/libcalls/libcalls.ko bench=N`` runs N sorts of 1,000 ints, 10*N
   rbtree inserts (and an in-order walk), N kstrtoint, bitmap_weight (4,096 bits), crc32_le
   (4,000 bytes) and sscanf calls, once on the kernel's code and once with the Python
   implementations below bound in their place (the module prints the same checksums in both;
   tests/realkernel/libcalls.real.txt has the real kernel's). Each family is timed between
   the module's printk lines, best of ``--repeat``. The Python sort compares natively; what
   it would cost calling the module's cmp back (a guest call per comparison) is estimated.
3. Hooks. The kernel-text code hook is the text minus the islands of kernel code in use:
   a Python kernel call (xorshift's ``calls=N`` of ktime_get) with no kernel code, with
   kernel code installed, after libcalls.ko took its functions out of the hook, and with
   every runnable function out of it (~1,200 hooks); in bare Unicorn, one call through 1
   range hook vs 1,201 range hooks vs 7,001 one-address hooks; and the alternative of one
   range hook that returns early for kernel code (its cost per instruction).
"""

import argparse
import glob
import struct
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

LIBCALLS = ROOT / "samples/linux/libcalls/libcalls.ko"
XORSHIFT = ROOT / "samples/linux/xorshift/xorshift.ko"
DEFAULT_MODULES = Path.home() / ".cache/debian-modules/amd64/lib/modules/6.1.0-56-amd64"
DEFAULT_VMLINUZ = Path.home() / ".cache/realkernel/6.1.0-56-amd64/boot/vmlinuz-6.1.0-56-amd64"
MASK32 = 0xFFFFFFFF


# -- 1. coverage --------------------------------------------------------------------------------

def corpus_imports(tree):
    """{module path: set of undefined symbol names} for every .ko under ``tree``."""
    from linker.elf.reader import ElfFile
    out = {}
    for path in sorted(glob.glob(str(tree / "**" / "*.ko"), recursive=True)):
        elf = ElfFile.from_path(path)
        out[path] = {s.name for s in elf.symbols if s.is_undefined and s.name}
    return out


def coverage(args):
    from emulator import kernelcode
    from linker.profiles import load_profile
    from linker.profiles import kernelcode as gen
    p = load_profile()
    code = kernelcode.load(p)
    blob = kernelcode.side_file(p).read_bytes()
    manifest, payload = gen.deserialize(blob)
    code_bytes = sum(s["size"] for s in manifest["spans"] if s["kind"] == "code")
    data_bytes = sum(s["size"] for s in manifest["spans"] if s["kind"] == "data")
    unique = {f.addr: f for f in code.functions.values()}
    has_py = kernelcode.has_python(p)
    runnable = code.runnable(has_py)
    print(f"shipped: {len(unique)} functions ({len(code.functions)} names), code {code_bytes:,} B, "
          f".rodata {data_bytes:,} B, ORC {len(payload) - code_bytes - data_bytes:,} B, "
          f"raw {len(payload):,} B, xz {len(blob):,} B; "
          f"runnable here {len(runnable)} (the rest keep their Python handler)")
    vmlinux = {n for n in p.exports if p.exports[n].exporter == "vmlinux"}
    print(f"vmlinux exports: {len(vmlinux):,}; pure (shipped) {sum(1 for n in vmlinux if n in code.functions):,}")
    if not args.modules.is_dir():
        print(f"(no module tree at {args.modules}: corpus coverage skipped)")
        return
    t = time.perf_counter()
    imports = corpus_imports(args.modules)
    wanted = set().union(*imports.values()) & vmlinux
    py = {n for n in wanted if has_py(n)}
    kc = {n for n in wanted if n in code.functions and code.functions[n].addr in runnable}
    pure_py = {n for n in wanted if n in code.functions} - kc
    print(f"Debian corpus: {len(imports):,} modules import {len(wanted):,} distinct vmlinux exports "
          f"({time.perf_counter() - t:.1f} s to read)")
    print(f"  runnable in Python {len(py):,}; as kernel code {len(kc):,} "
          f"(+{len(pure_py)} pure ones that keep their Python handler); "
          f"together {len(py | kc):,} = {100 * len(py | kc) / len(wanted):.1f} % "
          f"(Python alone {100 * len(py) / len(wanted):.1f} %)")
    full_before = sum(1 for s in imports.values() if all(n in py for n in s & vmlinux))
    full_after = sum(1 for s in imports.values() if all(n in py or n in kc for n in s & vmlinux))
    print(f"  modules whose every vmlinux import runs: {full_before:,} -> {full_after:,} "
          f"of {len(imports):,}")
    calls = Counter(n for s in imports.values() for n in s & vmlinux)
    print("  most imported that run as kernel code: "
          + ", ".join(f"{n} ({calls[n]})" for n, _ in
                      sorted(((n, calls[n]) for n in kc), key=lambda x: -x[1])[:15]))
    if args.vmlinuz and args.vmlinuz.is_file():
        why_not(args, p, wanted - py - kc - pure_py, calls)


def why_not(args, p, rest, calls):
    """The generator's first reason, for the imports that are neither Python nor kernel code."""
    import gzip
    from linker.profiles import kernelcode as gen
    vmlinuz = args.vmlinuz.read_bytes()
    system_map = gzip.decompress((gen.DATA_DIR / f"{gen.PROFILE}.kallsyms.gz").read_bytes()).decode()
    tsv = (gen.DATA_DIR / f"{gen.PROFILE}.exports.tsv").read_text()
    kc, pure, _m, _b = gen.generate(vmlinuz, system_map, tsv)
    reasons, weighted = Counter(), Counter()
    for n in rest:
        addr = p.exports[n].addr
        f = kc.function_at(addr)
        why = "data object, not a function" if f is None else kc.blocking(f.addr, pure)
        why = why.split(" in ")[0] if why.startswith("data ") else why
        key = why if not why.startswith(("data ", "calls ")) else why.split()[0] + " ..."
        reasons[key] += 1
        weighted[why] += calls[n]
    print(f"  why the other {len(rest):,} are not pure (first reason each):")
    for why, n in reasons.most_common(12):
        print(f"    {n:5,}  {why}")
    print("  the blockers behind the most import sites: "
          + "; ".join(f"{w} ({n})" for w, n in weighted.most_common(12)))


# -- 2. speed: Python implementations of the benchmarked functions -------------------------------
#
# Written as kmodsim's kapi handlers are: impl(k, m), arguments from registers, guest memory
# through the machine. sort compares ints natively (it does not call the module's cmp back:
# a faithful Python sort would have to run the emulated cmp once per comparison, so this is
# a lower bound on its cost).

def py_sort(k, m):
    base, num, size = m.arg(0), m.arg(1), m.arg(2)
    assert size == 4
    vals = sorted(struct.unpack(f"<{num}i", m.read(base, 4 * num)))
    m.write(base, struct.pack(f"<{num}i", *vals))


def _color(m, node):              # __rb_parent_color: parent pointer | colour (1 black)
    return m.read_ptr(node) & 1


def _parent(m, node):
    return m.read_ptr(node) & ~3


def _set_parent_color(m, node, parent, color):
    m.write_ptr(node, parent | color)


def _rotate(m, root, x, left):
    """Rotate ``x`` left (its right child rises) or right; fixes parent links."""
    a, b = (8, 16) if left else (16, 8)           # rb_right at 8, rb_left at 16
    y = m.read_ptr(x + a)
    m.write_ptr(x + a, m.read_ptr(y + b))
    if m.read_ptr(y + b):
        child = m.read_ptr(y + b)
        _set_parent_color(m, child, x, _color(m, child))
    p = _parent(m, x)
    _set_parent_color(m, y, p, _color(m, y))
    if not p:
        m.write_ptr(root, y)
    elif m.read_ptr(p + 16) == x:
        m.write_ptr(p + 16, y)
    else:
        m.write_ptr(p + 8, y)
    m.write_ptr(y + b, x)
    _set_parent_color(m, x, y, _color(m, x))


def py_rb_insert_color(k, m):
    """Red-black insert rebalancing, CLRS style (struct rb_node: parent|colour, right, left)."""
    node, root = m.arg(0), m.arg(1)
    while True:
        parent = _parent(m, node)
        if not parent:
            _set_parent_color(m, node, 0, 1)
            return
        if _color(m, parent):
            return
        gparent = _parent(m, parent)
        parent_is_left = m.read_ptr(gparent + 16) == parent
        uncle = m.read_ptr(gparent + (8 if parent_is_left else 16))
        if uncle and not _color(m, uncle):
            _set_parent_color(m, uncle, gparent, 1)
            _set_parent_color(m, parent, gparent, 1)
            _set_parent_color(m, gparent, _parent(m, gparent), 0)
            node = gparent
            continue
        if parent_is_left and m.read_ptr(parent + 8) == node:
            _rotate(m, root, parent, left=True)
            node, parent = parent, node
        elif not parent_is_left and m.read_ptr(parent + 16) == node:
            _rotate(m, root, parent, left=False)
            node, parent = parent, node
        _rotate(m, root, gparent, left=not parent_is_left)
        _set_parent_color(m, parent, _parent(m, parent), 1)
        _set_parent_color(m, gparent, _parent(m, gparent), 0)
        return


def py_rb_first(k, m):
    n = m.read_ptr(m.arg(0))
    while n and m.read_ptr(n + 16):
        n = m.read_ptr(n + 16)
    return n


def py_rb_next(k, m):
    node = m.arg(0)
    if m.read_ptr(node + 8):
        node = m.read_ptr(node + 8)
        while m.read_ptr(node + 16):
            node = m.read_ptr(node + 16)
        return node
    parent = _parent(m, node)
    while parent and node == m.read_ptr(parent + 8):
        node, parent = parent, _parent(m, parent)
    return parent


def py_bitmap_weight(k, m):
    bitmap, bits = m.arg(0), m.arg(1) & MASK32
    raw = int.from_bytes(m.read(bitmap, (bits + 63) // 64 * 8), "little")
    return (raw & ((1 << bits) - 1)).bit_count()


def py_crc32_le(k, m):
    crc, p, n = m.arg(0) & MASK32, m.arg(1), m.arg(2)
    return zlib.crc32(m.read(p, n), crc ^ MASK32) ^ MASK32


PYTHON_IMPLS = {"sort": py_sort, "rb_insert_color": py_rb_insert_color, "rb_first": py_rb_first,
                "rb_next": py_rb_next, "__bitmap_weight": py_bitmap_weight, "crc32_le": py_crc32_le}
FAMILIES = ("sort", "rb_insert_color", "kstrtoint", "bitmap_weight", "crc32_le", "sscanf")


def timed_run(n, python):
    """libcalls bench=n; per family, the wall time between its printk lines and the checksum
    lines. ``python``: run the benchmarked functions in Python (kstrtoint's is kmodsim's own)."""
    from emulator import kernelcode
    from emulator.kapi import registry
    from emulator.kernel import Kernel
    from linker.profiles import load_profile
    registry.by_export("_printk")                       # every kapi file imported
    saved_by_export = dict(registry.BY_EXPORT)
    saved_has_python = kernelcode.has_python
    code = kernelcode.load(load_profile())
    code.runnable_cache.clear()         # which functions have Python handlers changes here
    try:
        if python:
            registry.BY_EXPORT.update(PYTHON_IMPLS)
        else:        # kstrtoint: the kernel's code too, not kmodsim's Python handler
            def has_python(profile, _orig=saved_has_python):
                check = _orig(profile)
                return lambda name: name != "kstrtoint" and check(name)
            kernelcode.has_python = has_python
            registry.BY_EXPORT.pop("kstrtoint", None)
        k = Kernel(timeout_s=600)
        stamps = []
        printk = k.kapi.handler_at(k.export_addr("_printk"))
        k.kapi.handlers[k.export_addr("_printk")] = \
            lambda kk, m: (stamps.append(time.perf_counter()), printk(kk, m))[1]
        # warm up: the first call of each function takes it out of the hook and the module's
        # code gets translated (timed apart, in hooks())
        assert k.insmod(LIBCALLS, "bench=1").rc == 0 and k.rmmod("libcalls").rc == 0
        r = k.insmod(LIBCALLS, f"bench={n}")
        assert r.rc == 0, (r, k.dmesg())
        lines = [ln.split("] ", 1)[1] for ln in k.dmesg().splitlines()
                 if "bench " in ln and "x1:" not in ln]
        marks = stamps[-len(FAMILIES) - 1:]       # "bench ready", then one per family
        times = [b - a for a, b in zip(marks, marks[1:])]
        k.close()
        return dict(zip(FAMILIES, times)), lines
    finally:
        registry.BY_EXPORT.clear()
        registry.BY_EXPORT.update(saved_by_export)
        kernelcode.has_python = saved_has_python
        code.runnable_cache.clear()


def guest_callback_cost(calls=5000):
    """What a Python sort would pay per comparison to call the module's cmp: one emu_start
    of a 10-instruction cmp from Python (bare Unicorn, so a lower bound for kmodsim)."""
    from unicorn import UC_ARCH_X86, UC_MODE_64, UC_PROT_ALL, Uc
    from unicorn import x86_const as X
    CODE, STACK = 0x100000, 0x200000
    # mov eax,[rdi]; mov edx,[rsi]; xor ecx,ecx; cmp eax,edx; setg cl; setl al;
    # movzx eax,al; sub ecx,eax; mov eax,ecx; ret   -- and a hlt to return to
    cmp = bytes.fromhex("8b078b1631c939d00f9fc10f9cc00fb6c029c189c8c3")
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    uc.mem_map(CODE, 0x1000, UC_PROT_ALL)
    uc.mem_map(STACK, 0x1000, UC_PROT_ALL)
    uc.mem_write(CODE, cmp + b"\xf4")
    t = time.perf_counter()
    for _ in range(calls):
        uc.mem_write(STACK + 0x800, struct.pack("<Q", CODE + len(cmp)))
        uc.reg_write(X.UC_X86_REG_RSP, STACK + 0x800)
        uc.reg_write(X.UC_X86_REG_RDI, STACK)
        uc.reg_write(X.UC_X86_REG_RSI, STACK + 4)
        uc.emu_start(CODE, CODE + len(cmp))
        uc.reg_read(X.UC_X86_REG_RAX)
    return (time.perf_counter() - t) / calls


def sort_compares(n=1000, seed=1):
    """How many comparisons Python's sort makes on 1,000 random ints."""
    import functools
    import random
    rnd, count = random.Random(seed), [0]

    def cmp(a, b):
        count[0] += 1
        return (a > b) - (a < b)
    sorted((rnd.randrange(100000) for _ in range(n)), key=functools.cmp_to_key(cmp))
    return count[0]


def speed(args):
    n = args.bench
    runs = [(timed_run(n, python=False), timed_run(n, python=True)) for _ in range(args.repeat)]
    kc_lines, py_lines = runs[0][0][1], runs[0][1][1]
    assert kc_lines == py_lines, (kc_lines, py_lines)
    kc_t = {f: min(r[0][0][f] for r in runs) for f in FAMILIES}       # best of --repeat
    py_t = {f: min(r[1][0][f] for r in runs) for f in FAMILIES}
    counts = {"sort": n, "rb_insert_color": 10 * n, "kstrtoint": n, "bitmap_weight": n,
              "crc32_le": n, "sscanf": n}
    print(f"speed, libcalls bench={n} (same checksums both ways; best of {args.repeat}):")
    print(f"  {'family':18} {'calls':>7} {'kernel code':>14} {'Python':>14} {'Python/kernel':>14}")
    for fam in FAMILIES:
        a, b = kc_t[fam] / counts[fam], py_t[fam] / counts[fam]
        note = "" if fam != "sscanf" else "   (no Python sscanf: both kernel code)"
        print(f"  {fam:18} {counts[fam]:>7,} {a * 1e6:>11.1f} us {b * 1e6:>11.1f} us "
              f"{b / a:>13.2f}x{note}")
    per_cb, compares = guest_callback_cost(), sort_compares()
    est = compares * per_cb + py_t["sort"] / counts["sort"]
    print(f"  a Python sort that calls the module's cmp back ({compares:,} compares x "
          f"{per_cb * 1e6:.1f} us a guest call) would take >= {est * 1e3:.0f} ms a sort: "
          f"{est / (kc_t['sort'] / counts['sort']):.0f}x the kernel's code")


# -- 3. hooks -----------------------------------------------------------------------------------

def kapi_call_cost(calls, mode):
    """What one Python kernel call (xorshift's ktime_get) costs, and how many code hooks
    there are: ``mode`` "none" (no kernel code shipped: one kernel-text hook), "fresh"
    (kernel code installed, none called yet), "libcalls" (after libcalls.ko ran: its
    functions are out of the hook), "all" (every runnable function out of the hook at
    once, as a first version did at boot)."""
    from emulator import kernelcode
    from emulator.kernel import Kernel
    saved = kernelcode.load
    if mode == "none":
        kernelcode.load = lambda profile: None
    try:
        def once(c):
            k = Kernel(timeout_s=600)
            if mode == "libcalls":
                assert k.insmod(LIBCALLS).rc == 0
                k.rmmod("libcalls")
            elif mode == "all":
                k.kernel_code.active = set(k.kernel_code.runnable)
                k.kernel_code._rehook()
            t = {}
            orig = k.call

            def timed(func, a=(), sentinel=None):
                t0 = time.perf_counter()
                try:
                    return orig(func, a, sentinel)
                finally:
                    t["init"] = time.perf_counter() - t0
            k.call = timed
            r = k.insmod(XORSHIFT, f"rounds=0 calls={c}")
            assert r.rc == 0
            hooks = 1 if k.kernel_code is None else len(k.kernel_code.hooks)
            k.close()
            return t["init"], hooks
        base, _ = once(0)
        total, hooks = once(calls)
        return (total - base) / calls, hooks
    finally:
        kernelcode.load = saved


def bare_hooks(calls):
    """Bare Unicorn: a loop calling one address ``calls`` times; the callee's address is
    hooked by one range hook, by 1,200 range hooks, or among 7,000 one-address hooks."""
    from unicorn import UC_ARCH_X86, UC_HOOK_CODE, UC_MODE_64, UC_PROT_ALL, Uc
    from unicorn import x86_const as X
    CODE, TEXT, SIZE = 0x100000, 0x1000000, 0x1000000
    target = TEXT + 0x800000
    # mov ecx, calls; L: call target; dec ecx; jnz L; hlt
    loop = (b"\xb9" + struct.pack("<I", calls) + b"\xe8" + struct.pack("<i", target - (CODE + 10))
            + b"\xff\xc9\x75\xf7\xf4")

    def run(hooks):
        uc = Uc(UC_ARCH_X86, UC_MODE_64)
        uc.mem_map(CODE, 0x1000, UC_PROT_ALL)
        uc.mem_map(TEXT, SIZE, UC_PROT_ALL)
        uc.mem_map(0x7000000, 0x10000, UC_PROT_ALL)
        uc.mem_write(CODE, loop)
        uc.mem_write(target, b"\xc3")          # the handler returns; the CPU runs the ret

        def cb(uc, addr, size, user):
            return None
        for lo, hi in hooks:
            uc.hook_add(UC_HOOK_CODE, cb, begin=lo, end=hi - 1)
        uc.reg_write(X.UC_X86_REG_RSP, 0x7008000)
        t = time.perf_counter()
        uc.emu_start(CODE, CODE + len(loop) - 1)
        return (time.perf_counter() - t) / calls

    one = run([(TEXT, TEXT + SIZE)])
    step = SIZE // 1200
    many = run([(TEXT + i * step, TEXT + i * step + step // 2) for i in range(1200)]
               + [(target, target + 1)])
    points = run([(TEXT + i * 2400, TEXT + i * 2400 + 1) for i in range(7000)] + [(target, target + 1)])
    return one, many, points


def early_return_cost(iters):
    """One range hook over code that should run natively, its callback returning at once:
    the cost per instruction, against no hook."""
    from unicorn import UC_ARCH_X86, UC_HOOK_CODE, UC_MODE_64, UC_PROT_ALL, Uc
    CODE = 0x100000
    # mov ecx, iters; L: add eax, ecx; dec ecx; jnz L; hlt   (3 instructions a round)
    loop = b"\xb9" + struct.pack("<I", iters) + b"\x01\xc8\xff\xc9\x75\xfa\xf4"
    kernel_code = frozenset()

    def run(hook):
        uc = Uc(UC_ARCH_X86, UC_MODE_64)
        uc.mem_map(CODE, 0x1000, UC_PROT_ALL)
        uc.mem_write(CODE, loop)
        if hook:
            def cb(uc, addr, size, user):
                if addr not in kernel_code:
                    return None
            uc.hook_add(UC_HOOK_CODE, cb, begin=CODE, end=CODE + 0xFFF)
        t = time.perf_counter()
        uc.emu_start(CODE, CODE + len(loop) - 1)
        return (time.perf_counter() - t) / (3 * iters)
    return run(False), run(True)


def activation_cost():
    """libcalls.ko in a fresh kernel: how many times a function left the hook, and what each
    took (its closure's code written, the hooks re-laid, the translated text flushed)."""
    from emulator import kernelcode
    from emulator.kernel import Kernel
    spent = []
    orig = kernelcode.Installed.activate

    def timed(self, k, m):
        t = time.perf_counter()
        try:
            return orig(self, k, m)
        finally:
            spent.append(time.perf_counter() - t)
    kernelcode.Installed.activate = timed
    try:
        with Kernel() as k:
            assert k.insmod(LIBCALLS).rc == 0
            return len(spent), sum(spent) / len(spent), len(k.kernel_code.active)
    finally:
        kernelcode.Installed.activate = orig


def hooks(args):
    costs = {mode: min(kapi_call_cost(args.calls, mode) for _ in range(args.repeat))
             for mode in ("none", "fresh", "libcalls", "all")}
    base = costs["none"][0]
    print(f"hooks: one Python kernel call (ktime_get, {args.calls:,} calls) by kernel-text hooking:")
    for mode, label in (("none", "no kernel code"), ("fresh", "kernel code, none called yet"),
                        ("libcalls", "after libcalls.ko ran"), ("all", "every function unhooked")):
        per, n = costs[mode]
        print(f"  {label:30} {n:5} code hooks {per * 1e6:7.2f} us  {per / base:5.2f}x")
    count, each, functions = min(activation_cost() for _ in range(args.repeat))
    print(f"  libcalls.ko's first calls: {count} activations ({functions} functions out of the "
          f"hook), {each * 1e3:.2f} ms each")
    one, many, points = (min(x) for x in zip(*(bare_hooks(args.calls) for _ in range(args.repeat))))
    print(f"  bare Unicorn, one call through a hooked address: 1 range hook {one * 1e6:.2f} us, "
          f"1,201 range hooks {many * 1e6:.2f} us, 7,001 one-address hooks {points * 1e6:.2f} us")
    native, hooked = (min(x) for x in zip(*(early_return_cost(1_000_000) for _ in range(args.repeat))))
    print(f"  one range hook returning early instead: {hooked * 1e9:.0f} ns per instruction of "
          f"kernel code, against {native * 1e9:.1f} ns unhooked ({hooked / native:.0f}x)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modules", type=Path, default=DEFAULT_MODULES)
    ap.add_argument("--vmlinuz", type=Path, default=DEFAULT_VMLINUZ)
    ap.add_argument("--bench", type=int, default=200)
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each timing; the best counts")
    ap.add_argument("--only", choices=("coverage", "speed", "hooks"))
    args = ap.parse_args(argv)
    for name, fn in (("coverage", coverage), ("speed", speed), ("hooks", hooks)):
        if args.only in (None, name):
            fn(args)


if __name__ == "__main__":
    main()
