"""The executor seam: where a job's steps run. The runner knows only these types."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class JobSpec:
    """What an executor needs to know to open the place a job runs in."""

    run_id: str
    job_id: str
    workspace: Path  # per run, read-write, shared by the run's jobs (same path inside a container)
    model: Path  # the dropped model, read-only (same path inside a container)
    image: str | None = None  # container image ref, None for host jobs
    network: str = "none"  # container network; "none" unless the workflow asks
    timeout_s: float = 1800.0  # the whole job
    private: tuple[str, ...] = ()  # top-level workspace names that stay the daemon's (its control folder)


@dataclass(frozen=True)
class StepCommand:
    """One process to run: argv (never a shell string built from names), env, cwd, a log file."""

    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    timeout_s: float


@dataclass
class StepOutcome:
    exit_code: int | None  # None when the process never started or was killed
    duration_s: float
    timed_out: bool = False
    error: str | None = None  # why the step could not run or was stopped; None on a plain exit
    log_truncated: bool = False
    errors: list[str] = field(default_factory=list)  # `::error::` lines the step printed
    warnings: list[str] = field(default_factory=list)  # `::warning::` lines the step printed
    last_line: str = ""  # the last non-empty output line


class JobSession(Protocol):
    """One open job: a process group on the host or one container."""

    image_digest: str | None
    owner: tuple[int, int] | None  # uid, gid the daemon's files for a step must have; None: the daemon's own

    def run_step(self, command: StepCommand) -> StepOutcome: ...

    def cancel(self, force: bool = False) -> None:
        """Stop the running step from another thread (its run was cancelled): SIGTERM then SIGKILL after a
        grace period, or at once with force. The step returns with exit_code None; later steps do not run."""
        ...

    def close(self) -> None: ...


class Executor(Protocol):
    name: str

    def open_job(self, spec: JobSpec) -> JobSession: ...

    def kill_all(self) -> None:
        """Stop every open job's running step (the daemon is stopping); their runs are queued again."""
        ...
