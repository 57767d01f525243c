"""The virtual core's one error: building or running a firmware for QEMU `virt` failed, and how to fix it."""

from daemon.errors import BenchdError


class VirtCoreError(BenchdError):
    """The message names what failed (archive member, compiler line, time bound) and what to do."""
