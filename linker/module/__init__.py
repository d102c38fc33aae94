"""Module metadata: .modinfo, __versions, __ksymtab*, __param, the descriptor, the signature."""

from .metadata import ModuleInfo

__all__ = ["ModuleInfo"]
