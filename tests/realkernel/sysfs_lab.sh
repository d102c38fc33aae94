# sysfs_lab.ko: a kobject under /sys/kernel with rw and ro attributes and a group (a bad value, one out of range, a write to a read-only one) and a parameter changed through /sys/module
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/sysfs_lab.sh sysfs_lab/sysfs_lab.ko)
insmod sysfs_lab.ko; echo "rc=$?"
ls /sys/kernel/sysfs_lab
ls /sys/kernel/sysfs_lab/extra
cat /sys/kernel/sysfs_lab/value
echo 42 > /sys/kernel/sysfs_lab/value; echo "rc=$?"
cat /sys/kernel/sysfs_lab/value
echo 420 > /sys/kernel/sysfs_lab/value; echo "rc=$?"
echo abc > /sys/kernel/sysfs_lab/value; echo "rc=$?"
echo 5 > /sys/kernel/sysfs_lab/value; echo "rc=$?"
cat /sys/kernel/sysfs_lab/extra/double
echo hello > /sys/kernel/sysfs_lab/name; echo "rc=$?"
cat /sys/kernel/sysfs_lab/name
echo 1 > /sys/kernel/sysfs_lab/stats; echo "rc=$?"
echo 1 > /sys/kernel/sysfs_lab/extra/double; echo "rc=$?"
cat /sys/kernel/sysfs_lab/stats
stat -c '%a %s %n' /sys/kernel/sysfs_lab/value /sys/kernel/sysfs_lab/stats
cat /sys/module/sysfs_lab/parameters/threshold
echo 3 > /sys/module/sysfs_lab/parameters/threshold; echo "rc=$?"
echo x > /sys/module/sysfs_lab/parameters/threshold; echo "rc=$?"
cat /sys/module/sysfs_lab/parameters/threshold
echo 50 > /sys/kernel/sysfs_lab/value
cat /sys/kernel/sysfs_lab/stats
cat /sys/kernel/sysfs_lab/nothere; echo "rc=$?"
rmmod sysfs_lab; echo "rc=$?"
ls /sys/kernel/sysfs_lab; echo "rc=$?"
