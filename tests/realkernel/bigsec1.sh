# bigsec1: sections of huge or wrapping sizes and alignments, and per-CPU sections the
# reserved chunk cannot hold (variants built by tests/test_hostile_link.py with modpatch).
load() { echo "@@ load $*" > /dev/kmsg; echo "@@ load $*"; ./finit "$@"; }
unload() { echo "@@ unload $1" > /dev/kmsg; echo "@@ unload $1"; rmmod "$1"; echo "rc=$?"; }
modules() { echo "@@ modules"; cat /proc/modules; }

load pc40k.ko
load pc9k.ko
load pc4k.ko
modules
unload hello_debug
load ks512.ko
load bsswrap.ko
modules
unload exporter
load bssalign.ko
modules
unload exporter
load ks64.ko
modules
unload exporter
load rs64.ko
modules
unload hello_debug
load mc64.ko
modules
unload hello_debug
echo "@@ raw"
cat /proc/sys/kernel/tainted
