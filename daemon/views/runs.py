"""Runs as `benchd status` prints them and the dashboard shows them, computed once, from the store.

Plain dicts of JSON types, so `status --json`, the dashboard API and tests share one shape.
Live state (jobs, steps, step logs) comes from the store tables; the run record (result.json, or
progress.json while the run is still going) gives the jobs' pipeline order, skip reasons, warnings and metrics.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from daemon.record import RunRecord, iso, layout
from daemon.reporters.summary import brief
from daemon.store import reads
from daemon.store.db import RUN_DONE, Store
from daemon.store.rows import RunRow

LOG_CHUNK = 64 * 1024  # one log request returns at most this much (a tail when starting from 0)


def elapsed(started: float | None, finished: float | None, now: float) -> float | None:
    if started is None:
        return None
    return round((finished if finished is not None else now) - started, 3)


def _pipeline_name(path: str) -> str:
    return Path(path).stem if path else ""


def _summary(r: RunRow, jobs: dict[str, int], now: float) -> dict[str, Any]:
    """One run as a status row: the single definition shared by `benchd status` and the dashboard."""
    return {
        "id": r.id, "model": r.model_name, "status": r.status, "pipeline": _pipeline_name(r.pipeline),
        "sha256": r.sha256, "created_at": iso(r.created_at), "started_at": iso(r.started_at),
        "finished_at": iso(r.finished_at), "duration_s": elapsed(r.started_at, r.finished_at, now),
        "jobs": {"total": sum(jobs.values()), "success": jobs.get("success", 0),
                 "failed": sum(jobs.get(s, 0) for s in ("failure", "error")), "running": jobs.get("running", 0)},
        "error": r.error, "duplicate_of": r.duplicate_of, "result_dir": r.result_dir,
    }


def recent_runs(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    runs = store.recent_runs(limit)
    counts = reads.job_counts(store, [r.id for r in runs])
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


def record_of(folder: Path | None) -> RunRecord | None:
    """The run's typed record: result.json once finished, progress.json while it runs."""
    return layout.read_record(folder)


def folder_of(row: RunRow, results: Path | None) -> Path | None:
    if results is None and not row.result_dir:
        return None
    return layout.run_folder(results or Path(), row.model_name, row.id, row.result_dir)


def run_detail(store: Store, run_id: str, results: Path | None = None) -> dict[str, Any] | None:
    row = store.get_run(run_id)
    if row is None:
        return None
    now = time.time()
    record = record_of(folder_of(row, results))
    steps: dict[str, list[dict[str, Any]]] = {}
    for s in store.steps_of(run_id):
        steps.setdefault(s.job_id, []).append({
            "idx": s.idx, "id": s.step_id, "status": s.status, "exit_code": s.exit_code,
            "error": s.error, "started_at": iso(s.started_at),
            "duration_s": elapsed(s.started_at, s.finished_at, now), "has_log": bool(s.log_path),
        })
    jobs = [{"id": j.job_id, "status": j.status, "executor": j.executor, "image_ref": j.image_ref,
             "image_digest": j.image_digest, "started_at": iso(j.started_at),
             "duration_s": elapsed(j.started_at, j.finished_at, now), "steps": steps.get(j.job_id, []),
             "skip_reason": None, "skip_brief": None, "warning": None}
            for j in store.jobs_of(run_id)]
    summary = _summary(row, reads.job_counts(store, [run_id]).get(run_id, {}), now)
    metrics: dict[str, Any] = {"host": {}, "boards": []}
    errors: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    if record is not None:
        jobs = _in_pipeline_order(jobs, record)
        metrics = record.metrics.to_dict()
        errors = [{"where": e.where, "message": e.message} for e in record.errors]
        warnings = [{"where": w.where, "message": w.message} for w in record.warnings]
    return {**summary, "jobs": jobs, "done": row.status in RUN_DONE, "metrics": metrics, "errors": errors,
            "warnings": warnings, "can_rerun": bool(row.model_path or row.duplicate_of),
            "deliveries": deliveries(store, run_id)}


def _in_pipeline_order(jobs: list[dict[str, Any]], record: RunRecord) -> list[dict[str, Any]]:
    """The record's order (the run's own) with its skip reasons and warnings; the store's jobs table is
    ordered by start time, and a job the record does not know yet (just started) goes last."""
    live = {j["id"]: j for j in jobs}
    ordered = []
    for job in record.jobs:
        base = live.pop(job.id, None) or {
            "id": job.id, "status": job.status, "executor": job.executor,
            "image_ref": job.image.ref if job.image else None, "image_digest": job.image.digest if job.image else None,
            "started_at": None, "duration_s": round(sum(s.duration_s or 0 for s in job.steps), 3),
            "steps": [{"idx": i, "id": s.id, "status": s.status, "exit_code": s.exit_code, "error": s.error,
                       "started_at": None, "duration_s": s.duration_s, "has_log": False}
                      for i, s in enumerate(job.steps)]}
        ordered.append({**base, "skip_reason": job.skip_reason, "skip_brief": brief(job.skip_reason) or None,
                        "warning": job.warning})
    return ordered + list(live.values())


def deliveries(store: Store, run_id: str) -> list[dict[str, Any]]:
    from daemon.reporters.webhook import redact

    return [{"endpoint": redact(r["endpoint"]), "state": r["state"], "attempts": r["attempts"],
             "last_status": r["last_status"], "last_error": r["last_error"], "done_at": iso(r["done_at"])}
            for r in reads.deliveries(store, run_id)]


def log_tail(store: Store, run_id: str, job_id: str, idx: int, offset: int = 0) -> dict[str, Any] | None:
    """New text of a step's log from `offset`; paths come only from the store, never from the request."""
    step = reads.step_log(store, run_id, job_id, idx)
    if step is None or not step["log_path"]:
        return None
    path = Path(step["log_path"])
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
            "status": step["status"], "truncated": offset == 0 and start > 0}


def boards(store: Store, runs: int = 50) -> list[dict[str, Any]]:
    """Each board seen in the last `runs` finished runs, with its latest result."""
    latest: dict[str, dict[str, Any]] = {}
    for row in reads.finished_runs(store, runs):
        record = record_of(Path(row.result_dir or ""))
        for board in record.metrics.boards if record is not None else ():
            key = str(board.id)
            if key not in latest:
                latest[key] = {**board.to_dict(), "run_id": row.id, "run_status": record.status if record else None,
                               "finished_at": iso(row.finished_at)}
    return sorted(latest.values(), key=lambda b: str(b.get("id")))
