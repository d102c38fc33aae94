# spin1: sched_hostile.ko how=1: a kthread that spins without sleeping (the watchdog's soft lockup)
# (run from the repo root: REALKERNEL_TIMEOUT=75 /work/shared/tools/realkernel tests/realkernel/spin1.sh samples/linux/sched_hostile/sched_hostile.ko)
insmod sched_hostile.ko how=1; echo "rc=$?"
echo after
rmmod sched_hostile; echo "rc=$?"
