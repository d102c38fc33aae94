# hostile_wild3: a store to a non-canonical address (wild_write target=noncanon): a general
# protection fault, insmod gets SIGSEGV; the next module loads.
insmod wild_write.ko target=noncanon; echo rc=$?
insmod hello_debug.ko; echo rc=$?
