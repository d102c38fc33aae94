"""A GDB remote stub: debug a module's init (and exit) with the real gdb.

``kmodsim run --gdb PORT MODULE`` links the module, stops before its first instruction and
prints what gdb needs::

    kmodsim: gdb: add-symbol-file MODULE -s .init.text 0x... -s .data 0x... ...
    kmodsim: gdb: waiting on 127.0.0.1:PORT (in gdb: target remote 127.0.0.1:PORT)

then serves gdb's remote serial protocol (gdb manual, "Remote Protocol") over TCP on
127.0.0.1 only: the simulated kernel is one process with one thread, the CPU is the
execution stepper's (:mod:`emulator.debugger`), so a breakpoint, ``stepi`` or ``continue``
in gdb is a command of that debugger. Whenever gdb continues the load goes on (init runs,
the log fills); when the whole run is over gdb sees the process exit (``W00``, or ``X09``
when the module's oops killed insmod).

Packets served: ``qSupported`` (with ``QStartNoAckMode``, ``qXfer:features:read`` for a
target description, ``swbreak``), ``?``, ``g``/``G``, ``p``/``P``, ``m``/``M``,
``Z0``/``z0`` (and ``Z1``/``z1``, treated alike), ``c``, ``s``, ``C``, ``S``,
``vCont?``/``vCont``, ``qAttached``, ``qC``, ``qfThreadInfo``/``qsThreadInfo``, ``H``,
``T``, ``k``, ``D``, ``vKill``, ``qSymbol``, and ``\\x03`` (interrupt) while running;
anything else gets the empty reply (unsupported). A packet that does not parse (a field
that is not plain hex, one missing, a length that does not match its data, a number too
large) is answered ``E01`` (``qXfer``: ``E00``, its "malformed") and changes nothing; ``m``
and ``qXfer`` answer at most what fits in a packet (the protocol lets a stub return fewer
bytes than asked); a packet longer than gdb ever sends is dropped, a bad checksum NAKed.
Stops are ``T05`` (breakpoint, step),
``T02`` (interrupted) and ``S0b``/``S04``/``S08`` for faults (SIGSEGV, SIGILL, SIGFPE);
after a fault, continuing produces the oops as without gdb.

Registers follow the target description sent (``target.xml``): x86-64 as gdb's
``i386:x86-64`` core feature (rax rbx rcx rdx rsi rdi rbp rsp r8-r15 rip eflags cs ss ds es
fs gs st0-st7 fctrl..fop) plus ``org.gnu.gdb.i386.segments`` (fs_base, gs_base: the
per-CPU base); i386 (the hobby kernel) the same with the 32-bit names. The x87 registers
read as zeros: module code does not use them.
"""

import collections
import re
import select
import socket
import sys
import threading

from unicorn import x86_const as X

from .debugger import INTERRUPTED, SIGSEGV, SIGTRAP, Debugger

LOCALHOST = "127.0.0.1"
PACKET_SIZE = 0x4000
THREAD_ID = 1
# gdb keeps to the PacketSize it was told; anything longer is not gdb: dropped unread
MAX_PACKET = 4 * PACKET_SIZE
MAX_MEMORY_REPLY = (PACKET_SIZE - 8) // 2       # bytes of an m reply (two hex digits each)
MAX_XFER_REPLY = (PACKET_SIZE - 8) // 2         # bytes of a qXfer chunk (escaping may double)
LOG_SIZE, LOGGED = 1000, 256                   # packets kept in GdbStub.log, bytes of each
MALFORMED = "E01"                               # the reply to a packet that does not parse
_HEX = re.compile(r"[0-9a-fA-F]+")


class Malformed(ValueError):
    """A packet whose fields do not parse: answered with :data:`MALFORMED`."""


def parse_hex(text, bits=64):
    """A hex field of a packet: digits only (no sign, no ``0x``, no ``_``), below 2**bits."""
    if not _HEX.fullmatch(text) or len(text.lstrip("0")) > (bits + 3) // 4:
        raise Malformed(text)
    value = int(text, 16)
    if value >> bits:
        raise Malformed(text)
    return value

# (name, bits, unicorn register or None, gdb type, feature)
_CORE64 = [(n, 64, getattr(X, f"UC_X86_REG_{n.upper()}"),
            "code_ptr" if n == "rip" else "data_ptr" if n in ("rbp", "rsp") else "int64", "core")
           for n in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10",
                     "r11", "r12", "r13", "r14", "r15", "rip")]
_CORE32 = [(n, 32, getattr(X, f"UC_X86_REG_{n.upper()}"),
            "code_ptr" if n == "eip" else "data_ptr" if n in ("ebp", "esp") else "int32", "core")
           for n in ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip")]
_FLAGS_SEGS = [("eflags", 32, X.UC_X86_REG_EFLAGS, "i386_eflags", "core")] + \
    [(n, 32, getattr(X, f"UC_X86_REG_{n.upper()}"), "int32", "core")
     for n in ("cs", "ss", "ds", "es", "fs", "gs")]
_X87 = [(f"st{i}", 80, None, "i387_ext", "core") for i in range(8)] + \
    [("fctrl", 32, X.UC_X86_REG_FPCW, "int", "core"),
     ("fstat", 32, X.UC_X86_REG_FPSW, "int", "core"),
     ("ftag", 32, X.UC_X86_REG_FPTAG, "int", "core")] + \
    [(n, 32, None, "int", "core") for n in ("fiseg", "fioff", "foseg", "fooff", "fop")]
_SEGMENTS = [("fs_base", 64, X.UC_X86_REG_FS_BASE, "int", "segments"),
             ("gs_base", 64, X.UC_X86_REG_GS_BASE, "int", "segments")]
EFLAGS_FIELDS = (("CF", 0), ("", 1), ("PF", 2), ("AF", 4), ("ZF", 6), ("SF", 7), ("TF", 8),
                 ("IF", 9), ("DF", 10), ("OF", 11), ("NT", 14), ("RF", 16), ("VM", 17),
                 ("AC", 18), ("VIF", 19), ("VIP", 20), ("ID", 21))


def gdb_registers(bits):
    """The registers in the order of the target description (and of the ``g`` packet)."""
    if bits == 64:
        return _CORE64 + _FLAGS_SEGS + _X87 + _SEGMENTS
    return _CORE32 + _FLAGS_SEGS + _X87


def target_xml(bits):
    """A target description with the core feature (and fs_base/gs_base on x86-64)."""
    arch = "i386:x86-64" if bits == 64 else "i386"
    flags = "".join(f'<field name="{n}" start="{b}" end="{b}"/>' for n, b in EFLAGS_FIELDS)
    features = {}
    for name, size, _, typ, feature in gdb_registers(bits):
        features.setdefault(feature, []).append(
            f'<reg name="{name}" bitsize="{size}" type="{typ}"/>')
    core = (f'<feature name="org.gnu.gdb.i386.core"><flags id="i386_eflags" size="4">{flags}'
            f'</flags>{"".join(features["core"])}</feature>')
    segs = ""
    if "segments" in features:
        segs = (f'<feature name="org.gnu.gdb.i386.segments">{"".join(features["segments"])}'
                '</feature>')
    return ('<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd">'
            f'<target version="1.0"><architecture>{arch}</architecture>{core}{segs}</target>')


def add_symbol_file_command(mod, path):
    """The gdb command that loads the module's symbols at the addresses it was placed at
    (``add-symbol-file`` with one ``-s`` per placed section, as gdb's lx-symbols does)."""
    parts = [f"add-symbol-file {path}"]
    for _, name, addr, size, _ in mod.linked.placed_sections():
        if size:
            parts.append(f"-s {name} {addr:#x}")
    return " ".join(parts)


def checksum(data):
    return sum(data) & 0xFF


def escape(data):
    """Binary data in a packet: ``#``, ``$``, ``}`` and ``*`` as ``}`` then the byte ^ 0x20."""
    out = bytearray()
    for b in data:
        if b in b"#$}*":
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


class GdbStub:
    """Serve gdb for ``kernel`` on 127.0.0.1:``port`` (0: any free port, see ``.port``).

    The stub attaches a :class:`~emulator.debugger.Debugger` whose controller it is, and
    stops before the next module code that runs (``stop_at_entry``); it waits for gdb there.
    ``module_path`` is the file named in the ``add-symbol-file`` line; ``out`` where the
    stub's own lines go (default stderr: stdout keeps the log).
    """

    def __init__(self, kernel, port=0, module_path=None, host=LOCALHOST, out=None):
        if host != LOCALHOST:
            raise ValueError("the GDB stub listens on 127.0.0.1 only")
        self.kernel = kernel
        self.module_path = module_path
        self.out = out if out is not None else sys.stderr
        self.bits = kernel.machine.bits
        self.registers = gdb_registers(self.bits)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOCALHOST, port))
        self.sock.listen(1)
        bound = self.sock.getsockname()
        assert bound[0] == LOCALHOST, f"the GDB stub must not listen on {bound[0]}"
        self.port = bound[1]
        self.debugger = Debugger(kernel, controller=self)
        self.debugger.stop_at_entry = True
        self.conn = None
        self.closed = False           # gdb detached or went away: the run goes on alone
        self.noack = False
        self.waiting = False          # gdb sent c/s and waits for a stop reply
        self.stop = None
        # (direction, packet) for tests and curious students: the last LOG_SIZE, cut at LOGGED
        self.log = collections.deque(maxlen=LOG_SIZE)
        self._buf = b""
        self._skip_to_next = False
        self._last_sent = b""
        self._watch = None
        self._running = threading.Event()

    # ------------------------------------------------------------------ the debugger's side

    def stopped(self, stop):
        """The debugger stopped: tell gdb (or wait for it), then serve its packets until
        it resumes. Returns the debugger command."""
        self._stop_watching()
        self.stop = stop
        if self.closed:
            return "detach"
        if self.conn is None:
            self._announce(stop)
            self._accept()
        elif self.waiting:
            self.waiting = False
            self._send(self._stop_reply(stop))
        command = self._serve()
        if command in ("cont", "step") and not self.closed:
            self._start_watching()
        return command

    def finish(self, status=0):
        """The run is over: gdb sees the process exit, then the stub closes."""
        self._stop_watching()
        if self.conn is not None and not self.closed:
            try:
                if self.waiting:
                    signal = {137: 9, 139: 11}.get(status)
                    self._send(f"X{signal:02x}" if signal else f"W{min(status, 255):02x}")
            except OSError:
                pass
        self._close()
        self.sock.close()
        self.debugger.detach()

    def _announce(self, stop):
        from .faults import module_of
        func = self.debugger.current_call
        mod = module_of(self.kernel, func, whole=True) if func is not None else None
        p = self.out
        if mod is not None:
            path = self.module_path or f"{mod.name}.ko"
            before = "its first instruction" if stop.pc == func else \
                f"the kernel calls {self.debugger.where(func)} ({func:#x})"
            print(f"kmodsim: gdb: {mod.name} is linked; stopped at {stop.where} ({stop.pc:#x}), "
                  f"before {before}", file=p)
            print(f"kmodsim: gdb: {add_symbol_file_command(mod, path)}", file=p)
        print(f"kmodsim: gdb: waiting on {LOCALHOST}:{self.port} (in gdb: target remote "
              f"{LOCALHOST}:{self.port})", file=p, flush=True)

    def _accept(self):
        conn, _ = self.sock.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = conn

    def _close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.closed = True

    # ------------------------------------------------------------------ interrupts

    def _start_watching(self):
        """While the CPU runs, a ``\\x03`` from gdb (Ctrl-C) stops it."""
        self._running.set()
        self._watch = threading.Thread(target=self._watch_for_interrupt, daemon=True,
                                       name="kmodsim-gdb-interrupt")
        self._watch.start()

    def _stop_watching(self):
        self._running.clear()
        if self._watch is not None:
            self._watch.join()
            self._watch = None

    def _watch_for_interrupt(self):
        while self._running.is_set():
            try:
                ready, _, _ = select.select([self.conn], [], [], 0.05)
                if not ready:
                    continue
                peek = self.conn.recv(1, socket.MSG_PEEK)
            except OSError:
                return
            if peek != b"\x03":
                return          # a packet: read by the next stop, not ours
            self.conn.recv(1)
            self.kernel.machine.stop(INTERRUPTED)
            return

    # ------------------------------------------------------------------ packets

    def _read_packet(self):
        """The next packet's payload (bytes), or None when gdb has gone. Bytes outside a
        packet are acks (``+``), NAKs (``-``: the last reply again), interrupts or noise;
        a packet longer than MAX_PACKET is dropped (NAKed) without being kept."""
        while True:
            start = self._buf.find(b"$")
            outside = self._buf if start < 0 else self._buf[:start]
            if b"-" in outside:
                self._raw_send(self._last_sent)
            if outside:
                self._buf = self._buf[len(outside):]
            if self._buf:
                end = self._buf.find(b"#")
                if end < 0 and len(self._buf) > MAX_PACKET or end > MAX_PACKET:
                    # not gdb's: dropped (through its checksum, or all that came of it so
                    # far and the rest as it comes), and said so
                    self._buf = self._buf[end + 3:] if end >= 0 else b""
                    self._skip_to_next = end < 0
                    if not self.noack:
                        self._raw_send(b"-")
                    continue
                if end >= 0 and len(self._buf) >= end + 3:
                    payload = self._buf[1:end]
                    sent = self._buf[end + 1:end + 3]
                    self._buf = self._buf[end + 3:]
                    ok = _is_hex(sent) and int(sent, 16) == checksum(payload)
                    if not self.noack:
                        self._raw_send(b"+" if ok else b"-")
                    if ok:
                        self.log.append(("<-", payload[:LOGGED].decode("latin-1")))
                        return payload
                    continue
            try:
                data = self.conn.recv(PACKET_SIZE)
            except OSError:
                data = b""
            if not data:
                return None
            if self._skip_to_next:             # the rest of a dropped packet, up to its #
                cut = data.find(b"#")
                if cut < 0:
                    continue
                data, self._skip_to_next = data[cut + 3:], False
            self._buf += data

    def _send(self, payload):
        if isinstance(payload, str):
            payload = payload.encode("latin-1")
        self.log.append(("->", payload[:LOGGED].decode("latin-1")))
        self._last_sent = b"$" + payload + b"#" + f"{checksum(payload):02x}".encode()
        self._raw_send(self._last_sent)

    def _raw_send(self, data):
        if data and not self.closed:
            try:
                self.conn.sendall(data)
            except OSError:            # gdb went away: the run goes on without it
                self._close()

    def _serve(self):
        """Answer packets until one resumes execution; the debugger's command."""
        while True:
            packet = None if self.closed else self._read_packet()
            if packet is None:
                self._close()
                return "detach"
            command, reply = self._answer(packet.decode("latin-1"))
            if reply is not None:
                self._send(reply)
            if self.closed:
                return "detach"
            if command == "noack":
                self.noack = True
            elif command is not None:
                return command

    def _answer(self, p):
        """:meth:`_handle`, with any packet that does not parse answered ``E01`` (the
        stub stays where it is: nothing resumes, nothing is written)."""
        try:
            return self._handle(p)
        except Exception:         # Malformed, and whatever a hostile packet finds beyond
            if p.startswith("qXfer:"):
                return None, "E00"      # qXfer's own "the request was malformed"
            return None, MALFORMED

    def _handle(self, p):
        """``(debugger command or None, reply or None)`` for one packet."""
        if p.startswith("qSupported"):
            return None, (f"PacketSize={PACKET_SIZE:x};qXfer:features:read+;"
                          "QStartNoAckMode+;swbreak+;vContSupported+")
        if p == "QStartNoAckMode":
            return "noack", "OK"
        if p == "?":
            return None, self._stop_reply(self.stop)
        if p.startswith("qXfer:features:read:"):
            return None, self._xfer(p)
        if p == "g":
            return None, self._read_all_registers()
        if p.startswith("G"):
            return None, self._write_all_registers(p[1:])
        if p.startswith("p"):
            return None, self._read_register(parse_hex(p[1:], 32))
        if p.startswith("P"):
            n, eq, value = p[1:].partition("=")
            if not eq or not _HEX.fullmatch(value) or len(value) % 2:
                raise Malformed(p)
            return None, self._write_register(parse_hex(n, 32), value)
        if p.startswith("m"):
            return None, self._read_memory(p[1:])
        if p.startswith("M"):
            return None, self._write_memory(p[1:])
        if p[:2] in ("Z0", "Z1", "z0", "z1"):
            return None, self._breakpoint(p)
        if p[:1] in ("c", "s", "C", "S"):
            return self._resume(p), None
        if p == "vCont?":
            return None, "vCont;c;C;s;S"
        if p.startswith("vCont;"):
            command = self._vcont(p[6:])
            return (command, None) if command else (None, MALFORMED)
        if p == "qAttached" or p.startswith("qAttached:"):
            return None, "1"
        if p == "qC":
            return None, f"QC{THREAD_ID:02x}"
        if p == "qfThreadInfo":
            return None, f"m{THREAD_ID:02x}"
        if p == "qsThreadInfo":
            return None, "l"
        if p.startswith("H") or (p.startswith("T") and len(p) > 1):
            return None, "OK"
        if p == "qSymbol::":
            return None, "OK"
        if p == "k" or p.startswith("vKill"):
            reply = "OK" if p.startswith("vKill") else None
            if reply:
                self._send(reply)
            self._close()
            return "detach", None
        if p.startswith("D"):
            self._send("OK")
            self._close()
            return "detach", None
        return None, ""

    # ------------------------------------------------------------------ stop replies

    def _stop_reply(self, stop):
        if stop is None:
            return f"T{SIGTRAP:02x}thread:{THREAD_ID:02x};"
        if stop.reason in ("fault", "timeout"):
            return f"S{stop.signal:02x}"
        extra = "swbreak:;" if stop.breakpoint is not None else ""
        return f"T{stop.signal:02x}thread:{THREAD_ID:02x};{extra}"

    def _resume(self, p):
        """``c [addr]``, ``s [addr]``, ``C sig[;addr]``, ``S sig[;addr]``."""
        kind = p[0].lower()
        rest = p[1:]
        if p[0] in "CS":
            sig, _, rest = rest.partition(";")
            parse_hex(sig, 8)
        if rest:
            pc = parse_hex(rest, self.bits)
            self.kernel.machine.set_reg(self.kernel.machine.IP, pc)
        self.waiting = True
        return "step" if kind == "s" else "cont"

    def _vcont(self, actions):
        """The debugger command of a ``vCont`` packet, or None when an action is not one
        of c, C sig, s, S sig (the packet is then refused, nothing resumes)."""
        parsed = []
        for action in actions.split(";"):
            what, _, thread = action.partition(":")
            if what not in ("c", "s") and not (what[:1] in ("C", "S") and len(what) > 1
                                                and _HEX.fullmatch(what[1:])):
                return None
            parsed.append((what, thread))
        for what, thread in parsed:
            if thread and thread not in ("-1", f"{THREAD_ID:x}", f"{THREAD_ID:02x}", "p1.1"):
                continue
            if what[:1] in ("s", "S"):
                self.waiting = True
                return "step"
            if what[:1] in ("c", "C"):
                self.waiting = True
                return "cont"
        self.waiting = True
        return "cont"

    # ------------------------------------------------------------------ registers

    def _register_bytes(self, n):
        name, bits, reg, _, _ = self.registers[n]
        value = self.kernel.machine.uc.reg_read(reg) if reg is not None else 0
        if name in ("fctrl",) and not value:
            value = 0x37F
        return (value & ((1 << bits) - 1)).to_bytes(bits // 8, "little")

    def _read_all_registers(self):
        return b"".join(self._register_bytes(n) for n in range(len(self.registers))).hex()

    def _read_register(self, n):
        if n >= len(self.registers):
            return "E45"
        return self._register_bytes(n).hex()

    def _write_register(self, n, hexvalue):
        if n >= len(self.registers):
            return "E45"
        name, bits, reg, _, _ = self.registers[n]
        try:
            raw = bytes.fromhex(hexvalue)
        except ValueError:
            return "E16"
        if not raw or len(raw) > bits // 8:
            return MALFORMED
        value = int.from_bytes(raw, "little")
        if reg is not None and name not in ("cs", "ss", "ds", "es", "fs", "gs"):
            self.kernel.machine.uc.reg_write(reg, value)   # segment selectors stay as they are
        return "OK"

    def _write_all_registers(self, hexdata):
        try:
            data = bytes.fromhex(hexdata)
        except ValueError:
            return "E16"
        off = 0
        for n, (_, bits, _, _, _) in enumerate(self.registers):
            size = bits // 8
            if off + size > len(data):
                break
            current = self._register_bytes(n)
            if data[off:off + size] != current:
                self._write_register(n, data[off:off + size].hex())
            off += size
        return "OK"

    # ------------------------------------------------------------------ memory

    def _read_memory(self, args):
        """``m addr,length``: at most MAX_MEMORY_REPLY bytes (gdb asks again for the rest,
        as the protocol lets a stub answer with fewer bytes than asked)."""
        addr, length = _address_length(args)
        length = min(length, MAX_MEMORY_REPLY)
        m = self.kernel.machine
        out = bytearray()
        while len(out) < length:
            a = addr + len(out)
            chunk = min(length - len(out), 4096 - a % 4096)
            try:
                out += m.read(a, chunk)
            except Exception:
                break
        return out.hex() if out else "E14"

    def _write_memory(self, args):
        where, colon, hexdata = args.partition(":")
        addr, length = _address_length(where)
        if not colon or len(hexdata) != 2 * length or (hexdata and not _HEX.fullmatch(hexdata)):
            raise Malformed(args)
        try:
            self.kernel.machine.write(addr, bytes.fromhex(hexdata))
        except Exception:
            return "E14"
        return "OK"

    def _breakpoint(self, p):
        if p[2:3] != ",":
            raise Malformed(p)
        fields = p[3:].split(";")[0].split(",")
        addr = parse_hex(fields[0], self.bits)
        if p[0] == "Z":
            self.debugger.break_at(addr)
        else:
            self.debugger.delete(addr)
        return "OK"

    def _xfer(self, p):
        annex, _, span = p[len("qXfer:features:read:"):].rpartition(":")
        if annex != "target.xml":
            return "E00"
        offset, length = _address_length(span)
        length = min(length, MAX_XFER_REPLY)
        data = target_xml(self.bits).encode()
        chunk = data[offset:offset + length]
        return (b"l" if offset + length >= len(data) else b"m") + escape(chunk)


def _is_hex(raw):
    return re.fullmatch(rb"[0-9a-fA-F]{2}", raw) is not None


def _address_length(text):
    """``addr,length`` (``m``, ``M``, ``qXfer``'s ``offset,length``), both strict hex."""
    addr, comma, length = text.partition(",")
    if not comma:
        raise Malformed(text)
    return parse_hex(addr), parse_hex(length)


__all__ = ["GdbStub", "target_xml", "gdb_registers", "add_symbol_file_command", "LOCALHOST",
           "SIGSEGV"]
