"""[retention]: finished runs older than `days` or beyond the newest `runs` are removed (result folder, logs,
artifacts, filed drops, store rows), then the model and pipeline snapshots no remaining run works on."""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

import structlog

from daemon.record.layout import run_folder
from daemon.settings import Settings
from daemon.store import Store
from daemon.store.snapshots import pipeline_snapshots

_log = structlog.get_logger("daemon")
SNAPSHOT_MIN_AGE_S = 600.0  # a snapshot this new may belong to a drop intake is deciding right now


def prune(settings: Settings, store: Store, now: float | None = None) -> list[str]:
    keep = settings.retention
    if keep.days <= 0 and keep.runs <= 0:
        return []
    now = time.time() if now is None else now
    expired = store.expired_runs(now - keep.days * 86400 if keep.days > 0 else 0.0, keep.runs)
    for row in expired:
        out = run_folder(settings.results, row.model_name, row.id, row.result_dir)
        shutil.rmtree(out, ignore_errors=True)
        with contextlib.suppress(OSError):
            out.parent.rmdir()  # the model's folder, once its last run is gone
        for folder in (settings.processed, settings.rejected):
            for filed in folder.glob(f"{row.id}-*"):
                filed.unlink(missing_ok=True)
    store.delete_runs([r.id for r in expired])
    prune_snapshots(settings, store, now)
    if expired:
        _log.info("pruned runs", count=len(expired), days=keep.days, runs=keep.runs)
    return [r.id for r in expired]


def prune_snapshots(settings: Settings, store: Store, now: float) -> None:
    """state/models/<sha256>/ folders and state/pipelines/<sha256>.yml files no run works on (or may re-run),
    once older than a drop's decision."""
    in_use = store.snapshots_in_use()
    for folder in subfolders(settings.state / "models"):
        recent = now - folder.stat().st_mtime < SNAPSHOT_MIN_AGE_S
        if not recent and not any(str(f) in in_use for f in folder.iterdir()):
            shutil.rmtree(folder, ignore_errors=True)
    pipelines_in_use = store.pipelines_in_use()
    for snapshot in pipeline_snapshots(settings.state):
        with contextlib.suppress(OSError):
            if snapshot.stem not in pipelines_in_use and now - snapshot.stat().st_mtime >= SNAPSHOT_MIN_AGE_S:
                snapshot.unlink()


def subfolders(folder: Path) -> list[Path]:
    """The folders in `folder` (none when it does not exist yet)."""
    try:
        return [p for p in folder.iterdir() if p.is_dir()]
    except OSError:
        return []
