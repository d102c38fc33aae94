"""``kmodsim modprobe``: kmod 30's ``modprobe`` over the indexes ``depmod`` writes, into a
fresh simulated kernel (:mod:`emulator.cli.kmodtools`); prints the kernel log afterwards."""

import errno
import os
import sys

from linker.module.depmod import ModuleIndex

from . import COMMANDS
from .common import kmod_log, profile_of
from .kmodtools import (MODULE_INIT_IGNORE_MODVERSIONS, MODULE_INIT_IGNORE_VERMAGIC,
                        NOT_PERSISTENT, O_NONBLOCK, O_TRUNC, Killed, Sysfs, boot, delete_module,
                        insert_file, kernel_options, process, report_killed)


class Fatal(Exception):
    """A ``FATAL`` (log_printf at LOG_CRIT): already printed; the tool exits 1."""


def add_parser(sub):
    p = sub.add_parser(
        "modprobe", help=COMMANDS["modprobe"],
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
    kernel_options(p, "modprobe this module (by name) first; -v does not print its "
                       "insmod lines (repeatable)")
    p.add_argument("module", metavar="MODULE")
    p.add_argument("params", nargs="*", metavar="PARAM=VAL",
                   help="module parameters (with -a or -r: more modules)")
    p.set_defaults(run=run)
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
        version = args.set_version or profile_of(args).release
        self.index = ModuleIndex(f"{args.dirname or ''}/lib/modules/{version}")
        # the LOG macro: FATAL (and the end) normally, a WARNING with -a, silent with -q
        self.log_level = "WARNING" if args.all else "FATAL"
        self.dry_run = args.dry_run or args.show_depends
        self.show = args.show_depends or args.verbose > 0

    def log(self, text):
        """modprobe.c's ``LOG``: silenced by -q (and then not fatal either)."""
        if self.args.quiet:
            return
        kmod_log("modprobe", self.log_level, text)
        if self.log_level == "FATAL":
            raise Fatal()

    def err(self, text):
        if not self.args.quiet:
            kmod_log("modprobe", "ERROR", text)

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


def run(args):
    k = boot(args)
    mp = Modprobe(args, k)
    status = 0
    try:
        show, mp.show = mp.show, False
        for name in args.with_:
            task = process(k, "modprobe")
            mp.insmod(name, "")
            k.tasks.reap(task)
        mp.show = show
        process(k, "modprobe")
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
    report_killed(status)
    return status
