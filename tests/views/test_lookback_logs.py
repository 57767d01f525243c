"""`benchd logs RUN JOB[/STEP]`: a matrix job by its name, a step by id, number or action."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.errors import BenchdError
from daemon.record import JobRecord, RunRecord, StepRecord
from daemon.store.rows import RunRow
from daemon.views.lookback import RunFiles, log_files


def _run(folder: Path) -> RunFiles:
    row = RunRow(id="r1", model_name="m.tflite", model_path="", drop_path="", sha256="", size=0, pipeline="",
                 pipeline_sha256="", status="success", attempts=1, force=0, duplicate_of=None, sidecar=None,
                 error=None, result_dir=str(folder), created_at=0.0, started_at=None, finished_at=None)
    return RunFiles(row, folder)


@pytest.fixture
def run(tmp_path: Path) -> RunFiles:
    for job, steps in (("build", ["1-compile", "2-step-2"]), ("flash__a1_", ["1-step-1", "2-step-2"]),
                       ("flash__b2_", ["1-step-1", "2-step-2"])):
        (tmp_path / "logs" / job).mkdir(parents=True)
        for step in steps:
            (tmp_path / "logs" / job / f"{step}.log").write_text(f"{job}/{step}\n")
    flash = (StepRecord("step-1", "benchd/flash", "success"), StepRecord("step-2", "benchd/monitor", "success"))
    record = RunRecord(run_id="r1", status="success", jobs=(
        JobRecord("build", "success", steps=(StepRecord("compile", "compile", "success"),
                                              StepRecord("step-2", "benchd/validate", "success"))),
        JobRecord("flash (a1)", "success", steps=flash), JobRecord("flash (b2)", "success", steps=flash)))
    (tmp_path / "result.json").write_text(record.to_json())
    return _run(tmp_path)


def _names(files: list[Path]) -> list[str]:
    return [f"{f.parent.name}/{f.stem}" for f in files]


def test_jobs_in_pipeline_order_and_matrix_instances_by_name(run: RunFiles) -> None:
    assert _names(log_files(run))[:3] == ["build/1-compile", "build/2-step-2", "flash__a1_/1-step-1"]
    assert _names(log_files(run, "flash")) == ["flash__a1_/1-step-1", "flash__a1_/2-step-2", "flash__b2_/1-step-1",
                                               "flash__b2_/2-step-2"]
    assert _names(log_files(run, "flash__b2_/1")) == ["flash__b2_/1-step-1"]


def test_a_step_by_id_number_or_action(run: RunFiles) -> None:
    assert _names(log_files(run, "build/compile")) == ["build/1-compile"]
    assert _names(log_files(run, "build/2")) == ["build/2-step-2"]
    assert _names(log_files(run, "build/validate")) == ["build/2-step-2"]
    assert _names(log_files(run, "flash/monitor")) == ["flash__a1_/2-step-2", "flash__b2_/2-step-2"]
    with pytest.raises(BenchdError, match="has no step 'monitor'"):
        log_files(run, "build/monitor")  # another job's action is not this job's step
    with pytest.raises(BenchdError, match=r"no logs for job 'fla'.*jobs with logs: build, flash__a1_"):
        log_files(run, "fla")
