"""kobjects and sysfs attributes (lib/kobject.c, fs/sysfs/): what a module adds under /sys.

``kobject_create_and_add`` (under ``kernel_kobj`` & co., the kernel's well-known kobjects,
which are data here: pointers to kobjects in a page of their own), ``kobject_init_and_add``
(a kobject embedded in the module's own struct, its ktype's sysfs_ops), ``kobject_put``/
``kobject_del``; ``sysfs_create_file_ns``, ``sysfs_create_group(s)``, their removals;
``device_create_file``/``device_remove_file``; ``sysfs_emit``/``sysfs_emit_at``.

Reading an attribute runs its show in the CPU into a page (sysfs_kf_seq_show: a count of
PAGE_SIZE or more is cut to PAGE_SIZE - 1 with the kernel's message, a negative one is the
read's error); writing runs its store with a NUL-terminated copy of at most a page
(kernfs_fop_write_iter, sysfs_kf_write). ``kobj_attribute`` show/store go through
``kobj_sysfs_ops`` (kobj_attr_show/kobj_attr_store), a ``device_attribute`` through
dev_attr_show/dev_attr_store, another ktype's sysfs_ops are the module's own.

Not simulated: a ktype's ``release`` (it would be module code run from inside
kobject_put), uevents, namespaces, ``is_visible`` (every attribute of a group shows).
"""

import errno

from linker.loglevels import LOGLEVEL_ERR

from ..openfile import Node
from ..machine import PAGE, PROT_READ, PROT_WRITE
from .registry import INT, PTR, SIZE_T, kapi

KOBJ_SIZE = 64
KOBJ_NAME, KOBJ_PARENT, KOBJ_KTYPE = 0, 24, 40
KTYPE_SYSFS_OPS, KTYPE_DEFAULT_GROUPS = 8, 16
ATTR_NAME, ATTR_MODE = 0, 8
KOBJ_ATTR_SHOW, KOBJ_ATTR_STORE = 16, 24
SYSFS_OPS_SHOW, SYSFS_OPS_STORE = 0, 8
GROUP_NAME, GROUP_ATTRS = 0, 24
# the kernel's well-known kobjects (exported pointer variables) and their /sys paths
WELL_KNOWN = {"kernel_kobj": ("kernel",), "mm_kobj": ("kernel", "mm"), "fs_kobj": ("fs",),
              "firmware_kobj": ("firmware",), "power_kobj": ("power",),
              "hypervisor_kobj": ("hypervisor",)}
WELL_KNOWN_PAGE = 0xFF11000003FF0000     # below the kmalloc heap, in the direct map


def setup_well_known(k):
    """Point ``kernel_kobj`` & co. at kobjects of their own (once, when the profile has
    them): a page of the direct map holds them, with their names."""
    if k.profile.kind != "linux" or k.sysfs.wellknown:
        return
    m = k.machine
    try:
        m.map(WELL_KNOWN_PAGE, PAGE, PROT_READ | PROT_WRITE, "the kernel's well-known kobjects")
    except Exception:
        return
    for i, (var, path) in enumerate(WELL_KNOWN.items()):
        addr = k.export_addr(var)
        if addr is None:
            continue
        kobj = WELL_KNOWN_PAGE + i * 128
        name = kobj + KOBJ_SIZE
        m.write(name, path[-1].encode() + b"\0")
        m.write_ptr(kobj + KOBJ_NAME, name)
        m.write_ptr(addr, kobj)
        k.sysfs.wellknown[kobj] = path


# --------------------------------------------------------------------------- paths

def kobject_path(k, kobj):
    """The /sys path parts of a kobject, or None."""
    if kobj in k.sysfs.wellknown:
        return k.sysfs.wellknown[kobj]
    entry = k.sysfs.kobjects.get(kobj)
    if entry is None:
        return None
    if not entry["parent"]:
        return (entry["name"],)
    parent = kobject_path(k, entry["parent"])
    return None if parent is None else parent + (entry["name"],)


def sysfs_node(fs, rest):
    """/sys/<rest>: a kobject's directory, a group's, or an attribute (emulator.kernelfs)."""
    k = fs.k
    setup_well_known(k)
    rest = tuple(rest)
    wellknown = {path: addr for addr, path in k.sysfs.wellknown.items()}
    dirs = {}
    for addr in list(k.sysfs.kobjects) + list(k.sysfs.wellknown):
        path = kobject_path(k, addr)
        if path is not None:
            dirs[path] = addr
    for path in list(dirs):         # the directories above them (kernel, fs, ...)
        for i in range(1, len(path)):
            dirs.setdefault(path[:i], None)
    if rest in dirs:
        addr = dirs[rest]

        def names():
            out = [p[-1] for p in dirs if len(p) == len(rest) + 1 and p[:len(rest)] == rest]
            entry = k.sysfs.kobjects.get(addr) if addr else None
            if entry is not None:
                out += list(entry["attrs"]) + list(entry["groups"])
            return out
        return Node(is_dir=True, mode=0o755, entries=lambda: sorted(set(names())))
    if len(rest) >= 2 and rest[:-1] in dirs:
        addr = dirs[rest[:-1]]
        entry = k.sysfs.kobjects.get(addr) if addr else None
        if entry is None:
            return None
        name = rest[-1]
        if name in entry["attrs"]:
            return attribute_node(k, addr, entry["attrs"][name], entry)
        if name in entry["groups"]:
            group = entry["groups"][name]
            return Node(is_dir=True, mode=0o755, entries=lambda: sorted(group))
        return None
    if len(rest) >= 3 and rest[:-2] in dirs:
        addr = dirs[rest[:-2]]
        entry = k.sysfs.kobjects.get(addr) if addr else None
        if entry is not None and rest[-2] in entry["groups"]:
            group = entry["groups"][rest[-2]]
            if rest[-1] in group:
                return attribute_node(k, addr, group[rest[-1]], entry)
    del wellknown
    return None


# --------------------------------------------------------------------------- show and store

def attribute_node(k, kobj, attr, entry=None):
    """The file of attribute ``attr`` ({addr, mode, kind}) of kobject ``kobj``."""
    mode = attr["mode"] & 0o777
    return Node(read=lambda: attr_show(k, kobj, attr, entry),
                write=(lambda data: attr_store(k, kobj, attr, entry, data))
                if mode & 0o222 else None,
                mode=mode, size=PAGE)


def _ops(k, kobj, attr, entry):
    """(show, store) for the attribute, and whether they take (kobj, attr, buf) as
    kobj_attribute/device_attribute do (True) or sysfs_ops's (kobj, attr, buf) (also)."""
    m = k.machine
    a = attr["addr"]
    ktype = entry.get("ktype", 0) if entry else 0
    sysfs_ops = m.read_ptr(ktype + KTYPE_SYSFS_OPS) if ktype else 0
    if attr["kind"] == "dev" or not sysfs_ops or sysfs_ops == k.export_addr("kobj_sysfs_ops"):
        return m.read_ptr(a + KOBJ_ATTR_SHOW), m.read_ptr(a + KOBJ_ATTR_STORE)
    return m.read_ptr(sysfs_ops + SYSFS_OPS_SHOW), m.read_ptr(sysfs_ops + SYSFS_OPS_STORE)


def attr_show(k, kobj, attr, entry):
    from ..fops import run_module
    show, _ = _ops(k, kobj, attr, entry)
    if not show:
        return -errno.EIO
    m = k.machine
    buf = k.slab.kmalloc(PAGE)
    try:
        m.write(buf, bytes(PAGE))
        count = run_module(k, show, (kobj, attr["addr"], buf), "vfs_read")
        if count < 0:
            return count
        if count >= PAGE:
            k.printk(LOGLEVEL_ERR, f"fill_read_buffer: {k.symbolize(show)} returned bad count")
            count = PAGE - 1
        return m.read(buf, count)
    finally:
        k.slab.kfree(buf)


def attr_store(k, kobj, attr, entry, data):
    from ..fops import run_module
    _, store = _ops(k, kobj, attr, entry)
    if not store:
        return -errno.EIO
    data = bytes(data[:PAGE])
    if not data:
        return 0
    m = k.machine
    buf = k.slab.kmalloc(len(data) + 1)
    try:
        m.write(buf, data + b"\0")
        return run_module(k, store, (kobj, attr["addr"], buf, len(data)), "vfs_write")
    finally:
        k.slab.kfree(buf)


# --------------------------------------------------------------------------- kobjects

def _add(k, m, kobj, name, parent, ktype=0):
    setup_well_known(k)
    siblings = [e for e in k.sysfs.kobjects.values() if e["parent"] == parent]
    if any(e["name"] == name for e in siblings):
        return -errno.EEXIST
    k.sysfs.kobjects[kobj] = {"name": name, "parent": parent, "attrs": {}, "groups": {},
                              "ktype": ktype, "dynamic": False}
    return 0


@kapi("sysfs.kobject_create_and_add", name=PTR, parent=PTR)
def kobject_create_and_add(k, m, name, parent):
    """A kobject of dynamic_kobj_ktype (kobj_sysfs_ops) under ``parent`` (NULL: /sys),
    or NULL when the name is taken."""
    text = m.read_cstring(name, 256).decode("latin-1")
    kobj = k.slab.kmalloc(KOBJ_SIZE, 0x100)
    if not kobj:
        return 0
    m.write(kobj, bytes(KOBJ_SIZE))
    copy = k.slab.kmalloc(len(text) + 1)
    m.write(copy, text.encode("latin-1") + b"\0")
    m.write_ptr(kobj + KOBJ_NAME, copy)
    m.write_ptr(kobj + KOBJ_PARENT, parent)
    m.write_int(kobj + 56, 4, 1)       # kref
    if _add(k, m, kobj, text, parent):
        k.slab.kfree(copy)
        k.slab.kfree(kobj)
        return 0
    k.sysfs.kobjects[kobj]["dynamic"] = True
    k.sysfs.kobjects[kobj]["name_copy"] = copy
    return kobj


@kapi("sysfs.kobject_init_and_add", kobj=PTR, ktype=PTR, parent=PTR, fmt=PTR)
def kobject_init_and_add(k, m, kobj, ktype, parent, fmt):
    from .printk import RegArgs, kformat
    text, _ = kformat(k, m, fmt, RegArgs(m, 4))
    name = text.decode("latin-1")
    m.write_ptr(kobj + KOBJ_KTYPE, ktype)
    m.write_ptr(kobj + KOBJ_PARENT, parent)
    m.write_int(kobj + 56, 4, 1)
    rc = _add(k, m, kobj, name, parent, ktype)
    if rc:
        return rc & m.mask
    groups = m.read_ptr(ktype + KTYPE_DEFAULT_GROUPS) if ktype else 0
    if groups:
        _create_groups(k, m, kobj, groups)
    return 0


@kapi("sysfs.kobject_init", kobj=PTR, ktype=PTR)
def kobject_init(k, m, kobj, ktype):
    m.write_ptr(kobj + KOBJ_KTYPE, ktype)
    m.write_int(kobj + 56, 4, 1)


@kapi("sysfs.kobject_add", kobj=PTR, parent=PTR, fmt=PTR)
def kobject_add(k, m, kobj, parent, fmt):
    from .printk import RegArgs, kformat
    text, _ = kformat(k, m, fmt, RegArgs(m, 3))
    m.write_ptr(kobj + KOBJ_PARENT, parent)
    rc = _add(k, m, kobj, text.decode("latin-1"), parent, m.read_ptr(kobj + KOBJ_KTYPE))
    return rc & m.mask


def _remove(k, kobj):
    entry = k.sysfs.kobjects.pop(kobj, None)
    if entry is None:
        return None
    for child in [a for a, e in k.sysfs.kobjects.items() if e["parent"] == kobj]:
        _remove(k, child)
    return entry


@kapi("sysfs.kobject_del", kobj=PTR)
def kobject_del(k, m, kobj):
    _remove(k, kobj)


@kapi("sysfs.kobject_put", kobj=PTR)
def kobject_put(k, m, kobj):
    """The last reference: the directory goes; a kobject_create_and_add one is freed
    (a ktype's own release is module code: not run)."""
    if not kobj or kobj in k.sysfs.wellknown:
        return None
    entry = k.sysfs.kobjects.get(kobj)
    kref = m.read_int(kobj + 56, 4) if entry is not None else 0
    if entry is not None and kref > 1:
        m.write_int(kobj + 56, 4, kref - 1)
        return None
    entry = _remove(k, kobj)
    if entry is not None and entry.get("dynamic"):
        for addr in (entry.get("name_copy"), kobj):
            if addr in k.slab.heap.live:
                k.slab.kfree(addr)
    return None


@kapi("sysfs.kobject_get", kobj=PTR)
def kobject_get(k, m, kobj):
    if kobj in k.sysfs.kobjects:
        m.write_int(kobj + 56, 4, m.read_int(kobj + 56, 4) + 1)
    return kobj


# --------------------------------------------------------------------------- attributes

def _attr(m, addr, kind="kobj"):
    name = m.read_cstring(m.read_ptr(addr + ATTR_NAME), 256).decode("latin-1")
    return name, {"addr": addr, "mode": m.read_int(addr + ATTR_MODE, 2), "kind": kind}


def _create_file(k, m, kobj, attr, where=None):
    entry = k.sysfs.kobjects.get(kobj)
    if entry is None:
        return -errno.EINVAL if kobj not in k.sysfs.wellknown else -errno.EPERM
    name, record = _attr(m, attr)
    target = entry["attrs"] if where is None else where
    if name in target:
        return -errno.EEXIST
    target[name] = record
    return 0


@kapi("sysfs.sysfs_create_file_ns", kobj=PTR, attr=PTR, ns=PTR)
def sysfs_create_file_ns(k, m, kobj, attr, ns):
    return _create_file(k, m, kobj, attr) & m.mask


@kapi("sysfs.sysfs_create_files", kobj=PTR, ptr=PTR)
def sysfs_create_files(k, m, kobj, ptr):
    i = 0
    while (attr := m.read_ptr(ptr + 8 * i)):
        rc = _create_file(k, m, kobj, attr)
        if rc:
            return rc & m.mask
        i += 1
    return 0


@kapi("sysfs.sysfs_remove_file_ns", kobj=PTR, attr=PTR, ns=PTR)
def sysfs_remove_file_ns(k, m, kobj, attr, ns):
    entry = k.sysfs.kobjects.get(kobj)
    if entry is not None:
        name, _ = _attr(m, attr)
        entry["attrs"].pop(name, None)


@kapi("sysfs.sysfs_remove_files", kobj=PTR, ptr=PTR)
def sysfs_remove_files(k, m, kobj, ptr):
    i = 0
    while (attr := m.read_ptr(ptr + 8 * i)):
        sysfs_remove_file_ns.__wrapped__(k, m, kobj, attr, 0)
        i += 1


def _create_group(k, m, kobj, grp):
    entry = k.sysfs.kobjects.get(kobj)
    if entry is None:
        return -errno.EINVAL
    name_ptr = m.read_ptr(grp + GROUP_NAME)
    if name_ptr:
        gname = m.read_cstring(name_ptr, 256).decode("latin-1")
        if gname in entry["groups"]:
            return -errno.EEXIST
        where = entry["groups"][gname] = {}
    else:
        where = entry["attrs"]
    attrs = m.read_ptr(grp + GROUP_ATTRS)
    i = 0
    while attrs and (attr := m.read_ptr(attrs + 8 * i)):
        rc = _create_file(k, m, kobj, attr, where)
        if rc:
            return rc
        i += 1
    return 0


def _create_groups(k, m, kobj, groups):
    i = 0
    while (grp := m.read_ptr(groups + 8 * i)):
        rc = _create_group(k, m, kobj, grp)
        if rc:
            return rc
        i += 1
    return 0


@kapi("sysfs.sysfs_create_group", kobj=PTR, grp=PTR)
def sysfs_create_group(k, m, kobj, grp):
    return _create_group(k, m, kobj, grp) & m.mask


@kapi("sysfs.sysfs_create_groups", kobj=PTR, groups=PTR)
def sysfs_create_groups(k, m, kobj, groups):
    return _create_groups(k, m, kobj, groups) & m.mask if groups else 0


def _remove_group(k, m, kobj, grp):
    entry = k.sysfs.kobjects.get(kobj)
    if entry is None:
        return
    name_ptr = m.read_ptr(grp + GROUP_NAME)
    if name_ptr:
        entry["groups"].pop(m.read_cstring(name_ptr, 256).decode("latin-1"), None)
        return
    attrs = m.read_ptr(grp + GROUP_ATTRS)
    i = 0
    while attrs and (attr := m.read_ptr(attrs + 8 * i)):
        entry["attrs"].pop(_attr(m, attr)[0], None)
        i += 1


@kapi("sysfs.sysfs_remove_group", kobj=PTR, grp=PTR)
def sysfs_remove_group(k, m, kobj, grp):
    _remove_group(k, m, kobj, grp)


@kapi("sysfs.sysfs_remove_groups", kobj=PTR, groups=PTR)
def sysfs_remove_groups(k, m, kobj, groups):
    i = 0
    while groups and (grp := m.read_ptr(groups + 8 * i)):
        _remove_group(k, m, kobj, grp)
        i += 1


@kapi("sysfs.device_create_file", dev=PTR, attr=PTR)
def device_create_file(k, m, dev, attr):
    model = k.devices.devices.get(dev)
    if model is None:
        return 0 if not dev else -errno.EINVAL & m.mask
    name, record = _attr(m, attr, "dev")
    attrs = model.setdefault("attrs", {})
    if name in attrs:
        return -errno.EEXIST & m.mask
    attrs[name] = record
    return 0


@kapi("sysfs.device_remove_file", dev=PTR, attr=PTR)
def device_remove_file(k, m, dev, attr):
    model = k.devices.devices.get(dev)
    if model is not None:
        model.get("attrs", {}).pop(_attr(m, attr)[0], None)


# --------------------------------------------------------------------------- sysfs_emit

def _emit(k, m, buf, at, fmt, args):
    from .printk import kformat
    if buf % PAGE or at < 0 or at >= PAGE:
        return 0        # the kernel WARNs: not at the start of a page
    text, _ = kformat(k, m, fmt, args)
    text = text[:PAGE - at - 1]
    m.write(buf + at, text + b"\0")
    return len(text)


@kapi("sysfs.sysfs_emit", buf=PTR, fmt=PTR)
def sysfs_emit(k, m, buf, fmt):
    from .printk import RegArgs
    return _emit(k, m, buf, 0, fmt, RegArgs(m, 2))


@kapi("sysfs.sysfs_emit_at", buf=PTR, at=INT, fmt=PTR)
def sysfs_emit_at(k, m, buf, at, fmt):
    from .printk import RegArgs
    return _emit(k, m, buf, at, fmt, RegArgs(m, 3))


del SIZE_T
