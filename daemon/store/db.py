"""SQLite (WAL) store. A run's state survives kill -9: every transition is committed before it matters.

Status of a run: queued -> running -> success | failure | error | cancelled, then filed (`filed_at`) once
its drop has left the inbox. A run found `running` at start-up was interrupted: it is queued again once,
then ended error; a finished run not yet filed is filed at start-up, never run again.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daemon.record.status import RUN_DONE
from daemon.store.connection import connect, immediate, open_database
from daemon.store.rows import JobRow, RunRow, StepRow, as_dict, typed

__all__ = ["RUN_DONE", "Store", "new_run_id"]  # RUN_DONE: store users import it here
CACHED = ("success", "failure", "error")  # a cancelled run is no answer for the same content
MAX_ATTEMPTS = 2  # the first try and one re-run after an interruption


def new_run_id(now: float | None = None) -> str:
    stamp = datetime.fromtimestamp(now or time.time(), UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


class Store:
    """Thread-safe: one connection per thread, WAL so readers (dashboard, status) never block the daemon."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._local.conn = open_database(path)  # every table, at the newest schema version (store/schema.py)

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with immediate(self._connection()) as conn:
            yield conn

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Ad-hoc reads (status counts, the dashboard): plain dicts, never sqlite3.Row."""
        return [as_dict(r) for r in self._connection().execute(sql, args).fetchall()]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- runs -------------------------------------------------------------------------------------
    def add_run(self, **fields: Any) -> str:
        run_id = fields.pop("id", None) or new_run_id()
        fields.setdefault("status", "queued")
        fields.setdefault("created_at", time.time())
        cols = ["id", *fields]
        with self.transaction() as db:
            db.execute(
                f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                (run_id, *fields.values()),
            )
        return run_id

    def claim_next_run(self) -> RunRow | None:
        """Atomically move the oldest queued run to running (safe with several workers)."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT id FROM runs WHERE status = 'queued' ORDER BY created_at, id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE runs SET status = 'running', started_at = ?, attempts = attempts + 1 WHERE id = ?",
                (time.time(), row["id"]),
            )
            return typed(RunRow, db.execute("SELECT * FROM runs WHERE id = ?", (row["id"],)).fetchone())

    def claim_run(self, run_id: str) -> RunRow | None:
        """Move one given queued run to running (for `benchd run`, which runs its own drop)."""
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE runs SET status = 'running', started_at = ?, attempts = attempts + 1 "
                "WHERE id = ? AND status = 'queued'",
                (time.time(), run_id),
            )
            if cur.rowcount != 1:
                return None
            return typed(RunRow, db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())

    def requeue(self, run_id: str) -> None:
        """A run stopped by a shutdown: queued again, its try not counted."""
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET status = 'queued', attempts = MAX(attempts - 1, 0) WHERE id = ?", (run_id,)
            )
            db.execute("DELETE FROM jobs WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM steps WHERE run_id = ?", (run_id,))

    def finish_run(self, run_id: str, status: str, error: str | None, result_dir: Path | None) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET status = ?, error = ?, result_dir = ?, finished_at = ? WHERE id = ?",
                (status, error, str(result_dir) if result_dir else None, time.time(), run_id),
            )

    def mark_filed(self, run_id: str) -> None:
        """The drop of a finished run has left the inbox (or was never in it): the run is complete."""
        with self.transaction() as db:
            db.execute("UPDATE runs SET filed_at = ? WHERE id = ?", (time.time(), run_id))

    def unfiled_runs(self) -> list[RunRow]:
        """Finished runs whose drop may still wait in the inbox (a crash between finishing and filing)."""
        return self._runs(f"WHERE filed_at IS NULL AND status IN ({', '.join('?' * len(RUN_DONE))})", RUN_DONE)

    def running_runs(self) -> list[RunRow]:
        return self._runs("WHERE status = 'running'")

    def _runs(self, sql: str, args: tuple[Any, ...] = ()) -> list[RunRow]:
        return [RunRow(**row) for row in self.query("SELECT * FROM runs " + sql, args)]

    def get_run(self, run_id: str) -> RunRow | None:
        rows = self._runs("WHERE id = ?", (run_id,))
        return rows[0] if rows else None

    def recent_runs(self, limit: int = 20, model: str | None = None) -> list[RunRow]:
        """Newest first; `model` matches the file name as dropped, with or without `.tflite`."""
        if model:
            return self._runs("WHERE model_name = ? OR model_name = ? ORDER BY created_at DESC, id DESC LIMIT ?",
                              (model, f"{model}.tflite", limit))
        return self._runs("ORDER BY created_at DESC, id DESC LIMIT ?", (limit,))

    def runs_like(self, prefix: str, limit: int = 2) -> list[RunRow]:
        """Runs whose id starts with `prefix` (a run named by its first characters), newest first."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self._runs("WHERE id LIKE ? ESCAPE '\\' ORDER BY created_at DESC LIMIT ?", (escaped + "%", limit))

    def busy(self) -> int:
        """How many runs are queued or running."""
        return int(self.query("SELECT COUNT(*) AS n FROM runs WHERE status IN ('queued', 'running')")[0]["n"])

    def find_finished(self, sha256: str, pipeline_sha256: str) -> RunRow | None:
        """The latest finished run of the same content with the same pipeline (for dedupe); never a
        cancelled one: a run the user stopped answers nothing."""
        rows = self._runs(
            "WHERE sha256 = ? AND pipeline_sha256 = ? AND duplicate_of IS NULL "
            f"AND status IN ({', '.join('?' * len(CACHED))}) ORDER BY finished_at DESC LIMIT 1",
            (sha256, pipeline_sha256, *CACHED),
        )
        return rows[0] if rows else None

    def open_run_for_drop(self, drop_path: str, sha256: str) -> RunRow | None:
        """A queued or running run for this very drop, or a finished one whose drop is not filed away yet
        (so neither a restart nor a second event makes a second result for it)."""
        rows = self._runs(
            "WHERE drop_path = ? AND sha256 = ? AND (status IN ('queued', 'running') OR filed_at IS NULL)",
            (drop_path, sha256),
        )
        return rows[0] if rows else None

    def recover_interrupted(self, cancelled: Collection[str] = ()) -> tuple[list[str], list[str]]:
        """Runs left `running` by a crash: re-queue those with a try left, fail the others. A run someone
        asked to cancel (`cancelled`) is queued too, never to run: the service ends it cancelled."""
        requeued, failed = [], []
        with self.transaction() as db:
            for row in db.execute("SELECT id, attempts FROM runs WHERE status = 'running'").fetchall():
                if row["attempts"] < MAX_ATTEMPTS or row["id"] in cancelled:
                    db.execute("UPDATE runs SET status = 'queued' WHERE id = ?", (row["id"],))
                    requeued.append(row["id"])
                else:  # queued with a reason: the service finishes it as an error result, through the journal
                    db.execute(
                        "UPDATE runs SET status = 'queued', error = ? WHERE id = ?",
                        (f"interrupted {row['attempts']} times (benchd was killed or the machine stopped "
                         "during the run); not retried: drop the model again, or `benchd rerun` it", row["id"]),
                    )
                    failed.append(row["id"])
            db.execute("DELETE FROM jobs WHERE run_id IN (SELECT id FROM runs WHERE status = 'queued')")
            db.execute("DELETE FROM steps WHERE run_id IN (SELECT id FROM runs WHERE status = 'queued')")
        return requeued, failed

    # -- retention --------------------------------------------------------------------------------
    def expired_runs(self, before: float, keep: int) -> list[RunRow]:
        """Filed runs created before `before`, or beyond the newest `keep` (0: no limit), oldest first."""
        return self._runs(
            "WHERE filed_at IS NOT NULL AND (created_at < ? OR id NOT IN "
            "(SELECT id FROM runs ORDER BY created_at DESC, id DESC LIMIT ?)) ORDER BY created_at",
            (before, keep if keep > 0 else -1),
        )

    def delete_runs(self, run_ids: Collection[str]) -> None:
        with self.transaction() as db:
            for table, column in (("runs", "id"), ("jobs", "run_id"), ("steps", "run_id")):
                db.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(i,) for i in run_ids])

    def snapshots_in_use(self) -> set[str]:
        """The model snapshots some remaining run works on (or may re-run)."""
        return {r["model_path"] for r in self.query("SELECT DISTINCT model_path FROM runs WHERE model_path != ''")}

    def pipelines_in_use(self) -> set[str]:
        """The sha256 of every pipeline snapshot some remaining run was decided under."""
        return {r["pipeline_sha256"] for r in self.query("SELECT DISTINCT pipeline_sha256 FROM runs")}

    # -- cancel requests (store/controls.py records them, the daemon honours them) -------------------
    def request_cancel(self, run_id: str, source: str) -> None:
        """Record who asked; asking again keeps the first request."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO run_cancels (run_id, requested_at, source) VALUES (?, ?, ?)",
                       (run_id, time.time(), source))

    def cancel_requests(self) -> list[tuple[str, str]]:
        """(run id, who asked) of every request not handled yet, oldest first."""
        return [(r["run_id"], r["source"]) for r in self.query(
            "SELECT run_id, source FROM run_cancels WHERE handled_at IS NULL ORDER BY requested_at, run_id")]

    def cancel_handled(self, run_id: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE run_cancels SET handled_at = ? WHERE run_id = ? AND handled_at IS NULL",
                       (time.time(), run_id))

    # -- jobs and steps ---------------------------------------------------------------------------
    def set_job(self, run_id: str, job_id: str, **fields: Any) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO jobs (run_id, job_id, status) VALUES (?, ?, 'queued')", (run_id, job_id))
            if fields:
                sets = ", ".join(f"{k} = ?" for k in fields)
                db.execute(
                    f"UPDATE jobs SET {sets} WHERE run_id = ? AND job_id = ?", (*fields.values(), run_id, job_id)
                )

    def set_step(self, run_id: str, job_id: str, idx: int, **fields: Any) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO steps (run_id, job_id, idx, step_id, status) "
                "VALUES (?, ?, ?, ?, 'queued')",
                (run_id, job_id, idx, fields.get("step_id", str(idx))),
            )
            sets = ", ".join(f"{k} = ?" for k in fields)
            db.execute(
                f"UPDATE steps SET {sets} WHERE run_id = ? AND job_id = ? AND idx = ?",
                (*fields.values(), run_id, job_id, idx),
            )

    def jobs_of(self, run_id: str) -> list[JobRow]:
        return [JobRow(**r) for r in self.query("SELECT * FROM jobs WHERE run_id = ? ORDER BY started_at", (run_id,))]

    def steps_of(self, run_id: str) -> list[StepRow]:
        return [StepRow(**r) for r in self.query("SELECT * FROM steps WHERE run_id = ? ORDER BY job_id, idx",
                                                 (run_id,))]

