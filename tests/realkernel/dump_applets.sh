# od and hexdump over a module's device and a file: the formats, repeated lines, offsets, errors
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/dump_applets.sh chardev_lab/chardev_lab.ko)
insmod chardev_lab.ko
printf 'hello world\n\001\002\377 tab\there' > /dev/chardev_lab
od /dev/chardev_lab
od -c /dev/chardev_lab
od -A x -t x1 /dev/chardev_lab
od -A d -t u2 -N 8 /dev/chardev_lab
od -b -j 3 -N 5 /dev/chardev_lab
od -x /dev/chardev_lab
od -t d4 /dev/chardev_lab
od -A n -t x1 -N 4 /dev/chardev_lab
hexdump -C /dev/chardev_lab
hexdump -C -n 5 -s 2 /dev/chardev_lab
dd if=/dev/zero bs=16 count=4 2>/dev/null > /tmp/zeros
od /tmp/zeros
od -v -t x1 -N 32 /tmp/zeros
hexdump -C /tmp/zeros
hexdump -C -v -n 20 /tmp/zeros
: > /tmp/empty
od /tmp/empty; hexdump -C /tmp/empty; echo "rc=$?"
od /tmp/nothere; echo "rc=$?"
hexdump -C /tmp/nothere; echo "rc=$?"
od -A q /tmp/zeros; echo "rc=$?"
od -q /tmp/zeros; echo "rc=$?"
hexdump -q /tmp/zeros; echo "rc=$?"
rmmod chardev_lab
