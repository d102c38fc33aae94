# bigbss: modules declaring a huge .bss (bigbss/). module_alloc refuses a core larger than
# the module area (MODULES_LEN) silently: bss_1g; one of more pages than the guest has
# (totalram_pages, 466396 kB here) with vmalloc's warn_alloc report, rate-limited to one
# per 10 s: bss_1000m reports, bss_600m not; 100 MiB loads. tests/test_resources.py.
insmod bss_1g.ko; echo rc=$?
insmod bss_1000m.ko; echo rc=$?
insmod bss_600m.ko; echo rc=$?
insmod bss_100m.ko; echo rc=$?
cat /proc/modules
rmmod bss_100m; echo rc=$?
cat /proc/modules
