"""A kmalloc-like allocator over a region of emulated memory, and vmalloc's areas.

Sizes round up to the kernel's kmalloc caches (8, 16, 32, 64, 96, 128, 192, 256, ... 8192;
larger requests take whole pages), freed objects go back to their cache's free list and are
reused last-in first-out, as SLUB hands out its most recently freed object. A freed object
gets SLUB's free pointer written into it, hardened as CONFIG_SLAB_FREELIST_HARDENED does (a
use after free reads garbage there, as on Debian's kernel: tests/realkernel/heapbugs). Every
live object is known, so ``ksize`` works and a bad free is a :class:`HeapError` saying which
(``double-free`` or ``invalid-free``); ``at_head`` marks the double free SLUB's
``set_freepointer`` catches (the object is already the head of its free list).

With the memory checks on (emulator.checks.kasan), :class:`PageIsolation` lays objects out
one to a page run instead, with a guard page after each, as KFENCE does; see its docstring.

:class:`VmallocArea` is vmalloc's: whole pages, each area mapped when allocated and followed
by an unmapped guard page (``VM_NO_GUARD`` is not set), so running off the end of a vmalloc'ed
buffer faults on the page after it, as on the real kernel (tests/realkernel/hostile_huge).
The memory behind either is backed by the host only where it is touched (emulator.machine).
"""

from collections import deque

KMALLOC_SIZES = (8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192)
PAGE = 4096
# s->random of every kmalloc cache (freelist_ptr's key): random per boot on the real kernel,
# fixed here so that a run is reproducible
FREELIST_RANDOM = 0x5DEECE66D9E3779B
MASK64 = (1 << 64) - 1


class HeapError(Exception):
    """A kfree/vfree the allocator cannot do: ``kind`` is ``double-free`` (``addr`` was an
    object and is free now) or ``invalid-free`` (never the start of an object)."""

    def __init__(self, message, addr, kind="invalid-free", at_head=False):
        super().__init__(message)
        self.addr = addr
        self.kind = kind
        self.at_head = at_head      # the free list's head already: SLUB's BUG_ON(object == fp)


def swab64(x):
    return int.from_bytes(x.to_bytes(8, "little"), "big")


def freelist_offset(size_class):
    """``calculate_sizes``: the free pointer sits in the middle of the object, word aligned."""
    return (size_class // 2) // 8 * 8


class Heap:
    def __init__(self, machine, start, size, label="heap"):
        self.machine = machine
        self.start = start
        self.end = start + size
        self.cursor = start
        self.free_lists = {}          # class size -> [addr]
        self.live = {}                # addr -> (requested size, class size)
        self.isolation = None         # a PageIsolation while the memory checks are on
        machine.map(start, size, 3, label)  # UC_PROT_READ | UC_PROT_WRITE

    @staticmethod
    def size_class(size):
        for c in KMALLOC_SIZES:
            if size <= c:
                return c
        return (size + PAGE - 1) // PAGE * PAGE

    def alloc(self, size, zero=False, align=8):
        if size <= 0:
            return 0x10  # ZERO_SIZE_PTR, as kmalloc(0) returns
        if self.isolation is not None:
            return self.isolation.alloc(size, zero)
        c = self.size_class(size)
        free = self.free_lists.get(c)
        if free:
            addr = free.pop()
        else:
            step = min(c, PAGE) if c <= PAGE else PAGE
            addr = (self.cursor + step - 1) // step * step if c >= 8 else self.cursor
            addr = max(addr, (self.cursor + align - 1) // align * align)
            if addr + c > self.end:
                return 0
            self.cursor = addr + c
        self.live[addr] = (size, c)
        if zero:
            self.machine.write(addr, bytes(c))
        return addr

    def free(self, addr):
        if addr in (0, 0x10):
            return
        if self.isolation is not None and self.isolation.owns(addr):
            return self.isolation.free(addr)
        entry = self.live.pop(addr, None)
        if entry is None:
            raise self.bad_free(addr)
        free = self.free_lists.setdefault(entry[1], [])
        self._set_freepointer(addr, entry[1], free[-1] if free else 0)
        free.append(addr)

    def bad_free(self, addr):
        """The HeapError for freeing ``addr``, which is no live object's start."""
        for c, free in self.free_lists.items():
            if addr in free:
                return HeapError(f"kfree of {addr:#x}, which was freed already", addr,
                                 "double-free", at_head=free[-1] == addr)
        return HeapError(f"kfree of {addr:#x}, which is not an allocated object", addr)

    def _set_freepointer(self, addr, size_class, next_free):
        """SLUB's ``set_freepointer`` with CONFIG_SLAB_FREELIST_HARDENED: the next free
        object's address, xored with the cache's key and the byte-swapped slot address."""
        if size_class > PAGE or self.machine.bits != 64:
            return                  # kmalloc_large: the pages go back; the hobby heap: no SLUB
        slot = addr + freelist_offset(size_class)
        try:
            self.machine.write_int(slot, 8, next_free ^ FREELIST_RANDOM ^ swab64(slot))
        except Exception:           # (the heap is always mapped; never fail a kfree on it)
            pass

    def object_at(self, addr):
        """``(start, requested size)`` of the live object holding ``addr``, or None."""
        if self.isolation is not None:
            hit = self.isolation.object_at(addr)
            if hit is not None:
                return hit
        for start, (size, c) in self.live.items():
            if start <= addr < start + c:
                return start, size
        return None

    def ksize(self, addr):
        entry = self.live.get(addr)
        return entry[1] if entry else 0

    def contains(self, addr):
        return self.start <= addr < self.end

    def usage(self):
        return sum(c for _, c in self.live.values())


class PageIsolation:
    """The memory checks' layout of kmalloc (emulator.checks.kasan): each object alone in a
    run of pages, ending as close to the run's end as kmalloc's 8-byte alignment allows,
    and an inaccessible guard page after the run, as KFENCE lays out its objects. A freed
    object's pages turn inaccessible and wait in a quarantine (the oldest
    :data:`QUARANTINE` runs) before they are used again, as KASAN's quarantine keeps freed
    memory poisoned for a while.

    What is inaccessible is ``poisoned`` (page numbers); ``on_poison(pages, poisoned)`` is
    told when pages the CPU may hold accessible turn inaccessible, or back (the checks flush
    the CPU's TLB, whose fill hook refuses poisoned pages). Objects the heap gave out before
    isolation began keep their old layout."""

    QUARANTINE = 1024

    def __init__(self, heap, on_poison):
        self.heap = heap
        self.on_poison = on_poison
        self.cursor = (heap.cursor + PAGE - 1) // PAGE * PAGE
        self.poisoned = set()
        self.page_owner = {}          # page number -> object address (its run and guard)
        self.runs = {}                # object address -> (run start, pages without the guard)
        self.freed = {}               # object address -> requested size, while quarantined
        self.quarantine = deque()
        self.spare = {}               # pages -> [run start]: runs out of quarantine

    @staticmethod
    def placement(size):
        pages = max(1, -(-size // PAGE))
        return pages, pages * PAGE - (size + 7) // 8 * 8

    def owns(self, addr):
        return (addr >> 12) in self.page_owner

    def alloc(self, size, zero=False):
        pages, offset = self.placement(size)
        start = self._take(pages)
        if start is None:
            return 0
        addr = start + offset
        for p in range(start >> 12, (start >> 12) + pages + 1):
            self.page_owner[p] = addr
        run = set(range(start >> 12, (start >> 12) + pages))
        self._unpoison(run)
        # the guard page: poisoned already (a run used before) or never touched, so no
        # CPU holds it accessible
        self.poisoned.add((start >> 12) + pages)
        self.runs[addr] = (start, pages)
        # what the object may use (ksize, krealloc in place): up to its guard page, not
        # its kmalloc cache's size
        self.heap.live[addr] = (size, (size + 7) // 8 * 8)
        if zero:
            self.heap.machine.write(addr, bytes((size + 7) // 8 * 8))
        return addr

    def free(self, addr):
        entry = self.heap.live.pop(addr, None)
        if entry is None:
            if addr in self.freed:
                raise HeapError(f"kfree of {addr:#x}, which was freed already", addr,
                                "double-free")
            raise HeapError(f"kfree of {addr:#x}, which is not an allocated object", addr)
        start, pages = self.runs[addr]
        self._poison(set(range(start >> 12, (start >> 12) + pages)))
        self.freed[addr] = entry[0]
        self.quarantine.append(addr)
        if len(self.quarantine) > self.QUARANTINE:
            self._release(self.quarantine.popleft())

    def _take(self, pages):
        """A run of ``pages`` and its guard: a spare one, fresh pages, or (out of fresh
        pages) one released from quarantine early; None when there is none."""
        while True:
            if self.spare.get(pages):
                return self.spare[pages].pop()
            if self.cursor + (pages + 1) * PAGE <= self.heap.end:
                self.cursor += (pages + 1) * PAGE
                return self.cursor - (pages + 1) * PAGE
            if not self.quarantine:
                return None
            self._release(self.quarantine.popleft())

    def _release(self, addr):
        start, pages = self.runs.pop(addr)
        del self.freed[addr]
        for p in range(start >> 12, (start >> 12) + pages + 1):
            self.page_owner.pop(p, None)
        self.spare.setdefault(pages, []).append(start)

    def object_at(self, addr):
        """``(start, requested size)`` of the object (live or quarantined) whose run or
        guard page holds ``addr``."""
        obj = self.page_owner.get(addr >> 12)
        if obj is None:
            return None
        size = self.heap.live[obj][0] if obj in self.heap.live else self.freed.get(obj)
        return None if size is None else (obj, size)

    def is_freed(self, obj):
        return obj in self.freed

    def _poison(self, pages):
        self.poisoned |= pages
        self.on_poison(pages, True)

    def _unpoison(self, pages):
        if pages & self.poisoned:
            self.poisoned -= pages
            self.on_poison(pages, False)

    def stop(self):
        """Everything accessible again (KASAN reports only its first bug)."""
        pages, self.poisoned = self.poisoned, set()
        self.on_poison(pages, False)


class VmallocArea:
    """``vmalloc``/``vfree`` over ``[start, start + size)``: first fit, page-granular, a guard
    page after each area; an area is mapped on allocation (zeroed) and unmapped on free."""

    def __init__(self, machine, start, size, label="vmalloc area"):
        self.machine = machine
        self.start = start
        self.end = start + size
        self.label = label
        self.live = {}                # addr -> (requested size, mapped size)

    def alloc(self, size, zero=False, align=PAGE):
        if size <= 0:
            return 0
        need = (size + PAGE - 1) // PAGE * PAGE
        cursor = self.start
        for addr in sorted(self.live):
            if addr - cursor >= need + PAGE:
                break
            cursor = max(cursor, addr + self.live[addr][1] + PAGE)
        if cursor + need + PAGE > self.end:
            return 0
        self.machine.map(cursor, need, 3, self.label)   # UC_PROT_READ | UC_PROT_WRITE: zeros
        self.live[cursor] = (size, need)
        return cursor

    def free(self, addr):
        if addr == 0:
            return
        entry = self.live.pop(addr, None)
        if entry is None:
            raise HeapError(f"vfree of {addr:#x}, which is not a vmalloc'ed area", addr)
        self.machine.unmap(addr, entry[1])

    def ksize(self, addr):
        entry = self.live.get(addr)
        return entry[1] if entry else 0

    def contains(self, addr):
        return self.start <= addr < self.end

    def usage(self):
        return sum(need for _, need in self.live.values())
