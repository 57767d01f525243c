"""The board tables (`board_health`, `board_events`, `board_seen`): the queries boards/health.py asks.

Step processes of a matrix (flash, monitor) record results in parallel, each with its own short
connection per call; the daemon's file and its schema are the store's (opening runs the migrations).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from daemon.store.connection import connect, immediate, open_database
from daemon.store.rows import as_dict

MAX_EVENT_MESSAGE = 2000
MAX_LAST_ERROR = 500


class BoardTables:
    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        open_database(db_path).close()  # the schema, once per opener

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = connect(self.db_path)
        try:
            yield db
        finally:
            db.close()

    def record(self, board_id: str, kind: str, ok: bool, message: str, run_id: str) -> None:
        """One event; a failure (flash or run) counts a run and lengthens the streak, a passing run ends it."""
        now = time.time()
        with self._db() as conn, immediate(conn) as db:
            db.execute("INSERT OR IGNORE INTO board_health (board_id, updated_at) VALUES (?, ?)", (board_id, now))
            db.execute("INSERT INTO board_events (board_id, run_id, kind, ok, message, at) VALUES (?,?,?,?,?,?)",
                       (board_id, run_id, kind, int(ok), message[:MAX_EVENT_MESSAGE], now))
            if ok and kind == "run":
                db.execute("UPDATE board_health SET runs = runs + 1, consecutive_failures = 0, updated_at = ? "
                           "WHERE board_id = ?", (now, board_id))
            elif not ok:
                column = "flash_failures" if kind == "flash" else "run_failures"
                db.execute(f"UPDATE board_health SET {column} = {column} + 1, runs = runs + 1, "
                           "consecutive_failures = consecutive_failures + 1, last_error = ?, updated_at = ? "
                           "WHERE board_id = ?", (message[:MAX_LAST_ERROR], now, board_id))

    def health(self, board_id: str) -> dict[str, Any] | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM board_health WHERE board_id = ?", (board_id,)).fetchone()
        return as_dict(row) if row else None

    def clear_streak(self, board_id: str, why: str) -> bool:
        """End the failure streak (an event says why); False if the board is in neither table."""
        now = time.time()
        with self._db() as conn, immediate(conn) as db:
            cur = db.execute("UPDATE board_health SET consecutive_failures = 0, released_at = ?, updated_at = ? "
                             "WHERE board_id = ?", (now, now, board_id))
            known = db.execute("SELECT 1 FROM board_seen WHERE board_id = ?", (board_id,)).fetchone()
            db.execute("INSERT INTO board_events (board_id, kind, ok, message, at) VALUES (?, 'release', 1, ?, ?)",
                       (board_id, why, now))
        return cur.rowcount > 0 or known is not None

    def board_ids(self) -> list[str]:
        """Every board with a health record or ever seen by discovery, sorted."""
        with self._db() as db:
            return sorted(r[0] for r in db.execute(
                "SELECT board_id FROM board_health UNION SELECT board_id FROM board_seen"))

    def mark_present(self, boards: Mapping[str, Mapping[str, Any]]) -> set[str]:
        """Record the boards present now (id -> port, chip, mac); returns the ids present before."""
        now = time.time()
        with self._db() as conn, immediate(conn) as db:
            before = {r[0] for r in db.execute("SELECT board_id FROM board_seen WHERE present = 1")}
            db.execute("UPDATE board_seen SET present = 0")
            for bid, b in boards.items():
                db.execute(
                    "INSERT INTO board_seen (board_id, port, chip, mac, present, first_seen, last_seen) "
                    "VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT(board_id) DO UPDATE SET port = excluded.port, "
                    "chip = excluded.chip, mac = excluded.mac, present = 1, last_seen = excluded.last_seen",
                    (bid, b.get("port"), b.get("chip"), b.get("mac"), now, now))
        return before

    def last_seen(self) -> list[dict[str, Any]]:
        with self._db() as db:
            return [as_dict(r) for r in db.execute("SELECT * FROM board_seen ORDER BY board_id")]
