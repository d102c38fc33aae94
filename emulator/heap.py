"""A kmalloc-like allocator over a region of emulated memory, and vmalloc's areas.

Sizes round up to the kernel's kmalloc caches (8, 16, 32, 64, 96, 128, 192, 256, ... 8192;
larger requests take whole pages), freed objects go back to their cache's free list and are
reused last-in first-out, as SLUB hands out its most recently freed object. Every live
object is known, so ``ksize`` and double-free / invalid-free detection work.

:class:`VmallocArea` is vmalloc's: whole pages, each area mapped when allocated and followed
by an unmapped guard page (``VM_NO_GUARD`` is not set), so running off the end of a vmalloc'ed
buffer faults on the page after it, as on the real kernel (tests/realkernel/hostile_huge).
The memory behind either is backed by the host only where it is touched (emulator.machine).
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
