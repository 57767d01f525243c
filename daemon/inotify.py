"""One folder's entries watched through an inotify descriptor (inotify_simple), on one thread: each batch of
events goes to a callback as (mask, name). The inbox watcher and the store watch use it on Linux; watchdog's
observer (three threads an event goes through, ~1 ms on a loaded two-core machine, measured) remains where
there is no inotify. A shared leaf: imports nothing of benchd's.
"""

from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable
from pathlib import Path

MODIFY, CLOSE_WRITE, MOVED_TO, CREATE, Q_OVERFLOW = 0x2, 0x8, 0x80, 0x100, 0x4000

_log = logging.getLogger("benchd.inotify")
Event = tuple[int, str]  # (mask, the entry's name; "" for the folder itself or a queue overflow)


class FolderWatch:
    """`start()` is False where there is no inotify (the caller falls back to something else)."""

    def __init__(self, folder: Path, mask: int, on_events: Callable[[list[Event]], None], name: str) -> None:
        self.folder, self.mask, self.on_events, self.name = folder, mask, on_events, name
        self._fds: tuple[int, int, int] | None = None  # inotify, and the stop pipe's read and write ends
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        fd = _inotify(self.folder, self.mask)
        if fd is None:
            return False
        stop_r, stop_w = os.pipe()
        self._fds = (fd, stop_r, stop_w)
        self._thread = threading.Thread(target=self._loop, args=(fd, stop_r), name=self.name, daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        if self._fds is None:
            return
        fd, stop_r, stop_w = self._fds
        os.write(stop_w, b"x")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        for each in self._fds:
            os.close(each)
        self._fds, self._thread = None, None

    def wait(self, seconds: float) -> bool:
        """For the callback: let more events come in for `seconds`; False when the watch is being stopped."""
        if self._fds is None:
            return False
        ready, _, _ = select.select([self._fds[1]], [], [], seconds)
        return not ready

    def drain(self) -> list[Event]:
        """For the callback: the events that arrived since its batch."""
        return _drain(self._fds[0]) if self._fds is not None else []

    def _loop(self, fd: int, stop: int) -> None:
        while True:
            ready, _, _ = select.select([fd, stop], [], [])
            if stop in ready:
                return
            if events := _drain(fd):
                try:
                    self.on_events(events)
                except Exception:  # one bad batch must never end the watch
                    _log.exception("%s: handling events failed", self.name)


def _inotify(folder: Path, mask: int) -> int | None:
    """A non-blocking inotify descriptor on `folder` (closed with os.close), or None off Linux (or when the watch
    cannot be added)."""
    try:
        from inotify_simple import INotify

        watch = INotify(nonblocking=True, closefd=False)  # the descriptor is ours to close, with the stop pipe
    except (ImportError, OSError):
        return None
    fd = watch.fileno()
    try:
        watch.add_watch(folder, mask)
    except OSError:
        os.close(fd)
        return None
    return fd


def _drain(fd: int) -> list[Event]:
    from inotify_simple import parse_events

    events: list[Event] = []
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return events
        if not data:
            return events
        events.extend((e.mask, e.name) for e in parse_events(data))
