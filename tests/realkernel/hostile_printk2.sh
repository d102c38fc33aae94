# hostile_printk2: 20000 lines from one init (printk_flood mode=lines): the 128 KiB log buffer
# keeps the last ~3000; dmesg shows only those.
insmod printk_flood.ko mode=lines count=20000; echo rc=$?
insmod hello_debug.ko; echo rc=$?
