"""One exception root for everything the loader can refuse.

Every error carries the errno the kernel would return and the kernel's own message
(one line, without the trailing newline), so the CLI and the simulated dmesg can print
exactly what Linux prints.
"""

from __future__ import annotations

import errno as _errno


class KmodError(Exception):
    """A refusal the kernel (or kmod) would report: ``message`` plus ``errno``."""

    errno: int = _errno.EINVAL

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if errno is not None:
            self.errno = errno

    @property
    def rc(self) -> int:
        """The syscall-style return value, ``-errno``."""
        return -self.errno


class ElfError(KmodError):
    """The file is not an ELF object the reader or the kernel accepts (ENOEXEC)."""

    errno = _errno.ENOEXEC


class SignatureError(KmodError):
    """The appended module signature is malformed (EBADMSG unless said otherwise)."""

    errno = _errno.EBADMSG


class ProfileError(KmodError):
    """A kernel profile is missing or malformed."""

    errno = _errno.ENOENT
