"""QUANTIZE and DEQUANTIZE, alone and at the edges of whole float-I/O int8 models, bit-exact with TFLite's
reference kernels (BUILTIN_REF): 200 random vectors on the sanitized host build, a few on RV32IMC (soft-float),
float outputs compared as raw bytes."""

from __future__ import annotations

from pathlib import Path

import harness
import models_conversion as mc
import numpy as np
import pytest
from harness import assert_bit_exact, random_inputs
from model_tools import tvm_available

from daemon.codegen import compile_c
from daemon.errors import CodegenError

pytestmark = [pytest.mark.tvm, tvm_available]

CASES = {
    # float32 -> int8/int16 (TFLite's AffineQuantize)
    "q_f32_s8": mc.quantize((1, 5, 7, 3), "float32", "int8", None, (0.05, -3)),
    "q_f32_s8_zp_high": mc.quantize((3, 17), "float32", "int8", None, (0.0125, 90)),
    "q_f32_s16": mc.quantize((2, 33), "float32", "int16", None, (0.00037, 0)),
    # requantization between integer types, scale ratios above and below one
    "rq_s8_s8_up": mc.quantize((1, 4, 9, 2), "int8", "int8", (0.05, 3), (0.03, -5)),
    "rq_s8_s8_down": mc.quantize((29,), "int8", "int8", (0.02, 7), (0.09, -20)),
    "rq_s16_s8": mc.quantize((2, 3, 11), "int16", "int8", (0.0007, 0), (0.06, 4)),
    "rq_s8_s16": mc.quantize((1, 37), "int8", "int16", (0.05, -9), (0.00011, 0)),
    "rq_s16_s16": mc.quantize((41,), "int16", "int16", (0.0009, 0), (0.0004, 0)),
    # int8/int16 -> float32
    "dq_s8": mc.dequantize((1, 6, 5, 3), "int8", (0.0371, -11)),
    "dq_s16": mc.dequantize((3, 19), "int16", (0.000123, 0)),
    # whole models with float I/O
    "float_io_cnn": mc.float_io_cnn(),
    "float_io_int16_edge": mc.float_io_int16_edge(),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_conversion_is_bit_exact(name: str, host_build) -> None:  # type: ignore[no-untyped-def]
    model, exe, io = host_build(name, CASES[name])
    assert_bit_exact(model, exe, io, random_inputs(io))


# Ties of round-half-away (scale 2^-4 divides exactly), the int32 boundary, infinities, NaN, huge values, -0.0,
# subnormals: what the reference does with each (out of int32 range and NaN: INT32_MIN + zero point, wrapped).
SPECIALS = np.array([0.03125, -0.03125, 0.09375, -0.09375, 0.15625, -0.21875, 7.96875, -8.03125, 0.0, -0.0,
                     1e-45, -1e-45, 1.5, -1.5, 2.5, -2.5, np.inf, -np.inf, np.nan, 1e20, -1e20, 3e9, -3e9,
                     134217720.0, 134217728.0, -134217728.0, 134217736.0, 3.4e38, -3.4e38, 5.0, -5.0, 7.0,
                     -7.0, 100.0, -100.0, 0.5], np.float32)


@pytest.mark.parametrize("out_type, zero_point", [("int8", -3), ("int8", 0), ("int8", 100), ("int16", 0)])
def test_quantize_special_values(out_type: str, zero_point: int, host_build) -> None:  # type: ignore[no-untyped-def]
    name = f"q_specials_{out_type}_{zero_point}"
    model, exe, io = host_build(name, mc.quantize((1, len(SPECIALS)), "float32", out_type, None, (0.0625, zero_point)))
    rng = np.random.default_rng(5)
    vectors = np.stack([SPECIALS] + [rng.permutation(SPECIALS) for _ in range(4)])
    assert_bit_exact(model, exe, io, [vectors])


@pytest.mark.skipif(not harness.HAVE_RV32, reason="needs riscv64-unknown-elf-gcc, picolibc and qemu-system-riscv32")
@pytest.mark.parametrize("name", sorted(CASES))
def test_conversion_on_rv32imc(name: str, tmp_path: Path) -> None:
    model = tmp_path / f"{name}.tflite"
    model.write_bytes(CASES[name])
    compile_c(model, tmp_path / "mlf.tar")
    io = harness.unpack(tmp_path / "mlf.tar", tmp_path / "io")
    inputs = random_inputs(io, 3, seed=7)
    if io.input_dtypes[0] == "float32" and inputs[0].shape[1] >= len(SPECIALS):  # the special values too
        inputs[0][0, :len(SPECIALS)] = SPECIALS
    elf, io = harness.build_rv32(tmp_path / "mlf.tar", tmp_path, [[x[k] for x in inputs] for k in range(3)])
    outs, counts = harness.run_rv32(elf, io)
    want = harness.reference(model, inputs)
    assert len(outs) == 3 and all(c > 0 for c in counts)
    for j, w in enumerate(want):
        got = np.stack([o[j] for o in outs])
        assert not harness.differing(got, w).any(), f"RV32IMC differs from TFLite on output {j}"
        assert len(np.unique(w)) > 8


def test_float_io_metadata_names_the_quantization(tmp_path: Path) -> None:
    model = tmp_path / "m.tflite"
    model.write_bytes(CASES["float_io_cnn"])
    compile_c(model, tmp_path / "mlf.tar")
    io = harness.unpack(tmp_path / "mlf.tar", tmp_path / "io")
    assert io.input_dtypes == ("float32",) and io.output_dtypes == ("float32",)
    assert io.input_quantization[0] == {"dtype": "int8", "scale": pytest.approx(0.04), "zero_point": -7}
    assert io.inputs[0][1] == 9 * 7 * 2 * 4 and io.outputs[0][1] == 6 * 4


def _refused(tmp_path: Path, data: bytes, pattern: str) -> None:
    path = tmp_path / "model.tflite"
    path.write_bytes(data)
    with pytest.raises(CodegenError, match=pattern):
        compile_c(path, tmp_path / "out.tar")


def test_per_channel_quantize_is_refused(tmp_path: Path) -> None:
    g = mc.MS.GraphWriter()
    x = g.tensor("input", (1, 4, 2), mc.FLOAT32)
    y = g.tensor("output", (1, 4, 2), mc.INT8, {"scale": [0.1, 0.2], "zero_point": [0, 0], "dim": 2})
    g.op("QUANTIZE", [x], [y])
    _refused(tmp_path, g.serialize([x], [y], "per channel"), r"operator 0 \(QUANTIZE\): .* 2 scales; per-channel")


def test_dequantize_into_the_graph_is_a_float_model(tmp_path: Path) -> None:
    g = mc.MS.GraphWriter()
    x = g.tensor("input", (1, 8), mc.INT8, {"scale": [0.1], "zero_point": [0]})
    f = g.tensor("float", (1, 8), mc.FLOAT32)
    g.op("DEQUANTIZE", [x], [f])
    y = g.tensor("output", (1, 8), mc.FLOAT32)
    g.op("SOFTMAX", [f], [y], Beta=1.0)
    _refused(tmp_path, g.serialize([x], [y], "dequantize inside"), "float model")


def test_quantize_of_a_constant_is_refused(tmp_path: Path) -> None:
    g = mc.MS.GraphWriter()
    c = g.tensor("const", (1, 8), mc.INT8, {"scale": [0.1], "zero_point": [0]}, np.arange(8, dtype=np.int8))
    y = g.tensor("output", (1, 8), mc.INT8, {"scale": [0.2], "zero_point": [1]})
    g.op("QUANTIZE", [c], [y])
    _refused(tmp_path, g.serialize([], [y], "constant"), r"operator 0 \(QUANTIZE\): the input 'const' is a constant")
