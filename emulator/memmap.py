"""Where things live in the simulated kernel's address space (the bottom layer).

x86-64 with nokaslr, chosen so that oops reports look like the reference machine's; the
hobby kernel of seed 004 is a flat 32-bit one with its heap and stack in low memory.
"""

# x86-64 (the reference kernel, booted nokaslr)
GS_BASE = 0xFF1100001F200000          # "GS:ff1100001f200000": CPU 0's per-CPU area
PERCPU_SIZE = 0x40000
HEAP_BASE, HEAP_SIZE = 0xFF11000004000000, 64 << 20      # the direct map: kmalloc
VMALLOC_BASE, VMALLOC_SIZE = 0xFFFFC90000400000, 64 << 20
STACK_TOP, THREAD_SIZE = 0xFFA0000000630000, 16 << 10    # "RSP: 0018:ffa000000062fb30"
RETURN_TRAMPOLINE = 0xFFFFFFFFFF600000  # the legacy vsyscall page: unused in kernel mode
STACK_CANARY_OFFSET = 0x28             # gs:40, the stack protector's canary
STACK_CANARY = 0x4B4D4F4453494D00

# the hobby kernel (seed 004)
HOBBY_HEAP_BASE, HOBBY_HEAP_SIZE = 0x00200000, 0x00200000
HOBBY_STACK_BASE, HOBBY_STACK_SIZE = 0x00090000, 0x10000
HOBBY_STACK_TOP = HOBBY_STACK_BASE + HOBBY_STACK_SIZE
