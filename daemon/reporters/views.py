"""The read model: what `benchd status` prints and the dashboard shows, computed once, from the store.

Plain dicts of JSON types, so `status --json`, the dashboard API and tests share one shape.
Live state (jobs, steps, step logs) comes from the store tables; metrics from result.json, or from
progress.json while the run is still going.
"""

from __future__ import annotations

import json
import sqlite3
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from daemon.record import iso
from daemon.reporters.files import result_dir
from daemon.store.db import RUN_DONE, Store
from daemon.store.rows import RunRow

LOG_CHUNK = 64 * 1024  # one log request returns at most this much (a tail when starting from 0)


def _duration(started: float | None, finished: float | None, now: float) -> float | None:
    if started is None:
        return None
    return round((finished if finished is not None else now) - started, 3)


def _pipeline_name(path: str) -> str:
    return Path(path).stem if path else ""


def _job_counts(store: Store, ids: list[str]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    if ids:
        for row in store.query(f"SELECT run_id, status, COUNT(*) AS n FROM jobs WHERE run_id IN "
                               f"({', '.join('?' * len(ids))}) GROUP BY run_id, status", tuple(ids)):
            counts.setdefault(row["run_id"], {})[row["status"]] = row["n"]
    return counts


def _summary(r: RunRow, jobs: dict[str, int], now: float) -> dict[str, Any]:
    """One run as a status row: the single definition shared by `benchd status` and the dashboard."""
    return {
        "id": r.id, "model": r.model_name, "status": r.status, "pipeline": _pipeline_name(r.pipeline),
        "sha256": r.sha256, "created_at": iso(r.created_at), "started_at": iso(r.started_at),
        "finished_at": iso(r.finished_at), "duration_s": _duration(r.started_at, r.finished_at, now),
        "jobs": {"total": sum(jobs.values()), "success": jobs.get("success", 0),
                 "failed": sum(jobs.get(s, 0) for s in ("failure", "error")), "running": jobs.get("running", 0)},
        "error": r.error, "duplicate_of": r.duplicate_of, "result_dir": r.result_dir,
    }


def recent_runs(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    runs = store.recent_runs(limit)
    counts = _job_counts(store, [r.id for r in runs])
    now = time.time()
    return [_summary(r, counts.get(r.id, {}), now) for r in runs]


def format_status_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no runs yet: drop a .tflite into the inbox, or run `benchd run MODEL`"
    table = [("RUN", "STATUS", "MODEL", "PIPELINE", "JOBS", "TIME", "ERROR")]
    for r in rows:
        jobs = r["jobs"]
        job_text = f"{jobs['success']}/{jobs['total']}" + (f" ({jobs['failed']} failed)" if jobs["failed"] else "")
        took = "-" if r["duration_s"] is None else f"{r['duration_s']:.1f}s"
        error = (r["error"] or "").split("\n")[0][:80]
        table.append((r["id"], r["status"], r["model"], r["pipeline"], job_text, took, error))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table)


@lru_cache(maxsize=256)
def _read_json(path: str, mtime_ns: int, size: int) -> dict[str, Any] | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # being replaced right now, or not ours: the next poll sees the new one
    return data if isinstance(data, dict) else None


def _result_of(folder: Path | None) -> dict[str, Any] | None:
    if folder is None:
        return None
    for name in ("result.json", "progress.json"):
        path = folder / name
        try:
            st = path.stat()
        except OSError:
            continue
        return _read_json(str(path), st.st_mtime_ns, st.st_size)
    return None


def _folder(row: RunRow, results: Path | None) -> Path | None:
    if row.result_dir:
        return Path(row.result_dir)
    return result_dir(results, row.model_name, row.id) if results is not None else None


def run_detail(store: Store, run_id: str, results: Path | None = None) -> dict[str, Any] | None:
    row = store.get_run(run_id)
    if row is None:
        return None
    now = time.time()
    steps: dict[str, list[dict[str, Any]]] = {}
    for s in store.steps_of(run_id):
        steps.setdefault(s.job_id, []).append({
            "idx": s.idx, "id": s.step_id, "status": s.status, "exit_code": s.exit_code,
            "error": s.error, "started_at": iso(s.started_at),
            "duration_s": _duration(s.started_at, s.finished_at, now), "has_log": bool(s.log_path),
        })
    jobs = [{"id": j.job_id, "status": j.status, "executor": j.executor, "image_ref": j.image_ref,
             "image_digest": j.image_digest, "started_at": iso(j.started_at),
             "duration_s": _duration(j.started_at, j.finished_at, now), "steps": steps.get(j.job_id, [])}
            for j in store.jobs_of(run_id)]
    result = _result_of(_folder(row, results)) or {}
    summary = _summary(row, _job_counts(store, [run_id]).get(run_id, {}), now)
    return {**summary, "jobs": jobs, "done": row.status in RUN_DONE,
            "metrics": result.get("metrics") or {"host": {}, "boards": []}, "errors": result.get("errors") or [],
            "deliveries": deliveries(store, run_id)}


def deliveries(store: Store, run_id: str) -> list[dict[str, Any]]:
    try:
        rows = store.query("SELECT endpoint, state, attempts, last_status, last_error, done_at FROM outbox "
                           "WHERE run_id = ? ORDER BY id", (run_id,))
    except sqlite3.OperationalError:
        return []  # no webhook ever configured: the outbox table does not exist
    from daemon.reporters.webhook import redact

    return [{"endpoint": redact(r["endpoint"]), "state": r["state"], "attempts": r["attempts"],
             "last_status": r["last_status"], "last_error": r["last_error"], "done_at": iso(r["done_at"])}
            for r in rows]


def log_tail(store: Store, run_id: str, job_id: str, idx: int, offset: int = 0) -> dict[str, Any] | None:
    """New text of a step's log from `offset`; paths come only from the store, never from the request."""
    rows = store.query("SELECT log_path, status FROM steps WHERE run_id = ? AND job_id = ? AND idx = ?",
                       (run_id, job_id, idx))
    if not rows or not rows[0]["log_path"]:
        return None
    path = Path(rows[0]["log_path"])
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    if offset > size:
        offset = 0  # the log was rewritten (step re-run after a restart)
    start = max(offset, size - LOG_CHUNK) if offset == 0 else offset
    data = b""
    if size > start:
        with path.open("rb") as f:
            f.seek(start)
            data = f.read(min(LOG_CHUNK, size - start))
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            data = data[: exc.start]  # a character still being written: send it with the next poll
    return {"text": data.decode("utf-8", errors="replace"), "offset": start + len(data),
            "status": rows[0]["status"], "truncated": offset == 0 and start > 0}


def boards(store: Store, runs: int = 50) -> list[dict[str, Any]]:
    """Each board seen in the last `runs` finished runs, with its latest result."""
    latest: dict[str, dict[str, Any]] = {}
    for row in store.query("SELECT id, result_dir, finished_at FROM runs WHERE result_dir IS NOT NULL "
                           "ORDER BY finished_at DESC LIMIT ?", (runs,)):
        result = _result_of(Path(row["result_dir"]))
        for board in ((result or {}).get("metrics") or {}).get("boards") or []:
            key = str(board.get("id"))
            if key not in latest:
                latest[key] = {**board, "run_id": row["id"], "run_status": result.get("status") if result else None,
                               "finished_at": iso(row["finished_at"])}
    return sorted(latest.values(), key=lambda b: str(b.get("id")))
