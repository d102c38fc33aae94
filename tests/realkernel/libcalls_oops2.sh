# libcalls.ko oops=2 sorts with a cmp that faults on its fifth call: the oops is in the module, called from the kernel's own sort_r (the call trace runs through kernel code) (run: ../../../shared/tools/realkernel libcalls_oops2.sh ../../samples/linux/libcalls/libcalls.ko)
insmod libcalls.ko oops=2; echo rc=$?
cat /proc/modules
