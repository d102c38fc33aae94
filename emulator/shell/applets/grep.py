"""grep, egrep and fgrep (busybox's, over :class:`~.regex.PosixRegex`)."""

from __future__ import annotations

from ..control import AppletExit, NotSimulated
from ..syscalls import Stat, strerror
from .applet import Applet, arg_bytes, bytes_text, c_string, read_input, split_lines
from .regex import PosixRegex, RegexError


# -- grep -----------------------------------------------------------------------------------

def is_word_byte(c: int | None) -> bool:
    """isalnum(c) || c == '_' in the C locale (None: the end of the line)."""
    return c is not None and (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c == 95)


class Grep:
    """busybox grep (FEATURE_GREP_CONTEXT, EXTRA_COMPAT: GNU re_search, -z)."""

    def __init__(self, app: Applet, options: set, patterns: list, before: int, after: int,
                 max_matches: int, invert: bool):
        self.app = app
        self.options = options
        self.patterns = patterns          # [[pattern bytes, PosixRegex or None]]
        self.before, self.after = before, after
        self.max_matches = max_matches
        self.invert = invert
        self.print_filename = False
        self.did_print_line = False
        self.last_line_printed = 0
        self.before_buf: list = [None] * before
        self.delim = b"\0" if "z" in options else b"\n"

    def regex(self, entry: list) -> PosixRegex:
        """Compiled at its first use, as grep_file() does: a bad one dies right then."""
        if entry[1] is None:
            try:
                entry[1] = PosixRegex(entry[0], "E" in self.options, "i" in self.options)
            except RegexError:
                self.app.die(f"bad regex '{bytes_text(entry[0])}'")
        return entry[1]

    def print_line(self, name: str, line: bytes, linenum: int, decoration: str) -> None:
        if linenum < 1:
            return
        if (self.before or self.after) and self.did_print_line \
                and self.last_line_printed != linenum - 1:
            self.app.write(b"--\n")
        self.did_print_line = True
        self.last_line_printed = linenum
        prefix = ""
        if self.print_filename:
            prefix += name + decoration
        if "n" in self.options:
            prefix += f"{linenum}{decoration}"
        self.app.write(arg_bytes(prefix) + line + self.delim)

    def fixed_match(self, line: bytes, pattern: bytes) -> bool:
        """-F: strstr/strcasestr on the line as a C string, then the -x/-w checks."""
        text = c_string(line)
        hay, needle = (text.lower(), pattern.lower()) if "i" in self.options else (text, pattern)
        start = 0
        while True:
            if start > len(text):
                # -w moved past the line's NUL (an empty pattern): strstr then reads the
                # getline buffer beyond it, and the real grep ends up matching
                return True
            at = hay.find(needle, start)
            if at < 0:
                return False
            if "x" in self.options:
                return at == 0 and len(text) == len(pattern)
            if "w" not in self.options:
                return True
            before = text[at - 1] if at else None
            after = text[at + len(pattern)] if at + len(pattern) < len(text) else None
            if not is_word_byte(before) and not is_word_byte(after):
                return True
            start = at + 1

    def regex_match(self, line: bytes, regex: PosixRegex) -> tuple[bool, tuple | None]:
        """re_search with -x / -w as grep_file() checks them: (found, the match used)."""
        if "x" in self.options:
            return regex.fullmatch(line), regex.search(line)
        start_pos = 0
        while True:
            span = regex.search(line, start_pos)
            if span is None:
                return False, None
            if "w" not in self.options:
                return True, span
            start, end = span
            before = line[start - 1] if start else None
            after = line[end] if end < len(line) else None
            if not is_word_byte(before) and not is_word_byte(after):
                return True, span
            if end <= start_pos:
                return False, span
            start_pos = end

    def grep_file(self, name: str, data: bytes) -> bool:
        app, options = self.app, self.options
        nmatches = linenum = 0
        print_after = 0
        curpos = 0
        for line in split_lines(data, self.delim):
            linenum += 1
            found, used, span = False, None, None
            for entry in self.patterns:
                used = entry
                if "F" in options:
                    found = self.fixed_match(line, entry[0])
                else:
                    found, span = self.regex_match(line, self.regex(entry))
                if found:
                    break
            if found != self.invert:
                nmatches += 1
                if options & {"q", "l", "L"}:
                    if "q" in options:
                        raise AppletExit(0)
                    if "l" in options:
                        app.write(arg_bytes(name) + b"\n")
                        return True
                    return False
                if "m" in options and nmatches > self.max_matches:
                    break
                if "c" not in options:
                    if self.before:
                        prevpos = self.before - 1 if curpos == 0 else curpos - 1
                        if self.before_buf[prevpos] is not None:
                            number, idx = linenum - self.before, curpos
                            while self.before_buf[idx] is None:
                                idx, number = (idx + 1) % self.before, number + 1
                            while self.before_buf[idx] is not None:
                                self.print_line(name, self.before_buf[idx], number, "-")
                                self.before_buf[idx] = None
                                idx, number = (idx + 1) % self.before, number + 1
                    print_after = self.after
                    if "o" in options:
                        self.print_matches(name, line, linenum, used, span)
                    else:
                        self.print_line(name, line, linenum, ":")
            elif print_after:
                self.print_line(name, line, linenum, "-")
                print_after -= 1
            elif self.before:
                self.before_buf[curpos] = line
                curpos = (curpos + 1) % self.before
            if "m" in options and not print_after and nmatches == self.max_matches:
                break
        if "c" in options:
            app.write((name + ":" if self.print_filename else "") + f"{nmatches}\n")
        if "L" in options:
            app.write(arg_bytes(name) + b"\n")
            return True
        return nmatches != 0

    def print_matches(self, name: str, line: bytes, linenum: int, entry: list, span) -> None:
        """-o: -F prints the pattern once; a regex prints each non-empty match, the first
        being the one found (checked for -w/-x), the next ones searched from its end."""
        if "F" in self.options:
            self.print_line(name, entry[0], linenum, ":")
            return
        regex = self.regex(entry)
        while span is not None:
            start, end = span
            if end > start:
                self.print_line(name, line[start:end], linenum, ":")
            if end >= len(line):
                break
            if end == start:
                end += 1
            span = regex.search(line, end)


GREP_SPEC = "lnqvscFiHhe:f:LorRm:wxA:B:C:EzaI"


def applet_grep(app: Applet, argv: list[str]) -> int:
    """busybox grep: -HhnlLcoqvsrRiwxFEz -m N -A/-B/-C N -e PATTERN -f FILE (and egrep,
    fgrep). Patterns are GNU BRE (or ERE), compiled when first used ("bad regex 'P'",
    rc 2); a file that does not open says ``grep: F: strerror`` (not with -s) and makes
    the rc 2 unless -q found a match; a directory reads as empty. rc 0 matched, 1 not."""
    app.exit_status = 2
    pairs, args = app.getopt_list(argv, GREP_SPEC, longopts={"color": True})
    options, texts, files = set(), [], []
    max_matches = after = before = context = 0
    for option, value in pairs:
        if option == "--color":
            continue
        if option in "mABC":
            value = app.number(value)
        if option == "H":
            options.discard("h")
        elif option == "C":
            options -= {"A", "B"}
            context = value
        elif option == "A":
            after = value
        elif option == "B":
            before = value
        elif option == "m":
            max_matches = value
        elif option == "e":
            texts.append(arg_bytes(value))
        elif option == "f":
            files.append(value)
        options.add(option)
    if "C" in options:
        after = after if "A" in options else context
        before = before if "B" in options else context
    if options & {"c", "q", "l", "L"}:
        options.discard("n")
        before = after = 0
    invert = "v" in options
    patterns = []
    for text in texts:
        for piece in text.split(b"\n"):
            patterns.insert(0, [piece, None])
    for name in files:
        handle, data = read_input(app, name)
        if handle is None:
            raise AppletExit(2)
        for line in split_lines(data):
            patterns.insert(0, [c_string(line), None])
    if files and not patterns:
        patterns.append([b".*" if "x" in options else b"", None])
        invert = not invert
    if app.name == "fgrep":
        options.add("F")
    if app.name == "egrep":
        options.add("E")
    if "o" in options and invert:
        raise NotSimulated("grep -o -v (busybox prints stale matches, or crashes)")
    if not patterns:
        if not args:
            app.usage()
        for piece in arg_bytes(args.pop(0)).split(b"\n"):
            patterns.insert(0, [piece, None])
    grep = Grep(app, options, patterns, before, after, max_matches, invert)
    grep.print_filename = len(args) > 1
    if "H" in options:
        grep.print_filename = True
    if "h" in options:
        grep.print_filename = False
    matched = open_errors = False
    for name in args or ["-"]:
        if name == "-":
            matched |= grep.grep_file("(standard input)", read_input(app, "-")[1])
            continue
        if options & {"r", "R"}:
            stat = app.shell._stat(app.shell._abspath(name))
            if isinstance(stat, Stat) and stat.is_dir:
                if "h" not in options:
                    grep.print_filename = True
                found, failed = grep_dir(grep, name)
                matched, open_errors = matched or found, open_errors or failed
                continue
        handle, data = read_input(app, name, warn="s" not in options)
        if handle is None:
            open_errors = True
            continue
        matched |= grep.grep_file(name, data)
    if open_errors:
        return 2
    return 0 if matched else 1


def grep_dir(grep: Grep, directory: str) -> tuple[bool, bool]:
    """recursive_action(ACTION_RECURSE | ACTION_DEPTHFIRST): the entries in the order the
    directory lists them (the System's list_dir stands for readdir), files grepped,
    subdirectories entered. (matched, open errors)."""
    shell = grep.app.shell
    entries = shell._list_dir(shell._abspath(directory))
    if isinstance(entries, int):
        if "s" not in grep.options:
            grep.app.error(f"{directory}: {strerror(entries)}")
        return False, False
    matched = failed = False
    for entry in entries:
        path = directory + entry if directory.endswith("/") else f"{directory}/{entry}"
        stat = shell._stat(shell._abspath(path))
        if isinstance(stat, Stat) and stat.is_dir:
            found, bad = grep_dir(grep, path)
            matched, failed = matched or found, failed or bad
            continue
        handle, data = read_input(grep.app, path, warn="s" not in grep.options)
        if handle is None:
            failed = True
            continue
        matched |= grep.grep_file(path, data)
    return matched, failed
