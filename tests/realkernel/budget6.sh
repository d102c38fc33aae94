# budget6: task_corrupt.ko how=1 (samples/hostile/budget): list_del(&current->tasks) in init.
# insmod returns; when the shell reaps it, release_task's own list_del finds LIST_POISON1 and
# BUG()s in sh, which dies holding tasklist_lock: the machine hangs (REALKERNEL_TIMEOUT ran
# out: no rc=, no === DMESG part).
insmod task_corrupt.ko how=1; echo rc=$?
echo after
