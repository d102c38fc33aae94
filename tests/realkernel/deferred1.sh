# deferred1: deferred.ko: an hrtimer (hardirq) scheduling a tasklet (softirq) 3 times 50 ms apart, init waiting for them with wait_for_completion_timeout; a single-threaded workqueue (its rescuer kthread) with a work item under a mutex and a delayed one moved by mod_delayed_work; again with shots=2 period_ms=300
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/deferred1.sh deferred/deferred.ko)
insmod deferred.ko; echo "rc=$?"
sleep 1
rmmod deferred; echo "rc=$?"
insmod deferred.ko shots=2 period_ms=300; echo "rc=$?"
rmmod deferred; echo "rc=$?"
