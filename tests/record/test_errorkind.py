"""errors[].kind: inferred when the producer does not say, kept when it does, optional in older files."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from daemon.record import ErrorEntry, Journal, Log, ModelInfo, PipelineInfo, RunFinished, RunRecord, RunStarted
from daemon.record.errorkind import ERROR_KINDS, error_kind


@pytest.mark.parametrize(("where", "message", "kind"), [
    # intake's rejections and a pipeline that does not load: the drop cannot run at all
    ("intake", "not a TFLite model (no TFL3 identifier)", "model"),
    ("pipeline", "pipelines/x.yml:4: unknown key 'stesp' in job a", "model"),
    ("sidecar", "the sidecar .json beside the model: not JSON", "model"),
    # a user's cancel (before or during the run) and fail-fast
    ("runner", "cancelled by the user (benchd cancel) before it started", "cancelled"),
    ("runner", "cancelled by the user (Ctrl-C)", "cancelled"),
    ("flash (b1)/monitor", "cancelled: matrix instance flash (b2) failed (fail-fast)", "cancelled"),
    ("compile/build", "cancelled: benchd is stopping (the run is queued again for the next start)", "cancelled"),
    # the runner itself
    ("runner", "internal error: division by zero", "infra"),
    ("runner", "interrupted 3 times (benchd was killed or the machine stopped during it)", "infra"),
    # what an executor says when a step did not get to fail on its own
    ("compile/build", "docker engine not reachable at unix:///var/run/docker.sock: start dockerd", "infra"),
    ("compile/build", "the step's exit code is unknown: the container stopped under it", "infra"),
    ("inspect/info", "cannot start setpriv: [Errno 2] No such file or directory", "infra"),
    # a step failing, timing out, printing ::error::
    ("compile/build", "exited with code 3: boom (log: logs/compile/1-build.log)", "test"),
    ("compile/build", "killed after 600 s: the step timeout (timeout-minutes) ran out", "test"),
    ("validate/compare", "top-1 agreement 0.62 is below 0.9", "test"),
    # a user's job named like the daemon's own places is still a job
    ("pipeline/build", "exited with code 1 (log: logs/pipeline/1-build.log)", "test"),
    ("runner/test", "exited with code 1 (log: logs/runner/1-test.log)", "test"),
])
def test_the_kind_is_inferred_from_where_and_what(where, message, kind):
    assert error_kind(where, message) == kind
    assert kind in ERROR_KINDS


def schema() -> dict:
    return json.loads(resources.files("daemon.record").joinpath("result.schema.json").read_text(encoding="utf-8"))


def record_of(*logs: Log) -> RunRecord:
    journal = Journal()
    journal.emit(RunStarted("r", ModelInfo("m.tflite"), PipelineInfo("p"), 0.0))
    for log in logs:
        journal.emit(log)
    return journal.emit(RunFinished("error", 1.0, 1.0))


def test_the_fold_infers_a_kind_and_keeps_a_given_one():
    record = record_of(Log("error", "runner", "internal error: boom"),
                       Log("error", "intake", "board gone during the drop", kind="infra"),
                       Log("error", "compile/build", "exited with code 2"))
    assert [e.kind for e in record.errors] == ["infra", "infra", "test"]


def test_warnings_get_no_kind_and_none_is_written():
    record = record_of(Log("warning", "compile", "docker not reachable: ran on the host"),
                       Log("error", "compile/build", "exited with code 2"))
    assert record.warnings == (ErrorEntry("compile", "docker not reachable: ran on the host"),)
    data = json.loads(record.to_json())
    assert data["warnings"] == [{"where": "compile", "message": "docker not reachable: ran on the host"}]
    assert data["errors"] == [{"where": "compile/build", "message": "exited with code 2", "kind": "test"}]


def test_a_note_twice_is_kept_once_whatever_its_kind():
    record = record_of(Log("error", "report/webhook", "receiver down", kind="infra"),
                       Log("error", "report/webhook", "receiver down"))
    assert record.errors == (ErrorEntry("report/webhook", "receiver down", "infra"),)


def test_an_unknown_kind_is_refused_at_the_event():
    with pytest.raises(ValueError, match="error kind 'flaky' is none of infra, test, model, cancelled"):
        Log("error", "runner", "x", kind="flaky")


def test_entries_round_trip_with_and_without_a_kind():
    with_kind = ErrorEntry("flash (b1)/flash", "board gone", "infra")
    assert with_kind.to_dict() == {"where": "flash (b1)/flash", "message": "board gone", "kind": "infra"}
    assert ErrorEntry.from_dict(with_kind.to_dict()) == with_kind
    older = {"where": "intake", "message": "not a model"}  # a result.json written before kinds
    assert ErrorEntry.from_dict(older) == ErrorEntry("intake", "not a model")
    assert ErrorEntry.from_dict(older).to_dict() == older


def test_an_older_result_json_without_kinds_still_loads_and_validates():
    data = json.loads(record_of(Log("error", "intake", "not a model")).to_json())
    del data["errors"][0]["kind"]
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    jsonschema.validate(json.loads(text), schema())
    record = RunRecord.from_json(text)
    assert record.errors[0].kind is None and record.to_json() == text


def test_the_schema_takes_the_four_kinds_and_nothing_else():
    good = json.loads(record_of(Log("error", "runner", "cancelled by the user (Ctrl-C)")).to_json())
    assert good["errors"][0]["kind"] == "cancelled"
    jsonschema.validate(good, schema())
    for kind in ERROR_KINDS:
        jsonschema.validate({**good, "errors": [{**good["errors"][0], "kind": kind}]}, schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**good, "errors": [{**good["errors"][0], "kind": "flaky"}]}, schema())
    with pytest.raises(jsonschema.ValidationError):  # still a note: where and message required
        jsonschema.validate({**good, "errors": [{"kind": "infra"}]}, schema())
