"""Guest memory as the kernel's string and memory functions walk it: in bounded chunks.

A kernel function given a length by a module (``memcmp(a, b, 4 GiB)``) must not hold that
much host memory: these helpers read and write at most :data:`~emulator.budget.CHUNK`
bytes at a time, charge the syscall's budget as they go (so a long walk can be stopped),
and when they reach memory the kernel could not touch they raise
:class:`~emulator.machine.MemoryFault` at the first address the kernel would fault on
(after writing what comes before it, as the kernel's own loop would have), so the oops
names that address (``faults._trap_from_stop`` reads ``MemoryFault.addr``). Writing into
memory that is not writable (a module's ``.rodata``) faults as the kernel's write would.
"""

from ..budget import CHUNK
from ..machine import PAGE, PROT_WRITE, MemoryFault


def _charge(k, n):
    if k is not None:
        k.budget.charge_bytes(n)


def _pieces(addr, n):
    """``(offset, size)`` pieces of ``[addr, addr + n)``, each inside one CHUNK-aligned block."""
    off = 0
    while off < n:
        size = min(n - off, CHUNK - (addr + off) % CHUNK)
        yield off, size
        off += size


def read_upto(m, addr, size):
    """``(data, fault)``: the readable start of ``[addr, addr + size)`` (``size`` at most a
    CHUNK) and the MemoryFault at the first byte that is not, or None."""
    try:
        return m.read(addr, size), None
    except MemoryFault:
        pass
    out = bytearray()
    pos = addr
    while pos < addr + size:
        step = min(PAGE - pos % PAGE, addr + size - pos)
        try:
            out += m.read(pos, step)
        except MemoryFault:
            return bytes(out), MemoryFault(pos, "read")
        pos += step
    return bytes(out), None


def _unwritable(m, addr, size):
    """The first address of ``[addr, addr + size)`` in a present region that is not
    writable, or None (unmapped memory is Machine.write's to refuse)."""
    for region in m.regions:
        if region.end <= addr or region.start >= addr + size or region.perms & PROT_WRITE:
            continue
        return max(region.start, addr)
    return None


def write_upto(m, addr, data):
    """Write ``data`` (at most a CHUNK) at ``addr`` as a byte loop would: up to the first
    address that faults, then raise that MemoryFault."""
    bad = _unwritable(m, addr, len(data))
    if bad is not None:
        if bad > addr:
            write_upto(m, addr, data[:bad - addr])
        raise MemoryFault(bad, "write", m.region_of(bad))
    try:
        m.write(addr, data)
        return
    except MemoryFault:
        pass
    pos = addr
    while pos < addr + len(data):
        step = min(PAGE - pos % PAGE, addr + len(data) - pos)
        try:
            m.write(pos, data[pos - addr:pos - addr + step])
        except MemoryFault:
            raise MemoryFault(pos, "write") from None
        pos += step


def fill(k, m, dst, byte, n):
    """``memset``: ``n`` bytes of ``byte`` from ``dst``."""
    block = None
    for off, size in _pieces(dst, n):
        _charge(k, size)
        if block is None or len(block) != size:
            block = bytes([byte]) * size
        write_upto(m, dst + off, block)


def _pieces_back(addr, n):
    """_pieces, from the end."""
    end = n
    while end > 0:
        size = min(end, (addr + end) % CHUNK or CHUNK)
        end -= size
        yield end, size


def copy(k, m, dst, src, n):
    """``memmove`` (and ``memcpy``): forwards, or backwards when ``dst`` overlaps the end
    of ``src``; a read fault is raised after what could be read was written."""
    backwards = src < dst < src + n
    for off, size in (_pieces_back(src, n) if backwards else _pieces(src, n)):
        _charge(k, size)
        data, fault = read_upto(m, src + off, size)
        if data:
            write_upto(m, dst + off, data)
        if fault is not None:
            raise fault


def compare(k, m, a, b, n):
    """``memcmp``: the difference of the first bytes that differ (0 if none), reading no
    further than the first difference, as the kernel's loop does. Where both run out at
    once, the second buffer faults first: the kernel's loop loads from it first
    (``mov (%rsi),%rax; cmp %rax,(%rdi)``; tests/realkernel/hostile_huge)."""
    for off, size in _pieces(a, n):
        _charge(k, size)
        ca, fa = read_upto(m, a + off, size)
        cb, fb = read_upto(m, b + off, size)
        same = min(len(ca), len(cb))
        if ca[:same] != cb[:same]:
            i = next(i for i in range(same) if ca[i] != cb[i])
            return ca[i] - cb[i]
        if same < size:
            raise fb if len(cb) <= len(ca) and fb is not None else (fa or fb)
    return 0


def scan(k, m, addr, limit=None):
    """The bytes from ``addr``, a chunk at a time, up to and without the first NUL (or
    ``limit`` bytes): yields ``(data, ended)``; a fault before the NUL is raised."""
    pos = addr
    left = limit
    while left is None or left > 0:
        size = CHUNK - pos % CHUNK
        if left is not None:
            size = min(size, left)
        _charge(k, size)
        data, fault = read_upto(m, pos, size)
        nul = data.find(b"\0")
        if nul >= 0:
            yield data[:nul], True
            return
        if fault is not None:
            if data:
                yield data, False
            raise fault
        yield data, False
        pos += size
        if left is not None:
            left -= size


def strlen(k, m, s, limit=None):
    """``strlen``/``strnlen``: the length up to the NUL (at most ``limit``)."""
    return sum(len(data) for data, _ in scan(k, m, s, limit))


def cstring(k, m, s, limit):
    """The string at ``s`` as bytes, at most ``limit`` of them (host memory is bounded by
    the caller's ``limit``, never by the guest's string)."""
    out = bytearray()
    for data, _ in scan(k, m, s, limit):
        out += data
    return bytes(out)


def copy_string(k, m, dst, src, limit=None, nul=True):
    """Copy the string at ``src`` (at most ``limit`` bytes) to ``dst``, chunk by chunk, and
    its NUL if ``nul``; returns its length."""
    n = 0
    for data, _ in scan(k, m, src, limit):
        if data:
            write_upto(m, dst + n, data)
        n += len(data)
    if nul:
        write_upto(m, dst + n, b"\0")
    return n


def compare_strings(k, m, a, b, limit=None):
    """``strcmp``/``strncmp``: -1, 0 or 1, as lib/string.c returns them."""
    pos = 0
    while limit is None or pos < limit:
        size = CHUNK - (a + pos) % CHUNK
        if limit is not None:
            size = min(size, limit - pos)
        _charge(k, size)
        ca, fa = read_upto(m, a + pos, size)
        cb, fb = read_upto(m, b + pos, size)
        for x, y in zip(ca, cb):
            if x != y:
                return -1 if x < y else 1
            if not x:
                return 0
        same = min(len(ca), len(cb))
        if same < size:
            raise fa if len(ca) <= len(cb) and fa is not None else (fb or fa)
        pos += size
    return 0


def find_byte(k, m, s, byte, last=False):
    """``strchr``/``strrchr``: the address of the first (last) ``byte`` in the string at
    ``s``, its NUL counting as part of it; 0 if none."""
    pos, found = s, 0
    for data, ended in scan(k, m, s):
        i = data.rfind(bytes([byte])) if last else data.find(bytes([byte]))
        if i >= 0:
            found = pos + i
            if not last:
                return found
        pos += len(data)
        if ended:
            break
    if byte == 0:
        return pos
    return found


def nonzero_words(m, addr, size, width=4, signed=True, chunk=1 << 20):
    """``(address, value)`` of each non-zero little-endian word of ``[addr, addr + size)``:
    the loader's walks over a module's tables (``__mcount_loc``, ``.return_sites``), which
    a NOBITS section can make as large as the module area (or, its size wrapping the 32-bit
    layout, larger than the module). Only the memory the host backs is read
    (:meth:`~emulator.machine.Machine.data_spans`: up to the first unmapped address), a
    ``chunk`` at a time, so the table is never held whole nor walked where it is zeros."""
    import numpy as np
    dtype = np.dtype(("<i" if signed else "<u") + str(width))
    end = addr + size // width * width
    for lo, hi in m.data_spans(addr, end):
        lo = addr + -(-(lo - addr) // width) * width       # whole words only
        for at in range(lo, hi - width + 1, chunk // width * width):
            n = (min(at + chunk, hi) - at) // width * width
            raw = m.read(at, n)
            if raw.count(0) == n:
                continue
            words = np.frombuffer(raw, dtype=dtype)
            for i in np.flatnonzero(words):
                yield at + int(i) * width, int(words[i])
