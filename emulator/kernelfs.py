"""The kernel's own file systems as the guest's /init mounts them: procfs on /proc, sysfs on
/sys, devtmpfs on /dev. :func:`node` resolves a path under them to a
:class:`~emulator.files.Node` (or None); :mod:`emulator.files` opens it.

* /dev: the memory devices (null, zero, kmsg, console), a node per device a module made
  (``device_create`` with a devt, ``misc_register``; gone with the device), and the nodes
  ``mknod`` made there.
* /proc: modules, devices, misc, sys/kernel/{tainted,osrelease,printk}, a directory per
  task (``comm``, ``status``, ``cmdline``), ``self``, and the modules' entries
  (``proc_create*``, ``proc_mkdir``: their proc_ops run in the CPU, emulator.fops).
* /sys: module (each module's attributes, parameters written through their ops), class
  (the guest's and the modules' classes, their devices with dev, uevent and the
  attributes device_create_file adds), kernel, fs, firmware, power (the well-known kobjects
  and the kobjects modules add under them, with their attributes).
"""

import errno
import posixpath

from . import fops
from .drivers import char_nodes
from .openfile import MEM_NODES, S_IFREG, Node
from .modules import linux_parts


def node(fs, path):
    path = posixpath.normpath(path)
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    top, rest = parts[0], parts[1:]
    if top == "proc":
        return _proc(fs, rest)
    if top == "sys":
        return _sys(fs, rest)
    if top == "dev":
        return _dev(fs, rest)
    return None


def _dir(names, mode=0o755):
    return Node(is_dir=True, mode=mode, entries=lambda: sorted(names() if callable(names) else names))


# --------------------------------------------------------------------------- /dev

def _dev(fs, rest):
    k = fs.k
    if not rest:
        return _dir(lambda: [*MEM_NODES, *char_nodes(k), *fs.dev_nodes])
    if len(rest) != 1:
        return None
    name = rest[0]
    if name in MEM_NODES:
        rdev, mode = MEM_NODES[name]
        return Node(mode=mode, size=0, kind="c", rdev=rdev)
    nodes = char_nodes(k)
    if name in nodes:      # devtmpfs: root's, crw-------
        return Node(mode=0o600, size=0, kind="c", rdev=nodes[name])
    if name in fs.dev_nodes:
        kind, rdev, mode = fs.dev_nodes[name]
        return Node(mode=mode, size=0, kind=kind, rdev=rdev)
    return None


# --------------------------------------------------------------------------- /proc

def _proc(fs, rest):
    k = fs.k
    files = {
        ("modules",): lambda: Node(read=lambda: k.proc_modules().encode()),
        ("devices",): lambda: Node(read=lambda: _proc_devices(k)),
        ("misc",): lambda: Node(read=lambda: _proc_misc(k)),
        ("interrupts",): lambda: Node(read=lambda: k.irqs.proc_interrupts().encode()),
        ("ioports",): lambda: Node(read=lambda: k.irqs.proc_ioports().encode()),
        ("sys", "kernel", "tainted"): lambda: Node(
            read=lambda: f"{k.taints.mask()}\n".encode(), mode=0o644),
        ("sys", "kernel", "osrelease"): lambda: Node(
            read=lambda: f"{k.profile.release}\n".encode()),
        ("sys", "kernel", "printk"): lambda: Node(
            read=lambda: f"{k.log.console_loglevel}\t4\t1\t7\n".encode(), mode=0o644),
    }
    make = files.get(tuple(rest))
    if make is not None:
        return make()
    dirs = {("sys",): ["kernel"], ("sys", "kernel"): ["osrelease", "printk", "tainted"]}
    if tuple(rest) in dirs:
        return _dir(dirs[tuple(rest)], 0o555)
    if not rest:
        return _dir(lambda: ["devices", "interrupts", "ioports", "misc", "modules", "sys",
                             "self",
                             *(str(t.pid) for t in _tasks(k)),
                             *(e["name"] for e in _proc_children(k, 0))], 0o555)
    if rest[0] == "self" or rest[0].isdigit():
        return _proc_pid(k, rest)
    return proc_entry_node(fs, rest)


def _tasks(k):
    return [t for t in k.tasks.all if t.pid > 0]


def _proc_children(k, parent):
    return [e for e in k.procfs.entries.values() if e.get("parent", 0) == parent]


def _proc_pid(k, rest):
    """/proc/<pid>: comm, status, cmdline of a task (self: the current one)."""
    if rest[0] == "self":
        task = k.tasks.current
    else:
        task = next((t for t in _tasks(k) if t.pid == int(rest[0])), None)
    if task is None:
        return None
    kthread = getattr(task, "kthread", None)
    if kthread is None:
        kthread = task.pid < 83 and task.pid != 1     # the guest's tasks below the shell
    files = {
        "comm": lambda: f"{task.comm}\n".encode(),
        "cmdline": lambda: b"" if kthread else getattr(task, "cmdline", task.comm.encode() + b"\0"),
        "status": lambda: _status(k, task, kthread),
    }
    if len(rest) == 1:
        return _dir(list(files), 0o555)
    if len(rest) == 2 and rest[1] in files:
        return Node(read=files[rest[1]], mode=0o644 if rest[1] == "comm" else 0o444)
    return None


def _status(k, task, kthread):
    """The first lines of proc_pid_status (fs/proc/array.c)."""
    parent = getattr(task, "ppid", None)
    if parent is None:
        parent = 0 if task.pid in (1, 2) else (2 if kthread else 1)
    state = getattr(task, "state_text", None) or "S (sleeping)"
    if task is k.tasks.current:
        state = "R (running)"
    lines = [f"Name:\t{task.comm}", "Umask:\t0022" if not kthread else "Umask:\t0000",
             f"State:\t{state}", f"Tgid:\t{task.pid}", "Ngid:\t0", f"Pid:\t{task.pid}",
             f"PPid:\t{parent}", "TracerPid:\t0", "Uid:\t0\t0\t0\t0", "Gid:\t0\t0\t0\t0"]
    return ("\n".join(lines) + "\n").encode()


def _proc_devices(k):
    from .kapi.devices import proc_devices
    return proc_devices(k).encode()


def _proc_misc(k):
    """misc_seq_show over misc_list: the newest registration first, then the guest's."""
    from .kapi.devices import MISC_MAJOR, split_dev
    lines = []
    for key, dev in reversed(list(k.devices.devices.items())):
        if isinstance(key, tuple) and key[0] == "misc":
            lines.append(f"{split_dev(dev['devt'])[1]:3d} {dev['name']}")
    from .guestdata import guest_misc
    lines += [f"{minor:3d} {name}" for minor, name in reversed(guest_misc())]
    del MISC_MAJOR
    return ("\n".join(lines) + "\n").encode()


# --------------------------------------------------------------------------- /sys

SYS_TOP = ["block", "bus", "class", "dev", "devices", "firmware", "fs", "hypervisor",
           "kernel", "module", "power"]


def _sys(fs, rest):
    k = fs.k
    if not rest:
        return _dir(SYS_TOP)
    if rest[0] == "class":
        return _sys_class(k, rest[1:])
    if rest[0] == "module":
        if len(rest) == 1:
            return _dir(lambda: [m.name for m in k.modules if m.state != "UNFORMED"])
        mod = k.modules.find(rest[1])
        if mod is None or mod.state == "UNFORMED":
            return None
        return _module_node(fs, mod, rest[2:])
    if rest[:2] == ["kernel", "debug"]:
        from .kapi.debugfs import debugfs_node
        return debugfs_node(fs, rest[2:])
    from .kapi.sysfs import sysfs_node
    node = sysfs_node(fs, rest)
    if rest == ["kernel"]:          # debugfs's mount point is always there
        names = node.entries if node is not None else (lambda: [])
        return Node(is_dir=True, mode=0o755, entries=lambda: sorted({*names(), "debug"}))
    return node


def _module_node(fs, mod, rest):
    k = fs.k
    attrs = {
        "coresize": lambda: f"{mod.core_size}\n".encode(),
        "initsize": lambda: f"{mod.init_size}\n".encode(),
        "initstate": lambda: ({"LIVE": "live", "COMING": "coming", "GOING": "going"}
                              .get(mod.state, "unknown") + "\n").encode(),
        "refcnt": lambda: f"{mod.refcnt - 1}\n".encode(),
        "taint": lambda: (mod.flags(show_state=False).strip("()") + "\n").encode(),
        "uevent": None,
    }
    info, _ = linux_parts(mod)
    for key in ("srcversion", "version"):
        value = info.get_modinfo(key) if info is not None else None
        if value is not None:
            attrs[key] = (lambda v=value: f"{v}\n".encode())
    params = [p for p in mod.params if p.perm]
    dirs = ["holders", "notes", "sections"] + (["parameters"] if params else [])
    if not rest:
        return _dir(list(attrs) + dirs)
    name = rest[0]
    if name in attrs and len(rest) == 1:
        if name == "uevent":
            return Node(read=lambda: b"", write=lambda data: len(data), mode=0o200)
        return Node(read=attrs[name])
    if name == "holders":
        if len(rest) == 1:
            return _dir(lambda: [h.name for h in mod.holders])
        return _dir([]) if any(h.name == rest[1] for h in mod.holders) and len(rest) == 2 \
            else None
    if name == "notes" and len(rest) == 1:
        return _dir([])
    if name == "sections":
        secs = _sections(mod)
        if len(rest) == 1:
            return _dir(list(secs))
        if len(rest) == 2 and rest[1] in secs:
            return Node(read=lambda: f"0x{secs[rest[1]]:016x}\n".encode(), mode=0o400)
        return None
    if name == "parameters" and params:
        if len(rest) == 1:
            return _dir([p.name for p in params])
        p = next((p for p in params if p.name == rest[1]), None)
        if p is None or len(rest) != 2:
            return None
        from .kapi import kernel_params
        from .modules import EmulatedOps
        custom = EmulatedOps(k)        # a module_param_cb's own ops run in the CPU

        def read():
            try:
                return kernel_params.param_get(p, k.machine, custom=custom)
            except kernel_params.ParamOpsError as exc:
                return -(getattr(exc, "errno", None) or errno.EIO)
        return Node(read=read,
                    write=lambda data: kernel_params.param_store(
                        p, data, k.machine, k.params, printk=k.printk, custom=custom),
                    mode=p.perm)
    return None


def _sections(mod):
    lm = mod.linked
    out = {}
    if not hasattr(lm, "placed_sections"):
        return out
    for _, name, addr, _, _ in lm.placed_sections():
        out[name] = addr
    for key in ("sym", "str"):
        idx = lm.info.index.get(key)
        if idx in lm.image.sections:
            out[lm.elf.sections[idx].name] = lm.image.address_of(idx)
    return out


def _sys_class(k, rest):
    """/sys/class: the guest's classes and the modules'; under a module's class (or misc)
    its devices, each with ``dev`` (major:minor), ``uevent`` and the attributes
    device_create_file added."""
    from .guestdata import guest_classes
    from .kapi.devices import MISC_MAJOR, mkdev, split_dev
    model = k.devices
    classes = {name: addr for addr, name in model.classes.items()}
    if not rest:
        return _dir([*guest_classes(), *classes])
    key = classes.get(rest[0], "misc" if rest[0] == "misc" else None)
    if key is None:
        return _dir([]) if rest[0] in guest_classes() and len(rest) == 1 else None
    devices = {d["name"]: d for d in model.devices.values() if d["class"] == key}
    if key == "misc":   # the guest's own misc devices too
        devices = {name: {"devt": mkdev(MISC_MAJOR, minor), "name": name}
                   for minor, name in k.misc.minors.items()} | devices
    if len(rest) == 1:
        return _dir(list(devices))
    dev = devices.get(rest[1])
    if dev is None:
        return None
    major, minor = split_dev(dev["devt"])
    files = {"dev": f"{major}:{minor}\n",
             "uevent": f"MAJOR={major}\nMINOR={minor}\nDEVNAME={dev['name']}\n"}
    if not dev["devt"]:         # no device number: no dev file, nothing to say in uevent
        files = {"uevent": ""}
    attrs = dev.get("attrs", {})
    if len(rest) == 2:
        return _dir([*files, *attrs])
    if len(rest) == 3 and rest[2] in attrs:
        from .kapi.sysfs import attribute_node
        return attribute_node(k, dev.get("kobj", 0), attrs[rest[2]])
    if len(rest) == 3 and rest[2] in files:
        text = files[rest[2]].encode()
        return Node(read=lambda: text, mode=0o444 if rest[2] == "dev" else 0o644)
    return None


# --------------------------------------------------------------------------- modules' /proc entries

def proc_path_entry(k, rest):
    """The module /proc entry at /proc/<rest...> (walking proc_mkdir directories)."""
    parent, entry = 0, None
    for name in rest:
        entry = next((e for a, e in k.procfs.entries.items()
                      if e.get("parent", 0) == parent and e["name"] == name), None)
        if entry is None:
            return None, None
        parent = entry["addr"]
    return entry, parent


def proc_entry_node(fs, rest):
    k = fs.k
    entry, _ = proc_path_entry(k, rest)
    if entry is None:
        return None
    if entry.get("is_dir"):
        addr = entry["addr"]
        return Node(is_dir=True, mode=entry["mode"] or 0o555, entries=lambda: sorted(
            e["name"] for e in k.procfs.entries.values() if e.get("parent", 0) == addr))
    if entry.get("show") is not None:       # proc_create_single_data: single_open's show
        from .kapi.devices import proc_show

        def read():
            from .errors import KernelPanic
            from .shell.syscalls import TaskKilled
            data = k.budgeted(proc_show, k, entry)    # the read syscall's budget
            if data is not None and not isinstance(data, bytes):   # show oopsed
                if data.signal == "panic" or k.panicked is not None:
                    raise KernelPanic(k.panicked)
                raise TaskKilled(data.signal if isinstance(data.signal, int) else 9)
            return data or b""
        return Node(read=read, mode=entry["mode"])
    if entry.get("seq_ops"):
        def open_seq(fs, path, flags):
            from .kapi.seqfile import ProcSeqFile
            return ProcSeqFile.open(fs, path, flags, entry)
        return Node(mode=entry["mode"], open=open_seq)
    ops = entry.get("proc_ops") or 0

    def open_(fs, path, flags):
        file = fops.ProcFile(fs, path, flags, ops, i_mode=S_IFREG | entry["mode"],
                        private=entry.get("data", 0))
        rc = file.do_open()
        return rc if rc else file
    return Node(mode=entry["mode"], open=open_)
