"""SUB, SQUARED_DIFFERENCE, MAXIMUM, MINIMUM, PRELU, constant operands of the binary operators, and the unary
activations: bit-exact with TFLite's reference kernels (BUILTIN_REF) on the host (sanitized build, 200
random vectors per model) and on RV32IMC under QEMU; what the backend does not take is refused by name.
"""

from __future__ import annotations

from pathlib import Path

import harness
import models_activation as models
import numpy as np
import pytest
from harness import assert_bit_exact, random_inputs
from model_tools import tvm_available

from daemon.codegen import compile_c
from daemon.codegen.activation import lower_unary
from daemon.codegen.elementwise import lower_binary
from daemon.codegen.reader import read_model
from daemon.errors import CodegenError

B = models.binary
BINARY_CASES = {
    # each operator alone, same shapes (the flat path), odd sizes
    **{f"{k.lower()}_same": B(k, (1, 5, 7, 3), (1, 5, 7, 3), seed=i) for i, k in enumerate(models.BINARY)},
    # broadcasting: per last dimension, scalar, rank mismatch, both sides broadcast, 4D inner/outer
    "sub_last_dim_relu": B("SUB", (1, 4, 5, 3), (3,), act="RELU", seed=10),
    "sub_scalar_first": B("SUB", (1,), (2, 3, 5), seed=11),
    "sub_both_broadcast_relu6": B("SUB", (2, 1, 5), (3, 1), act="RELU6", seed=12),
    "sub_relu_n1_to_1": B("SUB", (3, 7), (3, 7), act="RELU_N1_TO_1", scales=(0.01, 0.012), seed=13),
    "squared_difference_rank_mismatch": B("SQUARED_DIFFERENCE", (2, 3, 1, 5), (3, 4, 1), seed=14),
    "squared_difference_scalar": B("SQUARED_DIFFERENCE", (1, 9, 3), (1, 1, 1), seed=15),
    "maximum_broadcast_4d": B("MAXIMUM", (2, 1, 3, 1), (1, 4, 1, 5), seed=16),
    "minimum_last_dim": B("MINIMUM", (1, 6, 5), (5,), seed=17),
    "maximum_other_scales": B("MAXIMUM", (3, 5), (3, 5), scales=(0.02, 0.09), seed=18),
    "prelu_per_channel_alpha": B("PRELU", (1, 4, 5, 3), (1, 1, 3), seed=19),
    "prelu_scalar_alpha": B("PRELU", (2, 7), (1,), seed=20),
    "prelu_full_alpha": B("PRELU", (3, 4, 5), (4, 5), seed=21),
    # different scales on each side (one 8x the other), both orders
    "add_scales_8x": B("ADD", (2, 9), (2, 9), scales=(0.1, 0.0125), seed=22),
    "sub_scales_8x_reversed": B("SUB", (2, 9), (9,), scales=(0.0125, 0.1), seed=23),
    "add_same_quantization": B("ADD", (1, 7, 5, 3), (1, 7, 5, 3), same_q=True, seed=25),
    "sub_same_quantization_broadcast": B("SUB", (1, 7, 5, 3), (5, 1), same_q=True, seed=26),
    "squared_difference_scales": B("SQUARED_DIFFERENCE", (2, 9), (2, 9), scales=(0.07, 0.02), seed=24),
    # a constant operand: x + bias, x * scale, c - x, scalar constants, constant alpha
    "add_const_bias": B("ADD", (1, 5, 4, 6), (6,), const="b", act="RELU", seed=30),
    "add_const_first": B("ADD", (1, 3), (2, 5, 3), const="a", seed=31),
    "mul_const_scale": B("MUL", (1, 6, 7), (7,), const="b", seed=32),
    "mul_const_scalar": B("MUL", (3, 11), (1,), const="b", act="RELU6", seed=33),
    "sub_const_first": B("SUB", (4, 1), (4, 5), const="a", seed=34),
    "sub_const_same_shape": B("SUB", (2, 3, 5), (2, 3, 5), const="b", seed=35),
    "squared_difference_const": B("SQUARED_DIFFERENCE", (2, 6, 4), (1, 4), const="b", seed=36),
    "maximum_const": B("MAXIMUM", (2, 7, 3), (3,), const="b", seed=37),
    "minimum_const_first": B("MINIMUM", (7, 1), (7, 4), const="a", seed=38),
    "prelu_const_alpha": B("PRELU", (1, 5, 6, 4), (1, 1, 4), const="b", seed=39),
    # a constant of one value: the step becomes a table lookup
    "add_const_scalar": B("ADD", (1, 6, 5, 3), (1,), const="b", act="RELU6", seed=46),
    "sub_const_scalar_first": B("SUB", (1, 1, 1), (2, 9, 5), const="a", seed=41),
    "squared_difference_const_scalar": B("SQUARED_DIFFERENCE", (4, 13), (1, 1), const="b", seed=42),
    "maximum_const_scalar": B("MAXIMUM", (3, 19), (), const="b", seed=43),
    "minimum_const_scalar_first": B("MINIMUM", (1,), (5, 11), const="a", seed=44),
    "prelu_const_scalar_alpha": B("PRELU", (1, 5, 7, 3), (1,), const="b", seed=45),
}

U = models.unary
SIGMOID_Q = {"scale": [1 / 256], "zero_point": [-128]}
UNARY_CASES = {
    "logistic": U("LOGISTIC", (1, 5, 7, 3), out_q=SIGMOID_Q),
    "logistic_wide_input": U("LOGISTIC", (2, 13), in_scale=0.2, out_q=SIGMOID_Q, seed=1),
    "logistic_zp_0": U("LOGISTIC", (37,), in_scale=0.03, out_q={"scale": [1 / 256], "zero_point": [0]}, seed=2),
    "tanh": U("TANH", (1, 5, 7, 3), out_q={"scale": [1 / 128], "zero_point": [0]}, seed=3),
    "tanh_other_scales": U("TANH", (3, 4, 5), in_scale=0.004, seed=4),
    "hard_swish": U("HARD_SWISH", (1, 9, 5, 3), in_scale=0.05, seed=5),  # reluish multiplier shifts left
    "hard_swish_small_scale": U("HARD_SWISH", (1, 7, 11), in_scale=0.002, out_q={"scale": [0.001],
                                                                                    "zero_point": [-5]}, seed=6),
    "hard_swish_zp_far": U("HARD_SWISH", (61,), in_scale=0.04, in_zp=-110, seed=7),
    "relu": U("RELU", (1, 5, 7, 3), seed=8),
    "relu_rescaled": U("RELU", (2, 19), in_scale=0.05, out_q={"scale": [0.02], "zero_point": [-128]}, seed=9),
    "relu6": U("RELU6", (1, 6, 5, 3), in_scale=0.08, out_q={"scale": [6 / 255], "zero_point": [-128]}, seed=10),
    "relu6_unclipped_scale": U("RELU6", (3, 17), in_scale=0.02, seed=11),
    "relu_n1_to_1": U("RELU_N1_TO_1", (1, 5, 7, 3), in_scale=0.012,
                      out_q={"scale": [2 / 255], "zero_point": [0]}, seed=12),
    "relu_0_to_1": U("RELU_0_TO_1", (2, 5, 9), in_scale=0.006, out_q={"scale": [1 / 255], "zero_point": [-128]},
                     seed=17),
    "leaky_relu": U("LEAKY_RELU", (1, 5, 7, 3), seed=13, Alpha=0.2),
    "leaky_relu_small_alpha": U("LEAKY_RELU", (4, 23), seed=14, Alpha=0.01),
    "leaky_relu_alpha_above_one": U("LEAKY_RELU", (2, 3, 11), seed=15, Alpha=1.7),
    "leaky_relu_negative_alpha": U("LEAKY_RELU", (41,), seed=16, Alpha=-0.3),
}


@pytest.mark.tvm
@tvm_available
@pytest.mark.parametrize("name", sorted(BINARY_CASES))
def test_binary_operator_is_bit_exact(name: str, host_build) -> None:  # type: ignore[no-untyped-def]
    model, exe, io = host_build(name, BINARY_CASES[name])
    assert_bit_exact(model, exe, io, random_inputs(io))


@pytest.mark.tvm
@tvm_available
@pytest.mark.parametrize("name", sorted(UNARY_CASES))
def test_unary_activation_is_bit_exact(name: str, host_build) -> None:  # type: ignore[no-untyped-def]
    model, exe, io = host_build(name, UNARY_CASES[name])
    assert_bit_exact(model, exe, io, random_inputs(io))


def _interpreter_table(data: bytes) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], np.arange(-128, 128, dtype=np.int8).reshape(1, 256))
    interp.invoke()
    return np.asarray(interp.get_tensor(interp.get_output_details()[0]["index"])).ravel()


@pytest.mark.tvm
@tvm_available
@pytest.mark.parametrize("kind", ["LOGISTIC", "TANH", "HARD_SWISH", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1",
                                  "LEAKY_RELU"])
def test_unary_tables_equal_tflite_on_every_input_over_many_scales(kind: str) -> None:
    """The generated table against the interpreter on all 256 inputs, for 60 random quantizations spanning
    four orders of magnitude (the C kernel is the lookup itself, tested above)."""
    rng = np.random.default_rng(sum(map(ord, kind)))
    checked = 0
    for k in range(60):
        out_q = SIGMOID_Q if kind == "LOGISTIC" else {"scale": [float(10 ** rng.uniform(-3.5, 0))],
                                                       "zero_point": [int(rng.integers(-128, 128))]}
        options = {"Alpha": float(rng.uniform(-1.5, 1.5))} if kind == "LEAKY_RELU" else {}
        data = U(kind, (1, 256), in_scale=float(10 ** rng.uniform(-3.5, 0)), out_q=out_q,
                 in_zp=int(rng.integers(-128, 128)), seed=k, **options)
        graph = read_model(data)
        try:
            table = lower_unary(graph, graph.operators[0]).consts["table"]
        except CodegenError:  # refused: TFLite must refuse it too
            with pytest.raises(RuntimeError):
                _interpreter_table(data)
            continue
        want = _interpreter_table(data)
        assert (table == want).all(), f"case {k}: inputs {np.nonzero(table != want)[0] - 128} differ"
        checked += 1
    assert checked >= 50


@pytest.mark.tvm
@tvm_available
@pytest.mark.parametrize("kind", models.BINARY)
def test_scalar_constant_tables_equal_tflite_on_every_input(kind: str) -> None:
    """x op c (and c op x) for every int8 x against the interpreter, for 30 random quantizations and constants."""
    rng = np.random.default_rng(sum(map(ord, kind)))
    checked = 0
    for k in range(30):
        first = kind != "PRELU" and k % 2 == 1
        scales = (float(10 ** rng.uniform(-3, 0)), float(10 ** rng.uniform(-3, 0)))
        out_scale = float(10 ** rng.uniform(-3.5, 0)) if k % 3 else None
        act = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"][k % 4] if kind in ("ADD", "SUB", "MUL") else "NONE"
        data = B(kind, (1,) if first else (1, 256), (1, 256) if first else (1,), act=act,
                 const="a" if first else "b", scales=scales, out_scale=out_scale, seed=k)
        graph = read_model(data)
        try:
            step = lower_binary(graph, graph.operators[0])
        except CodegenError:
            continue  # an output scale the rescaling cannot take (refused; tested below)
        assert step.kernel == "bd_lookup"
        want = _interpreter_table(data)
        assert (step.consts["table"] == want).all(), f"case {k}: inputs {np.nonzero(step.consts['table'] != want)}"
        checked += 1
    assert checked >= 20


def test_a_constant_operand_is_a_const_array_of_the_step(tmp_path: Path) -> None:
    path = tmp_path / "m.tflite"
    path.write_bytes(BINARY_CASES["add_const_bias"])
    report = compile_c(path, tmp_path / "mlf.tar")
    harness.unpack(tmp_path / "mlf.tar", tmp_path / "mlf")
    source = (tmp_path / "mlf/codegen/host/src/default_lib0.c").read_text()
    assert "static const int8_t op0_constant[6]" in source and "bd_add_c(&op0_params" in source
    assert ".constant = op0_constant" in source and report.constants_bytes >= 6


def test_inputs_quantized_alike_share_one_rescale_table(tmp_path: Path) -> None:
    path = tmp_path / "m.tflite"
    path.write_bytes(BINARY_CASES["add_same_quantization"])
    compile_c(path, tmp_path / "mlf.tar")
    harness.unpack(tmp_path / "mlf.tar", tmp_path / "mlf")
    source = (tmp_path / "mlf/codegen/host/src/default_lib0.c").read_text()
    assert "static const int32_t op0_rescale1[256]" in source and "op0_rescale2" not in source
    assert ".rescale1 = op0_rescale1" in source and ".rescale2 = op0_rescale1" in source


def test_a_scalar_constant_makes_a_table_lookup(tmp_path: Path) -> None:
    path = tmp_path / "m.tflite"
    path.write_bytes(BINARY_CASES["add_const_scalar"])
    compile_c(path, tmp_path / "mlf.tar")
    harness.unpack(tmp_path / "mlf.tar", tmp_path / "mlf")
    source = (tmp_path / "mlf/codegen/host/src/default_lib0.c").read_text()
    assert "static const int8_t op0_table[256]" in source and "bd_lookup(&op0_params" in source


RV32_CASES = ["sub_last_dim_relu", "squared_difference_rank_mismatch", "maximum_broadcast_4d", "minimum_last_dim",
              "prelu_const_alpha", "add_const_bias", "mul_const_scale", "sub_const_first", "add_const_scalar"]


def _rv32_bit_exact(data: bytes, tmp_path: Path) -> float:
    """Bit-exact on 3 vectors; returns the most instructions retired per output value."""
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    run = harness.assert_bit_exact_rv32(path, tmp_path)
    assert len(np.unique(np.concatenate(run.want))) > 8
    return max(run.instructions) / run.want[0].shape[1]


RV32 = pytest.mark.skipif(not harness.HAVE_RV32,
                          reason="needs riscv64-unknown-elf-gcc, picolibc and qemu-system-riscv32")


@pytest.mark.tvm
@tvm_available
@RV32
@pytest.mark.parametrize("name", RV32_CASES)
def test_binary_operator_is_bit_exact_on_rv32imc(name: str, tmp_path: Path) -> None:
    per_value = _rv32_bit_exact(BINARY_CASES[name], tmp_path)
    assert per_value < 100, per_value  # measured: 14 (MAXIMUM) to 82 (broadcast ADD), 9 for a scalar constant


@pytest.mark.tvm
@tvm_available
@RV32
@pytest.mark.parametrize("name", ["logistic", "tanh", "hard_swish", "relu", "relu6", "relu_n1_to_1", "relu_0_to_1",
                                  "leaky_relu"])
def test_unary_activation_is_bit_exact_on_rv32imc(name: str, tmp_path: Path) -> None:
    per_value = _rv32_bit_exact(UNARY_CASES[name], tmp_path)
    assert per_value < 20, per_value  # a table lookup per value, no arithmetic (measured: 9)


def _refused(tmp_path: Path, data: bytes, pattern: str) -> None:
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    with pytest.raises(CodegenError, match=pattern):
        compile_c(path, tmp_path / "out.tar")


def test_two_constant_operands_are_refused(tmp_path: Path) -> None:
    g = models.MS.GraphWriter()
    q = {"scale": [0.05], "zero_point": [0]}
    a = g.tensor("a", (1, 4), models.INT8, q, np.arange(4))
    b = g.tensor("b", (1, 4), models.INT8, q, np.arange(4))
    x = g.tensor("x", (1, 4), models.INT8, q)
    y = g.tensor("y", (1, 4), models.INT8, q)
    z = g.tensor("z", (1, 4), models.INT8, q)
    g.op("SUB", [a, b], [y], FusedActivationFunction=0)
    g.op("ADD", [x, y], [z], FusedActivationFunction=0)
    _refused(tmp_path, g.serialize([x], [z], "t"), r"operator 0 \(SUB\): both operands are constant")


def test_per_channel_alpha_is_refused(tmp_path: Path) -> None:
    g = models.MS.GraphWriter()
    x = g.tensor("x", (1, 3, 4), models.INT8, {"scale": [0.05], "zero_point": [0]})
    alpha = g.tensor("alpha", (1, 4), models.INT8, {"scale": [0.01, 0.02, 0.03, 0.04], "zero_point": [0] * 4,
                                                    "dim": 1}, np.arange(4))
    y = g.tensor("y", (1, 3, 4), models.INT8, {"scale": [0.05], "zero_point": [0]})
    g.op("PRELU", [x, alpha], [y])
    _refused(tmp_path, g.serialize([x], [y], "t"), r"operator 0 \(PRELU\): operand 'alpha' is quantized per channel")


def test_alpha_that_grows_the_output_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, B("PRELU", (1, 3), (4, 3)), r"operator 0 \(PRELU\): alpha \[4, 3\] broadcasts the input")


def test_output_scale_too_small_for_sub_is_refused(tmp_path: Path) -> None:
    g = models.MS.GraphWriter()
    q = {"scale": [1.0], "zero_point": [0]}
    x = g.tensor("x", (1, 4), models.INT8, q)
    w = g.tensor("w", (1, 4), models.INT8, q)
    y = g.tensor("y", (1, 4), models.INT8, {"scale": [1e-9], "zero_point": [0]})
    g.op("SUB", [x, w], [y], FusedActivationFunction=0)
    _refused(tmp_path, g.serialize([x, w], [y], "t"), r"operator 0 \(SUB\): the output scale is too small")


def test_shapes_that_do_not_broadcast_are_refused(tmp_path: Path) -> None:
    g = models.MS.GraphWriter()
    q = {"scale": [0.1], "zero_point": [0]}
    x = g.tensor("x", (2, 3), models.INT8, q)
    w = g.tensor("w", (2, 4), models.INT8, q)
    y = g.tensor("y", (2, 4), models.INT8, q)
    g.op("MAXIMUM", [x, w], [y])
    _refused(tmp_path, g.serialize([x, w], [y], "t"), r"operator 0 \(MAXIMUM\): shapes \[2, 3\] and \[2, 4\] do not")


def test_five_dimensions_are_refused(tmp_path: Path) -> None:
    _refused(tmp_path, B("SQUARED_DIFFERENCE", (2, 1, 2, 1, 3), (2, 3)),
             r"operator 0 \(SQUARED_DIFFERENCE\): broadcasting over more than 4 dimensions")


def test_logistic_output_scale_other_than_1_256_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, U("LOGISTIC", (1, 8), out_q={"scale": [0.01], "zero_point": [-128]}),
             r"operator 0 \(LOGISTIC\): int8 LOGISTIC needs the output scale 1/256")


def test_hard_swish_output_scale_too_small_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, U("HARD_SWISH", (1, 8), in_scale=0.5, out_q={"scale": [0.0001], "zero_point": [0]}),
             r"operator 0 \(HARD_SWISH\): the output scale is too small")


def test_per_channel_activation_input_is_refused(tmp_path: Path) -> None:
    g = models.MS.GraphWriter()
    x = g.tensor("x", (1, 2), models.INT8, {"scale": [0.1, 0.2], "zero_point": [0, 0], "dim": 1})
    y = g.tensor("y", (1, 2), models.INT8, {"scale": [0.1], "zero_point": [0]})
    g.op("TANH", [x], [y])
    _refused(tmp_path, g.serialize([x], [y], "t"), r"operator 0 \(TANH\): tensor 'x' is quantized per channel")


def test_int32_constant_operand_is_refused(tmp_path: Path) -> None:
    g = models.MS.GraphWriter()
    q = {"scale": [0.05], "zero_point": [0]}
    x = g.tensor("x", (1, 4), models.INT8, q)
    c = g.tensor("offsets", (4,), models.MS.INT32, q, np.arange(4))
    y = g.tensor("y", (1, 4), models.INT8, q)
    g.op("SUB", [x, c], [y], FusedActivationFunction=0)
    _refused(tmp_path, g.serialize([x], [y], "t"), r"operator 0 \(SUB\): operand 'offsets' is int32")


def test_fused_tanh_on_sub_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, B("SUB", (1, 4), (1, 4), act="TANH"), r"operator 0 \(SUB\): fused activation TANH")


@pytest.mark.tvm
@tvm_available
def test_leaky_relu_without_options_has_alpha_0_as_in_tflite() -> None:
    models.MS.OPS["LEAKY_RELU"] = (98, 0)  # written with no LeakyReluOptions table
    try:
        data = U("LEAKY_RELU", (1, 256), in_scale=0.05, in_zp=3, seed=1)
    finally:
        models.MS.OPS["LEAKY_RELU"] = (98, 75)
    graph = read_model(data)
    table = lower_unary(graph, graph.operators[0]).consts["table"]
    assert graph.operators[0].options == {} and len(set(table[:128].tolist())) == 1  # negatives: all zero
    assert (table == _interpreter_table(data)).all()
