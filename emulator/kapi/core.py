"""The common kernel API: thunks, strings, slab, scheduling, time, locks, lists, modules.

Each function is the kernel export of the same name as the kernel behaves for a module that
calls it in init or exit on one CPU with nothing else running: locks are taken and released
at once, RCU read sections nest trivially, sleeping advances the simulated clock.
Argument order and return values follow the 6.1 prototypes (noted where they are unusual).
"""

from .registry import HANDLED, kapi

GFP_ZERO = 0x100
E2BIG = 7


def _s(x):
    """A C ``int``/``long`` return value given as a negative number."""
    return x


# --------------------------------------------------------------------------- x86 thunks

@kapi("x86.__fentry__", "x86.__x86_return_thunk")
def ret_thunk(k, m):
    """``__fentry__`` (when not NOPed at load) and the return thunk behave as ``ret``."""
    return None


def _indirect(reg):
    def thunk(k, m):
        m.set_reg(m.IP, m.reg(reg))   # jmp *%reg, no return address consumed
        return HANDLED
    return thunk


def _register_indirect_thunks():
    from unicorn import x86_const as X
    for name in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11",
                 "r12", "r13", "r14", "r15"):
        kapi(f"x86.__x86_indirect_thunk_{name}")(_indirect(getattr(X, f"UC_X86_REG_{name.upper()}")))


_register_indirect_thunks()


# --------------------------------------------------------------------------- strings

def _cstr(m, addr, limit=1 << 20):
    return m.read_cstring(addr, limit)


@kapi("string.memcpy", "string.memmove")
def memcpy(k, m):
    dst, src, n = m.arg(0), m.arg(1), m.arg(2)
    if n:
        m.write(dst, m.read(src, n))
    return dst


@kapi("string.memset")
def memset(k, m):
    dst, c, n = m.arg(0), m.arg(1), m.arg(2)
    if n:
        m.write(dst, bytes([c & 0xFF]) * n)
    return dst


@kapi("string.memcmp")
def memcmp(k, m):
    n = m.arg(2)
    a, b = m.read(m.arg(0), n), m.read(m.arg(1), n)
    for x, y in zip(a, b):
        if x != y:
            return (x - y) & m.mask
    return 0


@kapi("string.strlen")
def strlen(k, m):
    return len(_cstr(m, m.arg(0)))


@kapi("string.strnlen")
def strnlen(k, m):
    return len(_cstr(m, m.arg(0), m.arg(1)))


def _cmp(a, b):
    for x, y in zip(a + b"\0", b + b"\0"):
        if x != y:
            return -1 if x < y else 1
    return 0


@kapi("string.strcmp")
def strcmp(k, m):
    return _cmp(_cstr(m, m.arg(0)), _cstr(m, m.arg(1))) & m.mask


@kapi("string.strncmp")
def strncmp(k, m):
    n = m.arg(2)
    return _cmp(_cstr(m, m.arg(0), n)[:n], _cstr(m, m.arg(1), n)[:n]) & m.mask


@kapi("string.strcpy")
def strcpy(k, m):
    dst = m.arg(0)
    m.write(dst, _cstr(m, m.arg(1)) + b"\0")
    return dst


@kapi("string.strncpy")
def strncpy(k, m):
    dst, n = m.arg(0), m.arg(2)
    s = _cstr(m, m.arg(1), n)[:n]
    m.write(dst, s + bytes(n - len(s)))
    return dst


@kapi("string.strcat")
def strcat(k, m):
    dst = m.arg(0)
    m.write(dst + len(_cstr(m, dst)), _cstr(m, m.arg(1)) + b"\0")
    return dst


@kapi("string.strncat")
def strncat(k, m):
    dst, n = m.arg(0), m.arg(2)
    m.write(dst + len(_cstr(m, dst)), _cstr(m, m.arg(1), n)[:n] + b"\0")
    return dst


@kapi("string.strchr")
def strchr(k, m):
    s, c = m.arg(0), m.arg(1) & 0xFF
    text = _cstr(m, s) + b"\0"
    i = text.find(bytes([c]))
    return s + i if i >= 0 else 0


@kapi("string.strrchr")
def strrchr(k, m):
    s, c = m.arg(0), m.arg(1) & 0xFF
    text = _cstr(m, s) + b"\0"
    i = text.rfind(bytes([c]))
    return s + i if i >= 0 else 0


@kapi("string.strstr")
def strstr(k, m):
    s = m.arg(0)
    i = _cstr(m, s).find(_cstr(m, m.arg(1)))
    return s + i if i >= 0 else 0


@kapi("string.strscpy")
def strscpy(k, m):
    """Copy at most size-1 bytes plus NUL; -E2BIG if the source did not fit."""
    dst, src, size = m.arg(0), m.arg(1), m.arg(2)
    if size == 0 or size > 0x7FFFFFFF:
        return (-E2BIG) & m.mask
    s = _cstr(m, src, size)
    if len(s) >= size:
        m.write(dst, s[:size - 1] + b"\0")
        return (-E2BIG) & m.mask
    m.write(dst, s + b"\0")
    return len(s)


@kapi("string.strsep")
def strsep(k, m):
    sp, ct = m.arg(0), _cstr(m, m.arg(1))
    s = m.read_ptr(sp)
    if s == 0:
        return 0
    text = _cstr(m, s)
    for i, ch in enumerate(text):
        if ch in ct:
            m.write(s + i, b"\0")
            m.write_ptr(sp, s + i + 1)
            return s
    m.write_ptr(sp, 0)
    return s


# --------------------------------------------------------------------------- slab

@kapi("slab.__kmalloc", "slab.kmalloc_large")
def kmalloc(k, m):
    size, flags = m.arg(0), m.arg(1)
    return k.kmalloc(size, flags)


@kapi("slab.__kmalloc_node")
def kmalloc_node(k, m):
    return k.kmalloc(m.arg(0), m.arg(1))


@kapi("slab.kmalloc_trace")
def kmalloc_trace(k, m):
    # void *kmalloc_trace(struct kmem_cache *s, gfp_t flags, size_t size)
    return k.kmalloc(m.arg(2), m.arg(1))


@kapi("slab.kmalloc_node_trace")
def kmalloc_node_trace(k, m):
    # void *kmalloc_node_trace(struct kmem_cache *s, gfp_t flags, int node, size_t size)
    return k.kmalloc(m.arg(3), m.arg(1))


@kapi("slab.kvmalloc_node")
def kvmalloc_node(k, m):
    return k.kmalloc(m.arg(0), m.arg(1))


@kapi("slab.kfree", "slab.kvfree")
def kfree(k, m):
    k.kfree(m.arg(0))


@kapi("slab.kfree_const")
def kfree_const(k, m):
    addr = m.arg(0)
    if k.heap.contains(addr):
        k.kfree(addr)


@kapi("slab.ksize")
def ksize(k, m):
    return k.heap.ksize(m.arg(0))


@kapi("slab.krealloc")
def krealloc(k, m):
    p, size, flags = m.arg(0), m.arg(1), m.arg(2)
    if size == 0:
        k.kfree(p)
        return 0x10
    if p in (0, 0x10):
        return k.kmalloc(size, flags)
    old = k.heap.live.get(p)
    if old is not None and size <= old[1]:
        return p
    q = k.kmalloc(size, flags)
    if q and old is not None:
        m.write(q, m.read(p, min(old[0], size)))
        k.kfree(p)
    return q


@kapi("slab.kmemdup")
def kmemdup(k, m):
    src, n, flags = m.arg(0), m.arg(1), m.arg(2)
    q = k.kmalloc(n, flags)
    if q:
        m.write(q, m.read(src, n))
    return q


@kapi("slab.kstrdup")
def kstrdup(k, m):
    src, flags = m.arg(0), m.arg(1)
    if src == 0:
        return 0
    s = _cstr(m, src) + b"\0"
    q = k.kmalloc(len(s), flags)
    if q:
        m.write(q, s)
    return q


@kapi("slab.kmem_cache_create")
def kmem_cache_create(k, m):
    # struct kmem_cache *kmem_cache_create(const char *name, unsigned int size, ...)
    return k.kmem_cache_create(_cstr(m, m.arg(0)).decode("latin-1"), m.arg(1) & 0xFFFFFFFF)


@kapi("slab.kmem_cache_alloc")
def kmem_cache_alloc(k, m):
    cache = k.caches.get(m.arg(0))
    return k.kmalloc(cache[1] if cache else 64, m.arg(1))


@kapi("slab.kmem_cache_free")
def kmem_cache_free(k, m):
    k.kfree(m.arg(1))


@kapi("slab.kmem_cache_destroy")
def kmem_cache_destroy(k, m):
    cache = m.arg(0)
    if cache in k.caches:
        del k.caches[cache]
        k.kfree(cache)


@kapi("vmalloc.vmalloc")
def vmalloc(k, m):
    return k.kmalloc(m.arg(0), 0, vmalloc=True)


@kapi("vmalloc.vzalloc")
def vzalloc(k, m):
    return k.kmalloc(m.arg(0), GFP_ZERO, vmalloc=True)


@kapi("vmalloc.vfree")
def vfree(k, m):
    k.kfree(m.arg(0))


# --------------------------------------------------------------------------- scheduling, time

@kapi("sched.__cond_resched", "sched.schedule")
def cond_resched(k, m):
    return 0


@kapi("sched.wake_up_process")
def wake_up_process(k, m):
    return 1


@kapi("time.msleep")
def msleep(k, m):
    k.advance_ns((m.arg(0) & 0xFFFFFFFF) * 1_000_000)


@kapi("time.msleep_interruptible")
def msleep_interruptible(k, m):
    k.advance_ns((m.arg(0) & 0xFFFFFFFF) * 1_000_000)
    return 0


@kapi("time.usleep_range_state")
def usleep_range_state(k, m):
    k.advance_ns(m.arg(0) * 1000)


@kapi("time.__udelay")
def udelay(k, m):
    k.advance_ns(m.arg(0) * 1000)


@kapi("time.__ndelay")
def ndelay(k, m):
    k.advance_ns(m.arg(0))


@kapi("time.__const_udelay")
def const_udelay(k, m):
    # the argument is usecs * 0x10c7 (2**32 / 10**6, rounded up)
    k.advance_ns((m.arg(0) * 1000) >> 32 or 1)


@kapi("time.schedule_timeout")
def schedule_timeout(k, m):
    k.advance_ns((m.arg(0) & 0xFFFFFFFF) * k.ns_per_jiffy)
    return 0


@kapi("time.ktime_get")
def ktime_get(k, m):
    return k.monotonic_ns()


@kapi("time.ktime_get_real_seconds")
def ktime_get_real_seconds(k, m):
    return k.realtime_ns() // 1_000_000_000


@kapi("time.ktime_get_real_ts64")
def ktime_get_real_ts64(k, m):
    ns = k.realtime_ns()
    ts = m.arg(0)
    m.write_int(ts, 8, ns // 1_000_000_000)
    m.write_int(ts + 8, 8, ns % 1_000_000_000)


# --------------------------------------------------------------------------- locks, RCU

@kapi("mutex.__mutex_init", "mutex.mutex_lock", "mutex.mutex_unlock",
      "spinlock._raw_spin_lock", "spinlock._raw_spin_lock_bh", "spinlock._raw_spin_lock_irq",
      "spinlock._raw_spin_unlock", "spinlock._raw_spin_unlock_bh", "spinlock._raw_spin_unlock_irq",
      "spinlock._raw_spin_unlock_irqrestore", "rcu.__rcu_read_lock", "rcu.__rcu_read_unlock")
def no_contention(k, m):
    """One CPU and no other task: every lock is free, taking it changes nothing we model."""
    return None


@kapi("mutex.mutex_lock_interruptible")
def mutex_lock_interruptible(k, m):
    return 0


@kapi("mutex.mutex_trylock")
def mutex_trylock(k, m):
    return 1


@kapi("spinlock._raw_spin_lock_irqsave")
def spin_lock_irqsave(k, m):
    return 0x246  # the flags word: IF set, as when called with interrupts on


# --------------------------------------------------------------------------- modules

@kapi("module.try_module_get")
def try_module_get(k, m):
    return 1 if k.module_get(m.arg(0)) else 0


@kapi("module.__module_get")
def module_get(k, m):
    k.module_get(m.arg(0))


@kapi("module.module_put")
def module_put(k, m):
    k.module_put(m.arg(0))


# --------------------------------------------------------------------------- list debugging

@kapi("list.__list_add_valid")
def list_add_valid(k, m):
    """CONFIG_DEBUG_LIST's check before list_add (lib/list_debug.c)."""
    new, prev, nxt = m.arg(0), m.arg(1), m.arg(2)
    w = m.word
    if m.read_ptr(nxt + w) != prev:
        return k.list_corruption(f"list_add corruption. next->prev should be prev ({prev:016x}), "
                                 f"but was {m.read_ptr(nxt + w):016x}. (next={nxt:016x}).")
    if m.read_ptr(prev) != nxt:
        return k.list_corruption(f"list_add corruption. prev->next should be next ({nxt:016x}), "
                                 f"but was {m.read_ptr(prev):016x}. (prev={prev:016x}).")
    if new == prev or new == nxt:
        return k.list_corruption(f"list_add double add: new={new:016x}, prev={prev:016x}, "
                                 f"next={nxt:016x}.")
    return 1


@kapi("list.__list_del_entry_valid")
def list_del_entry_valid(k, m):
    entry = m.arg(0)
    w = m.word
    nxt, prev = m.read_ptr(entry), m.read_ptr(entry + w)
    if nxt == 0xDEAD000000000100:
        return k.list_corruption(f"list_del corruption, {entry:016x}->next is LIST_POISON1 "
                                 f"({nxt:016x})")
    if prev == 0xDEAD000000000122:
        return k.list_corruption(f"list_del corruption, {entry:016x}->prev is LIST_POISON2 "
                                 f"({prev:016x})")
    if m.read_ptr(prev) != entry:
        return k.list_corruption(f"list_del corruption. prev->next should be {entry:016x}, but "
                                 f"was {m.read_ptr(prev):016x}. (prev={prev:016x})")
    if m.read_ptr(nxt + w) != entry:
        return k.list_corruption(f"list_del corruption. next->prev should be {entry:016x}, but "
                                 f"was {m.read_ptr(nxt + w):016x}. (next={nxt:016x})")
    return 1


# --------------------------------------------------------------------------- user copies

@kapi("uaccess._copy_from_user", "uaccess._copy_to_user")
def copy_user(k, m):
    """No user memory is mapped while init/exit run: nothing is copied (returns n left)."""
    return m.arg(2)


@kapi("uaccess.__check_object_size")
def check_object_size(k, m):
    return None


# --------------------------------------------------------------------------- hobby console

@kapi("console.monitor_write")
def monitor_write(k, m):
    """seed 004: write a NUL-terminated string to the console."""
    k.console_write(_cstr(m, m.arg(0)))


# --------------------------------------------------------------------------- kstrto*

def _kstrto(size, signed, long_arg=False):
    def impl(k, m):
        from . import params
        s, base, res = m.arg(0), m.arg(1) & 0xFFFFFFFF, m.arg(2)
        rc, value = params.kstrtox(m.read_cstring(s), size if not long_arg else m.word, signed, base)
        if rc == 0:
            m.write_int(res, size if not long_arg else m.word, value)
        return rc & m.mask
    return impl


for _name, _size, _signed in (("kstrtoint", 4, True), ("kstrtouint", 4, False),
                              ("kstrtoll", 8, True), ("kstrtoull", 8, False)):
    kapi(f"kstrtox.{_name}")(_kstrto(_size, _signed))
kapi("kstrtox._kstrtol")(_kstrto(8, True, long_arg=True))
kapi("kstrtox._kstrtoul")(_kstrto(8, False, long_arg=True))


@kapi("kstrtox.kstrtobool")
def kstrtobool(k, m):
    from . import params
    rc, value = params.kstrtobool(m.read_cstring(m.arg(0)))
    if rc == 0:
        m.write_int(m.arg(1), 1, int(value))
    return rc & m.mask
