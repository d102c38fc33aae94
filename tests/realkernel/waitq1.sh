# waitq1: waitq.ko: producer and consumer kthreads, a wait queue and a mutex; 4 items 100 ms apart during `sleep 1`, both threads stopped at rmmod
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/waitq1.sh waitq/waitq.ko)
insmod waitq.ko; echo "rc=$?"
sleep 1
rmmod waitq; echo "rc=$?"
insmod waitq.ko items=2 period_ms=300; echo "rc=$?"
sleep 1
rmmod waitq; echo "rc=$?"
