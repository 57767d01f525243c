"""Wake-ups when the store changes, from any process: a re-run queued by the dashboard, a cancel asked by
`benchd cancel`. Every commit writes the database's WAL (or the file itself), so a watch on those two files
tells the daemon to look, and an idle daemon sleeps without polling (0 wake-ups a second).

A burst of commits is one wake-up, SETTLE_S after its first: a drop commits four times on its way to its
first step (queued, claimed, job and step started), and reacting to each at once put the daemon's own echo
(another thread, a claim waiting on the write lock, a cancel query) in the middle of that path (~2 ms a
drop, measured). On Linux the watch is one thread on a bare inotify descriptor; elsewhere, watchdog's
observer (and no settling).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

SETTLE_S = 0.05  # what other processes ask (a cancel, a re-run) is seen this much later: nobody notices
_IN_MODIFY, _IN_CLOSE_WRITE, _IN_MOVED_TO, _IN_CREATE, _IN_Q_OVERFLOW = 0x2, 0x8, 0x80, 0x100, 0x4000
_IN_NONBLOCK, _IN_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then `len` bytes of NUL-padded name


class StoreChanges:
    def __init__(self, db_path: Path, on_change: Callable[[], None], settle_s: float = SETTLE_S) -> None:
        self.names = {db_path.name, f"{db_path.name}-wal"}
        self.folder = db_path.parent
        self.on_change = on_change
        self.settle_s = settle_s
        self._thread: threading.Thread | None = None
        self._fds: tuple[int, int, int] | None = None  # inotify, and the stop pipe's read and write ends
        self._observer: Any = None  # a watchdog Observer where there is no inotify

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = _inotify(self.folder)
        if fd is None:
            self._observer = _observe(self.folder, self.names, self.on_change)
            return
        stop_r, stop_w = os.pipe()
        self._fds = (fd, stop_r, stop_w)
        self._thread = threading.Thread(target=self._loop, args=(fd, stop_r), name="benchd-store-changes",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        if self._fds is not None:
            fd, stop_r, stop_w = self._fds
            os.write(stop_w, b"x")
            if self._thread is not None:
                self._thread.join(timeout=5)
            for each in self._fds:
                os.close(each)
            self._fds, self._thread = None, None

    def _loop(self, fd: int, stop: int) -> None:
        while True:
            ready, _, _ = select.select([fd, stop], [], [])
            if stop in ready:
                return
            if not self._mine(_drain(fd)):
                continue
            ready, _, _ = select.select([stop], [], [], self.settle_s)  # the rest of the burst comes in
            if ready:
                return
            _drain(fd)
            self.on_change()

    def _mine(self, events: list[tuple[int, str]]) -> bool:
        return any(mask & _IN_Q_OVERFLOW or name in self.names for mask, name in events)


def _inotify(folder: Path) -> int | None:
    """A non-blocking inotify descriptor on `folder` (its entries' writes, closes, creations), or None off
    Linux."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        init, add = libc.inotify_init1, libc.inotify_add_watch
    except (OSError, AttributeError, TypeError):
        return None
    fd = init(_IN_NONBLOCK | _IN_CLOEXEC)
    if fd < 0:
        return None
    if add(fd, os.fsencode(folder), _IN_MODIFY | _IN_CLOSE_WRITE | _IN_CREATE | _IN_MOVED_TO) < 0:
        os.close(fd)
        return None
    return int(fd)


def _drain(fd: int) -> list[tuple[int, str]]:
    """Every event waiting on the descriptor: (mask, name)."""
    events: list[tuple[int, str]] = []
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return events
        if not data:
            return events
        at = 0
        while at + _EVENT.size <= len(data):
            _, mask, _, size = _EVENT.unpack_from(data, at)
            name = data[at + _EVENT.size:at + _EVENT.size + size].rstrip(b"\0")
            events.append((mask, os.fsdecode(name)))
            at += _EVENT.size + size


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
