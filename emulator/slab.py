"""Kernel memory allocation: kmalloc (the direct map), vmalloc, and kmem caches: ``k.slab``.

Both regions are :class:`~emulator.heap.Heap`s in emulated memory (the hobby kernel has one
heap for both). An invalid or double kfree is reported in the log and otherwise ignored.
"""

from linker.loglevels import LOGLEVEL_WARNING

from .heap import Heap, HeapError

GFP_ZERO = 0x100            # __GFP_ZERO (a leading __ would be mangled in a class)
KMEM_CACHE_SIZE = 256       # what a kmem_cache object takes here


class Slab:
    def __init__(self, heap: Heap, vheap: Heap, log):
        self.heap = heap          # kmalloc
        self.vheap = vheap        # vmalloc
        self.log = log
        self.caches: dict[int, tuple[str, int]] = {}   # kmem_cache address -> (name, size)

    def kmalloc(self, size, flags=0, vmalloc=False):
        heap = self.vheap if vmalloc else self.heap
        return heap.alloc(size, zero=bool(flags & GFP_ZERO))

    def kfree(self, addr):
        try:
            (self.vheap if self.vheap.contains(addr) else self.heap).free(addr)
        except HeapError as exc:
            self.log.printk(LOGLEVEL_WARNING, f"kmodsim: {exc}")

    def kmem_cache_create(self, name, size):
        addr = self.heap.alloc(KMEM_CACHE_SIZE, zero=True)
        self.caches[addr] = (name, size)
        return addr
