"""The test (``[``, ``[[``) builtin: busybox coreutils/test.c's expression grammar."""

from __future__ import annotations

import re

from .process import ShellProcess


# -- test / [ -------------------------------------------------------------------------------

class TestError(Exception):
    pass


UNARY_TESTS = set("-e -f -d -r -w -x -s -L -h -b -c -p -S -z -n -t -g -u -k -O -G".split())
BINARY_TESTS = set("= == != < > -eq -ne -lt -le -gt -ge -nt -ot -ef".split())


def builtin_test(shell: ShellProcess, argv: list[str]) -> int:
    """busybox coreutils/test.c: 0 true, 1 false, 2 and ``sh: message`` on a bad expression."""
    args = argv[1:]
    if argv[0] == "[":
        if not args or args[-1] != "]":
            shell._puts(2, "sh: missing ]\n")
            return 2
        args = args[:-1]
    try:
        return 0 if TestExpr(shell, args).evaluate() else 1
    except TestError as exc:
        shell._puts(2, f"sh: {exc}\n")
        return 2


class TestExpr:
    def __init__(self, shell: ShellProcess, args: list[str]):
        self.shell, self.args, self.i = shell, args, 0

    def evaluate(self) -> bool:
        if not self.args:
            return False
        if len(self.args) == 1:
            return self.args[0] != ""
        value = self.or_()
        if self.i < len(self.args):
            raise TestError(f"{self.args[self.i]}: unknown operand")
        return value

    def peek(self):
        return self.args[self.i] if self.i < len(self.args) else None

    def or_(self) -> bool:
        value = self.and_()
        while self.peek() == "-o":
            self.i += 1
            right = self.and_()
            value = value or right
        return value

    def and_(self) -> bool:
        value = self.not_()
        while self.peek() == "-a":
            self.i += 1
            right = self.not_()
            value = value and right
        return value

    def not_(self) -> bool:
        if self.peek() == "!" and self.i + 1 < len(self.args):
            self.i += 1
            return not self.not_()
        return self.primary()

    def primary(self) -> bool:
        token = self.peek()
        if token is None:
            raise TestError("argument expected")
        if token == "(" and self.i + 1 < len(self.args):
            self.i += 1
            value = self.or_()
            if self.peek() != ")":
                raise TestError("closing paren expected")
            self.i += 1
            return value
        if self.i + 2 < len(self.args) and self.args[self.i + 1] in BINARY_TESTS:
            left, op, right = self.args[self.i:self.i + 3]
            self.i += 3
            return self.binary(left, op, right)
        if token in UNARY_TESTS and self.i + 1 < len(self.args):
            self.i += 2
            return self.unary(token, self.args[self.i - 1])
        self.i += 1
        return token != ""

    def binary(self, left: str, op: str, right: str) -> bool:
        if op in ("=", "=="):
            return left == right
        if op == "!=":
            return left != right
        if op == "<":
            return left < right
        if op == ">":
            return left > right
        if op in ("-nt", "-ot", "-ef"):
            return False
        a, b = self.integer(left), self.integer(right)
        return {"-eq": a == b, "-ne": a != b, "-lt": a < b, "-le": a <= b,
                "-gt": a > b, "-ge": a >= b}[op]

    @staticmethod
    def integer(text: str) -> int:
        if not re.fullmatch(r"\s*[-+]?\d+\s*", text):
            raise TestError(f"{text}: bad number")
        return int(text)

    def unary(self, op: str, arg: str) -> bool:
        if op == "-z":
            return arg == ""
        if op == "-n":
            return arg != ""
        if op == "-t":
            handle = self.shell.fds.get(int(arg)) if arg.isdigit() else None
            return bool(handle and handle.console)
        stat = self.shell._stat(self.shell._abspath(arg))
        if isinstance(stat, int):
            return False
        if op == "-d":
            return stat.is_dir
        if op == "-f":
            return stat.type == "-"
        if op == "-s":
            return stat.size > 0
        if op == "-x":  # root may execute what has any x bit, and enter any directory
            return stat.is_dir or bool(stat.mode & 0o111)
        if op in ("-e", "-r", "-w"):
            return True
        if op in ("-b", "-c", "-p", "-S"):
            return stat.type == {"-b": "b", "-c": "c", "-p": "p", "-S": "s"}[op]
        if op in ("-g", "-u", "-k"):
            return bool(stat.mode & {"-g": 0o2000, "-u": 0o4000, "-k": 0o1000}[op])
        return False  # -L -h: no symbolic links here
