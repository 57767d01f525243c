"""A model into the shared queue: its bytes and its pipeline's bytes as blobs (any host restores them), the run
planned into one job row per workflow job, each with the labels of its `runs-on`.

Used by `benchd submit`, `POST /runs` and, with `[queue] url` set, by `benchd watch`'s inbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from daemon import actions
from daemon.errors import BenchdError, ModelError
from daemon.modelfile import check_model
from daemon.pipeline import planner
from daemon.pipeline.loader import find_workflow, load_workflow
from daemon.pipeline.model import Workflow
from daemon.settings import Settings
from daemon.store.db import new_run_id
from daemon.store.queue import NewJob, NewRun, Queue


@dataclass(frozen=True)
class Submitted:
    run_id: str
    jobs: int
    model_sha256: str


def plan(workflow: Workflow) -> tuple[NewJob, ...]:
    """One job row per workflow job, in the workflow's order (matrix instances run together on one host)."""
    return tuple(NewJob(job_id, seq, tuple(workflow.jobs[job_id].needs), tuple(workflow.jobs[job_id].labels))
                 for seq, job_id in enumerate(planner.job_order(workflow)))


def submit_model(settings: Settings, queue: Queue, model: Path, pipeline: str | None = None,
                 submitted_by: str = "", priority: int = 0, name: str | None = None) -> Submitted:
    """Queue one run of `model` (a .tflite file) under `pipeline` (a name or a file; default: the configured
    one). ModelError / BenchdError with a sentence for a file or pipeline that cannot be used."""
    limit = int(settings.max_model_mb * 1e6)
    try:
        size = model.stat().st_size
    except OSError as exc:
        raise ModelError(f"{model}: cannot read the model: {exc.strerror}") from exc
    if size > limit:
        raise ModelError(f"{model.name} is {size / 1e6:.1f} MB, over the limit of {limit / 1e6:.1f} MB")
    data = model.read_bytes()
    if not check_model(model) and settings.float_models == "reject":
        raise ModelError("the model is not int8-quantized (float32 tensors): quantize it for the microcontroller")
    file = find_workflow(pipeline or settings.pipeline, settings.pipelines_dir)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise BenchdError(f"{file}: cannot read the workflow: {exc.strerror}") from exc
    return queue_run(settings, queue, new_run_id(), name or model.name, data, file, raw, file, submitted_by,
                     priority)


def queue_run(settings: Settings, queue: Queue, run_id: str, model_name: str, data: bytes, pipeline: Path,
              raw: bytes, shown_as: Path, submitted_by: str, priority: int = 0) -> Submitted:
    """The model's and the pipeline's bytes (`raw`, read from `pipeline`, named `shown_as`) as blobs, the run
    planned into jobs. A run id already in the queue is left as it is (a drop forwarded again after a restart)."""
    workflow = load_workflow(pipeline, actions.ACTIONS, shown_as=shown_as)
    model_sha = queue.put_blob(data)
    pipeline_sha = queue.put_blob(raw)
    run = NewRun(run_id, model_name, model_sha, len(data), str(shown_as), pipeline_sha, plan(workflow),
                 priority=priority, submitted_by=submitted_by, max_attempts=settings.queue.max_attempts)
    queue.submit(run)
    return Submitted(run.id, len(run.jobs), model_sha)
