"""Cancel requests from other processes (`benchd cancel`, the dashboard), recorded in the store by
daemon.store.controls: polled and handed to whoever runs the run."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from daemon.store import Store

_log = structlog.get_logger("daemon")
CANCEL_POLL_S = 0.5
CANCELLED_BY = {"cli": "`benchd cancel`", "dashboard": "the dashboard", "signal": "Ctrl-C or SIGTERM on `benchd run`"}


class CancelWatch:
    """Looks for cancel requests whenever the store changes (`poke`, from daemon.store.changes), at most every
    CANCEL_POLL_S, and hands each to `cancel` with the reason; an idle daemon does not look at all. Every
    process that runs runs (`benchd watch`, `benchd run`) watches."""

    def __init__(self, store: Store, cancel: Callable[[str, str], None]) -> None:
        self.store, self.cancel = store, cancel
        self._stop, self._poked = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._poked.set()  # a request made while nobody watched is found at once
        self._thread = threading.Thread(target=self._loop, name="benchd-cancels", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._poked.set()

    def stop(self) -> None:
        self._stop.set()
        self._poked.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            self._poked.wait()
            if self._stop.is_set():
                return
            self._poked.clear()
            for run_id, source in cancel_requests(self.store):
                try:
                    self.cancel(run_id, f"cancelled by the user ({CANCELLED_BY.get(source, source)})")
                except Exception:
                    _log.exception("cancel failed", run=run_id)
            if self._stop.wait(CANCEL_POLL_S):  # a burst of changes is looked at twice a second, not per commit
                return


def cancel_requests(store: Store) -> list[tuple[str, str]]:
    """(run id, who asked) of every cancel request not handled yet."""
    return store.cancel_requests()


def cancel_reason(store: Store, run_id: str) -> str | None:
    """Why someone asked to cancel this run before it started, or None."""
    for pending, source in cancel_requests(store):
        if pending == run_id:
            return f"cancelled by the user ({CANCELLED_BY.get(source, source)}) before it started"
    return None


def cancel_handled_if_asked(store: Store, run_id: str) -> None:
    store.cancel_handled(run_id)  # a no-op unless a request is pending
