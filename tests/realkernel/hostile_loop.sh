# hostile_loop: an init that is `jmp .` (samples/hostile/loop_forever). The kernel is not
# preemptible there and the CPU is the only one: nothing else ever runs, insmod never returns.
# At the boot console level (3) only the soft-lockup watchdog's KERN_EMERG line reaches the
# console. Recorded with REALKERNEL_TIMEOUT=50: the watchdog reports after 20-23 s, or ~20 s
# after an RCU stall report (KERN_ERR, not on the console) has touched it. tests/test_hostile.py.
insmod loop_forever.ko; echo rc=$?
cat /proc/modules
