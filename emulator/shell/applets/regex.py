"""POSIX regular expressions as glibc compiles them (GNU BRE and ERE, leftmost-longest
matches), translated to Python's re: what busybox grep and cut -F use."""

from __future__ import annotations

import re


# -- POSIX regular expressions (glibc regex) in Python's re ----------------------------------

class RegexError(Exception):
    """The pattern does not compile (glibc would say why; busybox grep says "bad regex")."""


# character classes of the C locale (busybox is built without locale support)
REGEX_CLASSES = {
    "alpha": bytes(range(65, 91)) + bytes(range(97, 123)),
    "upper": bytes(range(65, 91)),
    "lower": bytes(range(97, 123)),
    "digit": b"0123456789",
    "xdigit": b"0123456789ABCDEFabcdef",
    "alnum": b"0123456789" + bytes(range(65, 91)) + bytes(range(97, 123)),
    "space": b" \t\n\v\f\r",
    "blank": b" \t",
    "punct": bytes(c for c in range(33, 127) if not chr(c).isalnum()),
    "print": bytes(range(32, 127)),
    "graph": bytes(range(33, 127)),
    "cntrl": bytes(range(32)) + b"\x7f",
}


# GNU regex's zero-width operators in Python's re (Python's own \B never matches an empty
# string; glibc's does)
GNU_ASSERTIONS = {"b": r"\b", "B": r"(?:(?<=\w)(?=\w)|(?<!\w)(?!\w))", "<": r"\b(?=\w)",
                  ">": r"\b(?<=\w)", "`": r"\A", "'": r"\Z"}


def _re_byte(c: int) -> str:
    return chr(c) if chr(c).isalnum() and c < 128 else f"\\x{c:02x}"


class PosixRegex:
    """A glibc regular expression (GNU BRE as busybox grep compiles it with RE_SYNTAX_GREP,
    or ERE), translated to Python's re over bytes, with POSIX leftmost-longest matches.

    The GNU grammar, as the guest's grep shows it: BRE has \\( \\) \\| \\{m,n\\} \\+ \\?
    and * (literal first in an expression, as are \\+ \\? \\{ there); ^ and $ anchor only
    at the ends of an expression. ERE has ( ) | {m,n} + ? * anywhere, drops a repetition
    (or a "{") with nothing before it, takes an unmatched ) and an invalid {...} literally
    ("{}" is an error). An anchor is no atom: a repetition after one counts as first in
    an expression (a\\>* is a, end of word, "*"). Both know
    [...] with [:class:] [=c=] [.c.] (backslash literal inside), back-references \\1-\\9,
    \\w \\W \\s \\S \\b \\B \\< \\> \\` \\', and \\c as c for any other c. "." and [^...]
    match a newline too; ^ and $ also match at a newline inside a -z record
    (re_compile_pattern sets newline_anchor).
    """

    def __init__(self, pattern: bytes, extended: bool, icase: bool = False,
                 posix: bool = False):
        """``posix``: regcomp(REG_EXTENDED) rather than GNU egrep syntax: a repetition
        of nothing is an error."""
        source, self._context, self._variable, self.anchored = \
            self._translate(pattern, extended, posix)
        self._flags = re.DOTALL | re.MULTILINE | (re.IGNORECASE if icase else 0)
        self._source = source.encode("ascii")
        try:
            self.rx = re.compile(self._source, self._flags)
        except (re.error, OverflowError, RecursionError) as exc:
            raise RegexError(str(exc)) from None

    # -- matching ---------------------------------------------------------------------

    def search(self, data: bytes, pos: int = 0) -> tuple[int, int] | None:
        """re_search from ``pos`` over the whole of ``data``: the leftmost match and, of
        those starting there, the longest (Python's own choice is the first alternative)."""
        match = self.rx.search(data, pos)
        if match is None:
            return None
        start, end = match.span()
        if self._variable:
            for longer in range(len(data), end, -1):
                if self._matches_exactly(data, start, longer):
                    return start, longer
        return start, end

    def fullmatch(self, data: bytes) -> bool:
        return self.rx.fullmatch(data) is not None

    def _matches_exactly(self, data: bytes, start: int, end: int) -> bool:
        if not self._context:  # nothing looks past the end: a shorter subject is the same
            return self.rx.fullmatch(data, start, end) is not None
        rest = len(data) - end
        anchored = re.compile(b"(?:" + self._source + b")(?=[\\s\\S]{%d}\\Z)" % rest, self._flags)
        return anchored.match(data, start) is not None

    # -- translation ------------------------------------------------------------------

    @staticmethod
    def _translate(pattern: bytes, ere: bool, posix: bool = False) -> tuple:
        """(Python source, whether it looks at what follows a match, whether a match can
        vary in length, whether it has anchors)."""
        out: list[str] = []
        atom_at = None        # where the last atom starts in out (None: no atom yet)
        quantified = False    # the last atom already carries a repetition
        prev = "start"        # "start" (of an expression), "anchor" (after one), "atom",
        #                       "dropped" (after an ERE repetition of nothing)
        # open groups: [out position, number, completed groups when it opened, those
        # completed in its earlier alternatives]; a back-reference must name a group
        # completed in the same alternative (glibc's completed_bkref_map)
        groups: list[list] = []
        top = [0, 0, set(), set()]
        done: set[int] = set()
        opened = 0
        context = variable = anchors = False
        i, n = 0, len(pattern)

        def open_group():
            nonlocal prev, atom_at, opened
            opened += 1
            groups.append([len(out), opened, set(done), set()])
            out.append("(")
            prev, atom_at = "start", None

        def close_group():
            nonlocal atom_at, quantified, prev
            at, number, _, earlier = groups.pop()
            out.append(")")
            done.update(earlier)
            done.add(number)
            atom_at, quantified, prev = at, False, "atom"

        def alternative():
            nonlocal prev, atom_at, variable
            frame = groups[-1] if groups else top
            frame[3].update(done)
            done.clear()
            done.update(frame[2])
            out.append("|")
            prev, atom_at, variable = "start", None, True

        def literal(c: int):
            nonlocal atom_at, quantified, prev
            atom_at, quantified, prev = len(out), False, "atom"
            out.append(_re_byte(c))

        def repeat(text: str):
            nonlocal quantified, variable
            if quantified:  # a** or a+*: repeat the repetition
                out[atom_at:] = ["(?:" + "".join(out[atom_at:]) + ")"]
            out.append(text)
            quantified, variable = True, True

        def interval(j: int, close: bytes) -> tuple[str, int] | None:
            """{m}, {m,}, {m,n} or {,n} from pattern[j:] up to ``close``."""
            if pattern[j:j + len(close)] == close:
                raise RegexError("Invalid content of \\{\\}")  # "{}"
            match = re.match(rb"(\d*)(,?)(\d*)" + re.escape(close), pattern[j:])
            if not match or (not match.group(1) and not match.group(2)):
                return None
            low = int(match.group(1) or 0)
            high = int(match.group(3)) if match.group(3) else (None if match.group(2) else low)
            if high is not None and high < low or max(low, high or 0) > 0x7FFF:
                raise RegexError("Invalid content of \\{\\}")
            text = "{%d}" % low if high == low and not match.group(2) else \
                "{%d,%s}" % (low, "" if high is None else high)
            return text, j + match.end()

        while i < n:
            c = pattern[i]
            ch = chr(c)
            if ch == "\\":
                if i + 1 >= n:
                    raise RegexError("Trailing backslash")
                e = chr(pattern[i + 1])
                i += 2
                if not ere and e == "(":
                    open_group()
                elif not ere and e == ")":
                    if not groups:
                        raise RegexError("Unmatched ) or \\)")
                    close_group()
                elif not ere and e == "|":
                    alternative()
                elif not ere and e in "+?" and prev == "atom":
                    repeat(e)
                elif not ere and e == "{" and prev == "atom":
                    found = interval(i, b"\\}")
                    if found is None:
                        raise RegexError("Unmatched \\{")
                    repeat(found[0])
                    i = found[1]
                elif e in "123456789":
                    if int(e) not in done:
                        raise RegexError("Invalid back reference")
                    atom_at, quantified, prev = len(out), False, "atom"
                    out.append(f"(?:\\{e})")
                    variable = True
                elif e in "wWsS":
                    atom_at, quantified, prev = len(out), False, "atom"
                    out.append("\\" + e)
                elif e in "bB<>`'":
                    out.append(GNU_ASSERTIONS[e])
                    context = context or e in "bB<>'"
                    anchors = anchors or e in "`'"
                    prev, atom_at = "anchor", None
                else:
                    literal(ord(e))
            elif ch == "[":
                members, negate, i = PosixRegex._bracket(pattern, i + 1)
                atom_at, quantified, prev = len(out), False, "atom"
                out.append("[" + ("^" if negate else "") +
                           "".join(_re_byte(b) for b in sorted(members)) + "]")
            elif ch == ".":
                atom_at, quantified, prev = len(out), False, "atom"
                out.append(".")
                i += 1
            elif ch == "*" or ere and ch in "+?":
                i += 1
                if prev == "atom":
                    repeat(ch)
                elif not ere:
                    literal(c)
                elif posix:
                    raise RegexError("Invalid preceding regular expression")
                else:  # GNU ERE: a repetition of nothing is dropped
                    prev = "dropped"
            elif ere and ch == "{":
                if prev != "atom":  # like a repetition of nothing: dropped
                    prev = "dropped"
                    i += 1
                    continue
                found = interval(i + 1, b"}")
                if found is None:  # not an interval: RE_INVALID_INTERVAL_ORD
                    literal(c)
                    i += 1
                else:
                    repeat(found[0])
                    i = found[1]
            elif ch == "^" and (ere or prev == "start"):
                out.append("^")
                prev, atom_at, anchors = "anchor", None, True
                i += 1
            elif ch == "$" and (ere or i + 1 == n or pattern[i + 1:i + 3] in (b"\\)", b"\\|")):
                out.append("$")
                context = anchors = True
                prev, atom_at = "anchor", None
                i += 1
            elif ere and ch == "(":
                open_group()
                i += 1
            elif ere and ch == ")" and groups and prev != "dropped":
                # (after a dropped repetition the parser wants an expression: ")" is one)
                close_group()
                i += 1
            elif ere and ch == "|":
                alternative()
                i += 1
            else:
                literal(c)
                i += 1
        if groups:
            raise RegexError("Unmatched ( or \\(")
        return "".join(out), context, variable, anchors

    @staticmethod
    def _bracket(pattern: bytes, i: int) -> tuple[set, bool, int]:
        """A bracket expression from just after its "[": (byte values, negated, end)."""
        n = len(pattern)
        negate = i < n and pattern[i] == ord("^")
        if negate:
            i += 1
        members: set[int] = set()
        first = True

        def element(j: int) -> tuple[int | bytes, int]:
            """One element at j: a byte, or the bytes of a [:class:] (and where it ends)."""
            if pattern[j:j + 2] in (b"[.", b"[=", b"[:"):
                kind = pattern[j + 1:j + 2]
                end = pattern.find(kind + b"]", j + 2)
                if end < 0:
                    raise RegexError("Unmatched [, [^, [:, [., or [=")
                name = pattern[j + 2:end]
                if kind == b":":
                    if name.decode("latin-1") not in REGEX_CLASSES:
                        raise RegexError("Invalid character class name")
                    return REGEX_CLASSES[name.decode("latin-1")], end + 2
                if len(name) != 1:
                    raise RegexError("Invalid collation character")
                return name[0], end + 2
            return pattern[j], j + 1

        while True:
            if i >= n:
                raise RegexError("Unmatched [, [^, [:, [., or [=")
            if pattern[i] == ord("]") and not first:
                return members, negate, i + 1
            first = False
            low, i = element(i)
            if isinstance(low, bytes):
                members.update(low)
                continue
            if pattern[i:i + 1] == b"-" and i + 1 < n and pattern[i + 1] != ord("]"):
                high, i = element(i + 1)
                if isinstance(high, bytes) or high < low:
                    raise RegexError("Invalid range end")
                members.update(range(low, high + 1))
            else:
                members.add(low)
