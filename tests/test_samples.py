"""data/make_samples.py writes valid, deterministic models that the TFLite reference interpreter runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from model_tools import load_make_samples, tvm_available

pytest_plugins = ["models_fixture"]  # the session fixtures `samples` and `compiled_xs`

VALID = ["kws_xs.tflite", "kws_s.tflite", "kws_float.tflite", "kws_dw1.tflite", "kws_cnn3.tflite",
         "unsupported_op.tflite", "outside_c.tflite"]


def test_every_sample_is_written(samples: dict[str, Path]) -> None:
    assert set(samples) == {*VALID, "empty.tflite", "truncated.tflite", "random.tflite"}
    assert samples["empty.tflite"].stat().st_size == 0
    xs = samples["kws_xs.tflite"].read_bytes()
    assert samples["truncated.tflite"].read_bytes() == xs[: len(xs) // 2]
    for name in VALID:
        assert samples[name].read_bytes()[4:8] == b"TFL3", name


def test_samples_are_deterministic(samples: dict[str, Path], tmp_path: Path) -> None:
    again = load_make_samples().write_samples(tmp_path)
    for name, path in samples.items():
        assert again[name].read_bytes() == path.read_bytes(), name


def test_kws_conv_weights_are_quantized_per_channel(samples: dict[str, Path]) -> None:
    from tflite.Model import Model

    model = Model.GetRootAsModel(samples["kws_xs.tflite"].read_bytes(), 0)
    graph = model.Subgraphs(0)
    tensors = {graph.Tensors(i).Name().decode(): graph.Tensors(i) for i in range(graph.TensorsLength())}
    conv = tensors["conv0_weights"].Quantization()
    assert conv.ScaleLength() == 8 and conv.QuantizedDimension() == 0
    depthwise = tensors["dw1_weights"].Quantization()
    assert depthwise.ScaleLength() == 8 and depthwise.QuantizedDimension() == 3
    assert tensors["fc_weights"].Quantization().ScaleLength() == 1


def _reference(path: Path):  # type: ignore[no-untyped-def]
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    return interpreter


def _invoke(interpreter, x: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.mark.parametrize("name", VALID)
@pytest.mark.tvm
@tvm_available
def test_reference_interpreter_runs_every_valid_sample(samples: dict[str, Path], name: str) -> None:
    interpreter = _reference(samples[name])
    detail = interpreter.get_input_details()[0]
    x = np.zeros(detail["shape"], detail["dtype"])
    out = _invoke(interpreter, x)
    assert out.shape[0] == 1 and out.size in (4, 10, 12, 16, 20)


@pytest.mark.tvm
@tvm_available
def test_int8_model_tracks_the_float_model(samples: dict[str, Path]) -> None:
    """Realistic quantization: the int8 probabilities stay within a few LSB of the float graph's."""
    q, f = _reference(samples["kws_xs.tflite"]), _reference(samples["kws_float.tflite"])
    rng = np.random.default_rng(1)
    for _ in range(10):
        x = rng.integers(-128, 128, (1, 1960)).astype(np.int8)
        probs_q = (_invoke(q, x).astype(np.float64) + 128) / 256
        probs_f = _invoke(f, ((x.astype(np.float32) - 83) * 0.6).astype(np.float32))
        assert abs(float(probs_f.sum()) - 1.0) < 1e-4
        assert np.abs(probs_q - probs_f).max() < 6 / 256
        assert probs_f.max() < 0.9  # neither one-hot nor flat: the top-1 comparison means something
        assert probs_f.max() > 2 / 12
