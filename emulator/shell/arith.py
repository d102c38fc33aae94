"""Arithmetic: ``$((...))`` with C precedence, 64-bit, as ash's math.c."""

from __future__ import annotations

import re
from typing import Callable

from .syntax import NAME_RE

ARITH_TOKEN = re.compile(r"\s*(0[xX][0-9a-fA-F]+|\d+|[A-Za-z_][A-Za-z0-9_]*|"
                         r"<<=|>>=|\*\*|<<|>>|<=|>=|==|!=|&&|\|\||\+=|-=|\*=|/=|%=|&=|\^=|"
                         r"\|=|\+\+|--|[-+*/%<>&^|!~()?:=,])")
BINARY = {  # operator: (precedence, function); higher binds tighter
    "||": (1, lambda a, b: int(bool(a) or bool(b))),
    "&&": (2, lambda a, b: int(bool(a) and bool(b))),
    "|": (3, lambda a, b: a | b), "^": (4, lambda a, b: a ^ b), "&": (5, lambda a, b: a & b),
    "==": (6, lambda a, b: int(a == b)), "!=": (6, lambda a, b: int(a != b)),
    "<": (7, lambda a, b: int(a < b)), "<=": (7, lambda a, b: int(a <= b)),
    ">": (7, lambda a, b: int(a > b)), ">=": (7, lambda a, b: int(a >= b)),
    "<<": (8, lambda a, b: a << (b & 63)), ">>": (8, lambda a, b: a >> (b & 63)),
    "+": (9, lambda a, b: a + b), "-": (9, lambda a, b: a - b),
    "*": (10, lambda a, b: a * b), "/": (10, None), "%": (10, None),
    "**": (11, lambda a, b: a ** b if b >= 0 else 0),
}
ASSIGN_OPS = ("=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "^=", "|=")


class ArithError(Exception):
    pass


def wrap64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >> 63 else value


class Arith:
    """Evaluates one expression; variables come from and go to ``getvar``/``setvar``."""

    def __init__(self, text: str, getvar: Callable, setvar: Callable):
        self.tokens, pos = [], 0
        text = text.rstrip()
        while pos < len(text):
            match = ARITH_TOKEN.match(text, pos)
            if not match:
                raise ArithError("arithmetic syntax error")
            self.tokens.append(match.group(1))
            pos = match.end()
        self.i = 0
        self.getvar, self.setvar = getvar, setvar

    def evaluate(self) -> int:
        if not self.tokens:
            return 0
        value = self.comma()
        if self.i != len(self.tokens):
            raise ArithError("arithmetic syntax error")
        return value

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self):
        token = self.peek()
        if token is None:
            raise ArithError("arithmetic syntax error")
        self.i += 1
        return token

    def comma(self) -> int:
        value = self.assignment()
        while self.peek() == ",":
            self.take()
            value = self.assignment()
        return value

    def assignment(self) -> int:
        token = self.peek()
        if token and NAME_RE.fullmatch(token) and self.i + 1 < len(self.tokens) \
                and self.tokens[self.i + 1] in ASSIGN_OPS:
            self.i += 2
            op = self.tokens[self.i - 1]
            value = self.assignment()
            if op != "=":
                value = self.apply(op[:-1], self.variable(token), value)
            self.setvar(token, str(value))
            return value
        return self.conditional()

    def conditional(self) -> int:
        value = self.binary(1)
        if self.peek() == "?":
            self.take()
            yes = self.assignment()
            if self.take() != ":":
                raise ArithError("arithmetic syntax error")
            no = self.assignment()
            return yes if value else no
        return value

    def binary(self, level: int) -> int:
        value = self.unary()
        return self._climb(value, level)

    def _climb(self, left: int, level: int) -> int:
        while True:
            op = self.peek()
            if op not in BINARY or BINARY[op][0] < level:
                return left
            self.take()
            precedence = BINARY[op][0]
            right = self.unary()
            while self.peek() in BINARY and (BINARY[self.peek()][0] > precedence or
                                             self.peek() == "**" and op == "**"):
                right = self._climb(right, BINARY[self.peek()][0])
            left = self.apply(op, left, right)

    def apply(self, op: str, a: int, b: int) -> int:
        if op in ("/", "%"):
            if b == 0:
                raise ArithError("divide by zero")
            q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
            return wrap64(q if op == "/" else a - q * b)
        return wrap64(BINARY[op][1](a, b))

    def unary(self) -> int:
        token = self.take()
        if token in ("+", "-", "!", "~"):
            value = self.unary()
            return {"+": value, "-": wrap64(-value), "!": int(not value), "~": ~value}[token]
        if token in ("++", "--"):
            name = self.take()
            value = self.variable(name) + (1 if token == "++" else -1)
            self.setvar(name, str(value))
            return value
        if token == "(":
            value = self.comma()
            if self.take() != ")":
                raise ArithError("arithmetic syntax error")
            return value
        if token[0].isdigit():
            return self.number(token)
        if NAME_RE.fullmatch(token):
            value = self.variable(token)
            if self.peek() in ("++", "--"):
                self.setvar(token, str(value + (1 if self.take() == "++" else -1)))
            return value
        raise ArithError("arithmetic syntax error")

    @staticmethod
    def number(text: str) -> int:
        try:
            if text[:2] in ("0x", "0X"):
                return wrap64(int(text, 16))
            if len(text) > 1 and text[0] == "0":
                return wrap64(int(text, 8))
            return wrap64(int(text))
        except ValueError:
            raise ArithError("arithmetic syntax error") from None

    def variable(self, name: str, depth: int = 0) -> int:
        value = (self.getvar(name) or "").strip()
        if not value:
            return 0
        if re.fullmatch(r"[-+]?(0[xX][0-9a-fA-F]+|\d+)", value):
            sign = -1 if value[0] == "-" else 1
            return sign * self.number(value.lstrip("+-"))
        if NAME_RE.fullmatch(value) and depth < 100:
            return self.variable(value, depth + 1)
        raise ArithError("arithmetic syntax error")
