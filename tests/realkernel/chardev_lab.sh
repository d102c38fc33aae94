# chardev_lab.ko from the shell: read/write/lseek through f_pos, exclusive open, the module held by an open file, mknod'ed nodes (register_chrdev's 256 minors, no driver: ENXIO), the node removed with the module, a static major
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/chardev_lab.sh chardev_lab/chardev_lab.ko)
insmod chardev_lab.ko; echo "rc=$?"
grep -c -e chardev_lab -e clab_legacy /proc/devices
test -c /dev/chardev_lab && echo "char device"
cat /dev/chardev_lab; echo "rc=$?"
echo hello world > /dev/chardev_lab; echo "rc=$?"
cat /dev/chardev_lab
head -c 5 /dev/chardev_lab; echo
dd if=/dev/chardev_lab bs=4 skip=1 count=2 2>/dev/null; echo
echo XY | dd of=/dev/chardev_lab bs=1 seek=6 count=2 conv=notrunc 2>/dev/null; echo "rc=$?"
cat /dev/chardev_lab
seq 1 40 > /dev/chardev_lab; echo "rc=$?"
wc -c < /dev/chardev_lab
echo more >> /dev/chardev_lab; echo "rc=$?"
exec 3< /dev/chardev_lab
cat /dev/chardev_lab; echo "rc=$?"
cat /sys/module/chardev_lab/refcnt
rmmod chardev_lab; echo "rc=$?"
exec 3<&-
cat /sys/module/chardev_lab/refcnt
legacy=$(grep clab_legacy /proc/devices | cut -d' ' -f1)
mknod /tmp/legacy c $legacy 0; echo "rc=$?"
mknod /tmp/legacy; echo "rc=$?"
mknod /tmp/legacy c $legacy 0; echo "rc=$?"
mknod /tmp/legacy7 c $legacy 7
test -c /tmp/legacy7 && echo "char device"
cat /tmp/legacy /tmp/legacy7
dd if=/tmp/legacy bs=3 skip=1 count=2 2>/dev/null; echo "rc=$?"
echo x > /tmp/legacy; echo "rc=$?"
mknod /tmp/nodrv c 42 0; cat /tmp/nodrv; echo "rc=$?"
echo x > /tmp/nodrv; echo "rc=$?"
mknod /tmp/blk b 42 0; cat /tmp/blk; echo "rc=$?"
rmmod chardev_lab; echo "rc=$?"
ls /dev/chardev_lab; echo "rc=$?"
cat /tmp/legacy; echo "rc=$?"
insmod chardev_lab.ko major=200; echo "rc=$?"
grep chardev_lab /proc/devices
cat /sys/class/chardev_lab/chardev_lab/dev
echo static > /dev/chardev_lab; cat /dev/chardev_lab
insmod chardev_lab.ko; echo "rc=$?"
rmmod chardev_lab; echo "rc=$?"
