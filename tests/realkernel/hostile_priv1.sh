# hostile_priv1: privileged instructions a module may run at CPL 0 (samples/hostile/
# priv_insn): hlt, out and a write to an MSR that does not exist (QEMU ignores it) pass
# unnoticed; returning with interrupts off (cli) and setting the trap flag (tf) each warn;
# every load succeeds.
insmod priv_insn.ko insn=hlt; echo rc=$?
rmmod priv_insn; echo rc=$?
insmod priv_insn.ko insn=out; echo rc=$?
rmmod priv_insn; echo rc=$?
insmod priv_insn.ko insn=wrmsr; echo rc=$?
rmmod priv_insn; echo rc=$?
insmod priv_insn.ko insn=cli; echo rc=$?
rmmod priv_insn; echo rc=$?
insmod priv_insn.ko insn=tf; echo rc=$?
rmmod priv_insn; echo rc=$?
insmod hello_debug.ko; echo rc=$?
