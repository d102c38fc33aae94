# user4: a program drives a module's character device (samples/linux/chardev_lab): open, exclusive second open, write, lseek, read, _IOR/_IOW ioctls, a bad command, bad user pointers (NULL, a kernel address), poll, close and reopen; a missing node. (from the repository root) ../shared/tools/realkernel tests/realkernel/user4.sh samples/linux/chardev_lab/chardev_lab.ko samples/user/devtest
insmod chardev_lab.ko; echo rc=$?
./devtest; echo rc=$?
./devtest /dev/nonexistent; echo rc=$?
rmmod chardev_lab; echo rc=$?
