"""Workflow records: plain typed data, no I/O (as act's pkg/model). The loader builds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Step:
    index: int
    id: str  # given `id`, else "step-<n>"
    name: str
    line: int  # where it stands in the workflow file
    run: str | None = None
    uses: str | None = None  # "benchd/<action>"
    with_: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    if_: str | None = None
    timeout_minutes: float | None = None
    continue_on_error: bool = False
    working_directory: str | None = None

    @property
    def action(self) -> str | None:
        return self.uses.split("/", 1)[1] if self.uses else None


@dataclass(frozen=True)
class Job:
    id: str
    name: str
    line: int
    steps: tuple[Step, ...]
    needs: tuple[str, ...] = ()
    if_: str | None = None
    runs_on: str = "host"  # the placement: host | board:<kind>
    container: str | None = None  # image ref
    network: str = "none"  # container network, from `container: {image, network}`
    timeout_minutes: float | None = None
    continue_on_error: bool = False
    matrix: dict[str, Any] = field(default_factory=dict)  # name -> list or "${{ … }}"
    fail_fast: bool = True
    env: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    # every `runs-on` label as written, the placement first (`board:esp32c3`, `flash=4MB`); () means (runs_on,)
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.labels:
            object.__setattr__(self, "labels", (self.runs_on,))


@dataclass(frozen=True)
class Workflow:
    name: str
    file: Path
    sha256: str
    paths: tuple[str, ...]  # on.model_dropped.paths
    env: dict[str, str]
    jobs: dict[str, Job]
