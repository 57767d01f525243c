"""Wake-ups when the store changes, from any process: a re-run queued by the dashboard, a cancel asked by
`benchd cancel`. Every commit writes the database's WAL (or the file itself), so a watch on those two files
tells the daemon to look, and an idle daemon sleeps without polling (0 wake-ups a second).

A burst of commits is one wake-up, SETTLE_S after its first: a drop commits four times on its way to its
first step (queued, claimed, job and step started), and reacting to each at once put the daemon's own echo
(another thread, a claim waiting on the write lock, a cancel query) in the middle of that path (~2 ms a
drop, measured). On Linux the watch is daemon.inotify's one thread; elsewhere, watchdog's observer (and no
settling).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemon import inotify

SETTLE_S = 0.05  # what other processes ask (a cancel, a re-run) is seen this much later: nobody notices


class StoreChanges:
    def __init__(self, db_path: Path, on_change: Callable[[], None], settle_s: float = SETTLE_S) -> None:
        self.names = {db_path.name, f"{db_path.name}-wal"}
        self.folder = db_path.parent
        self.on_change = on_change
        self.settle_s = settle_s
        self._watch: inotify.FolderWatch | None = None
        self._observer: Any = None  # a watchdog Observer where there is no inotify

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        mask = inotify.MODIFY | inotify.CLOSE_WRITE | inotify.CREATE | inotify.MOVED_TO
        self._watch = inotify.FolderWatch(self.folder, mask, self._events, "benchd-store-changes")
        if not self._watch.start():
            self._watch = None
            self._observer = _observe(self.folder, self.names, self.on_change)

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        if self._watch is not None:
            self._watch.stop()
            self._watch = None

    def _events(self, events: list[inotify.Event]) -> None:
        watch = self._watch
        if watch is None or not any(mask & inotify.Q_OVERFLOW or name in self.names for mask, name in events):
            return
        if watch.wait(self.settle_s):  # the rest of the burst comes in meanwhile
            watch.drain()
            self.on_change()


def _observe(folder: Path, names: set[str], on_change: Callable[[], None]) -> Any:
    """watchdog's observer on `folder`, calling back on each change of `names` (platforms without inotify)."""
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.event_type in ("modified", "created", "closed") and Path(str(event.src_path)).name in names:
                on_change()

    observer = Observer()
    observer.schedule(Handler(), str(folder), recursive=False)
    observer.daemon = True
    observer.start()
    return observer
