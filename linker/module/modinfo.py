"""``.modinfo``: the module's ``key=value`` strings, every one, in file order."""

from __future__ import annotations

from collections.abc import Iterable

from ..elf.records import BytesLike


def split_strings(data: BytesLike) -> list[str]:
    """The NUL-separated strings of a section, as kmod reads them.

    Leading NUL padding is skipped, runs of NULs separate strings (``MODULE_INFO`` entries
    are aligned, so padding sits between them), and a last string without its NUL still
    counts. The kernel's ``get_next_modinfo`` walks the section the same way.
    """
    data = bytes(data)
    return [s.decode("latin-1") for s in data.split(b"\0") if s]


def parse_entry(string: str) -> tuple[str, str]:
    """``("key", "value")``; a string without ``=`` is a key with an empty value (kmod)."""
    key, sep, value = string.partition("=")
    return key, value


def modinfo_entries(data: BytesLike) -> list[tuple[str, str]]:
    return [parse_entry(s) for s in split_strings(data)]


def get_modinfo(entries: Iterable[tuple[str, str]], tag: str) -> str | None:
    """The first value of ``tag``, as the kernel's ``get_modinfo`` finds it, or ``None``."""
    for key, value in entries:
        if key == tag:
            return value
    return None
