# hung1: sched_hostile.ko how=5: a kthread blocked for good in wait_for_completion; khungtaskd reports it once it has been blocked for 120 s (its check runs every 120 s)
# (run from samples/linux: REALKERNEL_TIMEOUT=600 ../../../shared/tools/realkernel ../../tests/realkernel/hung1.sh sched_hostile/sched_hostile.ko)
insmod sched_hostile.ko how=5; echo "rc=$?"
sleep 250
echo done
