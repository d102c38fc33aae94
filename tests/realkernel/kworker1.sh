# kworker1: kworker.ko: a kthread_worker (kthread_create_worker) running 3 works in its own thread, flushed by init, a delayed work 100 ms later (runs in `sleep 1`); then delay_ms=5000, cancelled at rmmod
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/kworker1.sh kworker/kworker.ko)
insmod kworker.ko; echo "rc=$?"
sleep 1
rmmod kworker; echo "rc=$?"
insmod kworker.ko delay_ms=5000; echo "rc=$?"
rmmod kworker; echo "rc=$?"
