# ps1: busybox ps with a module's kthread running (kthreads.ko), and after rmmod
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/ps1.sh kthreads/kthreads.ko)
insmod kthreads.ko; echo "rc=$?"
ps
ps | grep -c kt
rmmod kthreads; echo "rc=$?"
ps | tail -3
