"""Board health: failure counts, quarantine, and what discovery last saw.

Kept in the daemon's SQLite file (the store's `board_*` tables, daemon/store/boards.py): flash and monitor
steps of a matrix record results from parallel processes. A board is quarantined when its last
`quarantine_after` runs all failed; a passing health check or `benchd boards release ID` frees it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon.store.boards import BoardTables


class BoardHealth:
    def __init__(self, db_path: Path, quarantine_after: int = 3) -> None:
        self.db_path, self.quarantine_after = db_path, quarantine_after
        self.tables = BoardTables(db_path)

    def record(self, board_id: str, kind: str, ok: bool, message: str = "", run_id: str = "") -> None:
        """kind 'flash' or 'run'. A failed flash is a failed run; only a passing run clears the streak."""
        self.tables.record(board_id, kind, ok, message, run_id)

    def status(self, board_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self.tables.health(board_id) or {
            "board_id": board_id, "runs": 0, "flash_failures": 0, "run_failures": 0, "consecutive_failures": 0,
            "last_error": None}
        data["quarantined"] = data["consecutive_failures"] >= self.quarantine_after > 0
        return data

    def is_quarantined(self, board_id: str) -> bool:
        return bool(self.status(board_id)["quarantined"])

    def release(self, board_id: str, why: str = "released by hand") -> bool:
        """Clear the failure streak; False if benchd never saw this board."""
        return self.tables.clear_streak(board_id, why)

    def all(self) -> list[dict[str, Any]]:
        return [self.status(i) for i in self.tables.board_ids()]

    # -- hot-plug -------------------------------------------------------------------------------------
    def seen(self, boards: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
        """Record the boards present now; returns (appeared, disappeared) ids since the last discovery."""
        present = {b["id"]: b for b in boards}
        before = self.tables.mark_present(present)
        return sorted(set(present) - before), sorted(before - set(present))

    def last_seen(self) -> list[dict[str, Any]]:
        return self.tables.last_seen()
