# budget5: task_corrupt.ko how=3: list_del twice on the module's own list. CONFIG_DEBUG_LIST
# with CONFIG_BUG_ON_DATA_CORRUPTION: the second list_del prints what it found and BUG()s.
insmod task_corrupt.ko how=3; echo rc=$?
cat /proc/modules
