"""What keeps the daemon's folders true to its store: filing finished drops away, recovery at start-up,
cancel requests from other processes, and retention.

Finishing a run is three steps, each safe to repeat: result.json written (the files reporter) → the run
marked finished in the store → the drop moved out of the inbox and the run marked filed. `recover`
completes whichever step a crash cut short, so a kill at any instant still gives exactly one result.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from daemon.intake.intake import Intake
from daemon.reporters.files import result_dir
from daemon.settings import Settings
from daemon.store import Store
from daemon.store.controls import cancel_handled
from daemon.store.rows import RunRow

_log = structlog.get_logger("daemon")
SNAPSHOT_MIN_AGE_S = 600.0  # a snapshot this new may belong to a drop intake is deciding right now
CANCEL_POLL_S = 0.5
CANCELLED_BY = {"cli": "`benchd cancel`", "dashboard": "the dashboard", "signal": "Ctrl-C or SIGTERM on `benchd run`"}


def file_away(settings: Settings, intake: Intake, store: Store, row: RunRow, status: str) -> None:
    """Move a finished run's drop out of the inbox, then mark the run filed; then apply [retention]. A drop
    that cannot be moved stays unfiled: it is tried again at the next start, and intake never runs it again."""
    drop = row.drop
    moved = True
    if drop.parent.resolve() == settings.inbox.resolve() and _same_drop(drop, row):
        moved = intake.file_away(drop, row.id, row.sha256, "rejected" if status == "error" else "processed")
    if moved:
        store.mark_filed(row.id)
    cancel_handled_if_asked(store, row.id)
    prune(settings, store)


def requeue(store: Store, run_id: str, out: Path) -> None:
    """A run cut short by the daemon stopping: queued again (its try not counted), no progress shown."""
    store.requeue(run_id)
    (out / "progress.json").unlink(missing_ok=True)


def recover(settings: Settings, store: Store, intake: Intake) -> None:
    """At start-up, before any drop is decided: complete what a crash cut short."""
    for row in store.running_runs():  # result.json written, the store not told: finished, not run again
        out = result_dir(settings.results, row.model_name, row.id)
        try:
            result = json.loads((out / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        errors = result.get("errors") or [{}]
        store.finish_run(row.id, str(result.get("status", "error")), errors[0].get("message"), out)
        _log.warning("finished a run whose result was written before a crash", run=row.id)
    requeued, failed = store.recover_interrupted(cancelled={run_id for run_id, _ in cancel_requests(store)})
    for run_id in requeued + failed:  # its progress.json says `running`: it is not
        if (interrupted := store.get_run(run_id)) is not None:
            out = result_dir(settings.results, interrupted.model_name, run_id)
            (out / "progress.json").unlink(missing_ok=True)
    if requeued or failed:
        _log.warning("recovered interrupted runs", requeued=requeued, failed=failed)
    for row in store.unfiled_runs():  # finished, but the drop was not moved out yet
        file_away(settings, intake, store, row, row.status)
    running = {r.id for r in store.running_runs()}
    for leftover in _children(settings.state / "runs"):  # workspaces of runs a crash cut short
        if leftover.name not in running:
            shutil.rmtree(leftover, ignore_errors=True)
    for temp in (settings.state / "models").glob(".incoming-*"):
        temp.unlink(missing_ok=True)
    prune_snapshots(settings, store, time.time())  # of drops that changed while read, or a crash mid-intake


def prune(settings: Settings, store: Store, now: float | None = None) -> list[str]:
    """[retention]: remove finished runs older than `days` or beyond the newest `runs` (result folder,
    logs, artifacts, filed drops, store rows), then snapshots no remaining run works on."""
    keep = settings.retention
    if keep.days <= 0 and keep.runs <= 0:
        return []
    now = time.time() if now is None else now
    expired = store.expired_runs(now - keep.days * 86400 if keep.days > 0 else 0.0, keep.runs)
    for row in expired:
        out = Path(row.result_dir) if row.result_dir else result_dir(settings.results, row.model_name, row.id)
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
    """state/models/<sha256>/ folders no run works on (or may re-run), once older than a drop's decision."""
    in_use = store.snapshots_in_use()
    for folder in _children(settings.state / "models"):
        recent = now - folder.stat().st_mtime < SNAPSHOT_MIN_AGE_S
        if not recent and not any(str(f) in in_use for f in folder.iterdir()):
            shutil.rmtree(folder, ignore_errors=True)


def bound_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own malloc arena; in a daemon whose threads come and go
    (workers, intake, matrix jobs, deliveries) the arenas' free pages made RSS climb ~4 MB per 1,000 runs
    (measured; Python's own heap stayed flat). Two arenas keep it flat (+0.3 MB). No-op off glibc."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


class CancelWatch:
    """Polls the store for cancel requests (`benchd cancel`, the dashboard) and hands each to `cancel`
    with the reason; every process that runs runs (`benchd watch`, `benchd run`) polls."""

    def __init__(self, store: Store, cancel: Callable[[str, str], None]) -> None:
        self.store, self.cancel = store, cancel
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="benchd-cancels", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(CANCEL_POLL_S):
            for run_id, source in cancel_requests(self.store):
                try:
                    self.cancel(run_id, f"cancelled by the user ({CANCELLED_BY.get(source, source)})")
                except Exception:
                    _log.exception("cancel failed", run=run_id)


def cancel_requests(store: Store) -> list[tuple[str, str]]:
    """(run id, who asked) of every cancel request not handled yet (daemon.store.controls records them)."""
    try:
        rows = store.query("SELECT run_id, source FROM run_cancels WHERE handled_at IS NULL ORDER BY requested_at")
    except sqlite3.OperationalError:
        return []  # nobody ever asked: the table does not exist
    return [(r["run_id"], r["source"]) for r in rows]


def cancel_reason(store: Store, run_id: str) -> str | None:
    """Why someone asked to cancel this run before it started, or None."""
    for pending, source in cancel_requests(store):
        if pending == run_id:
            return f"cancelled by the user ({CANCELLED_BY.get(source, source)}) before it started"
    return None


def cancel_handled_if_asked(store: Store, run_id: str) -> None:
    if any(pending == run_id for pending, _ in cancel_requests(store)):
        cancel_handled(store, run_id)


def _same_drop(drop: Path, row: RunRow) -> bool:
    """Still the file this run was about (not a new drop of the same name); cheap: the size."""
    try:
        return drop.stat().st_size == row.size or not row.sha256
    except OSError:
        return False


def _children(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir()]
    except OSError:
        return []
