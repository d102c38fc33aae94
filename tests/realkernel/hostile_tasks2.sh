# hostile_tasks2: init list_del()s current->tasks (tasks_corrupt how=poison): when sh reaps
# insmod, __list_del_entry_valid finds LIST_POISON1: kernel BUG with tasklist_lock held, and
# the machine stops as in hostile_tasks1. Recorded with REALKERNEL_TIMEOUT=30.
insmod tasks_corrupt.ko how=poison; echo rc=$?
rmmod tasks_corrupt; echo rc=$?
insmod hello_debug.ko; echo rc=$?
