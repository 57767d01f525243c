"""The dashboard's index: one row per model with the latest figures (views/models.py, store/reads.py)."""

from __future__ import annotations

from pathlib import Path

from lab_fixtures import lab

from daemon.store import reads
from daemon.store.db import Store
from daemon.views import models


def test_one_row_per_model_with_its_newest_figures_and_a_series(store: Store, tmp_path: Path) -> None:
    runs = lab(store, tmp_path / "results")
    rows = {r["model"]: r for r in models.models(store, tmp_path / "results")}
    assert set(rows) == set(runs)
    kws = rows["kws_s.tflite"]
    assert kws["run_id"] == kws["figures_run"] == runs["kws_s.tflite"][-1] and kws["status"] == "success"
    assert (kws["top1_agreement"], kws["max_abs_diff"], kws["instructions"]) == (1.0, 9.0, 1_297_431)
    assert (kws["arena_bytes"], kws["rom_bytes"], kws["boards_ok"], kws["boards_total"]) == (24_000, 61_312, 2, 2)
    assert kws["spark"]["key"] == "instructions"
    assert [p["value"] for p in kws["spark"]["points"]] == [1_402_118, 1_388_004, 1_350_870, 1_351_002, 1_297_431]
    failed = rows["unsupported_op.tflite"]
    assert failed["status"] == "error" and failed["instructions"] is None and failed["spark"]["points"] == []


def test_a_queued_rerun_or_a_duplicate_keeps_the_last_measured_figures(store: Store, tmp_path: Path) -> None:
    runs = lab(store, tmp_path / "results")
    last = runs["kws_xs.tflite"][-1]
    dup = store.add_run(model_name="kws_xs.tflite", model_path="", drop_path="/inbox/kws_xs.tflite", sha256="ab" * 32,
                        size=1, pipeline="p.yml", status="success", duplicate_of=last)
    store.add_run(model_name="kws_xs.tflite", model_path="/state/kws_xs.tflite", drop_path="/inbox/kws_xs.tflite",
                  sha256="cd" * 32, size=1, pipeline="p.yml", status="queued")
    row = next(r for r in models.models(store, tmp_path / "results") if r["model"] == "kws_xs.tflite")
    assert row["status"] == "queued" and row["figures_run"] == last and row["instructions"] == 398_120
    assert len(row["spark"]["points"]) == 3 and dup not in [p["run"] for p in row["spark"]["points"]]
    assert models.models(store, tmp_path / "results")[0]["model"] == "kws_xs.tflite", "the last run model first"


def test_latest_runs_per_model_keeps_the_newest_of_each(store: Store, tmp_path: Path) -> None:
    runs = lab(store, tmp_path / "results")
    rows = reads.latest_runs_per_model(store, per_model=2, models=2)
    newest_two = ["person_detection_mobilenet_v1_025_int8_quantized_with_a_long_name.tflite", "unsupported_op.tflite"]
    assert [r.model_name for r in rows] == newest_two
    rows = reads.latest_runs_per_model(store, per_model=2, models=10)
    assert [r.id for r in rows if r.model_name == "kws_s.tflite"] == runs["kws_s.tflite"][:-3:-1]
