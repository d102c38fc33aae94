# faults6: runaway recursion in init: the kernel stack overflows into its guard page.
insmod recurse.ko; echo rc=$?
cat /proc/modules
