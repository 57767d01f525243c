"""watchdog on the inbox: complete files go to a callback; the watcher never runs a job itself.

A file is complete when it is renamed into place (`x.tflite.part` -> `x.tflite`, or moved in from
another folder), or when its writer has closed it (inotify close-after-write) and it then stays the same
for `stable_s`: a writer that appends in pieces, closing in between, is waited for, and one that pauses
with the file open is never taken mid-write. Where the observer gives no close events (other
platforms), a file is complete once its size and mtime have stayed the same for `stable_s`.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from daemon import inotify
from daemon.intake.filters import is_candidate

_log = structlog.get_logger("intake")


class StabilityChecker:
    """Calls back once a file's (size, mtime) stopped changing; sleeps while nothing is pending."""

    def __init__(self, stable_s: float, on_stable: Callable[[Path], None]) -> None:
        self.stable_s = stable_s
        self.on_stable = on_stable
        self._due: list[tuple[float, str]] = []
        self._seen: dict[str, tuple[int, int] | None] = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="benchd-stability", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def watch(self, path: Path) -> None:
        with self._cond:
            key = str(path)
            if key not in self._seen:
                self._seen[key] = _signature(path)
                heapq.heappush(self._due, (time.monotonic() + self.stable_s, key))
                self._cond.notify()

    def forget(self, path: Path) -> None:
        with self._cond:
            self._seen.pop(str(path), None)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._due or self._due[0][0] > time.monotonic()):
                    self._cond.wait(None if not self._due else self._due[0][0] - time.monotonic())
                if self._stopping:
                    return
                _, key = heapq.heappop(self._due)
                if key not in self._seen:
                    continue
                before, now = self._seen[key], _signature(Path(key))
                if now is None:
                    self._seen.pop(key)
                    continue
                if now != before:
                    self._seen[key] = now
                    heapq.heappush(self._due, (time.monotonic() + self.stable_s, key))
                    continue
                self._seen.pop(key)
            self.on_stable(Path(key))


def _observer() -> Any:
    """On Linux, inotify with full move events: a file moved in from another folder (`mv ~/x.tflite inbox/`)
    is then a move, complete at once, rather than a create that waits out the stability window."""
    try:
        from watchdog.observers.inotify import InotifyObserver

        return InotifyObserver(generate_full_events=True)
    except (ImportError, OSError):
        return Observer()


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.lstat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: InboxWatcher) -> None:
        self.w = watcher

    def on_closed(self, event: FileSystemEvent) -> None:
        self.w.closed(Path(str(event.src_path)))

    def on_moved(self, event: FileSystemEvent) -> None:
        if event.dest_path:  # empty for a move out of the inbox
            self.w.complete(Path(str(event.dest_path)))

    def on_created(self, event: FileSystemEvent) -> None:
        self.w.maybe(Path(str(event.src_path)))

    def on_modified(self, event: FileSystemEvent) -> None:
        self.w.maybe(Path(str(event.src_path)))


class InboxWatcher:
    def __init__(self, inbox: Path, on_drop: Callable[[Path], None], patterns: Sequence[str] = ("*.tflite",),
                 stable_s: float = 1.0) -> None:
        self.inbox = inbox
        self.on_drop = on_drop
        self.patterns = patterns
        self.stability = StabilityChecker(stable_s, self._stable)
        # On Linux one thread reads the inbox's inotify events straight into intake's queue (watchdog's
        # observer passes each through three threads first: ~1 ms of a drop's way to its first step).
        self._watch = inotify.FolderWatch(inbox, inotify.MOVED_TO | inotify.CLOSE_WRITE | inotify.CREATE,
                                          self._events, "benchd-inbox")
        self._observer: Any = None  # watchdog's, where there is no inotify
        self._close_events = True  # else: size and mtime only

    def start(self) -> None:
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.stability.start()
        if self._watch.start():
            return
        self._observer = _observer()
        self._close_events = type(self._observer).__name__ == "InotifyObserver"
        self._observer.schedule(_Handler(self), str(self.inbox), recursive=False)
        self._observer.start()

    def stop(self) -> None:
        self._watch.stop()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        self.stability.stop()

    def _events(self, events: list[inotify.Event]) -> None:
        for mask, name in events:
            if mask & inotify.Q_OVERFLOW:  # events were lost: whatever is there is looked at again
                for path in self.scan():
                    self.stability.watch(path)
            elif name:
                path = self.inbox / name
                if mask & inotify.MOVED_TO:  # renamed into place, or moved in from another folder
                    self.complete(path)
                elif mask & inotify.CLOSE_WRITE:
                    self.closed(path)
                elif mask & inotify.CREATE:
                    self.maybe(path)

    def scan(self) -> list[Path]:
        """Files already waiting at start-up, oldest first."""
        found = [p for p in self.inbox.iterdir() if self._mine(p) and (p.is_file() or p.is_symlink())]
        return sorted(found, key=lambda p: (p.lstat().st_mtime_ns, p.name))

    def _mine(self, path: Path) -> bool:
        return path.parent == self.inbox and is_candidate(path, self.patterns)

    def complete(self, path: Path) -> None:
        if self._mine(path):
            self.stability.forget(path)
            self._emit(path)

    def closed(self, path: Path) -> None:
        """Closed after writing: taken once it stays the same for stable_s (the writer may append again)."""
        if self._mine(path):
            self.stability.watch(path)

    def maybe(self, path: Path) -> None:
        # A symlink gets no close event: it is complete as soon as it exists.
        if self._mine(path):
            if path.is_symlink():
                self.complete(path)
            elif not self._close_events:  # with close events, a file being written waits for its close
                self.stability.watch(path)

    def retry(self, path: Path) -> None:
        """Intake found the file changing under it: look again once it has stayed the same for stable_s."""
        self.stability.watch(path)

    def _stable(self, path: Path) -> None:
        if self._mine(path):
            self._emit(path)

    def _emit(self, path: Path) -> None:
        try:
            self.on_drop(path)
        except Exception:  # a drop must never kill the observer thread
            _log.exception("intake failed", path=str(path))
