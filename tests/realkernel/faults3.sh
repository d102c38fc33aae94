# faults3: WARN_ON(1), WARN_ON_ONCE in a loop (one report; a reload warns again), WARN with
# a message; every load succeeds, the kernel is tainted W. No oops: the console stays quiet.
insmod warn_on.ko; echo rc=$?
insmod warn_once.ko; echo rc=$?
insmod warn_fmt.ko level=7; echo rc=$?
cat /proc/modules
cat /proc/sys/kernel/tainted
rmmod warn_once; echo rc=$?
insmod warn_once.ko rounds=3; echo rc=$?
rmmod warn_on warn_once warn_fmt; echo rc=$?
