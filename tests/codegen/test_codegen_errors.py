"""Models the reference backend refuses: each one a CodegenError whose message gives the reason."""

from __future__ import annotations

import re
from pathlib import Path

import models
import pytest

from daemon.codegen import compile_c, main
from daemon.errors import CodegenError, ModelError

MS = models.MS
# An operator no lowering takes (TFLite has no int8 LOCAL_RESPONSE_NORMALIZATION either).
MS.OPS.setdefault("LOCAL_RESPONSE_NORMALIZATION", (13, 13))
MS.OPTION_TABLES.setdefault(13, "LocalResponseNormalizationOptions")


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "model.tflite"
    path.write_bytes(data)
    return path


def _two_ops(second: str) -> bytes:
    g = MS.GraphWriter()
    q = {"scale": [0.05], "zero_point": [-3]}
    x = g.tensor("input", (1, 16), MS.INT8, q)
    y = g.tensor("softmaxed", (1, 16), MS.INT8, {"scale": [1 / 256], "zero_point": [-128]})
    g.op("SOFTMAX", [x], [y], Beta=1.0)
    z = g.tensor("magnitude", (1, 16), MS.INT8, {"scale": [1 / 256], "zero_point": [-128]})
    g.op(second, [y], [z])
    return bytes(g.serialize([x], [z], "two ops"))


def test_unsupported_operator_is_named_with_its_index(tmp_path: Path) -> None:
    with pytest.raises(CodegenError, match=r"operator 1 \(ABS\) is not supported"):
        compile_c(_write(tmp_path, _two_ops("ABS")), tmp_path / "out.tar")
    assert not (tmp_path / "out.tar").exists()


def test_the_sample_outside_the_backend(samples: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(CodegenError, match=r"outside_c.tflite: operator 0 \(ABS\)"):
        compile_c(samples["outside_c.tflite"], tmp_path / "out.tar")


def test_the_seed_sample_with_pad_compiles(samples: dict[str, Path], tmp_path: Path) -> None:
    # unsupported_op.tflite is named for TVM's importer, which refuses its int8 PAD; this backend takes it.
    assert compile_c(samples["unsupported_op.tflite"], tmp_path / "out.tar").kernels == 1


def test_float_model(samples: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(CodegenError, match="float model"):
        compile_c(samples["kws_float.tflite"], tmp_path / "out.tar")


def test_uint8_model(tmp_path: Path) -> None:
    g = MS.GraphWriter()
    x = g.tensor("input", (1, 8), 3, {"scale": [0.1], "zero_point": [128]})  # TensorType UINT8 = 3
    y = g.tensor("output", (1, 8), 3, {"scale": [1 / 256], "zero_point": [0]})
    g.op("SOFTMAX", [x], [y], Beta=1.0)
    with pytest.raises(CodegenError, match="uint8"):
        compile_c(_write(tmp_path, bytes(g.serialize([x], [y], "uint8"))), tmp_path / "out.tar")


def test_batch_signature_is_batch_one(tmp_path: Path) -> None:
    # What the converter writes for every model: -1 in dimension 0 of the signature, 1 in the shape.
    g = MS.GraphWriter()
    x = g.tensor("input", (1, 10), MS.INT8, {"scale": [0.1], "zero_point": [0]}, signature=(-1, 10))
    y = g.tensor("output", (1, 10), MS.INT8, {"scale": [1 / 256], "zero_point": [-128]}, signature=(-1, 10))
    g.op("SOFTMAX", [x], [y], Beta=1.0)
    report = compile_c(_write(tmp_path, g.serialize([x], [y], "batch -1")), tmp_path / "out.tar")
    assert report.io_bytes == 20


@pytest.mark.parametrize("shape, signature", [((1, 10), (1, -1)), ((2, 10), (-1, 10)), ((1, 10), (-1, -1))])
def test_dynamic_shape(tmp_path: Path, shape: tuple[int, ...], signature: tuple[int, ...]) -> None:
    # Unknown beyond the batch dimension (or a batch that is not 1 in `shape`): named, with the dimension.
    g = MS.GraphWriter()
    x = g.tensor("input", shape, MS.INT8, {"scale": [0.1], "zero_point": [0]}, signature=signature)
    y = g.tensor("output", shape, MS.INT8, {"scale": [1 / 256], "zero_point": [-128]}, signature=shape)
    g.op("SOFTMAX", [x], [y], Beta=1.0)
    pattern = rf"tensor 0 \('input'\) has a dynamic shape \[{', '.join(map(str, signature))}\]"
    with pytest.raises(CodegenError, match=pattern):
        compile_c(_write(tmp_path, g.serialize([x], [y], "dynamic")), tmp_path / "out.tar")


def test_two_subgraphs(tmp_path: Path) -> None:
    import flatbuffers
    from tflite.Model import Model

    # The model's one subgraph listed twice (as a WHILE or IF body would add a second one).
    g = MS.GraphWriter()
    x = g.tensor("input", (1, 10), MS.INT8, {"scale": [0.1], "zero_point": [0]})
    y = g.tensor("output", (1, 10), MS.INT8, {"scale": [1 / 256], "zero_point": [-128]})
    g.op("SOFTMAX", [x], [y], Beta=1.0)
    original = MS._offsets

    def twice(b: flatbuffers.Builder, offsets: list[int]) -> int:
        return original(b, offsets * 2 if len(offsets) == 1 and twice.subgraph == offsets[0] else offsets)

    twice.subgraph = -1  # type: ignore[attr-defined]
    original_table = MS._table

    def table(b, kind, **fields):  # type: ignore[no-untyped-def]
        out = original_table(b, kind, **fields)
        if kind == "SubGraph":
            twice.subgraph = out  # type: ignore[attr-defined]
        return out

    MS._offsets, MS._table = twice, table
    try:
        data = g.serialize([x], [y], "two subgraphs")
    finally:
        MS._offsets, MS._table = original, original_table
    assert Model.GetRootAsModel(data, 0).SubgraphsLength() == 2
    with pytest.raises(CodegenError, match="2 subgraphs"):
        compile_c(_write(tmp_path, data), tmp_path / "out.tar")


def test_codegen_error_is_a_model_error() -> None:
    assert issubclass(CodegenError, ModelError)


def test_main_exits_2_with_the_reason(samples: dict[str, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(samples["outside_c.tflite"]), "--output", str(tmp_path / "x.tar")]) == 2
    assert "operator 0 (ABS) is not supported" in capsys.readouterr().err
    assert main([str(samples["kws_dw1.tflite"]), "--output", str(tmp_path / "ok.tar")]) == 0
    planned = re.search(r"arena (\d+) B \(lower bound (\d+) B\)", capsys.readouterr().out)
    assert planned and planned.group(1) == planned.group(2) and int(planned.group(1)) <= 3960
