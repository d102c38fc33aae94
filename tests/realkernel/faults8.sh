# faults8: faults7's endless init with the console at its boot level (loglevel=3): only the
# watchdog's KERN_EMERG line reaches the console, and nothing printed there since the load
# touched the watchdog, so the first report says 22-23 s; the real kernel reports again at
# ~48 s (recorded with REALKERNEL_TIMEOUT=75), kmodsim has killed insmod by then.
insmod spin.ko; echo rc=$?
cat /proc/modules
