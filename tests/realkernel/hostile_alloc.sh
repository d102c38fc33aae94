# hostile_alloc: allocations no kernel can satisfy (samples/hostile/big_kmalloc: kmalloc 1 GiB,
# kvmalloc 4 GiB, vmalloc 64 GiB, kmalloc 0; each result printed), then a module with a 1 GiB
# .bss (huge_bss): more than the module area, module_alloc refuses it silently, ENOMEM.
insmod big_kmalloc.ko; echo rc=$?
insmod huge_bss.ko; echo rc=$?
cat /proc/modules
insmod hello_debug.ko; echo rc=$?
cat /proc/sys/kernel/tainted
