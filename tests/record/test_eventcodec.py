"""Journal events through JSON and back, as they travel between hosts: equal, with their types."""

from __future__ import annotations

import json

import pytest

from daemon.record import (
    ImageRef,
    JobFinished,
    JobRecord,
    JobStarted,
    Log,
    MetricsRecorded,
    ModelInfo,
    PipelineInfo,
    RunFinished,
    RunStarted,
    StepFinished,
    StepRecord,
    StepStarted,
)
from daemon.record.eventcodec import EVENTS, dump_event, load_event

MODEL = ModelInfo("kws.tflite", "ab" * 32, 19_264, inputs=({"name": "input", "shape": [1, 49, 10], "dtype": "int8"},),
                  operators=("CONV_2D", "FULLY_CONNECTED"), extra={"quantized": True})
BUILD = StepRecord("build", "tvmc compile", "failure", 12.5, 3, "exited with code 3: boom (log: logs/c/1-build.log)",
                   log="logs/compile/1-build.log", log_truncated=True, extra={"attempt": 2})

EVERY_EVENT = [
    RunStarted("r1", MODEL, PipelineInfo("microkws", "pipelines/microkws.yml", "cd" * 32), 1_700_000_000.25),
    JobStarted(JobRecord("flash (b1)", "running", executor="local", image=ImageRef("benchd/espidf", "sha256:9f"),
                         matrix={"board": "b1", "backend": ["reference-c", "tvm"]}, warning=None)),
    JobStarted(JobRecord("firmware", "skipped", skip_reason="needed job compile-mlf was skipped: no MLF")),
    StepStarted("compile", 0, StepRecord("build", None, "running", log="logs/compile/1-build.log")),
    StepFinished("compile", 0, BUILD,
                 ({"host": {"latency_ms": 2.5, "thresholds": {"min_top1": 0.8}}},
                  {"boards": [{"id": "b1", "cycles_per_inference": 10, "outputs": [[1, -2], [3, 4]]}]}),
                 "## compiled\n| a | b |\n", ("slow disk", "artifacts/x is a symbolic link")),
    StepFinished("compile", 1, StepRecord("check", status="success")),  # the defaults: (), "", ()
    JobFinished("compile", "success", {"archive": "mlf.tar"}, image=ImageRef("benchd/tvm", None)),
    JobFinished("firmware", "skipped", {}, skip_reason="reference C backend refuses SPLIT_V"),
    MetricsRecorded(({"boards": [{"id": "b2", "status": "quarantined"}]}, {"virtual_matrix": {"tvm": {}}})),
    Log("error", "flash (b1)/flash", "board gone", kind="infra"),
    Log("warning", "runner/artifacts", "artifacts/x is a symbolic link"),
    RunFinished("failure", 1_700_000_010.5, 10.25),
    RunFinished("success", 1_700_000_011.0, 0.5, duplicate_of="r0", duplicate_result="results/kws/r0"),
]


def test_every_event_type_is_covered():
    assert {type(e).__name__ for e in EVERY_EVENT} == set(EVENTS)


@pytest.mark.parametrize("event", EVERY_EVENT, ids=lambda e: type(e).__name__)
def test_an_event_comes_back_equal_through_json(event):
    data = json.loads(json.dumps(dump_event(event)))
    assert data["type"] == type(event).__name__
    again = load_event(data)
    assert again == event and type(again) is type(event)


def test_records_and_tuples_come_back_as_their_types():
    finished = load_event(json.loads(json.dumps(dump_event(EVERY_EVENT[4]))))
    assert isinstance(finished, StepFinished) and isinstance(finished.step, StepRecord)
    assert finished.step.extra == {"attempt": 2} and finished.step.log_truncated is True
    assert isinstance(finished.metrics, tuple) and isinstance(finished.warnings, tuple)
    started = load_event(json.loads(json.dumps(dump_event(EVERY_EVENT[1]))))
    assert isinstance(started, JobStarted) and isinstance(started.job.image, ImageRef)
    assert started.job.matrix == {"board": "b1", "backend": ["reference-c", "tvm"]}
    done = load_event(json.loads(json.dumps(dump_event(EVERY_EVENT[6]))))
    assert isinstance(done, JobFinished) and done.image == ImageRef("benchd/tvm") and done.skip_reason is None


@pytest.mark.parametrize("kind", ["PickledThing", "ErrorEntry", "__class__", "log", None, 3, "absent"])
def test_an_unknown_type_is_refused(kind):
    data = {"level": "error", "where": "x", "message": "y"} | ({} if kind == "absent" else {"type": kind})
    with pytest.raises(ValueError, match=r"unknown event type .* \(known: RunStarted, JobStarted,"):
        load_event(data)


def test_a_missing_or_unknown_field_is_refused():
    data = dump_event(EVERY_EVENT[4])
    with pytest.raises(ValueError, match=r"StepFinished event does not match this benchd's \(missing: step\)"):
        load_event({k: v for k, v in data.items() if k != "step"})
    with pytest.raises(ValueError, match=r"\(unknown: board\)"):
        load_event({**data, "board": "b1"})
    assert load_event({"type": "Log", "level": "warning", "where": "w", "message": "m"}) == Log("warning", "w", "m")


def test_values_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match="expected an object"):
        load_event({**dump_event(EVERY_EVENT[3]), "step": "build"})
    with pytest.raises(ValueError, match="expected a list"):
        load_event({**dump_event(EVERY_EVENT[8]), "metrics": {"boards": []}})
    with pytest.raises(ValueError, match="error kind 'flaky'"):
        load_event({"type": "Log", "level": "error", "where": "w", "message": "m", "kind": "flaky"})
    with pytest.raises(ValueError, match="a JSON object"):
        load_event([])  # type: ignore[arg-type]
