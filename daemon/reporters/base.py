"""The reporter seam: each reporter is told when a run starts and gets its result when it ends.

A failing reporter is logged and recorded; it never changes the run's own status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


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

    def report(self, run: RunInfo, result: dict[str, Any]) -> None: ...
