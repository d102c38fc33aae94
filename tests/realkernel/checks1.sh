# checks1: one failing check after another in one boot, then the importer/exporter cases.
# The variants (hd_*, imp_*) are built by tests/test_link_checks.py (VARIANTS) with modpatch.
# Order: the checks before check_modinfo first (no taint yet), then the first load that
# reaches check_modinfo (prints O) and add_unformed_module (prints E), the rest after.
# Helpers: every step is announced in the kernel log (/dev/kmsg) and on stdout, so the
# test can cut the log into steps. "load FILE [FLAGS]" calls finit_module(FLAGS) through
# ./finit (finit.c), which prints rc=<0 or -errno>; "unload NAME" is busybox rmmod;
# "modules" prints /proc/modules. The raw log (with levels) is printed at the end.
load() { echo "@@ load $*" > /dev/kmsg; echo "@@ load $*"; ./finit "$@"; }
unload() { echo "@@ unload $1" > /dev/kmsg; echo "@@ unload $1"; rmmod "$1"; echo "rc=$?"; }
modules() { echo "@@ modules"; cat /proc/modules; }

load hd_modlayout_crc.ko
load hd_modlayout_nover.ko
load hd_vermagic.ko
load hd_stripped.ko
load hd_stripped_noname.ko
load hd_nomod.ko
load hd_nomod_noname.ko
load hd_reloc_nonzero_64.ko
load hd_wx.ko
load hd_common.ko
load hd_badshndx.ko
load hd_common_crc.ko
load hd_crc_badshndx.ko
load hd_printk_crc.ko
load hd_printk_nover.ko
load hd_reloc_unknown.ko
load hd_reloc_nonzero_pc.ko
load hd_reloc_32.ko
load hd_reloc_32s.ko
load hd_rel.ko
load importer.ko
load exporter.ko
modules
load imp_crc.ko
load imp_nover.ko
load imp_no_import_ns.ko
load imp_proprietary.ko
load importer.ko
modules
unload importer
unload exporter
load hd_release.ko
modules
unload hello_debug
load hello_debug.ko
load hello_debug.ko
load hello_signed.ko
modules
unload hello_debug
load params.ko
modules
unload params
echo "@@ raw dmesg"
dmesg -r
