# proc_oops.ko: the oops comes from reading its /proc file; cat is killed, the module stays
# (rmmod is left out: on the real kernel it waits for the dead reader for ever)
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/proc_oops.sh proc_oops/proc_oops.ko)
insmod proc_oops.ko; echo "rc=$?"
cat /proc/proc_oops; echo "rc=$?"
lsmod
cat /proc/sys/kernel/tainted
