# tasks.ko walks current->tasks: the real guest's task list, pids included (run: ../../../shared/tools/realkernel tasks.sh ../../samples/linux/tasks/tasks.ko)
insmod tasks.ko; echo rc=$?
rmmod tasks; echo rc=$?
