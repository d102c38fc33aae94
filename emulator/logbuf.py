"""The kernel log (printk's ring buffer) and the console it feeds.

Each record takes a microsecond of simulated time and gets its timestamp from the clock;
records below ``console_loglevel`` also reach the console, which the scenario shell
interleaves with its own output. A module's printk (``printk_bytes``) handles the level
prefixes and KERN_CONT as 6.1's ``vprintk_store`` does.

The log is bounded as the kernel's is (:class:`RecordRing`): printk_ringbuffer's data ring
of ``1 << CONFIG_LOG_BUF_SHIFT`` bytes (17 on the reference kernel) and its
``1 << (CONFIG_LOG_BUF_SHIFT - 5)`` descriptors; a new record pushes the oldest out. The
console keeps at most :data:`CONSOLE_MAX` bytes not yet shown: a flood past that loses its
oldest lines, and the console says so as the kernel's does when it falls behind
(``** N printk messages dropped **``).
"""

import re
from collections import deque
from itertools import islice

from linker.loglevels import MESSAGE_LOGLEVEL_DEFAULT
from linker.load.linkkernel import KernelLog, Record

from .clock import Clock

PRINTKRB_RECORD_MAX = 992           # bytes in a record, the level prefix included, plus one
LOG_BUF_SHIFT = 17                  # CONFIG_LOG_BUF_SHIFT of the reference kernel
LOG_BUF_LEN = 1 << LOG_BUF_SHIFT    # the data ring (and what syslog SIZE_BUFFER answers)
PRB_AVGBITS = 5                     # printk_ringbuffer: one descriptor per 32 bytes of data
LOG_DESCS = 1 << (LOG_BUF_SHIFT - PRB_AVGBITS)
DATA_BLOCK_ID = 8                   # each data block starts with its descriptor id (a long)
CONSOLE_MAX = 4 << 20               # console text kept until it is shown (drained)


def data_block_size(text):
    """A record's footprint in the data ring: its text after an id, long-aligned
    (printk_ringbuffer.c's ``to_blk_size``)."""
    return (len(text) + DATA_BLOCK_ID + DATA_BLOCK_ID - 1) // DATA_BLOCK_ID * DATA_BLOCK_ID


class RecordRing:
    """printk's ring of records, bounded as the kernel's (see the module's docstring).

    Positions are sequence numbers, as the kernel's are: ``len(ring)`` is the number of
    records ever stored (the next sequence number), ``ring[i]`` the record with sequence
    number ``i`` and ``ring[i:]`` those still present from ``i`` on (an index kept across
    printks, as ``dmesg -c``'s clear index, stays valid while old records go); ``ring[-1]``
    is the newest. Iterating gives the records still present, oldest first.
    """

    def __init__(self, data_size=LOG_BUF_LEN, descs=LOG_DESCS):
        self.data_size = data_size
        self.descs = descs
        self._recs = deque()        # (record, begin lpos, block size)
        self.first_seq = 0          # sequence number of the oldest record present
        self.head_lpos = 0          # where the next data block goes (logical position)
        self.tail_lpos = 0          # where the oldest data block begins
        self.dropped = 0            # records pushed out so far

    def append(self, rec):
        size = data_block_size(rec.text)
        begin = self.head_lpos
        if begin % self.data_size + size > self.data_size:
            begin += self.data_size - begin % self.data_size   # no block wraps: skip to the start
        while self._recs and (begin + size - self.tail_lpos > self.data_size or
                              len(self._recs) >= self.descs):
            self._pop_oldest()
        if not self._recs:
            self.tail_lpos = begin
        self._recs.append((rec, begin, size))
        self.head_lpos = begin + size

    def _pop_oldest(self):
        self._recs.popleft()
        self.first_seq += 1
        self.dropped += 1
        if self._recs:
            self.tail_lpos = self._recs[0][1]

    def regrow_last(self):
        """The newest record's text grew (KERN_CONT): its block is made again, bigger."""
        rec, begin, _ = self._recs.pop()
        self.head_lpos = begin
        if not self._recs:
            self.tail_lpos = begin
        self.append(rec)

    def clear(self):
        self.first_seq += len(self._recs)
        self._recs.clear()
        self.tail_lpos = self.head_lpos

    def __len__(self):
        return self.first_seq + len(self._recs)

    def __bool__(self):
        return bool(self._recs)

    def __iter__(self):
        return (rec for rec, _, _ in self._recs)

    def __reversed__(self):
        return (rec for rec, _, _ in reversed(self._recs))

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            start, stop = max(start, self.first_seq), max(stop, self.first_seq)
            return [self._recs[i - self.first_seq][0] for i in range(start, stop, step)]
        if index < 0:
            return self._recs[index][0]
        if index < self.first_seq:
            raise IndexError(f"record {index} was pushed out of the ring")
        return self._recs[index - self.first_seq][0]


def format_record(rec: Record) -> str:
    """A record as busybox ``dmesg`` prints it: ``[    1.234567] text`` per line."""
    secs, ns = divmod(rec.ts_ns, 1_000_000_000)
    prefix = f"[{secs:5d}.{ns // 1000:06d}] "
    return "\n".join(prefix + line for line in rec.text.split("\n"))


class LogBuffer(KernelLog):
    """Records with timestamps, and the console: ``k.log``."""

    def __init__(self, clock: Clock, console_loglevel: int = 3):
        super().__init__()
        self.records = RecordRing()
        self.clock = clock
        self.console_loglevel = console_loglevel
        self.console = deque()           # text the console showed, in chunks (the newest)
        self._console_base = 0           # chunks dropped from the front of ``console``
        self._console_read = 0           # chunks drained so far (shown by the shell)
        self._console_bytes = 0
        self._console_kinds = deque()    # per chunk: a printk record (or raw bytes)
        self._console_dropped = [0, 0]   # printk records and raw bytes dropped, not yet said
        self._console_lost = False       # some text was dropped before it was shown
        self.clear_index = 0             # records before this one were cleared (dmesg -c)

    def printk(self, level: int, text: str) -> None:
        # a record holds at most PRINTKRB_RECORD_MAX - 1 = 991 bytes, level prefix included
        if len(text) > PRINTKRB_RECORD_MAX - 3:
            text = text[:PRINTKRB_RECORD_MAX - 3]
        self.clock.ns += 1000  # each record takes its microsecond
        rec = Record(level, text, ts_ns=self.clock.ns)
        self.records.append(rec)
        if level < self.console_loglevel:
            rec.on_console = True
            self._console_append(format_record(rec) + "\n", record=True)

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
            self.records.regrow_last()
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
        self._console_append(data.decode("latin-1"), record=False)

    def _console_append(self, text, record):
        self.console.append(text)
        self._console_kinds.append(record)
        self._console_bytes += len(text)
        while self._console_bytes > CONSOLE_MAX and len(self.console) > 1:
            old, was_record = self.console.popleft(), self._console_kinds.popleft()
            self._console_bytes -= len(old)
            if self._console_base >= self._console_read:     # never shown: lost
                if was_record:
                    self._console_dropped[0] += 1
                else:
                    self._console_dropped[1] += len(old)
                self._console_lost = True
            self._console_base += 1

    def _dropped_note(self):
        """What the console says where text it never showed was dropped: the kernel's
        line for printk records (console_prepend_dropped), the same for raw bytes."""
        records, raw = self._console_dropped
        self._console_dropped = [0, 0]
        note = f"** {records} printk messages dropped **\n" if records else ""
        if raw:
            note += f"** {raw} bytes of console output dropped **\n"
        return note

    def console_text(self) -> str:
        """What the console showed (after a flood, its newest CONSOLE_MAX bytes)."""
        head = ""
        if self._console_base:
            head = f"** console output dropped: kmodsim keeps its last {CONSOLE_MAX >> 20} MiB **\n"
        return head + "".join(self.console)

    def console_drain(self) -> str:
        """What reached the console since the last call (the shell interleaves it)."""
        start = max(self._console_read - self._console_base, 0)
        new = self._dropped_note() + "".join(islice(self.console, start, None))
        self._console_read = self._console_base + len(self.console)
        return new

    def syslog_text(self, start_seq=0, size=LOG_BUF_LEN) -> str:
        """``syslog(SYSLOG_ACTION_READ_ALL)`` into a buffer of ``size`` bytes: the newest
        records from ``start_seq`` on that fit whole, each line ``<N>[time] text``
        (syslog_print_all: find_first_fitting_seq, then whole records)."""
        texts = []
        total = 0
        for rec in reversed(self.records[start_seq:]):
            prefix = f"<{rec.facility << 3 | rec.level}>"
            text = "\n".join(prefix + line for line in format_record(rec).split("\n")) + "\n"
            if total + len(text) > size:
                break
            total += len(text)
            texts.append(text)
        return "".join(reversed(texts))

    def dmesg(self, start_seq=0) -> str:
        """The log as busybox ``dmesg`` prints it: what syslog(READ_ALL) returns into a
        buffer of the ring's size (SIZE_BUFFER), without the ``<N>`` prefixes; from
        ``start_seq`` on (``dmesg -c``'s clear index)."""
        return re.sub(r"(?m)^<\d+>", "", self.syslog_text(start_seq))
