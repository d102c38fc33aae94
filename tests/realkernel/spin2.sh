# spin2: spin1 with every console level shown (dmesg -n 8): the soft lockup's whole report reaches the console before the guest is cut off
# (run from the repo root: REALKERNEL_TIMEOUT=75 /work/shared/tools/realkernel tests/realkernel/spin2.sh samples/linux/sched_hostile/sched_hostile.ko)
dmesg -n 8
insmod sched_hostile.ko how=1; echo "rc=$?"
echo after
rmmod sched_hostile; echo "rc=$?"
