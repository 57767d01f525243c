"""Filing a finished run's drop away: the last of finishing's three steps, each safe to repeat.

result.json written (the files reporter) → the run marked finished in the store → the drop moved out of the
inbox and the run marked filed. daemon.app.recovery completes whichever step a crash cut short.
"""

from __future__ import annotations

from pathlib import Path

from daemon.app.cancels import cancel_handled_if_asked
from daemon.app.retention import prune
from daemon.intake.intake import Intake
from daemon.record.layout import PROGRESS
from daemon.settings import Settings
from daemon.store import Store
from daemon.store.rows import RunRow


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
    (out / PROGRESS).unlink(missing_ok=True)


def _same_drop(drop: Path, row: RunRow) -> bool:
    """Still the file this run was about (not a new drop of the same name); cheap: the size."""
    try:
        return drop.stat().st_size == row.size or not row.sha256
    except OSError:
        return False
