# faults1: page faults in init (NULL read one call down, write to .rodata, NX), then a
# general protection fault (non-canonical address), chained in one boot: after the first
# oops the console shows every level and the modules stay Loading. tests/test_faults.py.
insmod null_read.ko; echo rc=$?
cat /proc/modules
insmod ro_write.ko; echo rc=$?
insmod nx_exec.ko; echo rc=$?
insmod gp_fault.ko; echo rc=$?
cat /proc/modules
rmmod null_read; echo rc=$?
cat /proc/sys/kernel/tainted
