"""Looking back from the terminal: `benchd runs`, `show`, `logs` (read here; `rerun` is a command).

Everything is read from the store (which runs exist, where their folders are) and the results folder
(result.json, or progress.json while a run goes on, and logs/<job>/<n>-<step>.log).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from daemon.errors import BenchdError
from daemon.record import RunRecord, iso, layout
from daemon.store.db import RUN_DONE, Store
from daemon.store.rows import RunRow

FOLLOW_POLL_S = 0.25


@dataclass(frozen=True)
class RunFiles:
    """One run as the terminal sees it: its row and its result folder."""

    row: RunRow
    folder: Path

    @property
    def done(self) -> bool:
        return self.row.status in RUN_DONE

    def record(self) -> RunRecord | None:
        """result.json, or progress.json while the run goes on; None before its first job."""
        return layout.read_record(self.folder)


def find_run(store: Store, results: Path, ref: str = "latest") -> RunFiles:
    """`latest`, a run id, or the first characters of one."""
    if ref == "latest":
        rows = store.recent_runs(1)
        if not rows:
            raise BenchdError(f"no runs yet in {store.path}: start one with `benchd run MODEL`")
        row = rows[0]
    else:
        found = store.get_run(ref)
        matches = [found] if found is not None else store.runs_like(ref, limit=2)
        if not matches:
            raise BenchdError(f"no run {ref!r} in {store.path}: `benchd runs` lists the runs")
        if len(matches) > 1:
            raise BenchdError(f"{ref!r} names more than one run ({matches[0].id}, {matches[1].id}, …): "
                              "give more of the id (`benchd runs` lists them)")
        row = matches[0]
    return RunFiles(row, layout.run_folder(results, row.model_name, row.id, row.result_dir))


def run_rows(store: Store, results: Path, model: str | None, limit: int) -> list[dict[str, Any]]:
    """What `benchd runs` lists, newest first: plain JSON types (the --json form)."""
    rows = []
    for row in store.recent_runs(limit, model=model):
        figures: dict[str, Any] = {}
        record = RunFiles(row, layout.run_folder(results, row.model_name, row.id, row.result_dir)).record()
        if record is not None:
            host = record.metrics.host
            figures = {k: v for k, v in (("top1_agreement", host.top1_agreement), ("max_abs_diff", host.max_abs_diff),
                                         ("latency_ms", host.latency_ms)) if v is not None}
        duration = (row.finished_at - row.started_at) if row.finished_at and row.started_at else None
        rows.append({"id": row.id, "model": row.model_name, "status": row.status, "created_at": iso(row.created_at),
                     "duration_s": None if duration is None else round(duration, 3), "duplicate_of": row.duplicate_of,
                     "result_dir": str(layout.run_folder(results, row.model_name, row.id, row.result_dir)), **figures})
    return rows


def format_runs(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no runs yet: start one with `benchd run MODEL`, or drop a model into the inbox"
    header = f"{'run':<22} {'model':<24} {'status':<9} {'duration':>9}  {'top-1':>6} {'max diff':>8}  started"
    lines = [header]
    for r in rows:
        duration = f"{r['duration_s']:.1f} s" if r["duration_s"] is not None else "—"
        top1 = f"{r['top1_agreement'] * 100:.0f} %" if "top1_agreement" in r else "—"
        diff = f"{r['max_abs_diff']:g}" if "max_abs_diff" in r else "—"
        status = r["status"] + (" (dup)" if r["duplicate_of"] else "")
        lines.append(f"{r['id']:<22} {r['model'][:24]:<24} {status:<9} {duration:>9}  {top1:>6} {diff:>8}  "
                     f"{(r['created_at'] or '')[:19]}")
    return "\n".join(lines)


def log_files(run: RunFiles, selector: str | None = None) -> list[Path]:
    """The step logs of a run, in job then step order; `JOB` or `JOB/STEP` (a step id or its number)."""
    logs = run.folder / layout.LOGS
    job, _, step = (selector or "").partition("/")
    folders = _job_folders(run, logs)
    if job:  # a matrix job's instances are folders `flash__<board>_`: `flash` names them all
        folders = [f for f in folders if f.name == job or f.name.startswith(job + "__")]
        if not folders:
            known = sorted(p.name for p in logs.iterdir() if p.is_dir()) if logs.is_dir() else []
            raise BenchdError(f"run {run.row.id} has no logs for job {job!r} "
                              f"(jobs with logs: {', '.join(known) or 'none'})")
    found = [f for folder in folders for f in sorted(folder.glob("*.log"), key=_step_number)]
    if step:
        names = _step_names(run)
        found = [f for f in found
                 if _matches(f, step) or step in names.get((f.parent.name, f.stem.partition("-")[0]), ())]
        if not found:
            raise BenchdError(f"job {job!r} of run {run.row.id} has no step {step!r}: "
                              f"`benchd logs {run.row.id} {job}` shows all of its steps")
    return found


def _job_folders(run: RunFiles, logs: Path) -> list[Path]:
    """Pipeline order as the record has it, then any folder the record does not know yet (a live run)."""
    if not logs.is_dir():
        return []
    record = run.record()
    order = [j.id for j in record.jobs] if record is not None else []
    folders = [p for p in logs.iterdir() if p.is_dir()]
    return sorted(folders, key=lambda p: (order.index(p.name) if p.name in order else len(order), p.name))


def _step_names(run: RunFiles) -> dict[tuple[str, str], tuple[str, ...]]:
    """(log folder, step number) -> what a user may call the step besides its id: its name, its action."""
    record = run.record()
    names: dict[tuple[str, str], tuple[str, ...]] = {}
    for job in record.jobs if record is not None else ():
        folder = layout.slug(job.id)
        for number, step in enumerate(job.steps, start=1):
            label = step.name or ""
            names[(folder, str(number))] = (label, label.rpartition("/")[2])
    return names


def _step_number(path: Path) -> tuple[int, str]:
    head = path.stem.split("-", 1)[0]
    return (int(head) if head.isdigit() else 0, path.name)


def _matches(path: Path, step: str) -> bool:
    number, _, name = path.stem.partition("-")
    return step in (name, number, path.stem)


def write_logs(run: RunFiles, selector: str | None, out: IO[str]) -> int:
    files = log_files(run, selector)
    if not files:
        out.write(f"run {run.row.id} has no step logs (yet) in {run.folder / 'logs'}\n")
    for path in files:
        if len(files) > 1:
            out.write(f"==> {path.relative_to(run.folder)} <==\n")
        out.write(path.read_text(encoding="utf-8", errors="replace"))
    return len(files)


def follow(run: RunFiles, store: Store, selector: str | None, out: IO[str],
           sleep: Callable[[float], None] = time.sleep) -> None:
    """Print the logs as they grow, new steps as they start, until the run is over (as `tail -f`)."""
    offsets: dict[Path, int] = {}
    current: Path | None = None
    while True:
        row = store.get_run(run.row.id)
        finished = row is None or row.status in RUN_DONE
        for path, text in _new_text(run, selector, offsets):
            if path != current:
                out.write(f"==> {path.relative_to(run.folder)} <==\n")
                current = path
            out.write(text)
        out.flush()
        if finished:  # read once more after the run ended: nothing is lost between the check and the read
            return
        sleep(FOLLOW_POLL_S)


def _new_text(run: RunFiles, selector: str | None, offsets: dict[Path, int]) -> Iterator[tuple[Path, str]]:
    try:
        files = log_files(run, selector)
    except BenchdError:
        if run.done:
            raise
        files = []  # the job has not started yet
    for path in files:
        with path.open("rb") as f:
            f.seek(offsets.get(path, 0))
            data = f.read()
        if data:
            offsets[path] = offsets.get(path, 0) + len(data)
            yield path, data.decode("utf-8", errors="replace")


def show_text(run: RunFiles) -> str:
    """summary.md, or for a run still going what its progress says."""
    summary = run.folder / "summary.md"
    if summary.is_file():
        return summary.read_text(encoding="utf-8")
    record = run.record()
    if record is None:
        return f"run {run.row.id} ({run.row.model_name}): {run.row.status}, nothing recorded yet\n"
    lines = [f"# {run.row.model_name}: {run.row.status}", ""]
    lines += [f"- {job.id}: {job.status}" for job in record.jobs]
    return "\n".join(lines) + f"\n\n(`benchd logs {run.row.id} -f` follows it)\n"


def show_json(run: RunFiles) -> str:
    record = run.record()
    if record is None:
        return json.dumps({"run_id": run.row.id, "status": run.row.status}, indent=2) + "\n"
    return record.to_json()
