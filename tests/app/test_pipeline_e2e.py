"""The default pipeline (pipelines/microkws.yml) end to end on the host, with real TVM and TFLite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from model_tools import tvm_available

pytestmark = [pytest.mark.tvm, tvm_available]
ROOT = Path(__file__).resolve().parents[2]


def benchd_run(model: Path, tmp_path: Path, *extra: str) -> tuple[int, dict, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "daemon", "run", str(model), "--executor", "local", "--json",
         "--state", str(tmp_path / "state"), "--results", str(tmp_path / "results"), *extra],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def test_a_sample_model_passes_the_default_pipeline(samples, tmp_path):
    code, result, stderr = benchd_run(samples["kws_xs.tflite"], tmp_path)
    assert code == 0, stderr
    assert result["status"] == "success"
    jobs = {j["id"]: j for j in result["jobs"]}
    assert [s["status"] for s in jobs["compile-host"]["steps"]] == ["success"] * 3
    host = result["metrics"]["host"]
    assert 0 <= host["max_abs_diff"] <= 64 and 0.8 <= host["top1_agreement"] <= 1.0
    assert host["latency_ms"] > 0 and host["reference_latency_ms"] > 0
    assert result["model"]["operators"][:2] == ["RESHAPE", "CONV_2D"]
    assert result["model"]["inputs"][0]["shape"] == [1, 1960]
    # Jobs this machine cannot do are skipped with the reason, not failed.
    assert jobs["compile-mlf"]["status"] == "skipped" and "benchd/tvm-legacy" in jobs["compile-mlf"]["skip_reason"]
    assert jobs["flash"]["status"] == "skipped"
    # Firmware is planned from the compile-c archive on every drop: here it stops for want of the ESP-IDF
    # image, not of compile-mlf; TVM's instance alone waits for compile-mlf (issue 17, item 11).
    reference = jobs["firmware (reference-c)"]
    assert reference["status"] == "skipped" and "benchd/espidf" in reference["skip_reason"]
    assert "compile-mlf" not in reference["skip_reason"]
    assert jobs["firmware (tvm)"]["skip_reason"].startswith("needed job compile-mlf was skipped")
    assert jobs["vectors"]["status"] == "success" and jobs["vectors"]["outputs"]["input_size"] == "1960"
    out = tmp_path / "results" / "kws_xs" / result["run_id"]
    assert json.loads((out / "result.json").read_text()) == result
    smoke_log = (out / "logs" / "compile-host" / "2-smoke.log").read_text()
    assert "Execution time summary" in smoke_log
    assert "| compile-host | success |" in (out / "summary.md").read_text()


def test_an_operator_tvm_cannot_import_is_an_error_naming_it(samples, tmp_path):
    code, result, stderr = benchd_run(samples["unsupported_op.tflite"], tmp_path)
    assert code == 2, stderr
    assert result["status"] == "error"
    assert any("PAD" in e["message"] and e["where"] == "compile-host/compile" for e in result["errors"])


def test_an_operator_outside_the_reference_backend_skips_the_microcontroller_half(samples, tmp_path):
    # TVM compiles ABS, the reference C backend does not: a fact about the model, not an error of the run.
    code, result, stderr = benchd_run(samples["outside_c.tflite"], tmp_path)
    assert code == 0, stderr
    assert result["status"] == "success" and not result["errors"]
    jobs = {j["id"]: j for j in result["jobs"]}
    assert jobs["compile-host"]["status"] == "success"
    assert jobs["compile-c"]["status"] == "skipped"
    assert "operator 0 (ABS) is not supported" in jobs["compile-c"]["skip_reason"]
    for follower in ("virtual-core", "flash-virtual", "firmware (reference-c)"):
        assert jobs[follower]["status"] == "skipped"
        assert jobs[follower]["skip_reason"].startswith("needed job compile-c was skipped: outside_c.tflite: operator")
    summary = (tmp_path / "results" / "outside_c" / result["run_id"] / "summary.md").read_text().splitlines()
    assert summary[2].startswith("**`compile-c` did not run for this model, nor did the jobs that need it "
                                 "(`virtual-core`, `flash-virtual`, `firmware (reference-c)`):**")
    assert "(ABS)" in summary[2]


def test_the_seed_models_end_success(real_models, tmp_path):
    # The hook's check too: the seed's two MicroKWS models through the default pipeline (-1 batch signatures).
    for name in ("micro_kws_xs_yesno_quantized", "micro_kws_m_yesnoupdownleftrightonoff_quantized"):
        code, result, stderr = benchd_run(real_models[name], tmp_path / name)
        assert code == 0 and result["status"] == "success", (name, stderr, result["errors"])
        compile_c = next(j for j in result["jobs"] if j["id"] == "compile-c")
        assert compile_c["status"] == "success", name
        assert result["metrics"]["reference_c"]["arena_bytes"] > 0, name
