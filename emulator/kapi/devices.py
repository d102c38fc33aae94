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
from .registry import CHAR, DEV_T, PTR, SIZE_T, UINT, UMODE_T, kapi

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
    """__register_chrdev(major, baseminor, count, name, fops): the region, and a cdev of
    its own whose owner is fops->owner. The major (a dynamic one), or 0."""
    got = _register(k, major, baseminor, count, m.read_cstring(name).decode("latin-1"))
    if got < 0:
        return _err(m, -got)
    cdev = k.slab.kmalloc(CDEV_SIZE, 0x100)
    if not cdev:
        _unregister(k, got, baseminor, count)
        return _err(m, errno.ENOMEM)
    _cdev_setup(m, cdev, fops)
    m.write_ptr(cdev + CDEV_OWNER, m.read_ptr(fops) if fops else 0)
    _cdev_map(k, m, cdev, mkdev(got, baseminor), count, own=True)
    return got if major == 0 else 0


@kapi("devices.__unregister_chrdev", major=UINT, baseminor=UINT, count=UINT, name=PTR)
def unregister_chrdev(k, m, major, baseminor, count, name):
    _unregister(k, major, baseminor, count)
    dev = mkdev(major, baseminor)
    for entry in list(k.chrdev.cdevs):
        if entry["dev"] == dev and entry["count"] == count and entry.get("own"):
            k.chrdev.cdevs.remove(entry)
            if entry["cdev"] in k.slab.heap.live:
                k.slab.kfree(entry["cdev"])


# struct cdev: kobject (64) owner (8) ops (8) list (16) dev (4) count (4) = 104
CDEV_OWNER, CDEV_OPS, CDEV_LIST, CDEV_DEV, CDEV_COUNT, CDEV_SIZE = 64, 72, 80, 96, 100, 104


def _cdev_setup(m, cdev, fops):
    m.write(cdev, bytes(CDEV_SIZE))
    m.write_ptr(cdev + CDEV_LIST, cdev + CDEV_LIST)
    m.write_ptr(cdev + CDEV_LIST + 8, cdev + CDEV_LIST)
    m.write_ptr(cdev + CDEV_OPS, fops)


def _cdev_map(k, m, cdev, dev, count, own=False):
    """kobj_map: (major, minor) in [dev, dev + count) opens through this cdev."""
    m.write_int(cdev + CDEV_DEV, 4, dev)
    m.write_int(cdev + CDEV_COUNT, 4, count)
    k.chrdev.cdevs.append({"dev": dev, "count": count, "cdev": cdev, "own": own})


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
    _cdev_map(k, m, p, dev, count)
    return 0


@kapi("devices.cdev_del", p=PTR)
def cdev_del(k, m, p):
    """kobj_unmap: no new opens; files open on it keep it."""
    k.chrdev.cdevs[:] = [e for e in k.chrdev.cdevs if e["cdev"] != p]


@kapi("fs.cdev_set_parent", p=PTR, kobj=PTR)
def cdev_set_parent(k, m, p, kobj):
    return None


@kapi("fs.cdev_device_add", cdev=PTR, dev=PTR)
def cdev_device_add(k, m, cdev, dev):
    devt = m.read_int(dev + DEVICE_DEVT, 4)
    if devt:
        _cdev_map(k, m, cdev, devt, 1)
    return 0


@kapi("fs.cdev_device_del", cdev=PTR, dev=PTR)
def cdev_device_del(k, m, cdev, dev):
    cdev_del.__wrapped__(k, m, cdev)


DEVICE_DEVT = 660       # struct device's devt (6.1, x86-64)


def _object(k, size=256):
    return k.slab.kmalloc(size, 0x100)


def _free_object(k, m, addr):
    if addr and addr < (m.mask - 4095) and k.slab.heap.contains(addr):   # not an ERR_PTR
        k.slab.kfree(addr)




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
    m.write(addr, bytes(1024))
    kname = k.slab.kmalloc(len(text) + 1)         # kobject.name (dev_name)
    m.write(kname, text + b"\0")
    m.write_ptr(addr, kname)
    m.write_int(addr + DEVICE_DEVT, 4, devt)
    m.write_ptr(addr + 120, drvdata)            # driver_data (dev_get_drvdata)
    model.devices[addr] = {"class": class_, "devt": devt, "name": name, "kobj": addr,
                           "attrs": {}, "name_copy": kname}
    return addr


@kapi("devices.device_destroy", class_=PTR, devt=DEV_T)
def device_destroy(k, m, class_, devt):
    model = k.devices
    for addr, dev in list(model.devices.items()):
        if dev["class"] == class_ and dev["devt"] == devt:
            del model.devices[addr]
            if dev.get("name_copy") in k.slab.heap.live:
                k.slab.kfree(dev["name_copy"])
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


def _proc_entry(k, m, name, mode, parent, size, show=None, data=0, proc_ops=0,
                is_dir=False):
    """proc_create and friends: a proc_dir_entry under ``parent`` (0: /proc); NULL when
    the name is taken there (proc_register's WARN is not printed by kmodsim)."""
    name = m.read_cstring(name, 256).decode("latin-1")
    entries = k.procfs.entries
    if parent and parent not in entries:
        parent = 0 if not parent else parent    # a parent kmodsim does not know: /proc
    if any(e.get("parent", 0) == parent and e["name"] == name for e in entries.values()):
        return 0
    addr = _object(k, size)
    if is_dir:
        mode = (mode & 0o777) or 0o555
    else:
        mode = (mode & 0o777) or 0o444
    entries[addr] = {"addr": addr, "name": name, "mode": mode, "show": show, "data": data,
                     "parent": parent, "proc_ops": proc_ops, "is_dir": is_dir}
    return addr


@kapi("devices.proc_create", name=PTR, mode=UMODE_T, parent=PTR, proc_ops=PTR)
def proc_create(k, m, name, mode, parent, proc_ops):
    return _proc_entry(k, m, name, mode, parent, 192, proc_ops=proc_ops)


@kapi("devices.proc_create_data", name=PTR, mode=UMODE_T, parent=PTR, proc_ops=PTR, data=PTR)
def proc_create_data(k, m, name, mode, parent, proc_ops, data):
    return _proc_entry(k, m, name, mode, parent, 192, proc_ops=proc_ops, data=data)


@kapi("devices.proc_mkdir_mode", name=PTR, mode=UMODE_T, parent=PTR)
def proc_mkdir_mode(k, m, name, mode, parent):
    return _proc_entry(k, m, name, mode, parent, 192, is_dir=True)


@kapi("devices.proc_mkdir", name=PTR, parent=PTR)
def proc_mkdir(k, m, name, parent):
    # struct proc_dir_entry *proc_mkdir(const char *name, struct proc_dir_entry *parent):
    # no mode argument (the parent is the second one)
    return _proc_entry(k, m, name, 0, parent, 192, is_dir=True)


@kapi("fs.proc_mkdir_data", name=PTR, mode=UMODE_T, parent=PTR, data=PTR)
def proc_mkdir_data(k, m, name, mode, parent, data):
    return _proc_entry(k, m, name, mode, parent, 192, data=data, is_dir=True)


@kapi("devices.proc_create_single_data", name=PTR, mode=UMODE_T, parent=PTR, show=PTR,
      data=PTR)
def proc_create_single_data(k, m, name, mode, parent, show, data):
    """proc_create_single_data(name, mode, parent, show, data): reading the file runs
    ``show(seq_file, data)`` in the CPU (single_open), see :func:`proc_show`."""
    return _proc_entry(k, m, name, mode, parent, 192, show=show, data=data)


@kapi("fs.proc_create_seq_private", name=PTR, mode=UMODE_T, parent=PTR, ops=PTR,
      state_size=UINT, data=PTR)
def proc_create_seq_private(k, m, name, mode, parent, ops, state_size, data):
    """proc_create_seq(_private): a file read through seq_operations ``ops``
    (seq_open_private with ``state_size`` bytes of private state), emulator.fops."""
    addr = _proc_entry(k, m, name, mode, parent, 192, data=data)
    if addr:
        k.procfs.entries[addr]["seq_ops"] = (ops, state_size)
    return addr


@kapi("fs.pde_data", inode=PTR)
def pde_data(k, m, inode):
    return m.read_ptr(inode + 624)      # inode->i_private, proc_get_inode's de->data


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


def _remove_subtree(k, addr):
    entries = k.procfs.entries
    for child in [a for a, e in entries.items() if e.get("parent", 0) == addr]:
        _remove_subtree(k, child)
    if entries.pop(addr, None) is not None and addr in k.slab.heap.live:
        k.slab.kfree(addr)


@kapi("devices.proc_remove", de=PTR)
def proc_remove(k, m, de):
    """proc_remove: the entry and everything under it."""
    if de in k.procfs.entries:
        _remove_subtree(k, de)


@kapi("devices.remove_proc_entry", name=PTR, parent=PTR)
def remove_proc_entry(k, m, name, parent):
    """remove_proc_entry(name, parent); a missing name is a WARN in the kernel, not
    printed by kmodsim; a directory's entries go with it."""
    name = m.read_cstring(name, 256).decode("latin-1")
    for addr, entry in list(k.procfs.entries.items()):
        if entry.get("parent", 0) == (parent if parent in k.procfs.entries else 0) \
                and entry["name"] == name:
            _remove_subtree(k, addr)
            return None
    return None


@kapi("fs.remove_proc_subtree", name=PTR, parent=PTR)
def remove_proc_subtree(k, m, name, parent):
    remove_proc_entry.__wrapped__(k, m, name, parent)
    return 0
