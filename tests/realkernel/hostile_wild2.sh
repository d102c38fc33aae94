# hostile_wild2: a store to a user address nothing maps (wild_write target=user): an oops,
# not a SIGSEGV; the next module loads.
insmod wild_write.ko target=user; echo rc=$?
insmod hello_debug.ko; echo rc=$?
