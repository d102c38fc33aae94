"""The kernel log (printk's ring buffer) and the console it feeds.

Each record takes a microsecond of simulated time and gets its timestamp from the clock;
records below ``console_loglevel`` also reach the console, which the scenario shell
interleaves with its own output. A module's printk (``printk_bytes``) handles the level
prefixes and KERN_CONT as 6.1's ``vprintk_store`` does.
"""

from linker.loglevels import MESSAGE_LOGLEVEL_DEFAULT
from linker.load.linkkernel import KernelLog, Record

from .clock import Clock

PRINTKRB_RECORD_MAX = 992           # bytes in a record, the level prefix included, plus one


def format_record(rec: Record) -> str:
    """A record as busybox ``dmesg`` prints it: ``[    1.234567] text`` per line."""
    secs, ns = divmod(rec.ts_ns, 1_000_000_000)
    prefix = f"[{secs:5d}.{ns // 1000:06d}] "
    return "\n".join(prefix + line for line in rec.text.split("\n"))


class LogBuffer(KernelLog):
    """Records with timestamps, and the console: ``k.log``."""

    def __init__(self, clock: Clock, console_loglevel: int = 3):
        super().__init__()
        self.clock = clock
        self.console_loglevel = console_loglevel
        self.console: list[str] = []     # text the console showed, in chunks
        self._console_read = 0
        self.clear_index = 0             # records before this one were cleared (dmesg -c)

    def printk(self, level: int, text: str) -> None:
        # a record holds at most PRINTKRB_RECORD_MAX - 1 = 991 bytes, level prefix included
        if len(text) > PRINTKRB_RECORD_MAX - 3:
            text = text[:PRINTKRB_RECORD_MAX - 3]
        self.clock.ns += 1000  # each record takes its microsecond
        rec = Record(level, text, ts_ns=self.clock.ns)
        self.records.append(rec)
        if level < self.console_loglevel:
            self.console.append(format_record(rec) + "\n")

    def printk_bytes(self, text: bytes) -> int:
        """A module's printk: level prefixes, KERN_CONT, one record per call (6.1's
        vprintk_store); returns the number of bytes printed, as printk does."""
        n = len(text)
        text = text[:PRINTKRB_RECORD_MAX - 1]   # the level prefix counts
        level, cont = None, False
        while len(text) >= 2 and text[0] == 1:
            c = text[1:2]
            if c.isdigit():
                level = int(c)
            elif c == b"c":
                cont = True
            text = text[2:]
        body = text.decode("latin-1")
        ends_line = body.endswith("\n")
        if ends_line:
            body = body[:-1]            # one trailing newline ends the record
        last = self.records[-1] if self.records else None
        if cont and last is not None and last.open:
            last.text += body
            last.open = not ends_line
            return n
        if last is not None:
            last.open = False
        self.printk(MESSAGE_LOGLEVEL_DEFAULT if level is None else level, body)
        self.records[-1].open = not ends_line
        return n

    def console_verbose(self) -> None:
        """``console_verbose()``: from now on the console shows every level (oops, panic)."""
        self.console_loglevel = 15

    def console_write(self, data: bytes) -> None:
        """A console without printk's framing (the hobby kernel's monitor_write)."""
        self.console.append(data.decode("latin-1"))

    def console_text(self) -> str:
        return "".join(self.console)

    def console_drain(self) -> str:
        """What reached the console since the last call (the shell interleaves it)."""
        new = "".join(self.console[self._console_read:])
        self._console_read = len(self.console)
        return new

    def dmesg(self) -> str:
        """The log as busybox ``dmesg`` prints it."""
        return "".join(format_record(r) + "\n" for r in self.records)
