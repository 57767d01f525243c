"""Typed rows: what the store hands out (no sqlite3.Row leaves store/)."""

from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RunRow:
    id: str
    model_name: str
    model_path: str  # the snapshot the run works on ('' for a drop that never ran)
    drop_path: str
    sha256: str
    size: int
    pipeline: str
    pipeline_sha256: str
    status: str
    attempts: int
    force: int
    duplicate_of: str | None
    sidecar: str | None  # MODEL.tflite.json beside the drop, as JSON text
    error: str | None  # why a drop was rejected, or the run's first error
    result_dir: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None


@dataclass(frozen=True)
class JobRow:
    run_id: str
    job_id: str
    status: str
    executor: str | None
    image_ref: str | None
    image_digest: str | None
    started_at: float | None
    finished_at: float | None


@dataclass(frozen=True)
class StepRow:
    run_id: str
    job_id: str
    idx: int
    step_id: str
    status: str
    exit_code: int | None
    error: str | None
    log_path: str | None
    started_at: float | None
    finished_at: float | None


def typed(cls: type[T], row: sqlite3.Row | None) -> T | None:
    if row is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: row[k] for k in row.keys() if k in names})


def as_dict(row: sqlite3.Row) -> dict[str, Any]:
    return {k: row[k] for k in row.keys()}
