"""printk's log records and how readers print them: Linux 6.1 ``kernel/printk/printk.c``.

Three stages, each a plain function or a small class you can stop after:

* :func:`split_level` reads the ``KERN_SOH`` prefixes (``include/linux/kern_levels.h``).
* :class:`PrintkLog` stores one printk call the way ``vprintk_store()`` does: one record per
  call, the trailing newline stripped and remembered (``LOG_NEWLINE``), a ``KERN_CONT``
  fragment appended to the previous record only if that record came from the same caller
  and is still open (no newline yet, no newer record since). Newlines inside one call stay
  in the record's text: it is still one record.
* :func:`record_print_text` formats a record as syslog readers and consoles see it: the
  prefix (``<level>`` for syslog, ``[%5lu.%06lu] `` with ``CONFIG_PRINTK_TIME``) in front of
  EVERY line of the record. :func:`format_syslog` is what ``busybox dmesg`` prints (it reads
  ``klogctl(SYSLOG_ACTION_READ_ALL)`` and strips the ``<N>`` from line starts unless ``-r``);
  :func:`console_lines` is what the serial console shows at a given ``console_loglevel``.

Readers see only finalized records (``desc_read_finalized_seq``): a record without its
newline becomes visible when the next record is stored. ``include_open=True`` shows it
anyway, as if something had printed after it.
"""

from __future__ import annotations

from dataclasses import dataclass

from linker.loglevels import (CONSOLE_LOGLEVEL_DEFAULT, LOGLEVEL_DEFAULT, LOGLEVEL_SCHED,
                              MESSAGE_LOGLEVEL_DEFAULT)

# enum printk_info_flags (kernel/printk/internal.h)
LOG_NEWLINE = 2
LOG_CONT = 8

CONSOLE_LOG_MAX = 1024              # a formatted record, prefixes included


def prefix_max(printk_caller=False):
    return 48 if printk_caller else 32


def log_line_max(printk_caller=False):
    """``LOG_LINE_MAX``: the largest record text, 992 bytes without CONFIG_PRINTK_CALLER."""
    return CONSOLE_LOG_MAX - prefix_max(printk_caller)


def printk_get_level(text: bytes) -> int:
    """``printk_get_level()``: the level character after a leading SOH, or 0."""
    if len(text) >= 2 and text[0] == 1 and text[1] in b"01234567c":
        return text[1]
    return 0


def split_level(text: bytes) -> tuple[int | None, bool, bytes]:
    """``(level, is_cont, rest)`` from the SOH prefixes at the start of ``text``.

    Like ``printk_parse_prefix()``, every prefix is consumed; the first digit gives the level,
    ``c`` marks KERN_CONT. No digit: level None (printk then uses default_message_loglevel).
    """
    level, cont, pos = None, False, 0
    while True:
        kern_level = printk_get_level(text[pos:pos + 2])
        if not kern_level:
            break
        if kern_level == ord("c"):
            cont = True
        elif level is None:
            level = kern_level - ord("0")
        pos += 2
    return level, cont, text[pos:]


@dataclass
class PrintkRecord:
    """One ringbuffer record: ``struct printk_info`` plus its text (no trailing newline)."""

    seq: int
    text: bytes
    level: int
    flags: int = 0
    facility: int = 0
    ts_nsec: int = 0
    caller_id: int = 0
    final: bool = False

    @property
    def has_newline(self):
        return bool(self.flags & LOG_NEWLINE)


@dataclass(frozen=True)
class PrintkCall:
    """One call into vprintk_emit: the fully formatted text (vsnprintf with no size limit)."""

    text: bytes
    ts_nsec: int = 0
    caller_id: int = 0
    level: int = LOGLEVEL_DEFAULT
    facility: int = 0
    dev_info: bool = False


class PrintkLog:
    """The printk ringbuffer, as a list of records (no wrap-around: the simulator keeps all)."""

    def __init__(self, *, default_message_loglevel=MESSAGE_LOGLEVEL_DEFAULT,
                 printk_caller=False):
        self.records: list[PrintkRecord] = []
        self.default_message_loglevel = default_message_loglevel
        self.log_line_max = log_line_max(printk_caller)

    def store(self, formatted: bytes, *, ts_nsec=0, caller_id=0, level=LOGLEVEL_DEFAULT,
              facility=0, dev_info=False) -> int:
        """``vprintk_store()`` for text vsnprintf already produced; returns printk's value.

        ``formatted`` is the untruncated output (``vsnprintf(..., size=None).text``): the
        kernel formats twice, once to size the record and once into it, which a one-shot
        :class:`~emulator.kapi.vsprintf.ArgSource` cannot do, and both passes print the same.
        ``caller_id`` is ``printk_caller_id()``: the task's pid, or ``0x80000000 | cpu`` in
        interrupt context.
        """
        flags = 0
        if level == LOGLEVEL_SCHED:
            level = LOGLEVEL_DEFAULT                    # vprintk_emit(): deferred, same record
        # sized by a vsnprintf into an 8-byte buffer: u16 arithmetic, capped to LOG_LINE_MAX
        reserve_size = (len(formatted) + 1) & 0xFFFF
        reserve_size = min(reserve_size, self.log_line_max)
        if facility == 0:
            prefix_level, cont, _ = split_level(formatted[:7])
            if level == LOGLEVEL_DEFAULT and prefix_level is not None:
                level = prefix_level
            if cont:
                flags |= LOG_CONT
        if level == LOGLEVEL_DEFAULT:
            level = self.default_message_loglevel
        if dev_info:
            flags |= LOG_NEWLINE

        if flags & LOG_CONT:
            last = self.records[-1] if self.records else None
            if (last is not None and not last.final and last.caller_id == caller_id
                    and reserve_size + len(last.text) <= self.log_line_max):
                text, flags = self._printk_sprint(formatted, reserve_size, facility, flags)
                last.text += text
                if flags & LOG_NEWLINE:
                    last.flags |= LOG_NEWLINE
                    last.final = True
                return len(text)

        text, flags = self._printk_sprint(formatted, reserve_size, facility, flags)
        if self.records:
            self.records[-1].final = True           # prb_reserve() finalizes the previous one
        self.records.append(PrintkRecord(
            seq=len(self.records), text=text, level=level & 7, flags=flags & 0x1F,
            facility=facility, ts_nsec=ts_nsec, caller_id=caller_id,
            final=bool(flags & LOG_NEWLINE)))
        return len(text)

    @staticmethod
    def _printk_sprint(formatted, size, facility, flags):
        """``printk_sprint()``: truncate to the reservation, strip the newline and prefixes."""
        text = formatted[:size - 1] if size else b""
        if text.endswith(b"\n"):
            text = text[:-1]
            flags |= LOG_NEWLINE
        if facility == 0:
            text = split_level(text)[2]
        return text, flags

    def readable(self, include_open=False) -> list[PrintkRecord]:
        """The records a reader (syslog, console, /dev/kmsg) can see."""
        return [r for r in self.records if r.final or include_open]


def store_calls(calls, **log_options) -> list[PrintkRecord]:
    """The records a sequence of :class:`PrintkCall` leaves in a fresh log."""
    log = PrintkLog(**log_options)
    for call in calls:
        log.store(call.text, ts_nsec=call.ts_nsec, caller_id=call.caller_id, level=call.level,
                  facility=call.facility, dev_info=call.dev_info)
    return log.records


def vprintk(log: PrintkLog, fmt: bytes, args, mem=None, *, ts_nsec=0, caller_id=0,
            level=LOGLEVEL_DEFAULT, facility=0, dev_info=False, **printf_options) -> int:
    """``vprintk_emit()``: format with the kernel's vsnprintf, then store one record."""
    from emulator.kapi.vsprintf import vsnprintf
    formatted = vsnprintf(fmt, args, mem, **printf_options).text
    return log.store(formatted, ts_nsec=ts_nsec, caller_id=caller_id, level=level,
                     facility=facility, dev_info=dev_info)


# -- readers -------------------------------------------------------------------------------

def print_time(ts_nsec: int) -> bytes:
    """``print_time()``: ``[%5lu.%06lu]``, seconds and microseconds."""
    seconds, rem_nsec = divmod(ts_nsec, 1_000_000_000)
    return b"[%5d.%06d]" % (seconds, rem_nsec // 1000)


def info_print_prefix(record: PrintkRecord, *, syslog: bool, time: bool,
                      printk_caller=False) -> bytes:
    """``info_print_prefix()``: ``<facility*8+level>``, the time, the caller, a space."""
    prefix = b""
    if syslog:
        prefix += b"<%d>" % ((record.facility << 3) | record.level)
    if time:
        prefix += print_time(record.ts_nsec)
    if printk_caller:
        kind = "C" if record.caller_id & 0x80000000 else "T"
        prefix += b"[%6s]" % f"{kind}{record.caller_id & 0x7FFFFFFF}".encode()
    if printk_caller or time:
        prefix += b" "
    return prefix


def record_print_text(record: PrintkRecord, *, syslog: bool, time: bool,
                      buf_size=CONSOLE_LOG_MAX, printk_caller=False) -> bytes:
    """``record_print_text()``: the prefix before every line, the newline put back.

    Formatted into a ``buf_size`` buffer like the kernel: lines that no longer fit (with
    their prefixes, a newline and the NUL) are dropped, a partly fitting last line is cut.
    """
    prefix = info_print_prefix(record, syslog=syslog, time=time, printk_caller=printk_caller)
    text = record.text[:buf_size]
    out = bytearray()
    truncated = False
    while True:
        newline = text.find(b"\n")
        if newline >= 0:
            line_len = newline
        else:
            if truncated:
                break                                   # drop a truncated line
            line_len = len(text)
        if len(out) + len(prefix) + len(text) + 2 > buf_size:
            if len(out) + len(prefix) + line_len + 2 > buf_size:
                break                                   # not even this line fits
            text = text[:buf_size - len(out) - len(prefix) - 2]
            truncated = True
        out += prefix + text[:line_len] + b"\n"
        if len(text) == line_len:
            break                                       # the last line
        text = text[line_len + 1:]
    return bytes(out)


def syslog_read_all(records, *, printk_time=True, size=None, include_open=False,
                    printk_caller=False) -> bytes:
    """What ``klogctl(SYSLOG_ACTION_READ_ALL, buf, size)`` returns: the newest records that fit."""
    texts = [record_print_text(r, syslog=True, time=printk_time, printk_caller=printk_caller)
             for r in records if r.final or include_open]
    if size is not None:
        total, first = 0, len(texts)
        while first > 0 and total + len(texts[first - 1]) <= size:
            first -= 1
            total += len(texts[first])
        texts = texts[first:]
    return b"".join(texts)


def busybox_dmesg(klog: bytes, *, raw=False) -> bytes:
    """``busybox dmesg`` output for a syslog buffer: ``<N>`` stripped at line starts."""
    if not klog:
        return b""
    if raw:
        return klog if klog.endswith(b"\n") else klog + b"\n"
    out = bytearray()
    last = ord("\n")
    pos = 0
    while pos < len(klog):
        if last == ord("\n") and klog[pos] == ord("<"):
            # skip through the '>' (or to the end of the buffer)
            while pos < len(klog):
                pos += 1
                if klog[pos - 1] == ord(">"):
                    break
        else:
            last = klog[pos]
            out.append(last)
            pos += 1
    if last != ord("\n"):
        out += b"\n"
    return bytes(out)


def format_syslog(records, *, printk_time=True, raw=False, include_open=False,
                  printk_caller=False) -> bytes:
    """What ``busybox dmesg`` (``-r``: ``raw=True``) prints for these records.

    busybox reads at least 16 KiB, and at least the log buffer size (128 KiB on Debian), so
    every record the simulator keeps fits.
    """
    klog = syslog_read_all(records, printk_time=printk_time, include_open=include_open,
                           printk_caller=printk_caller)
    return busybox_dmesg(klog, raw=raw)


def console_lines(records, console_loglevel=CONSOLE_LOGLEVEL_DEFAULT, *, printk_time=True,
                  ignore_loglevel=False, include_open=False, printk_caller=False) -> list[bytes]:
    """The lines the console prints (without ``\\r\\n``): records below ``console_loglevel``."""
    lines = []
    for record in records:
        if not (record.final or include_open):
            continue
        if record.level >= console_loglevel and not ignore_loglevel:
            continue                                    # suppress_message_printing()
        text = record_print_text(record, syslog=False, time=printk_time,
                                 printk_caller=printk_caller)
        lines.extend(text.split(b"\n")[:-1])
    return lines
