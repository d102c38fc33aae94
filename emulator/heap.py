"""A kmalloc-like allocator over a region of emulated memory.

Sizes round up to the kernel's kmalloc caches (8, 16, 32, 64, 96, 128, 192, 256, ... 8192;
larger requests take whole pages), freed objects go back to their cache's free list and are
reused last-in first-out, as SLUB hands out its most recently freed object. Every live
object is known, so ``ksize`` and double-free / invalid-free detection work.
"""

KMALLOC_SIZES = (8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192)
PAGE = 4096


class HeapError(Exception):
    def __init__(self, message, addr):
        super().__init__(message)
        self.addr = addr


class Heap:
    def __init__(self, machine, start, size, label="heap"):
        self.machine = machine
        self.start = start
        self.end = start + size
        self.cursor = start
        self.free_lists = {}          # class size -> [addr]
        self.live = {}                # addr -> (requested size, class size)
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
        entry = self.live.pop(addr, None)
        if entry is None:
            raise HeapError(f"kfree of {addr:#x}, which is not an allocated object", addr)
        self.free_lists.setdefault(entry[1], []).append(addr)

    def ksize(self, addr):
        entry = self.live.get(addr)
        return entry[1] if entry else 0

    def contains(self, addr):
        return self.start <= addr < self.end

    def usage(self):
        return sum(c for _, c in self.live.values())
