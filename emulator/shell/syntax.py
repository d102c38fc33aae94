"""Parsing: ash's grammar, one top-level command line at a time.

The tokens, the AST the shell walks (plain dataclasses and tuples, so a notebook can print
a parsed script), :class:`Parser` and :func:`parse`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class ShellSyntaxError(Exception):
    """``syntax error: <message>``, found while the lexer was on ``line``."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.message = message
        self.line = line


# Word parts (tuples, so a parsed word is plain data a notebook can print):
#   ("lit", text, quoted)
#   ("var", name, op, arg_parts, quoted)      op: None "-" ":-" "=" ":=" "+" ":+" "?" ":?"
#                                             "len" "#" "##" "%" "%%"
#   ("cmd", source, quoted, line)             $(...) and `...`
#   ("arith", source, quoted)                 $((...))

@dataclass
class Word:
    parts: tuple
    text: str  # the source text

    @property
    def plain(self) -> bool:
        return all(p[0] == "lit" and not p[2] for p in self.parts)


@dataclass
class Redirect:
    fd: int | None
    op: str
    target: Word


@dataclass
class Simple:
    assigns: list  # [(name, Word)]
    words: list
    redirects: list
    line: int


@dataclass
class Pipeline:
    commands: list
    negate: bool = False


@dataclass
class AndOr:
    first: Pipeline
    rest: list  # [("&&" | "||", Pipeline)]


@dataclass
class Sequence:
    items: list


@dataclass
class If:
    clauses: list  # [(condition, body)]
    otherwise: Sequence | None


@dataclass
class Loop:
    condition: Sequence
    body: Sequence
    until: bool


@dataclass
class For:
    name: str
    words: list | None  # None: "$@"
    body: Sequence
    line: int


@dataclass
class Case:
    word: Word
    arms: list  # [([pattern Words], body | None)]
    line: int


@dataclass
class Group:
    body: Sequence
    subshell: bool


@dataclass
class Redirected:
    command: object
    redirects: list


@dataclass
class FunctionDef:
    name: str
    body: object


@dataclass
class Token:
    kind: str   # "word" "op" "redir" "newline" "eof"
    text: str
    line: int
    word: Word | None = None
    fd: int | None = None

    def keyword(self) -> str | None:
        if self.kind == "word" and self.word.plain and self.text in RESERVED:
            return self.text
        return None

    def describe(self) -> str:
        """How ash's ``syntax error: unexpected X`` names the token."""
        if self.kind == "newline":
            return "newline"
        if self.kind == "eof":
            return "end of file"
        if self.kind == "word" and not self.keyword():
            return "word"
        return f'"{self.text}"'


OPERATORS = ("&&", "||", ";;", "&", "|", ";", "(", ")")
REDIR_OPS = ("<<-", "<<", "<>", "<&", "<", ">>", ">&", ">|", ">")
RESERVED = frozenset(("if", "then", "else", "elif", "fi", "do", "done", "case", "esac",
                      "while", "until", "for", "{", "}", "!", "in"))
CLOSERS = frozenset(("then", "else", "elif", "fi", "do", "done", "esac", "}"))
WORD_END = frozenset(" \t\n;&|<>()")
SPECIAL_PARAMS = "?#$!@*-"
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ASSIGN_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")


class Parser:
    """ash's recursive-descent parser over one source text.

    ``command_line()`` returns the next top-level list (to the end of its line, or further
    when a compound command or a trailing ``&&``/``|`` continues it), as ash parses and
    runs a script one command line at a time: a syntax error further down does not stop
    the lines before it from running.
    """

    def __init__(self, text: str, line: int = 1):
        self.src = text
        self.pos = 0
        self.line = line
        self._pushed: list[Token] = []  # read ahead, pushed back (last in, first out)
        self._heredocs: list[Redirect] = []  # << seen on this line, bodies still to read

    # -- errors and tokens ----------------------------------------------------------------

    def fail(self, message: str, line: int | None = None):
        raise ShellSyntaxError(message, self.line if line is None else line)

    def unexpected(self, token: Token, expecting: str | None = None):
        message = f"unexpected {token.describe()}"
        if expecting:
            message += f' (expecting "{expecting}")'
        self.fail(message, token.line)

    def next(self) -> Token:
        if self._pushed:
            return self._pushed.pop()
        return self._lex()

    def push(self, token: Token) -> None:
        self._pushed.append(token)

    def peek(self) -> Token:
        token = self.next()
        self.push(token)
        return token

    def skip_newlines(self) -> Token:
        token = self.next()
        while token.kind == "newline":
            token = self.next()
        return token

    # -- the lexer ------------------------------------------------------------------------

    def _lex(self) -> Token:
        src = self.src
        while True:
            while self.pos < len(src) and src[self.pos] in " \t":
                self.pos += 1
            if src.startswith("\\\n", self.pos):
                self.pos += 2
                self.line += 1
                continue
            if self.pos < len(src) and src[self.pos] == "#":
                end = src.find("\n", self.pos)
                self.pos = len(src) if end < 0 else end
            break
        if self.pos >= len(src):
            return Token("eof", "", self.line)
        if src[self.pos] == "\n":
            self.pos += 1
            self.line += 1
            token = Token("newline", "\n", self.line)
            self._read_heredoc_bodies()
            return token
        for op in OPERATORS:
            if src.startswith(op, self.pos):
                self.pos += len(op)
                return Token("op", op, self.line)
        redir = self._redir_op()
        if redir:
            return Token("redir", redir, self.line)
        word = self._read_word()
        if word.text.isdigit() and word.plain:
            redir = self._redir_op()
            if redir:
                return Token("redir", redir, self.line, fd=int(word.text))
        return Token("word", word.text, self.line, word=word)

    def _redir_op(self) -> str | None:
        for op in REDIR_OPS:
            if self.src.startswith(op, self.pos):
                self.pos += len(op)
                return op
        return None

    def _eof_in(self, message: str):
        self.line += self.src.count("\n", self.pos)
        self.pos = len(self.src)
        self.fail(message)

    def _read_word(self) -> Word:
        start = self.pos
        parts = self._read_parts(stop=WORD_END, quoted=False)
        return Word(tuple(parts), self.src[start:self.pos])

    def _read_parts(self, stop, quoted: bool) -> list:
        """Word parts up to a character in ``stop`` (unquoted) or the end."""
        src, parts, lit = self.src, [], []

        def flush():
            if lit:
                parts.append(("lit", "".join(lit), quoted))
                lit.clear()

        while self.pos < len(src):
            c = src[self.pos]
            if c in stop:
                break
            if c == "\\":
                nxt = src[self.pos + 1:self.pos + 2]
                if nxt == "\n":
                    self.pos += 2
                    self.line += 1
                elif nxt:
                    flush()
                    parts.append(("lit", nxt, True))
                    self.pos += 2
                else:
                    lit.append(c)
                    self.pos += 1
            elif c == "'" and not quoted:
                end = src.find("'", self.pos + 1)
                if end < 0:
                    self._eof_in("unterminated quoted string")
                flush()
                text = src[self.pos + 1:end]
                self.line += text.count("\n")
                parts.append(("lit", text, True))
                self.pos = end + 1
            elif c == '"' and not quoted:
                flush()
                self.pos += 1
                parts.extend(self._read_dquoted())
            elif c == "$":
                flush()
                parts.append(self._read_dollar(quoted))
            elif c == "`":
                flush()
                parts.append(self._read_backquote(quoted))
            else:
                if c == "\n":
                    self.line += 1
                lit.append(c)
                self.pos += 1
        flush()
        return parts

    def _read_dquoted(self, terminator: str | None = '"') -> list:
        """The inside of "..." (or of a here-document, ``terminator`` None: to the end):
        $, ` and \\ stay special; \\ escapes only $ ` \\ newline (and " inside "...")."""
        src, parts, lit = self.src, [], []
        escapable = ("$", "`", "\\", "\n") + ((terminator,) if terminator else ())

        def flush():
            if lit:
                parts.append(("lit", "".join(lit), True))
                lit.clear()

        while True:
            if self.pos >= len(src):
                if terminator is None:
                    break
                self._eof_in("unterminated quoted string")
            c = src[self.pos]
            if c == terminator:
                self.pos += 1
                break
            if c == "\\" and src[self.pos + 1:self.pos + 2] in escapable:
                if src[self.pos + 1] == "\n":
                    self.line += 1
                else:
                    lit.append(src[self.pos + 1])
                self.pos += 2
            elif c == "$":
                flush()
                parts.append(self._read_dollar(True))
            elif c == "`":
                flush()
                parts.append(self._read_backquote(True))
            else:
                if c == "\n":
                    self.line += 1
                lit.append(c)
                self.pos += 1
        flush()
        if not parts:
            parts.append(("lit", "", True))  # "" is still a field ("$@" alone is not)
        return parts

    def _read_dollar(self, quoted: bool) -> tuple:
        src, pos = self.src, self.pos
        nxt = src[pos + 1:pos + 2]
        if nxt == "{":
            return self._read_braced(quoted)
        if src.startswith("$((", pos):
            start = pos + 3
            end = self._matching_paren(start, arith=True)
            self.pos = end + 2
            return ("arith", src[start:end], quoted)
        if nxt == "(":
            line = self.line
            start = pos + 2
            end = self._matching_paren(start, arith=False)
            self.pos = end + 1
            self._check_substitution(src[start:end], line)
            return ("cmd", src[start:end], quoted, line)
        match = NAME_RE.match(src, pos + 1)
        if match:
            self.pos = match.end()
            return ("var", match.group(), None, (), quoted)
        if nxt and (nxt.isdigit() or nxt in SPECIAL_PARAMS):
            self.pos = pos + 2
            return ("var", nxt, None, (), quoted)
        self.pos = pos + 1
        return ("lit", "$", quoted)

    def _matching_paren(self, start: int, arith: bool) -> int:
        """Index of the ``)`` (``))`` for arithmetic) closing a ``$(``; quotes respected."""
        src, depth, i = self.src, 0, start
        while i < len(src):
            c = src[i]
            if c == "\\":
                i += 2
                continue
            if c in "'\"" and not arith:
                end = src.find(c, i + 1)
                if end < 0:
                    break
                i = end + 1
                continue
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0 and (not arith or src.startswith("))", i)):
                    self.line += src.count("\n", start, i)
                    return i
                depth -= 1
            i += 1
        self.pos = start
        self._eof_in('unexpected end of file (expecting ")")')

    def _read_braced(self, quoted: bool) -> tuple:
        src = self.src
        i = self.pos + 2
        length = src.startswith("#", i) and src[i + 1:i + 2] not in ("}", "")
        if length:
            i += 1
        match = NAME_RE.match(src, i)
        if match:
            name, i = match.group(), match.end()
        elif i < len(src) and (src[i].isdigit() or src[i] in SPECIAL_PARAMS):
            name, i = src[i], i + 1
        else:
            self.pos = i
            self._missing_brace_or_bad(i)
        if length:
            if not src.startswith("}", i):
                self.pos = i
                self._missing_brace_or_bad(i)
            self.pos = i + 1
            return ("var", name, "len", (), quoted)
        op = None
        for candidate in (":-", ":=", ":+", ":?", "##", "%%", "-", "=", "+", "?", "#", "%"):
            if src.startswith(candidate, i):
                op, i = candidate, i + len(candidate)
                break
        self.pos = i
        arg = ()
        if op:
            # a pattern (# ## % %%) is unquoted even inside "...": only quotes within
            # the braces make its characters literal
            pattern = op in ("#", "##", "%", "%%")
            arg = tuple(self._read_parts(stop="}", quoted=True) if quoted and not pattern
                        else self._read_brace_arg())
        if not src.startswith("}", self.pos):
            self._missing_brace_or_bad(self.pos)
        self.pos += 1
        return ("var", name, op, arg, quoted)

    def _read_brace_arg(self) -> list:
        """The word after ``${NAME:-``: like a word, but blanks are part of it."""
        return self._read_parts(stop="}", quoted=False)

    def _missing_brace_or_bad(self, i: int):
        end = self.src.find("}", i)
        if end < 0:
            self._eof_in("missing '}'")
        self.fail("bad substitution")

    def _read_backquote(self, quoted: bool) -> tuple:
        src, line = self.src, self.line
        i, out = self.pos + 1, []
        while True:
            if i >= len(src):
                self._eof_in("EOF in backquote substitution")
            c = src[i]
            if c == "`":
                break
            if c == "\\" and src[i + 1:i + 2] in ("$", "`", "\\") + (('"',) if quoted else ()):
                out.append(src[i + 1])
                i += 2
                continue
            out.append(c)
            i += 1
        self.line += src.count("\n", self.pos, i)
        self.pos = i + 1
        self._check_substitution("".join(out), line)
        return ("cmd", "".join(out), quoted, line)

    @staticmethod
    def _check_substitution(source: str, line: int) -> None:
        """ash parses a command substitution with the command around it: a syntax error
        inside stops the whole command line before any of it runs."""
        parser = Parser(source, line)
        while parser.command_line() is not None:
            pass

    # -- the grammar ----------------------------------------------------------------------

    def command_line(self):
        """The next top-level list, or None at the end of the text."""
        token = self.skip_newlines()
        if token.kind == "eof":
            return None
        self.push(token)
        node = self.list_(newline_ends=True)
        token = self.next()
        if token.kind not in ("newline", "eof"):
            self.unexpected(token)
        return node

    def _starts_command(self, token: Token) -> bool:
        if token.kind in ("redir",):
            return True
        if token.kind == "op":
            return token.text == "("
        if token.kind == "word":
            return token.keyword() not in CLOSERS
        return False

    def list_(self, newline_ends: bool = False) -> Sequence:
        """and-or lists separated by ; & (and newlines inside compound commands)."""
        items = []
        while True:
            token = self.next() if newline_ends else self.skip_newlines()
            if not self._starts_command(token):
                if not items and token.kind != "eof":
                    self.unexpected(token)
                self.push(token)  # at the end of the text the caller says what it expected
                break
            self.push(token)
            items.append(self.and_or())
            token = self.next()
            if token.kind == "op" and token.text in (";", "&"):
                continue
            if token.kind == "newline" and not newline_ends:
                continue
            self.push(token)
            break
        return Sequence(items)

    def and_or(self) -> AndOr:
        first = self.pipeline()
        rest = []
        while True:
            token = self.next()
            if token.kind == "op" and token.text in ("&&", "||"):
                rest.append((token.text, self.pipeline(after_op=True)))
                continue
            self.push(token)
            return AndOr(first, rest)

    def pipeline(self, after_op: bool = False) -> Pipeline:
        token = self.skip_newlines() if after_op else self.next()
        negate = token.keyword() == "!"
        if not negate:
            self.push(token)
        commands = [self.command()]
        while True:
            token = self.next()
            if token.kind == "op" and token.text == "|":
                token = self.skip_newlines()
                self.push(token)
                commands.append(self.command())
                continue
            self.push(token)
            return Pipeline(commands, negate)

    def command(self):
        token = self.next()
        keyword = token.keyword()
        compound = {"if": self._if, "while": self._while, "until": self._while,
                    "for": self._for, "case": self._case, "{": self._brace}.get(keyword)
        if compound:
            return self._redirected(compound(token))
        if token.kind == "op" and token.text == "(":
            body = self.list_()
            self._expect(")")
            return self._redirected(Group(body, subshell=True))
        if token.kind == "word" and keyword is None and NAME_RE.fullmatch(token.text) \
                and token.word.plain:
            after = self.next()
            if after.kind == "op" and after.text == "(":
                close = self.next()
                if not (close.kind == "op" and close.text == ")"):
                    self.unexpected(close, ")")
                body_token = self.skip_newlines()
                self.push(body_token)
                return FunctionDef(token.text, self.command())
            self.push(after)
        if not self._starts_command(token):
            self.unexpected(token)
        self.push(token)
        return self.simple()

    def _redirected(self, node):
        redirects = []
        while True:
            token = self.next()
            if token.kind != "redir":
                self.push(token)
                break
            redirects.append(self._redirect(token))
        return Redirected(node, redirects) if redirects else node

    def _redirect(self, token: Token) -> Redirect:
        target = self.next()
        if target.kind != "word":
            self.unexpected(target)
        redirect = Redirect(token.fd, token.text, target.word)
        if token.text in ("<<", "<<-"):
            self._heredocs.append(redirect)  # the body follows the end of this line
        return redirect

    def _read_heredoc_bodies(self) -> None:
        """The lines after a ``<<WORD`` line up to a line that is WORD (tabs stripped
        first with ``<<-``); a quoted WORD keeps the body as it is, otherwise it is
        expanded like the inside of double quotes. At the end of the text the body is
        whatever was left."""
        pending, self._heredocs = self._heredocs, []
        for redirect in pending:
            delimiter = "".join(p[1] for p in redirect.target.parts if p[0] == "lit")
            quoted = not redirect.target.plain
            lines = []
            while self.pos < len(self.src):
                end = self.src.find("\n", self.pos)
                end = len(self.src) if end < 0 else end
                line = self.src[self.pos:end]
                self.pos = min(end + 1, len(self.src))
                self.line += 1 if end < len(self.src) else 0
                if redirect.op == "<<-":
                    line = line.lstrip("\t")
                if line == delimiter:
                    break
                lines.append(line + "\n")
            body = "".join(lines)
            if quoted:
                parts = (("lit", body, True),)
            else:
                parts = tuple(Parser(body, self.line - len(lines))._read_dquoted(None))
            redirect.target = Word(parts, body)

    def simple(self) -> Simple:
        assigns, words, redirects, line = [], [], [], None
        while True:
            token = self.next()
            if line is None:
                line = token.line  # ash: the line the lexer is on after the first token
            if token.kind == "redir":
                redirects.append(self._redirect(token))
            elif token.kind == "word":
                match = ASSIGN_RE.match(token.text)
                if not words and match and self._unquoted_prefix(token.word, match.end()):
                    assigns.append((match.group(1), _strip_prefix(token.word, match.end())))
                else:
                    words.append(token.word)
            else:
                self.push(token)
                break
        if not (assigns or words or redirects):
            self.unexpected(self.peek())
        return Simple(assigns, words, redirects, line)

    @staticmethod
    def _unquoted_prefix(word: Word, length: int) -> bool:
        first = word.parts[0]
        return first[0] == "lit" and not first[2] and len(first[1]) >= length

    def _expect(self, closer: str) -> Token:
        token = self.skip_newlines()
        if token.keyword() == closer or token.kind == "op" and token.text == closer:
            return token
        self.unexpected(token, closer)

    def _if(self, token: Token) -> If:
        clauses = []
        condition = self.list_()
        self._expect("then")
        clauses.append((condition, self.list_()))
        otherwise = None
        while True:
            token = self.skip_newlines()
            keyword = token.keyword()
            if keyword == "elif":
                condition = self.list_()
                self._expect("then")
                clauses.append((condition, self.list_()))
            elif keyword == "else":
                otherwise = self.list_()
                self._expect("fi")
                break
            elif keyword == "fi":
                break
            else:
                self.unexpected(token, "fi")
        return If(clauses, otherwise)

    def _while(self, token: Token) -> Loop:
        condition = self.list_()
        self._expect("do")
        body = self.list_()
        self._expect("done")
        return Loop(condition, body, until=token.text == "until")

    def _for(self, token: Token) -> For:
        line = self.line
        name = self.next()
        if name.kind != "word" or not NAME_RE.fullmatch(name.text):
            self.fail("bad for loop variable")
        token = self.skip_newlines()
        words = None
        if token.keyword() == "in":
            words = []
            while True:
                token = self.next()
                if token.kind != "word":
                    break
                words.append(token.word)
            if not (token.kind == "newline" or token.kind == "op" and token.text == ";"):
                self.unexpected(token)
        elif not (token.kind == "op" and token.text == ";"):
            self.push(token)
        self._expect("do")
        body = self.list_()
        self._expect("done")
        return For(name.text, words, body, line)

    def _case(self, token: Token) -> Case:
        line = self.line
        subject = self.next()
        if subject.kind != "word":
            self.unexpected(subject)
        token = self.skip_newlines()
        if token.keyword() != "in":
            self.unexpected(token, "in")
        arms = []
        while True:
            token = self.skip_newlines()
            if token.keyword() == "esac":
                break
            if token.kind == "op" and token.text == "(":
                token = self.next()
            patterns = []
            while True:
                if token.kind != "word":
                    self.unexpected(token, ")")
                patterns.append(token.word)
                token = self.next()
                if token.kind == "op" and token.text == "|":
                    token = self.next()
                    continue
                if token.kind == "op" and token.text == ")":
                    break
                self.unexpected(token, ")")
            token = self.skip_newlines()
            body = None
            if not (token.kind == "op" and token.text == ";;" or token.keyword() == "esac"):
                self.push(token)
                body = self.list_()
                token = self.skip_newlines()
            arms.append((patterns, body))
            if token.keyword() == "esac":
                break
            if not (token.kind == "op" and token.text == ";;"):
                self.unexpected(token, ";;")
        return Case(subject.word, arms, line)

    def _brace(self, token: Token) -> Group:
        body = self.list_()
        self._expect("}")
        return Group(body, subshell=False)


def _strip_prefix(word: Word, length: int) -> Word:
    """The value word of ``NAME=value``: the word without its first ``length`` chars."""
    first = word.parts[0]
    rest = first[1][length:]
    parts = ((("lit", rest, False),) if rest else ()) + word.parts[1:]
    return Word(parts, word.text[length:])


def parse(text: str) -> list:
    """All the command lines of a text (for tests and notebooks); raises ShellSyntaxError."""
    parser, nodes = Parser(text), []
    while (node := parser.command_line()) is not None:
        nodes.append(node)
    return nodes
