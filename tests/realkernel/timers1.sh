# timers1: timers.ko: a timer re-armed 3 times 100 ms apart fires in softirq context during `sleep 1`; loaded again with shots=5 period_ms=2000 and removed at once, rmmod's del_timer_sync cancels it
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/timers1.sh timers/timers.ko)
insmod timers.ko; echo "rc=$?"
sleep 1
rmmod timers; echo "rc=$?"
insmod timers.ko shots=5 period_ms=2000; echo "rc=$?"
rmmod timers; echo "rc=$?"
