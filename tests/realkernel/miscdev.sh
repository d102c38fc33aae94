# miscdev.ko: misc_register with MISC_DYNAMIC_MINOR, /sys/class/misc and the /dev node
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/miscdev.sh miscdev/miscdev.ko)
insmod miscdev.ko; echo "rc=$?"
ls /sys/class/misc | grep kmodsim
cat /sys/class/misc/kmodsim_misc/dev
cat /sys/class/misc/kmodsim_misc/uevent
ls /dev | grep kmodsim
rmmod miscdev; echo "rc=$?"
ls /dev/kmodsim_misc; echo "rc=$?"
insmod miscdev.ko; echo "rc=$?"
rmmod miscdev; echo "rc=$?"
