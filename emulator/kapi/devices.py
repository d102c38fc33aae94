"""The registration calls of the classic course module: character devices, classes and
device nodes, misc devices, /proc entries, wait queues, timers and kthreads.

Nothing runs after init in kmodsim (no user process opens the device, no timer fires, no
kthread is scheduled), so these calls do what a module can observe during init and exit:
numbers are handed out as 6.1 hands them out, objects are real allocations the module can
test with IS_ERR/NULL and free, list heads are initialised.
"""

import errno
from ..drivers import MINORBITS
from ..guestdata import guest_classes
from .registry import CHAR, DEV_T, INT, PTR, SIZE_T, UINT, ULONG, UMODE_T, kapi

CHRDEV_MAJOR_MAX = 512
CHRDEV_MAJOR_DYN_END = 234          # dynamic majors: 254 down to 234,
CHRDEV_MAJOR_DYN_EXT_START = 511    # then 511 down to 384
CHRDEV_MAJOR_DYN_EXT_END = 384
MISC_MAJOR = 10
MISC_DYNAMIC_MINOR = 255
DYNAMIC_MINORS = 128


def _err(m, e):
    return (-e) & m.mask


def mkdev(major, minor):
    return (major << MINORBITS) | minor


def split_dev(devt):
    """MAJOR and MINOR of a dev_t."""
    return devt >> MINORBITS, devt & ((1 << MINORBITS) - 1)


def _dynamic_major(table):
    for major in range(254, CHRDEV_MAJOR_DYN_END - 1, -1):
        if major not in table:
            return major
    for major in range(CHRDEV_MAJOR_DYN_EXT_START, CHRDEV_MAJOR_DYN_EXT_END - 1, -1):
        if major not in table:
            return major
    return None


def _register(k, major, baseminor, count, name):
    """__register_chrdev_region: 0 for a dynamic major, which it picks; the major or -errno."""
    table = k.chrdev.table
    if major == 0:
        major = _dynamic_major(table)
        if major is None:
            return -errno.EBUSY
    if major >= CHRDEV_MAJOR_MAX:
        return -errno.EINVAL
    for base, n, _ in table.get(major, ()):
        if base < baseminor + count and baseminor < base + n:
            return -errno.EBUSY
    table.setdefault(major, []).append((baseminor, count, name))
    return major


def _unregister(k, major, baseminor, count):
    table = k.chrdev.table
    regs = [r for r in table.get(major, ()) if (r[0], r[1]) != (baseminor, count)]
    if regs:
        table[major] = regs
    else:
        table.pop(major, None)


def proc_devices(k):
    """The ``Character devices:`` part of /proc/devices, one line per registration."""
    lines = ["Character devices:"]
    for major in sorted(k.chrdev.table):
        for _, _, name in k.chrdev.table[major]:
            lines.append(f"{major:3d} {name}")
    return "\n".join(lines) + "\n\nBlock devices:\n259 blkext\n"


# Arguments are declared with their 6.1 prototype's names; a name that is a Python keyword
# or builtin gets a trailing underscore (``from_``, ``class_``, ``len_``).

@kapi("devices.alloc_chrdev_region", dev=PTR, baseminor=UINT, count=UINT, name=PTR)
def alloc_chrdev_region(k, m, dev, baseminor, count, name):
    # int alloc_chrdev_region(dev_t *dev, unsigned baseminor, unsigned count, const char *name)
    major = _register(k, 0, baseminor, count, m.read_cstring(name).decode("latin-1"))
    if major < 0:
        return _err(m, -major)
    m.write_int(dev, 4, mkdev(major, baseminor))
    return 0


@kapi("devices.register_chrdev_region", from_=DEV_T, count=UINT, name=PTR)
def register_chrdev_region(k, m, from_, count, name):
    # int register_chrdev_region(dev_t from, unsigned count, const char *name)
    major = _register(k, *split_dev(from_), count, m.read_cstring(name).decode("latin-1"))
    return _err(m, -major) if major < 0 else 0


@kapi("devices.unregister_chrdev_region", from_=DEV_T, count=UINT)
def unregister_chrdev_region(k, m, from_, count):
    # void unregister_chrdev_region(dev_t from, unsigned count)
    _unregister(k, *split_dev(from_), count)


@kapi("devices.__register_chrdev", major=UINT, baseminor=UINT, count=UINT, name=PTR, fops=PTR)
def register_chrdev(k, m, major, baseminor, count, name, fops):
    # int __register_chrdev(major, baseminor, count, name, fops): the major, or 0
    got = _register(k, major, baseminor, count, m.read_cstring(name).decode("latin-1"))
    if got < 0:
        return _err(m, -got)
    return got if major == 0 else 0


@kapi("devices.__unregister_chrdev", major=UINT, baseminor=UINT, count=UINT, name=PTR)
def unregister_chrdev(k, m, major, baseminor, count, name):
    _unregister(k, major, baseminor, count)


# struct cdev: kobject (64) owner (8) ops (8) list (16) dev (4) count (4) = 104
CDEV_OPS, CDEV_LIST, CDEV_DEV, CDEV_COUNT, CDEV_SIZE = 72, 80, 96, 100, 104


def _cdev_setup(m, cdev, fops):
    m.write(cdev, bytes(CDEV_SIZE))
    m.write_ptr(cdev + CDEV_LIST, cdev + CDEV_LIST)
    m.write_ptr(cdev + CDEV_LIST + 8, cdev + CDEV_LIST)
    m.write_ptr(cdev + CDEV_OPS, fops)


@kapi("devices.cdev_init", cdev=PTR, fops=PTR)
def cdev_init(k, m, cdev, fops):
    _cdev_setup(m, cdev, fops)


@kapi("devices.cdev_alloc")
def cdev_alloc(k, m):
    cdev = k.slab.kmalloc(CDEV_SIZE, 0x100)
    if cdev:
        _cdev_setup(m, cdev, 0)
    return cdev


@kapi("devices.cdev_add", p=PTR, dev=DEV_T, count=UINT)
def cdev_add(k, m, p, dev, count):
    m.write_int(p + CDEV_DEV, 4, dev)
    m.write_int(p + CDEV_COUNT, 4, count)
    return 0


@kapi("devices.cdev_del", p=PTR)
def cdev_del(k, m, p):
    return None


def _object(k, size=256):
    return k.slab.kmalloc(size, 0x100)


def _free_object(k, m, addr):
    if addr and addr < (m.mask - 4095) and k.slab.heap.contains(addr):   # not an ERR_PTR
        k.slab.kfree(addr)


def char_nodes(k):
    """name -> (major, minor) of the character nodes devtmpfs would show for the modules'
    devices (device_create with a devt, misc_register)."""
    nodes = {}
    for dev in k.devices.devices.values():
        if dev["devt"]:
            nodes[dev["name"]] = split_dev(dev["devt"])
    return nodes


@kapi("devices.__class_create", owner=PTR, name=PTR, key=PTR)
def class_create(k, m, owner, name, key):
    name = m.read_cstring(name, 256).decode("latin-1")
    model = k.devices
    if name in guest_classes() or name in model.classes.values():
        return _err(m, errno.EEXIST)
    addr = _object(k)
    model.classes[addr] = name
    return addr


@kapi("devices.class_destroy", cls=PTR)
def class_destroy(k, m, cls):
    model = k.devices
    if model.classes.pop(cls, None) is not None:
        for key, dev in list(model.devices.items()):
            if dev["class"] == cls:
                del model.devices[key]
    _free_object(k, m, cls)


@kapi("devices.device_create", class_=PTR, parent=PTR, devt=DEV_T, drvdata=PTR, fmt=PTR)
def device_create(k, m, class_, parent, devt, drvdata, fmt):
    """device_create(class, parent, devt, drvdata, fmt, ...): the name is formatted as
    printk formats; the device shows under its class and, with a devt, in /dev."""
    from .printk import RegArgs, kformat
    model = k.devices
    if class_ not in model.classes:
        return _err(m, errno.ENODEV)
    text, _ = kformat(k, m, fmt, RegArgs(m, 5))
    name = text.decode("latin-1")
    if any(d["class"] == class_ and d["name"] == name for d in model.devices.values()):
        return _err(m, errno.EEXIST)
    addr = _object(k, 1024)
    model.devices[addr] = {"class": class_, "devt": devt, "name": name}
    return addr


@kapi("devices.device_destroy", class_=PTR, devt=DEV_T)
def device_destroy(k, m, class_, devt):
    model = k.devices
    for addr, dev in list(model.devices.items()):
        if dev["class"] == class_ and dev["devt"] == devt:
            del model.devices[addr]
            k.slab.kfree(addr)
            break


@kapi("devices.misc_register", misc=PTR)
def misc_register(k, m, misc):
    """struct miscdevice starts {int minor; const char *name; ...}. A dynamic minor
    (MISC_DYNAMIC_MINOR) is the highest free one below 128, as misc_register's bitmap
    hands them out (the guest holds 125-127); a static minor already taken is EBUSY. The
    device shows as /sys/class/misc/<name> and /dev/<name> (major 10)."""
    minor = m.read_int(misc, 4)
    name = m.read_cstring(m.read_int(misc + m.bits // 8, m.bits // 8), 256).decode("latin-1")
    table = k.misc.minors
    if minor == MISC_DYNAMIC_MINOR:
        minor = next((i for i in range(DYNAMIC_MINORS - 1, -1, -1) if i not in table), None)
        if minor is None:
            return _err(m, errno.EBUSY)
        m.write_int(misc, 4, minor)
    elif minor in table:
        return _err(m, errno.EBUSY)
    table[minor] = name
    k.devices.devices[("misc", misc)] = {
        "class": "misc", "devt": mkdev(MISC_MAJOR, minor), "name": name}
    return 0


@kapi("devices.misc_deregister", misc=PTR)
def misc_deregister(k, m, misc):
    k.misc.minors.pop(m.read_int(misc, 4), None)
    k.devices.devices.pop(("misc", misc), None)


def _proc_entry(k, m, name, mode, parent, size, show=None, data=0):
    name = m.read_cstring(name, 256).decode("latin-1")
    entries = k.procfs.entries
    if not parent and any(e["name"] == name for e in entries.values()):
        # proc_register returns NULL (after a WARN kmodsim does not print)
        return 0
    addr = _object(k, size)
    if not parent:   # entries under a module's own directory are not shown
        entries[addr] = {"name": name, "mode": mode & 0o777 or 0o444, "show": show, "data": data}
    return addr


@kapi("devices.proc_create", name=PTR, mode=UMODE_T, parent=PTR, proc_ops=PTR)
def proc_create(k, m, name, mode, parent, proc_ops):
    return _proc_entry(k, m, name, mode, parent, 192)


@kapi("devices.proc_create_data", name=PTR, mode=UMODE_T, parent=PTR, proc_ops=PTR, data=PTR)
def proc_create_data(k, m, name, mode, parent, proc_ops, data):
    return _proc_entry(k, m, name, mode, parent, 192)


@kapi("devices.proc_mkdir_mode", name=PTR, mode=UMODE_T, parent=PTR)
def proc_mkdir_mode(k, m, name, mode, parent):
    return _proc_entry(k, m, name, mode, parent, 192)


@kapi("devices.proc_mkdir", name=PTR, parent=PTR)
def proc_mkdir(k, m, name, parent):
    # struct proc_dir_entry *proc_mkdir(const char *name, struct proc_dir_entry *parent):
    # no mode argument (the parent is the second one)
    return _proc_entry(k, m, name, 0, parent, 192)


@kapi("devices.proc_create_single_data", name=PTR, mode=UMODE_T, parent=PTR, show=PTR,
      data=PTR)
def proc_create_single_data(k, m, name, mode, parent, show, data):
    """proc_create_single_data(name, mode, parent, show, data): reading the file runs
    ``show(seq_file, data)`` in the CPU (single_open), see :func:`proc_show`."""
    return _proc_entry(k, m, name, mode, parent, 192, show=show, data=data)


# struct seq_file in 6.1 starts {char *buf; size_t size, from, count; ...}: word-sized
# fields, so the offsets scale with the word. ``private`` (single_open's data) is at 112 on
# x86-64 (after the 32-byte struct mutex); on i386 it is not filled in.
SEQ_BUF, SEQ_SIZE, SEQ_COUNT, SEQ_PRIVATE_64, SEQ_FILE_SIZE = 0, 1, 3, 112, 120


def proc_show(k, entry):
    """seq_read of a single_open file: run show into a page, and again into a buffer twice
    the size while it overflows (seq_file's retry). The text, None without a show, or the
    faults.Outcome of a show that oopsed (its signal kills the reader)."""
    if entry["show"] is None:
        return None
    m, size = k.machine, 4096
    word = m.bits // 8
    seq = k.slab.kmalloc(SEQ_FILE_SIZE, 0x100)
    try:
        while True:
            buf = k.slab.kmalloc(size)
            try:
                m.write_int(seq + SEQ_BUF * word, word, buf)
                m.write_int(seq + SEQ_SIZE * word, word, size)
                m.write_int(seq + SEQ_COUNT * word, word, 0)
                if word == 8:
                    m.write_int(seq + SEQ_PRIVATE_64, 8, entry["data"])
                outcome = _run_show(k, entry, seq)
                if outcome.signal is not None:
                    return outcome
                count = m.read_int(seq + SEQ_COUNT * word, word)
                if count < size or size >= 1 << 22:
                    return m.read(buf, min(count, size))
            finally:
                k.slab.kfree(buf)
            size *= 2
    finally:
        k.slab.kfree(seq)


def _run_show(k, entry, seq):
    """show(seq, NULL) under emulator.faults, returning into seq_read_iter as on the
    reference kernel, so an oops reports the read path and kills the reader."""
    from ..faults import module_of, run_guarded
    base = k.export_addr("seq_read_iter")
    sentinel = base + 0x122 if base else None
    return run_guarded(k, module_of(k, entry["show"], whole=True), entry["show"], "read",
                       (seq, 0), sentinel)


def _seq_append(m, seq, data):
    """seq_file's rule for every seq_* writer: the text goes in only if it leaves room
    (count + len < size); otherwise the buffer is marked overflowed (count = size)."""
    word = m.bits // 8
    buf, size, count = (m.read_int(seq + i * word, word) for i in (SEQ_BUF, SEQ_SIZE, SEQ_COUNT))
    if count + len(data) < size:
        m.write(buf + count, data)
        m.write_int(seq + SEQ_COUNT * word, word, count + len(data))
        return True
    m.write_int(seq + SEQ_COUNT * word, word, size)
    return False


# The seq_* functions name their struct seq_file * ``m`` (``seq`` in seq_write): ``seq``
# here for all of them, ``m`` being the Machine.

@kapi("devices.seq_printf", seq=PTR, f=PTR)
def seq_printf(k, m, seq, f):
    from .printk import RegArgs, kformat
    text, _ = kformat(k, m, f, RegArgs(m, 2))
    _seq_append(m, seq, text)


@kapi("devices.seq_vprintf", seq=PTR, f=PTR, args=PTR)
def seq_vprintf(k, m, seq, f, args):
    from .printk import VaList, kformat
    text, _ = kformat(k, m, f, VaList(m, args))
    _seq_append(m, seq, text)


@kapi("devices.seq_puts", seq=PTR, s=PTR)
def seq_puts(k, m, seq, s):
    _seq_append(m, seq, m.read_cstring(s, 1 << 20))


@kapi("devices.seq_putc", seq=PTR, c=CHAR)
def seq_putc(k, m, seq, c):
    _seq_append(m, seq, bytes([c]))


@kapi("devices.seq_write", seq=PTR, data=PTR, len_=SIZE_T)
def seq_write(k, m, seq, data, len_):
    return 0 if _seq_append(m, seq, m.read(data, len_)) else -1


@kapi("devices.proc_remove", de=PTR)
def proc_remove(k, m, de):
    if k.procfs.entries.pop(de, None) is not None:
        k.slab.kfree(de)


@kapi("devices.remove_proc_entry", name=PTR, parent=PTR)
def remove_proc_entry(k, m, name, parent):
    """remove_proc_entry(name, parent); a missing name is a WARN in the kernel, not
    printed by kmodsim."""
    name = m.read_cstring(name, 256).decode("latin-1")
    if parent:
        return None
    entries = k.procfs.entries
    for addr, entry in list(entries.items()):
        if entry["name"] == name:
            del entries[addr]
            k.slab.kfree(addr)
            return None
    return None


@kapi("devices.__init_waitqueue_head", wq_head=PTR, name=PTR, key=PTR)
def init_waitqueue_head(k, m, wq_head, name, key):
    # struct wait_queue_head { spinlock_t lock; struct list_head head; }: an empty list
    m.write_int(wq_head, 4, 0)
    m.write_ptr(wq_head + 8, wq_head + 8)
    m.write_ptr(wq_head + 16, wq_head + 8)


@kapi("devices.__wake_up", wq_head=PTR, mode=UINT, nr_exclusive=INT, key=PTR)
def wake_up(k, m, wq_head, mode, nr_exclusive, key):
    return None


@kapi("devices.init_timer_key", timer=PTR, func=PTR, flags=UINT, name=PTR, key=PTR)
def init_timer_key(k, m, timer, func, flags, name, key):
    # struct timer_list { hlist_node entry; unsigned long expires; fn; u32 flags; ... }
    m.write(timer, bytes(16))
    m.write_ptr(timer + 24, func)
    m.write_int(timer + 32, 4, flags)


@kapi("devices.add_timer", timer=PTR)
def add_timer(k, m, timer):
    return None   # the timer is pending; simulated time never reaches it during init/exit


@kapi("devices.mod_timer", timer=PTR, expires=ULONG)
def mod_timer(k, m, timer, expires):
    return 0      # it was not pending


@kapi("devices.kthread_create_on_node", threadfn=PTR, data=PTR, node=INT, namefmt=PTR)
def kthread_create_on_node(k, m, threadfn, data, node, namefmt):
    """A task the module can wake and stop; it never runs (nothing is scheduled here)."""
    from .printk import RegArgs, kformat
    name, _ = kformat(k, m, namefmt, RegArgs(m, 4))
    task = k.tasks.make(k.tasks.new_pid(), name.decode("latin-1")[:15])
    return task.addr


@kapi("devices.kthread_stop", tsk=PTR)
def kthread_stop(k, m, tsk):
    # int kthread_stop(struct task_struct *k): ``tsk``, ``k`` being the Kernel
    return _err(m, errno.EINTR)   # stopped before it ever ran: kthread_stop says -EINTR


@kapi("devices.kthread_should_stop")
def kthread_should_stop(k, m):
    return 0
