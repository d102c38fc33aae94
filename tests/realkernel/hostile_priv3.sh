# hostile_priv3: an int3 nobody asked for (priv_insn insn=int3): the #BP handler runs as an
# NMI-like exception, so the oops is "in interrupt" and the kernel panics.
insmod priv_insn.ko insn=int3; echo rc=$?
insmod hello_debug.ko; echo rc=$?
