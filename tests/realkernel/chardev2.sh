# chardev.ko's class and device as /sys/class and devtmpfs show them, before and after rmmod
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/chardev2.sh chardev/chardev.ko)
ls /sys/class
insmod chardev.ko
ls /sys/class | grep -c .
ls /sys/class/kmodsim_chardev
ls /sys/class/kmodsim_chardev/kmodsim0 | grep -e '^dev$' -e uevent
cat /sys/class/kmodsim_chardev/kmodsim0/dev
cat /sys/class/kmodsim_chardev/kmodsim0/uevent
ls /dev | grep kmodsim
grep kmodsim /proc/devices
rmmod chardev
ls /sys/class/kmodsim_chardev; echo "rc=$?"
ls /dev/kmodsim0; echo "rc=$?"
ls /sys/class | grep -c .
