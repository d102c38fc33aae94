# chardev.ko's /proc entry: reading it runs the module's seq_file show function
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/chardev3.sh chardev/chardev.ko)
insmod chardev.ko
ls /proc | grep kmodsim
cat /proc/kmodsim_chardev
wc -c < /proc/kmodsim_chardev
grep -c 246 /proc/kmodsim_chardev
rmmod chardev
cat /proc/kmodsim_chardev; echo "rc=$?"
ls /proc | grep -c kmodsim
