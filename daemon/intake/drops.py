"""The queue between the watcher and intake: the watcher thread only enqueues paths; one intake
thread hashes, checks and decides, so a slow or hostile file never stalls inotify's event loop."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path

import structlog

_log = structlog.get_logger("intake")
_STOP = Path("\0stop")  # never a real path: NUL cannot be in a file name


class DropQueue:
    def __init__(self, handle: Callable[[Path], None]) -> None:
        self.handle = handle
        self._queue: queue.Queue[Path] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="benchd-intake", daemon=True)

    def start(self) -> DropQueue:
        self._thread.start()
        return self

    def put(self, path: Path) -> None:
        self._queue.put(path)

    def busy(self) -> bool:
        """True while a path waits or is being decided."""
        return self._queue.unfinished_tasks > 0

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def _loop(self) -> None:
        while (path := self._queue.get()) != _STOP:
            try:
                self.handle(path)
            except Exception:  # one bad drop must never end intake
                _log.exception("intake failed", path=str(path))
            finally:
                self._queue.task_done()
