# hostile_warn: 200 WARN_ON(1) reports in one init (samples/hostile/warn_storm rounds=200):
# each ~40 lines, so the 128 KiB log buffer (CONFIG_LOG_BUF_SHIFT=17) keeps only the last
# ones and dmesg starts in the middle of a report. The module loads; so does the next one.
insmod warn_storm.ko rounds=200; echo rc=$?
cat /proc/modules
insmod hello_debug.ko; echo rc=$?
