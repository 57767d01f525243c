"""Pipeline snapshots: the exact bytes a run was decided under, kept content-addressed beside the model
snapshots (state/pipelines/<sha256>.yml), so the run executes what its row's hash names, whatever happens
to the pipeline file while it waits in the queue."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PIPELINES = "pipelines"


def pipeline_snapshot(state: Path, sha256: str) -> Path:
    return state / PIPELINES / f"{sha256}.yml"


def snapshot_pipeline(state: Path, raw: bytes) -> tuple[Path, str]:
    """Keep `raw` as a snapshot (written once, atomically; the same bytes are the same file); its path and hash."""
    sha = hashlib.sha256(raw).hexdigest()
    path = pipeline_snapshot(state, sha)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".incoming-{os.getpid()}-{sha[:12]}")
        tmp.write_bytes(raw)
        os.replace(tmp, path)
    else:
        os.utime(path)  # recently used: retention keeps it while a drop is being decided
    return path, sha


def pipeline_snapshots(state: Path) -> list[Path]:
    try:
        return [p for p in (state / PIPELINES).iterdir() if p.suffix == ".yml"]
    except OSError:
        return []
