# bigsec2: a .bss of 2**32 - 4096 bytes wraps the 32-bit layout sizes (module_get_offset
# adds into an unsigned int): the core allocation is too small for the core symbol table
# add_kallsyms copies, which runs over it (strscpy faults; the kernel is left broken).
load() { echo "@@ load $*" > /dev/kmsg; echo "@@ load $*"; ./finit "$@"; }
load bss4g.ko
