"""What the runner says while a run goes on. The journal folds these into the RunRecord;
reporters and the store subscribe to the journal. The runner knows nothing else of reporting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from daemon.record.errorkind import ERROR_KINDS
from daemon.record.values import ImageRef, JobRecord, ModelInfo, PipelineInfo, StepRecord


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    model: ModelInfo
    pipeline: PipelineInfo
    started_at: float  # epoch seconds


@dataclass(frozen=True)
class JobStarted:
    job: JobRecord  # id, executor, matrix; status `running`, or `skipped` with the reason


@dataclass(frozen=True)
class StepStarted:
    job_id: str
    index: int
    step: StepRecord  # status `running`, with its log path


@dataclass(frozen=True)
class StepFinished:
    job_id: str
    index: int
    step: StepRecord
    metrics: tuple[dict[str, Any], ...] = ()  # sections the step's action recorded (host, boards, model…)
    summary: str = ""  # Markdown the step appended to $BENCHD_SUMMARY
    warnings: tuple[str, ...] = ()  # ::warning:: lines


@dataclass(frozen=True)
class JobFinished:
    job_id: str
    status: str
    outputs: dict[str, str]
    image: ImageRef | None = None
    skip_reason: str | None = None


@dataclass(frozen=True)
class MetricsRecorded:
    metrics: tuple[dict[str, Any], ...]  # sections found outside a step (quarantined boards at the run's start)


@dataclass(frozen=True)
class Log:
    level: str  # error | warning
    where: str  # job/step, intake, pipeline, report/<name>…
    message: str
    kind: str | None = None  # an error's kind (ERROR_KINDS) when its producer knows it; else the journal infers it

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in ERROR_KINDS:
            raise ValueError(f"error kind {self.kind!r} is none of {', '.join(ERROR_KINDS)}")


@dataclass(frozen=True)
class RunFinished:
    status: str
    finished_at: float
    duration_s: float
    duplicate_of: str | None = None
    duplicate_result: str | None = None


Event = (RunStarted | JobStarted | StepStarted | StepFinished | JobFinished | MetricsRecorded | Log
         | RunFinished)
