# bigsec3: an r_offset near 2**63: x86-64's apply_relocate_add checks no bounds and
# writes at section + r_offset (a non-canonical address: general protection fault).
load() { echo "@@ load $*" > /dev/kmsg; echo "@@ load $*"; ./finit "$@"; }
load roff.ko
cat /proc/modules
