"""Opening a host file the way kmodsim reads one, on every host.

``os.O_NONBLOCK`` (a FIFO given as a module must not block the open), ``O_CLOEXEC`` and
``O_NOFOLLOW`` exist on Linux and macOS, not on Windows, where a file must be opened with
``O_BINARY`` instead: the flags below are what the host has of each.
"""

import os

_HAVE = {name: getattr(os, name, 0) for name in ("O_NONBLOCK", "O_CLOEXEC", "O_NOFOLLOW", "O_BINARY")}

# read a file given by name (a module, a scenario): never blocking on a FIFO
READ = os.O_RDONLY | _HAVE["O_NONBLOCK"] | _HAVE["O_CLOEXEC"] | _HAVE["O_BINARY"]
# read a file named by guest data (a source file for --explain): a link is not followed
READ_NOFOLLOW = READ | _HAVE["O_NOFOLLOW"]
