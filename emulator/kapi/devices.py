"""The registration calls of the classic course module: character devices, classes and
device nodes, misc devices, /proc entries, wait queues, timers and kthreads.

Nothing runs after init in kmodsim (no user process opens the device, no timer fires, no
kthread is scheduled), so these calls do what a module can observe during init and exit:
numbers are handed out as 6.1 hands them out, objects are real allocations the module can
test with IS_ERR/NULL and free, list heads are initialised.
"""

import errno
import functools

from .registry import kapi

MINORBITS = 20
CHRDEV_MAJOR_MAX = 512
CHRDEV_MAJOR_DYN_END = 234          # dynamic majors: 254 down to 234,
CHRDEV_MAJOR_DYN_EXT_START = 511    # then 511 down to 384
CHRDEV_MAJOR_DYN_EXT_END = 384
MISC_MAJOR = 10
MISC_DYNAMIC_MINOR = 255
DYNAMIC_MINORS = 128


def _err(m, e):
    return (-e) & m.mask


def _chrdevs(k):
    """major -> [(baseminor, count, name)]: the guest's devices, then the modules'."""
    table = getattr(k, "_chrdevs", None)
    if table is None:
        table = k._chrdevs = {}
        for major, name in guest_char_devices():
            table.setdefault(major, []).append((0, 1 << MINORBITS, name))
    return table


@functools.cache
def _guest_lines(name):
    """The lines of the recorded guest data file ``emulator/data/<name>``, comments and
    blank lines left out; read once per process."""
    from importlib import resources
    text = resources.files("emulator").joinpath(f"data/{name}").read_text()
    return tuple(line for line in text.splitlines() if line and not line.startswith("#"))


def _numbered(name):
    """"number name" lines of a guest data file as (number, name) pairs."""
    return [(int(number), rest) for number, rest in
            (line.split(" ", 1) for line in _guest_lines(name))]


def mkdev(major, minor):
    return (major << MINORBITS) | minor


def split_dev(devt):
    """MAJOR and MINOR of a dev_t."""
    return devt >> MINORBITS, devt & ((1 << MINORBITS) - 1)


def guest_char_devices():
    """(major, name) of the character devices realkernel's guest has (its /proc/devices)."""
    return _numbered("guest_devices.txt")


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
    table = _chrdevs(k)
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
    table = _chrdevs(k)
    regs = [r for r in table.get(major, ()) if (r[0], r[1]) != (baseminor, count)]
    if regs:
        table[major] = regs
    else:
        table.pop(major, None)


def proc_devices(k):
    """The ``Character devices:`` part of /proc/devices, one line per registration."""
    lines = ["Character devices:"]
    for major in sorted(_chrdevs(k)):
        for _, _, name in _chrdevs(k)[major]:
            lines.append(f"{major:3d} {name}")
    return "\n".join(lines) + "\n\nBlock devices:\n259 blkext\n"


@kapi("devices.alloc_chrdev_region")
def alloc_chrdev_region(k, m):
    # int alloc_chrdev_region(dev_t *dev, unsigned baseminor, unsigned count, const char *name)
    dev, baseminor, count = m.arg(0), m.arg(1) & 0xFFFFFFFF, m.arg(2) & 0xFFFFFFFF
    major = _register(k, 0, baseminor, count, m.read_cstring(m.arg(3)).decode("latin-1"))
    if major < 0:
        return _err(m, -major)
    m.write_int(dev, 4, mkdev(major, baseminor))
    return 0


@kapi("devices.register_chrdev_region")
def register_chrdev_region(k, m):
    # int register_chrdev_region(dev_t from, unsigned count, const char *name)
    first, count = m.arg(0) & 0xFFFFFFFF, m.arg(1) & 0xFFFFFFFF
    major = _register(k, *split_dev(first), count,
                      m.read_cstring(m.arg(2)).decode("latin-1"))
    return _err(m, -major) if major < 0 else 0


@kapi("devices.unregister_chrdev_region")
def unregister_chrdev_region(k, m):
    first, count = m.arg(0) & 0xFFFFFFFF, m.arg(1) & 0xFFFFFFFF
    _unregister(k, *split_dev(first), count)


@kapi("devices.__register_chrdev")
def register_chrdev(k, m):
    # int __register_chrdev(major, baseminor, count, name, fops): the major, or 0
    major, baseminor, count = (m.arg(i) & 0xFFFFFFFF for i in range(3))
    got = _register(k, major, baseminor, count, m.read_cstring(m.arg(3)).decode("latin-1"))
    if got < 0:
        return _err(m, -got)
    return got if major == 0 else 0


@kapi("devices.__unregister_chrdev")
def unregister_chrdev(k, m):
    _unregister(k, m.arg(0) & 0xFFFFFFFF, m.arg(1) & 0xFFFFFFFF, m.arg(2) & 0xFFFFFFFF)


# struct cdev: kobject (64) owner (8) ops (8) list (16) dev (4) count (4) = 104
CDEV_OPS, CDEV_LIST, CDEV_DEV, CDEV_COUNT, CDEV_SIZE = 72, 80, 96, 100, 104


def _cdev_setup(m, cdev, fops):
    m.write(cdev, bytes(CDEV_SIZE))
    m.write_ptr(cdev + CDEV_LIST, cdev + CDEV_LIST)
    m.write_ptr(cdev + CDEV_LIST + 8, cdev + CDEV_LIST)
    m.write_ptr(cdev + CDEV_OPS, fops)


@kapi("devices.cdev_init")
def cdev_init(k, m):
    _cdev_setup(m, m.arg(0), m.arg(1))


@kapi("devices.cdev_alloc")
def cdev_alloc(k, m):
    cdev = k.kmalloc(CDEV_SIZE, 0x100)
    if cdev:
        _cdev_setup(m, cdev, 0)
    return cdev


@kapi("devices.cdev_add")
def cdev_add(k, m):
    cdev = m.arg(0)
    m.write_int(cdev + CDEV_DEV, 4, m.arg(1))
    m.write_int(cdev + CDEV_COUNT, 4, m.arg(2))
    return 0


@kapi("devices.cdev_del")
def cdev_del(k, m):
    return None


def _object(k, size=256):
    return k.kmalloc(size, 0x100)


def _free_object(k, m, addr):
    if addr and addr < (m.mask - 4095) and k.heap.contains(addr):   # not an ERR_PTR
        k.kfree(addr)


def device_model(k):
    """The driver-model objects the modules made: ``classes`` (address -> name) and
    ``devices`` (address -> {class, devt, name}), for /sys/class and devtmpfs's /dev."""
    model = getattr(k, "_device_model", None)
    if model is None:
        model = k._device_model = {"classes": {}, "devices": {}}
    return model


def guest_classes():
    """The names under the guest's /sys/class before any module adds one."""
    return _guest_lines("guest_classes.txt")


def char_nodes(k):
    """name -> (major, minor) of the character nodes devtmpfs would show for the modules'
    devices (device_create with a devt, misc_register)."""
    nodes = {}
    for dev in device_model(k)["devices"].values():
        if dev["devt"]:
            nodes[dev["name"]] = split_dev(dev["devt"])
    return nodes


@kapi("devices.__class_create")
def class_create(k, m):
    name = m.read_cstring(m.arg(1), 256).decode("latin-1")
    model = device_model(k)
    if name in guest_classes() or name in model["classes"].values():
        return _err(m, errno.EEXIST)
    addr = _object(k)
    model["classes"][addr] = name
    return addr


@kapi("devices.class_destroy")
def class_destroy(k, m):
    addr = m.arg(0)
    model = device_model(k)
    if model["classes"].pop(addr, None) is not None:
        for key, dev in list(model["devices"].items()):
            if dev["class"] == addr:
                del model["devices"][key]
    _free_object(k, m, addr)


@kapi("devices.device_create")
def device_create(k, m):
    """device_create(class, parent, devt, drvdata, fmt, ...): the name is formatted as
    printk formats; the device shows under its class and, with a devt, in /dev."""
    from .printk import RegArgs, kformat
    cls, devt = m.arg(0), m.arg(2) & 0xFFFFFFFF
    model = device_model(k)
    if cls not in model["classes"]:
        return _err(m, errno.ENODEV)
    text, _ = kformat(k, m, m.arg(4), RegArgs(m, 5))
    name = text.decode("latin-1")
    if any(d["class"] == cls and d["name"] == name for d in model["devices"].values()):
        return _err(m, errno.EEXIST)
    addr = _object(k, 1024)
    model["devices"][addr] = {"class": cls, "devt": devt, "name": name}
    return addr


@kapi("devices.device_destroy")
def device_destroy(k, m):
    cls, devt = m.arg(0), m.arg(1) & 0xFFFFFFFF
    model = device_model(k)
    for addr, dev in list(model["devices"].items()):
        if dev["class"] == cls and dev["devt"] == devt:
            del model["devices"][addr]
            k.kfree(addr)
            break


def misc_minors(k):
    """minor -> name of the misc devices: the guest's (recorded), then the modules'."""
    table = getattr(k, "_misc", None)
    if table is None:
        table = k._misc = dict(_numbered("guest_misc.txt"))
    return table


@kapi("devices.misc_register")
def misc_register(k, m):
    """struct miscdevice starts {int minor; const char *name; ...}. A dynamic minor
    (MISC_DYNAMIC_MINOR) is the highest free one below 128, as misc_register's bitmap
    hands them out (the guest holds 125-127); a static minor already taken is EBUSY. The
    device shows as /sys/class/misc/<name> and /dev/<name> (major 10)."""
    misc = m.arg(0)
    minor = m.read_int(misc, 4)
    name = m.read_cstring(m.read_int(misc + m.bits // 8, m.bits // 8), 256).decode("latin-1")
    table = misc_minors(k)
    if minor == MISC_DYNAMIC_MINOR:
        minor = next((i for i in range(DYNAMIC_MINORS - 1, -1, -1) if i not in table), None)
        if minor is None:
            return _err(m, errno.EBUSY)
        m.write_int(misc, 4, minor)
    elif minor in table:
        return _err(m, errno.EBUSY)
    table[minor] = name
    device_model(k)["devices"][("misc", misc)] = {
        "class": "misc", "devt": mkdev(MISC_MAJOR, minor), "name": name}
    return 0


@kapi("devices.misc_deregister")
def misc_deregister(k, m):
    misc = m.arg(0)
    misc_minors(k).pop(m.read_int(misc, 4), None)
    device_model(k)["devices"].pop(("misc", misc), None)


def proc_entries(k):
    """The modules' top-level /proc entries: address -> {name, mode, show, data}."""
    table = getattr(k, "_proc_entries", None)
    if table is None:
        table = k._proc_entries = {}
    return table


def _proc_entry(k, m, size, show=None, data=0):
    name = m.read_cstring(m.arg(0), 256).decode("latin-1")
    mode, parent = m.arg(1) & 0xFFFF, m.arg(2)
    entries = proc_entries(k)
    if not parent and any(e["name"] == name for e in entries.values()):
        # proc_register returns NULL (after a WARN kmodsim does not print)
        return 0
    addr = _object(k, size)
    if not parent:   # entries under a module's own directory are not shown
        entries[addr] = {"name": name, "mode": mode & 0o777 or 0o444, "show": show, "data": data}
    return addr


@kapi("devices.proc_create", "devices.proc_create_data", "devices.proc_mkdir",
      "devices.proc_mkdir_mode")
def proc_create(k, m):
    return _proc_entry(k, m, 192)


@kapi("devices.proc_create_single_data")
def proc_create_single_data(k, m):
    """proc_create_single_data(name, mode, parent, show, data): reading the file runs
    ``show(seq_file, data)`` in the CPU (single_open), see :func:`proc_show`."""
    return _proc_entry(k, m, 192, show=m.arg(3), data=m.arg(4))


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
    seq = k.kmalloc(SEQ_FILE_SIZE, 0x100)
    try:
        while True:
            buf = k.kmalloc(size)
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
                k.kfree(buf)
            size *= 2
    finally:
        k.kfree(seq)


def _run_show(k, entry, seq):
    """show(seq, NULL) under emulator.faults, returning into seq_read_iter as on the
    reference kernel, so an oops reports the read path and kills the reader."""
    from ..faults import module_of, run_guarded
    base = k._export_addr("seq_read_iter")
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


@kapi("devices.seq_printf")
def seq_printf(k, m):
    from .printk import RegArgs, kformat
    text, _ = kformat(k, m, m.arg(1), RegArgs(m, 2))
    _seq_append(m, m.arg(0), text)


@kapi("devices.seq_vprintf")
def seq_vprintf(k, m):
    from .printk import VaList, kformat
    text, _ = kformat(k, m, m.arg(1), VaList(m, m.arg(2)))
    _seq_append(m, m.arg(0), text)


@kapi("devices.seq_puts")
def seq_puts(k, m):
    _seq_append(m, m.arg(0), m.read_cstring(m.arg(1), 1 << 20))


@kapi("devices.seq_putc")
def seq_putc(k, m):
    _seq_append(m, m.arg(0), bytes([m.arg(1) & 0xFF]))


@kapi("devices.seq_write")
def seq_write(k, m):
    return 0 if _seq_append(m, m.arg(0), m.read(m.arg(1), m.arg(2))) else -1


@kapi("devices.proc_remove")
def proc_remove(k, m):
    if proc_entries(k).pop(m.arg(0), None) is not None:
        k.kfree(m.arg(0))


@kapi("devices.remove_proc_entry")
def remove_proc_entry(k, m):
    """remove_proc_entry(name, parent); a missing name is a WARN in the kernel, not
    printed by kmodsim."""
    name = m.read_cstring(m.arg(0), 256).decode("latin-1")
    if m.arg(1):
        return None
    entries = proc_entries(k)
    for addr, entry in list(entries.items()):
        if entry["name"] == name:
            del entries[addr]
            k.kfree(addr)
            return None
    return None


@kapi("devices.__init_waitqueue_head")
def init_waitqueue_head(k, m):
    # struct wait_queue_head { spinlock_t lock; struct list_head head; }: an empty list
    wq = m.arg(0)
    m.write_int(wq, 4, 0)
    m.write_ptr(wq + 8, wq + 8)
    m.write_ptr(wq + 16, wq + 8)


@kapi("devices.__wake_up")
def wake_up(k, m):
    return None


@kapi("devices.init_timer_key")
def init_timer_key(k, m):
    # struct timer_list { hlist_node entry; unsigned long expires; fn; u32 flags; ... }
    timer = m.arg(0)
    m.write(timer, bytes(16))
    m.write_ptr(timer + 24, m.arg(1))
    m.write_int(timer + 32, 4, m.arg(2))


@kapi("devices.add_timer")
def add_timer(k, m):
    return None   # the timer is pending; simulated time never reaches it during init/exit


@kapi("devices.mod_timer")
def mod_timer(k, m):
    return 0      # it was not pending


@kapi("devices.kthread_create_on_node")
def kthread_create_on_node(k, m):
    """A task the module can wake and stop; it never runs (nothing is scheduled here)."""
    from .printk import RegArgs, kformat
    name, _ = kformat(k, m, m.arg(3), RegArgs(m, 4))
    k.next_pid += 1
    task = k._make_task(k.next_pid, name.decode("latin-1")[:15])
    return task.addr


@kapi("devices.kthread_stop")
def kthread_stop(k, m):
    return _err(m, errno.EINTR)   # stopped before it ever ran: kthread_stop says -EINTR


@kapi("devices.kthread_should_stop")
def kthread_should_stop(k, m):
    return 0
