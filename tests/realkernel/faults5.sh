# faults5: a stack-protector failure in a helper called by init: the kernel panics (panic=-1:
# the VM stops, so there is no === DMESG part).
insmod stack_smash.ko; echo rc=$?
cat /proc/modules
