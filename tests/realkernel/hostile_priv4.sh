# hostile_priv4: CR3 loaded with 0 (priv_insn insn=cr3): no page tables, a triple fault, the
# machine resets; realkernel's QEMU (-no-reboot) exits before anything reaches the console.
insmod priv_insn.ko insn=cr3; echo rc=$?
insmod hello_debug.ko; echo rc=$?
