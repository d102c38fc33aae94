# shell3: dmesg and the console, functions, command substitution, pipes, loops (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/shell3.sh exporter/exporter.ko importer/importer.ko hello_debug/hello_debug.ko params/params.ko license_proprietary/license_proprietary.ko tasks/tasks.ko > ../../tests/realkernel/shell3.real.txt)
say() { echo "say: $# args: $*"; for a in "$@"; do echo "[$a]"; done; return 3; }
say hello "two words"; echo "rc=$?"
n=$(cat /proc/sys/kernel/tainted); echo "tainted=$n"
echo "<2>shell3: a critical line" > /dev/kmsg
echo "after kmsg"
dmesg -n 8; echo "rc=$?"
insmod hello_debug.ko; echo "rc=$?"
insmod hello_debug.ko > /tmp/ins.out 2>&1; echo "rc=$?"; cat /tmp/ins.out
rmmod hello_debug; echo "rc=$?"
dmesg -n 3
insmod exporter.ko && insmod importer.ko && echo "both loaded"
cat /proc/modules | head -n 1
lsmod | head -n 2 > /tmp/lsmod.txt; cat /tmp/lsmod.txt
i=0; while [ $i -lt 3 ]; do echo "i=$i"; i=$((i+1)); done
for m in importer exporter nothere; do rmmod $m || echo "failed: $m"; done
dmesg -c > /tmp/dmesg.txt; echo "rc=$?"
dmesg; echo "empty rc=$?"
sleep 1; echo slept
echo "<4>shell3: level 4" > /dev/kmsg
echo "shell3: no level" > /dev/kmsg
dmesg -r
dmesg
for f in /tmp/*.txt; do echo "== $f"; done
head -n 3 /tmp/dmesg.txt | while read line; do echo "read: $line"; done
dmesg -n 9; echo "rc=$?"
dmesg -x; echo "rc=$?"
echo "<1>shell3: alert" > /dev/kmsg; echo done
