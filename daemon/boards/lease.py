"""One exclusive lease per board: two steps never work on one board at once (a job's hold from its flash to
its monitor, across steps, is its session: session.py).

The lock is an flock on `$BENCHD_STATE/locks/<board>.lock`: the kernel drops it the moment its holder
dies (SIGKILL, OOM, power cut of the daemon), so a dead holder's lease is recovered without any sweep.
Beside the lock, the file records holder pid, run and expiry. A holder renews the expiry while it
works; one that is alive but stopped renewing past its expiry is reported as hung, with its pid.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from daemon.errors import BoardError

POLL_S = 0.1
_log = structlog.get_logger("benchd.boards.lease")


class LeaseBusy(BoardError):
    """Another live process holds the board."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def lock_path(state: Path, board_id: str) -> Path:
    return state / "locks" / (re.sub(r"[^A-Za-z0-9_.-]", "_", board_id) + ".lock")


def read_holder(state: Path, board_id: str) -> dict[str, Any] | None:
    """Who holds (or last held) the board, as written in its lock file; None if never leased."""
    try:
        return json.loads(lock_path(state, board_id).read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None


@dataclass
class BoardLease:
    state: Path
    board_id: str
    lease_s: float = 600.0
    wait_s: float = 0.0  # how long to wait for a busy board before giving up
    purpose: str = "flash"
    run_id: str = ""
    recovered_from: int | None = None  # pid of a dead holder whose lease was taken over
    _fd: int | None = None

    def acquire(self) -> BoardLease:
        path = lock_path(self.state, self.board_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise self._busy() from None
                time.sleep(POLL_S)
        self._fd = fd
        previous = read_holder(self.state, self.board_id)
        if previous and previous.get("pid") and not previous.get("released") and not _alive(int(previous["pid"])):
            self.recovered_from = int(previous["pid"])
            _log.warning("lease.recovered", board=self.board_id, dead_pid=self.recovered_from,
                         purpose=previous.get("purpose"))
        self.renew()
        return self

    def _busy(self) -> LeaseBusy:
        holder = read_holder(self.state, self.board_id) or {}
        pid, expires = holder.get("pid"), float(holder.get("expires", 0))
        who = f"pid {pid} ({holder.get('purpose', '?')}, run {holder.get('run_id') or '?'})"
        if expires and expires < time.time():
            return LeaseBusy(f"board {self.board_id} is held by {who}, which stopped renewing its lease "
                             f"{time.time() - expires:.0f} s ago and looks hung: stop that process (kill {pid})")
        return LeaseBusy(f"board {self.board_id} is in use by {who}; waited {self.wait_s:.0f} s. "
                         "Two runs never share a board: wait for the other run or raise lock-timeout")

    def renew(self) -> None:
        """Push the expiry forward; call it while working on the board."""
        if self._fd is None:
            return
        record = {"pid": os.getpid(), "board": self.board_id, "purpose": self.purpose, "run_id": self.run_id,
                  "since": time.time(), "expires": time.time() + self.lease_s}
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, json.dumps(record).encode(), 0)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            record = read_holder(self.state, self.board_id) or {}
            record["released"] = time.time()
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, json.dumps(record).encode(), 0)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> BoardLease:
        return self if self._fd is not None else self.acquire()  # a lease handed over already held

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an flock on `path` (created) for the block, waiting for whoever holds it; the kernel drops it when
    its holder dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock
