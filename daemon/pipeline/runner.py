"""Run one workflow for one model: jobs in order, each in its executor; the run's story told as events.

The runner emits events into the run's journal (daemon.record) and knows nothing else of reporting;
the service emits RunFinished once the run's outcome is settled. Everything the run creates lives in
state/runs/<run-id>/ and is removed in `finally`; what is kept (logs, artifacts) goes to the result folder.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog

from daemon.executors import ExecutorSelector
from daemon.pipeline.jobs import RunContext
from daemon.pipeline.model import Workflow
from daemon.pipeline.workspace import Workspace
from daemon.record import Journal, Log, ModelInfo, PipelineInfo, RunStarted
from daemon.settings import Settings

_log = structlog.get_logger("runner")


class BoardInfo(Protocol):
    """What the runner needs of an attached board (daemon.boards.discovery.Board has it)."""

    id: str
    chip: str
    quarantined: bool

    def to_dict(self) -> dict[str, Any]: ...


ActionLauncher = Callable[[str], tuple[str, ...]]  # action name -> argv of its step process (KeyError: unknown)
BoardSource = Callable[[], Sequence[BoardInfo]]


@dataclass(frozen=True)
class RunRequest:
    run_id: str
    model_path: Path  # the snapshot this run works on
    model_name: str
    sha256: str
    size: int
    workflow: Workflow
    result_dir: Path  # results/<stem>/<run-id>/: logs and artifacts land here


class Runner:
    def __init__(self, settings: Settings, selector: ExecutorSelector | None = None,
                 actions: ActionLauncher | None = None, boards: BoardSource | None = None) -> None:
        self.settings = settings
        self.selector = selector or ExecutorSelector(settings)
        self.actions = actions or _no_actions
        self.boards = boards
        self.cancel = threading.Event()  # set when the daemon stops: no new step starts

    def execute(self, req: RunRequest, journal: Journal) -> str:
        """Run every job; returns the run's status. Emits RunStarted … JobFinished, never RunFinished."""
        out_dir = req.result_dir.resolve()
        run_root = (self.settings.state / "runs" / req.run_id).resolve()
        workspace = Workspace(run_root / "workspace")  # fresh: a re-run after a crash starts clean
        wf = req.workflow
        log = _log.bind(run=req.run_id, model=req.model_name)
        journal.emit(RunStarted(req.run_id, ModelInfo(req.model_name, req.sha256, req.size),
                                PipelineInfo(wf.name, str(wf.file), wf.sha256), time.time()))
        log.info("run started", pipeline=wf.name)
        try:
            status = RunContext(self, req, workspace, out_dir, journal, log).execute_jobs()
            for note in workspace.copy_artifacts(out_dir):  # links kept as links, never followed
                journal.emit(Log("warning", "runner/artifacts", note))
        except Exception as exc:  # the run must end in a result whatever broke
            log.exception("run crashed")
            journal.emit(Log("error", "runner", f"internal error: {exc}"))
            status = "error"
        finally:
            workspace.close()
            shutil.rmtree(run_root, ignore_errors=True)
        if status == "cancelled":
            journal.emit(Log("error", "runner", "cancelled: benchd is stopping"))
        log.info("run done", status=status)
        return status


def _no_actions(name: str) -> tuple[str, ...]:
    raise KeyError(name)
