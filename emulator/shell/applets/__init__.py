"""The busybox applets the shell runs, each a process: one module per family, and the
registry ``APPLETS`` (name -> function) built here from them.

  modules   insmod rmmod lsmod modprobe modinfo depmod dmesg sleep
  files     cat head ls stat tail tee
  devices   mknod dd mount (-t debugfs)
  dump      od hexdump
  text      wc sort uniq cut tr seq basename dirname
  grep      grep egrep fgrep (over regex: glibc's POSIX regular expressions)
  procs     ps

An applet function takes the :class:`Applet` (its process: stdio, messages, getopt) and
argv, and returns the exit status. ``usage`` has busybox's ``--help`` texts and lists.
"""

from .applet import Applet
from .devices import applet_dd, applet_kmodsim_irq, applet_mknod, applet_mount
from .dump import applet_hexdump, applet_od
from .files import applet_cat, applet_head, applet_ls, applet_stat, applet_tail, applet_tee
from .grep import applet_grep
from .modules import (applet_depmod, applet_dmesg, applet_insmod, applet_lsmod, applet_modinfo,
                      applet_modprobe, applet_rmmod, applet_sleep)
from .procs import applet_ps
from .text import (applet_basename, applet_cut, applet_dirname, applet_seq, applet_sort,
                   applet_tr, applet_uniq, applet_wc)
from .usage import BUSYBOX_APPLETS, BUSYBOX_BANNER, NOEXEC_APPLETS, USAGE

__all__ = ["APPLETS", "Applet", "BUSYBOX_APPLETS", "BUSYBOX_BANNER", "NOEXEC_APPLETS", "USAGE"]

APPLETS = {
    "insmod": applet_insmod, "rmmod": applet_rmmod, "lsmod": applet_lsmod,
    "modprobe": applet_modprobe, "modinfo": applet_modinfo, "depmod": applet_depmod,
    "dmesg": applet_dmesg, "cat": applet_cat, "head": applet_head, "ls": applet_ls,
    "sleep": applet_sleep, "stat": applet_stat, "grep": applet_grep, "egrep": applet_grep,
    "fgrep": applet_grep, "wc": applet_wc, "tail": applet_tail, "sort": applet_sort,
    "uniq": applet_uniq, "cut": applet_cut, "tr": applet_tr, "seq": applet_seq,
    "basename": applet_basename, "dirname": applet_dirname, "tee": applet_tee,
    "mknod": applet_mknod, "dd": applet_dd, "od": applet_od, "hexdump": applet_hexdump,
    "mount": applet_mount, "ps": applet_ps,
    "kmodsim-irq": applet_kmodsim_irq,      # kmodsim only (README: interrupts)
}
