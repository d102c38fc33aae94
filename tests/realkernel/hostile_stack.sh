# hostile_stack: endless recursion, 8 bytes a call (samples/hostile/stack_overflow): the
# recursive call's push reaches the guard page, a double fault, a panic.
insmod stack_overflow.ko; echo rc=$?
cat /proc/modules
