# usercopy.ko: a misc device; reads and writes within its 16-byte kmalloc object work, 64 bytes out of it is hardened usercopy's BUG (the reader killed), then a write of 32 into it (the writer killed)
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/usercopy.sh usercopy/usercopy.ko)
insmod usercopy.ko; echo "rc=$?"
test -c /dev/usercopy && echo "char device"
grep usercopy /proc/misc
dd if=/dev/usercopy bs=16 count=1 2>/dev/null; echo; echo "rc=$?"
dd if=/dev/usercopy bs=64 count=1 2>/dev/null; echo "rc=$?"
cat /sys/module/usercopy/refcnt
echo 0123456789 > /dev/usercopy; echo "rc=$?"
echo 0123456789abcdef0123456789abcdef > /dev/usercopy; echo "rc=$?"
cat /proc/sys/kernel/tainted
rmmod usercopy; echo "rc=$?"
