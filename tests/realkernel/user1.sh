# user1: a glibc `gcc -static` program (and its static-pie build) run by the shell: argv, environment, uname, /dev/null, /proc/modules, stdout into a file, exit statuses, an unknown syscall, a segfault. (from the repository root) ../shared/tools/realkernel tests/realkernel/user1.sh samples/linux/hello_debug/hello_debug.ko samples/user/hello_glibc samples/user/hello_pie
insmod hello_debug.ko
./hello_glibc one "two words"; echo rc=$?
./hello_glibc > /tmp/out; echo rc=$?
cat /tmp/out
./hello_glibc exit 5; echo rc=$?
./hello_glibc exit 300; echo rc=$?
./hello_glibc enosys; echo rc=$?
./hello_glibc segv; echo rc=$?
/mods/hello_pie pie 2>/dev/null; echo rc=$?
FOO=bar ./hello_pie env | grep -e FOO -e PWD -e argv; echo rc=$?
rmmod hello_debug
