# checks5: the first load of the boot is a signed module with MODULE_INIT_IGNORE_MODVERSIONS.
# Helpers: every step is announced in the kernel log (/dev/kmsg) and on stdout, so the
# test can cut the log into steps. "load FILE [FLAGS]" calls finit_module(FLAGS) through
# ./finit (finit.c), which prints rc=<0 or -errno>; "unload NAME" is busybox rmmod;
# "modules" prints /proc/modules. The raw log (with levels) is printed at the end.
load() { echo "@@ load $*" > /dev/kmsg; echo "@@ load $*"; ./finit "$@"; }
unload() { echo "@@ unload $1" > /dev/kmsg; echo "@@ unload $1"; rmmod "$1"; echo "rc=$?"; }
modules() { echo "@@ modules"; cat /proc/modules; }

load hello_signed.ko 1
modules
unload hello_debug
echo "@@ raw dmesg"
dmesg -r
