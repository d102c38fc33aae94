# chardev.ko: alloc_chrdev_region's dynamic major, cdev, class and device, a /proc entry
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/chardev.sh chardev/chardev.ko)
insmod chardev.ko; echo "rc=$?"
cat /proc/modules
rmmod chardev; echo "rc=$?"
insmod chardev.ko; echo "rc=$?"
rmmod chardev; echo "rc=$?"
