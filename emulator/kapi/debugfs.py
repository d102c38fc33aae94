"""debugfs (fs/debugfs/): directories, files with the module's file_operations, and the
value files (``debugfs_create_u32`` & co.), seen under /sys/kernel/debug once the guest
mounts it (``mount -t debugfs none /sys/kernel/debug``; before that the directory is empty,
as on the kernel).

A ``debugfs_create_file`` file opens through the module's fops in the CPU
(:class:`emulator.fops.GuestFile`, ``inode->i_private`` the data pointer; the real proxy's
``fops_get`` takes the module reference). A value file reads and writes as
``simple_attr_read``/``simple_attr_write`` do: ``%llu`` (``0x%08llx`` for x32, ...),
``kstrtoull(buf, 0)`` stored truncated to the value's size, ``Y``/``N`` for a bool; with no
write bit (or no read bit) the other direction is EACCES.
"""

import errno

from ..openfile import S_IFREG, Node
from .registry import PTR, UMODE_T, kapi

DEBUG_MOUNT = ("kernel", "debug")
DENTRY_SIZE = 192
# kind -> (bytes, format of the value) as DEFINE_DEBUGFS_ATTRIBUTE's
VALUE_KINDS = {"u8": (1, "{:d}"), "u16": (2, "{:d}"), "u32": (4, "{:d}"), "u64": (8, "{:d}"),
               "x8": (1, "0x{:02x}"), "x16": (2, "0x{:04x}"), "x32": (4, "0x{:08x}"),
               "x64": (8, "0x{:016x}"), "size_t": (8, "{:d}"), "ulong": (8, "{:d}"),
               "atomic_t": (4, "{:d}")}


def _table(k):
    table = getattr(k.fs, "debugfs", None)
    if table is None:
        table = k.fs.debugfs = {}
    return table


def _create(k, m, name, mode, parent, kind, **extra):
    name = m.read_cstring(name, 256).decode("latin-1")
    table = _table(k)
    if parent and parent not in table:
        return -errno.ENOENT & m.mask      # ERR_PTR: not a debugfs directory kmodsim knows
    if any(e["parent"] == parent and e["name"] == name for e in table.values()):
        return -errno.EEXIST & m.mask      # debugfs_create_* fail with ERR_PTR(-EEXIST)
    dentry = k.slab.kmalloc(DENTRY_SIZE, 0x100)
    m.write(dentry, bytes(DENTRY_SIZE))
    table[dentry] = {"name": name, "mode": mode, "parent": parent, "kind": kind, **extra}
    return dentry


@kapi("debugfs.debugfs_create_dir", name=PTR, parent=PTR)
def debugfs_create_dir(k, m, name, parent):
    return _create(k, m, name, 0o755, parent, "dir")


@kapi("debugfs.debugfs_create_file", "debugfs.debugfs_create_file_unsafe", name=PTR,
      mode=UMODE_T, parent=PTR, data=PTR, fops=PTR)
def debugfs_create_file(k, m, name, mode, parent, data, fops):
    return _create(k, m, name, (mode & 0o777) or 0o444, parent, "file", data=data, fops=fops)


def _value_creator(kind):
    def create(k, m, name, mode, parent, value):
        _create(k, m, name, mode & 0o777, parent, kind, data=value)
    return create


for _kind in VALUE_KINDS:
    kapi(f"debugfs.debugfs_create_{_kind}", name=PTR, mode=UMODE_T, parent=PTR,
         value=PTR)(_value_creator(_kind))
kapi("debugfs.debugfs_create_bool", name=PTR, mode=UMODE_T, parent=PTR,
     value=PTR)(_value_creator("bool"))


def _remove(k, dentry):
    table = _table(k)
    for child in [a for a, e in table.items() if e["parent"] == dentry]:
        _remove(k, child)
    if table.pop(dentry, None) is not None and dentry in k.slab.heap.live:
        k.slab.kfree(dentry)


@kapi("debugfs.debugfs_remove", dentry=PTR)
def debugfs_remove(k, m, dentry):
    """debugfs_remove (debugfs_remove_recursive is the same function in 6.1)."""
    if dentry in _table(k):
        _remove(k, dentry)


@kapi("debugfs.debugfs_lookup_and_remove", name=PTR, parent=PTR)
def debugfs_lookup_and_remove(k, m, name, parent):
    text = m.read_cstring(name, 256).decode("latin-1")
    for addr, entry in list(_table(k).items()):
        if entry["parent"] == parent and entry["name"] == text:
            _remove(k, addr)
            return None
    return None


@kapi("debugfs.debugfs_initialized")
def debugfs_initialized(k, m):
    return 1


# --------------------------------------------------------------------------- the files

def debugfs_node(fs, rest):
    """/sys/kernel/debug/<rest>: empty until mounted."""
    k = fs.k
    mounted = "debugfs" in getattr(fs, "mounts", {}).values()
    table = _table(k)
    leaks = getattr(getattr(k, "checks", None), "kmemleak", None)
    if mounted and leaks is not None and rest == ["kmemleak"]:
        # mm/kmemleak.c's file (0644), there when the leak check is on: reading gives the
        # reports so far, writing "scan" scans now, "clear" forgets what was reported
        return Node(read=lambda: leaks.file_text().encode(),
                    write=lambda data: _kmemleak_write(leaks, data), mode=0o644, size=0)
    parent, entry = 0, None
    for name in rest:
        if not mounted:
            return None
        found = next(((a, e) for a, e in table.items()
                      if e["parent"] == parent and e["name"] == name), None)
        if found is None:
            return None
        parent, entry = found
    if entry is None or entry["kind"] == "dir":
        here = parent
        extra = ["kmemleak"] if leaks is not None and not rest else []
        return Node(is_dir=True, mode=0o700 if not rest else 0o755, size=0, entries=lambda: sorted(
            [e["name"] for e in table.values() if e["parent"] == here] + extra) if mounted else [])
    if entry["kind"] == "file":
        def open_(fs, path, flags):
            from .. import fops
            return fops.open_with_fops(fs, path, flags, entry["fops"], S_IFREG | entry["mode"],
                                       entry["data"])
        return Node(mode=entry["mode"], size=0, open=open_)
    return Node(read=lambda: _value_read(k, entry), write=lambda data: _value_write(k, entry, data),
                mode=entry["mode"], size=0, dac_override=True)


def _kmemleak_write(leaks, data):
    """kmemleak_write: the commands it knows take the whole write; another is EINVAL."""
    command = bytes(data).split(b"\0")[0].strip()
    if command == b"scan":
        leaks.scan()
    elif command == b"clear":
        leaks.text.clear()
    elif command not in (b"off", b"stack=on", b"stack=off", b"scan=on", b"scan=off") and \
            not command.startswith((b"scan=", b"dump=")):
        return -errno.EINVAL
    return len(data)


def _value_read(k, entry):
    if not entry["mode"] & 0o444:
        return -errno.EACCES
    m = k.machine
    if entry["kind"] == "bool":
        return b"Y\n" if m.read_int(entry["data"], 1) else b"N\n"
    size, fmt = VALUE_KINDS[entry["kind"]]
    value = m.read_int(entry["data"], size, signed=entry["kind"] == "atomic_t")
    return (fmt.format(value) + "\n").encode()


def _value_write(k, entry, data):
    if not entry["mode"] & 0o222:
        return -errno.EACCES
    from . import kernel_params
    m = k.machine
    text = bytes(data[:31])
    if entry["kind"] == "bool":     # debugfs_write_file_bool: a bad value is ignored
        rc, value = kernel_params.kstrtobool(text)
        if not rc:
            m.write_int(entry["data"], 1, int(value))
        return len(data)
    size, _ = VALUE_KINDS[entry["kind"]]
    rc, value = kernel_params.kstrtox(text, 8, False, 0)
    if rc:
        return rc
    m.write_int(entry["data"], size, value & ((1 << (8 * size)) - 1))
    return len(data)
