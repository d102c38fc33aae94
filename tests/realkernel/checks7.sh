# checks7: an exporter without __kcrctab ("no versions for exported symbols": forced load,
# taint F), an importer of its symbols (no CRC to compare), the same with __kcrctab kept
# in the file but not SHF_ALLOC.
# Helpers: every step is announced in the kernel log (/dev/kmsg) and on stdout, so the
# test can cut the log into steps. "load FILE [FLAGS]" calls finit_module(FLAGS) through
# ./finit (finit.c), which prints rc=<0 or -errno>; "unload NAME" is busybox rmmod;
# "modules" prints /proc/modules. The raw log (with levels) is printed at the end.
load() { echo "@@ load $*" > /dev/kmsg; echo "@@ load $*"; ./finit "$@"; }
unload() { echo "@@ unload $1" > /dev/kmsg; echo "@@ unload $1"; rmmod "$1"; echo "rc=$?"; }
modules() { echo "@@ modules"; cat /proc/modules; }

load exp_kcrctab_renamed.ko
load importer.ko
modules
unload importer
unload exporter
load exp_kcrctab_noalloc.ko
modules
unload exporter
echo "@@ raw dmesg"
dmesg -r
