# forgot1: forgot.ko what=1: exit forgets a kthread in msleep: it wakes after rmmod into freed module text (an oops in the kthread)
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/forgot1.sh forgot/forgot.ko)
insmod forgot.ko what=1; echo "rc=$?"
rmmod forgot; echo "rc=$?"
sleep 1
echo alive
