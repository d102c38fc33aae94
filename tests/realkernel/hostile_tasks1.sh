# hostile_tasks1: init points current->tasks at itself and returns 0 (samples/hostile/
# tasks_corrupt how=loop). Reaping insmod passes the list checks but leaves the task list's
# tail on the dead task; sh's next fork (for rmmod) fails __list_add_valid: kernel BUG with
# tasklist_lock held, sh dies trying to take it again, and the machine stops. Recorded with
# REALKERNEL_TIMEOUT=30.
insmod tasks_corrupt.ko how=loop; echo rc=$?
rmmod tasks_corrupt; echo rc=$?
insmod hello_debug.ko; echo rc=$?
