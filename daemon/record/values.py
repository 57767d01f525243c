"""The run record (ARCHITECTURE §4, result.json schema 1) as typed, immutable values.

Lists are tuples so a record handed to a reporter cannot change under it; blocks of free-form JSON
(a job's outputs, a tensor description) stay plain dicts and lists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from daemon.record.codec import Record, omitted
from daemon.record.status import RUN_DONE, Status

SCHEMA = 1
STATUSES = tuple(Status)
DONE = RUN_DONE
# A step's exit code for "this job does not apply to this input" (Drone CI's convention): the job ends
# `skipped` with the step's last line as the reason, and the jobs that need it are skipped with that reason.
SKIP_EXIT = 78


@dataclass(frozen=True)
class ModelInfo(Record):
    name: str | None = None
    sha256: str | None = None
    size: int = 0
    inputs: tuple[Any, ...] = ()
    outputs: tuple[Any, ...] = ()
    operators: tuple[Any, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # what benchd/inspect adds (quantized, tensors…)


@dataclass(frozen=True)
class PipelineInfo(Record):
    name: str | None = None
    file: str | None = None
    sha256: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageRef(Record):
    ref: str = ""
    digest: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorEntry(Record):
    where: str = ""
    message: str = ""
    # errors only: infra | test | model | cancelled (errorkind.py); absent in warnings and in older files
    kind: str | None = omitted()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepRecord(Record):
    id: str = ""
    name: str | None = None
    status: str = "skipped"
    duration_s: float = 0.0
    exit_code: int | None = None
    error: str | None = None
    log: str | None = omitted()  # relative to the result folder
    log_truncated: bool | None = omitted()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobRecord(Record):
    id: str = ""
    status: str = "queued"
    executor: str | None = None  # local | docker
    image: ImageRef | None = None
    steps: tuple[StepRecord, ...] = ()
    outputs: dict[str, str] = field(default_factory=dict)
    matrix: dict[str, Any] | None = omitted()
    skip_reason: str | None = omitted()
    warning: str | None = omitted()
    host: str | None = omitted()  # the shared queue's host that ran it
    attempt: int | None = omitted()  # and which attempt that was (a lost host's job runs again)
    board: str | None = omitted()  # the board it was leased
    extra: dict[str, Any] = field(default_factory=dict)

    def with_step(self, step: StepRecord, index: int) -> JobRecord:
        steps = list(self.steps)
        steps[index:index + 1] = [step]
        return replace(self, steps=tuple(steps))


@dataclass(frozen=True)
class HostMetrics(Record):
    latency_ms: float | None = omitted()  # median per inference
    latency_p95_ms: float | None = omitted()
    max_abs_diff: int | None = omitted()
    top1_agreement: float | None = omitted()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReferenceCMetrics(Record):
    arena_bytes: int | None = omitted()
    arena_lower_bound_bytes: int | None = omitted()
    constants_bytes: int | None = omitted()
    operators: int | None = omitted()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VirtualMetrics(Record):
    backend: str | None = omitted()  # reference-c | tvm
    instructions: int | None = omitted()  # median per inference
    rom_bytes: int | None = omitted()
    ram_bytes: int | None = omitted()
    arena_bytes: int | None = omitted()
    vectors: int | None = omitted()
    bit_exact: int | None = omitted()
    outputs: tuple[Any, ...] | None = omitted()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BoardResult(Record):
    id: str | None = omitted()
    port: str | None = omitted()
    chip: str | None = omitted()
    mac: str | None = omitted()
    status: str | None = omitted()
    flash_s: float | None = omitted()
    cycles_per_inference: int | None = omitted()
    instructions: int | None = omitted()
    top: tuple[Any, ...] | None = omitted()
    outputs: tuple[Any, ...] | None = omitted()
    bit_exact: int | None = omitted()
    backend: str | None = omitted()  # reference-c | tvm: whose archive the firmware was built from
    vectors: int | None = omitted()  # how many inputs the outputs were checked on (bit_exact of vectors)
    rom_bytes: int | None = omitted()  # the firmware image, from the build's map file
    ram_bytes: int | None = omitted()  # static internal SRAM, from the map file
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Metrics(Record):
    host: HostMetrics = field(default_factory=HostMetrics)
    boards: tuple[BoardResult, ...] = ()
    reference_c: ReferenceCMetrics | None = omitted()
    virtual: VirtualMetrics | None = omitted()
    # backend (reference-c, tvm) -> its figures on the virtual core, side by side when both archives exist
    virtual_matrix: dict[str, Any] | None = omitted()
    extra: dict[str, Any] = field(default_factory=dict)  # sections an action of a workflow adds


@dataclass(frozen=True)
class RunRecord(Record):
    schema: int = SCHEMA
    run_id: str = ""
    status: str = "running"
    model: ModelInfo = field(default_factory=ModelInfo)
    pipeline: PipelineInfo = field(default_factory=PipelineInfo)
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float = 0.0
    jobs: tuple[JobRecord, ...] = ()
    metrics: Metrics = field(default_factory=Metrics)
    errors: tuple[ErrorEntry, ...] = ()
    warnings: tuple[ErrorEntry, ...] = ()  # notes that did not fail the run (additive to schema 1)
    duplicate_of: str | None = omitted()  # the earlier run of the same content and pipeline
    duplicate_result: str | None = omitted()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in DONE

    def job(self, job_id: str) -> JobRecord | None:
        return next((j for j in self.jobs if j.id == job_id), None)

    def with_job(self, job: JobRecord) -> RunRecord:
        """Replace the job of the same id, or append it."""
        jobs = [job if j.id == job.id else j for j in self.jobs]
        if not any(j.id == job.id for j in self.jobs):
            jobs.append(job)
        return replace(self, jobs=tuple(jobs))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> RunRecord:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ValueError(f"not a benchd result.json of schema {SCHEMA}")
        return cls.from_dict(data)
