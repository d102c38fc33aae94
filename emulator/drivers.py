"""The state of the driver-facing subsystems a module registers with: character device
numbers (``k.chrdev``), misc minors (``k.misc``), the driver model's classes and devices
(``k.devices``) and the modules' /proc entries (``k.procfs``).

Each starts as realkernel's guest has it (its /proc/devices, misc devices and classes are
recorded in ``emulator/data/``), so numbers are handed out as the reference kernel hands
them out. The kernel functions that change them are in :mod:`emulator.kapi.devices`.
"""

from dataclasses import dataclass, field

from .guestdata import guest_char_devices, guest_misc

MINORBITS = 20


class CharDevices:
    """``chrdevs[]``: major -> [(baseminor, count, name)], the guest's, then the modules'."""

    def __init__(self):
        self.table: dict[int, list[tuple[int, int, str]]] = {}
        for major, name in guest_char_devices():
            self.table.setdefault(major, []).append((0, 1 << MINORBITS, name))


class MiscDevices:
    """minor -> name of the misc devices: the guest's (recorded), then the modules'."""

    def __init__(self):
        self.minors: dict[int, str] = dict(guest_misc())


@dataclass
class DeviceModel:
    """The driver-model objects the modules made, for /sys/class and devtmpfs's /dev:
    ``classes`` (address -> name) and ``devices`` (address, or ("misc", address) ->
    {class, devt, name})."""

    classes: dict = field(default_factory=dict)
    devices: dict = field(default_factory=dict)


@dataclass
class ProcEntries:
    """The modules' top-level /proc entries: address -> {name, mode, show, data}."""

    entries: dict = field(default_factory=dict)
