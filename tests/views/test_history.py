"""The dashboard's views across runs: a model's trend, a board's history, two runs side by side; and the
run detail's pipeline order, skip reasons and warnings (from the typed record, not the store's start order)."""

from __future__ import annotations

import time
from pathlib import Path

from report_fixtures import make_run, metrics, sample_result

from daemon.boards.health import BoardHealth
from daemon.reporters.files import write_json
from daemon.store.db import Store
from daemon.views import history
from daemon.views import runs as views


def three_runs(store: Store, results: Path) -> list[str]:
    ids = []
    for latency, diff, instr, arena in ((1.5, 2, None, None), (1.25, 1, 420_000, 9744), (1.1, 1, 410_000, 9744)):
        run_id, _ = make_run(store, results, metrics=metrics(latency, diff, instr, arena))
        ids.append(run_id)
        time.sleep(0.002)  # created_at orders the runs
    return ids


def test_model_history_lists_every_run_and_a_series_per_figure(store: Store, tmp_path: Path) -> None:
    results = tmp_path / "results"
    ids = three_runs(store, results)
    dup = store.add_run(model_name="kws.tflite", model_path="", drop_path="/inbox/kws.tflite", sha256="ab" * 32,
                        size=1, pipeline="p.yml", status="success", duplicate_of=ids[-1])
    make_run(store, results, model="other.tflite", metrics=metrics(9.0, 9))
    h = history.model_history(store, "kws.tflite", results)
    assert h is not None and [r["id"] for r in h["runs"]] == [dup, *reversed(ids)]  # newest first
    series = {s["key"]: s for s in h["series"]}
    assert [p["value"] for p in series["latency_ms"]["points"]] == [1.5, 1.25, 1.1]  # oldest first, no duplicate
    assert [p["run"] for p in series["latency_ms"]["points"]] == ids
    assert [p["value"] for p in series["instructions"]["points"]] == [420_000, 410_000], "only runs that have it"
    assert [p["value"] for p in series["arena_bytes"]["points"]] == [9744, 9744]
    assert h["runs"][1]["virtual"]["rom_bytes"] == 48_000 and h["runs"][1]["reference_c"]["operators"] == 5
    assert h["runs"][0]["duplicate_of"] == ids[-1]
    assert history.model_history(store, "nope.tflite", results) is None


def test_board_history_has_flashes_last_good_run_and_health(store: Store, tmp_path: Path) -> None:
    results = tmp_path / "results"
    good, _ = make_run(store, results, metrics=metrics(1.0, 1))
    time.sleep(0.01)
    bad, _ = make_run(store, results, "failure", metrics=metrics(1.0, 1))
    health = BoardHealth(store.path)
    health.seen([{"id": "A0B1C2", "port": "socket://127.0.0.1:5555", "chip": "ESP32-C3", "mac": "a0:b1"}])
    health.record("A0B1C2", "flash", False, "timed out waiting for packet header", run_id=bad)
    b = history.board_history(store, "A0B1C2", results)
    assert b is not None and [f["run_id"] for f in b["flashes"]] == [bad, good]
    assert b["last_good"]["run_id"] == good
    assert b["health"]["flash_failures"] == 1 and b["seen"]["present"] is True and b["seen"]["chip"] == "ESP32-C3"
    assert b["events"][0]["message"].startswith("timed out") and b["events"][0]["ok"] is False
    assert history.board_history(store, "FFFFFF", results) is None


def test_compare_gives_deltas_differing_outputs_and_jobs(store: Store, tmp_path: Path) -> None:
    results = tmp_path / "results"
    a, _ = make_run(store, results, metrics=metrics(2.0, 1, 400_000, 9744, [[0, 1], [2, 3], [4, 5]]))
    b, _ = make_run(store, results, "failure", metrics=metrics(1.0, 3, 300_000, 9744, [[0, 1], [2, 9], [4, 5]]))
    c = history.compare(store, a, b, results)
    assert c is not None and c["a"]["id"] == a and c["b"]["id"] == b
    rows = {m["figure"]: m for m in c["metrics"]}
    assert rows["host.latency_ms"] == {"figure": "host.latency_ms", "a": 2.0, "b": 1.0, "delta": -1.0, "pct": -50.0}
    assert rows["virtual.instructions"]["delta"] == -100_000 and rows["virtual.arena_bytes"]["delta"] == 0
    assert c["outputs"] == [{"where": "virtual[1]", "a": [2, 3], "b": [2, 9]}]
    assert c["outputs_same"] == 3  # virtual[0], virtual[2] and the board's
    assert {j["id"]: (j["a"], j["b"]) for j in c["jobs"]}["compile-host"] == ("success", "failure")
    assert history.compare(store, a, "nope", results) is None


def test_run_detail_orders_jobs_as_the_record_and_shows_skips_and_warnings(store: Store, tmp_path: Path) -> None:
    results = tmp_path / "results"
    run_id, folder = make_run(store, results)
    store.set_job(run_id, "firmware", status="skipped", started_at=time.time() - 100)  # started "first"
    result = sample_result(run_id, warnings=[{"where": "compile-host/compile", "message": "float model"}])
    result["jobs"].append({"id": "firmware", "status": "skipped", "executor": None, "image": None, "outputs": {},
                           "steps": [], "skip_reason": "image benchd/espidf not built — benchd images build espidf"})
    result["jobs"][1]["warning"] = "no docker engine: ran locally"
    write_json(folder / "result.json", result)
    d = views.run_detail(store, run_id, results)
    assert d is not None and [j["id"] for j in d["jobs"]] == ["inspect", "compile-host", "firmware"]
    assert d["jobs"][2]["skip_reason"].startswith("image benchd/espidf not built")
    assert d["jobs"][1]["warning"] == "no docker engine: ran locally"
    assert d["warnings"] == [{"where": "compile-host/compile", "message": "float model"}]
    assert d["can_rerun"] and d["jobs"][1]["steps"][0]["id"] == "compile", "live steps from the store"
