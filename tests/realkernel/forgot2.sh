# forgot2: forgot.ko what=2: exit forgets a delayed work item: a kworker runs it after rmmod, from freed module text (an oops in the kworker)
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/forgot2.sh forgot/forgot.ko)
insmod forgot.ko what=2; echo "rc=$?"
rmmod forgot; echo "rc=$?"
sleep 1
echo alive
