# hostile_preempt: an endless init loop that calls cond_resched() (samples/hostile/
# loop_preempt), started in the background: nothing reports it (no soft lockup, no RCU stall,
# no hung task), the module stays Loading, and the rest of the system goes on: another module
# loads. The loop is still running when the guest powers off.
insmod loop_preempt.ko &
sleep 3
cat /proc/modules
insmod hello_debug.ko; echo rc=$?
cat /proc/modules
