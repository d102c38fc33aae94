# lifecycle: failing init, init > 0, no exit function, forced removal, a truncated file,
# export/import in both orders and rmmod while in use (run from samples/linux:
# ../../../shared/tools/realkernel ../../tests/realkernel/lifecycle.sh init_fails/init_fails.ko noexit/noexit.ko exporter/exporter.ko importer/importer.ko /tmp/truncated.ko
# where /tmp/truncated.ko is the first 4096 bytes of hello_debug/hello_debug.ko)
insmod init_fails.ko; echo "rc=$?"
cat /proc/modules
insmod init_fails.ko ret=-22; echo "rc=$?"
insmod init_fails.ko ret=1; echo "rc=$?"
cat /proc/modules
rmmod init_fails; echo "rc=$?"
insmod noexit.ko; echo "rc=$?"
cat /proc/modules
lsmod
rmmod noexit; echo "rc=$?"
rmmod -f noexit; echo "rc=$?"
cat /proc/sys/kernel/tainted
cat /proc/modules
insmod truncated.ko; echo "rc=$?"
insmod importer.ko; echo "rc=$?"
insmod exporter.ko; echo "rc=$?"
insmod importer.ko; echo "rc=$?"
rmmod exporter; echo "rc=$?"
cat /sys/module/exporter/refcnt
ls /sys/module/exporter/holders
rmmod importer; echo "rc=$?"
rmmod exporter; echo "rc=$?"
cat /proc/modules
