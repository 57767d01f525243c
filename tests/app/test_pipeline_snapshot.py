"""A run executes the pipeline it was queued with: intake snapshots the file, content-addressed, and the run's
hash is the hash of what ran (issue 18: an edit while queued ran the new file under the old hash)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from daemon.app.service import Daemon
from daemon.intake.intake import Duplicate, Queued
from daemon.settings import Settings

WORKFLOW = """\
name: versioned
on:
  model_dropped: { paths: ["*.tflite"] }
jobs:
  mark:
    steps:
      - run: echo "{version}" >> "{marks}"
"""


def write_pipeline(path: Path, version: str, marks: Path) -> str:
    text = WORKFLOW.replace("{version}", version).replace("{marks}", str(marks))
    path.write_text(text)
    return hashlib.sha256(text.encode()).hexdigest()


def queue_one(tmp_path: Path, samples: dict[str, Path], version: str) -> tuple[Daemon, Queued, Path, str]:
    """A daemon (not started) whose pipeline at `version` has decided one drop: it waits in the queue."""
    marks, pipeline = tmp_path / "marks.txt", tmp_path / "versioned.yml"
    sha = write_pipeline(pipeline, version, marks)
    (tmp_path / "inbox").mkdir()
    settings = Settings(inbox=tmp_path / "inbox", results=tmp_path / "results", state=tmp_path / "state",
                        pipeline=str(pipeline), stable_s=0.2, executor="local")
    drop = tmp_path / "inbox" / "kws.tflite"
    shutil.copy(samples["kws_xs.tflite"], drop)
    daemon = Daemon(settings)
    queued = daemon.drop(drop)  # decided and queued; no worker runs yet
    assert isinstance(queued, Queued)
    return daemon, queued, marks, sha


def test_an_edit_while_queued_does_not_change_what_the_run_executes(tmp_path: Path, samples: dict[str, Path]) -> None:
    daemon, queued, marks, old_sha = queue_one(tmp_path, samples, "old")
    settings, pipeline = daemon.settings, Path(daemon.settings.pipeline)
    new_sha = write_pipeline(pipeline, "new", marks)  # edited while the run waits
    daemon.start(watch=False)
    try:
        assert daemon.wait_idle(60)
    finally:
        daemon.stop()
    assert marks.read_text().split() == ["old"], "the run executed the pipeline it was queued with"
    result = json.loads(next((tmp_path / "results").glob(f"*/{queued.run_id}/result.json")).read_text())
    assert result["status"] == "success" and result["pipeline"]["sha256"] == old_sha
    assert result["pipeline"]["file"] == str(pipeline), "named as its source file, not the snapshot"

    again = Daemon(settings)  # the same content dropped again: a duplicate only under the pipeline that ran
    second = tmp_path / "inbox" / "kws-again.tflite"
    shutil.copy(samples["kws_xs.tflite"], second)
    under_new = again.intake.decide(second, move=False)
    assert isinstance(under_new, Queued), "the old run never ran the new pipeline"
    write_pipeline(pipeline, "old", marks)
    third = tmp_path / "inbox" / "kws-third.tflite"
    shutil.copy(samples["kws_xs.tflite"], third)
    under_old = again.intake.decide(third, move=False)
    assert isinstance(under_old, Duplicate) and under_old.of_run == queued.run_id
    assert new_sha != old_sha


def test_a_queued_run_whose_snapshot_is_gone_ends_error_saying_so(tmp_path: Path, samples: dict[str, Path]) -> None:
    daemon, queued, marks, sha = queue_one(tmp_path, samples, "old")
    settings = daemon.settings
    (settings.state / "pipelines" / f"{sha}.yml").unlink()
    restarted = Daemon(settings)  # a new process: nothing parsed in memory, only what the state folder holds
    row = restarted.store.claim_run(queued.run_id)
    assert row is not None
    record = restarted.execute(row)
    assert record.status == "error" and not marks.exists()
    assert "snapshot of pipeline" in record.errors[0].message and "drop the model again" in record.errors[0].message
    assert record.errors[0].kind == "infra"  # the state folder lost it: not the model's fault
