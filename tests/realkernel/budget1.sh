# budget1: warn_storm.ko count=300 (samples/hostile/budget): 300 WARN reports, then init
# returns 0. The printk ring buffer (CONFIG_LOG_BUF_SHIFT=17) keeps only the newest records:
# the === DMESG part is what busybox dmesg gets back from syslog(READ_ALL).
insmod warn_storm.ko count=300; echo rc=$?
