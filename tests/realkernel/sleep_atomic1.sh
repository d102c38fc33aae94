# sleep_atomic1: sleep_atomic.ko: msleep with a spinlock held prints "BUG: scheduling while atomic" with its call trace, and the load goes on
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/sleep_atomic1.sh sleep_atomic/sleep_atomic.ko)
insmod sleep_atomic.ko; echo "rc=$?"
cat /proc/modules
rmmod sleep_atomic; echo "rc=$?"
