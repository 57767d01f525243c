"""The reporter seam: each reporter is told when a run starts and gets its typed record when it ends.

Reporters are journal subscribers through `JournalReporter`; a failing reporter is noted in the
record's errors (`report/<name>`) by the journal and never changes the run's own status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from daemon.record import Event, RunFinished, RunRecord, RunStarted


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    model_name: str
    sha256: str
    result_dir: Path  # results/<stem>/<run-id>/
    sidecar: dict[str, Any] = field(default_factory=dict)  # MODEL.tflite.json beside the drop, if any


class Reporter(Protocol):
    name: str

    def on_start(self, run: RunInfo) -> None: ...

    def report(self, run: RunInfo, record: RunRecord) -> None: ...


class JournalReporter:
    """Subscribes one reporter to a run's journal: RunStarted → on_start, RunFinished → report."""

    def __init__(self, reporter: Reporter, info: RunInfo) -> None:
        self.reporter = reporter
        self.info = info
        self.name = reporter.name

    def on_event(self, event: Event, record: RunRecord) -> None:
        if isinstance(event, RunStarted):
            self.reporter.on_start(self.info)
        elif isinstance(event, RunFinished):
            self.reporter.report(self.info, record)
