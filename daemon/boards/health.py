"""Board health in the daemon's SQLite file: failure counts, quarantine, and what discovery last saw.

Tables are ours (`board_*`), beside the store's, in WAL mode with a busy timeout: flash steps of a
matrix record results from parallel processes. A board is quarantined when its last
`quarantine_after` runs all failed; a passing health check or `benchd boards release ID` frees it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS board_health (
    board_id TEXT PRIMARY KEY,
    runs INTEGER NOT NULL DEFAULT 0,
    flash_failures INTEGER NOT NULL DEFAULT 0,
    run_failures INTEGER NOT NULL DEFAULT 0,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    released_at REAL,
    updated_at REAL
);
CREATE TABLE IF NOT EXISTS board_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    board_id TEXT NOT NULL, run_id TEXT, kind TEXT NOT NULL, ok INTEGER NOT NULL, message TEXT, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS board_seen (
    board_id TEXT PRIMARY KEY, port TEXT, chip TEXT, mac TEXT, present INTEGER NOT NULL,
    first_seen REAL, last_seen REAL
);
"""


class BoardHealth:
    def __init__(self, db_path: Path, quarantine_after: int = 3) -> None:
        self.db_path, self.quarantine_after = db_path, quarantine_after
        db_path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
            db.row_factory = sqlite3.Row
            yield db
        finally:
            db.close()

    def record(self, board_id: str, kind: str, ok: bool, message: str = "", run_id: str = "") -> None:
        """kind 'flash' or 'run'. A failed flash is a failed run; only a passing run clears the streak."""
        now = time.time()
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT OR IGNORE INTO board_health (board_id, updated_at) VALUES (?, ?)", (board_id, now))
            db.execute("INSERT INTO board_events (board_id, run_id, kind, ok, message, at) VALUES (?,?,?,?,?,?)",
                       (board_id, run_id, kind, int(ok), message[:2000], now))
            if ok and kind == "run":
                db.execute("UPDATE board_health SET runs = runs + 1, consecutive_failures = 0, updated_at = ? "
                           "WHERE board_id = ?", (now, board_id))
            elif not ok:
                column = "flash_failures" if kind == "flash" else "run_failures"
                db.execute(f"UPDATE board_health SET {column} = {column} + 1, runs = runs + 1, "
                           "consecutive_failures = consecutive_failures + 1, last_error = ?, updated_at = ? "
                           "WHERE board_id = ?", (message[:500], now, board_id))
            db.execute("COMMIT")

    def status(self, board_id: str) -> dict[str, Any]:
        with self._db() as db:
            row = db.execute("SELECT * FROM board_health WHERE board_id = ?", (board_id,)).fetchone()
        data: dict[str, Any] = dict(row) if row else {
            "board_id": board_id, "runs": 0, "flash_failures": 0, "run_failures": 0, "consecutive_failures": 0,
            "last_error": None}
        data["quarantined"] = data["consecutive_failures"] >= self.quarantine_after > 0
        return data

    def is_quarantined(self, board_id: str) -> bool:
        return bool(self.status(board_id)["quarantined"])

    def release(self, board_id: str, why: str = "released by hand") -> bool:
        """Clear the failure streak; False if benchd never saw this board."""
        now = time.time()
        with self._db() as db:
            cur = db.execute("UPDATE board_health SET consecutive_failures = 0, released_at = ?, updated_at = ? "
                             "WHERE board_id = ?", (now, now, board_id))
            known = db.execute("SELECT 1 FROM board_seen WHERE board_id = ?", (board_id,)).fetchone()
            db.execute("INSERT INTO board_events (board_id, kind, ok, message, at) VALUES (?, 'release', 1, ?, ?)",
                       (board_id, why, now))
        return cur.rowcount > 0 or known is not None

    def all(self) -> list[dict[str, Any]]:
        with self._db() as db:
            ids = [r[0] for r in db.execute("SELECT board_id FROM board_health UNION SELECT board_id FROM board_seen")]
        return [self.status(i) for i in sorted(ids)]

    # -- hot-plug -------------------------------------------------------------------------------------
    def seen(self, boards: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
        """Record the boards present now; returns (appeared, disappeared) ids since the last discovery."""
        now = time.time()
        present = {b["id"]: b for b in boards}
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            before = {r[0] for r in db.execute("SELECT board_id FROM board_seen WHERE present = 1")}
            db.execute("UPDATE board_seen SET present = 0")
            for bid, b in present.items():
                db.execute(
                    "INSERT INTO board_seen (board_id, port, chip, mac, present, first_seen, last_seen) "
                    "VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT(board_id) DO UPDATE SET port = excluded.port, "
                    "chip = excluded.chip, mac = excluded.mac, present = 1, last_seen = excluded.last_seen",
                    (bid, b.get("port"), b.get("chip"), b.get("mac"), now, now))
            db.execute("COMMIT")
        return sorted(set(present) - before), sorted(before - set(present))

    def last_seen(self) -> list[dict[str, Any]]:
        with self._db() as db:
            return [dict(r) for r in db.execute("SELECT * FROM board_seen ORDER BY board_id")]
