# Where the real kernel places module sections (read back from /sys/module/*/sections),
# the sizes /proc/modules reports, and how a module signed with the kernel's own key loads.
# Run: ../../../shared/tools/realkernel layout.sh hello_debug.ko params.ko exporter.ko importer.ko dummy.ko
insmod dummy.ko; echo rc=$?
cat /proc/sys/kernel/tainted
insmod hello_debug.ko; echo rc=$?
cd /sys/module/hello_debug/sections && for s in .* _*; do echo "hello_debug $s $(cat $s)"; done; cd /mods
cat /sys/module/hello_debug/coresize /sys/module/hello_debug/initsize
insmod params.ko; echo rc=$?
cd /sys/module/params/sections && for s in .* _*; do echo "params $s $(cat $s)"; done; cd /mods
cat /proc/modules
rmmod hello_debug
insmod exporter.ko; echo rc=$?
cd /sys/module/exporter/sections && for s in .* _*; do echo "exporter $s $(cat $s)"; done; cd /mods
cat /proc/modules
cat /proc/sys/kernel/tainted
