# budget3: huge_len.ko (samples/hostile/budget): memcmp over 4 GiB of two buffers that differ
# in their first byte returns at once; strncpy to the module's .bss with a 4 GiB count pads
# with NULs to the end of the module's memory and oopses at the guard page after it.
insmod huge_len.ko; echo rc=$?
rmmod huge_len; echo rc=$?
insmod huge_len.ko op=strncpy; echo rc=$?
cat /proc/modules
