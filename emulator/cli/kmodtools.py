"""What ``kmodsim insmod|rmmod|lsmod|modprobe`` share: Debian 12's kmod 30 tools talking to
a simulated kernel.

kmodsim's kernel lives only as long as one command: each invocation boots a fresh
:class:`~emulator.kernel.Kernel`, so ``lsmod`` and ``rmmod`` would only ever see an empty
kernel. ``--with MODULE`` loads modules into that kernel first (a file for insmod/rmmod/lsmod,
a name for modprobe), which is how a test sets up the state ``lsmod`` lists or ``rmmod``
removes. ``kmodsim shell`` and ``kmodsim script`` keep one kernel across many commands.

What each tool prints is kmod 30's: messages on stderr as ``TOOL: LEVEL: text`` (tools/log.c,
``FATAL`` ends the program with status 1), ``lsmod``'s table (tools/lsmod.c), ``modprobe -v``'s
``insmod PATH OPTIONS`` lines. The kernel's log is kmodsim's addition: ``modprobe`` prints it
(as ``kmodsim run`` does), ``insmod`` and ``rmmod`` with ``--dmesg`` or after an oops (which
the console would have shown). A process killed by an oops gets the shell's report
(``Killed``) and status 128 + signal, as in ``kmodsim run``; one stopped by a call to a kernel
function kmodsim cannot run gets kmodsim's note and status 4.

Differences from kmod, by necessity or choice: ``insmod -f``/``modprobe -f`` pass the
``MODULE_INIT_IGNORE_*`` flags to the kernel even for a compressed module (kmod strips
``__versions`` and the vermagic in userspace there); modprobe.d configuration is not read
(``modules.softdep`` in the tree is). ``depmod`` (:mod:`emulator.cli.depmod`) works on files
only.
"""

import errno
import os
import sys

from linker.errors import KmodError
from linker.module.depmod import kmod_file_load
from linker.profiles import DEFAULT_PROFILE

from ..kernel import Kernel
from ..system import KernelSystem
from .common import EXIT_NOT_SIMULATED, kmod_log, mod_strerror
from .files import check_module_file

MODULE_INIT_IGNORE_MODVERSIONS, MODULE_INIT_IGNORE_VERMAGIC = 1, 2
O_NONBLOCK, O_TRUNC = 0o4000, 0o1000

NOT_PERSISTENT = ("State does not persist between invocations: every command boots a fresh "
                  "simulated kernel (use --with to load modules into it first; kmodsim shell "
                  "and kmodsim script keep one kernel across commands).")


class Killed(Exception):
    """The tool's process died (an oops in a module's init or exit): ``status`` = 128+sig."""

    def __init__(self, status):
        super().__init__(status)
        self.status = status


def kernel_options(p, with_help):
    p.add_argument("--with", dest="with_", action="append", default=[], metavar="MODULE",
                   help=with_help)
    p.add_argument("--profile", default=None, metavar="P",
                   help="kernel profile (default: linux-6.1.0-56-amd64)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S",
                   help="wall-clock limit for each init/exit (default 10 s)")


def boot(args):
    """The command's kernel; ``kmodsim``'s main closes it when the command is over."""
    args.kernel = Kernel(args.profile or DEFAULT_PROFILE, timeout_s=args.timeout)
    return args.kernel


def process(k, comm):
    """The tool runs as its own process (``current`` in the kernel's messages)."""
    return k.tasks.spawn(comm)


def killed_status(result):
    """``None`` when the calling process survived, else its exit status (128 + signal); a
    call to a kernel function kmodsim cannot run is said on stderr, status 4."""
    if result.signal is None:
        return None
    if getattr(result, "not_simulated", None) is not None:
        sys.stdout.flush()
        print(f"kmodsim: {result.not_simulated.message}", file=sys.stderr)
        return EXIT_NOT_SIMULATED
    return 128 + result.signal if isinstance(result.signal, int) else 137


def report_killed(status):
    if status in (137, 139):
        print("Killed" if status == 137 else "Segmentation fault", file=sys.stderr)


def insert_file(k, path, args="", flags=0):
    """kmod's ``kmod_module_insert_module`` on a file: ``finit_module`` on an uncompressed
    file, ``init_module`` on a decompressed one. Returns 0 or -errno; raises ``Killed``.
    Anything but a regular file is EINVAL, as ``kernel_read_file`` says (never opened
    blocking: a FIFO would hang kmod's open)."""
    try:
        check_module_file(path)
    except OSError as exc:
        return -(exc.errno or errno.EINVAL)
    try:
        data, direct = kmod_file_load(path)
    except KmodError as exc:
        return -exc.errno
    result = k.init_module(data, args, flags, syscall="finit_module" if direct else "init_module")
    status = killed_status(result)
    if status is not None:
        raise Killed(status)
    return result.rc


def delete_module(k, name, flags):
    result = k.delete_module(name, flags)
    status = killed_status(result)
    if status is not None:
        raise Killed(status)
    return result.rc


GOLDEN_RATIO_64 = 0x61C8864680B583EB
INT_MAX = 0x7FFFFFFF


def kernfs_name_hash(name):
    """fs/kernfs/dir.c ``kernfs_name_hash`` (no namespace) on x86-64: ``partial_name_hash``
    per character, ``end_name_hash`` = ``hash_64(hash, 32)``, 31 bits kept, 0, 1 and
    INT_MAX reserved. sysfs directories list their entries in this order."""
    mask = (1 << 64) - 1
    h = 0
    for b in name.encode("latin-1"):
        c = (b - 256) & mask if b > 127 else b       # *name++ is a signed char
        h = ((h + (c << 4) + (c >> 4)) * 11) & mask
    h = (((h * GOLDEN_RATIO_64) & mask) >> 32) & 0x7FFFFFFF
    if h < 2:
        h += 2
    if h >= INT_MAX:
        h = INT_MAX - 1
    return h


class Sysfs:
    """What kmod reads about loaded modules: /proc/modules and /sys/module/NAME/..."""

    def __init__(self, k):
        self.sys = KernelSystem(k)

    def read(self, path):
        fd = self.sys.open(path, 0)
        if fd < 0:
            return None
        data = self.sys.read(fd, 1 << 20)
        self.sys.close(fd)
        return None if isinstance(data, int) else data.decode("latin-1")

    def loaded(self):
        """``kmod_module_new_from_loaded``: the names in /proc/modules, in its order."""
        return [line.split()[0] for line in (self.read("/proc/modules") or "").splitlines()
                if line.split()]

    def initstate(self, name):
        """``kmod_module_get_initstate``: "live"/"coming"/"going", "builtin" for a module
        directory without initstate, ``None`` when not loaded."""
        state = self.read(f"/sys/module/{name}/initstate")
        if state is not None:
            return state.strip()
        st = self.sys.stat(f"/sys/module/{name}")
        return "builtin" if not isinstance(st, int) and st.is_dir else None

    def refcnt(self, name):
        text = self.read(f"/sys/module/{name}/refcnt")
        return int(text) if text is not None else -errno.ENOENT

    def holders(self, name):
        """``kmod_module_get_holders``: readdir of /sys/module/NAME/holders, which lists a
        kernfs directory in its rbtree order (``kernfs_name_hash``, then the name)."""
        names = self.sys.list_dir(f"/sys/module/{name}/holders")
        if isinstance(names, int):
            return []
        return sorted(names, key=lambda n: (kernfs_name_hash(n), n.encode("latin-1")))

    def coresize(self, name):
        text = self.read(f"/sys/module/{name}/coresize")
        return int(text) if text is not None else -errno.ENOENT


def load_with(k, paths, prog):
    """Load ``--with`` files, each by an ``insmod`` process, reporting a failure in insmod's
    words (prefixed by the tool that was asked)."""
    for path in paths:
        try:
            os.stat(path)           # kmod_module_new_from_path stats the file first
        except OSError as exc:
            kmod_log(prog, "ERROR", f"could not load module {path}: {exc.strerror}")
            return False
        task = process(k, "insmod")
        rc = insert_file(k, path)
        k.tasks.reap(task)
        if rc < 0:
            kmod_log(prog, "ERROR", f"could not insert module {path}: {mod_strerror(-rc)}")
            return False
    return True
