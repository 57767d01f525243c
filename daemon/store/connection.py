"""Opening the daemon's SQLite file: one place for the connection settings every process uses.

The daemon, `benchd run`, the dashboard and the step processes of a matrix (board health) all open the
same file; WAL lets readers go on while one writer commits, and the busy timeout makes a writer wait for
another instead of failing.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from daemon.store import schema

BUSY_TIMEOUT_S = 30.0


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit: BEGIN IMMEDIATE), rows as sqlite3.Row."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    _enter_wal(conn)
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _enter_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, retrying: on a new file opened by several processes at once, the switch can get
    SQLITE_BUSY at once, without the busy handler (SQLite does not wait there, to avoid a deadlock)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def open_database(path: Path) -> sqlite3.Connection:
    """Connect, creating the folder and bringing the schema to the newest version (once per opener)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    try:
        schema.ensure(conn)
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the write lock at once (no upgrade deadlock between two writers)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
