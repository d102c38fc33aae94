"""The common kernel API: thunks, strings, slab, lists, modules.

Each function is the kernel export of the same name as the kernel behaves for a module that
calls it. Scheduling, time, deferred work and locks are emulator.kapi.sched, timers and
locks. Argument order and return values follow the 6.1 prototypes (noted where they are
unusual).
"""

import errno

from linker.loglevels import LOGLEVEL_EMERG, LOGLEVEL_ERR

from .. import traps
from . import guestmem as gm
from .registry import GFP, HANDLED, INT, PTR, SIZE_T, UINT, ULONG, kapi

GFP_ZERO = 0x100


def _s(x):
    """A C ``int``/``long`` return value given as a negative number."""
    return x


# Arguments are declared with their 6.1 prototype's names; a name that is a Python keyword
# or builtin gets a trailing underscore (``from_``, ``len_``, ``next_``, ``min_``).


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
# Lengths come from the module: the work is done in bounded chunks of guest memory, charged
# to the syscall's budget, faulting where the kernel's loop would (emulator.kapi.guestmem).

NEEDLE_MAX = 1 << 20        # strstr keeps its needle in host memory: at most this much


def _cstr(m, addr, limit=1 << 20):
    return m.read_cstring(addr, limit)


@kapi("string.memcpy", "string.memmove", dst=PTR, src=PTR, n=SIZE_T)
def memcpy(k, m, dst, src, n):
    gm.copy(k, m, dst, src, n)
    return dst


@kapi("string.memset", dst=PTR, c=INT, n=SIZE_T)
def memset(k, m, dst, c, n):
    gm.fill(k, m, dst, c & 0xFF, n)
    return dst


@kapi("string.memcmp", a=PTR, b=PTR, n=SIZE_T)
def memcmp(k, m, a, b, n):
    return gm.compare(k, m, a, b, n) & m.mask


@kapi("string.strlen", s=PTR)
def strlen(k, m, s):
    return gm.strlen(k, m, s)


@kapi("string.strnlen", s=PTR, count=SIZE_T)
def strnlen(k, m, s, count):
    return gm.strlen(k, m, s, count)


@kapi("string.strcmp", cs=PTR, ct=PTR)
def strcmp(k, m, cs, ct):
    return gm.compare_strings(k, m, cs, ct) & m.mask


@kapi("string.strncmp", cs=PTR, ct=PTR, count=SIZE_T)
def strncmp(k, m, cs, ct, count):
    return gm.compare_strings(k, m, cs, ct, count) & m.mask


@kapi("string.strcpy", dest=PTR, src=PTR)
def strcpy(k, m, dest, src):
    gm.copy_string(k, m, dest, src)
    return dest


@kapi("string.strncpy", dest=PTR, src=PTR, count=SIZE_T)
def strncpy(k, m, dest, src, count):
    n = gm.copy_string(k, m, dest, src, count, nul=False)
    gm.fill(k, m, dest + n, 0, count - n)       # NUL padding up to count
    return dest


@kapi("string.strcat", dest=PTR, src=PTR)
def strcat(k, m, dest, src):
    gm.copy_string(k, m, dest + gm.strlen(k, m, dest), src)
    return dest


@kapi("string.strncat", dest=PTR, src=PTR, count=SIZE_T)
def strncat(k, m, dest, src, count):
    gm.copy_string(k, m, dest + gm.strlen(k, m, dest), src, count)
    return dest


@kapi("string.strchr", s=PTR, c=INT)
def strchr(k, m, s, c):
    return gm.find_byte(k, m, s, c & 0xFF)      # the C compares with (char)c


@kapi("string.strrchr", s=PTR, c=INT)
def strrchr(k, m, s, c):
    return gm.find_byte(k, m, s, c & 0xFF, last=True)


@kapi("string.strstr", s1=PTR, s2=PTR)
def strstr(k, m, s1, s2):
    needle = gm.cstring(k, m, s2, NEEDLE_MAX)
    if not needle:
        return s1
    keep = len(needle) - 1
    window, base = b"", s1          # the haystack's last ``keep`` bytes, then a chunk
    for data, _ in gm.scan(k, m, s1):
        window += data
        i = window.find(needle)
        if i >= 0:
            return base + i
        cut = max(len(window) - keep, 0)
        window, base = window[cut:], base + cut
    return 0


@kapi("string.strscpy", dest=PTR, src=PTR, count=SIZE_T)
def strscpy(k, m, dest, src, count):
    """Copy at most size-1 bytes plus NUL; -E2BIG if the source did not fit."""
    if count == 0 or count > 0x7FFFFFFF:
        return (-errno.E2BIG) & m.mask
    n = gm.strlen(k, m, src, count)
    if n >= count:
        gm.copy(k, m, dest, src, count - 1)
        gm.write_upto(m, dest + count - 1, b"\0")
        return (-errno.E2BIG) & m.mask
    gm.copy_string(k, m, dest, src, n)
    return n


@kapi("string.strsep", s=PTR, ct=PTR)
def strsep(k, m, s, ct):
    # char *strsep(char **s, const char *ct)
    delims = set()
    for data, _ in gm.scan(k, m, ct):
        delims.update(data)
    sbegin = m.read_ptr(s)
    if sbegin == 0:
        return 0
    pos = sbegin
    for data, _ in gm.scan(k, m, sbegin):
        for i, ch in enumerate(data):
            if ch in delims:
                m.write(pos + i, b"\0")
                m.write_ptr(s, pos + i + 1)
                return sbegin
        pos += len(data)
    m.write_ptr(s, 0)
    return sbegin


# --------------------------------------------------------------------------- slab

@kapi("slab.__kmalloc", "slab.kmalloc_large", size=SIZE_T, flags=GFP)
def kmalloc(k, m, size, flags):
    if traps.alloc_pages_refuses(k, size, flags):      # order >= MAX_ORDER: WARN, NULL
        return 0
    return k.slab.kmalloc(size, flags)


@kapi("slab.__kmalloc_node", size=SIZE_T, flags=GFP, node=INT)
def kmalloc_node(k, m, size, flags, node):
    if traps.alloc_pages_refuses(k, size, flags):
        return 0
    return k.slab.kmalloc(size, flags)


@kapi("slab.kmalloc_trace", s=PTR, flags=GFP, size=SIZE_T)
def kmalloc_trace(k, m, s, flags, size):
    # void *kmalloc_trace(struct kmem_cache *s, gfp_t flags, size_t size)
    return k.slab.kmalloc(size, flags)


@kapi("slab.kmalloc_node_trace", s=PTR, gfpflags=GFP, node=INT, size=SIZE_T)
def kmalloc_node_trace(k, m, s, gfpflags, node, size):
    # void *kmalloc_node_trace(struct kmem_cache *s, gfp_t gfpflags, int node, size_t size)
    return k.slab.kmalloc(size, gfpflags)


@kapi("slab.kvmalloc_node", size=SIZE_T, flags=GFP, node=INT)
def kvmalloc_node(k, m, size, flags, node):
    return traps.kvmalloc(k, size, flags)


@kapi("slab.kfree", "slab.kvfree", objp=PTR)
def kfree(k, m, objp):
    # void kfree(const void *objp), void kvfree(const void *addr)
    k.slab.kfree(objp)


@kapi("slab.kfree_const", x=PTR)
def kfree_const(k, m, x):
    if k.slab.heap.contains(x):
        k.slab.kfree(x)


@kapi("slab.ksize", objp=PTR)
def ksize(k, m, objp):
    return k.slab.heap.ksize(objp)


@kapi("slab.krealloc", objp=PTR, new_size=SIZE_T, flags=GFP)
def krealloc(k, m, objp, new_size, flags):
    if new_size == 0:
        k.slab.kfree(objp)
        return 0x10
    if objp in (0, 0x10):
        return k.slab.kmalloc(new_size, flags)
    old = k.slab.heap.live.get(objp)
    if old is not None and new_size <= old[1]:
        return objp
    q = k.slab.kmalloc(new_size, flags)
    if q and old is not None:
        gm.copy(k, m, q, objp, min(old[0], new_size))
        k.slab.kfree(objp)
    return q


@kapi("slab.kmemdup", src=PTR, len_=SIZE_T, gfp=GFP)
def kmemdup(k, m, src, len_, gfp):
    q = k.slab.kmalloc(len_, gfp)
    if q:
        gm.copy(k, m, q, src, len_)
    return q


@kapi("slab.kstrdup", s=PTR, gfp=GFP)
def kstrdup(k, m, s, gfp):
    if s == 0:
        return 0
    n = gm.strlen(k, m, s) + 1
    q = k.slab.kmalloc(n, gfp)
    if q:
        gm.copy(k, m, q, s, n)
    return q


@kapi("slab.kmem_cache_create", name=PTR, size=UINT, align=UINT, flags=UINT, ctor=PTR)
def kmem_cache_create(k, m, name, size, align, flags, ctor):
    # struct kmem_cache *kmem_cache_create(const char *name, unsigned int size,
    #         unsigned int align, slab_flags_t flags, void (*ctor)(void *))
    return k.slab.kmem_cache_create(_cstr(m, name).decode("latin-1"), size)


@kapi("slab.kmem_cache_alloc", s=PTR, gfpflags=GFP)
def kmem_cache_alloc(k, m, s, gfpflags):
    cache = k.slab.caches.get(s)
    return k.slab.kmalloc(cache[1] if cache else 64, gfpflags)


@kapi("slab.kmem_cache_free", s=PTR, x=PTR)
def kmem_cache_free(k, m, s, x):
    k.slab.kfree(x)


@kapi("slab.kmem_cache_destroy", s=PTR)
def kmem_cache_destroy(k, m, s):
    if s in k.slab.caches:
        del k.slab.caches[s]
        k.slab.kfree(s)


@kapi("vmalloc.vmalloc", size=ULONG)
def vmalloc(k, m, size):
    return k.slab.kmalloc(size, 0, vmalloc=True)


@kapi("vmalloc.vzalloc", size=ULONG)
def vzalloc(k, m, size):
    return k.slab.kmalloc(size, GFP_ZERO, vmalloc=True)


@kapi("vmalloc.vfree", addr=PTR)
def vfree(k, m, addr):
    k.slab.kfree(addr)


# --------------------------------------------------------------------------- scheduling, time
# sleeping, waking, kthreads, wait queues, completions and time: emulator.kapi.sched; timers,
# workqueues, tasklets, RCU: emulator.kapi.timers; locks: emulator.kapi.locks


# --------------------------------------------------------------------------- modules

@kapi("module.try_module_get", module=PTR)
def try_module_get(k, m, module):
    return 1 if k.loader.module_get(module) else 0


@kapi("module.__module_get", module=PTR)
def module_get(k, m, module):
    k.loader.module_get(module, try_=False)


@kapi("module.module_put", module=PTR)
def module_put(k, m, module):
    k.loader.module_put(module)


# --------------------------------------------------------------------------- list debugging
# lib/list_debug.c with CONFIG_DEBUG_LIST and CONFIG_BUG_ON_DATA_CORRUPTION, as the reference
# kernel is built: each check that fails pr_err()s what it found and BUG()s (its line in
# list_debug.c names the check). tests/realkernel/budget5.

LIST_POISON1, LIST_POISON2 = 0xDEAD000000000100, 0xDEAD000000000122


def list_corruption(k, line, text):
    """CHECK_DATA_CORRUPTION: the finding at KERN_ERR, then BUG() at list_debug.c:``line``."""
    from ..faults import KernelBug
    k.printk(LOGLEVEL_ERR, text)
    raise KernelBug("lib/list_debug.c", line)


def list_add_problem(m, new, prev, next_):
    """``__list_add_valid``'s checks, in its order: None, or (line, message)."""
    w = m.word
    if prev == 0:
        return 23, "list_add corruption. prev is NULL."
    if next_ == 0:
        return 25, "list_add corruption. next is NULL."
    if m.read_ptr(next_ + w) != prev:
        return 27, (f"list_add corruption. next->prev should be prev ({prev:016x}), "
                    f"but was {m.read_ptr(next_ + w):016x}. (next={next_:016x}).")
    if m.read_ptr(prev) != next_:
        return 30, (f"list_add corruption. prev->next should be next ({next_:016x}), "
                    f"but was {m.read_ptr(prev):016x}. (prev={prev:016x}).")
    if new == prev or new == next_:
        return 33, f"list_add double add: new={new:016x}, prev={prev:016x}, next={next_:016x}."
    return None


def list_del_problem(m, entry):
    """``__list_del_entry_valid``'s checks, in its order: None, or (line, message). A
    pointer that cannot be followed raises MemoryFault (the kernel's page fault)."""
    w = m.word
    nxt, prev = m.read_ptr(entry), m.read_ptr(entry + w)
    if nxt == 0:
        return 49, f"list_del corruption, {entry:016x}->next is NULL"
    if prev == 0:
        return 51, f"list_del corruption, {entry:016x}->prev is NULL"
    if nxt == LIST_POISON1:
        return 53, f"list_del corruption, {entry:016x}->next is LIST_POISON1 ({nxt:016x})"
    if prev == LIST_POISON2:
        return 56, f"list_del corruption, {entry:016x}->prev is LIST_POISON2 ({prev:016x})"
    if m.read_ptr(prev) != entry:
        return 59, (f"list_del corruption. prev->next should be {entry:016x}, but was "
                    f"{m.read_ptr(prev):016x}. (prev={prev:016x})")
    if m.read_ptr(nxt + w) != entry:
        return 62, (f"list_del corruption. next->prev should be {entry:016x}, but was "
                    f"{m.read_ptr(nxt + w):016x}. (next={nxt:016x})")
    return None


@kapi("list.__list_add_valid", new=PTR, prev=PTR, next_=PTR)
def list_add_valid(k, m, new, prev, next_):
    """CONFIG_DEBUG_LIST's check before list_add (lib/list_debug.c)."""
    problem = list_add_problem(m, new, prev, next_)
    if problem is not None:
        list_corruption(k, *problem)
    return 1


@kapi("list.__list_del_entry_valid", entry=PTR)
def list_del_entry_valid(k, m, entry):
    problem = list_del_problem(m, entry)
    if problem is not None:
        list_corruption(k, *problem)
    return 1


@kapi("string.fortify_panic", name=PTR)
def fortify_panic(k, m, name):
    """CONFIG_FORTIFY_SOURCE found a length past the object (the module's check, inlined):
    lib/string_helpers.c's pr_emerg, then BUG(). tests/realkernel/budget8."""
    from ..faults import KernelBug
    what = gm.cstring(k, m, name, 256).decode("latin-1")
    k.printk(LOGLEVEL_EMERG, f"detected buffer overflow in {what}")
    raise KernelBug("lib/string_helpers.c", 1027)


# --------------------------------------------------------------------------- user copies
# copy_to_user and friends, hardened usercopy: emulator.kapi.uaccess


# --------------------------------------------------------------------------- hobby console

@kapi("console.monitor_write", c=PTR)
def monitor_write(k, m, c):
    """seed 004: write a NUL-terminated string to the console."""
    # void monitor_write(char *c)
    for data, _ in gm.scan(k, m, c):
        k.log.console_write(data)


# --------------------------------------------------------------------------- kstrto*

def _kstrto(size, signed, long_arg=False):
    # int kstrtoint(const char *s, unsigned int base, int *res), and so on for each type
    def impl(k, m, s, base, res):
        from . import kernel_params as params
        rc, value = params.kstrtox(m.read_cstring(s), size if not long_arg else m.word, signed, base)
        if rc == 0:
            m.write_int(res, size if not long_arg else m.word, value)
        return rc & m.mask
    return impl


for _name, _size, _signed in (("kstrtoint", 4, True), ("kstrtouint", 4, False),
                              ("kstrtoll", 8, True), ("kstrtoull", 8, False)):
    kapi(f"kstrtox.{_name}", s=PTR, base=UINT, res=PTR)(_kstrto(_size, _signed))
kapi("kstrtox._kstrtol", s=PTR, base=UINT, res=PTR)(_kstrto(8, True, long_arg=True))
kapi("kstrtox._kstrtoul", s=PTR, base=UINT, res=PTR)(_kstrto(8, False, long_arg=True))


@kapi("kstrtox.kstrtobool", s=PTR, res=PTR)
def kstrtobool(k, m, s, res):
    from . import kernel_params as params
    rc, value = params.kstrtobool(m.read_cstring(s))
    if rc == 0:
        m.write_int(res, 1, int(value))
    return rc & m.mask
