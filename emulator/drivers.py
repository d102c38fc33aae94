"""The state of the driver-facing subsystems a module registers with: character device
numbers (``k.chrdev``), misc minors (``k.misc``), the driver model's classes and devices
(``k.devices``), the modules' /proc entries (``k.procfs``) and their kobjects (``k.sysfs``).

Each starts as realkernel's guest has it (its /proc/devices, misc devices and classes are
recorded in ``emulator/data/``), so numbers are handed out as the reference kernel hands
them out. The kernel functions that change them are in :mod:`emulator.kapi.devices`.
"""

from dataclasses import dataclass, field

from .guestdata import guest_char_devices, guest_misc

MINORBITS = 20


def char_nodes(k):
    """name -> (major, minor) of the character nodes devtmpfs shows for the modules'
    devices (device_create with a devt, misc_register)."""
    nodes = {}
    for dev in k.devices.devices.values():
        if dev["devt"]:
            nodes[dev["name"]] = (dev["devt"] >> MINORBITS, dev["devt"] & ((1 << MINORBITS) - 1))
    return nodes


class CharDevices:
    """``chrdevs[]``: major -> [(baseminor, count, name)], the guest's, then the modules'."""

    def __init__(self):
        self.table: dict[int, list[tuple[int, int, str]]] = {}
        # cdev_map: the cdevs added (cdev_add, register_chrdev): {dev, count, cdev}
        self.cdevs: list[dict] = []
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
    """The modules' /proc entries: address -> {addr, name, mode, parent (an entry's
    address, 0 for /proc), is_dir, proc_ops, data, show (proc_create_single_data's)}."""

    entries: dict = field(default_factory=dict)


@dataclass
class Sysfs:
    """The kobjects modules made and the attributes they added: ``kobjects`` address ->
    {name, parent (a kobject address, or a well-known kobject's), attrs: {name: attr},
    groups: {group name: {name: attr}}}; ``wellknown`` address -> its /sys path
    (kernel_kobj is /sys/kernel, ...). An attr is {addr, mode, kind ("kobj" or "dev")}."""

    kobjects: dict = field(default_factory=dict)
    wellknown: dict = field(default_factory=dict)
