"""At start-up, before any drop is decided: complete what a crash cut short.

A run whose result.json was written but whose store row was not finished is finished (not run again); a run
that was running is queued again (or ends `error` after too many tries, or `cancelled` when a user asked);
a finished run whose drop was not moved yet is filed; workspaces and half-written snapshots are removed.
"""

from __future__ import annotations

import json
import shutil
import time

import structlog

from daemon.app.cancels import cancel_requests
from daemon.app.filing import file_away
from daemon.app.retention import prune_snapshots, subfolders
from daemon.intake.intake import Intake
from daemon.record.layout import PROGRESS, RESULT, result_dir
from daemon.settings import Settings
from daemon.store import Store

_log = structlog.get_logger("daemon")


def recover(settings: Settings, store: Store, intake: Intake) -> None:
    for row in store.running_runs():  # result.json written, the store not told: finished, not run again
        out = result_dir(settings.results, row.model_name, row.id)
        try:
            result = json.loads((out / RESULT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        errors = result.get("errors") or [{}]
        store.finish_run(row.id, str(result.get("status", "error")), errors[0].get("message"), out)
        _log.warning("finished a run whose result was written before a crash", run=row.id)
    requeued, failed = store.recover_interrupted(cancelled={run_id for run_id, _ in cancel_requests(store)})
    for run_id in requeued + failed:  # its progress.json says `running`: it is not
        if (interrupted := store.get_run(run_id)) is not None:
            (result_dir(settings.results, interrupted.model_name, run_id) / PROGRESS).unlink(missing_ok=True)
    if requeued or failed:
        _log.warning("recovered interrupted runs", requeued=requeued, failed=failed)
    for row in store.unfiled_runs():  # finished, but the drop was not moved out yet
        file_away(settings, intake, store, row, row.status)
    running = {r.id for r in store.running_runs()}
    for leftover in subfolders(settings.state / "runs"):  # workspaces of runs a crash cut short
        if leftover.name not in running:
            shutil.rmtree(leftover, ignore_errors=True)
    for folder in ("models", "pipelines"):
        for temp in (settings.state / folder).glob(".incoming-*"):
            temp.unlink(missing_ok=True)
    prune_snapshots(settings, store, time.time())  # of drops that changed while read, or a crash mid-intake

