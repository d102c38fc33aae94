# shell4: the text applets (stat grep wc tail head sort uniq cut tr seq basename dirname tee) over the guest's files: sysfs, procfs, devtmpfs, the initramfs; stdio buffering into a sysfs store (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/shell4.sh params/params.ko > ../../tests/realkernel/shell4.real.txt)
P=/sys/module/params/parameters
insmod params.ko p_int=5 p_names=a,b; echo "rc=$?"
echo "@@ stat"
stat -c '%n %a %s %F %h %A %u %g %U %G' $P $P/p_int $P/p_byte $P/p_bint /sys/module/params /sys/module; echo "rc=$?"
stat -c '%n %a %s %F %h %A' /proc/modules /proc/sys/kernel/tainted /proc/sys/kernel; echo "rc=$?"
stat -c '%n %a %s %F %A %t,%T %f' /dev/kmsg /dev/null /dev/zero /dev/console; echo "rc=$?"
stat -c '%n %a %s %F %h %A' / /mods /tmp /root /init /scenario.sh /mods/params.ko; echo "rc=$?"
stat -c '[%-6a|%6s|%#o|%%|%q]' $P/p_int; stat -c 'no newline%' $P/p_int; echo
stat -c '%a' /nope $P/p_int; echo "rc=$?"
stat; echo "rc=$?"
echo "@@ grep"
grep -H '' $P/p_int $P/p_names; echo "rc=$?"
grep 5 $P/p_int $P/p_byte; echo "rc=$?"
grep -c '' /proc/modules $P/p_ints; echo "rc=$?"
grep -l 5 $P/p_int $P/p_byte $P/p_short; grep -L 5 $P/p_int $P/p_byte; echo "rc=$?"
grep -q params /proc/modules; echo "rc=$?"
grep x /sys/module/params; echo "rc=$?"
grep -c x /sys/module/params /nope; echo "rc=$?"
grep -rl a $P; echo "rc=$?"
grep -r 0x00cafe /sys/module/params; echo "rc=$?"
grep -E '^p(ar|xx)ams ' /proc/modules | cut -d ' ' -f 1,3; echo "rc=$?"
grep -o '[0-9]*' $P/p_ints; grep -n -e fixed -e worm $P/p_string $P/p_charp; echo "rc=$?"
grep -w 'a\|b' $P/p_names; grep -x -F 'the worm' $P/p_charp; echo "rc=$?"
grep 'a\(' $P/p_names; echo "rc=$?"
echo "@@ wc tail head"
wc $P/p_int $P/p_string /proc/modules; wc -l < /proc/modules; wc -c /sys/module/params; echo "rc=$?"
tail -c 3 $P/p_string; echo "rc=$?"
tail -c +3 $P/p_string; tail -n 1 $P/p_ints /proc/sys/kernel/osrelease; tail -c 4 /proc/sys/kernel/osrelease
tail $P; echo "rc=$?"
head -c 3 $P/p_string; echo; head -c 5 /dev/zero | tr '\0' z; echo
echo "@@ sort uniq cut tr seq"
printf 'b\na\nb\n10\n9\n' | sort; printf 'b\na\nb\n10\n9\n' | sort -n -u; sort -t, -k2 $P/p_names
cat $P/p_names $P/p_names | uniq -c; cut -d, -f2 $P/p_ints; cut -c 1-5 $P/p_string
tr a-z A-Z < $P/p_string; tr -d '\n' < $P/p_int; echo; seq 3; seq -s, 1 2 7
basename $P/p_int; dirname $P/p_int; basename /mods/params.ko .ko
echo "@@ into sysfs"
echo 7 | tee $P/p_int; echo "rc=$?"; cat $P/p_int
echo junk | tee $P/p_int; echo "rc=$?"; cat $P/p_int
printf '8\n9\n' | tee $P/p_int; echo "rc=$?"; cat $P/p_int
printf '8\n' | grep 8 > $P/p_int; echo "rc=$?"; cat $P/p_int
printf '9\nx\n' | grep . > $P/p_int; echo "rc=$?"; cat $P/p_int
seq 4 4 > $P/p_int; echo "rc=$?"; cat $P/p_int
seq 1 2 > $P/p_int; echo "rc=$?"; cat $P/p_int
wc -l /proc/modules $P/p_int > $P/p_int; echo "rc=$?"; cat $P/p_int
stat -c %s $P/p_int > $P/p_int; echo "rc=$?"; cat $P/p_int
echo "@@ kmsg"
printf 'one\ntwo\n' | grep o > /dev/kmsg; echo "rc=$?"
rmmod params; echo "rc=$?"
