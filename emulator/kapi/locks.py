"""Locks as the reference kernel keeps them: spinlocks and rwlocks raise the preempt count
(and clear IF for the _irq variants), mutexes, semaphores and rw-semaphores put the task to
sleep when contended and hand the lock to the first waiter when released.

On one CPU a spinlock is never contended by another CPU: taking it changes the preempt
count (a task that then sleeps gets "BUG: scheduling while atomic", emulator.sched) and the
lock word. Debian's kernel has lock debugging off: an unlock of a lock not held prints
nothing there, nor here. With ``--checks locks`` each acquire and release is told to
lockdep first (``k.checks.lockdep``, emulator.checks.locks), which reports what
PROVE_LOCKING would.
"""

from unicorn import x86_const as X

from ..sched import SOFTIRQ_DISABLE_OFFSET, TASK_NORMAL, TASK_UNINTERRUPTIBLE, TASK_INTERRUPTIBLE
from .registry import INT, LONG, PTR, ULONG, kapi

X86_EFLAGS_IF = 0x200
SOFTIRQ_LOCK_OFFSET = SOFTIRQ_DISABLE_OFFSET + 1   # _bh locks: bottom halves and preemption off
MUTEX_FLAGS = 0x07          # the low bits of mutex->owner
# struct semaphore { raw_spinlock_t lock; unsigned int count @4; list_head wait_list @8 }
SEM_COUNT = 4
# struct rw_semaphore { atomic_long_t count; atomic_long_t owner @8; ... }
RWSEM_WRITER_LOCKED, RWSEM_READER_BIAS = 1, 1 << 8


def _waiters(k, key):
    from collections import deque
    return k.sched.waiters.setdefault(key, deque())


# --------------------------------------------------------------------------- spinlocks

def _irqs_off(m):
    flags = m.reg(X.UC_X86_REG_EFLAGS)
    m.set_reg(X.UC_X86_REG_EFLAGS, flags & ~X86_EFLAGS_IF)
    return flags


def _irqs_restore(m, flags):
    cur = m.reg(X.UC_X86_REG_EFLAGS)
    m.set_reg(X.UC_X86_REG_EFLAGS, (cur & ~X86_EFLAGS_IF) | (flags & X86_EFLAGS_IF))


# --------------------------------------------------------------------------- lockdep hooks

def _lockdep(k):
    """``k.checks.lockdep`` when ``--checks locks`` is on, else None."""
    checks = getattr(k, "checks", None)
    return checks.lockdep if checks is not None else None


def _spin_kind(k, m):
    """("spin" or "rwlock", read) from the name of the function the CPU is in (one handler
    serves _raw_spin_lock, _raw_read_lock and _raw_write_lock)."""
    name = k.kapi.names.get(m.pc, "")
    if "_read_" in name:
        return "rwlock", True
    return ("rwlock" if "_write_" in name else "spin"), False


def _acquire(k, m, lock, kind, read=False, trylock=False):
    ld = _lockdep(k)
    return True if ld is None else ld.acquire(lock, kind, read, trylock)


def _release(k, lock):
    ld = _lockdep(k)
    if ld is not None:
        ld.release(lock)


def _lock(k, m, lock, offset=1, trylock=False):
    k.sched.preempt_add(offset)
    ld = _lockdep(k)
    if ld is not None:      # spin_acquire, after preemption (and bottom halves) are off
        ld.acquire(lock, *_spin_kind(k, m), trylock=trylock)
    m.write_int(lock, 4, 1)


def _unlock(k, m, lock, offset=1):
    _release(k, lock)
    m.write_int(lock, 4, 0)
    k.sched.preempt_add(-offset)


@kapi("spinlock._raw_spin_lock", "spinlock._raw_write_lock", "spinlock._raw_read_lock",
      lock=PTR)
def spin_lock(k, m, lock):
    _lock(k, m, lock)


@kapi("spinlock._raw_spin_unlock", "spinlock._raw_write_unlock", "spinlock._raw_read_unlock",
      lock=PTR)
def spin_unlock(k, m, lock):
    _unlock(k, m, lock)


@kapi("spinlock._raw_spin_lock_bh", "spinlock._raw_write_lock_bh", "spinlock._raw_read_lock_bh",
      lock=PTR)
def spin_lock_bh(k, m, lock):
    _lock(k, m, lock, SOFTIRQ_LOCK_OFFSET)


@kapi("spinlock._raw_spin_unlock_bh", "spinlock._raw_write_unlock_bh",
      "spinlock._raw_read_unlock_bh", lock=PTR)
def spin_unlock_bh(k, m, lock):
    _unlock(k, m, lock, SOFTIRQ_LOCK_OFFSET)


@kapi("spinlock._raw_spin_lock_irq", "spinlock._raw_write_lock_irq",
      "spinlock._raw_read_lock_irq", lock=PTR)
def spin_lock_irq(k, m, lock):
    _irqs_off(m)
    _lock(k, m, lock)


@kapi("spinlock._raw_spin_unlock_irq", "spinlock._raw_write_unlock_irq",
      "spinlock._raw_read_unlock_irq", lock=PTR)
def spin_unlock_irq(k, m, lock):
    _unlock(k, m, lock)
    _irqs_restore(m, X86_EFLAGS_IF)


@kapi("spinlock._raw_spin_lock_irqsave", "spinlock._raw_write_lock_irqsave",
      "spinlock._raw_read_lock_irqsave", lock=PTR)
def spin_lock_irqsave(k, m, lock):
    """The flags word as it was (IF set when interrupts were on), then interrupts off."""
    flags = _irqs_off(m)
    _lock(k, m, lock)
    return flags


@kapi("spinlock._raw_spin_unlock_irqrestore", "spinlock._raw_write_unlock_irqrestore",
      "spinlock._raw_read_unlock_irqrestore", lock=PTR, flags=ULONG)
def spin_unlock_irqrestore(k, m, lock, flags):
    _unlock(k, m, lock)
    _irqs_restore(m, flags)


@kapi("spinlock._raw_spin_trylock", "spinlock._raw_write_trylock", "spinlock._raw_read_trylock",
      lock=PTR)
def spin_trylock(k, m, lock):
    if m.read_int(lock, 4):
        return 0
    _lock(k, m, lock, trylock=True)
    return 1


@kapi("spinlock._raw_spin_trylock_bh", lock=PTR)
def spin_trylock_bh(k, m, lock):
    if m.read_int(lock, 4):
        return 0
    _lock(k, m, lock, SOFTIRQ_LOCK_OFFSET, trylock=True)
    return 1


@kapi("spinlock.__raw_spin_lock_init", "spinlock.__rwlock_init", lock=PTR, name=PTR, key=PTR)
def spin_lock_init(k, m, lock, name, key):
    m.write_int(lock, 4, 0)
    if _lockdep(k) is not None:
        _lockdep(k).init(lock, name)


@kapi("spinlock.local_bh_enable", "spinlock.__local_bh_enable_ip", ip=ULONG, cnt=INT)
def local_bh_enable_ip(k, m, ip, cnt):
    k.sched.preempt_add(-(cnt or SOFTIRQ_DISABLE_OFFSET))


# --------------------------------------------------------------------------- mutexes

@kapi("mutex.__mutex_init", lock=PTR, name=PTR, key=PTR)
def mutex_init(k, m, lock, name, key):
    m.write_ptr(lock, 0)
    m.write_int(lock + 8, 4, 0)
    m.write_ptr(lock + 16, lock + 16)
    m.write_ptr(lock + 24, lock + 16)
    if _lockdep(k) is not None:
        _lockdep(k).init(lock, name)


def _owner(m, lock):
    return m.read_ptr(lock) & ~MUTEX_FLAGS


def _mutex_lock(k, m, lock, value=None, state=TASK_UNINTERRUPTIBLE):
    task = k.tasks.current
    if not _acquire(k, m, lock, "mutex"):
        return value            # lockdep reported it: not the sleep for ever it would be
    if _owner(m, lock) == 0:
        m.write_ptr(lock, task.addr)
        return value
    _waiters(k, ("mutex", lock)).append(task)
    return k.sched.block(state, resume=lambda: value)


@kapi("mutex.mutex_lock", "mutex.mutex_lock_io", lock=PTR)
def mutex_lock(k, m, lock):
    return _mutex_lock(k, m, lock)


@kapi("mutex.mutex_lock_interruptible", "mutex.mutex_lock_killable", lock=PTR)
def mutex_lock_interruptible(k, m, lock):
    return _mutex_lock(k, m, lock, 0)


@kapi("mutex.mutex_trylock", lock=PTR)
def mutex_trylock(k, m, lock):
    if _owner(m, lock):
        return 0
    _acquire(k, m, lock, "mutex", trylock=True)
    m.write_ptr(lock, k.tasks.current.addr)
    return 1


@kapi("mutex.mutex_unlock", lock=PTR)
def mutex_unlock(k, m, lock):
    """The first waiter gets the mutex (a hand-off) and is woken."""
    _release(k, lock)
    waiters = _waiters(k, ("mutex", lock))
    while waiters:
        task = waiters.popleft()
        if task.dead:
            continue
        m.write_ptr(lock, task.addr)
        k.sched.wake(task, TASK_NORMAL)
        return None
    m.write_ptr(lock, 0)
    return None


@kapi("mutex.mutex_is_locked", lock=PTR)
def mutex_is_locked(k, m, lock):
    return int(_owner(m, lock) != 0)


@kapi("mutex.atomic_dec_and_mutex_lock", cnt=PTR, lock=PTR)
def atomic_dec_and_mutex_lock(k, m, cnt, lock):
    value = m.read_int(cnt, 4, signed=True) - 1
    m.write_int(cnt, 4, value & 0xFFFFFFFF)
    if value != 0:
        return 0
    return _mutex_lock(k, m, lock, 1)



# --------------------------------------------------------------------------- semaphores

def _down(k, m, sem, value=None, state=TASK_UNINTERRUPTIBLE):
    count = m.read_int(sem + SEM_COUNT, 4)
    if count > 0:
        m.write_int(sem + SEM_COUNT, 4, count - 1)
        return value
    _waiters(k, ("sem", sem)).append(k.tasks.current)
    return k.sched.block(state, resume=lambda: value)


@kapi("semaphore.down", sem=PTR)
def down(k, m, sem):
    return _down(k, m, sem)


@kapi("semaphore.down_interruptible", "semaphore.down_killable", sem=PTR)
def down_interruptible(k, m, sem):
    return _down(k, m, sem, 0, TASK_INTERRUPTIBLE)


@kapi("semaphore.down_trylock", sem=PTR)
def down_trylock(k, m, sem):
    """0 when taken (the reverse of mutex_trylock), 1 when not."""
    count = m.read_int(sem + SEM_COUNT, 4)
    if count > 0:
        m.write_int(sem + SEM_COUNT, 4, count - 1)
        return 0
    return 1


@kapi("semaphore.down_timeout", sem=PTR, timeout=LONG)
def down_timeout(k, m, sem, timeout):
    count = m.read_int(sem + SEM_COUNT, 4)
    if count > 0:
        m.write_int(sem + SEM_COUNT, 4, count - 1)
        return 0
    task = k.tasks.current
    waiters = _waiters(k, ("sem", sem))
    waiters.append(task)

    def resume(left):
        if task in waiters:         # the timeout, not up(), woke it
            waiters.remove(task)
            return (-62) & m.mask   # -ETIME
        return 0
    return k.sched.block_jiffies(TASK_UNINTERRUPTIBLE, timeout, resume_remaining=resume)


@kapi("semaphore.up", sem=PTR)
def up(k, m, sem):
    waiters = _waiters(k, ("sem", sem))
    while waiters:
        task = waiters.popleft()
        if not task.dead:
            k.sched.wake(task, TASK_NORMAL)
            return None
    m.write_int(sem + SEM_COUNT, 4, m.read_int(sem + SEM_COUNT, 4) + 1)
    return None


# --------------------------------------------------------------------------- rw-semaphores

def _rwsem(k, sem):
    return k.sched.waiters.setdefault(("rwsem-state", sem), {"readers": 0, "writer": None})


def _rwsem_publish(k, m, sem):
    st = _rwsem(k, sem)
    count = st["readers"] * RWSEM_READER_BIAS + (RWSEM_WRITER_LOCKED if st["writer"] else 0)
    m.write_int(sem, 8, count)
    m.write_ptr(sem + 8, st["writer"].addr if st["writer"] else 0)


@kapi("rwsem.__init_rwsem", sem=PTR, name=PTR, key=PTR)
def init_rwsem(k, m, sem, name, key):
    k.sched.waiters.pop(("rwsem-state", sem), None)
    if _lockdep(k) is not None:
        _lockdep(k).init(sem, name)
    m.write_int(sem, 8, 0)
    m.write_ptr(sem + 8, 0)


def _down_read(k, m, sem, value=None, state=TASK_UNINTERRUPTIBLE):
    if not _acquire(k, m, sem, "rwsem", read=True):
        return value
    st = _rwsem(k, sem)
    waiters = _waiters(k, ("rwsem", sem))
    if st["writer"] is None and not waiters:
        st["readers"] += 1
        _rwsem_publish(k, m, sem)
        return value
    waiters.append((k.tasks.current, "read"))
    return k.sched.block(state, resume=lambda: value)


def _down_write(k, m, sem, value=None, state=TASK_UNINTERRUPTIBLE):
    if not _acquire(k, m, sem, "rwsem"):
        return value
    st = _rwsem(k, sem)
    waiters = _waiters(k, ("rwsem", sem))
    if st["writer"] is None and st["readers"] == 0 and not waiters:
        st["writer"] = k.tasks.current
        _rwsem_publish(k, m, sem)
        return value
    waiters.append((k.tasks.current, "write"))
    return k.sched.block(state, resume=lambda: value)


def _rwsem_grant(k, m, sem):
    """Hand the semaphore to the waiters at the head: one writer, or every reader up to
    the next writer."""
    st = _rwsem(k, sem)
    waiters = _waiters(k, ("rwsem", sem))
    while waiters and st["writer"] is None:
        task, kind = waiters[0]
        if kind == "write":
            if st["readers"]:
                break
            waiters.popleft()
            st["writer"] = task
            k.sched.wake(task, TASK_NORMAL)
            break
        waiters.popleft()
        st["readers"] += 1
        k.sched.wake(task, TASK_NORMAL)
    _rwsem_publish(k, m, sem)


@kapi("rwsem.down_read", sem=PTR)
def down_read(k, m, sem):
    return _down_read(k, m, sem)


@kapi("rwsem.down_read_interruptible", "rwsem.down_read_killable", sem=PTR)
def down_read_interruptible(k, m, sem):
    return _down_read(k, m, sem, 0, TASK_INTERRUPTIBLE)


@kapi("rwsem.down_read_trylock", sem=PTR)
def down_read_trylock(k, m, sem):
    st = _rwsem(k, sem)
    if st["writer"] is None and not _waiters(k, ("rwsem", sem)):
        _acquire(k, m, sem, "rwsem", read=True, trylock=True)
        st["readers"] += 1
        _rwsem_publish(k, m, sem)
        return 1
    return 0


@kapi("rwsem.up_read", sem=PTR)
def up_read(k, m, sem):
    _release(k, sem)
    st = _rwsem(k, sem)
    st["readers"] = max(st["readers"] - 1, 0)
    _rwsem_grant(k, m, sem)


@kapi("rwsem.down_write", sem=PTR)
def down_write(k, m, sem):
    return _down_write(k, m, sem)


@kapi("rwsem.down_write_killable", sem=PTR)
def down_write_killable(k, m, sem):
    return _down_write(k, m, sem, 0, TASK_INTERRUPTIBLE)


@kapi("rwsem.down_write_trylock", sem=PTR)
def down_write_trylock(k, m, sem):
    st = _rwsem(k, sem)
    if st["writer"] is None and st["readers"] == 0:
        _acquire(k, m, sem, "rwsem", trylock=True)
        st["writer"] = k.tasks.current
        _rwsem_publish(k, m, sem)
        return 1
    return 0


@kapi("rwsem.up_write", sem=PTR)
def up_write(k, m, sem):
    _release(k, sem)
    _rwsem(k, sem)["writer"] = None
    _rwsem_grant(k, m, sem)


@kapi("rwsem.downgrade_write", sem=PTR)
def downgrade_write(k, m, sem):
    st = _rwsem(k, sem)
    st["writer"] = None
    st["readers"] += 1
    _rwsem_grant(k, m, sem)


# --------------------------------------------------------------------------- paravirt irqs
# A module's inline local_irq_save()/irqs_disabled() call through pv_ops.irq (the kernel
# patches the call sites to pushf/cli/sti only in its own text and in modules'
# .parainstructions, which kmodsim leaves as they are): the slots point at the native
# functions, which run here.
PV_IRQ_OPS = {0xF0: "native_save_fl", 0xF8: "pv_native_irq_disable",
              0x100: "pv_native_irq_enable"}


@kapi("paravirt.native_save_fl")
def native_save_fl(k, m):
    return m.reg(X.UC_X86_REG_EFLAGS)


@kapi("paravirt.pv_native_irq_disable")
def native_irq_disable(k, m):
    _irqs_off(m)


@kapi("paravirt.pv_native_irq_enable")
def native_irq_enable(k, m):
    _irqs_restore(m, X86_EFLAGS_IF)


def boot_paravirt(k):
    """pv_ops.irq's slots hold the native functions' addresses, as on the reference boot."""
    pv_ops = k.export_addr("pv_ops")
    if pv_ops is None or k.profile.kind != "linux" or k.machine.bits != 64 or \
            not k.profile.kallsyms_path:
        return
    syms = k.profile.kallsyms()
    for off, name in PV_IRQ_OPS.items():
        addr = syms.address(name)
        if addr:
            k.machine.write_ptr(pv_ops + off, addr)
            k.kapi.names.setdefault(addr, name)
