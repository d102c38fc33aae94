# hostile_paths: WARN_ON in functions whose source file, per __FILE__ and DWARF, is a host
# file (samples/hostile/debug_paths which=1..5: /etc/passwd, /proc/self/environ, /dev/zero,
# ../../../../../../../../etc/hostname, /dev/stdin). The kernel prints the names; every load
# succeeds.
for i in 1 2 3 4 5; do
  insmod debug_paths.ko which=$i; echo rc=$?
  rmmod debug_paths; echo rc=$?
done
insmod hello_debug.ko; echo rc=$?
