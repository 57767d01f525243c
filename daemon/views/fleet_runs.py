"""Looking back at the shared queue from any host: `benchd runs`, `show`, `logs [-f]` with `[queue] url`.

The queue holds what the SQLite store and the results folder hold on one machine: the run's row (its result
once done: result.json's content), its jobs (which host and attempt ran each, on which board), every attempt's
outcome, and the logs as chunks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import IO, Any

from daemon.errors import BenchdError
from daemon.record import RunRecord
from daemon.reporters.summary import summary_markdown
from daemon.store.queue import Queue
from daemon.views.fleet import iso_time

FOLLOW_POLL_S = 0.5
SCAN = 1000  # runs looked through for a model's or an id prefix's (the queue names no such query)


def run_rows(queue: Queue, model: str | None, limit: int) -> list[dict[str, Any]]:
    """What `benchd runs` lists, newest first: plain JSON types (the --json form)."""
    rows = queue.runs(SCAN if model else limit)
    if model:
        rows = [r for r in rows if model in (r["model_name"], PurePosixPath(r["model_name"]).stem)][:limit]
    return [{"id": r["id"], "model": r["model_name"], "state": r["state"], "status": r["status"],
             "pipeline": r["pipeline_file"], "submitted_by": r["submitted_by"],
             "submitted_at": iso_time(r["submitted_at"]), "finished_at": iso_time(r["finished_at"])} for r in rows]


def format_runs(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no runs in the queue yet (benchd submit MODEL queues one)"
    lines = [f"{'run':<22} {'model':<24} {'status':<10} {'submitted by':<20} submitted"]
    for r in rows:
        lines.append(f"{r['id']:<22} {r['model'][:24]:<24} {r['status'] or r['state']:<10} "
                     f"{(r['submitted_by'] or '-')[:20]:<20} {(r['submitted_at'] or '')[:19].replace('T', ' ')}")
    return "\n".join(lines)


def find_run(queue: Queue, ref: str = "latest") -> dict[str, Any]:
    """`latest`, a run id, or the first characters of one: the run's row."""
    if ref == "latest":
        latest = queue.runs(1)
        if not latest:
            raise BenchdError("no runs in the queue yet (benchd submit MODEL queues one)")
        ref = latest[0]["id"]
    found = queue.run(ref)
    if found is not None:
        return found
    matches = [r["id"] for r in queue.runs(SCAN) if r["id"].startswith(ref)]
    if not matches:
        raise BenchdError(f"no run {ref!r} in the queue: `benchd runs` lists the runs")
    if len(matches) > 1:
        raise BenchdError(f"{ref!r} names more than one run ({matches[0]}, {matches[1]}, …): give more of the id")
    row = queue.run(matches[0])
    if row is None:  # removed between the two reads
        raise BenchdError(f"run {matches[0]} is gone from the queue")
    return row


def job_rows(queue: Queue, run_id: str) -> list[dict[str, Any]]:
    """Each job of the run in pipeline order: who ran it (host, attempt, board) and every attempt's outcome."""
    attempts: dict[str, list[dict[str, Any]]] = {}
    for a in queue.attempts(run_id):
        attempts.setdefault(a["name"], []).append(
            {"attempt": a["attempt"], "host": a["host"], "board": a["board_id"],
             "started_at": iso_time(a["started_at"]), "ended_at": iso_time(a["ended_at"]), "outcome": a["outcome"],
             "kind": a["kind"], "message": a["message"]})
    return [{"name": j.name, "state": j.state, "status": j.status, "host": j.host, "attempt": j.attempt,
             "board": j.board_id, "attempts": attempts.get(j.name, [])} for j in queue.jobs(run_id)]


def show_text(queue: Queue, run: dict[str, Any]) -> str:
    status = f"{run['state']}: {run['status']}" if run["status"] else run["state"]
    finished = f", finished {_when(run['finished_at'])}" if run["finished_at"] else ""
    lines = [f"run {run['id']}  {run['model_name']}  {status}",
             f"submitted by {run['submitted_by'] or '-'} at {_when(run['submitted_at'])}{finished}",
             f"pipeline {run['pipeline_file']}", "", "jobs:"]
    for job in job_rows(queue, run["id"]):
        where = f"{job['host']}" + (f", board {job['board']}" if job["board"] else "") + f" (attempt {job['attempt']})"
        ran = "not run yet" if not job["host"] else ("running on " if job["state"] == "leased" else "ran on ") + where
        lines.append(f"  {job['name']:<20} {job['status'] or job['state']:<10} {ran}")
        for a in job["attempts"]:
            board = f"board {a['board']}" if a["board"] else "no board"
            outcome = (a["outcome"] or "running") + (f" ({a['kind']})" if a["kind"] else "")
            message = f": {a['message']}" if a["message"] else ""
            lines.append(f"      attempt {a['attempt']}  {a['host']:<16} {board:<20} {outcome}{message}")
    lines.append("")
    if run["state"] != "done":
        lines.append(f"(`benchd logs {run['id']} -f` follows it)")
    elif run["result"] is not None:
        lines.append(_result_text(run["id"], run["result"]))
    return "\n".join(lines).rstrip("\n") + "\n"


def show_json(queue: Queue, run: dict[str, Any]) -> str:
    """The run's result.json once it is done (as `benchd show --json` without a queue), else where it is."""
    if run["state"] == "done" and run["result"] is not None:
        return json.dumps(run["result"], indent=2) + "\n"
    return json.dumps({"run_id": run["id"], "status": run["status"] or run["state"],
                       "jobs": job_rows(queue, run["id"])}, indent=2) + "\n"


def _result_text(run_id: str, result: Any) -> str:
    """summary.md's words for a result.json, or the JSON itself when it is no run record."""
    if isinstance(result, dict) and result.get("run_id") == run_id:
        try:
            return summary_markdown(RunRecord.from_dict(result))
        except (ValueError, TypeError, KeyError, AttributeError):
            pass
    return "result:\n" + json.dumps(result, indent=2)


@dataclass
class LogCursor:
    """How far a reader got: the queue's chunk cursor, and the source of the last chunk printed."""

    after: int = 0
    source: tuple[str, int, str] | None = None


def write_logs(queue: Queue, run_id: str, selector: str | None, out: IO[str],
               cursor: LogCursor | None = None) -> LogCursor:
    """The log chunks past the cursor, a header whenever the job, attempt or file changes."""
    cursor = cursor or LogCursor()
    for chunk in queue.log_chunks(run_id, cursor.after):
        cursor.after = max(cursor.after, int(chunk["n"]))
        if not _selected(chunk, selector):
            continue
        source = (chunk["name"], int(chunk["attempt"]), chunk["path"])
        if source != cursor.source:
            out.write(f"==> {chunk['name']}/{chunk['path']} (attempt {chunk['attempt']}) <==\n")
            cursor.source = source
        out.write(chunk["data"])
    return cursor


def follow(queue: Queue, run_id: str, selector: str | None, out: IO[str],
           sleep: Callable[[float], None] = time.sleep) -> None:
    """Print the chunks as they arrive until the run is done (as `tail -f`)."""
    cursor = LogCursor()
    while True:
        row = queue.run(run_id)
        finished = row is None or row["state"] == "done"
        write_logs(queue, run_id, selector, out, cursor)
        out.flush()
        if finished:  # read once more after the run ended: nothing is lost between the check and the read
            return
        sleep(FOLLOW_POLL_S)


def _selected(chunk: dict[str, Any], selector: str | None) -> bool:
    """`JOB` (a matrix job's instances `JOB__…` too) or `JOB/STEP` (the step's id, number or file stem)."""
    if not selector:
        return True
    job, _, step = selector.partition("/")
    if chunk["name"] != job and not chunk["name"].startswith(job + "__"):
        return False
    stem = PurePosixPath(chunk["path"]).stem
    number, _, name = stem.partition("-")
    return not step or step in (stem, number, name)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if value is not None else "-"
