"""A job's step logs, streamed into the shared queue as they grow (`benchd logs -f` and the dashboard follow a
job on another bench). Only regular files under the job's own log folder are read, never through a link."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from daemon.store.queue import Claim, Queue

CHUNK_BYTES = 64 * 1024  # one row at most this big; a burst is sent as several


class LogShipper:
    def __init__(self, queue: Queue, claim: Claim, folder: Path) -> None:
        self.queue, self.claim, self.folder = queue, claim, folder
        self._offsets: dict[Path, int] = {}
        self._seq = 0
        self._lock = threading.Lock()  # the worker's log loop and the job's last call may meet

    def ship(self) -> None:
        """Send what the logs gained since the last call (QueueUnavailable: sent at the next one)."""
        with self._lock:
            if not self.folder.is_dir():
                return
            for path in sorted(self.folder.rglob("*.log")):
                if not path.is_symlink() and path.is_file():
                    self._ship_file(path)

    def _ship_file(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            offset = self._offsets.get(path, 0)
            while data := os.pread(fd, CHUNK_BYTES, offset):
                if len(data) == CHUNK_BYTES and b"\n" in data:  # whole lines: no character cut in two
                    data = data[:data.rindex(b"\n") + 1]
                rel = str(path.relative_to(self.folder))
                if not self.queue.append_log(self.claim, self._seq, rel, data.decode("utf-8", errors="replace")):
                    return  # the lease is gone: nothing more of this attempt is written
                self._seq += 1
                offset += len(data)
                self._offsets[path] = offset
        finally:
            os.close(fd)
