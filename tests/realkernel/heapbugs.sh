# heap bug samples (samples/linux/bugs) on Debian's kernel (no KASAN, no kmemleak): the leaks, the use-after-free, the overflow and the clean module print nothing of their bugs; then the invalid free; the double free last (SLUB's check may kill insmod)
# (run from samples/linux/bugs: ../../../../shared/tools/realkernel ../../../tests/realkernel/heapbugs.sh leak_init.ko leak_exit.ko uaf.ko overflow.ko clean_heap.ko invalid_free.ko double_free.ko)
insmod leak_init.ko; echo "rc=$?"
rmmod leak_init; echo "rc=$?"
insmod leak_exit.ko; echo "rc=$?"
rmmod leak_exit; echo "rc=$?"
insmod uaf.ko; echo "rc=$?"
rmmod uaf; echo "rc=$?"
insmod overflow.ko; echo "rc=$?"
rmmod overflow; echo "rc=$?"
insmod clean_heap.ko; echo "rc=$?"
rmmod clean_heap; echo "rc=$?"
insmod invalid_free.ko; echo "rc=$?"
rmmod invalid_free; echo "rc=$?"
insmod double_free.ko; echo "rc=$?"
cat /proc/sys/kernel/tainted
