"""The GDB remote stub: the protocol spoken by a small client here, then Debian's real gdb
against ``kmodsim run --gdb``. The stub must listen on 127.0.0.1 and nowhere else."""

import io
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

import pytest
from conftest import ROOT, SAMPLES
from unicorn import x86_const

from emulator.debugger import ModuleCode
from emulator.gdbstub import GdbStub, gdb_registers, target_xml
from emulator.kernel import Kernel

PARAMS = SAMPLES / "linux/params/params.ko"
OOPS_NULL = SAMPLES / "linux/oops_null/oops_null.ko"
RIP = 16          # rip's number in the target description (after rax..r15)


# ------------------------------------------------------------------ a small RSP client

class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""
        self.ack = True

    def send(self, payload):
        data = payload.encode("latin-1")
        self.sock.sendall(b"$" + data + b"#" + f"{sum(data) & 0xFF:02x}".encode())
        if self.ack:
            assert self._byte() == b"+"

    def _byte(self):
        while not self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("the stub closed the connection")
            self.buf += chunk
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def reply(self):
        while self._byte() != b"$":
            pass
        out = bytearray()
        while (b := self._byte()) != b"#":
            out += b
        check = self._byte() + self._byte()
        assert int(check, 16) == sum(out) & 0xFF
        if self.ack:
            self.sock.sendall(b"+")
        return out.decode("latin-1")

    def ask(self, payload):
        self.send(payload)
        return self.reply()

    def close(self):
        self.sock.close()


def regs_of(hexdata, bits=64):
    """Register values from a ``g`` reply, by name."""
    raw = bytes.fromhex(hexdata)
    out, off = {}, 0
    for name, size, _, _, _ in gdb_registers(bits):
        out[name] = int.from_bytes(raw[off:off + size // 8], "little")
        off += size // 8
    return out


@pytest.fixture
def session():
    """A kernel loading params.ko (p_int=-7) under the stub, and a client connected."""
    k = Kernel()
    out = io.StringIO()
    stub = GdbStub(k, 0, module_path=str(PARAMS), out=out)
    results = []
    worker = threading.Thread(target=lambda: results.append(k.insmod(str(PARAMS), "p_int=-7")),
                              daemon=True)
    worker.start()
    client = Client(stub.port)
    yield k, stub, client, worker, results, out
    client.close()
    if not stub.closed:
        stub.finish(0)


def module_symbol(k, name):
    return ModuleCode.of(k.machine, k.modules[0]).address_of(name)


# ------------------------------------------------------------------ listening

def test_listens_on_127_0_0_1_only():
    k = Kernel()
    with pytest.raises(ValueError):
        GdbStub(k, 0, host="0.0.0.0")
    stub = GdbStub(k, 0)
    assert stub.sock.getsockname()[0] == "127.0.0.1"
    assert stub.sock.family == socket.AF_INET
    stub.finish(0)
    assert k.debugger is None


def test_target_description_parses():
    root = ET.fromstring(target_xml(64).split("?>", 1)[1].split(">", 1)[1])
    names = [r.get("name") for r in root.iter("reg")]
    assert names[:17] == ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9",
                          "r10", "r11", "r12", "r13", "r14", "r15", "rip"]
    assert names[17:24] == ["eflags", "cs", "ss", "ds", "es", "fs", "gs"]
    assert names[-2:] == ["fs_base", "gs_base"]
    assert root.find("architecture").text == "i386:x86-64"
    assert ET.fromstring(target_xml(32).split("?>", 1)[1].split(">", 1)[1]).find(
        "architecture").text == "i386"


# ------------------------------------------------------------------ the protocol

def test_handshake_registers_memory_breakpoints(session):
    k, stub, c, worker, results, out = session
    supported = c.ask("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386")
    assert "QStartNoAckMode+" in supported and "qXfer:features:read+" in supported
    assert "swbreak+" in supported
    assert c.ask("QStartNoAckMode") == "OK"
    c.ack = False
    assert c.ask("vMustReplyEmpty") == ""
    assert c.ask("qXfer:features:read:target.xml:0,ffff").startswith("l<?xml")
    assert c.ask("?") == "T05thread:01;"
    assert c.ask("qAttached") == "1"
    assert c.ask("qC") == "QC01"
    assert c.ask("qfThreadInfo") == "m01" and c.ask("qsThreadInfo") == "l"
    assert c.ask("Hg0") == "OK"
    assert c.ask("vCont?") == "vCont;c;C;s;S"

    # stopped in the kernel, about to call init: rip on the call, the module linked
    regs = regs_of(c.ask("g"))
    assert regs["rip"] == k.sentinel - 5
    assert int.from_bytes(bytes.fromhex(c.ask(f"p{RIP:x}")), "little") == regs["rip"]
    assert regs["gs_base"] == k.machine.reg(x86_const.UC_X86_REG_GS_BASE)   # the per-CPU area
    init = module_symbol(k, "params_init")
    assert "params is linked" in out.getvalue() and f"-s .init.text {init:#x}" in out.getvalue()

    # memory: the parameter was parsed before init; write it, read it back
    p_int = module_symbol(k, "p_int")
    assert bytes.fromhex(c.ask(f"m{p_int:x},4")) == (-7).to_bytes(4, "little", signed=True)
    assert c.ask(f"M{p_int:x},4:05000000") == "OK"
    assert c.ask(f"m{p_int:x},4") == "05000000"
    assert c.ask("m0,4").startswith("E")

    # a breakpoint on init, continue: T05 with swbreak; a step moves one instruction
    assert c.ask(f"Z0,{init:x},1") == "OK"
    assert c.ask("vCont;c") == "T05thread:01;swbreak:;"
    assert regs_of(c.ask("g"))["rip"] == init
    assert c.ask("vCont;s:1") == "T05thread:01;"
    assert regs_of(c.ask("g"))["rip"] == init + 5            # the NOPed __fentry__ call
    assert c.ask(f"z0,{init:x},1") == "OK"
    assert c.ask("qNoSuchPacket") == ""

    # continue: init runs to the end; the process "exits" when the run is over
    c.send("c")
    worker.join(30)
    assert results and results[0].rc == 0
    stub.finish(0)
    assert c.reply() == "W00"
    assert "params: int=5 " in k.dmesg()                      # the value gdb wrote


def test_fault_is_sigsegv_and_the_oops_follows():
    k = Kernel()
    stub = GdbStub(k, 0, out=io.StringIO())
    results = []
    worker = threading.Thread(target=lambda: results.append(k.insmod(str(OOPS_NULL))),
                              daemon=True)
    worker.start()
    c = Client(stub.port)
    assert c.ask("?").startswith("T05")
    assert c.ask("c") == "S0b"
    assert "Oops" not in k.dmesg()
    c.send("c")
    worker.join(30)
    assert results[0].signal == 9 and "Oops: 0002" in k.dmesg()
    stub.finish(137)
    assert c.reply() == "X09"
    c.close()


def test_detach_lets_the_run_finish():
    k = Kernel()
    stub = GdbStub(k, 0, out=io.StringIO())
    results = []
    worker = threading.Thread(target=lambda: results.append(k.insmod(str(PARAMS))), daemon=True)
    worker.start()
    c = Client(stub.port)
    c.ask("?")
    init = module_symbol(k, "params_init")
    assert c.ask(f"Z0,{init:x},1") == "OK"
    assert c.ask("D") == "OK"
    worker.join(30)
    assert results[0].rc == 0 and "params: int=-42" in k.dmesg()
    stub.finish(0)
    c.close()


# ------------------------------------------------------------------ the real gdb

def _listening(port):
    """Local addresses listening on ``port``, from /proc/net/tcp and tcp6."""
    found = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            addr, p = fields[1].split(":")
            if int(p, 16) == port and fields[3] == "0A":          # TCP_LISTEN
                if v6:
                    found.append("v6:" + addr)
                else:
                    found.append(".".join(str(b) for b in reversed(bytes.fromhex(addr))))
    return found


def _read_until(stream, pattern, deadline):
    """What the process wrote until ``pattern`` showed (read from the descriptor: a
    buffered readline could keep lines select() no longer sees)."""
    seen = ""
    while time.time() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.2)
        if ready:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            seen += chunk.decode()
            if re.search(pattern, seen):
                return seen
    raise AssertionError(f"no {pattern!r} in:\n{seen}")


def test_real_gdb_session(need_tool):
    need_tool("gdb")
    run = subprocess.Popen([sys.executable, "-m", "emulator.cli", "run", "--gdb", "0",
                            str(PARAMS), "p_int=-7"], cwd=ROOT, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        said = _read_until(run.stderr, r"waiting on 127\.0\.0\.1:\d+ \(", time.time() + 60)
        port = int(re.search(r"waiting on 127\.0\.0\.1:(\d+)", said).group(1))
        add_symbols = re.search(r"^kmodsim: gdb: (add-symbol-file .*)$", said, re.M).group(1)
        assert "-s .init.text 0x" in add_symbols and "-s .data 0x" in add_symbols

        # nothing listens on the port but 127.0.0.1
        assert _listening(port) == ["127.0.0.1"]
        if shutil.which("ss"):
            ss = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
            local = [line.split()[3] for line in ss.splitlines()
                     if line.split()[3].endswith(f":{port}")]
            assert local == [f"127.0.0.1:{port}"]

        gdb = subprocess.run(
            ["gdb", "-batch", "-nx", "-ex", "set architecture i386:x86-64",
             "-ex", f"target remote 127.0.0.1:{port}", "-ex", add_symbols,
             "-ex", "break params_init", "-ex", "continue", "-ex", "stepi",
             "-ex", "info registers rip", "-ex", "print p_int", "-ex", "continue"],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
        out = gdb.stdout + gdb.stderr
        stdout, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert "Breakpoint 1, params_init () at" in out, out
    assert re.search(r"^rip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <params_init\+[1-9][0-9]*>", out, re.M), out
    assert "$1 = -7" in out, out
    assert "exited normally" in out, out
    assert run.returncode == 0, stderr
    assert "params: int=-7 " in stdout


# ------------------------------------------------------------------ malformed packets (issue 10)

from emulator.gdbstub import MAX_MEMORY_REPLY, MAX_PACKET, PACKET_SIZE  # noqa: E402

# (packet, the reply): every one refused where it stands, the stub still usable after
MALFORMED = [
    ("p", "E01"), ("pzz", "E01"), ("p-1", "E01"), ("p+1", "E01"), ("p0x10", "E01"),
    ("p1_0", "E01"), ("p 10", "E01"), ("p" + "f" * 40, "E01"), ("p100", "E45"),
    ("P", "E01"), ("P10", "E01"), ("P10=", "E01"), ("P10=zz", "E01"), ("P10=123", "E01"),
    ("Pzz=00", "E01"), ("P=00", "E01"), ("P10=" + "00" * 9, "E01"), ("P1000=00", "E45"),
    ("m", "E01"), ("m0", "E01"), ("mzz,4", "E01"), ("m0,zz", "E01"), ("m-1,4", "E01"),
    ("m0,-4", "E01"), ("m,", "E01"), ("m" + "f" * 17 + ",4", "E01"), ("m0," + "f" * 17, "E01"),
    ("mffffffffffffffff,ffffffffffffffff", "E14"), ("m0,0", "E14"),
    ("M", "E01"), ("M0,4", "E01"), ("M0,4:00", "E01"), ("M0,1:zz", "E01"), ("M0,1:0", "E01"),
    ("M0,ffffffffffffffff:00", "E01"), ("Mzz,1:00", "E01"), ("M0,1:00", "E14"),
    ("czz", "E01"), ("c-1", "E01"), ("c" + "f" * 17, "E01"), ("c1_0", "E01"),
    ("sxyz", "E01"), ("s" + "1" * 40, "E01"), ("Czz", "E01"), ("C05;zz", "E01"),
    ("Szz;10", "E01"), ("C", "E01"),
    ("vCont;", "E01"), ("vCont;x", "E01"), ("vCont;Czz", "E01"), ("vCont;c;q", "E01"),
    ("Z0", "E01"), ("Z0,", "E01"), ("Z0,zz,1", "E01"), ("z0,-1,1", "E01"),
    ("Z0," + "f" * 17 + ",1", "E01"), ("Z1x", "E01"),
    ("qXfer:features:read:target.xml:zz,10", "E00"),
    ("qXfer:features:read:target.xml:0", "E00"),
    ("qXfer:features:read:target.xml:", "E00"),
    ("qXfer:features:read:target.xml:0," + "f" * 30, "E00"),
    ("qXfer:features:read:other.xml:0,10", "E00"),
    ("qXfer:features:read:", "E00"),
    ("qXfer:features:read:target.xml:ffffffff,10", "l"),
    ("Gzz", "E16"), ("\xff\xfe", ""), ("", ""),
]


def _raw(c, data):
    c.sock.sendall(data)


def _packet(payload):
    data = payload.encode("latin-1")
    return b"$" + data + b"#" + f"{sum(data) & 0xFF:02x}".encode()


def test_malformed_packets_get_error_replies(session):
    k, stub, c, worker, results, out = session
    assert c.ask("QStartNoAckMode") == "OK"       # (no "+" each way: quicker)
    c.ack = False
    assert c.ask("?") == "T05thread:01;"
    before = regs_of(c.ask("g"))
    for packet, reply in MALFORMED:
        assert c.ask(packet) == reply, packet
    assert worker.is_alive() and not results          # nothing resumed
    assert regs_of(c.ask("g")) == before               # nothing written
    assert c.ask("?") == "T05thread:01;"

    # replies are bounded whatever is asked: m and qXfer answer with fewer bytes
    p_int = module_symbol(k, "p_int")
    data = c.ask(f"m{p_int:x},ffffffffffff")
    assert 0 < len(data) <= 2 * MAX_MEMORY_REPLY and not data.startswith("E")
    xml = c.ask("qXfer:features:read:target.xml:0,ffffffffffff")
    assert xml.startswith("l<?xml") and len(xml) < PACKET_SIZE
    assert c.ask(f"m{p_int:x},4") == (-7).to_bytes(4, "little", signed=True).hex()

    # and the session goes on: init runs, the process exits
    c.send("c")
    worker.join(30)
    assert results and results[0].rc == 0
    stub.finish(0)
    assert c.reply() == "W00"


def test_bad_framing_is_nacked_and_the_stub_goes_on(session):
    k, stub, c, worker, results, out = session
    assert c.ask("?").startswith("T05")
    _raw(c, b"$g#00")                              # a wrong checksum
    assert c._byte() == b"-"
    _raw(c, b"$g#zz")                              # a checksum that is not hex
    assert c._byte() == b"-"
    _raw(c, b"noise before a packet\x00\xff")      # ignored
    assert c.ask("qC") == "QC01"
    _raw(c, b"$" + b"m" * (MAX_PACKET + 10) + b"#00")    # longer than any packet gdb sends
    assert c._byte() == b"-"
    assert c.ask("qC") == "QC01"
    # a runaway packet with no end: dropped as it comes, the buffer stays bounded
    _raw(c, b"$" + b"A" * (3 * MAX_PACKET))
    _raw(c, b"A" * (3 * MAX_PACKET) + b"#00")
    assert c._byte() == b"-"
    assert len(stub._buf) <= MAX_PACKET
    assert c.ask("qC") == "QC01"
    _raw(c, b"-")                                  # a NAK: the last reply again
    assert c.reply() == "QC01"
    # after QStartNoAckMode a bad packet is dropped silently
    assert c.ask("QStartNoAckMode") == "OK"
    c.ack = False
    _raw(c, b"$g#00")
    assert c.ask("qC") == "QC01"
    assert len(stub.log) <= 1000
    c.send("c")
    worker.join(30)
    assert results and results[0].rc == 0


def test_gdb_vanishing_lets_the_run_finish(session):
    k, stub, c, worker, results, out = session
    assert c.ask("?").startswith("T05")
    _raw(c, _packet("g"))                  # a reply the stub cannot deliver
    c.sock.close()
    worker.join(30)
    assert results and results[0].rc == 0 and "params: int=-7" in k.dmesg()
    stub.finish(0)
