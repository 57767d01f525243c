"""One daemon per state folder: an exclusive lock (flock) on state/watch.lock, held while it runs.

Two `benchd watch` on one state folder would claim from one queue and move each other's drops; the
second one is refused, naming the pid that holds the lock. The kernel drops the lock when its holder
dies (kill -9 included), so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from daemon.errors import BenchdError


class StateLock:
    def __init__(self, state: Path) -> None:
        self.path = state / "watch.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_CLOEXEC: step processes must not inherit (and so keep holding) the lock.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise BenchdError(f"the state folder {self.path.parent} is already watched by pid {holder}: "
                              "stop that `benchd watch` first, or give this one another --state") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None
