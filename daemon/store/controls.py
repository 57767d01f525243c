"""Run controls from outside a run: re-run and cancel, as the dashboard's buttons ask for them.

Both are plain writes to the store, so any process may make them (the dashboard inside `benchd watch`
or beside it as `benchd serve`; a `benchd rerun`/`benchd cancel` command may call the same functions):

- **Re-run** adds a queued run on the same content-addressed snapshot (runs.model_path, under
  state/models/<sha256>/), the same model name and the same pipeline file, forced: it is never a duplicate
  of the run it repeats. That is the row intake records for `benchd run --force` of the snapshot; nothing
  is copied, the snapshot is already where runs read it. Its drop_path is the snapshot, outside the inbox,
  so finishing it files nothing away. A worker of `benchd watch` claims it like any queued run.
  Asking twice while the first is still queued or running gives back the same run.
- **Cancel** records a request in `run_cancels`; the daemon honours it (`cancel_requested`) and marks it
  handled (`cancel_handled`). Until the daemon side exists, a request waits there and does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from daemon.errors import BenchdError
from daemon.store.db import RUN_DONE, Store
from daemon.store.rows import RunRow
from daemon.store.snapshots import pipeline_snapshot


class ControlError(BenchdError):
    """A control that cannot be carried out; the message says why and what to do instead."""


@dataclass(frozen=True)
class Rerun:
    run_id: str  # the new run (or the one already queued for the same snapshot)
    queued: bool  # False: an earlier re-run of this snapshot is still queued or running


def rerun(store: Store, run_id: str) -> Rerun:
    row = store.get_run(run_id)
    if row is None:
        raise ControlError(f"no run {run_id}")
    if row.duplicate_of and not row.model_path:  # a duplicate drop never ran: repeat what it pointed at
        original = store.get_run(row.duplicate_of)
        if original is None:
            raise ControlError(f"run {run_id} is a duplicate of {row.duplicate_of}, which is gone: "
                               "drop the model again")
        row = original
    if not row.model_path:
        raise ControlError(f"run {run_id} never ran ({row.error or 'rejected'}): fix the model and drop it again")
    snapshot = Path(row.model_path)
    if not snapshot.is_file():
        raise ControlError(f"the model snapshot of run {run_id} is gone from the state folder ({snapshot}): "
                           "drop the model again")
    pipeline_sha = row.pipeline_sha256  # the snapshot it ran, whatever the pipeline file says now
    if not pipeline_snapshot(store.path.parent, pipeline_sha).is_file():
        raise ControlError(f"the pipeline snapshot of run {run_id} is gone from the state folder: "
                           "drop the model again to run it with the current pipeline")
    pending = store.open_run_for_drop(str(snapshot), row.sha256)
    if pending is not None:
        return Rerun(pending.id, queued=False)
    new_id = store.add_run(model_name=row.model_name, model_path=str(snapshot), drop_path=str(snapshot),
                           sha256=row.sha256, size=row.size, pipeline=row.pipeline, pipeline_sha256=pipeline_sha,
                           force=1, sidecar=row.sidecar)
    return Rerun(new_id, queued=True)


def request_cancel(store: Store, run_id: str, source: str = "dashboard") -> RunRow:
    """Record the request; the run as it is now (a finished run cannot be cancelled)."""
    row = store.get_run(run_id)
    if row is None:
        raise ControlError(f"no run {run_id}")
    if row.status in RUN_DONE:
        raise ControlError(f"run {run_id} already ended ({row.status}): nothing to cancel")
    store.request_cancel(run_id, source)
    return row


def cancel_requested(store: Store, run_id: str) -> bool:
    """For the daemon: has someone asked to cancel this run (and it is not handled yet)?"""
    return any(pending == run_id for pending, _ in store.cancel_requests())


def pending_cancels(store: Store) -> list[str]:
    return [run_id for run_id, _ in store.cancel_requests()]


def cancel_handled(store: Store, run_id: str) -> None:
    store.cancel_handled(run_id)
