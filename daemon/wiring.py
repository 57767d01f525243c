"""The composition root: what the service hands to intake, the runner and the journal.

The only module besides the CLI that knows every package; the layers below it (intake, pipeline,
executors, record) get what they need as plain callables and values (import-linter keeps it so).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog

from daemon import actions
from daemon.errors import BenchdError, ReportError
from daemon.intake.intake import PipelineRef
from daemon.pipeline.loader import find_workflow, load_workflow
from daemon.pipeline.model import Workflow
from daemon.pipeline.runner import ActionLauncher, BoardSource
from daemon.record import PipelineInfo, Subscriber
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


def subscribers(store: Store, reporters: Sequence[Reporter], row: RunRow, out: Path, side: dict[str, Any],
                extra: Sequence[Subscriber] = ()) -> list[Subscriber]:
    """In order: the store, a live display, the reporters, and last the files reporter, so result.json
    carries what the other reporters noted."""
    info = RunInfo(row.id, row.model_name, row.sha256, out, side)
    return [StoreRecorder(store, row.id, out), *extra, *(JournalReporter(r, info) for r in reporters),
            FilesReporter(out)]
