# hostile_printk3: a %pV whose argument is itself (printk_flood mode=chain): vsnprintf recurses
# until the kernel stack overflows into its guard page, a panic.
insmod printk_flood.ko mode=chain; echo rc=$?
cat /proc/modules
