"""printk's log levels, spelled as the kernel spells them (the bottom layer).

``KERN_*`` are the prefixes a format string starts with (include/linux/kern_levels.h);
``LOGLEVEL_*`` the numbers a record carries (include/linux/kern_levels.h, printk.h).
"""

KERN_SOH = b"\x01"                  # ASCII Start Of Header
KERN_EMERG = KERN_SOH + b"0"
KERN_ALERT = KERN_SOH + b"1"
KERN_CRIT = KERN_SOH + b"2"
KERN_ERR = KERN_SOH + b"3"
KERN_WARNING = KERN_SOH + b"4"
KERN_NOTICE = KERN_SOH + b"5"
KERN_INFO = KERN_SOH + b"6"
KERN_DEBUG = KERN_SOH + b"7"
KERN_DEFAULT = b""
KERN_CONT = KERN_SOH + b"c"

LOGLEVEL_SCHED = -2                 # deferred messages from sched code
LOGLEVEL_DEFAULT = -1               # the default (or last) log level
LOGLEVEL_EMERG = 0
LOGLEVEL_ALERT = 1
LOGLEVEL_CRIT = 2
LOGLEVEL_ERR = 3
LOGLEVEL_WARNING = 4
LOGLEVEL_NOTICE = 5
LOGLEVEL_INFO = 6
LOGLEVEL_DEBUG = 7

MESSAGE_LOGLEVEL_DEFAULT = 4        # CONFIG_MESSAGE_LOGLEVEL_DEFAULT on Debian
CONSOLE_LOGLEVEL_DEFAULT = 7        # CONFIG_CONSOLE_LOGLEVEL_DEFAULT on Debian

# what dmesg -x and kmodsim link's log call each level
LOGLEVEL_NAMES = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")
