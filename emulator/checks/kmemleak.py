"""kmemleak (mm/kmemleak.c), for a kernel built without it: which objects module code
allocated that nothing points to any more.

Every kmalloc/vmalloc is tracked with who made it (pid, comm, jiffies, the call stack).
A scan (:meth:`Kmemleak.scan`) marks what is reachable, as kmemleak's ``kmemleak_scan``
does: conservatively, any aligned word that points into a tracked object (its start or
inside it) references it. The roots are what the kernel keeps: every loaded module's
memory (``.data``, ``.bss``, ...), the per-CPU area, the objects the kernel allocated for
itself, and what the simulated kernel's own subsystems hold for modules (the devices,
/proc entries, timers, kthreads, work items a module registered: their addresses, wherever
kmodsim keeps them). Objects found are scanned in turn (the gray list). Only what module
code allocated (a kernel function called from a module's text) can be reported: memory
the kernel keeps for itself, for a stopped kthread or a removed device, never is.

Differences from the real one, all documented in the README: it scans when a module is
unloaded (``Kernel.delete_module``; the real one every 10 minutes and on ``echo scan >
/sys/kernel/debug/kmemleak``) and at the end of ``kmodsim run``; 6.1 never reports an
object younger than 5 s (``MSECS_MIN_AGE``), and these scans count every object as old
enough. The stacks scanned are those of the tasks alive (a kthread's; the syscall stack
where a process sleeps in it), not what exited processes left on the syscall stack. Each
leak is reported once, as kmemleak marks it ``OBJECT_REPORTED``: ``kmemleak: N new
suspected memory leaks (see /sys/kernel/debug/kmemleak)`` in the log, and the report in
:meth:`Kmemleak.file_text`.
"""

import bisect

from linker.loglevels import LOGLEVEL_INFO

from ..memmap import GS_BASE, PERCPU_SIZE, STACK_TOP, THREAD_SIZE

HEX_ROW_SIZE, HEX_MAX_LINES = 16, 2         # hex_dump_object: the first 32 bytes
MAX_TRACE = 16
# the subsystems of Kernel whose Python state is no root (or no module's): the CPU, the
# log, the allocator's own bookkeeping, the profile, the module list (scanned as memory)
NOT_ROOTS = {"machine", "log", "profile", "kapi", "slab", "modules", "module_area", "loader",
             "budget", "time", "faults", "debugger", "kernel_code", "checks", "taints",
             "calls", "sentinel", "params"}


class LeakObject:
    """``struct kmemleak_object``: one tracked allocation."""

    __slots__ = ("addr", "size", "pid", "comm", "jiffies", "stack", "where", "module",
                 "reported")

    def __init__(self, addr, size, track, where, module):
        self.addr, self.size = addr, size
        self.pid, self.comm, self.jiffies, self.stack = track
        self.where = where          # the stack symbolised when it was allocated
        self.module = module        # the module whose code allocated it, or None
        self.reported = False


class Kmemleak:
    """``k.checks.kmemleak``: the tracked objects, the scans, what they reported."""

    def __init__(self, k):
        self.k = k
        self.objects = {}           # address -> LeakObject
        self.reported = []          # the leaks reported, in order (dicts: emulator.report)
        self.text = []              # what /sys/kernel/debug/kmemleak holds
        self._symbols_key, self._symbols = None, {}

    def allocated(self, addr, size, track):
        stack = track[3].frames() if track[3] is not None else ()
        track = track[:3] + (stack,)
        where = [self._symbolize(f) for f in stack]
        module = next((w.rsplit("[", 1)[1].rstrip("]") for w in where[1:2] if w.endswith("]")),
                      None)
        self.objects[addr] = LeakObject(addr, size, track, where, module)

    def freed(self, addr):
        self.objects.pop(addr, None)

    def _symbolize(self, frame):
        """symbolize_frame, remembered while the same modules are loaded."""
        if isinstance(frame, str):
            return frame
        key = tuple((id(mod), mod.state) for mod in self.k.modules)
        if key != self._symbols_key:
            self._symbols_key, self._symbols = key, {}
        text = self._symbols.get(frame)
        if text is None:
            text = self._symbols[frame] = symbolize_frame(self.k, frame)
        return text

    # -- the scan ----------------------------------------------------------------------

    def scan(self):
        """``kmemleak_scan``: report the module-allocated objects nothing references."""
        k = self.k
        candidates = [o for o in self.objects.values() if o.stack and not o.reported]
        if not candidates:
            return 0
        objs = sorted(self.objects.values(), key=lambda o: o.addr)
        starts = [o.addr for o in objs]
        found = set()
        gray = []

        def mark(values):
            for v in values:
                i = bisect.bisect_right(starts, v) - 1
                if i >= 0:
                    o = objs[i]
                    if v < o.addr + max(o.size, 1) and o.addr not in found:
                        found.add(o.addr)
                        gray.append(o)

        lo, hi = self._range(objs)
        for start, size in self._root_blocks():
            mark(pointers_in(k.machine, start, size, lo, hi))
        mark(v for v in python_roots(k) if lo <= v < hi)
        for o in objs:              # what the kernel allocated for itself is a root
            if not o.stack and o.addr not in found:
                found.add(o.addr)
                gray.append(o)
        while gray:
            o = gray.pop()
            mark(pointers_in(k.machine, o.addr, o.size, lo, hi))
        leaks = [o for o in candidates if o.addr not in found]
        for o in leaks:
            o.reported = True
            self.text.append(self._unreferenced(o))
            self.reported.append(self._record(o))
        if leaks:
            k.printk(LOGLEVEL_INFO, f"kmemleak: {len(leaks)} new suspected memory leaks "
                                    f"(see /sys/kernel/debug/kmemleak)")
        return len(leaks)

    def _range(self, objs):
        if not objs:
            return 0, 0
        return objs[0].addr, max(o.addr + max(o.size, 1) for o in objs)

    def _root_blocks(self):
        """The memory kmemleak scans as roots: the modules' memory, the per-CPU area, and
        the kmalloc objects the kernel made before the checks began (not tracked)."""
        k = self.k
        for mod in k.modules:
            lm = mod.linked
            if lm is None or mod.state == "UNFORMED":
                continue
            img, lay = lm.image, lm.layout
            yield img.core_addr, lay.core_size
            if img.init_addr is not None and lay.init_size:
                yield img.init_addr, lay.init_size
        if k.profile.kind == "linux":
            yield GS_BASE, PERCPU_SIZE
            yield from self._task_stacks()
        for addr, (size, _) in list(k.slab.heap.live.items()):
            if addr not in self.objects:
                yield addr, size

    def _task_stacks(self):
        """The stacks of the tasks alive (kmemleak's ``kmemleak_stack_scan``): a kthread's
        own, whole; the syscall stack only from where a process sleeps in it (the rest is
        what exited processes left there: the real kernel frees their stacks)."""
        for task in self.k.tasks.all:
            if task.dead:
                continue
            if task.stack_top:
                yield task.stack_top - THREAD_SIZE, THREAD_SIZE
            elif task.blocked is not None and \
                    STACK_TOP - THREAD_SIZE <= task.blocked[1] < STACK_TOP:
                yield task.blocked[1], STACK_TOP - task.blocked[1]

    # -- what it prints ----------------------------------------------------------------

    def _unreferenced(self, o):
        """``print_unreferenced``: as /sys/kernel/debug/kmemleak shows it."""
        from ..faults import hashed
        k = self.k
        out = [f"unreferenced object 0x{o.addr:08x} (size {o.size}):",
               f'  comm "{o.comm}", pid {o.pid}, jiffies {o.jiffies}']
        n = min(o.size, HEX_ROW_SIZE * HEX_MAX_LINES)
        out.append(f"  hex dump (first {n} bytes):")
        try:
            data = k.machine.read(o.addr, n)
        except Exception:
            data = bytes(n)
        out += ["    " + hex_row(data[i:i + HEX_ROW_SIZE]) for i in range(0, n, HEX_ROW_SIZE)]
        out.append("  backtrace:")
        for frame in o.stack[:MAX_TRACE]:
            addr = frame_address(k, frame)
            out.append(f"    [<{hashed(addr)}>] {symbolize_frame(k, frame)}")
        return "\n".join(out) + "\n"

    def _record(self, o):
        return {"address": f"0x{o.addr:016x}", "size": o.size, "comm": o.comm, "pid": o.pid,
                "jiffies": o.jiffies, "module": o.module,
                "at": next((w for w in o.where[1:] if w.endswith("]")), None),
                "backtrace": list(o.where)}

    def file_text(self):
        """``/sys/kernel/debug/kmemleak``: every leak reported so far."""
        return "".join(self.text)


def hex_row(data):
    """``hex_dump_to_buffer`` (rowsize 16, groupsize 1, ascii), as print_hex_dump lays it."""
    hexes = " ".join(f"{b:02x}" for b in data)
    ascii_ = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in data)
    return hexes.ljust(HEX_ROW_SIZE * 3 + 1) + ascii_


def symbolize_frame(k, frame):
    """``%pS`` of a stack entry: an address, or a kernel frame already named."""
    if isinstance(frame, str):
        return frame
    return k.symbolize(frame) or f"0x{frame:x}"


def frame_address(k, frame):
    """The address behind a frame named ``name+0x59/0x220`` (the kernel's System.map)."""
    if not isinstance(frame, str):
        return frame
    name, _, rest = frame.partition("+")
    try:
        base = k.profile.kallsyms().address(name) if k.profile.kallsyms_path else None
        return (base or 0) + int(rest.split("/")[0], 16)
    except Exception:
        return 0


def pointers_in(m, start, size, lo, hi):
    """Every aligned word of ``[start, start + size)`` whose value lies in ``[lo, hi)``:
    ``scan_block``'s candidates (memory never backed is zeros: skipped)."""
    import numpy as np
    first = (start + 7) & ~7
    end = start + size
    for a, b in m.data_spans(first, end):
        a = (a + 7) & ~7
        for at in range(a, b - 7, 1 << 20):
            n = (min(at + (1 << 20), b) - at) // 8 * 8
            if n <= 0:
                break
            words = np.frombuffer(m.read(at, n), dtype="<u8")
            hits = words[(words >= lo) & (words < hi)]
            yield from (int(v) for v in hits)


def python_roots(k, limit=200_000):
    """The integers the simulated kernel's subsystems hold (their Python state): where
    kmodsim keeps what a module registered (a device, a /proc entry, a timer...)."""
    # never through the kernel itself or the state that is no root (the allocator's own
    # tables would make every object reachable)
    seen = {id(k), id(k.slab.heap), id(k.slab.vheap)}
    seen |= {id(getattr(k, n)) for n in NOT_ROOTS if hasattr(k, n)}
    stack, count = [], 0
    for name, value in vars(k).items():
        if name not in NOT_ROOTS and not name.startswith("_"):
            stack.append(value)
    while stack and count < limit:
        v = stack.pop()
        count += 1
        if isinstance(v, bool) or v is None:
            continue
        if isinstance(v, int):
            if v > 0xFFFF:
                yield v
            continue
        if isinstance(v, (str, bytes, bytearray, memoryview, float)):
            continue
        if id(v) in seen:
            continue
        seen.add(id(v))
        if isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, (list, tuple, set, frozenset)) or type(v).__name__ == "deque":
            stack.extend(v)
        elif type(v).__module__.startswith("emulator") or type(v).__module__.startswith("linker"):
            if hasattr(v, "__dict__"):
                stack.extend(vars(v).values())
            for slot in getattr(type(v), "__slots__", ()):
                stack.append(getattr(v, slot, None))


__all__ = ["Kmemleak", "LeakObject", "hex_row", "pointers_in", "python_roots"]
