# shell1: busybox insmod, rmmod and lsmod: messages and exit codes (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/shell1.sh exporter/exporter.ko importer/importer.ko hello_debug/hello_debug.ko params/params.ko license_proprietary/license_proprietary.ko tasks/tasks.ko > ../../tests/realkernel/shell1.real.txt)
insmod nothere.ko; echo "rc=$?"
insmod; echo "rc=$?"
insmod /tmp; echo "rc=$?"
echo junk > /tmp/junk.ko; insmod /tmp/junk.ko; echo "rc=$?"
insmod importer.ko; echo "rc=$?"
insmod exporter.ko; echo "rc=$?"
insmod exporter.ko; echo "rc=$?"
insmod ./importer.ko; echo "rc=$?"
insmod hello_debug.ko; echo "rc=$?"
lsmod; echo "rc=$?"
cat /proc/modules
rmmod exporter; echo "rc=$?"
rmmod nothere; echo "rc=$?"
rmmod hello-debug.ko; echo "rc=$?"
rmmod /mods/importer.ko; echo "rc=$?"
rmmod exporter.ko.xz; echo "rc=$?"
insmod params.ko p_int=-7 p_charp=tired p_string="with spaces" p_bool=n; echo "rc=$?"
cat /sys/module/params/parameters/p_int /sys/module/params/parameters/p_string
rmmod params; echo "rc=$?"
insmod params.ko p_int=abc; echo "rc=$?"
insmod params.ko p_ints=1,2,3,4,5; echo "rc=$?"
insmod params.ko 'p_string=two words' nosuch=1; echo "rc=$?"
cat /sys/module/params/parameters/p_string
insmod license_proprietary.ko; echo "rc=$?"
lsmod
cat /proc/sys/kernel/tainted
rmmod -f license_proprietary; echo "rc=$?"
rmmod params nothere hello_debug; echo "rc=$?"
rmmod -a; echo "rc=$?"
rmmod; echo "rc=$?"
lsmod
modprobe exporter; echo "rc=$?"
modprobe -r exporter; echo "rc=$?"
modinfo exporter; echo "rc=$?"
modinfo exporter.ko; echo "rc=$?"
modinfo -F vermagic /mods/params.ko; echo "rc=$?"
depmod; echo "rc=$?"
