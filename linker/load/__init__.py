"""Linux 6.1's ``load_module`` up to relocation: checks, layout, symbols, relocations."""

from .linkkernel import LinkKernel
from .pipeline import LinkedModule, link_module, register_module

__all__ = ["LinkKernel", "LinkedModule", "link_module", "register_module"]
