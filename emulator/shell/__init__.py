"""The scenario shell: busybox 1.35 ``sh`` and the applets a module scenario runs.

``kmodsim script SCENARIO.sh MODULE...`` and ``kmodsim shell`` run what
``../shared/tools/realkernel`` runs in the real guest: Debian 12's busybox-static 1.35
(``sh`` is ash) executing ``sh /scenario.sh 2>&1`` in ``/mods``, with the serial console as
its output. This package is that shell. It parses and runs the ash subset below and the
busybox applets a module scenario uses, printing what busybox prints byte for byte, and it
reaches the simulated kernel only through ``System``: syscall-shaped methods that return
``0`` or ``-errno`` as the kernel does (the shell owns no kernel state, and no files).

What it runs
  * ash: lists with ``;`` ``&`` (run in the foreground) ``&&`` ``||`` ``|`` ``!`` and
    newlines, ``#`` comments, '' "" and backslash quoting, ``$NAME ${NAME}
    ${NAME:-w}`` (``- = + ?``, with and without ``:``), ``${#NAME} ${NAME#p} ${NAME%p}``,
    ``$? $# $@ $* $0..$9 $$``, ``$(...)`` and backquotes, ``$((...))``, field splitting,
    globs (``* ? [...]``) over the System's directories, assignments,
    redirections ``< > >| >> <> N>&M N>&- N<&M <<WORD <<-WORD`` (``/dev/null`` included;
    ``exec`` with only redirections keeps them), ``if``,
    ``while``, ``until``, ``for``, ``case``, ``{ }``, ``( )`` and functions. Builtins:
    echo, printf, test/[, true, false, :, cd, pwd, exit, return, break, continue, shift,
    set (``set -- ARGS``), export, unset, local, read, eval, ``.``.
  * applets, each a process (``System.spawn``/``System.reap`` around it): insmod, rmmod,
    lsmod, modprobe, modinfo, depmod, dmesg, cat, head, ls, sleep; and the text applets
    stat (-c), grep (egrep, fgrep; GNU BRE and ERE with POSIX leftmost-longest matches),
    wc, tail, sort, uniq, cut, tr, seq, basename, dirname, tee. ``APPLET --help`` prints
    the usage and exits 0. Any other busybox applet says it is not simulated (rc 127)
    rather than pretend. An applet's stdout is stdio's: line-buffered on the console,
    fully buffered (4096 bytes) elsewhere, so ``grep x f > /sys/...`` makes one write(2).
  * files: every path goes to the System, except ``/dev/null`` and ``/dev/zero``, which
    the shell answers itself. Behind the System are the kernel's files under ``/proc``,
    ``/sys`` and ``/dev``, and the guest's rootfs everywhere else: the kernel's
    :class:`~emulator.vfs.Vfs` holding the guest's initramfs (``/bin /dev /mods /proc /root
    /sys /tmp``, ``/init``, ``/scenario.sh``; the modules in ``/mods``), a tmpfs as the
    guest's rootfs is (directory sizes, /root 0700, /init 0755). The shell hands the
    modules and the scenario to ``System.unpack_initramfs``, as realkernel packs them.
  * programs: ``./test``, ``/mods/test``, a name found in $PATH: a static x86-64 executable
    runs as a process of the simulated kernel (``System.execve``, :mod:`emulator.user`)
    with the shell's argv, exported environment, working directory and open files.
  * not simulated, and said so on stderr (``kmodsim: ...``), never faked: ``set`` options,
    ``ls -l``, ``cat -n``, modprobe/modinfo/depmod with a /lib/modules tree (the guest has
    none), ``stat`` without -c or with inodes, device numbers or times, ``stat -f``,
    ``tail -f``, ``grep -o -v``, sed, awk and the other applets.

The console
  The kernel's console and the scenario's output are the same serial line, and a kernel
  line reaches the console while the syscall that printed it runs. So after every System
  call the shell drains ``System.console_drain()`` and writes those bytes to the console
  right then: before anything the command prints afterwards, and whatever the command's
  redirections (``insmod x.ko >/dev/null 2>&1`` still shows an oops). ``Shell.flush_console``
  does the same for a kernel that prints between syscalls.

Killed processes
  A System method raises ``TaskKilled(signo)`` when the calling task dies (an oops in a
  module's init kills insmod with SIGKILL). The shell then does what ash does: it prints
  ``strsignal(signo)`` (``Killed``, ``Segmentation fault``) on the command's stderr, after
  the task is reaped, and ``$?`` becomes ``128 + signo``.

The busybox facts behind the applets (busybox 1.35.0 source, Debian's static config, and
runs in the real guest) are written next to the code that reproduces them.

The modules, lowest first (each imports only from those above it)
  syscalls  the System protocol, open(2) flags, syslog actions, signals, TaskKilled, Stat,
            strerror/strsignal
  handles   open files: the console, /dev/null, /dev/zero, pipes, the System's descriptors
  syntax    tokens, the AST, Parser, parse
  patterns  globs and patterns as regexes, IFS field splitting
  arith     $((...))
  control   the exceptions of control flow (exit, return, break, fatal errors, applet exit)
  process   ShellProcess: the shell's state, System calls, messages, files, variables (what
            builtins and applets are given)
  testexpr  test / [
  builtins  echo printf cd set read eval . ... and the BUILTINS table
  applets/  one module per family of applets, and the APPLETS table
  interp    the Shell: a ShellProcess that parses, expands, redirects and runs
"""

from .applets import APPLETS, BUSYBOX_APPLETS, NOEXEC_APPLETS, USAGE, Applet
from .applets.applet import c_format, strtod_prefix
from .applets.files import ls_format, mode_string
from .applets.grep import Grep
from .applets.modules import filename2modname, moderror, module_options, taint_summary
from .applets.regex import PosixRegex, RegexError
from .applets.text import posix_dirname, strverscmp
from .arith import Arith, ArithError
from .builtins import BUILTINS, process_escapes
from .control import (AppletExit, ExitShell, FatalError, LoopControl, NotSimulated,
                      ReturnFromFunction)
from .handles import Handle, full_write, read_all
from .interp import Shell
from .patterns import pattern_regex, split_fields
from .process import ShellProcess
from .syntax import (AndOr, Case, For, FunctionDef, Group, If, Loop, Parser, Pipeline,
                     Redirect, Redirected, Sequence, ShellSyntaxError, Simple, Token, Word,
                     parse)
from .syscalls import (O_APPEND, O_CREAT, O_EXCL, O_NONBLOCK, O_RDONLY, O_RDWR, O_TRUNC,
                       O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET, SIGINT, SIGKILL, SIGPIPE, SIGSEGV,
                       SYSLOG_ACTION_CONSOLE_LEVEL, SYSLOG_ACTION_READ_ALL,
                       SYSLOG_ACTION_READ_CLEAR, SYSLOG_ACTION_SIZE_BUFFER, Stat, System,
                       TaskKilled, normpath, strerror, strsignal)

__all__ = [
    "APPLETS", "AndOr", "Applet", "AppletExit", "Arith", "ArithError", "BUILTINS",
    "BUSYBOX_APPLETS", "Case", "ExitShell", "FatalError", "For", "FunctionDef", "Grep",
    "Group", "Handle", "If", "Loop", "LoopControl", "NOEXEC_APPLETS", "NotSimulated",
    "O_APPEND", "O_CREAT", "O_EXCL", "O_NONBLOCK", "O_RDONLY", "O_RDWR", "O_TRUNC", "O_WRONLY",
    "Parser", "Pipeline", "PosixRegex", "Redirect", "Redirected", "RegexError",
    "ReturnFromFunction", "SEEK_CUR", "SEEK_END", "SEEK_SET", "SIGINT", "SIGKILL", "SIGPIPE",
    "SIGSEGV", "SYSLOG_ACTION_CONSOLE_LEVEL", "SYSLOG_ACTION_READ_ALL",
    "SYSLOG_ACTION_READ_CLEAR", "SYSLOG_ACTION_SIZE_BUFFER", "Sequence", "Shell", "ShellProcess",
    "ShellSyntaxError", "Simple", "Stat", "System", "TaskKilled", "Token", "USAGE", "Word",
    "c_format", "filename2modname", "full_write", "ls_format", "mode_string", "moderror",
    "module_options", "normpath", "parse", "pattern_regex", "posix_dirname", "process_escapes",
    "read_all", "split_fields", "strerror", "strsignal", "strtod_prefix", "strverscmp",
    "taint_summary",
]
