"""Files named on kmodsim's command line, read as the real tools would and no further: a
regular file for a module (never a blocking open of a FIFO, never an endless read of a
device), a bounded read, and busybox's words when that fails. Standard library and
:mod:`linker.errors` only, so that ``kmodsim readelf`` starts quickly.
"""

import errno
import os
import stat

from linker import hostio
from linker.errors import KmodError

# What kmodsim reads of a file named on its command line, at most: a module (the kernel's
# own limit, kernel_read_file's INT_MAX, is beyond any host memory cap a grader sets), and a
# scenario, Module.symvers or System.map.
MAX_MODULE_FILE = 256 << 20
MAX_TEXT_FILE = 64 << 20


def check_module_file(path, limit=MAX_MODULE_FILE):
    """Raise OSError unless ``path`` is a regular file of at most ``limit`` bytes: open's own
    error, EISDIR for a directory, EINVAL for a FIFO, a device or a socket (the kernel's
    ``kernel_read_file`` refuses them so; kmodsim never blocks opening one), EFBIG beyond
    ``limit``. Returns the size."""
    fd = os.open(path, hostio.READ)
    try:
        return _check_regular(fd, path, limit)
    finally:
        os.close(fd)


def _check_regular(fd, path, limit):
    st = os.fstat(fd)
    if stat.S_ISDIR(st.st_mode):
        raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
    if st.st_size > limit:
        raise OSError(errno.EFBIG, os.strerror(errno.EFBIG), path)
    return st.st_size


def read_input(path, limit=MAX_MODULE_FILE, regular=True):
    """A file's bytes, reading no more than ``limit`` (EFBIG beyond) and never blocking
    on the open. ``regular``: a regular file only (:func:`check_module_file`); otherwise a
    pipe or FIFO is read too, as ``sh SCRIPT`` reads one (``<(...)``; a FIFO nobody writes
    reads empty). Raises OSError."""
    fd = os.open(path, hostio.READ)
    try:
        st = os.fstat(fd)
        if regular or stat.S_ISDIR(st.st_mode):
            _check_regular(fd, path, limit)
        else:
            os.set_blocking(fd, True)
        chunks, total = [], 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - total)):
            total += len(chunk)
            if total > limit:
                raise OSError(errno.EFBIG, os.strerror(errno.EFBIG), path)
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def cant_open(path, exc):
    """busybox's words for a file it cannot read: ``can't open 'X': No such file or
    directory`` (kmodsim's own commands print it after ``kmodsim COMMAND:``)."""
    return KmodError(f"can't open '{path}': {exc.strerror or os.strerror(exc.errno)}",
                     exc.errno or errno.ENOENT)
