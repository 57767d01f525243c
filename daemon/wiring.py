"""The composition root: what the service hands to intake, the runner and the journal.

The only module besides the CLI that knows every package; the layers below it (intake, pipeline,
executors, record) get what they need as plain callables and values (import-linter keeps it so).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog

from daemon import actions
from daemon.errors import BenchdError, ReportError
from daemon.intake.intake import PipelineRef
from daemon.pipeline.loader import find_workflow, load_workflow
from daemon.pipeline.model import Workflow
from daemon.pipeline.request import ActionLauncher, BoardSource, RunRequest
from daemon.record import Journal, Log, ModelInfo, PipelineInfo, RunStarted, Subscriber
from daemon.reporters.files import FilesReporter
from daemon.reporters.reporter import JournalReporter, Reporter, RunInfo
from daemon.settings import Settings
from daemon.store import Store
from daemon.store.recorder import StoreRecorder
from daemon.store.rows import RunRow


def load(pipeline_file: str) -> Workflow:
    return load_workflow(Path(pipeline_file), actions.ACTIONS)


def pipeline_ref(settings: Settings) -> Callable[[], PipelineRef]:
    def current() -> PipelineRef:
        try:
            wf = load_workflow(find_workflow(settings.pipeline, settings.pipelines_dir), actions.ACTIONS)
        except BenchdError as exc:  # a broken pipeline still gets every drop an error result
            return PipelineRef(settings.pipeline, "", str(exc))
        return PipelineRef(str(wf.file), wf.sha256)

    return current


def run_request(row: RunRow, out: Path, journal: Journal) -> RunRequest | None:
    """What the runner needs for a queued run; None when its pipeline or snapshot is unusable (the
    journal is told why: an error result)."""
    try:
        workflow = load(row.pipeline)
        if not Path(row.model_path).is_file():
            raise BenchdError("the model snapshot is gone from the state folder")
    except BenchdError as exc:
        model = ModelInfo(row.model_name, row.sha256 or None, row.size)
        journal.emit(RunStarted(row.id, model, PipelineInfo(file=row.pipeline), time.time()))
        journal.emit(Log("error", "pipeline", str(exc)))
        return None
    return RunRequest(row.id, Path(row.model_path), row.model_name, row.sha256, row.size, workflow, out)


def tell_decided(store: Store, row: RunRow, journal: Journal, cancelled: str | None) -> str:
    """A run with nothing to run (rejected, a duplicate, cancelled before it started): its story told to
    the journal; its status."""
    journal.emit(RunStarted(row.id, ModelInfo(row.model_name, row.sha256 or None, row.size), pipeline_info(row),
                            time.time()))
    earlier = store.get_run(row.duplicate_of) if row.duplicate_of and not cancelled else None
    if earlier is None:
        where = "runner" if row.model_path or cancelled else "intake"
        journal.emit(Log("error", where, cancelled or row.error or f"the earlier run {row.duplicate_of} is gone"))
    return "cancelled" if cancelled else earlier.status if earlier else "error"


def pipeline_info(row: RunRow) -> PipelineInfo:
    if not row.pipeline_sha256:
        return PipelineInfo()
    try:
        wf = load(row.pipeline)
    except BenchdError:
        return PipelineInfo(file=row.pipeline, sha256=row.pipeline_sha256)
    return PipelineInfo(wf.name, str(wf.file), row.pipeline_sha256)


def patterns(settings: Settings) -> tuple[str, ...]:
    try:
        return load_workflow(find_workflow(settings.pipeline, settings.pipelines_dir)).paths
    except BenchdError:
        return ("*.tflite",)  # a broken pipeline still gets every drop an error result


def actions_launcher() -> ActionLauncher:
    return actions.launch


def boards(settings: Settings) -> BoardSource:
    def attached() -> Sequence[Any]:
        from daemon.boards.discovery import discover  # pyserial and esptool load only for board pipelines

        return discover(settings.boards, state=settings.state)

    return attached


def image_digest(settings: Settings) -> Callable[[str], str | None] | None:
    if settings.executor == "local":
        return None

    def digest(ref: str) -> str | None:
        from daemon.executors.container import local_digest  # the SDK loads only where Docker may be used

        return local_digest(ref)

    return digest


def sweep_containers(settings: Settings) -> None:
    """Containers left by a daemon that died (kill -9, power loss) are removed before anything runs."""
    if settings.executor == "local":
        return
    try:
        from daemon.executors.container import connect, remove_orphans

        client = connect(timeout=5)
    except (ImportError, BenchdError):
        return  # no engine: none of our containers can be running in it
    try:
        remove_orphans(client)
    finally:
        client.close()


def sweep_processes(settings: Settings) -> None:
    """Host step processes left by a daemon that died (and whose guard died too) are killed before anything
    runs: the ones recorded in state/processes/ (daemon.executors.reaper)."""
    from daemon.executors.reaper import reap_recorded

    killed = reap_recorded(settings.state)
    if killed:
        structlog.get_logger("daemon").warning("killed orphan step processes", pids=killed)


def reporters(settings: Settings, store: Store) -> list[Reporter]:
    from daemon.reporters.registry import build_reporters

    return build_reporters(settings, store)


def sidecar(text: str | None) -> tuple[dict[str, Any], str | None]:
    """MODEL.tflite.json beside the drop: its fields, or why it cannot be used."""
    if not text:
        return {}, None
    from daemon.reporters.sidecar import parse_sidecar

    try:
        return parse_sidecar(text), None
    except ReportError as exc:
        return {}, f"the sidecar .json beside the model: {exc}"


def journal(store: Store, reporters: Sequence[Reporter], row: RunRow, out: Path,
            progress: Subscriber | None = None) -> tuple[Journal, str | None]:
    """The run's journal with its subscribers (a live display too, given one), and why its sidecar
    cannot be used (None: it can)."""
    side, side_error = sidecar(row.sidecar)
    extra = [progress] if progress is not None else []
    return Journal(subscribers(store, reporters, row, out, side, extra)), side_error


def subscribers(store: Store, reporters: Sequence[Reporter], row: RunRow, out: Path, side: dict[str, Any],
                extra: Sequence[Subscriber] = ()) -> list[Subscriber]:
    """In order: the store, a live display, the reporters, and last the files reporter, so result.json
    carries what the other reporters noted."""
    info = RunInfo(row.id, row.model_name, row.sha256, out, side)
    return [StoreRecorder(store, row.id, out), *extra, *(JournalReporter(r, info) for r in reporters),
            FilesReporter(out)]
