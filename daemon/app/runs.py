"""One claimed run, down the floors: its pipeline snapshot and model loaded, its journal built (store, live
display, reporters, files), the runner run into it, the outcome finished in the store, the drop filed away.

Rejected and duplicate drops, and runs cancelled before they started, are runs too: their story is told to
the same journal, so every drop ends in exactly one result.json.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from daemon.app.cancels import cancel_reason
from daemon.app.filing import file_away, requeue
from daemon.app.pipelines import Pipelines
from daemon.errors import BenchdError, PipelineError, ReportError
from daemon.intake.intake import Intake
from daemon.pipeline.model import Workflow
from daemon.pipeline.request import RunRequest
from daemon.pipeline.runner import Runner
from daemon.record import Journal, Log, ModelInfo, PipelineInfo, RunFinished, RunRecord, RunStarted, Subscriber
from daemon.record.layout import result_dir
from daemon.record.status import STOPPED
from daemon.reporters.files import FilesReporter
from daemon.reporters.reporter import JournalReporter, Reporter, RunInfo
from daemon.settings import Settings
from daemon.store import Store
from daemon.store.recorder import StoreRecorder
from daemon.store.rows import RunRow


class Runs:
    def __init__(self, settings: Settings, store: Store, intake: Intake, runner: Runner, pipelines: Pipelines,
                 reporters: Sequence[Reporter], progress: Subscriber | None = None) -> None:
        self.settings, self.store, self.intake, self.runner = settings, store, intake, runner
        self.pipelines = pipelines
        self.reporters = reporters
        self.progress = progress  # `benchd run` draws its live display from the journal too

    def execute(self, row: RunRow) -> RunRecord:
        started, out = time.time(), result_dir(self.settings.results, row.model_name, row.id)
        side, side_error = sidecar(row.sidecar)
        journal = Journal(self._subscribers(row, out, side))
        status = self._run(row, out, journal)
        if status == STOPPED:  # cut short by a stop: it runs again at the next start
            requeue(self.store, row.id, out)
            return journal.record
        if side_error:
            journal.emit(Log("error", "sidecar", side_error))
        earlier = self.store.get_run(row.duplicate_of) if row.duplicate_of else None
        record = journal.emit(RunFinished(status, time.time(), time.time() - started, row.duplicate_of,
                                          earlier.result_dir if earlier else None))  # result.json written
        self.store.finish_run(row.id, record.status, record.errors[0].message if record.errors else None, out)
        file_away(self.settings, self.intake, self.store, row, record.status)  # then [retention]
        return record

    def runs_steps(self, row: RunRow) -> bool:
        """Whether the run has steps to run (not rejected, a duplicate, or cancelled before it started)."""
        return not (row.error or row.duplicate_of or cancel_reason(self.store, row.id))

    def _run(self, row: RunRow, out: Path, journal: Journal) -> str:
        cancelled = cancel_reason(self.store, row.id)
        if row.error or row.duplicate_of or cancelled:  # decided by intake, recovery or a user: nothing to run
            return self._tell_decided(row, journal, cancelled)
        try:
            workflow = self.workflow_of(row)
            if not Path(row.model_path).is_file():
                raise BenchdError("the model snapshot is gone from the state folder")
        except BenchdError as exc:
            model = ModelInfo(row.model_name, row.sha256 or None, row.size)
            journal.emit(RunStarted(row.id, model, PipelineInfo(file=row.pipeline), time.time()))
            # a pipeline that does not load is the drop's fault; a snapshot gone from the state folder is not
            kind = "model" if isinstance(exc, PipelineError) else "infra"
            journal.emit(Log("error", "pipeline", str(exc), kind=kind))
            return "error"
        request = RunRequest(row.id, Path(row.model_path), row.model_name, row.sha256, row.size, workflow, out)
        return self.runner.execute(request, journal)

    def workflow_of(self, row: RunRow) -> Workflow:
        return self.pipelines.of_run(row.pipeline, row.pipeline_sha256)

    def _tell_decided(self, row: RunRow, journal: Journal, cancelled: str | None) -> str:
        """A run with nothing to run (rejected, a duplicate, cancelled before it started): its story told;
        its status."""
        journal.emit(RunStarted(row.id, ModelInfo(row.model_name, row.sha256 or None, row.size),
                                self._pipeline_info(row), time.time()))
        earlier = self.store.get_run(row.duplicate_of) if row.duplicate_of and not cancelled else None
        if earlier is None:
            where = "runner" if row.model_path or cancelled else "intake"
            said = cancelled or row.error  # its kind is inferred: cancelled, a rejected drop, or a run interrupted
            journal.emit(Log("error", where, said) if said else
                         Log("error", where, f"the earlier run {row.duplicate_of} is gone", kind="infra"))
        return "cancelled" if cancelled else earlier.status if earlier else "error"

    def _pipeline_info(self, row: RunRow) -> PipelineInfo:
        if not row.pipeline_sha256:
            return PipelineInfo()
        try:
            wf = self.workflow_of(row)
        except BenchdError:
            return PipelineInfo(file=row.pipeline, sha256=row.pipeline_sha256)
        return PipelineInfo(wf.name, str(wf.file), row.pipeline_sha256)

    def _subscribers(self, row: RunRow, out: Path, side: dict[str, Any]) -> list[Subscriber]:
        """In order: the store, a live display, the reporters, and last the files reporter, so result.json
        carries what the other reporters noted."""
        info = RunInfo(row.id, row.model_name, row.sha256, out, side)
        extra = [self.progress] if self.progress is not None else []
        return [StoreRecorder(self.store, row.id, out), *extra, *(JournalReporter(r, info) for r in self.reporters),
                FilesReporter(out)]


def sidecar(text: str | None) -> tuple[dict[str, Any], str | None]:
    """MODEL.tflite.json beside the drop: its fields, or why it cannot be used."""
    if not text:
        return {}, None
    from daemon.reporters.sidecar import parse_sidecar

    try:
        return parse_sidecar(text), None
    except ReportError as exc:
        return {}, f"the sidecar .json beside the model: {exc}"
