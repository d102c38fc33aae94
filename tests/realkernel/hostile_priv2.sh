# hostile_priv2: a ud2 that is not in __bug_table (priv_insn insn=ud2): "invalid opcode"
# without a "kernel BUG at" line, insmod gets SIGSEGV; the next module loads.
insmod priv_insn.ko insn=ud2; echo rc=$?
insmod hello_debug.ko; echo rc=$?
