"""``.modinfo``: the module's ``key=value`` strings, every one, in file order."""


def split_strings(data):
    """The NUL-separated strings of a section, as kmod reads them.

    Leading NUL padding is skipped, runs of NULs separate strings (``MODULE_INFO`` entries
    are aligned, so padding sits between them), and a last string without its NUL still
    counts. The kernel's ``get_next_modinfo`` walks the section the same way.
    """
    data = bytes(data)
    return [s.decode("latin-1") for s in data.split(b"\0") if s]


def parse_entry(string):
    """``("key", "value")``; a string without ``=`` is a key with an empty value (kmod)."""
    key, sep, value = string.partition("=")
    return key, value


def modinfo_entries(data):
    return [parse_entry(s) for s in split_strings(data)]


def get_modinfo(entries, tag):
    """The first value of ``tag``, as the kernel's ``get_modinfo`` finds it, or ``None``."""
    for key, value in entries:
        if key == tag:
            return value
    return None
