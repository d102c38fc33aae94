# user2: a musl-gcc -static program (files in /tmp, getdents, lseek, a NULL call), a -nostdlib raw-syscall program (auxv, bad fd and pointer, unknown syscalls, brk, mmap, a 1 TiB mmap, uname, pid), finit_module from finit.c, PATH lookup, redirections. (from the repository root) ../shared/tools/realkernel tests/realkernel/user2.sh samples/linux/hello_debug/hello_debug.ko samples/user/hello_musl samples/user/raw samples/user/finit
./hello_musl a "b c"; echo rc=$?
./hello_musl segv; echo rc=$?
./raw; echo rc=$?
./finit hello_debug.ko; echo rc=$?
./finit hello_debug.ko; echo rc=$?
./finit /nonexistent.ko; echo rc=$?
cat /proc/modules
rmmod hello_debug
./raw > /tmp/raw.out 2>&1; echo rc=$?
wc -l /tmp/raw.out
PATH=/mods:$PATH raw x y | grep argc; echo rc=$?
cd /tmp; /mods/hello_musl; echo rc=$?; cd /mods
./nonexistent; echo rc=$?
