"""describe_model and the benchd/inspect action: every broken file gets a message a lab engineer can act on."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import flatbuffers
import pytest
from model_tools import run_py

from daemon.actions.base import ActionContext, ActionError
from daemon.actions.inspect import describe_model, run
from daemon.errors import ModelError

pytest_plugins = ["models_fixture"]  # the session fixtures `samples` and `compiled_xs`


def test_int8_sample_is_described(samples: dict[str, Path]) -> None:
    path = samples["kws_xs.tflite"]
    info = describe_model(path)
    assert info["name"] == "kws_xs.tflite"
    assert info["size"] == path.stat().st_size
    assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info["quantized"] is True
    (inp,), (out,) = info["inputs"], info["outputs"]
    assert inp["name"] == "input" and inp["shape"] == [1, 1960] and inp["dtype"] == "int8"
    assert inp["scale"] == pytest.approx(0.6) and inp["zero_point"] == 83
    assert out["shape"] == [1, 12] and out["dtype"] == "int8"
    assert out["scale"] == pytest.approx(1 / 256) and out["zero_point"] == -128
    assert info["operators"] == ["RESHAPE", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "AVERAGE_POOL_2D",
                                 "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]


def test_float_sample_is_not_quantized(samples: dict[str, Path]) -> None:
    info = describe_model(samples["kws_float.tflite"])
    assert info["quantized"] is False
    assert info["inputs"][0]["dtype"] == "float32" and info["inputs"][0]["scale"] is None


def test_larger_sample_has_more_operators(samples: dict[str, Path]) -> None:
    assert len(describe_model(samples["kws_s.tflite"])["operators"]) == 10
    assert describe_model(samples["unsupported_op.tflite"])["operators"] == ["PAD"]


def _no_subgraph_model(path: Path) -> Path:
    b = flatbuffers.Builder(64)
    b.StartObject(8)  # tflite.Model: slot 0 version, slot 2 subgraphs (left empty on purpose)
    b.PrependUint32Slot(0, 3, 0)
    b.Finish(b.EndObject(), file_identifier=b"TFL3")
    path.write_bytes(bytes(b.Output()))
    return path


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("empty.tflite", "empty (0 bytes)"),
        ("truncated.tflite", "truncated or corrupt"),
        ("random.tflite", "not a TFLite flatbuffer"),
    ],
)
def test_broken_samples_raise_model_error(samples: dict[str, Path], name: str, expected: str) -> None:
    with pytest.raises(ModelError) as err:
        describe_model(samples[name])
    message = str(err.value)
    assert expected in message and name in message
    assert "again" in message or "Convert" in message  # says what to do


def test_other_broken_files(tmp_path: Path, samples: dict[str, Path]) -> None:
    with pytest.raises(ModelError, match="not found"):
        describe_model(tmp_path / "missing.tflite")
    with pytest.raises(ModelError, match="no subgraph"):
        describe_model(_no_subgraph_model(tmp_path / "nosub.tflite"))
    zipped = tmp_path / "model.tflite"
    zipped.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ModelError, match="zip archive"):
        describe_model(zipped)
    with pytest.raises(ModelError, match=r"over the limit of 0\.0 MB.*max_model_mb"):
        describe_model(samples["kws_xs.tflite"], max_bytes=1000)


def test_describe_model_stays_light() -> None:
    proc = run_py(["-c", "import sys, daemon.actions.inspect; print(sorted(m for m in ('tvm', 'tflite', "
                         "'ai_edge_litert') if m in sys.modules))"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


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
    with pytest.raises(ActionError, match="float-models: reject"):
        run(_context(tmp_path, samples["kws_float.tflite"], float_models="reject"))
    with pytest.raises(ActionError, match="warn or reject"):
        run(_context(tmp_path, samples["kws_float.tflite"], float_models="maybe"))


def test_action_fails_with_error_line_on_broken_model(tmp_path: Path, samples: dict[str, Path]) -> None:
    proc = run_py(["-m", "daemon.actions", "inspect"], env={"BENCHD_MODEL": str(samples["truncated.tflite"])})
    assert proc.returncode == 1
    assert proc.stdout.startswith("::error::truncated.tflite is truncated or corrupt")
