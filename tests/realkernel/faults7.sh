# faults7: an init that never returns: the soft-lockup watchdog reports after ~22 s; insmod
# never comes back. `dmesg -n 8` first, so the whole report (KERN_DEFAULT lines) reaches the
# console: the VM is stopped by realkernel's timeout (REALKERNEL_TIMEOUT=45, before the
# watchdog's second report at ~48 s), so there is no === DMESG part.
dmesg -n 8
insmod spin.ko; echo rc=$?
cat /proc/modules
