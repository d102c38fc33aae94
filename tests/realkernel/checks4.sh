# checks4: MODULE_INIT_IGNORE_VERMAGIC (flag 2) on a module whose vermagic is wrong:
# "bad vermagic" forced load, taint F; a signed module with the flag (signature not
# looked at: the module counts as unsigned); both flags at once.
# Helpers: every step is announced in the kernel log (/dev/kmsg) and on stdout, so the
# test can cut the log into steps. "load FILE [FLAGS]" calls finit_module(FLAGS) through
# ./finit (finit.c), which prints rc=<0 or -errno>; "unload NAME" is busybox rmmod;
# "modules" prints /proc/modules. The raw log (with levels) is printed at the end.
load() { echo "@@ load $*" > /dev/kmsg; echo "@@ load $*"; ./finit "$@"; }
unload() { echo "@@ unload $1" > /dev/kmsg; echo "@@ unload $1"; rmmod "$1"; echo "rc=$?"; }
modules() { echo "@@ modules"; cat /proc/modules; }

load hd_vermagic.ko 2
modules
unload hello_debug
load hello_signed.ko 2
unload hello_debug
load hd_vermagic.ko 3
modules
unload hello_debug
echo "@@ raw dmesg"
dmesg -r
