"""User programs: static x86-64 executables run as processes of the simulated kernel.

``./test`` in a scenario, and :meth:`Kernel.run_program` from Python, run a statically
linked x86-64 ELF executable (``gcc -static`` with glibc, ``musl-gcc -static``,
``-nostdlib`` raw-syscall programs; ET_EXEC or static-pie ET_DYN) in the kernel's emulated
CPU, as a process with a pid, its argv, environment and auxiliary vector, its own memory
in the user half, and system calls served by the simulated kernel: files through the
kernel's file layer, modules through ``init_module``/``finit_module``/``delete_module``,
output to the scenario's console in order with the kernel's lines.

The modules, lowest first
  sysnames  6.1's x86-64 syscall numbers and names
  binfmt    load_elf_binary: the checks, PT_LOAD mapping, the stack (create_elf_tables)
  mm        the address space: VMAs, brk, mmap, munmap, mprotect, access checks
  files     open files (the file layer's shape), the descriptor table
  syscalls  the system calls, one handler each
  process   UserProcess: exec, the outer loop, faults and signals
  run       exec_program (the shell's System.execve) and run_program (the Python API)

What a program can do and what it cannot is listed in :mod:`.process`; the system calls
are those in :data:`.syscalls.SYSCALLS`.
"""

from .binfmt import ExecError
from .process import UserProcess
from .run import ProgramResult, exec_program, run_program
from .syscalls import SYSCALLS

__all__ = ["ExecError", "ProgramResult", "SYSCALLS", "UserProcess", "exec_program",
           "run_program"]
