"""``kmodsim depmod|modprobe|insmod|rmmod|lsmod``: Debian 12's kmod 30 tools, over files and
a simulated kernel.

``depmod`` works on a real directory tree, exactly as kmod's does (see
:mod:`linker.module.depmod`). The other four talk to a kernel, and kmodsim's kernel lives
only as long as one command: each invocation boots a fresh :class:`~emulator.kernel.Kernel`,
so ``lsmod`` and ``rmmod`` would only ever see an empty kernel. ``--with MODULE`` loads
modules into that kernel first (a file for insmod/rmmod/lsmod, a name for modprobe), which is
how a test sets up the state ``lsmod`` lists or ``rmmod`` removes. ``kmodsim shell`` and
``kmodsim script`` keep one kernel across many commands.

What each tool prints is kmod 30's: messages on stderr as ``TOOL: LEVEL: text`` (tools/log.c,
``FATAL`` ends the program with status 1), ``lsmod``'s table (tools/lsmod.c), ``modprobe -v``'s
``insmod PATH OPTIONS`` lines. The kernel's log is kmodsim's addition: ``modprobe`` prints it
(as ``kmodsim run`` does), ``insmod`` and ``rmmod`` with ``--dmesg`` or after an oops (which
the console would have shown). A process killed by an oops gets the shell's report
(``Killed``) and status 128 + signal, as in ``kmodsim run``.

Differences from kmod, by necessity or choice: ``insmod -f``/``modprobe -f`` pass the
``MODULE_INIT_IGNORE_*`` flags to the kernel even for a compressed module (kmod strips
``__versions`` and the vermagic in userspace there); modprobe.d configuration is not read
(``modules.softdep`` in the tree is).
"""

import argparse
import errno
import os
import re
import sys

from linker.errors import KmodError
from linker.module.depmod import (DepmodConfig, DepmodFatal, ModuleIndex, depfile_up_to_date,
                                  kmod_file_load, run_depmod)
from linker.module.kmod_format import kmod_absolute, kmod_modname

# kmod 30 tools/insmod.c mod_strerror
MOD_STRERROR = {errno.ENOEXEC: "Invalid module format", errno.ENOENT: "Unknown symbol in module",
                errno.ESRCH: "Module has wrong symbol version", errno.EINVAL: "Invalid parameters"}
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


class Fatal(Exception):
    """A ``FATAL`` (log_printf at LOG_CRIT): already printed; the tool exits 1."""


def _log(prog, level, text):
    sys.stdout.flush()
    sys.stderr.write(f"{prog}: {level}: {text}\n")
    sys.stderr.flush()


def add_parser(sub):
    _add_depmod(sub)
    _add_modprobe(sub)
    _add_insmod(sub)
    _add_rmmod(sub)
    _add_lsmod(sub)


def _kernel_options(p, with_help):
    p.add_argument("--with", dest="with_", action="append", default=[], metavar="MODULE",
                   help=with_help)
    p.add_argument("--profile", default=None, metavar="P",
                   help="kernel profile (default: linux-6.1.0-56-amd64)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S",
                   help="wall-clock limit for each init/exit (default 10 s)")


def _boot(args):
    from linker.profiles import DEFAULT_PROFILE

    from .kernel import Kernel
    return Kernel(args.profile or DEFAULT_PROFILE, timeout_s=args.timeout)


def _process(k, comm):
    """The tool runs as its own process (``current`` in the kernel's messages)."""
    return k.spawn(comm)


def _killed_status(result):
    """``None`` when the calling process survived, else its exit status (128 + signal)."""
    if result.signal is None:
        return None
    return 128 + result.signal if isinstance(result.signal, int) else 137


def _report_killed(status):
    if status in (137, 139):
        print("Killed" if status == 137 else "Segmentation fault", file=sys.stderr)


def insert_file(k, path, args="", flags=0):
    """kmod's ``kmod_module_insert_module`` on a file: ``finit_module`` on an uncompressed
    file, ``init_module`` on a decompressed one. Returns 0 or -errno; raises ``Killed``."""
    try:
        data, direct = kmod_file_load(path)
    except KmodError as exc:
        return -exc.errno
    result = k.init_module(data, args, flags, syscall="finit_module" if direct else "init_module")
    status = _killed_status(result)
    if status is not None:
        raise Killed(status)
    return result.rc


def delete_module(k, name, flags):
    result = k.delete_module(name, flags)
    status = _killed_status(result)
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
        from .system import KernelSystem
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


# --------------------------------------------------------------------------- depmod

def _add_depmod(sub):
    p = sub.add_parser(
        "depmod", help="compute module dependencies and write modules.dep etc., as kmod's depmod",
        description="Read every module under BASEDIR/lib/modules/VERSION and write modules.dep, "
                    "modules.alias, modules.softdep, modules.symbols, modules.devname and the "
                    "binary indexes (modules.*.bin) byte for byte as Debian 12's kmod 30 depmod "
                    "does. A module depends on the modules exporting the symbols it needs; "
                    "symbols no module exports (the kernel's) are ignored, and -E, -F or "
                    "--profile-exports only tell -e which of them the kernel provides. Not "
                    "read: depmod.d configuration (kmod's defaults are used).",
        epilog="VERSION defaults to the kernel profile's release (6.1.0-56-amd64). With module "
               "FILEs (absolute paths) after VERSION only those are read, as in kmod.")
    p.add_argument("-a", "--all", action="store_true", help="probe all modules (the default)")
    p.add_argument("-A", "--quick", action="store_true",
                   help="only do the work if a module is newer than modules.dep")
    p.add_argument("-b", "--basedir", metavar="DIR", help="use an image of a module tree")
    p.add_argument("-e", "--errsyms", action="store_true",
                   help="report symbols no module or kernel exports (needs -E, -F or "
                        "--profile-exports)")
    p.add_argument("-E", "--symvers", metavar="FILE",
                   help="Module.symvers: vmlinux's exports and CRCs (checked with -e)")
    p.add_argument("-F", "--filesyms", metavar="FILE", help="System.map: the kernel's exports")
    p.add_argument("--profile-exports", action="store_true",
                   help="kmodsim: take the kernel profile's vmlinux exports as -E would")
    p.add_argument("-n", "--show", "--dry-run", dest="show", action="store_true",
                   help="write the dependency files on stdout only")
    p.add_argument("-P", "--symbol-prefix", metavar="C", help="architecture symbol prefix")
    p.add_argument("-w", "--warn", action="store_true", help="warn on duplicates")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="print each dependency found")
    p.add_argument("--profile", default=None, metavar="P",
                   help="kernel profile giving the default VERSION (and --profile-exports)")
    p.add_argument("version", nargs="?", metavar="VERSION")
    p.add_argument("files", nargs="*", metavar="FILE")
    p.set_defaults(run=run_depmod_cmd)
    return p


def is_version_number(version):
    """``sscanf(version, "%u.%u")`` matching two numbers."""
    return re.match(r"\s*[+-]?\d+\.\s*[+-]?\d+", version) is not None


def _load_profile(args):
    from linker.profiles import DEFAULT_PROFILE, load_profile
    return load_profile(args.profile or DEFAULT_PROFILE)


def run_depmod_cmd(args):
    def log(level, text):
        _log("depmod", level, text)
    if args.version is not None and not is_version_number(args.version):
        log("ERROR", f"Bad version passed {args.version}")
        return 1
    if args.symbol_prefix is not None and len(args.symbol_prefix) != 1:
        log("FATAL", "-P only takes a single char")
        return 1
    version = args.version or _load_profile(args).release
    root = kmod_absolute(args.basedir) if args.basedir else ""
    cfg = DepmodConfig(f"{root}/lib/modules/{version}", sym_prefix=args.symbol_prefix or "",
                       print_unknown=args.errsyms, warn_dups=args.warn)
    use_all = args.all or not args.files
    if args.quick:
        if args.show:
            return 0
        try:
            if depfile_up_to_date(cfg.dirname):
                return 0
        except OSError as exc:
            log("ERROR", f"could not fstatat({cfg.dirname}, modules.dep): {exc.strerror}")
        use_all = True
    symvers = system_map = None
    try:
        if args.symvers:
            cfg.check_symvers = True
            symvers = (args.symvers, _read_lines(args.symvers))
        elif args.filesyms:
            system_map = (args.filesyms, _read_lines(args.filesyms))
        elif args.profile_exports:
            cfg.check_symvers = True
            profile = _load_profile(args)
            symvers = (profile.name, [f"0x{e.crc or 0:08x}\t{e.name}\tvmlinux\tEXPORT_SYMBOL\n"
                                      for e in profile.exports.values()
                                      if e.exporter == "vmlinux"])
        elif cfg.print_unknown:
            log("WARNING", "-e needs -E or -F")
            cfg.print_unknown = False
    except OSError as exc:
        log("FATAL", f"could not load {exc.filename}: {exc.strerror}")
        return 1
    show = _write_stdout if args.verbose else None
    try:
        dm = run_depmod(cfg, log, files=None if use_all else args.files, symvers=symvers,
                        system_map=system_map, show=show)
        sys.stdout.flush()
        dm.output(sys.stdout.buffer if args.show else None)
    except DepmodFatal as exc:
        if exc.message:
            log("FATAL", exc.message)
        return 1
    sys.stdout.flush()
    return 0


def _write_stdout(text):
    sys.stdout.write(text)
    sys.stdout.flush()


def _read_lines(path):
    with open(path, encoding="latin-1") as fh:
        return fh.readlines()


# --------------------------------------------------------------------------- modprobe

def _add_modprobe(sub):
    p = sub.add_parser(
        "modprobe", help="load a module and its dependencies by name, as kmod's modprobe",
        description="Find MODULE (a module name, '-' and '_' alike, a symbol:NAME, an alias "
                    "or a builtin module) in the indexes depmod writes in "
                    "DIR/lib/modules/VERSION (modules.dep.bin, modules.symbols.bin, "
                    "modules.alias.bin, modules.builtin.bin, modules.builtin.alias.bin: like "
                    "libkmod, the text files are not read), load its soft and hard "
                    "dependencies and then it into a fresh simulated kernel, and print the "
                    "kernel log. Messages and exit status are kmod 30's. Run 'kmodsim depmod' "
                    "on the tree first: like kmod, modprobe does not compute dependencies "
                    "itself. " + NOT_PERSISTENT,
        epilog="Soft dependencies come from the tree's modules.softdep, which libkmod reads as "
               "configuration. Not imitated: modprobe.d configuration (options, aliases, "
               "softdeps, install/remove commands, blacklists).")
    p.add_argument("-d", "--dirname", metavar="DIR",
                   help="use DIR as filesystem root for /lib/modules")
    p.add_argument("-S", "--set-version", metavar="VERSION",
                   help="use VERSION instead of the profile's release")
    p.add_argument("-r", "--remove", action="store_true",
                   help="remove modules instead of inserting")
    p.add_argument("--remove-holders", action="store_true",
                   help="also remove module holders (with -r)")
    p.add_argument("-a", "--all", action="store_true",
                   help="consider every argument a module name to insert (or remove with -r)")
    p.add_argument("--first-time", action="store_true",
                   help="fail if module already inserted or removed")
    p.add_argument("-f", "--force", action="store_true",
                   help="ignore the module's version magic and symbol versions")
    p.add_argument("-n", "--dry-run", "--show", dest="dry_run", action="store_true",
                   help="do not load or unload, just resolve")
    p.add_argument("-D", "--show-depends", action="store_true",
                   help="only print the insmod lines for the module and its dependencies")
    p.add_argument("-R", "--resolve-alias", action="store_true",
                   help="only print the module names MODULE resolves to")
    p.add_argument("-q", "--quiet", action="store_true", help="disable messages")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="print each insmod/rmmod it does")
    _kernel_options(p, "modprobe this module (by name) first; -v does not print its "
                       "insmod lines (repeatable)")
    p.add_argument("module", metavar="MODULE")
    p.add_argument("params", nargs="*", metavar="PARAM=VAL",
                   help="module parameters (with -a or -r: more modules)")
    p.set_defaults(run=run_modprobe)
    return p


def options_from_array(params):
    """modprobe.c ``options_from_array``: joined by spaces, a value with a space quoted."""
    out = []
    for arg in params:
        key, eq, value = arg.partition("=")
        if eq and value[:1] not in ('"', "'") and " " in value:
            arg = f'{key}="{value}"'
        out.append(arg)
    return " ".join(out)


class Modprobe:
    """``do_modprobe``'s state: the tree, the options, the kernel and how loud to be."""

    def __init__(self, args, k):
        self.args = args
        self.k = k
        self.sysfs = Sysfs(k)
        version = args.set_version or _load_profile(args).release
        self.index = ModuleIndex(f"{args.dirname or ''}/lib/modules/{version}")
        # the LOG macro: FATAL (and the end) normally, a WARNING with -a, silent with -q
        self.log_level = "WARNING" if args.all else "FATAL"
        self.dry_run = args.dry_run or args.show_depends
        self.show = args.show_depends or args.verbose > 0

    def log(self, text):
        """modprobe.c's ``LOG``: silenced by -q (and then not fatal either)."""
        if self.args.quiet:
            return
        _log("modprobe", self.log_level, text)
        if self.log_level == "FATAL":
            raise Fatal()

    def err(self, text):
        if not self.args.quiet:
            _log("modprobe", "ERROR", text)

    def initstate(self, name):
        """``kmod_module_get_initstate``: modules.builtin first, then /sys/module."""
        return "builtin" if self.index.is_builtin(name) else self.sysfs.initstate(name)

    def in_kernel(self, name):
        """``module_is_inkernel``: live, coming or built in."""
        return self.initstate(name) in ("live", "coming", "builtin")

    # ---- inserting

    def insmod(self, alias, options):
        """modprobe.c ``insmod``: resolve, then probe each module found."""
        names = self.index.lookup(alias)
        if not names:
            self.log(f"Module {alias} not found in directory {self.index.dirname}")
            return -errno.ENOENT
        err = 0
        for name in names:
            if self.args.resolve_alias:
                print(name)
                err = 0
                continue
            err = self.probe_insert(name, options)
            if err >= 0:
                err = 0
            elif err == -errno.EEXIST:
                self.err(f"could not insert '{name}': Module already in kernel")
            elif err == -errno.ENOENT:
                self.err(f"could not insert '{name}': Unknown symbol in module, or unknown "
                         f"parameter (see dmesg)")
            else:
                self.err(f"could not insert '{name}': {os.strerror(-err)}")
        return err

    def probe_list(self, name):
        """``kmod_module_get_probe_list``: ``[(modname, required)]`` in loading order. Each
        dependency (modules.dep's list backwards) comes after its own pre-softdeps and
        before its post-softdeps, then the module the same way; a softdep brings its own
        dependencies. Only the module and its dependencies are required."""
        out, visited = [], set()
        required = {name} | {m for m, _ in self.index.dependencies(name)}

        def get_probe_list(mod):
            if mod in visited:
                return
            visited.add(mod)
            for dep, _path in self.index.dependencies(mod):
                fill_softdep(dep)
            fill_softdep(mod)

        def fill_softdep(mod):
            pre, post = self.index.softdeps(mod)
            for soft in self._softdep_modules(pre):
                get_probe_list(soft)
            out.append(mod)
            for soft in self._softdep_modules(post):
                get_probe_list(soft)
        get_probe_list(name)
        return [(m, m in required) for m in out]

    def _softdep_modules(self, looked_up):
        for depname, names in looked_up:
            if names is None:
                self.err(f"failed to lookup soft dependency '{depname}', continuing anyway.")
            yield from names or ()

    def probe_insert(self, name, options):
        """``kmod_module_probe_insert_module``: every module of the probe list not loaded
        yet, in order; a failure of a required one stops the rest."""
        ignore_loaded = self.args.show_depends
        if not ignore_loaded and self.in_kernel(name):
            return -errno.EEXIST if self.args.first_time else 0
        flags = 0
        if self.args.force:
            flags = MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC
        err = 0
        for m, required in self.probe_list(name):
            if not ignore_loaded and self.in_kernel(m):
                err = -errno.EEXIST
            else:
                err = self.insert(m, options if m == name else "", flags)
            if err == -errno.EEXIST and m == name and self.args.first_time:
                break
            if err == -errno.EEXIST or not required:
                err = 0
            elif err < 0:
                break
        return err

    def insert(self, name, options, flags):
        """The print_action line (-v, -D), then ``kmod_module_insert_module``."""
        path = self.index.path(name)
        if self.show:
            if path is not None:
                print(f"insmod {path} {options}", flush=True)
            elif self.initstate(name) == "builtin":
                print(f"builtin {name}", flush=True)
        if self.dry_run:
            return 0
        if path is None:
            self.err(f"could not find module by name='{name}'")
            return -errno.ENOENT
        return insert_file(self.k, path, options, flags)

    # ---- removing

    def rmmod(self, alias):
        """modprobe.c ``rmmod``: resolve, then remove each module found."""
        names = self.index.lookup(alias)
        if not names:
            self.log(f"Module {alias} not found.")
            return -errno.ENOENT
        err = 0
        for name in names:
            err = self.rmmod_do_module(name, holders=self.args.remove_holders)
            if err < 0:
                break
        return err

    def rmmod_do_module(self, name, holders=False, ignore_builtin=False):
        """``rmmod_do_module``: post-softdeps, holders (with --remove-holders), refuse a
        module in use, remove it, then its dependencies nothing uses any more, then its
        pre-softdeps (softdeps in reverse order, their errors ignored)."""
        pre, post = self.index.softdeps(name)
        state = self.initstate(name)
        if state is None:
            if self.args.first_time:
                self.log(f"Module {name} is not in kernel.")
                return -errno.ENOENT
            return 0
        if state == "builtin":
            if ignore_builtin:
                return 0
            self.log(f"Module {name} is builtin.")
            return -errno.ENOENT
        for soft in reversed(list(self._softdep_modules(post))):
            self.rmmod_do_module(soft, ignore_builtin=True)
        if holders:
            for holder in reversed(self.sysfs.holders(name)):
                err = self.rmmod_do_module(holder, ignore_builtin=True)
                if err < 0:
                    return err
        if self.sysfs.refcnt(name) > 0:
            self.log(f"Module {name} is in use.")
            return -errno.EBUSY
        err = self.remove_module(name)
        if err < 0:
            return err
        for dep, _path in self.index.dependencies(name):
            if self.sysfs.refcnt(dep) == 0:
                self.remove_module(dep)
        for soft in reversed(list(self._softdep_modules(pre))):
            self.rmmod_do_module(soft, ignore_builtin=True)
        return 0

    def remove_module(self, name):
        """``rmmod_do_remove_module``: delete_module, libkmod's error on failure."""
        if self.show:
            print(f"rmmod {name}", flush=True)
        if self.dry_run:
            return 0
        rc = delete_module(self.k, name, O_NONBLOCK | (O_TRUNC if self.args.force else 0))
        if rc < 0:
            self.err(f"could not remove '{name}': {os.strerror(-rc)}")
        return rc


def run_modprobe(args):
    k = _boot(args)
    mp = Modprobe(args, k)
    status = 0
    try:
        show, mp.show = mp.show, False
        for name in args.with_:
            task = _process(k, "modprobe")
            mp.insmod(name, "")
            k.reap(task)
        mp.show = show
        _process(k, "modprobe")
        if args.remove:
            err = 0
            for alias in [args.module] + args.params:
                r = mp.rmmod(alias)
                err = r if r < 0 else err
        elif args.all:
            err = 0
            for alias in [args.module] + args.params:
                r = mp.insmod(alias, "")
                err = r if r < 0 else err
        else:
            err = mp.insmod(args.module, options_from_array(args.params))
        status = 0 if err >= 0 else 1
    except Fatal:
        status = 1
    except Killed as exc:
        status = exc.status
    if not (args.show_depends or args.resolve_alias or args.dry_run):
        sys.stdout.write(k.dmesg())
    sys.stdout.flush()
    _report_killed(status)
    return status


# --------------------------------------------------------------------------- insmod

def _add_insmod(sub):
    p = sub.add_parser(
        "insmod", help="load a module file into a fresh simulated kernel, as kmod's insmod",
        description="Load FILE (uncompressed, .xz or .zst) with ARGS into a fresh simulated "
                    "kernel. Like kmod 30's insmod it prints nothing on success and "
                    "'insmod: ERROR: could not insert module FILE: REASON' (exit 1) on failure. "
                    "Options go before FILE: everything after it is a module parameter. "
                    + NOT_PERSISTENT)
    p.add_argument("-f", "--force", action="store_true",
                   help="ignore the module's version magic and symbol versions")
    p.add_argument("-p", "-s", dest="ignored", action="store_true",
                   help="ignored, for compatibility only")
    p.add_argument("--dmesg", action="store_true", help="print the kernel log afterwards")
    _kernel_options(p, "insmod this module file first (repeatable)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="module parameters")
    p.set_defaults(run=run_insmod)
    return p


def _load_with(k, paths, prog):
    """Load ``--with`` files, each by an ``insmod`` process, reporting a failure in insmod's
    words (prefixed by the tool that was asked)."""
    for path in paths:
        task = _process(k, "insmod")
        rc = insert_file(k, path)
        k.reap(task)
        if rc < 0:
            _log(prog, "ERROR", f"could not insert module {path}: {_mod_strerror(-rc)}")
            return False
    return True


def _mod_strerror(err):
    return MOD_STRERROR.get(err, os.strerror(err))


def run_insmod(args):
    filename = args.file
    if filename == "-":
        _log("insmod", "ERROR", "this tool does not support loading from stdin!")
        return 1
    k = _boot(args)
    status = 0
    try:
        if not _load_with(k, args.with_, "insmod"):
            status = 1
        elif _stat_error(filename):
            # kmod_module_new_from_path stats the file before anything else
            _log("insmod", "ERROR", f"could not load module {filename}: "
                                    f"{_stat_error(filename)}")
            status = 1
        else:
            flags = (MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC
                     if args.force else 0)
            _process(k, "insmod")
            rc = insert_file(k, filename, " ".join(args.args), flags)
            if rc < 0:
                _log("insmod", "ERROR", f"could not insert module {filename}: {_mod_strerror(-rc)}")
                status = 1
    except Killed as exc:
        status = exc.status
    if args.dmesg or status > 128:
        sys.stdout.write(k.dmesg())
        sys.stdout.flush()
    _report_killed(status)
    return status


def _stat_ok(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _stat_error(path):
    """What stat(2) on the path (made absolute as kmod does) says, or ""."""
    try:
        os.stat(kmod_absolute(path))
    except OSError as exc:
        return exc.strerror
    return ""


# --------------------------------------------------------------------------- rmmod

def _add_rmmod(sub):
    p = sub.add_parser(
        "rmmod", help="unload modules from a fresh simulated kernel, as kmod's rmmod",
        description="Remove MODULE (a name, or a module file's name) from a fresh simulated "
                    "kernel with kmod 30's checks and messages ('rmmod: ERROR: Module X is not "
                    "currently loaded', '... is in use by: ...'). " + NOT_PERSISTENT)
    p.add_argument("-f", "--force", action="store_true",
                   help="force the unload (O_TRUNC; the kernel allows it only with "
                        "CONFIG_MODULE_FORCE_UNLOAD)")
    p.add_argument("-s", "--syslog", action="store_true", help="ignored: messages go to stderr")
    p.add_argument("-v", "--verbose", action="count", default=0, help="accepted, no effect")
    p.add_argument("--dmesg", action="store_true", help="print the kernel log afterwards")
    _kernel_options(p, "insmod this module file first (repeatable)")
    p.add_argument("modules", nargs="+", metavar="MODULE")
    p.set_defaults(run=run_rmmod)
    return p


def check_module_inuse(sysfs, name):
    """rmmod.c ``check_module_inuse``: 0, or -errno after printing why not."""
    state = sysfs.initstate(name)
    if state == "builtin":
        _log("rmmod", "ERROR", f"Module {name} is builtin.")
        return -errno.ENOENT
    if state is None:
        _log("rmmod", "ERROR", f"Module {name} is not currently loaded")
        return -errno.ENOENT
    holders = sysfs.holders(name)
    if holders:
        sys.stdout.flush()
        sys.stderr.write(f"rmmod: ERROR: Module {name} is in use by:"
                         + "".join(f" {h}" for h in holders) + "\n")
        return -errno.EBUSY
    ret = sysfs.refcnt(name)
    if ret > 0:
        _log("rmmod", "ERROR", f"Module {name} is in use")
        return -errno.EBUSY
    if ret == -errno.ENOENT:
        _log("rmmod", "ERROR", "Module unloading is not supported")
    return ret


def run_rmmod(args):
    k = _boot(args)
    sysfs = Sysfs(k)
    failures = 0
    status = None
    try:
        if not _load_with(k, args.with_, "rmmod"):
            failures = 1
            args.modules = []
        if args.modules:
            _process(k, "rmmod")
        for arg in args.modules:
            # a path names the module by its file name, anything else is normalised
            name = kmod_modname(arg)
            if not _stat_ok(arg):
                name = arg.split(".", 1)[0].replace("-", "_")
            if not args.force and check_module_inuse(sysfs, name) < 0:
                failures += 1
                continue
            rc = delete_module(k, name, O_NONBLOCK | (O_TRUNC if args.force else 0))
            if rc < 0:
                _log("rmmod", "ERROR", f"could not remove '{name}': {os.strerror(-rc)}")
                _log("rmmod", "ERROR", f"could not remove module {arg}: {os.strerror(-rc)}")
                failures += 1
    except Killed as exc:
        status = exc.status
    if args.dmesg or status is not None:
        sys.stdout.write(k.dmesg())
        sys.stdout.flush()
    if status is not None:
        _report_killed(status)
        return status
    return 1 if failures else 0


# --------------------------------------------------------------------------- lsmod

def _add_lsmod(sub):
    p = sub.add_parser(
        "lsmod", help="list the modules of a fresh simulated kernel, as kmod's lsmod",
        description="Print kmod 30's lsmod table (name, size, use count, holders) for the "
                    "modules loaded with --with. " + NOT_PERSISTENT)
    _kernel_options(p, "insmod this module file first (repeatable)")
    p.set_defaults(run=run_lsmod)
    return p


def format_lsmod(sysfs):
    """tools/lsmod.c: a header, then ``%-19s %8ld  %d`` and the holders, comma-separated."""
    lines = ["Module                  Size  Used by\n"]
    for name in sysfs.loaded():
        line = "%-19s %8d  %d" % (name, sysfs.coresize(name), sysfs.refcnt(name))
        holders = sysfs.holders(name)
        if holders:
            line += " " + ",".join(holders)
        lines.append(line + "\n")
    return "".join(lines)


def run_lsmod(args):
    k = _boot(args)
    try:
        ok = _load_with(k, args.with_, "lsmod")
    except Killed as exc:
        sys.stdout.write(k.dmesg())
        _report_killed(exc.status)
        return exc.status
    sys.stdout.write(format_lsmod(Sysfs(k)))
    sys.stdout.flush()
    return 0 if ok else 1


__all__ = ["add_parser", "run_depmod_cmd", "run_modprobe", "run_insmod", "run_rmmod",
           "run_lsmod", "format_lsmod", "options_from_array", "is_version_number"]
