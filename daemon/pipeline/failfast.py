"""`strategy.fail-fast` (as in Actions, on by default): the first instance of a matrix job that fails stops the
job's other instances. Those still queued never start; those running have their step stopped through their
session's cancel(), as a user's cancel stops a run, but only these sessions. They end `cancelled`, the reason
naming the instance that failed."""

from __future__ import annotations

import threading

from daemon.executors.base import JobSession

FAILED = ("failure", "error")


class MatrixGroup:
    """The instances of one job while they run."""

    def __init__(self, fail_fast: bool) -> None:
        self.fail_fast = fail_fast
        self.reason: str | None = None  # set once, when an instance failed with fail-fast on
        self._sessions: set[JobSession] = set()
        self._lock = threading.Lock()

    def opened(self, session: JobSession) -> None:
        with self._lock:
            self._sessions.add(session)

    def closed(self, session: JobSession) -> None:
        with self._lock:
            self._sessions.discard(session)

    def finished(self, key: str, status: str) -> None:
        """An instance ended; a failure stops the others (their sessions get their grace period at once)."""
        if not self.fail_fast or status not in FAILED:
            return
        with self._lock:
            if self.reason is not None:
                return  # a second failure: the others are already being stopped
            self.reason = f"cancelled: matrix instance {key} failed (fail-fast)"
            sessions = list(self._sessions)
        for session in sessions:
            threading.Thread(target=session.cancel, name="benchd-fail-fast", daemon=True).start()

    def counted(self, statuses: list[str]) -> list[str]:
        """The statuses the job's result is made of: an instance fail-fast cancelled is not what the job
        came to (the failure that stopped it is), as a matrix in Actions fails rather than ends cancelled."""
        if self.reason is None:
            return statuses
        return [s for s in statuses if s != "cancelled"]
