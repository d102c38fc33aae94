# checks3: no __versions (SHF_ALLOC dropped, as kmod --force-modversion does): forced load,
# taint F; then MODULE_INIT_IGNORE_MODVERSIONS (flag 1), which also makes same_magic
# compare the whole vermagic string.
# Helpers: every step is announced in the kernel log (/dev/kmsg) and on stdout, so the
# test can cut the log into steps. "load FILE [FLAGS]" calls finit_module(FLAGS) through
# ./finit (finit.c), which prints rc=<0 or -errno>; "unload NAME" is busybox rmmod;
# "modules" prints /proc/modules. The raw log (with levels) is printed at the end.
load() { echo "@@ load $*" > /dev/kmsg; echo "@@ load $*"; ./finit "$@"; }
unload() { echo "@@ unload $1" > /dev/kmsg; echo "@@ unload $1"; rmmod "$1"; echo "rc=$?"; }
modules() { echo "@@ modules"; cat /proc/modules; }

load hd_noversions.ko
modules
unload hello_debug
load hd_noversions_release.ko
load hd_release.ko 1
load hello_debug.ko 1
modules
unload hello_debug
load exporter.ko
load importer.ko 1
modules
unload importer
unload exporter
echo "@@ raw dmesg"
dmesg -r
