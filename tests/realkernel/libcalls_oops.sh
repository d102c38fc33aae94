# libcalls.ko oops=1 hands rb_first() a bad root: the oops happens inside the kernel's own code (RIP rb_first, its Code: bytes, the call trace through the module) (run: ../../../shared/tools/realkernel libcalls_oops.sh ../../samples/linux/libcalls/libcalls.ko)
insmod libcalls.ko oops=1; echo rc=$?
cat /proc/modules
