# debugfs_lab.ko: debugfs after mount -t debugfs: value files (u8, u32, x32, bool, a read-only u64: bad values, a write to it) and a file with the module's fops
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/debugfs_lab.sh debugfs_lab/debugfs_lab.ko)
insmod debugfs_lab.ko; echo "rc=$?"
ls /sys/kernel/debug | grep -c debugfs_lab
mount -t debugfs none /sys/kernel/debug; echo "rc=$?"
ls /sys/kernel/debug/debugfs_lab
cd /sys/kernel/debug/debugfs_lab
cat small counter flags enabled total note
echo 300 > small; echo "rc=$?"; cat small
echo 0x10 > counter; cat counter
echo abc > counter; echo "rc=$?"; cat counter
echo 4294967297 > counter; cat counter
echo 0 > flags; cat flags
echo n > enabled; cat enabled
echo maybe > enabled; echo "rc=$?"
echo 5 > total; echo "rc=$?"; cat total
echo x > note; echo "rc=$?"
dd if=note bs=5 skip=2 count=1 2>/dev/null; echo
stat -c '%a %s %n' small total note
cat /sys/module/debugfs_lab/refcnt
cd /
rmmod debugfs_lab; echo "rc=$?"
ls /sys/kernel/debug/debugfs_lab; echo "rc=$?"
