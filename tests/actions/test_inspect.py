"""The benchd/inspect action: outputs, metrics, summary, float policy (daemon.modelfile has its own tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from model_tools import run_py

from daemon.actions.context import ActionContext, ActionError
from daemon.actions.inspect import run


def _context(tmp_path: Path, model: Path, **inputs: str) -> ActionContext:
    return ActionContext(name="inspect", inputs=inputs, model=model, workspace=tmp_path,
                         output_file=tmp_path / "output", metrics_file=tmp_path / "metrics",
                         summary_file=tmp_path / "summary.md")


def test_action_records_outputs_metrics_and_summary(tmp_path: Path, samples: dict[str, Path],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run(_context(tmp_path, samples["kws_xs.tflite"]))
    outputs = dict(line.split("=", 1) for line in (tmp_path / "output").read_text().splitlines())
    assert outputs["quantized"] == "true"
    assert json.loads(outputs["operators"])[1] == "CONV_2D"
    assert json.loads(outputs["input_shape"]) == [1, 1960]
    metrics = json.loads((tmp_path / "metrics").read_text())
    assert metrics["model"]["sha256"] == outputs["sha256"]
    assert "FULLY_CONNECTED" in (tmp_path / "summary.md").read_text()
    assert "::warning::" not in capsys.readouterr().out


def test_float_model_warns_or_is_rejected(tmp_path: Path, samples: dict[str, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    run(_context(tmp_path, samples["kws_float.tflite"]))
    assert "::warning::kws_float.tflite is a float model" in capsys.readouterr().out
    summary = (tmp_path / "summary.md").read_text()
    assert "| input | `input` | 1 × 1960 | float32 | — | — |" in summary and "None" not in summary
    with pytest.raises(ActionError, match="float-models: reject"):
        run(_context(tmp_path, samples["kws_float.tflite"], float_models="reject"))
    with pytest.raises(ActionError, match="warn or reject"):
        run(_context(tmp_path, samples["kws_float.tflite"], float_models="maybe"))


def test_action_fails_with_error_line_on_broken_model(tmp_path: Path, samples: dict[str, Path]) -> None:
    proc = run_py(["-m", "daemon.actions", "inspect"], env={"BENCHD_MODEL": str(samples["truncated.tflite"])})
    assert proc.returncode == 1
    assert proc.stdout.startswith("::error::truncated.tflite is truncated or corrupt")
