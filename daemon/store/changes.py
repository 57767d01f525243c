"""Wake-ups when the store changes, from any process: a re-run queued by the dashboard, a cancel asked by
`benchd cancel`. Every commit writes the database's WAL (or the file itself), so a watch on those two files
tells the daemon to look, and an idle daemon sleeps without polling (0 wake-ups a second)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer


class StoreChanges(FileSystemEventHandler):
    def __init__(self, db_path: Path, on_change: Callable[[], None]) -> None:
        self.names = {db_path.name, f"{db_path.name}-wal"}
        self.folder = db_path.parent
        self.on_change = on_change
        self._observer: Any = None  # a watchdog Observer while started

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        observer = Observer()
        observer.schedule(self, str(self.folder), recursive=False)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("modified", "created", "closed") and Path(str(event.src_path)).name in self.names:
            self.on_change()
