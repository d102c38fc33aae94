# /proc/<pid>: comm of self and of tasks by pid, the first lines of status, a kernel thread's empty cmdline, a pid that is not there
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/procpid.sh chardev_lab/chardev_lab.ko)
cat /proc/self/comm
grep -e '^Name' -e '^State' -e '^Uid' -e '^Gid' /proc/self/status
cat /proc/1/comm /proc/2/comm
wc -c < /proc/2/cmdline
grep -e '^Name' -e '^State' -e '^PPid' /proc/2/status
ls /proc/1 | grep -c -e '^comm$' -e '^status$' -e '^cmdline$'
ls /proc | grep -c -e '^self$' -e '^1$' -e '^2$'
cat /proc/99999/comm; echo "rc=$?"
test -d /proc/self && echo self
