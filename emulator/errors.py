"""Exceptions every layer of the simulated kernel may raise or catch (the bottom layer)."""


class KernelPanic(Exception):
    """The simulated kernel panicked: it stays dead, as the real one does."""


class KernelClosed(RuntimeError):
    """The kernel was closed (``Kernel.close()``): its CPU and memory are gone."""


class MemoryLimitExceeded(Exception):
    """The run went over its cap on guest memory (``Kernel(max_memory=...)``,
    ``--max-memory``): kmodsim's limit, not the kernel's. The kernel stops there: every
    later syscall raises this again."""

    exit_status = 3         # kmodsim's exit status for it (README, "Exit statuses")

    def __init__(self, limit, committed, need, addr):
        self.limit, self.committed, self.need, self.addr = limit, committed, need, addr
        super().__init__(f"the run went over its memory limit of {format_size(limit)} "
                         f"(--max-memory): {format_size(committed)} of guest memory mapped, "
                         f"{format_size(need)} more needed at {addr:#x}")


def format_size(n):
    """``512 MiB``, ``1.5 GiB``, ``4 KiB``, ``100 bytes``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            value = n / (1 << shift)
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"
