# ps2: an exec'd applet's comm (tail /proc/self/comm), a redirection the forked sh opens, busybox ps in pipelines
# (run from the repo root: /work/shared/tools/realkernel tests/realkernel/ps2.sh samples/linux/kthreads/kthreads.ko)
tail /proc/self/comm
tr a a < /proc/self/comm
ps | tail -2
ps | wc -l
ps | grep -e sh -e grep -e 'ps$'
ps | head -2 | tail -1
