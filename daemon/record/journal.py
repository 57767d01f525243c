"""The journal: folds the runner's events into the RunRecord and hands each event, with the record
as it now stands, to its subscribers (the store, the reporters, a terminal display).

A subscriber that raises is noted in the record (`errors`, where `report/<name>`) and never stops
the others; subscribers see events in order, one at a time, whatever thread emitted them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from daemon.record.errorkind import error_kind
from daemon.record.events import (
    Event,
    JobFinished,
    JobStarted,
    Log,
    MetricsRecorded,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from daemon.record.values import (
    BoardResult,
    ErrorEntry,
    HostMetrics,
    JobRecord,
    ModelInfo,
    ReferenceCMetrics,
    RunRecord,
    VirtualMetrics,
)

_log = logging.getLogger("benchd.journal")
_BLOCKS: dict[str, Any] = {"host": HostMetrics, "reference_c": ReferenceCMetrics, "virtual": VirtualMetrics}


class Subscriber(Protocol):
    name: str

    def on_event(self, event: Event, record: RunRecord) -> None: ...


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


class Journal:
    def __init__(self, subscribers: Iterable[Subscriber] = (), record: RunRecord | None = None) -> None:
        self.record = record or RunRecord()
        self.subscribers = list(subscribers)
        self._lock = threading.RLock()  # matrix instances emit from their own threads

    def emit(self, event: Event) -> RunRecord:
        with self._lock:
            self.record = fold(self.record, event)
            for subscriber in self.subscribers:
                try:
                    subscriber.on_event(event, self.record)
                except Exception as exc:
                    _log.exception("subscriber %s failed", subscriber.name)
                    note = Log("error", f"report/{subscriber.name}", str(exc) or type(exc).__name__, kind="infra")
                    self.record = fold(self.record, note)
            return self.record


def fold(record: RunRecord, event: Event) -> RunRecord:
    """The record after one event; pure."""
    match event:
        case RunStarted():
            return replace(record, run_id=event.run_id, status="running", model=event.model,
                           pipeline=event.pipeline, started_at=iso(event.started_at))
        case JobStarted():
            return record.with_job(event.job)
        case StepStarted() | StepFinished():
            job = record.job(event.job_id) or JobRecord(id=event.job_id)
            record = record.with_job(job.with_step(event.step, event.index))
            if isinstance(event, StepFinished):
                record = _merge_metrics(record, event.metrics)
                notes = tuple(ErrorEntry(f"{event.job_id}/{event.step.id}", w) for w in event.warnings)
                record = replace(record, warnings=record.warnings + notes)
            return record
        case JobFinished():
            job = record.job(event.job_id) or JobRecord(id=event.job_id)
            changes: dict[str, Any] = {"status": event.status, "outputs": dict(event.outputs)}
            if event.image is not None:
                changes["image"] = event.image
            if event.skip_reason is not None:
                changes["skip_reason"] = event.skip_reason
            return record.with_job(replace(job, **changes))
        case MetricsRecorded():
            return _merge_metrics(record, event.metrics)
        case Log():
            if any((e.where, e.message) == (event.where, event.message) for e in record.errors + record.warnings):
                return record  # the same note twice (a reporter failing at start and at the end) says nothing new
            if event.level == "error":
                kind = event.kind or error_kind(event.where, event.message)
                return replace(record, errors=record.errors + (ErrorEntry(event.where, event.message, kind),))
            return replace(record, warnings=record.warnings + (ErrorEntry(event.where, event.message),))
        case RunFinished():
            return replace(record, status=event.status, finished_at=iso(event.finished_at),
                           duration_s=round(event.duration_s, 3), duplicate_of=event.duplicate_of,
                           duplicate_result=event.duplicate_result)
    raise TypeError(f"not a run event: {event!r}")


def _merge_metrics(record: RunRecord, items: Iterable[dict[str, Any]]) -> RunRecord:
    """Sections an action recorded: `model` (merged into the model), `boards` (appended), dict blocks merged."""
    model, metrics = record.model, record.metrics
    for item in items:
        for section, data in item.items():
            if section == "model" and isinstance(data, dict):
                merged = {**model.to_dict(), **{k: v for k, v in data.items() if k not in ("sha256", "name")}}
                model = ModelInfo.from_dict(merged)
            elif section == "boards" and isinstance(data, list):
                boards = tuple(BoardResult.from_dict(b) for b in data if isinstance(b, dict))
                metrics = replace(metrics, boards=metrics.boards + boards)
            elif section == "virtual_matrix" and isinstance(data, dict):
                metrics = replace(metrics, virtual_matrix={**(metrics.virtual_matrix or {}), **data})
            elif section in _BLOCKS and isinstance(data, dict):
                before = getattr(metrics, section)
                merged = {**(before.to_dict() if before is not None else {}), **data}
                metrics = replace(metrics, **{section: _BLOCKS[section].from_dict(merged)})
            elif isinstance(data, dict):
                extra = dict(metrics.extra)
                extra[section] = {**extra.get(section, {}), **data}
                metrics = replace(metrics, extra=extra)
    return replace(record, model=model, metrics=metrics)


