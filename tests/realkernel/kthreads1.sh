# kthreads1: kthreads.ko: kthread_run'ed thread ticking every 300 ms (msleep) shows in /proc/PID/comm, stopped by kthread_stop at rmmod; loaded again with period_ms=700
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/kthreads1.sh kthreads/kthreads.ko)
insmod kthreads.ko; echo "rc=$?"
pid=$(cat /sys/module/kthreads/parameters/kt_pid)
echo "pid=$pid"
cat /proc/$pid/comm
sleep 1
rmmod kthreads; echo "rc=$?"
ls /proc/$pid 2>/dev/null | head -1
insmod kthreads.ko period_ms=700; echo "rc=$?"
sleep 1
rmmod kthreads; echo "rc=$?"
