# hostile_huge: memset, memcpy, memcmp and strncpy with a 4 GiB length over one-page vzalloc()
# buffers (samples/hostile/huge_*): each runs off its page into the vmalloc guard page and
# oopses there, in the kernel's own string function; insmod is killed each time. Then a
# normal module loads.
insmod huge_memset.ko; echo rc=$?
insmod huge_memcpy.ko; echo rc=$?
insmod huge_memcmp.ko; echo rc=$?
insmod huge_strncpy.ko; echo rc=$?
cat /proc/modules
insmod hello_debug.ko; echo rc=$?
