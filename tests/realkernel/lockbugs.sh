# lockbugs: the lock-bug samples (samples/linux/bugs) on Debian's kernel, which has lock
# debugging off: a double unlock, an unlock by a kworker, init and exit returning with a
# mutex held, two mutexes in opposite orders all load and unload with nothing in the log
# (lockdep's reports are kmodsim's --checks locks, from the 6.1 source).
insmod double_unlock.ko; echo "rc=$?"
rmmod double_unlock; echo "rc=$?"
insmod double_unlock.ko by_worker=1; echo "rc=$?"
rmmod double_unlock; echo "rc=$?"
insmod lock_held.ko; echo "rc=$?"
rmmod lock_held; echo "rc=$?"
insmod lock_held.ko in_exit=1; echo "rc=$?"
rmmod lock_held; echo "rc=$?"
insmod lock_order.ko; echo "rc=$?"
rmmod lock_order; echo "rc=$?"
dmesg
