"""Exceptions every layer of the simulated kernel may raise or catch (the bottom layer)."""


class KernelPanic(Exception):
    """The simulated kernel panicked: it stays dead, as the real one does."""
