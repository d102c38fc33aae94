"""The applets that dump bytes: od (busybox's od_bloaty, GNU od's formats) and hexdump
(-C, the canonical hex+ASCII display)."""

from __future__ import annotations

import re

from ...shell.syscalls import strerror
from .applet import Applet, open_input

# od -t TYPE: (size, signed, base) ; c is characters
OD_WIDTHS = {("o", 1): 3, ("o", 2): 6, ("o", 4): 11, ("o", 8): 22,
             ("x", 1): 2, ("x", 2): 4, ("x", 4): 8, ("x", 8): 16,
             ("u", 1): 3, ("u", 2): 5, ("u", 4): 10, ("u", 8): 20,
             ("d", 1): 4, ("d", 2): 6, ("d", 4): 11, ("d", 8): 20}
OD_CHAR_NAMES = {0: "\\0", 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f",
                 13: "\\r"}


def _read_inputs(app: Applet, names: list[str], skip: int = 0, limit: int | None = None,
                 limit_reads: bool = True) -> tuple[bytes, int, bool]:
    """The inputs as one stream, read as stdio reads them: ``skip`` bytes first (read and
    dropped), then 4096 at a time (no more than ``limit`` is left when ``limit_reads``).
    (data, status, whether any input opened)."""
    data, status, opened = bytearray(), 0, False
    for name in names or ["-"]:
        handle = open_input(app, name)
        if isinstance(handle, int):
            app.error(f"{name}: {strerror(handle)}")
            status = 1
            continue
        opened = True
        try:
            while True:
                if skip:
                    want = min(skip, 4096)
                elif limit is not None and limit_reads:
                    want = min(4096, limit - len(data))
                    if want <= 0:
                        break
                else:
                    want = 4096
                got = handle.read(want)
                if isinstance(got, int):
                    app.error(f"{name}: read error: {strerror(got)}")
                    status = 1
                    break
                if not got:
                    break
                if skip:
                    dropped = min(skip, len(got))
                    skip -= dropped
                    got = got[dropped:]
                data += got
        finally:
            if name != "-":
                handle.close()
    if limit is not None:
        data = data[:limit]
    return bytes(data), status, opened


def _od_field(kind: str, size: int, chunk: bytes) -> str:
    if kind == "c":
        b = chunk[0]
        if b in OD_CHAR_NAMES:
            text = OD_CHAR_NAMES[b]
        elif 32 <= b < 127:
            text = chr(b)
        else:
            text = f"{b:03o}"
        return f" {text:>3}"
    if kind == "a":
        names = ["nul", "soh", "stx", "etx", "eot", "enq", "ack", "bel", "bs", "ht", "nl",
                 "vt", "ff", "cr", "so", "si", "dle", "dc1", "dc2", "dc3", "dc4", "nak", "syn",
                 "etb", "can", "em", "sub", "esc", "fs", "gs", "rs", "us", "sp"]
        b = chunk[0] & 0x7F
        text = names[b] if b < len(names) else ("del" if b == 127 else chr(b))
        return f" {text:>3}"
    value = int.from_bytes(chunk.ljust(size, b"\0"), "little", signed=kind == "d")
    width = OD_WIDTHS[(kind, size)]
    digits = {"o": f"{value:o}", "x": f"{value:x}", "u": f"{value}", "d": f"{value}"}[kind]
    pad = "0" if kind in "ox" else " "
    return " " + digits.rjust(width, pad)


def applet_od(app: Applet, argv: list[str]) -> int:
    """busybox od: -A d|o|x|n, -t TYPE (c a o1 o2 o4 x1 x2 x4 d1.. u1..), -c -b -x -o -d,
    -j SKIP, -N COUNT, -v; 16 bytes a line, a repeated line shown as ``*``."""
    pairs, names = app.getopt_list(argv, "A:t:j:N:vcbxodsw:")
    radix, types, skip, count, verbose = "o", [], 0, None, False
    for opt, value in pairs:
        if opt == "A":
            if value not in ("d", "o", "x", "n"):
                app.die(f"bad output address radix '{value}' (must be [doxn])")
            radix = value
        elif opt == "t":
            for spec in re.findall(r"[acoxdu]\d*", value):
                kind, size = spec[0], int(spec[1:] or (1 if spec[0] in "ac" else 4))
                types.append((kind, size))
        elif opt == "j":
            skip = int(value, 0)
        elif opt == "N":
            count = int(value, 0)
        elif opt == "v":
            verbose = True
        else:
            types.append({"c": ("c", 1), "b": ("o", 1), "x": ("x", 2), "o": ("o", 2),
                          "d": ("u", 2), "s": ("d", 2)}.get(opt, ("o", 2)))
    if not types:
        types = [("o", 2)]
    data, status, opened = _read_inputs(app, names, skip, count)
    if not opened:
        return status
    prev = None
    starred = False
    for off in range(0, len(data), 16):
        line = data[off:off + 16]
        if not verbose and line == prev and len(line) == 16:
            if not starred:
                app.write("*\n")
                starred = True
            continue
        starred = False
        prev = line
        for i, (kind, size) in enumerate(types):
            fields = "".join(_od_field(kind, size, line[j:j + size])
                             for j in range(0, len(line), size))
            addr = _od_addr(radix, skip + off) if i == 0 else " " * len(_od_addr(radix, 0))
            app.write(f"{addr}{fields}\n")
    if radix != "n":
        app.write(_od_addr(radix, skip + len(data)) + "\n")
    return status


def _od_addr(radix: str, value: int) -> str:
    return {"o": f"{value:07o}", "d": f"{value:07d}", "x": f"{value:06x}", "n": ""}[radix]


def applet_hexdump(app: Applet, argv: list[str]) -> int:
    """busybox hexdump -C (-v, -n LENGTH, -s OFFSET): ``%08x`` offsets, 16 bytes in two
    groups of 8, the printable characters between bars; a repeated line is ``*``."""
    options, names = app.getopt(argv, "Cvn:s:")
    if "C" not in options:
        from ..control import NotSimulated
        raise NotSimulated("hexdump without -C")
    skip = int(options.get("s", "0"), 0)
    count = int(options["n"], 0) if "n" in options else None
    data, status, opened = _read_inputs(app, names, skip, count, limit_reads=False)
    prev, starred = None, False
    for off in range(0, len(data), 16):
        line = data[off:off + 16]
        if "v" not in options and line == prev and len(line) == 16:
            if not starred:
                app.write("*\n")
                starred = True
            continue
        starred, prev = False, line
        hexes = ""
        for i in range(16):
            hexes += (f"{line[i]:02x} " if i < len(line) else "   ") + (" " if i == 7 else "")
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in line)
        app.write(f"{skip + off:08x}  {hexes} |{text}|\n")
    if data or skip:
        app.write(f"{skip + len(data):08x}\n")
    return status
