# locks1: locks.ko: the preempt count under spin_lock, spin_lock_bh, spin_lock_irqsave, rwlocks; mutex and rw-semaphore trylocks; a semaphore handed to a kthread 3 times; RCU: call_rcu's callback in softirq, kfree_rcu, synchronize_rcu, rcu_barrier at rmmod
# (run from samples/linux: ../../../shared/tools/realkernel ../../tests/realkernel/locks1.sh locks/locks.ko)
insmod locks.ko; echo "rc=$?"
sleep 1
rmmod locks; echo "rc=$?"
