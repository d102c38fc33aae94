# checks2: the modinfo keys that taint (staging C, livepatch K, test N, no retpoline),
# then the first P (licence) taint of the boot, a second module (no O/E lines again) and
# a module signed with a key the kernel does not have (ENOKEY: loads, as unsigned).
# Helpers: every step is announced in the kernel log (/dev/kmsg) and on stdout, so the
# test can cut the log into steps. "load FILE [FLAGS]" calls finit_module(FLAGS) through
# ./finit (finit.c), which prints rc=<0 or -errno>; "unload NAME" is busybox rmmod;
# "modules" prints /proc/modules. The raw log (with levels) is printed at the end.
load() { echo "@@ load $*" > /dev/kmsg; echo "@@ load $*"; ./finit "$@"; }
unload() { echo "@@ unload $1" > /dev/kmsg; echo "@@ unload $1"; rmmod "$1"; echo "rc=$?"; }
modules() { echo "@@ modules"; cat /proc/modules; }

load hd_staging.ko
modules
unload hello_debug
load hd_livepatch.ko
modules
unload hello_debug
load hd_test.ko
modules
unload hello_debug
load hd_noretpoline.ko
modules
unload hello_debug
load license_proprietary.ko
modules
unload license_proprietary
load params.ko
modules
unload params
load hello_signed.ko
modules
unload hello_debug
echo "@@ raw dmesg"
dmesg -r
