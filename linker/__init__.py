"""kmodsim's linker half: ELF reading, module metadata, layout, symbols, relocations.

Nothing here executes module code; ``emulator`` builds on this package, never the reverse.
"""
