# hostile_storm: WARN_ON(1) forever (warn_storm with its default rounds=0). Every report's
# stack dump touches the watchdogs (printk_stack_address calls touch_nmi_watchdog), so no soft
# lockup is ever reported, and nothing reaches the console at level 3: the console stays
# silent, insmod never returns. Recorded with REALKERNEL_TIMEOUT=45 (so no === DMESG part).
insmod warn_storm.ko; echo rc=$?
cat /proc/modules
