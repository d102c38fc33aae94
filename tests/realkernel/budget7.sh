# budget7: task_corrupt.ko how=2 (samples/hostile/budget): current->tasks.next = NULL in init;
# the shell reaping insmod finds it (kernel BUG at lib/list_debug.c:49!) and the machine hangs
# as in budget6.
insmod task_corrupt.ko how=2; echo rc=$?
echo after
