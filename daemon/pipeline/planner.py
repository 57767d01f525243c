"""Plan a workflow: jobs in dependency order, matrices expanded against the run's context."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from daemon.errors import PipelineError
from daemon.pipeline import expr
from daemon.pipeline.model import Job, Workflow


@dataclass(frozen=True)
class JobInstance:
    job: Job
    key: str  # "flash" or "flash (board-a)" for a matrix instance
    matrix: dict[str, Any] = field(default_factory=dict)


def job_order(workflow: Workflow) -> list[str]:
    """Jobs sorted so that every job comes after what it needs (stable: file order otherwise)."""
    done: list[str] = []
    pending = list(workflow.jobs)
    while pending:
        ready = [j for j in pending if all(n in done for n in workflow.jobs[j].needs)]
        if not ready:  # the loader rejects cycles; this guards direct callers
            raise PipelineError(f"`needs` form a cycle among {', '.join(pending)}")
        done.append(ready[0])
        pending.remove(ready[0])
    return done


def expand(job: Job, ctx: expr.Context) -> tuple[list[JobInstance], str | None]:
    """The job's instances, or ([], reason) when the matrix has nothing to run on."""
    if not job.matrix:
        return [JobInstance(job, job.id)], None
    axes: dict[str, list[Any]] = {}
    for name, value in job.matrix.items():
        values = expr.render(value, ctx) if isinstance(value, str) else value
        if values is None:
            values = []
        if not isinstance(values, list):
            values = [values]
        if not values:
            source = value if isinstance(value, str) else "[]"
            return [], f"matrix `{name}` is empty ({source.strip()}): nothing to run on"
        axes[name] = values
    instances = []
    for combo in itertools.product(*axes.values()):
        matrix = dict(zip(axes, combo, strict=True))
        label = ", ".join(expr.to_text(v) for v in combo)
        instances.append(JobInstance(job, f"{job.id} ({label})", matrix))
    return instances, None
