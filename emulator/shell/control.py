"""Control flow inside the shell: the exceptions that unwind a builtin, an applet or the
script to where ash would continue."""

from __future__ import annotations


class ExitShell(Exception):
    def __init__(self, status: int):
        self.status = status


class ReturnFromFunction(Exception):
    def __init__(self, status: int):
        self.status = status


class LoopControl(Exception):
    def __init__(self, kind: str, levels: int):
        self.kind = kind  # "break" or "continue"
        self.levels = levels


class FatalError(Exception):
    """An error that ends a non-interactive shell with status 2 (expansion errors)."""


class AppletExit(Exception):
    """xfunc_die(): the applet ends with ``status`` (its message is already out)."""

    def __init__(self, status: int):
        self.status = status


class NotSimulated(Exception):
    """The scenario asked for something kmodsim does not simulate: said, never faked."""
