"""The shared queue's engine: PostgreSQL through psycopg 3. The one module that imports psycopg.

Everything above sees `Engine.transaction()` (a cursor with dict rows, committed at the end) and
`QueueUnavailable` instead of psycopg's errors, so a lost engine is one kind of failure (infra) wherever it
happens. Each transaction has a deadline on the client: a partition leaves the socket open and silent, and
neither the server's statement_timeout nor TCP keepalives end a wait for an answer that never comes (a
relay or NAT answers the keepalives), so a timer shuts the socket down and the wait fails at once.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from daemon.errors import BenchdError

CONNECT_TIMEOUT_S = 5
DEADLINE_S = 10.0  # a transaction that takes longer is abandoned (its connection dropped)


class QueueUnavailable(BenchdError):
    """PostgreSQL cannot be reached (or stopped answering) within the deadline."""


class QueueConflict(BenchdError):
    """A constraint refused the write (e.g. a board's lease overlapping another): nothing was written."""


Cursor = Any  # psycopg.Cursor[dict[str, Any]]: kept Any above this module, which alone imports psycopg


class Engine:
    def __init__(self, url: str, max_size: int = 4, name: str = "benchd") -> None:
        self.url = url
        self._kwargs: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S, "application_name": name,
                                        "autocommit": False, "row_factory": dict_row,
                                        "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
                                        "keepalives_count": 2}
        self._pool = ConnectionPool(url, min_size=1, max_size=max_size, kwargs=self._kwargs, open=False,
                                    check=ConnectionPool.check_connection, timeout=CONNECT_TIMEOUT_S * 2,
                                    name=name)
        self._opened = False
        self._lock = threading.Lock()

    def _open(self) -> None:
        with self._lock:
            if not self._opened:
                self._pool.open(wait=False)
                self._opened = True

    @contextlib.contextmanager
    def transaction(self, deadline_s: float = DEADLINE_S) -> Iterator[Cursor]:
        """One transaction; commits when the block ends, rolls back on an exception. Any engine trouble
        (down, restarted, partitioned, past the deadline) is raised as QueueUnavailable."""
        self._open()
        try:
            with self._pool.connection() as conn:
                timer = threading.Timer(deadline_s, _drop, args=(conn,))
                timer.daemon = True
                timer.start()
                try:
                    with conn.transaction(), conn.cursor() as cur:
                        yield cur
                finally:
                    timer.cancel()
        except psycopg.IntegrityError as exc:
            raise QueueConflict(f"the queue refused the write: {_first_line(exc)}") from exc
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
            raise QueueUnavailable(f"the queue's PostgreSQL is unavailable: {_first_line(exc)}") from exc

    def probe(self) -> None:
        """Connect once, outside the pool: a wrong URL, a missing database or a server that is down fails now,
        with libpq's own reason (the pool only says, after its timeout, that it got no connection)."""
        try:
            psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S).close()
        except psycopg.Error as exc:
            raise QueueUnavailable(f"the queue's PostgreSQL is unavailable: {_first_line(exc)}") from exc

    def listener(self, channel: str) -> Listener:
        return Listener(self.url, channel)

    def close(self) -> None:
        with self._lock:
            if self._opened:
                self._pool.close()
                self._opened = False


class Listener:
    """A connection kept open that waits for NOTIFYs on one channel (idle workers wake at once)."""

    def __init__(self, url: str, channel: str) -> None:
        self.url, self.channel = url, channel
        self._conn: psycopg.Connection[Any] | None = None

    def wait(self, timeout_s: float) -> bool:
        """True when a notification came (or the connection broke: look at the queue again)."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
                self._conn.execute(f"LISTEN {_identifier(self.channel)}")
            for _ in self._conn.notifies(timeout=timeout_s, stop_after=1):
                return True
            return False
        except psycopg.Error:
            self.close()
            return True

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None


def _drop(conn: psycopg.Connection[Any]) -> None:
    """Past the deadline: shut the socket down so the blocked wait fails now (the pool discards it)."""
    with contextlib.suppress(OSError, psycopg.Error):
        sock = socket.socket(fileno=socket.dup(conn.fileno()))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a channel name: {name!r}")
    return name


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
