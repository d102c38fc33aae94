"""Simulated time: the clock every timestamp, jiffy and timeout reads.

Time moves only when the kernel says so: each printk record takes a microsecond, sleeping
advances it, the watchdog's report waits for its tick. jiffies (HZ=250, Debian's
CONFIG_HZ_250) start 5 minutes before wrapping, as INITIAL_JIFFIES makes them, and are kept
in the kernel's own ``jiffies`` variable so module code reads them too.
"""

HZ = 250
INITIAL_JIFFIES = (-300 * HZ) & 0xFFFFFFFF
NS_PER_JIFFY = 1_000_000_000 // HZ
REALTIME_EPOCH_NS = 1_790_000_000 * 1_000_000_000   # a fixed wall-clock time at boot


class Clock:
    """``k.time``: nanoseconds since boot; ``on_tick(jiffies)`` publishes each change."""

    def __init__(self, boot_ns: int, on_tick=None):
        self.ns = boot_ns
        self.on_tick = on_tick

    def advance(self, ns: int) -> None:
        self.ns += int(ns)
        self.tick()

    def tick(self) -> None:
        if self.on_tick is not None:
            self.on_tick(self.jiffies())

    def jiffies(self) -> int:
        return (INITIAL_JIFFIES + self.ns // NS_PER_JIFFY) & 0xFFFFFFFFFFFFFFFF

    def monotonic_ns(self) -> int:
        return self.ns

    def realtime_ns(self) -> int:
        return REALTIME_EPOCH_NS + self.ns
