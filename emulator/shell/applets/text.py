"""The text applets: wc, sort, uniq, cut, tr, seq, basename and dirname."""

from __future__ import annotations

import functools
import re
from typing import Callable

from ..control import AppletExit, NotSimulated
from ..handles import NullHandle
from ..syscalls import O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, strerror
from .applet import (Applet, arg_bytes, bytes_text, c_string, fflush_all, open_input,
                     read_input, read_until_error, split_lines, strtod_prefix, write_stdio)
from .regex import PosixRegex, RegexError


# -- wc, sort, uniq, cut, tr, seq, basename, dirname ----------------------------------------

def applet_wc(app: Applet, argv: list[str]) -> int:
    """busybox wc: -l -w -c (-m counts bytes: no unicode in the guest's environment) -L.
    Columns " %9u" (the first without its space; a lone count of one file as "%u"),
    then " NAME"; "total" after two or more files. A word is a run of printable non-space
    bytes ended by white space (other bytes do neither). A file that does not open:
    ``wc: F: strerror``; a read error (a directory): the same, and its counts shown."""
    options, names = app.getopt(argv, "lwmcL")
    order = "lwmcL"
    chosen = [o for o in order if o in options] or ["l", "w", "c"]
    stdin = not names
    names = names or ["-"]
    lone = len(names) == 1 and len(chosen) == 1
    totals = dict.fromkeys(order, 0)
    status = 0
    for name in names:
        handle = open_input(app, name)
        if isinstance(handle, int):
            app.error(f"{name}: {strerror(handle)}")
            status = 1
            continue
        data, err = read_until_error(handle)
        if name != "-":
            handle.close()
        if err:
            app.error(f"{name}: {strerror(err)}")
            status = 1
        counts = wc_counts(data)
        for key in order:
            totals[key] = max(totals[key], counts[key]) if key == "L" else \
                totals[key] + counts[key]
        app.write(wc_line(chosen, counts, lone, None if stdin else name))
    if len(names) > 1:
        app.write(wc_line(chosen, totals, False, "total"))
    return app.fflush_stdout_and_exit(status)


def wc_counts(data: bytes) -> dict:
    counts = {"l": data.count(b"\n"), "w": 0, "m": len(data), "c": len(data), "L": 0}
    in_word, linepos = False, 0
    for c in data:
        if 32 <= c <= 126:
            linepos += 1
            if c != 32:
                in_word = True
                continue
        elif 9 <= c <= 13:
            if c == 9:
                linepos = (linepos | 7) + 1
            else:
                counts["L"] = max(counts["L"], linepos)
                if c != 11:
                    linepos = 0
        else:
            continue
        counts["w"] += in_word
        in_word = False
    counts["L"] = max(counts["L"], linepos)
    counts["w"] += in_word
    return counts


def wc_line(chosen: list, counts: dict, lone: bool, name: str | None) -> str:
    fields = [("%u" if lone else "%9u") % counts[chosen[0]]]
    fields += ["%9u" % counts[key] for key in chosen[1:]]
    return " ".join(fields) + (f" {name}\n" if name is not None else "\n")


SORT_KEY_FLAGS = "ngMbrdfi"


def applet_sort(app: Applet, argv: list[str]) -> int:
    """busybox sort (FEATURE_SORT_BIG): -n -g -M -V -r -u -c -s -z -b -d -f -i -o FILE
    -t CHAR -k START[.CHAR][OPTS][,END[.CHAR][OPTS]]. Lines compare by their keys
    (strcmp, atof, strtod, month), then, unless -s, by the whole line with strcmp; -r
    reverses the lot. A file that does not open ends it: ``sort: F: strerror``, rc 2."""
    app.exit_status = 2
    pairs, names = app.getopt_list(argv, "ngMVucszbrdfimS:T:o:k:t:")
    flags = {option for option, _ in pairs}
    keys_text = [value for option, value in pairs if option == "k"]
    output = [value for option, value in pairs if option == "o"]
    separator = [value for option, value in pairs if option == "t"]
    if len(output) > 1 or len(separator) > 1:
        app.usage()
    sep = None
    if separator:
        sep = arg_bytes(separator[0])
        if len(sep) != 1:
            app.die("bad -t parameter")
    global_flags = set(flags)
    if "b" in flags:
        global_flags.add("bb")
    keys = [sort_parse_key(app, text) for text in keys_text] or [((1, 0, 0, 0), set())]
    lines = []
    delim = b"\0" if "z" in flags else b"\n"
    for name in names or ["-"]:
        handle, data = read_input(app, name)
        if handle is None:
            raise AppletExit(2)
        lines += [c_string(line) for line in split_lines(data, delim)]

    def compare(x: tuple, y: tuple, tie_break: bool = True) -> int:
        result, used = 0, global_flags
        for key_range, key_flags in keys:
            used = key_flags or global_flags
            result = sort_compare(sort_key(x[1], key_range, used, sep),
                                  sort_key(y[1], key_range, used, sep), used)
            if result:
                break
        if result == 0:
            if "s" in flags:
                result = 1 if x[0] > y[0] else -1
            elif tie_break:
                used = global_flags
                result = (x[1] > y[1]) - (x[1] < y[1])
        return -result if "r" in used else result

    try:
        return sort_output(app, flags, lines, delim, output, compare)
    except SortTypeError:
        app.die("unknown sort type")


def sort_output(app: Applet, flags: set, lines: list, delim: bytes, output: list,
                compare: Callable) -> int:
    """sort -c, or sort (and -u) and print (to -o FILE)."""
    indexed = list(enumerate(lines))
    if "c" in flags:
        allowed = -1 if "u" in flags else 0
        for index in range(1, len(indexed)):
            if compare(indexed[index - 1], indexed[index]) > allowed:
                app.flush()
                app.shell._puts(2, f"Check line {index}\n")
                return 1
        return 0
    indexed.sort(key=functools.cmp_to_key(compare))
    if "u" in flags:
        unique = indexed[:1]
        for item in indexed[1:]:
            if compare(unique[-1], item, tie_break=False) != 0:
                unique.append(item)
        indexed = unique
    data = b"".join(line + delim for _, line in indexed)
    if output:  # opened once all input is read: sort -o F F works
        handle = app.shell._open(app.shell._abspath(output[0]), O_WRONLY | O_CREAT | O_TRUNC)
        if isinstance(handle, int):
            app.die(f"can't open '{output[0]}': {strerror(handle)}")
        err = write_stdio(handle, data)
        handle.close()
        if err < 0:
            app.error(f"standard output: {strerror(err)}")
        return 0
    app.write(data)
    return app.fflush_stdout_and_exit(0)


def sort_parse_key(app: Applet, text: str) -> tuple:
    """-k START[.C][OPTS][,END[.C][OPTS]]: ((start field, start char, end field, end
    char), flags); b after the comma strips trailing blanks."""
    key_range, key_flags, pos, part = [0, 0, 0, 0], set(), 0, 0

    def number() -> int:
        nonlocal pos
        match = re.match(r"\d+", text[pos:])
        if not match or int(match.group()) == 0 or int(match.group()) > 0x7FFFFFFF:
            app.die("bad field specification")
        pos += match.end()
        return int(match.group())

    while pos < len(text):
        key_range[2 * part] = number()
        if text[pos:pos + 1] == ".":
            pos += 1
            key_range[2 * part + 1] = number()
        while pos < len(text):
            c = text[pos]
            if c == "," and part == 0:
                part = 1
                pos += 1
                break
            if c not in "ngMVucszbrdfimS:T:o:k:*t:":
                app.die("unknown key option")
            if c not in SORT_KEY_FLAGS:
                app.die("unknown sort type")
            key_flags.add("bb" if c == "b" and part else c)
            pos += 1
    return tuple(key_range), key_flags


def sort_key(line: bytes, key_range: tuple, flags: set, sep: bytes | None) -> bytes:
    """get_key(): the part of the line the key covers, after -b/-d/-i/-f."""
    if key_range == (1, 0, 0, 0) and not flags & {"b", "d", "f", "i", "bb"}:
        return line
    length = len(line)
    start = end = 0
    for part in range(2):
        field = key_range[2 * part]
        if not field:
            end = length
        else:
            end, last = 0, None
            for _ in range(1, field + part):
                if sep is not None:
                    while True:  # to past the separator; at the end ch is the NUL
                        if end >= length:
                            last = None
                            break
                        last = line[end]
                        end += 1
                        if last == sep[0]:
                            break
                else:
                    while end < length and line[end] in b" \t\n\v\f\r":
                        end += 1
                    while end < length and line[end] not in b" \t\n\v\f\r":
                        end += 1
            if part and last:
                end -= 1
        if part == 0:
            start = end
    if "b" in flags:
        while start < length and line[start] in b" \t\n\v\f\r":
            start += 1
    if "bb" in flags:
        while end > start and line[end - 1] in b" \t\n\v\f\r":
            end -= 1
    if key_range[3]:
        end = min(key_range[3], length)
    if key_range[1]:
        start = min(start + key_range[1] - 1, length)
    key = line[start:max(end, start)]
    if "d" in flags:
        key = bytes(c for c in key if c in b" \t\n\v\f\r" or chr(c).isalnum() and c < 128)
    if "i" in flags:
        key = bytes(c for c in key if 32 <= c <= 126)
    if "f" in flags:
        key = key.upper()
    return key


MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
               "september", "october", "november", "december")


def sort_month(key: bytes) -> int | None:
    """strptime(key, "%b"): the month (0-11) a full or abbreviated name starts with
    (no white space skipped)."""
    text = key.decode("latin-1").lower()
    for number, (short, full) in enumerate(zip(MONTHS, MONTH_NAMES)):
        if text.startswith(full) or text.startswith(short):
            return number
    return None


class SortTypeError(Exception):
    """Two of -n -g -M -V on one key: "unknown sort type" at the first comparison."""


def sort_compare(x: bytes, y: bytes, flags: set) -> int:
    kinds = flags & {"n", "g", "M", "V"}
    if len(kinds) > 1:
        raise SortTypeError()  # compare_keys() dies when it first compares such a key
    if "n" in kinds:
        dx, dy = strtod_prefix(x)[0], strtod_prefix(y)[0]
        return (dx > dy) - (dx < dy)
    if "g" in kinds:
        (dx, nx), (dy, ny) = strtod_prefix(x), strtod_prefix(y)
        if not nx:
            return 0 if not ny else -1
        if not ny:
            return 1
        if dx != dx:
            return 0 if dy != dy else -1
        if dy != dy:
            return 1
        return (dx > dy) - (dx < dy)
    if "M" in kinds:
        mx, my = sort_month(x), sort_month(y)
        if mx is None:
            return 0 if my is None else -1
        if my is None:
            return 1
        return mx - my
    if "V" in kinds:
        return strverscmp(x, y)
    return (x > y) - (x < y)


# glibc strverscmp's automaton: states normal, integral, fractional, leading zeros (each
# a multiple of 3, plus the class of the byte: other 0, digit 1-9 1, "0" 2)
VERS_NEXT = (0, 3, 9, 0, 3, 3, 0, 6, 6, 0, 6, 9)
VERS_CMP, VERS_LEN = 2, 3
VERS_RESULT = (VERS_CMP, VERS_CMP, VERS_CMP, VERS_CMP, VERS_LEN, VERS_CMP, VERS_CMP, VERS_CMP,
               VERS_CMP,
               VERS_CMP, -1, -1, 1, VERS_LEN, VERS_LEN, 1, VERS_LEN, VERS_LEN,
               VERS_CMP, VERS_CMP, VERS_CMP, VERS_CMP, VERS_CMP, VERS_CMP, VERS_CMP, VERS_CMP,
               VERS_CMP,
               VERS_CMP, 1, 1, -1, VERS_CMP, VERS_CMP, -1, VERS_CMP, VERS_CMP)


def strverscmp(x: bytes, y: bytes) -> int:
    """glibc strverscmp (sort -V): digit runs compare as numbers, runs with leading
    zeros as fractions."""
    def at(text: bytes, i: int) -> int:
        return text[i] if i < len(text) else 0

    def kind(c: int) -> int:
        return (c == 48) + (48 <= c <= 57)

    i = 0
    c1, c2 = at(x, 0), at(y, 0)
    state = kind(c1)
    while c1 == c2:
        if c1 == 0:
            return 0
        state = VERS_NEXT[state]
        i += 1
        c1, c2 = at(x, i), at(y, i)
        state += kind(c1)
    result = VERS_RESULT[state * 3 + kind(c2)]
    if result == VERS_CMP:
        return c1 - c2
    if result == VERS_LEN:  # the longer run of digits is the bigger number
        k = i + 1
        while 48 <= at(x, k) <= 57:
            if not 48 <= at(y, k) <= 57:
                return 1
            k += 1
        return -1 if 48 <= at(y, k) <= 57 else c1 - c2
    return result


def applet_uniq(app: Applet, argv: list[str]) -> int:
    """busybox uniq: -c ("%7lu "), -d, -u, -i, -z, -f N, -s N, -w N; [INPUT [OUTPUT]].
    An input that does not open: ``uniq: can't open 'F': strerror``, rc 1; a read error
    ends with ``uniq: F: I/O error``."""
    pairs, names = app.getopt_list(argv, "cduf:s:w:iz")
    options, skip_fields, skip_chars, max_chars = set(), 0, 0, 0x7FFFFFFF
    for option, value in pairs:
        if option in "fsw":
            number = app.number(value)
            if option == "f":
                skip_fields = number
            elif option == "s":
                skip_chars = number
            else:
                max_chars = number
        options.add(option)
    shell = app.shell
    handle = shell.fds.get(0, NullHandle())
    if names and names[0] != "-":
        handle = shell._open(shell._abspath(names[0]), O_RDONLY)
        if isinstance(handle, int):
            app.die(f"can't open '{names[0]}': {strerror(handle)}")
    output = None
    if len(names) > 1:
        if len(names) > 2:
            app.usage()
        if names[1] != "-":
            output = shell._open(shell._abspath(names[1]), O_WRONLY | O_CREAT | O_TRUNC)
            if isinstance(output, int):
                app.die(f"can't open '{names[1]}': {strerror(output)}")
    data, err = read_until_error(handle)
    if names and names[0] != "-":
        handle.close()
    eol = b"\0" if "z" in options else b"\n"

    def compared(line: bytes) -> bytes:
        pos = 0
        for _ in range(skip_fields):
            while pos < len(line) and line[pos] in b" \t\n\v\f\r":
                pos += 1
            while pos < len(line) and line[pos] not in b" \t\n\v\f\r":
                pos += 1
        pos = min(pos + skip_chars, len(line))
        key = line[pos:pos + max_chars]
        return key.lower() if "i" in options else key

    lines = [c_string(line) for line in split_lines(data)]
    result = bytearray()
    index = 0
    while index < len(lines):
        first, dups = lines[index], 0
        key = compared(first)
        index += 1
        while index < len(lines) and compared(lines[index]) == key:
            dups += 1
            index += 1
        if ("u" if dups else "d") not in options:
            result += (b"%7u " % (dups + 1) if "c" in options else b"") + first + eol
    if output is not None:
        err_out = write_stdio(output, bytes(result))
        output.close()
    else:
        app.write(bytes(result))
        err_out = 0
    if err:
        app.die(f"{names[0] if names else '(null)'}: I/O error")
    if err_out < 0:
        app.error(f"standard output: {strerror(err_out)}")
        return 0
    return app.fflush_stdout_and_exit(0)


def applet_cut(app: Applet, argv: list[str]) -> int:
    """busybox cut: -b/-c LIST (bytes), -f LIST with -d CHAR (TAB) and -s, -O SEP, -D,
    -F LIST (-d an ERE, default [[:space:]]+). LISTs N, N-, N-M, -M joined by commas.
    Fields come out joined with -O (default: all of -d); a line without the delimiter
    comes out whole unless -s. Files that do not open: ``cut: F: strerror``, rc 1."""
    pairs, names = app.getopt_list(argv, "b:c:f:d:O:sDF:n")
    options = {}
    modes = []
    for option, value in pairs:
        if option in "bcfF":
            modes.append(option)
            if len(set(modes)) > 1:
                app.usage()
        options[option] = value
    delim = arg_bytes(options.get("d", "")) or (b"[[:space:]]+" if "F" in options else b"\t")
    odelim = arg_bytes(options["O"]) if "O" in options else (b" " if "F" in options else delim)
    if not modes:
        app.die("expected a list of bytes, characters, or fields")
    mode = modes[-1]
    if mode in "bc":
        if "s" in options:
            app.die("suppressing non-delimited lines makes sense only when operating on fields")
        if "d" in options:
            app.die("a delimiter may be specified only when operating on fields")
    ranges = []
    for item in options[mode].split(","):
        if not item:
            continue
        first, dash, last = item.partition("-")
        start = app.number(first) if first else 0
        start = start - 1 if start else 0
        if not dash:
            end = start
        elif not last:
            end = 0x7FFFFFFF
        else:
            end = app.number(last)
            if end < start:
                app.die(f"{end}<{start}")
            end -= 1
        ranges.append((start, end))
    if not ranges:
        app.die("missing list of positions")
    if "D" not in options:
        ranges.sort(key=lambda r: r[0])
    regex = None
    status = 0
    for name in names or ["-"]:
        handle, data = read_input(app, name)
        if handle is None:
            status = 1
            continue
        if mode == "F" and regex is None:  # xregcomp(REG_EXTENDED) in cut_file()
            try:
                regex = PosixRegex(delim, extended=True, posix=True)
            except RegexError as exc:
                app.die(f"bad regex '{bytes_text(delim)}': {exc}")
            if regex.anchored:
                raise NotSimulated("cut -F with an anchored delimiter")
        for line in split_lines(data):
            out = cut_line(c_string(line), mode, ranges, delim, odelim, regex, options)
            if out is not None:
                app.write(out)
    return app.fflush_stdout_and_exit(status)


def cut_line(line: bytes, mode: str, ranges: list, delim: bytes, odelim: bytes,
             regex: PosixRegex | None, options: dict) -> bytes | None:
    """cut_file() for one line: what it prints, newline included (None: nothing)."""
    if mode in "bc":
        printed, out = set(), bytearray()
        for start, end in ranges:
            for pos in range(start, min(end + 1, len(line))):
                if pos not in printed:
                    printed.add(pos)
                    out.append(line[pos])
        return bytes(out) + b"\n"
    if delim[:1] == b"\n":
        raise NotSimulated("cut -d with a newline")
    out, linelen = bytearray(), len(line)
    shoe = regex is not None
    uu = start = end = nout = dcount = 0
    pos = 0
    while True:
        if end == linelen or dcount > ranges[pos][1]:
            pos += 1
            if pos >= len(ranges):
                break
            if "D" in options:
                start = dcount = uu = 0
            end = 0
        if uu == linelen:
            if not pos and not dcount and not shoe:
                if "s" in options:
                    return None
            elif dcount < ranges[pos][0]:
                start = linelen
            end = linelen
        else:
            if shoe:
                span = regex.search(line[uu:])  # regexec(line + uu, NOTBOL|NOTEOL)
                if span is None:
                    uu = linelen
                    continue
                end, uu = uu + span[0], uu + span[1]
            else:
                end = uu
                uu += 1
                if line[end] != delim[0]:
                    continue
            dcount += 1
            if dcount - 1 < ranges[pos][0]:
                start = uu
                continue
        if end != start or not shoe:
            out += (odelim if nout else b"") + line[start:end]
            nout += 1
        start = uu
        if not dcount:
            break
    return bytes(out) + b"\n"


def escape_sequence(text: bytes, i: int) -> tuple[int, int]:
    """bb_process_escape_sequence at text[i:] (just after a backslash): the byte and
    where the sequence ends; \\NUL and an unknown \\z give a backslash and end at i."""
    if text[i:i + 1] == b"x":
        match = re.match(rb"[0-9a-fA-F]{1,2}", text[i + 1:])
        if not match:
            return ord("\\"), i
        return int(match.group(), 16), i + 1 + match.end()
    value, j = 0, i
    while j < len(text) and j - i < 3 and 48 <= text[j] <= 55:
        if value * 8 + text[j] - 48 > 255:
            break
        value = value * 8 + text[j] - 48
        j += 1
    if j > i:
        return value, j
    simple = {ord("a"): 7, ord("b"): 8, ord("e"): 27, ord("f"): 12, ord("n"): 10,
              ord("r"): 13, ord("t"): 9, ord("v"): 11, ord("\\"): 92}
    if i < len(text) and text[i] in simple:
        return simple[text[i]], i + 1
    return ord("\\"), i


def tr_expand(app: Applet, arg: bytes) -> bytes:
    """expand(): ranges a-z, escapes, [:class:] and [=c=]; other [ are plain."""
    out = bytearray()
    text = bytearray(arg)
    i = 0
    while i < len(text):
        if text[i] == ord("\\"):
            value, end = escape_sequence(bytes(text), i + 1)
            i = end - 1
            text[i] = value
        if text[i + 1:i + 2] == b"-":
            if i + 2 >= len(text):
                out.append(text[i])
                i += 1
                continue
            low, high = text[i], text[i + 2]
            i += 3
            if high == ord("\\"):
                high, i = escape_sequence(bytes(text), i)
            out += bytes(range(low, high + 1))
            continue
        if text[i] == ord("[") and i + 1 < len(text):
            kind = text[i + 1]
            if kind == ord(":"):
                name = bytes(text[i + 2:i + 2 + (8 if text[i + 2:i + 3] == b"x" else 7)])
                classes = {b"alpha:]": "alpha", b"alnum:]": "alnum", b"digit:]": "digit",
                           b"lower:]": "lower", b"upper:]": "upper", b"space:]": "space",
                           b"blank:]": "blank", b"punct:]": "punct", b"cntrl:]": "cntrl",
                           b"xdigit:]": "xdigit"}
                if name in classes:
                    out += tr_class(classes[name])
                    i += 2 + len(name)
                    continue
            elif kind == ord("="):
                if i + 2 >= len(text):
                    app.usage()
                out.append(text[i + 2])
                if text[i + 3:i + 5] != b"=]":
                    app.usage()
                i += 5
                continue
        out.append(text[i])
        i += 1
    return bytes(out)


def tr_class(name: str) -> bytes:
    """The bytes of a tr class, in expand()'s order."""
    digits, upper, lower = b"0123456789", bytes(range(65, 91)), bytes(range(97, 123))
    if name == "alpha":
        return upper + lower
    if name == "alnum":
        return digits + upper + lower
    if name in ("digit", "upper", "lower"):
        return {"digit": digits, "upper": upper, "lower": lower}[name]
    if name == "space":
        return b"\t\n\v\f\r "
    if name == "blank":
        return b"\t "
    if name == "punct":
        return bytes(c for c in range(33, 127) if not chr(c).isalnum())
    if name == "cntrl":
        return bytes(range(32)) + b"\x7f"
    return digits + b"ABCDEF" + b"abcdef"  # xdigit


def applet_tr(app: Applet, argv: list[str]) -> int:
    """busybox tr: -c/-C, -d, -s; STRING2 shorter than STRING1 repeats its last byte
    (nothing given: "0"). Bytes in, bytes out."""
    options, args = app.getopt(argv, "+Ccds")
    if not args:
        app.usage()
    set1 = tr_expand(app, arg_bytes(args[0]))
    if options.keys() & {"c", "C"}:
        set1 = bytes(c for c in range(256) if c not in set1)
    vector = list(range(256))
    set2 = b""
    if len(args) > 1:
        if not args[1]:
            app.die("STRING2 cannot be empty")
        set2 = tr_expand(app, arg_bytes(args[1]))
        last = ord("0")
        for index, c in enumerate(set1):
            if index < len(set2):
                last = set2[index]
            vector[c] = last
    invec, outvec = set(set1), set(set2)
    stdin = app.shell.fds.get(0, NullHandle())
    last = None
    while True:  # TR_BUFSIZ (8192) read, translated, written
        data = stdin.read(8192)
        if isinstance(data, int):
            app.die(f"read error: {strerror(data)}")
        if not data:
            return 0
        out = bytearray()
        for c in data:
            if "d" in options and c in invec:
                continue
            coded = vector[c]
            if "s" in options and last == coded and (c in invec or coded in outvec):
                continue
            out.append(coded)
            last = coded
        if out:
            app.out(bytes(out))


def applet_seq(app: Applet, argv: list[str]) -> int:
    """busybox seq [-w] [-s SEP] [FIRST [INC]] LAST: "%0*.*f", the precision from the
    fractional digits of FIRST and INC; the usage for anything strtod does not take."""
    options, args = app.getopt(argv, "+ws:")
    if not 1 <= len(args) <= 3:
        app.usage()
    values = []
    for text in args:
        value, used = strtod_prefix(arg_bytes(text))
        overflow = abs(value) == float("inf") and not re.search(r"(?i)inf", text)
        if used != len(arg_bytes(text)) or overflow:  # trailing junk, or ERANGE
            app.usage()
        values.append(value)
    first, increment = 1.0, 1.0
    if len(args) == 3:
        first, increment, last = values
    elif len(args) == 2:
        first, last = values
    else:
        last = values[0]
    width = frac = 0
    for index, text in enumerate(args):
        dot = text.find(".")
        w = len(text) if dot < 0 else dot
        width = max(width, w)
        if index < len(args) - 1:
            frac = max(frac, len(text) - w)
    if frac:
        frac -= 1
        if frac:
            width += frac + 1
    if "w" not in options:
        width = 0
    if increment == 0 and first <= last:
        raise NotSimulated("seq that never ends")
    sep = options.get("s", "\n")
    out, n, value = [], 0, first
    while (value <= last) if increment >= 0 else (value >= last):
        out.append("%0*.*f" % (width, frac, value))
        n += 1
        value = first + n * increment
        if n > 10_000_000:
            raise NotSimulated("seq of more than ten million numbers")
    if n:
        app.write(sep.join(out) + "\n")
    return fflush_all(app)


def applet_basename(app: Applet, argv: list[str]) -> int:
    """busybox basename FILE [SUFFIX] | -a FILE... | -s SUFFIX FILE...: trailing slashes
    go, "/" stays; one full_write per name."""
    pairs, args = app.getopt_list(argv, "+as:")
    if not args:
        app.usage()
    suffix = None
    for option, value in pairs:
        if option == "s":
            suffix = arg_bytes(value)
    names = [arg_bytes(a) for a in args]
    index = 0
    while True:
        path = names[index].rstrip(b"/") or names[index][:1]
        slash = path.rfind(b"/")
        base = path if slash < 0 or path == b"/" else path[slash + 1:]
        index += 1
        if not pairs and index < len(names):
            suffix = names[index]
            if index + 1 < len(names):
                app.usage()
        if suffix is not None and len(base) > len(suffix) and base.endswith(suffix):
            base = base[:-len(suffix)]
        if app.out(base + b"\n") < 0:
            return 1
        if not pairs or index >= len(names):
            return 0


def applet_dirname(app: Applet, argv: list[str]) -> int:
    """busybox dirname FILENAME: glibc dirname() ("." without a slash, "/" for "/",
    a leading "//" kept)."""
    args = argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if len(args) != 1:
        app.usage()
    path = arg_bytes(args[0])
    app.write(posix_dirname(path) + b"\n")
    return fflush_all(app)


def posix_dirname(path: bytes) -> bytes:
    """glibc dirname(): "." without a slash; trailing slashes ignored; "/" for what is
    only slashes, except that exactly two leading ones stay "//"."""
    last = path.rfind(b"/")
    if 0 < last == len(path) - 1:
        run = last
        while run > 0 and path[run - 1] == ord("/"):
            run -= 1
        if run:
            last = path.rfind(b"/", 0, run)
    if last < 0:
        return b"."
    run = last
    while run > 0 and path[run - 1] == ord("/"):
        run -= 1
    if run:
        return path[:run]
    return path[:2] if last == 1 else path[:1]
