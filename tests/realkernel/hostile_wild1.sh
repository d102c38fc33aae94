# hostile_wild1: a store to an unmapped kernel address (samples/hostile/wild_write
# target=kernel), then a store into the module's own read-only .text (self_modify); both
# oops and kill insmod, the next module loads.
insmod wild_write.ko target=kernel; echo rc=$?
insmod self_modify.ko; echo rc=$?
cat /proc/modules
insmod hello_debug.ko; echo rc=$?
