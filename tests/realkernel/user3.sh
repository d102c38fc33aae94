# user3: what a program may not do or cannot run: loads and jumps into the kernel's half (segfault, logged), a dynamically linked program (no loader in the guest: not found), a module run as a program (Permission denied), finit_module of a module whose init oopses (the program is killed), many syscalls, stderr into a pipe. (from the repository root) ../shared/tools/realkernel tests/realkernel/user3.sh samples/linux/hello_debug/hello_debug.ko samples/user/raw samples/user/hello_dyn samples/user/finit samples/user/hello_glibc samples/linux/oops_null/oops_null.ko
./raw kread; echo rc=$?
./raw kjump; echo rc=$?
./hello_dyn; echo rc=$?
./hello_debug.ko; echo rc=$?
./raw spin 1000; echo rc=$?
./hello_glibc 2>&1 >/tmp/o | wc -l; wc -l < /tmp/o
./finit oops_null.ko; echo rc=$?
cat /proc/modules
