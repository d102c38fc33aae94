# workq1: workq.ko: alloc_workqueue, a work item init waits for with a completion, schedule_work, a delayed work item 200 ms later (runs in `sleep 1`); then delay_ms=5000, cancelled at rmmod
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/workq1.sh workq/workq.ko)
insmod workq.ko; echo "rc=$?"
sleep 1
rmmod workq; echo "rc=$?"
insmod workq.ko delay_ms=5000; echo "rc=$?"
rmmod workq; echo "rc=$?"
