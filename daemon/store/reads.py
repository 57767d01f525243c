"""Named reads for the read model (daemon/views): the SQL the status rows, run pages, model index and
history pages need, kept in store/ so no module outside it writes SQL.

Rows come back typed (`RunRow`) or as plain dicts of the columns named here. The outbox and the board tables
are created by other writers (a webhook, a board's first flash): until they exist, their reads return nothing.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import Any

from daemon.store.db import Store
from daemon.store.rows import RunRow

_RUN_COLUMNS = tuple(f.name for f in dataclasses.fields(RunRow))


def _runs(store: Store, where: str, args: tuple[Any, ...]) -> list[RunRow]:
    # the dataclass's own columns: a column added to the table later does not break the rows
    return [RunRow(**{k: r[k] for k in _RUN_COLUMNS if k in r})
            for r in store.query("SELECT * FROM runs " + where, args)]


def job_counts(store: Store, run_ids: list[str]) -> dict[str, dict[str, int]]:
    """run id -> {job status: how many jobs}; runs without jobs are absent."""
    counts: dict[str, dict[str, int]] = {}
    if run_ids:
        marks = ", ".join("?" * len(run_ids))
        for row in store.query(f"SELECT run_id, status, COUNT(*) AS n FROM jobs WHERE run_id IN ({marks}) "
                               "GROUP BY run_id, status", tuple(run_ids)):
            counts.setdefault(row["run_id"], {})[row["status"]] = row["n"]
    return counts


def step_log(store: Store, run_id: str, job_id: str, idx: int) -> dict[str, Any] | None:
    """A step's `log_path` and `status`, or None for a step the store does not know."""
    rows = store.query("SELECT log_path, status FROM steps WHERE run_id = ? AND job_id = ? AND idx = ?",
                       (run_id, job_id, idx))
    return rows[0] if rows else None


def deliveries(store: Store, run_id: str) -> list[dict[str, Any]]:
    """The run's webhook deliveries, oldest first (endpoint unredacted: the caller redacts)."""
    try:
        return store.query("SELECT endpoint, state, attempts, last_status, last_error, done_at FROM outbox "
                           "WHERE run_id = ? ORDER BY id", (run_id,))
    except sqlite3.OperationalError:
        return []  # no webhook ever configured: the outbox table does not exist


def finished_runs(store: Store, limit: int, originals_only: bool = False) -> list[RunRow]:
    """Runs with a result folder, the last finished first; `originals_only` leaves duplicate drops out."""
    where = "WHERE result_dir IS NOT NULL" + (" AND duplicate_of IS NULL" if originals_only else "")
    return _runs(store, where + " ORDER BY finished_at DESC LIMIT ?", (limit,))


def runs_of_model(store: Store, model_name: str, limit: int) -> list[RunRow]:
    """Every run of one model name, newest first."""
    return _runs(store, "WHERE model_name = ? ORDER BY created_at DESC, id DESC LIMIT ?", (model_name, limit))


def latest_runs_per_model(store: Store, per_model: int, models: int) -> list[RunRow]:
    """The newest `per_model` runs of each of the `models` most recently run model names; grouped by model
    (the most recently run first), newest run first within a model."""
    return _runs(store, """
        JOIN (SELECT model_name AS name, MAX(created_at) AS last FROM runs GROUP BY model_name
              ORDER BY last DESC LIMIT ?) AS m ON m.name = runs.model_name
        WHERE runs.id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY model_name
                          ORDER BY created_at DESC, id DESC) AS n FROM runs) WHERE n <= ?)
        ORDER BY m.last DESC, runs.model_name, runs.created_at DESC, runs.id DESC""", (models, per_model))


def board_records(store: Store, board_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]],
                                                        dict[str, Any] | None]:
    """What boards/health.py keeps of one board: its health row, its last 50 events (newest first), where it
    was last seen. (None, [], None) when no board was ever used (the tables do not exist yet)."""
    try:
        health = store.query("SELECT * FROM board_health WHERE board_id = ?", (board_id,))
        events = store.query("SELECT run_id, kind, ok, message, at FROM board_events WHERE board_id = ? "
                             "ORDER BY id DESC LIMIT 50", (board_id,))
        seen = store.query("SELECT port, chip, mac, present, first_seen, last_seen FROM board_seen "
                           "WHERE board_id = ?", (board_id,))
    except sqlite3.OperationalError:
        return None, [], None
    return (health[0] if health else None), events, (seen[0] if seen else None)
