# libcalls.ko runs the kernel library (sort, bsearch, rbtree, bitmap, kstrtoint/kstrtoull with bad input, sscanf, list_sort, crc32), then bench=20 checksums: kmodsim runs the kernel's own code for them (run: ../../../shared/tools/realkernel libcalls.sh ../../samples/linux/libcalls/libcalls.ko)
insmod libcalls.ko; echo rc=$?
rmmod libcalls; echo rc=$?
insmod libcalls.ko bench=20; echo rc=$?
rmmod libcalls; echo rc=$?
