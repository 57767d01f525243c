"""Keeps the store's jobs and steps tables in step with a run's journal (for status, the dashboard
and restart recovery); result.json is the files reporter's, not this."""

from __future__ import annotations

import time
from pathlib import Path

from daemon.record import Event, JobFinished, JobStarted, RunRecord, StepFinished, StepStarted
from daemon.store.db import Store


class StoreRecorder:
    name = "store"

    def __init__(self, store: Store, run_id: str, result_dir: Path) -> None:
        self.store = store
        self.run_id = run_id
        self.result_dir = result_dir

    def on_event(self, event: Event, record: RunRecord) -> None:
        now = time.time()
        match event:
            case JobStarted(job=job):
                self.store.set_job(self.run_id, job.id, status=job.status, executor=job.executor,
                                   image_ref=job.image.ref if job.image else None, started_at=now)
            case StepStarted(job_id=job_id, index=index, step=step):
                log = str(self.result_dir / step.log) if step.log else None
                self.store.set_step(self.run_id, job_id, index, step_id=step.id, status="running", log_path=log,
                                    started_at=now)
            case StepFinished(job_id=job_id, index=index, step=step):
                self.store.set_step(self.run_id, job_id, index, step_id=step.id, status=step.status,
                                    exit_code=step.exit_code, error=step.error, finished_at=now)
            case JobFinished(job_id=job_id, status=status, image=image):
                self.store.set_job(self.run_id, job_id, status=status, finished_at=now,
                                   **({"image_digest": image.digest} if image else {}))
