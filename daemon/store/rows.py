"""Typed rows: what the store hands out (no sqlite3.Row leaves store/)."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
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
    filed_at: float | None = None  # when the drop left the inbox (None: not yet, or a run not finished)

    @property
    def drop(self) -> Path:
        return decode_path(self.drop_path)


def encode_path(path: Path) -> str:
    """A path as text the store can hold: itself when it is UTF-8, else `bytes:` and its bytes
    percent-encoded (a file name need not be UTF-8; SQLite text must be). Paths are absolute, so no
    path can start with `bytes:`."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "bytes:" + urllib.parse.quote_from_bytes(os.fsencode(path), safe="/")
    return text


def decode_path(text: str) -> Path:
    if text.startswith("bytes:"):
        return Path(os.fsdecode(urllib.parse.unquote_to_bytes(text[len("bytes:"):])))
    return Path(text)


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
