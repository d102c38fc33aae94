# devattr_lab.ko: device attributes (DEVICE_ATTR_RW, DEVICE_ATTR_RO through device_create_file) of a class device, a bad value, a write to the read-only one
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/devattr_lab.sh devattr_lab/devattr_lab.ko)
insmod devattr_lab.ko; echo "rc=$?"
ls /sys/class/devattr_lab
ls /sys/class/devattr_lab/devattr0 | grep -e level -e info -e dev
cat /sys/class/devattr_lab/devattr0/level /sys/class/devattr_lab/devattr0/info
echo 7 > /sys/class/devattr_lab/devattr0/level; echo "rc=$?"
cat /sys/class/devattr_lab/devattr0/info
echo 12 > /sys/class/devattr_lab/devattr0/level; echo "rc=$?"
echo 1 > /sys/class/devattr_lab/devattr0/info; echo "rc=$?"
stat -c '%a %s %n' /sys/class/devattr_lab/devattr0/level /sys/class/devattr_lab/devattr0/info
rmmod devattr_lab; echo "rc=$?"
ls /sys/class/devattr_lab; echo "rc=$?"
