"""The simulated kernel as the scenario shell sees it: syscalls, /proc, /sys, /dev/kmsg.

:class:`KernelSystem` implements :class:`emulator.shell.System` over a
:class:`~emulator.kernel.Kernel`: module syscalls, the files a busybox guest reads
(``/proc/modules``, ``/proc/sys/kernel/{tainted,osrelease,printk}``, ``/sys/module/<m>/...``
with parameters by their permissions), ``/dev/kmsg`` and ``syslog(2)`` for dmesg.
"""

import errno
import posixpath
from dataclasses import dataclass

from .shell import Stat, TaskKilled

SYSLOG_ACTION_READ_ALL, SYSLOG_ACTION_READ_CLEAR, SYSLOG_ACTION_CLEAR = 3, 4, 5
SYSLOG_ACTION_CONSOLE_LEVEL, SYSLOG_ACTION_SIZE_BUFFER = 8, 10
LOG_BUF_LEN = 1 << 18  # CONFIG_LOG_BUF_SHIFT=18 on Debian
O_ACCMODE, O_WRONLY, O_RDWR = 3, 1, 2


@dataclass
class Node:
    """A kernel file: its text (read), its store function (write) and its mode."""

    read: object = None     # callable() -> bytes
    write: object = None    # callable(bytes) -> int (bytes taken or -errno)
    mode: int = 0o444
    is_dir: bool = False
    entries: object = None  # callable() -> list of names, for directories
    size: int | None = None  # what stat says; None: 0 for /proc, 4096 for /sys
    kind: str = ""          # "c" for a character device
    rdev: tuple = (0, 0)


class KernelSystem:
    def __init__(self, kernel):
        self.k = kernel
        self.fds = {}
        self.next_fd = 3
        self.clear_index = 0   # records before this index were cleared (dmesg -c)
        self.task_by_pid = {}

    # ------------------------------------------------------------------ modules

    def _check(self, result):
        if result.signal is not None:
            if result.signal == "panic":   # the kernel is dead: nothing runs any more
                from .kernel import KernelPanic
                raise KernelPanic(self.k.panicked)
            raise TaskKilled(result.signal)
        return result.rc

    def finit_module(self, image, args, flags=0):
        return self._check(self.k.init_module(image, args, flags))

    def init_module(self, image, args):
        return self._check(self.k.init_module(image, args, syscall="init_module"))

    def delete_module(self, name, flags):
        return self._check(self.k.delete_module(name, flags))

    # ------------------------------------------------------------------ files

    def _node(self, path):
        path = posixpath.normpath(path)
        parts = [p for p in path.split("/") if p]
        k = self.k
        if not parts:
            return None
        top = parts[0]
        if top == "proc":
            return self._proc(parts[1:])
        if top == "sys":
            return self._sys(parts[1:])
        if top == "dev" and parts[1:] == ["kmsg"]:
            return Node(read=lambda: b"", write=self._kmsg_write, mode=0o644, size=0, kind="c",
                        rdev=(1, 11))
        if top == "dev" and parts[1:] == ["console"]:
            return Node(read=lambda: b"", write=self._console_write, mode=0o600, size=0,
                        kind="c", rdev=(5, 1))
        nodes = _char_nodes(k) if top == "dev" else {}
        if top == "dev" and len(parts) == 2 and parts[1] in nodes:
            # devtmpfs: a node per device with a devt, root's, crw-------
            return Node(read=lambda: b"", mode=0o600, size=0, kind="c", rdev=nodes[parts[1]])
        if top == "dev" and not parts[1:]:
            return Node(is_dir=True, mode=0o755,
                        entries=lambda: sorted(["console", "kmsg", "null", *_char_nodes(k)]))
        return None

    def _proc(self, rest):
        k = self.k
        files = {
            ("modules",): Node(read=lambda: k.proc_modules().encode()),
            ("devices",): Node(read=lambda: _proc_devices(k)),
            ("sys", "kernel", "tainted"): Node(read=lambda: f"{k.tainted()}\n".encode(), mode=0o644),
            ("sys", "kernel", "osrelease"): Node(read=lambda: f"{k.profile.release}\n".encode()),
            ("sys", "kernel", "printk"): Node(
                read=lambda: f"{k.console_loglevel}\t4\t1\t7\n".encode(), mode=0o644),
        }
        node = files.get(tuple(rest))
        if node is not None:
            return node
        from .kapi.devices import proc_entries, proc_show
        entries = {e["name"]: e for e in proc_entries(k).values()}
        if len(rest) == 1 and rest[0] in entries:
            entry = entries[rest[0]]
            def read():
                data = proc_show(k, entry)
                if data is not None and not isinstance(data, bytes):   # show oopsed
                    self._check(data)
                return data or b""
            return Node(read=read, mode=entry["mode"])
        if not rest:
            names = sorted(["devices", "modules", "sys", *entries])
            return Node(is_dir=True, mode=0o555, entries=lambda: names)
        dirs = { ("sys",): ["kernel"],
                ("sys", "kernel"): ["osrelease", "printk", "tainted"]}
        if tuple(rest) in dirs:
            names = dirs[tuple(rest)]
            return Node(is_dir=True, mode=0o555, entries=lambda: names)
        return None

    def _sys(self, rest):
        k = self.k
        if not rest:
            return Node(is_dir=True, mode=0o555, entries=lambda: ["class", "module"])
        if rest[0] == "class":
            return _sys_class(k, rest[1:])
        if rest[0] != "module":
            return None
        if len(rest) == 1:
            return Node(is_dir=True, mode=0o755,
                        entries=lambda: sorted(m.name for m in k.modules if m.state != "UNFORMED"))
        mod = k.find_module(rest[1])
        if mod is None or mod.state == "UNFORMED":
            return None
        return self._module_node(mod, rest[2:])

    def _module_node(self, mod, rest):
        from .modules import module_flags
        lm = mod.lm
        attrs = {
            "coresize": lambda: f"{mod.core_size}\n".encode(),
            "initsize": lambda: f"{mod.init_size}\n".encode(),
            "initstate": lambda: ({"LIVE": "live", "COMING": "coming", "GOING": "going"}
                                  .get(mod.state, "unknown") + "\n").encode(),
            "refcnt": lambda: f"{mod.refcnt - 1}\n".encode(),
            "taint": lambda: (module_flags(mod, show_state=False).strip("()") + "\n").encode(),
            "uevent": None,
        }
        info = getattr(lm, "info", None)
        for key in ("srcversion", "version"):
            value = info.get_modinfo(key) if info is not None else None
            if value is not None:
                attrs[key] = (lambda v=value: f"{v}\n".encode())
        params = [p for p in getattr(mod, "params", []) if p.perm]
        dirs = ["holders", "notes", "sections"] + (["parameters"] if params else [])
        if not rest:
            return Node(is_dir=True, mode=0o755, entries=lambda: sorted(list(attrs) + dirs))
        name = rest[0]
        if name in attrs and len(rest) == 1:
            if name == "uevent":
                return Node(read=lambda: b"", write=lambda data: len(data), mode=0o200)
            return Node(read=attrs[name])
        if name == "holders":
            if len(rest) == 1:
                return Node(is_dir=True, mode=0o755, entries=lambda: sorted(h.name for h in mod.holders))
            return Node(is_dir=True, mode=0o755, entries=lambda: []) \
                if any(h.name == rest[1] for h in mod.holders) and len(rest) == 2 else None
        if name == "notes" and len(rest) == 1:
            return Node(is_dir=True, mode=0o755, entries=lambda: [])
        if name == "sections":
            secs = self._sections(mod)
            if len(rest) == 1:
                return Node(is_dir=True, mode=0o755, entries=lambda: sorted(secs))
            if len(rest) == 2 and rest[1] in secs:
                return Node(read=lambda: f"0x{secs[rest[1]]:016x}\n".encode(), mode=0o400)
            return None
        if name == "parameters" and params:
            if len(rest) == 1:
                return Node(is_dir=True, mode=0o755, entries=lambda: sorted(p.name for p in params))
            p = next((p for p in params if p.name == rest[1]), None)
            if p is None or len(rest) != 2:
                return None
            return Node(read=lambda: self._param_get(p), write=lambda data: self._param_set(p, data),
                        mode=p.perm)
        return None

    def _sections(self, mod):
        lm = mod.lm
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

    def _param_get(self, p):
        from .kapi import params
        return params.param_get(p, self.k.machine)

    def _param_set(self, p, data):
        from .kapi import params
        from .kapi.paramops import param_heap
        return params.param_store(p, data, self.k.machine, param_heap(self.k), printk=self.k.printk)

    def _kmsg_write(self, data):
        """devkmsg_write: an optional ``<N>`` prefix (facility << 3 | level), user facility."""
        text = data.decode("latin-1")
        level, facility = 4, 1
        if text.startswith("<"):
            end = text.find(">")
            if end > 1 and text[1:end].isdigit():
                u = int(text[1:end])
                level, facility = u & 7, u >> 3 or 1
                text = text[end + 1:]
        self.k.printk(level, text.rstrip("\n"))
        self.k.log[-1].facility = facility
        return len(data)

    def stat(self, path):
        node = self._node(path)
        if node is None:
            return -errno.ENOENT
        size = node.size
        if size is None:   # procfs files say 0, sysfs attributes a page
            size = 0 if node.is_dir or path.startswith("/proc") else 4096
        return Stat(node.is_dir, node.mode, size, node.kind, node.rdev)

    def _console_write(self, data):
        self.k.console.append(bytes(data).decode("latin-1"))
        return len(data)

    def list_dir(self, path):
        node = self._node(path)
        if node is None:
            return -errno.ENOENT
        if not node.is_dir:
            return -errno.ENOTDIR
        return list(node.entries())

    def open(self, path, flags):
        node = self._node(path)
        if node is None:
            return -errno.ENOENT
        writing = flags & O_ACCMODE in (O_WRONLY, O_RDWR)
        if writing and (node.is_dir or not node.mode & 0o222):
            return -errno.EISDIR if node.is_dir else -errno.EACCES
        if not writing and not node.is_dir and not node.mode & 0o444:
            return -errno.EACCES
        fd = self.next_fd
        self.next_fd += 1
        self.fds[fd] = [node, None]
        return fd

    def read(self, fd, count):
        entry = self.fds.get(fd)
        if entry is None:
            return -errno.EBADF
        node, buf = entry
        if node.is_dir:
            return -errno.EISDIR
        if buf is None:
            buf = entry[1] = bytearray(node.read())
        out = bytes(buf[:count])
        del buf[:count]
        return out

    def write(self, fd, data):
        entry = self.fds.get(fd)
        if entry is None:
            return -errno.EBADF
        node = entry[0]
        if node.write is None:
            return -errno.EIO
        return node.write(bytes(data))

    def close(self, fd):
        self.fds.pop(fd, None)

    # ------------------------------------------------------------------ log, console

    def syslog(self, action, length=0):
        k = self.k
        if action in (SYSLOG_ACTION_READ_ALL, SYSLOG_ACTION_READ_CLEAR):
            from .kernel import format_record
            out = []
            for rec in k.log[self.clear_index:]:
                prefix = f"<{getattr_facility(rec) << 3 | rec.level}>"
                out.append("\n".join(prefix + line for line in format_record(rec).split("\n")) + "\n")
            data = "".join(out).encode("latin-1")
            if action == SYSLOG_ACTION_READ_CLEAR:
                self.clear_index = len(k.log)
            return data[-length:] if length else data
        if action == SYSLOG_ACTION_CLEAR:
            self.clear_index = len(k.log)
            return 0
        if action == SYSLOG_ACTION_CONSOLE_LEVEL:
            if not 1 <= length <= 8:
                return -errno.EINVAL
            k.console_loglevel = max(length, 1)
            return 0
        if action == SYSLOG_ACTION_SIZE_BUFFER:
            return LOG_BUF_LEN
        return -errno.EINVAL

    def console_drain(self):
        return self.k.console_drain().encode("latin-1")

    # ------------------------------------------------------------------ time, tasks

    def sleep(self, seconds):
        self.k.advance_ns(int(seconds * 1e9))

    def spawn(self, comm):
        task = self.k.spawn(comm)
        self.task_by_pid[task.pid] = task
        return task.pid

    def reap(self, pid):
        task = self.task_by_pid.pop(pid, None)
        if task is not None:
            self.k.reap(task)


def _char_nodes(k):
    from .kapi.devices import char_nodes
    return char_nodes(k)


def _sys_class(k, rest):
    """/sys/class: the guest's classes and the modules'; under a module's class (or misc)
    its devices, each with ``dev`` (major:minor) and ``uevent``."""
    from .kapi.devices import MISC_MAJOR, device_model, guest_classes, misc_minors, mkdev, split_dev
    model = device_model(k)
    classes = {name: addr for addr, name in model["classes"].items()}
    if not rest:
        return Node(is_dir=True, mode=0o755, entries=lambda: sorted([*guest_classes(), *classes]))
    key = classes.get(rest[0], "misc" if rest[0] == "misc" else None)
    if key is None:
        return (Node(is_dir=True, mode=0o755, entries=lambda: [])
                if rest[0] in guest_classes() and len(rest) == 1 else None)
    devices = {d["name"]: d for d in model["devices"].values() if d["class"] == key}
    if key == "misc":   # the guest's own misc devices too
        devices = {name: {"devt": mkdev(MISC_MAJOR, minor), "name": name}
                   for minor, name in misc_minors(k).items()} | devices
    if len(rest) == 1:
        return Node(is_dir=True, mode=0o755, entries=lambda: sorted(devices))
    dev = devices.get(rest[1])
    if dev is None:
        return None
    major, minor = split_dev(dev["devt"])
    files = {"dev": f"{major}:{minor}\n",
             "uevent": f"MAJOR={major}\nMINOR={minor}\nDEVNAME={dev['name']}\n"}
    if len(rest) == 2:
        return Node(is_dir=True, mode=0o755, entries=lambda: sorted(files))
    if len(rest) == 3 and rest[2] in files:
        text = files[rest[2]].encode()
        return Node(read=lambda: text, mode=0o444 if rest[2] == "dev" else 0o644)
    return None


def _proc_devices(k):
    from .kapi.devices import proc_devices
    return proc_devices(k).encode()


def getattr_facility(rec):
    f = getattr(rec, "facility", 0)
    return f if isinstance(f, int) else 0
