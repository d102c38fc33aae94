"""Word expansion's pure parts: shell patterns as regexes, and IFS field splitting.

Patterns (globs, case, ``${NAME#pattern}``) come as (char, quoted) pairs, quoted chars
literal; field splitting cuts an unquoted expansion at IFS characters.
"""

from __future__ import annotations

import re

# ---------------------------------------------------------------------------------------
# Patterns (globs, case, ${NAME#pattern})
# ---------------------------------------------------------------------------------------

GLOB_CHARS = "*?["


def pattern_regex(chars: list, anchored: bool = True) -> re.Pattern:
    """A regex for a shell pattern given as (char, quoted) pairs; quoted chars are literal."""
    out, i = [], 0
    while i < len(chars):
        ch, quoted = chars[i]
        if quoted:
            out.append(re.escape(ch))
        elif ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            end, klass = _bracket(chars, i)
            if end is None:
                out.append(re.escape(ch))
            else:
                out.append(klass)
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("(?s)" + "".join(out) + (r"\Z" if anchored else ""))


def _bracket(chars: list, start: int):
    """A ``[...]`` class starting at ``start``: (index of ``]``, regex) or (None, None)."""
    i = start + 1
    negate = i < len(chars) and chars[i][0] in "!^" and not chars[i][1]
    if negate:
        i += 1
    members, first = [], True
    while i < len(chars):
        ch, quoted = chars[i]
        if ch == "]" and not quoted and not first:
            body = "".join(members)
            return i, f"[{'^' if negate else ''}{body}]"
        if ch == "-" and not quoted and members and i + 1 < len(chars) \
                and chars[i + 1][0] != "]":
            members.append("-")
        else:
            members.append(re.escape(ch) if ch not in "-" else r"\-")
        first = False
        i += 1
    return None, None


def has_glob(chars: list) -> bool:
    return any(ch in GLOB_CHARS and not quoted for ch, quoted in chars)


# ---------------------------------------------------------------------------------------
# Field splitting
# ---------------------------------------------------------------------------------------

IFS_WHITESPACE = " \t\n"


def split_fields(value: str, ifs: str) -> list[str]:
    """Field splitting of an unquoted expansion (IFS whitespace; other IFS chars delimit)."""
    if not ifs:
        return [value] if value else []
    white = "".join(c for c in ifs if c in IFS_WHITESPACE)
    other = "".join(c for c in ifs if c not in IFS_WHITESPACE)
    if not other:
        return value.split() if white == IFS_WHITESPACE else \
            [f for f in re.split("[" + re.escape(white) + "]+", value) if f]
    blanks = f"[{re.escape(white)}]*" if white else ""
    pattern = f"{blanks}[{re.escape(other)}]{blanks}" + (f"|[{re.escape(white)}]+" if white else "")
    stripped = value.strip(white)
    if not stripped:
        return []
    fields = re.split(pattern, stripped)
    if fields and fields[-1] == "" and stripped[-1] in other:
        fields.pop()
    return fields
