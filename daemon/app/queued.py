"""One job of the shared queue on this host: the run's state restored from the queue (model, pipeline, the
needed jobs' results, outputs and workspace), the job executed by the same pipeline code a local run uses,
and what it produced handed back for the fenced finish (events, outputs, logs and workspace as blobs).

Also the two things any host may do for a run: decide its waiting jobs once their needs are done (ready,
or skipped with the reason, as a local run would), and assemble its result once every job is done.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import structlog

from daemon.app.pipelines import Pipelines
from daemon.pipeline.jobs import RunContext
from daemon.pipeline.model import Workflow
from daemon.pipeline.request import RunRequest
from daemon.pipeline.runner import Runner, RunScope
from daemon.pipeline.workspace import CONTROL, WORKSPACE, Workspace
from daemon.record import (
    JobFinished,
    JobRecord,
    JobStarted,
    Journal,
    Log,
    ModelInfo,
    PipelineInfo,
    RunFinished,
    RunRecord,
    RunStarted,
)
from daemon.record.eventcodec import dump_event, load_event
from daemon.record.layout import result_dir
from daemon.record.status import worst
from daemon.reporters.files import FilesReporter
from daemon.reporters.reporter import JournalReporter, Reporter, RunInfo
from daemon.settings import Settings
from daemon.store.queue import Claim, JobState, Queue
from daemon.store.snapshots import snapshot_pipeline

_log = structlog.get_logger("queue")
QUEUE_DIR = "queue"  # state/queue/: models restored from blobs, job folders


class Collector:
    """A journal subscriber that keeps the job's events, to be replayed where the run is assembled."""

    name = "collector"

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def on_event(self, event: Any, record: RunRecord) -> None:
        self.events.append(dump_event(event))


@dataclass
class RunState:
    """A run as the queue holds it, with its pipeline and model restored on this host."""

    row: dict[str, Any]
    jobs: list[JobState]
    workflow: Workflow
    model_path: Path

    @property
    def run_id(self) -> str:
        return str(self.row["id"])

    def request(self, out_dir: Path) -> RunRequest:
        return RunRequest(self.run_id, self.model_path, self.row["model_name"], self.row["model_sha256"],
                          int(self.row["model_size"]), self.workflow, out_dir)

    def restore(self, ctx: RunContext) -> None:
        """The results and outputs of the jobs done so far, as a local run would have them."""
        for job in self.jobs:
            if job.state == "done":
                ctx.job_results[job.name] = job.status or "error"
                ctx.job_outputs[job.name] = dict(job.result.get("outputs") or {})
                origin = job.result.get("skip_origin")
                if origin:
                    ctx.skip_origins[job.name] = (origin[0], origin[1])


@dataclass
class Produced:
    status: str
    result: dict[str, Any] = field(default_factory=dict)
    workspace: str | None = None


def load_run(settings: Settings, queue: Queue, pipelines: Pipelines, run_id: str) -> RunState:
    row = queue.run(run_id)
    if row is None:
        raise KeyError(f"run {run_id} is not in the queue")
    snapshot_pipeline(settings.state, queue.get_blob(row["pipeline_sha256"]))
    workflow = pipelines.of_run(row["pipeline_file"], row["pipeline_sha256"])
    model = settings.state / QUEUE_DIR / "models" / row["model_sha256"] / Path(row["model_name"]).name
    if not model.is_file():
        model.parent.mkdir(parents=True, exist_ok=True)
        tmp = model.with_name(".incoming")
        tmp.write_bytes(queue.get_blob(row["model_sha256"]))
        tmp.replace(model)
    return RunState(row, queue.jobs(run_id), workflow, model)


# -- executing one job ------------------------------------------------------------------------------------
def job_logs(settings: Settings, claim: Claim) -> Path:
    """Where a claimed job's step logs are written on this host (streamed from there, see app/logship.py)."""
    return settings.state / QUEUE_DIR / "jobs" / f"{claim.job_id}-{claim.attempt}" / "out"


def execute_job(settings: Settings, queue: Queue, runner: Runner, run: RunState, claim: Claim,
                boards: Sequence[Any], on_scope: Callable[[RunScope], None],
                last_logs: Callable[[], None] | None = None) -> Produced:
    """Run the claimed job here. `boards`: what `boards.<kind>` holds for it (the leased board, or none)."""
    out_dir = job_logs(settings, claim)
    folder = out_dir.parent
    shutil.rmtree(folder, ignore_errors=True)
    out_dir.mkdir(parents=True)
    root = folder / "run"
    root.mkdir()
    needs = set(run.workflow.jobs[claim.name].needs)
    for job in run.jobs:  # in the workflow's order: a later job's files win, as in one shared workspace
        if job.name in needs and job.workspace:
            unpack(queue.get_blob(job.workspace), root / WORKSPACE)
    workspace = _opened(root / WORKSPACE)
    scope = RunScope(runner, run.run_id)
    scope.boards = (lambda: list(boards)) if boards else None
    on_scope(scope)
    collector = Collector()
    journal = Journal([collector])
    log = _log.bind(run=run.run_id, job=claim.name, attempt=claim.attempt)
    ctx = RunContext(scope, run.request(out_dir), workspace, out_dir, journal, log)
    run.restore(ctx)
    try:
        status = ctx.execute_job(run.workflow.jobs[claim.name])
    except Exception as exc:  # the job must end in a result whatever broke
        log.exception("job crashed")
        journal.emit(Log("error", claim.name, f"internal error: {exc}", kind="infra"))
        status = "error"
    finally:
        workspace.close()
    if scope.reason is not None:
        status = "cancelled"
    if last_logs is not None:
        last_logs()  # the streamed copy complete before the folder goes
    logs = {str(p.relative_to(out_dir)): queue.put_blob(p.read_bytes())
            for p in sorted(out_dir.rglob("*")) if p.is_file() and not p.is_symlink()}
    origin = ctx.skip_origins.get(claim.name)
    result = {"status": status, "outputs": ctx.job_outputs.get(claim.name, {}), "events": collector.events,
              "logs": logs, "skip_origin": list(origin) if origin else None}
    packed = queue.put_blob(pack(root / WORKSPACE))
    shutil.rmtree(folder, ignore_errors=True)
    return Produced(status, result, packed)


def pack(workspace: Path) -> bytes:
    """The workspace as a tar: links kept as links (never followed), special files and the control folder
    left out."""
    buffer = io.BytesIO()

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if info.name == CONTROL or info.name.startswith(CONTROL + "/"):
            return None
        return info if info.isfile() or info.isdir() or info.issym() else None

    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        for entry in sorted(workspace.iterdir()) if workspace.is_dir() else []:
            tar.add(entry, arcname=entry.name, recursive=True, filter=keep)
    return buffer.getvalue()


def unpack(data: bytes, workspace: Path) -> None:
    """A workspace from another host: hostile as anything a step wrote, so tarfile's `data` filter refuses
    absolute paths, `..`, links that leave the folder and special files."""
    workspace.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(workspace, filter="data")


# -- deciding waiting jobs ----------------------------------------------------------------------------------
class _Idle:
    """A RunEnv for deciding: nothing runs, nothing is cancelled."""

    def __init__(self, settings: Settings) -> None:
        import threading

        self.settings, self.actions, self.boards = settings, _no_actions, None
        self.cancel, self.reason = threading.Event(), None

    def select(self, container: str | None) -> Any:
        raise RuntimeError("deciding a job never runs one")


def decide(settings: Settings, queue: Queue, run: RunState) -> int:
    """Waiting jobs whose needs are all done: ready, or skipped now with the reason a local run would give
    (and the jobs after them, in the same pass). Returns the jobs changed."""
    out_dir = settings.state / QUEUE_DIR / "deciding"
    ctx = RunContext(_Idle(settings), run.request(out_dir), _NoWorkspace(), out_dir, Journal(), _log)  # type: ignore[arg-type]
    run.restore(ctx)
    state = {j.name: j.state for j in run.jobs}
    ready: list[str] = []
    skipped: dict[str, dict[str, Any]] = {}
    for job in run.jobs:
        if state[job.name] != "waiting" or any(state.get(n) != "done" for n in job.needs):
            continue
        wf_job = run.workflow.jobs[job.name]
        if ctx.will_run(wf_job):
            ready.append(job.name)
            continue
        collector = Collector()
        ctx.journal = Journal([collector])
        status = ctx.execute_job(wf_job)  # only tells the skip: no step runs
        ctx.job_results[job.name] = status
        ctx.job_outputs.setdefault(job.name, {})
        origin = ctx.skip_origins.get(job.name)
        skipped[job.name] = {"status": status, "outputs": {}, "events": collector.events, "logs": {},
                             "skip_origin": list(origin) if origin else None}
        state[job.name] = "done"
    if not ready and not skipped:
        return 0
    return queue.decide(run.run_id, ready, skipped)


class _NoWorkspace:
    path = Path("/nonexistent")


def _no_actions(name: str) -> tuple[str, ...]:
    raise KeyError(name)


# -- assembling the result ----------------------------------------------------------------------------------
def assemble(settings: Settings, queue: Queue, run: RunState, reporters: Sequence[Reporter] = ()) -> RunRecord:
    """Every job done: the run's story told once, in the workflow's order, to the files reporter (result.json
    and the logs in this host's results folder) and stored in the queue."""
    row = run.row
    out = result_dir(settings.results, row["model_name"], run.run_id)
    out.mkdir(parents=True, exist_ok=True)
    info = RunInfo(run.run_id, row["model_name"], row["model_sha256"], out, {})
    journal = Journal([*(JournalReporter(r, info) for r in reporters), FilesReporter(out)])
    started = row["submitted_at"].timestamp()
    journal.emit(RunStarted(run.run_id, ModelInfo(row["model_name"], row["model_sha256"], int(row["model_size"])),
                            PipelineInfo(run.workflow.name, str(run.workflow.file), row["pipeline_sha256"]), started))
    for job in run.jobs:
        events = job.result.get("events")
        if events:
            for event in map(load_event, events):
                if isinstance(event, JobStarted) and job.host:  # where and which attempt ran it
                    event = JobStarted(replace(event.job, host=job.host, attempt=job.attempt, board=job.board_id))
                journal.emit(event)
        else:  # ended by the queue (out of attempts): no host told its story
            message = "; ".join(e.get("message", "") for e in job.result.get("errors", [])) or "no result"
            journal.emit(JobStarted(JobRecord(job.name, "error")))
            journal.emit(Log("error", job.name, message, kind="infra"))
            journal.emit(JobFinished(job.name, job.status or "error", {}))
        for rel, sha in (job.result.get("logs") or {}).items():
            target = (out / rel).resolve()
            if target.is_relative_to(out.resolve()):
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(queue.get_blob(sha))
    _copy_artifacts(queue, run, out)
    counted = [j.status or "error" for j in run.jobs if not run.workflow.jobs[j.name].continue_on_error]
    status = worst(counted)
    status = "success" if status in ("success", "skipped") else status
    now = time.time()
    record = journal.emit(RunFinished(status, now, now - started))
    queue.finish_run(run.run_id, record.status, record.to_dict())
    return record


def _opened(path: Path) -> Workspace:
    """A workspace over what was unpacked there (or a new one), with a fresh control folder."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(path / CONTROL, ignore_errors=True)
    (path / CONTROL).mkdir(mode=0o755)
    return Workspace(path, made=True)


def _copy_artifacts(queue: Queue, run: RunState, out: Path) -> None:
    """The run's artifacts/ as one shared workspace would have held them at the end."""
    folder = out.parent / f".assembling-{run.run_id}"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        for job in run.jobs:
            if job.workspace:
                unpack(queue.get_blob(job.workspace), folder)
        workspace = _opened(folder)
        try:
            workspace.copy_artifacts(out)
        finally:
            workspace.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
