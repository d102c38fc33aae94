"""The kernel API modules call, in Python, grouped like the kernel's own files."""
