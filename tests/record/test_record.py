"""The run record: JSON in and out byte for byte, the schema, and the journal's folding of events."""

from __future__ import annotations

import json
import threading
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from daemon.record import (
    ErrorEntry,
    ImageRef,
    JobFinished,
    JobRecord,
    JobStarted,
    Journal,
    Log,
    MetricsRecorded,
    ModelInfo,
    PipelineInfo,
    RunFinished,
    RunRecord,
    RunStarted,
    StepFinished,
    StepRecord,
    StepStarted,
)


def schema() -> dict:
    return json.loads(resources.files("daemon.record").joinpath("result.schema.json").read_text(encoding="utf-8"))


def validate(text: str) -> None:
    jsonschema.validate(json.loads(text), schema())


def a_run() -> Journal:
    journal = Journal()
    journal.emit(RunStarted("r1", ModelInfo("kws.tflite", "ab" * 32, 1234), PipelineInfo("microkws", "p.yml", "cd"),
                            1_700_000_000.0))
    journal.emit(JobStarted(JobRecord("compile", "running", executor="docker", image=ImageRef("benchd/tvm"))))
    journal.emit(StepStarted("compile", 0, StepRecord("build", None, "running", log="logs/compile/1-build.log")))
    done = StepRecord("build", None, "success", 1.25, 0, log="logs/compile/1-build.log")
    journal.emit(StepFinished("compile", 0, done,
                              ({"host": {"latency_ms": 2.5, "thresholds": {"min_top1": 0.8}}},
                               {"model": {"operators": ["CONV_2D"], "quantized": True}},
                               {"boards": [{"id": "b1", "cycles_per_inference": 10, "vendor_field": 1}]},
                               {"reference_c": {"arena_bytes": 3960, "operators": 3}}),
                              "## compiled\n", ("slow disk",)))
    journal.emit(JobFinished("compile", "success", {"archive": "mlf.tar"}, image=ImageRef("benchd/tvm", "sha256:1")))
    journal.emit(MetricsRecorded(({"boards": [{"id": "b2", "status": "quarantined"}]},)))
    journal.emit(Log("error", "report/webhook", "receiver down", kind="infra"))
    journal.emit(RunFinished("success", 1_700_000_010.0, 10.0))
    return journal


def test_a_journal_folds_events_into_the_record():
    record = a_run().record
    assert record.status == "success" and record.finished_at.startswith("2023-11-14T22:13:30")
    job = record.job("compile")
    assert job is not None and job.image == ImageRef("benchd/tvm", "sha256:1") and job.outputs == {"archive": "mlf.tar"}
    assert [s.status for s in job.steps] == ["success"]  # the running step was replaced, not appended
    assert record.metrics.host.latency_ms == 2.5 and record.metrics.host.extra == {"thresholds": {"min_top1": 0.8}}
    assert record.metrics.reference_c is not None and record.metrics.reference_c.arena_bytes == 3960
    assert [b.id for b in record.metrics.boards] == ["b1", "b2"]
    assert record.model.operators == ("CONV_2D",) and record.model.extra == {"quantized": True}
    assert record.model.sha256 == "ab" * 32  # an action cannot rename the model or change its hash
    assert record.warnings == (ErrorEntry("compile/build", "slow disk"),)
    assert record.errors == (ErrorEntry("report/webhook", "receiver down", "infra"),)


def test_load_and_dump_give_the_same_bytes_and_the_schema_holds():
    text = a_run().record.to_json()
    validate(text)
    again = RunRecord.from_json(text)
    assert again == a_run().record
    assert again.to_json() == text
    data = json.loads(text)
    assert data["metrics"]["boards"][0]["vendor_field"] == 1  # unknown keys survive
    assert "log" in data["jobs"][0]["steps"][0] and "skip_reason" not in data["jobs"][0]


def test_records_are_immutable():
    record = a_run().record
    with pytest.raises(AttributeError):
        record.status = "failure"  # type: ignore[misc]
    assert isinstance(record.jobs, tuple)


def test_the_schema_refuses_what_section_4_forbids():
    good = json.loads(a_run().record.to_json())
    for broken in ({**good, "schema": 2}, {**good, "status": "done"}, {**good, "status": "error", "errors": []},
                   {k: v for k, v in good.items() if k != "jobs"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema())


def test_a_failing_subscriber_is_noted_and_the_others_go_on():
    seen: list[str] = []

    class Broken:
        name = "broken"

        def on_event(self, event, record):
            raise RuntimeError("disk full")

    class Watcher:
        name = "watcher"

        def on_event(self, event, record):
            seen.append(type(event).__name__)

    journal = Journal([Broken(), Watcher()])
    journal.emit(RunStarted("r", ModelInfo("m"), PipelineInfo(), 0.0))
    assert seen == ["RunStarted"]
    assert journal.record.errors == (ErrorEntry("report/broken", "disk full", "infra"),)  # the bench's, not the model's


def test_events_from_threads_are_folded_one_at_a_time():
    journal = Journal()
    journal.emit(RunStarted("r", ModelInfo("m"), PipelineInfo(), 0.0))

    def job(i: int) -> None:
        journal.emit(JobStarted(JobRecord(f"j{i}", "running")))
        for s in range(20):
            journal.emit(StepFinished(f"j{i}", s, StepRecord(f"s{s}", status="success")))

    threads = [threading.Thread(target=job, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(j.id for j in journal.record.jobs) == [f"j{i}" for i in range(8)]
    assert all(len(j.steps) == 20 for j in journal.record.jobs)


def every_result_json(root: Path) -> list[Path]:
    return sorted(root.rglob("result.json"))


def test_results_written_by_the_daemon_round_trip(tmp_path, samples):
    """A rejected drop, a failed run and a successful run: one writer, one schema, byte-identical round trip."""
    import shutil

    from daemon_once import run_inbox

    from daemon.settings import Settings

    wf = tmp_path / "wf.yml"
    wf.write_text("jobs:\n  ok:\n    steps:\n      - run: echo fine\n  bad:\n    needs: ok\n"
                  "    steps:\n      - run: exit 3\n")
    settings = Settings(inbox=tmp_path / "inbox", results=tmp_path / "results", state=tmp_path / "state",
                        pipeline=str(wf), executor="local")
    settings.inbox.mkdir()
    shutil.copy(samples["kws_xs.tflite"], settings.inbox / "good.tflite")
    (settings.inbox / "junk.tflite").write_bytes(b"not a model")
    run_inbox(settings, timeout=60)
    found = {p.parent.parent.name: RunRecord.from_json(p.read_text(encoding="utf-8"))
             for p in every_result_json(settings.results)}
    assert found["junk"].status == "error" and found["junk"].errors[0].where == "intake"
    assert found["good"].status == "failure" and [j.status for j in found["good"].jobs] == ["success", "failure"]
    for path in every_result_json(settings.results):
        text = path.read_text(encoding="utf-8")
        validate(text)
        assert RunRecord.from_json(text).to_json() == text
        assert not (path.parent / "progress.json").exists()


def test_both_backends_stay_side_by_side_in_the_virtual_matrix():
    journal = Journal()
    journal.emit(RunStarted("r", ModelInfo("m"), PipelineInfo(), 0.0))
    ref = {"instructions": 400_000, "rom_bytes": 30_000, "ram_bytes": 4_000, "bit_exact": 3, "vectors": 3}
    tvm = {"instructions": 6_100_000, "rom_bytes": 60_000, "ram_bytes": 9_000, "bit_exact": 0, "vectors": 3}
    journal.emit(MetricsRecorded(({"virtual": {"backend": "reference-c", **ref}},
                                  {"virtual_matrix": {"reference-c": ref}})))
    journal.emit(MetricsRecorded(({"virtual_matrix": {"tvm": tvm}},)))
    metrics = journal.record.metrics
    assert metrics.virtual is not None and metrics.virtual.backend == "reference-c"
    assert metrics.virtual_matrix == {"reference-c": ref, "tvm": tvm}
    validate(journal.record.to_json())


def test_summary_puts_the_two_backends_side_by_side():
    from daemon.reporters.summary import summary_markdown

    journal = Journal()
    journal.emit(RunStarted("r", ModelInfo("m.tflite"), PipelineInfo("microkws"), 0.0))
    journal.emit(MetricsRecorded(({"virtual_matrix": {
        "reference-c": {"instructions": 440_997, "rom_bytes": 33_116, "ram_bytes": 4_012, "arena_bytes": 2_020,
                        "bit_exact": 3, "vectors": 3},
        "tvm": {"instructions": 6_100_000, "rom_bytes": 61_000, "ram_bytes": 9_000, "arena_bytes": 8_384,
                "bit_exact": 0, "vectors": 3}}},)))
    text = summary_markdown(journal.record)
    assert "## Backends on the virtual core" in text
    assert "| `reference-c` | 440,997 | 33,116 B | 4,012 B | 2,020 B | 3 of 3 |" in text
    assert "| `tvm` | 6,100,000 | 61,000 B | 9,000 B | 8,384 B | 0 of 3 |" in text
