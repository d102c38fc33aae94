# faults4: a NULL write in exit: rmmod is killed, the module stays Unloading; others load.
insmod exit_fault.ko; echo rc=$?
rmmod exit_fault; echo rc=$?
cat /proc/modules
rmmod exit_fault; echo rc=$?
insmod warn_on.ko; echo rc=$?
cat /proc/modules
