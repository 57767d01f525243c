"""What `benchd run` shows while its run goes on, and the line it ends with.

The display is a journal subscriber like the reporters (it gets each event with the record as it now
stands) and writes to stderr, so `--json` keeps stdout for result.json. On a terminal it is a live table
(rich): job, status, duration, the step now running; elsewhere one plain line per event.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import IO, Any

from daemon.record import Event, JobFinished, JobStarted, RunRecord, StepFinished, StepRecord, StepStarted
from daemon.reporters.summary import brief

MARK = {"success": "ok", "failure": "FAILED", "error": "ERROR", "skipped": "skipped", "cancelled": "cancelled"}
STYLE = {"success": "green", "failure": "red", "error": "red", "cancelled": "yellow", "skipped": "dim",
         "running": "cyan"}


def step_label(step: StepRecord) -> str:
    """A step by its `name:`, else its action (`benchd/validate`), else its id."""
    return step.name or step.id


def _percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def figures(record: RunRecord) -> list[str]:
    """The run's headline numbers, as far as the record has them."""
    parts: list[str] = []
    host = record.metrics.host
    if host.top1_agreement is not None:
        parts.append(f"top-1 {_percent(host.top1_agreement)}")
    if host.max_abs_diff is not None:
        parts.append(f"max diff {host.max_abs_diff:g} LSB")
    if host.latency_ms is not None:
        p95 = f", p95 {host.latency_p95_ms:.3f} ms" if host.latency_p95_ms is not None else ""
        parts.append(f"latency median {host.latency_ms:.3f} ms{p95}")
    ref, virtual = record.metrics.reference_c, record.metrics.virtual
    arena = (ref.arena_bytes if ref is not None else None) or (virtual.arena_bytes if virtual is not None else None)
    if arena is not None:
        parts.append(f"arena {arena:,} B")
    if virtual is not None and virtual.instructions is not None:
        parts.append(f"{virtual.instructions:,} instructions")
    boards = record.metrics.boards
    if boards:
        ok = sum(1 for b in boards if b.status in (None, "success", "ok") and b.bit_exact != 0)
        parts.append(f"boards {ok}/{len(boards)} ok")
    return parts


def notes(record: RunRecord) -> list[str]:
    """Errors and warnings, one line each (the whole text is in result.json and summary.md)."""
    return ([f"  error {e.where}: {brief(e.message, 200)}" for e in record.errors]
            + [f"  warning {w.where}: {brief(w.message)}" for w in record.warnings])


def last_line(record: RunRecord, folder: Path | None) -> str:
    """`success: kws_xs.tflite  results/kws_xs/<run>  top-1 100 %, max diff 3 LSB, …`: status, model, where,
    and the figures."""
    where = f"  {folder}" if folder is not None else ""
    numbers = figures(record)
    return f"{record.status}: {record.model.name or 'model'}{where}" + (f"  {', '.join(numbers)}" if numbers else "")


class PlainDisplay:
    """One line per event that changes something: for logs, pipes and CI."""

    name = "progress"

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def __enter__(self) -> PlainDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def on_event(self, event: Event, record: RunRecord) -> None:
        if isinstance(event, StepStarted):
            line = f"  .. {event.job_id} / {step_label(event.step)}"
        elif isinstance(event, StepFinished) and event.step.status not in ("skipped", "cancelled"):
            step = event.step
            error = f" - {step.error}" if step.error else ""
            line = (f"  {MARK.get(step.status, step.status)} {event.job_id} / {step_label(step)} "
                    f"({step.duration_s:.1f} s){error}")
        elif isinstance(event, JobFinished) and event.status == "skipped":
            line = f"  -- {event.job_id} skipped: {brief(event.skip_reason)}"
        else:
            return
        self.out.write(line + "\n")
        self.out.flush()


class _Row:
    def __init__(self) -> None:
        self.status = "queued"
        self.started = time.monotonic()
        self.duration: float | None = None
        self.step = ""
        self.note = ""


class LiveDisplay:
    """A table redrawn in place (rich.live) while the run goes on; left on screen when it ends."""

    name = "progress"

    def __init__(self, out: IO[str]) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(file=out, highlight=False)
        self.rows: dict[str, _Row] = {}
        self.live = Live(get_renderable=self.table, console=self.console, refresh_per_second=4,
                         redirect_stdout=False, redirect_stderr=False)

    def __enter__(self) -> LiveDisplay:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()

    def on_event(self, event: Event, record: RunRecord) -> None:
        if isinstance(event, JobStarted):
            row = self.rows.setdefault(event.job.id, _Row())
            row.status, row.started = event.job.status, time.monotonic()
            row.note = event.job.skip_reason or ""
        elif isinstance(event, StepStarted):
            row = self.rows.setdefault(event.job_id, _Row())
            row.step = step_label(event.step)
        elif isinstance(event, StepFinished) and event.step.status in ("failure", "error") and event.step.error:
            self.rows.setdefault(event.job_id, _Row()).note = event.step.error
        elif isinstance(event, JobFinished):
            row = self.rows.setdefault(event.job_id, _Row())
            row.status = event.status
            row.duration = 0.0 if event.status == "skipped" else time.monotonic() - row.started
            row.step = "" if event.status in ("success", "skipped") else row.step
            row.note = brief(event.skip_reason) or row.note
        else:
            return
        self.live.refresh()

    def table(self) -> Any:
        from rich.table import Table

        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in ("job", "status", "duration", "step"):
            table.add_column(column, no_wrap=column != "step", justify="right" if column == "duration" else "left")
        now = time.monotonic()
        for job_id, row in self.rows.items():
            seconds = row.duration if row.duration is not None else now - row.started
            duration = "" if row.status in ("skipped", "queued") else f"{seconds:.1f} s"
            detail = row.step if row.status == "running" else brief(row.note) or row.step
            status = f"[{STYLE.get(row.status, '')}]{row.status}[/]" if row.status in STYLE else row.status
            table.add_row(job_id, status, duration, detail)
        return table


def display_for(out: IO[str], json_only: bool = False) -> PlainDisplay | LiveDisplay:
    """A live table on a terminal, plain lines elsewhere (or with --json, which a script reads)."""
    interactive = hasattr(out, "isatty") and out.isatty()
    return LiveDisplay(out) if interactive and not json_only else PlainDisplay(out)
