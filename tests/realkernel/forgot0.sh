# forgot0: forgot.ko what=0: exit forgets a pending timer: it fires after rmmod, in softirq, into freed module text (an oops in interrupt: panic)
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/forgot0.sh forgot/forgot.ko)
insmod forgot.ko what=0; echo "rc=$?"
rmmod forgot; echo "rc=$?"
sleep 1
echo alive
