# checks6: no vermagic= in .modinfo (forced load), then no .modinfo at all (the name comes
# from struct module; no licence, no retpoline, no vermagic).
# Helpers: every step is announced in the kernel log (/dev/kmsg) and on stdout, so the
# test can cut the log into steps. "load FILE [FLAGS]" calls finit_module(FLAGS) through
# ./finit (finit.c), which prints rc=<0 or -errno>; "unload NAME" is busybox rmmod;
# "modules" prints /proc/modules. The raw log (with levels) is printed at the end.
load() { echo "@@ load $*" > /dev/kmsg; echo "@@ load $*"; ./finit "$@"; }
unload() { echo "@@ unload $1" > /dev/kmsg; echo "@@ unload $1"; rmmod "$1"; echo "rc=$?"; }
modules() { echo "@@ modules"; cat /proc/modules; }

load hd_novermagic.ko
modules
unload hello_debug
load hd_noname.ko
modules
unload hello_debug
echo "@@ raw dmesg"
dmesg -r
