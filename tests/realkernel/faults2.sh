# faults2: BUG() and BUG_ON() through __bug_table (invalid opcode), a divide error; die()
# kills insmod with SIGSEGV. bug_on with budget=3 loads and unloads cleanly first.
insmod bug_always.ko; echo rc=$?
insmod bug_on.ko budget=3; echo rc=$?
rmmod bug_on; echo rc=$?
insmod bug_on.ko; echo rc=$?
insmod div_zero.ko; echo rc=$?
cat /proc/modules
rmmod div_zero; echo rc=$?
cat /proc/sys/kernel/tainted
