# budget8: fortify.ko (samples/hostile/budget): memcmp over 4 GiB of two arrays whose sizes
# the compiler knows: CONFIG_FORTIFY_SOURCE's check in the module calls fortify_panic first:
# "detected buffer overflow in memcmp", then BUG() in the kernel.
insmod fortify.ko; echo rc=$?
cat /proc/modules
