"""The recorded facts of realkernel's guest (``emulator/data/``): its tasks, character and
misc devices and classes, as they are before a scenario starts. Read once per process."""

import functools
from importlib import resources


@functools.cache
def guest_lines(name):
    """The lines of ``emulator/data/<name>``, comments and blank lines left out."""
    text = resources.files("emulator").joinpath(f"data/{name}").read_text()
    return tuple(line for line in text.splitlines() if line and not line.startswith("#"))


def numbered(name):
    """"number name" lines of a guest data file as (number, name) pairs."""
    return [(int(number), rest) for number, rest in
            (line.split(" ", 1) for line in guest_lines(name))]


def guest_tasks():
    """(pid, comm) of the tasks the guest runs before its scenario starts."""
    return numbered("guest_tasks.txt")


def guest_char_devices():
    """(major, name) of the guest's character devices (its /proc/devices)."""
    return numbered("guest_devices.txt")


def guest_misc():
    """(minor, name) of the guest's misc devices."""
    return numbered("guest_misc.txt")


def guest_classes():
    """The names under the guest's /sys/class before any module adds one."""
    return guest_lines("guest_classes.txt")
