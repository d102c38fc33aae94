# procfs_lab.ko: a /proc directory with a write-parsed command file (add, del, clear; a bad command is EINVAL, a missing name ENOENT), a seq_file list (start/next/stop/show, several pages, partial reads and seeks; by proc_ops and by proc_create_seq) and a single_open view
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/procfs_lab.sh procfs_lab/procfs_lab.ko)
insmod procfs_lab.ko; echo "rc=$?"
ls /proc/procfs_lab
cat /proc/procfs_lab/list; echo "rc=$?"
echo "add apple" > /proc/procfs_lab/cmd; echo "rc=$?"
echo "add banana" > /proc/procfs_lab/cmd
echo "add cherry" > /proc/procfs_lab/cmd
cat /proc/procfs_lab/list
cat /proc/procfs_lab/stats
cat /proc/procfs_lab/seq
echo "del banana" > /proc/procfs_lab/cmd; echo "rc=$?"
cat /proc/procfs_lab/list
echo "bogus" > /proc/procfs_lab/cmd; echo "rc=$?"
echo "del nothere" > /proc/procfs_lab/cmd; echo "rc=$?"
cat /proc/procfs_lab/cmd; echo "rc=$?"
echo x > /proc/procfs_lab/list; echo "rc=$?"
dd if=/proc/procfs_lab/list bs=4 count=3 2>/dev/null; echo
dd if=/proc/procfs_lab/list bs=10 skip=5 count=2 2>/dev/null; echo
head -c 7 /proc/procfs_lab/stats; echo
for i in $(seq 1 150); do echo "add item$i" > /proc/procfs_lab/cmd; done
wc -l < /proc/procfs_lab/list
wc -c < /proc/procfs_lab/list
tail -n 2 /proc/procfs_lab/list
[ "$(cat /proc/procfs_lab/list)" = "$(cat /proc/procfs_lab/seq)" ] && echo same
dd if=/proc/procfs_lab/seq bs=100 skip=30 count=1 2>/dev/null | head -c 30; echo
echo x > /proc/procfs_lab/seq; echo "rc=$?"
grep -c item1 /proc/procfs_lab/list
echo clear > /proc/procfs_lab/cmd
cat /proc/procfs_lab/stats
rmmod procfs_lab; echo "rc=$?"
ls /proc/procfs_lab; echo "rc=$?"
