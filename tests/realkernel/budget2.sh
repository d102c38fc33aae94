# budget2: warn_storm.ko with no count (samples/hostile/budget): WARN_ON(1) for ever. Nothing
# reaches the console at loglevel 3, and each report's stack dump touches the watchdog, so no
# soft-lockup report ever comes: the console stays silent and insmod never returns. Recorded
# with REALKERNEL_TIMEOUT=45, so there is no === DMESG part.
insmod warn_storm.ko; echo rc=$?
