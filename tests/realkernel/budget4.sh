# budget4: huge_len.ko op=memset: the module's own memset (gcc inlines it: rep stosb) of
# 4 GiB from its .bss runs to the guard page after the module and oopses there.
insmod huge_len.ko op=memset; echo rc=$?
