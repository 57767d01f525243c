"""daemon.modelfile: every broken file gets a message a lab engineer can act on, and hostile files are cheap."""

from __future__ import annotations

import hashlib
import importlib
import time
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np
import pytest
from model_tools import run_py

from daemon import modelfile
from daemon.errors import ModelError
from daemon.modelfile import check_model, describe_model

# The schema modules (builder functions); `from tflite import Tensor` would give the reader class instead.
Model, Operator, OperatorCode, SubGraph, Tensor = (
    importlib.import_module(f"tflite.{name}") for name in ("Model", "Operator", "OperatorCode", "SubGraph", "Tensor")
)


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


def _offsets(b: flatbuffers.Builder, target: int, count: int) -> int:
    """A vector of `count` offsets that all point at one table: 4 bytes an entry, however many entries."""
    b.StartVector(4, count, 4)
    for _ in range(count):
        b.PrependUOffsetTRelative(target)
    return int(b.EndVector())


def _many_entries_model(path: Path, tensors: int = 1, operators: int = 1, io: int = 1) -> Path:
    """A well-formed flatbuffer whose subgraph lists one int8 tensor and one ADD `tensors`/`operators` times."""
    b = flatbuffers.Builder(1024)
    name = b.CreateString("t")
    Tensor.TensorStart(b)
    Tensor.TensorAddName(b, name)
    Tensor.TensorAddType(b, 9)  # INT8, no quantization parameters
    tensor = Tensor.TensorEnd(b)
    Operator.OperatorStart(b)
    Operator.OperatorAddOpcodeIndex(b, 0)
    op = Operator.OperatorEnd(b)
    OperatorCode.OperatorCodeStart(b)
    OperatorCode.OperatorCodeAddBuiltinCode(b, 0)  # ADD
    code = OperatorCode.OperatorCodeEnd(b)
    tensor_vector, op_vector = _offsets(b, tensor, tensors), _offsets(b, op, operators)
    io_vector = b.CreateNumpyVector(np.zeros(io, dtype=np.int32))
    SubGraph.SubGraphStart(b)
    SubGraph.SubGraphAddTensors(b, tensor_vector)
    SubGraph.SubGraphAddOperators(b, op_vector)
    SubGraph.SubGraphAddInputs(b, io_vector)
    SubGraph.SubGraphAddOutputs(b, io_vector)
    subgraph = SubGraph.SubGraphEnd(b)
    subgraphs, codes = _offsets(b, subgraph, 1), _offsets(b, code, 1)
    Model.ModelStart(b)
    Model.ModelAddVersion(b, 3)
    Model.ModelAddSubgraphs(b, subgraphs)
    Model.ModelAddOperatorCodes(b, codes)
    b.Finish(Model.ModelEnd(b), file_identifier=b"TFL3")
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
@pytest.mark.parametrize("read", [describe_model, check_model])
def test_broken_samples_raise_model_error(samples: dict[str, Path], name: str, expected: str, read: Any) -> None:
    with pytest.raises(ModelError) as err:
        read(samples[name])
    message = str(err.value)
    assert expected in message and name in message
    assert "again" in message or "Convert" in message  # says what to do


def test_check_model_says_what_describe_model_says_of_quantization(samples: dict[str, Path]) -> None:
    """Intake's check (no tensor described) answers `quantized` as describe_model does, for every sample."""
    readable = [p for p in samples.values() if p.suffix == ".tflite" and p.name not in
                ("empty.tflite", "truncated.tflite", "random.tflite")]
    assert any(not describe_model(p)["quantized"] for p in readable)
    for path in readable:
        assert check_model(path) is describe_model(path)["quantized"], path.name


def test_other_broken_files(tmp_path: Path, samples: dict[str, Path]) -> None:
    with pytest.raises(ModelError, match="not found"):
        describe_model(tmp_path / "missing.tflite")
    with pytest.raises(ModelError, match="no subgraph"):
        describe_model(_no_subgraph_model(tmp_path / "nosub.tflite"))
    with pytest.raises(ModelError, match="no subgraph"):
        check_model(_no_subgraph_model(tmp_path / "nosub2.tflite"))
    zipped = tmp_path / "model.tflite"
    zipped.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ModelError, match="zip archive"):
        describe_model(zipped)
    with pytest.raises(ModelError, match=r"over the limit of 0\.0 MB.*max_model_mb"):
        describe_model(samples["kws_xs.tflite"], max_bytes=1000)


def test_small_crafted_model_is_described(tmp_path: Path) -> None:
    info = describe_model(_many_entries_model(tmp_path / "tiny.tflite", tensors=3, operators=2))
    assert info["operators"] == ["ADD", "ADD"]
    assert info["inputs"] == info["outputs"] == [{"name": "t", "shape": [], "dtype": "int8", "scale": None,
                                                  "zero_point": None}]
    assert info["quantized"] is False  # int8 without a scale is not quantized


def test_a_million_tensor_entries_is_refused_at_once(tmp_path: Path) -> None:
    path = _many_entries_model(tmp_path / "hostile.tflite", tensors=1_000_000)
    assert path.stat().st_size < 5_000_000  # 4 bytes an entry: cheap to make, so it must be cheap to refuse
    started = time.perf_counter()
    with pytest.raises(ModelError, match=r"hostile\.tflite: the model claims 1,000,000 tensors, over .* 100,000"):
        describe_model(path)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"tensors": modelfile.MAX_TENSORS + 1}, "tensors"),
        ({"operators": modelfile.MAX_OPERATORS + 1}, "operators"),
        ({"io": modelfile.MAX_IO}, "graph inputs and outputs"),  # as many inputs as outputs: 2 * MAX_IO
    ],
)
@pytest.mark.parametrize("read", [describe_model, check_model])
def test_counts_over_the_limits_are_refused(tmp_path: Path, counts: dict[str, int], expected: str,
                                           read: Any) -> None:
    with pytest.raises(ModelError, match=f"claims [0-9,]+ {expected}, over benchd's limit.*re-export"):
        read(_many_entries_model(tmp_path / "big.tflite", **counts))


def test_describing_stays_linear_up_to_the_limits(tmp_path: Path) -> None:
    """Right at the limits (every tensor looked at, none quantized) the work stays well under a second or so."""
    path = _many_entries_model(tmp_path / "wide.tflite", tensors=modelfile.MAX_TENSORS,
                               operators=modelfile.MAX_OPERATORS)
    started = time.perf_counter()
    info = describe_model(path)
    assert len(info["operators"]) == modelfile.MAX_OPERATORS and info["quantized"] is False
    assert time.perf_counter() - started < 5.0  # ~0.5 s on a laptop; the old walk took 40 s at 10x the count


def test_describe_model_stays_light() -> None:
    proc = run_py(["-c", "import sys, daemon.modelfile, daemon.actions.inspect; print(sorted(m for m in "
                         "('tvm', 'tflite', 'ai_edge_litert') if m in sys.modules))"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
