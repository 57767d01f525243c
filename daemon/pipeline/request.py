"""What a run is asked to do (`RunRequest`) and what its jobs may use of the runner (`RunEnv`).

Jobs (pipeline/jobs.py) see the run only through `RunEnv`; the runner (pipeline/runner.py) gives each run
one (its `RunScope`). Both import this module and never each other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from daemon.executors import Choice
from daemon.pipeline.model import Workflow
from daemon.settings import Settings


class BoardInfo(Protocol):
    """What a run needs of an attached board (daemon.boards.discovery.Board has it)."""

    id: str
    chip: str
    quarantined: bool
    simulated: bool  # benchd's board simulator: where a `virt` image may go

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


class RunEnv(Protocol):
    """The runner as one run's jobs see it."""

    settings: Settings
    actions: ActionLauncher
    boards: BoardSource | None  # None: this daemon looks for no boards
    cancel: threading.Event  # set when the run is cancelled or the daemon stops: no new step starts
    reason: str | None  # why a user cancelled the run; None when the daemon stops (or nothing was cancelled)

    def select(self, container: str | None) -> Choice:
        """The executor for a job; the sessions it opens are stopped when the run is cancelled."""
        ...
