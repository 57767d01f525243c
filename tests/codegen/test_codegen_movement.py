"""Data movement and reductions alone, bit-exact with TFLite's reference kernels (BUILTIN_REF): each model is
built with gcc -fsanitize=address,undefined -Werror and run on 200 random input vectors; a few also on RV32IMC.
"""

from __future__ import annotations

from pathlib import Path

import models_movement as mm
import numpy as np
import pytest
from harness import HAVE_RV32, assert_bit_exact, assert_bit_exact_rv32, random_inputs
from model_tools import tvm_available

from daemon.codegen import compile_c
from daemon.errors import CodegenError

pytestmark = [pytest.mark.tvm, tvm_available]

CASES = {
    # aliases (no kernel): SQUEEZE / EXPAND_DIMS between two kernels would share bytes; alone they copy
    "squeeze": mm.unary("SQUEEZE", (1, 3, 1, 5), (3, 5), []),
    "expand_dims_neg": mm.unary("EXPAND_DIMS", (3, 5), (3, 5, 1), [[-1]], seed=1),
    "alias_chain": mm.alias_chain(),
    # PAD / PADV2
    "pad_4d": mm.unary("PAD", (1, 3, 5, 2), (1, 6, 6, 3), [[[0, 0], [1, 2], [0, 1], [1, 0]]], seed=2),
    "pad_2d": mm.unary("PAD", (3, 7), (4, 12), [[[1, 0], [2, 3]]], seed=3),
    "pad_5d": mm.unary("PAD", (2, 1, 3, 2, 3), (2, 3, 3, 3, 4), [[[0, 0], [1, 1], [0, 0], [1, 0], [0, 1]]],
                       seed=4),
    "padv2_value": mm.padv2((1, 4, 3, 3), [[0, 0], [2, 1], [1, 1], [0, 2]], 77, seed=5),
    # CONCATENATION: several inputs, negative axis, constants
    "concat_axis1": mm.concat([(1, 3, 5, 2), (1, 4, 5, 2), (1, 1, 5, 2)], 1),
    "concat_last_neg": mm.concat([(2, 3, 5), (2, 3, 1), (2, 3, 4)], -1, seed=1),
    "concat_const": mm.concat([(2, 7), (2, 3), (2, 2)], 1, const=(1,), seed=2),
    "concat_axis0": mm.concat([(1, 9), (3, 9)], 0, seed=3),
    "concat_5d": mm.concat([(2, 1, 3, 2, 2), (2, 2, 3, 2, 2)], 1, seed=4),
    # SPLIT / SPLIT_V (several outputs)
    "split_axis1": mm.multi_out("SPLIT", (2, 9, 5), [(2, 3, 5)] * 3, [[1], "x"], NumSplits=3),
    "split_neg": mm.multi_out("SPLIT", (1, 4, 6), [(1, 4, 3)] * 2, [[-1], "x"], seed=1, NumSplits=2),
    "split_v": mm.multi_out("SPLIT_V", (3, 10, 2), [(3, 2, 2), (3, 5, 2), (3, 3, 2)], ["x", [2, -1, 3], [-2]],
                            seed=2, NumSplits=3),
    # PACK / UNPACK
    "pack_axis0": mm.pack((3, 5), 3, 0),
    "pack_neg": mm.pack((2, 7), 2, -1, seed=1),
    "pack_axis1_three": mm.pack((4, 3), 3, 1, seed=2),
    "split_axis0": mm.multi_out("SPLIT", (6, 5), [(2, 5)] * 3, [[0], "x"], seed=5, NumSplits=3),
    "unpack_axis0": mm.multi_out("UNPACK", (3, 4, 2), [(4, 2)] * 3, ["x"], seed=6, Num=3, Axis=0),
    "unpack_axis1": mm.multi_out("UNPACK", (4, 3, 5), [(4, 5)] * 3, ["x"], seed=3, Num=3, Axis=1),
    "unpack_neg": mm.multi_out("UNPACK", (2, 7, 2), [(2, 7)] * 2, ["x"], seed=4, Num=2, Axis=-1),
    # SLICE
    "slice_4d": mm.unary("SLICE", (1, 7, 6, 5), (1, 3, 5, 2), [[0, 2, 1, 3], [1, 3, -1, 2]]),
    "slice_2d": mm.unary("SLICE", (9, 11), (4, 11), [[5, 0], [-1, -1]], seed=1),
    # TRANSPOSE
    "transpose_nhwc_nchw": mm.unary("TRANSPOSE", (1, 5, 4, 3), (1, 3, 5, 4), [[0, 3, 1, 2]]),
    "transpose_3d": mm.unary("TRANSPOSE", (3, 7, 2), (7, 2, 3), [[1, 2, 0]], seed=1),
    "transpose_5d": mm.unary("TRANSPOSE", (2, 3, 1, 4, 5), (5, 2, 4, 3, 1), [[4, 0, 3, 1, 2]], seed=2),
    # STRIDED_SLICE: strides, negative begin/stride, masks, ellipsis, new axis, implicit trailing dims, offset
    "ss_strided_4d": mm.unary("STRIDED_SLICE", (1, 7, 6, 5), (1, 3, 3, 5),
                              [[0, 1, -5, 0], [1, 7, 6, 5], [1, 2, 2, 1]]),
    "ss_backwards": mm.unary("STRIDED_SLICE", (9, 8), (5, 5), [[-1, 6], [0, 1], [-2, -1]], seed=1, EndMask=1),
    "ss_shrink_begin_mask": mm.unary("STRIDED_SLICE", (2, 5, 6), (5, 3), [[1, 3, 2], [2, 5, 5], [1, 1, 1]],
                                     seed=2, ShrinkAxisMask=1, BeginMask=2),
    "ss_ellipsis": mm.unary("STRIDED_SLICE", (2, 3, 4, 5), (1, 3, 4, 3), [[1, 0, 1], [2, 0, 4], [1, 1, 1]],
                            seed=3, EllipsisMask=2),
    "ss_new_axis": mm.unary("STRIDED_SLICE", (4, 6), (1, 2, 3), [[0, 1, 0], [0, 3, 6], [1, 1, 2]], seed=4,
                            NewAxisMask=1),
    "ss_fewer_specs": mm.unary("STRIDED_SLICE", (3, 4, 5), (2, 4, 5), [[1], [3], [1]], seed=5),
    "ss_offset": mm.unary("STRIDED_SLICE", (2, 5, 6), (1, 2, 3), [[1, 1, 1], [1, 2, 3], [1, 1, 1]], seed=6,
                          Offset=True),
    "ss_5d_reversed": mm.unary("STRIDED_SLICE", (2, 3, 4, 3, 2), (2, 2, 2, 1, 2),
                               [[0, 1, 0, 2, 0], [2, 3, 4, 3, 0], [1, 1, 3, 1, -1]], seed=7, BeginMask=16,
                               EndMask=16),
    # RESIZE_NEAREST_NEIGHBOR: up, down, odd ratios, align_corners, half_pixel_centers
    "resize_up": mm.unary("RESIZE_NEAREST_NEIGHBOR", (1, 3, 5, 2), (1, 7, 9, 2), [[7, 9]]),
    "resize_down_align": mm.unary("RESIZE_NEAREST_NEIGHBOR", (2, 9, 7, 3), (2, 4, 5, 3), [[4, 5]], seed=1,
                                  AlignCorners=True),
    "resize_half_pixel": mm.unary("RESIZE_NEAREST_NEIGHBOR", (1, 5, 4, 3), (1, 8, 11, 3), [[8, 11]], seed=2,
                                  HalfPixelCenters=True),
    "resize_align_up": mm.unary("RESIZE_NEAREST_NEIGHBOR", (1, 4, 3, 1), (1, 10, 7, 1), [[10, 7]], seed=3,
                                AlignCorners=True),
    # MEAN: axes as the converter writes them (the 4-D [1, 2] case too), negative, 5-D; keep_dims both ways
    "mean_hw_keep": mm.reduce("MEAN", (1, 5, 7, 6), [1, 2], True),
    "mean_hw_keep_batch2": mm.reduce("MEAN", (2, 4, 3, 5), [2, 1], True, seed=1),
    "mean_hw_neg_axes": mm.reduce("MEAN", (1, 5, 7, 6), [-3, -2], True, seed=2),
    "mean_hw_no_keep": mm.reduce("MEAN", (1, 5, 7, 6), [1, 2], False, seed=3),
    "mean_last": mm.reduce("MEAN", (3, 4, 9), [-1], False, seed=4),
    "mean_same_quant": mm.reduce("MEAN", (2, 6, 5), [1], True, same_q=True, seed=5),
    "mean_5d_two_axes": mm.reduce("MEAN", (2, 3, 2, 4, 3), [0, 3], True, seed=6),
    "mean_all_to_scalar": mm.reduce("MEAN", (2, 3, 4), [0, 1, 2], False, seed=11),
    # SUM (TFLite reads the int8 bytes as uint8 and clamps to 0..255: matched)
    "sum_rescaled": mm.reduce("SUM", (2, 5, 6), [1], False, seed=7),
    "sum_all_keep": mm.reduce("SUM", (3, 4), [0, -1], True, seed=8),
    "sum_two_axes": mm.reduce("SUM", (4, 3, 5), [0, 2], False, seed=9),
    "sum_4d_hw": mm.reduce("SUM", (1, 4, 3, 7), [1, 2], True, seed=10),
    "sum_5d_keep": mm.reduce("SUM", (2, 3, 2, 2, 3), [-1, 1], True, seed=12),
    # BATCH_MATMUL: plain, adjoints, broadcast batch dimensions, constant RHS
    "bmm_2d": mm.batch_matmul((5, 7), (7, 3)),
    "bmm_batch": mm.batch_matmul((2, 4, 6), (2, 6, 5), seed=1),
    "bmm_adj": mm.batch_matmul((3, 6, 4), (3, 5, 6), adj_x=True, adj_y=True, seed=2),
    "bmm_adj_x": mm.batch_matmul((2, 7, 3), (7, 4), adj_x=True, seed=7),
    "bmm_broadcast": mm.batch_matmul((2, 1, 3, 5), (1, 3, 5, 4), seed=3),
    "bmm_5d_rank_broadcast": mm.batch_matmul((2, 1, 3, 4, 5), (3, 5, 2), seed=6),
    "bmm_const_rhs": mm.batch_matmul((1, 6, 9), (9, 5), const_b=True, seed=4),
    "bmm_const_rhs_adj_y": mm.batch_matmul((2, 3, 8), (4, 8), adj_y=True, const_b=True, seed=5),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_operator_is_bit_exact(name: str, host_build) -> None:  # type: ignore[no-untyped-def]
    model, exe, io = host_build(name, CASES[name])
    assert_bit_exact(model, exe, io, random_inputs(io))


# At least one case of every operator (SQUEEZE and EXPAND_DIMS alias their input: no kernel, no code to run).
RV32_CASES = ["concat_const", "split_axis1", "split_v", "pack_neg", "unpack_axis1", "slice_4d", "pad_4d",
              "padv2_value", "transpose_5d", "ss_backwards", "resize_half_pixel", "mean_hw_keep", "mean_last",
              "sum_rescaled", "bmm_broadcast", "bmm_const_rhs"]


@pytest.mark.skipif(not HAVE_RV32, reason="needs riscv64-unknown-elf-gcc and qemu-system-riscv32")
@pytest.mark.parametrize("name", RV32_CASES)
def test_rv32_is_bit_exact(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(CASES[name])
    assert_bit_exact_rv32(path, tmp_path, seed=7)


def _refused(tmp_path: Path, data: bytes, pattern: str) -> None:
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    with pytest.raises(CodegenError, match=pattern):
        compile_c(path, tmp_path / "m.tar")


def test_concat_with_another_scale_is_refused(tmp_path: Path) -> None:
    g = mm.MS.GraphWriter()
    a = g.tensor("a", (1, 3), mm.INT8, {"scale": [0.1], "zero_point": [3]})
    b = g.tensor("b", (1, 2), mm.INT8, {"scale": [0.05], "zero_point": [3]})
    y = g.tensor("y", (1, 5), mm.INT8, {"scale": [0.1], "zero_point": [3]})
    g.op("CONCATENATION", [a, b], [y], Axis=1, FusedActivationFunction=0)
    _refused(tmp_path, g.serialize([a, b], [y], "x"), r"operator 0 \(CONCATENATION\): input 'b' is quantized")


def test_concat_with_fused_activation_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, mm.concat([(1, 3), (1, 4)], 1, act="RELU"), r"CONCATENATION\): fused activation RELU")


def test_six_dimensions_are_refused(tmp_path: Path) -> None:
    data = mm.unary("TRANSPOSE", (1, 2, 1, 2, 1, 2), (2, 1, 2, 1, 2, 1), [[5, 4, 3, 2, 1, 0]])
    _refused(tmp_path, data, r"TRANSPOSE\): tensor 'input' has 6 dimensions")


def test_negative_paddings_are_refused(tmp_path: Path) -> None:
    data = mm.unary("PAD", (1, 5), (1, 4), [[[0, 0], [-1, 0]]])
    _refused(tmp_path, data, r"PAD\): paddings \[\[0, 0\], \[-1, 0\]\] must be 2 non-negative")


def test_aliases_cost_no_kernel(tmp_path: Path) -> None:
    path = tmp_path / "m.tflite"
    path.write_bytes(CASES["alias_chain"])
    report = compile_c(path, tmp_path / "m.tar")
    assert report.operators == 3 and report.kernels == 1 and report.arena_bytes == 0


def test_strided_slice_with_two_ellipses_is_refused(tmp_path: Path) -> None:
    data = mm.unary("STRIDED_SLICE", (2, 3, 4), (2, 3, 4), [[0, 0], [1, 1], [1, 1]], EllipsisMask=3)
    _refused(tmp_path, data, r"STRIDED_SLICE\): more than one ellipsis")


def test_resize_of_a_3d_tensor_is_refused(tmp_path: Path) -> None:
    data = mm.unary("RESIZE_NEAREST_NEIGHBOR", (3, 5, 2), (6, 10, 2), [[6, 10]])
    _refused(tmp_path, data, r"RESIZE_NEAREST_NEIGHBOR\): input 'input' has shape \[3, 5, 2\], expected 4-D")


def test_reduce_of_six_dimensions_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, mm.reduce("SUM", (1, 2, 1, 2, 1, 2), [1], True), r"SUM\): tensor 'input' has 6 dimensions")


def test_batch_matmul_per_channel_rhs_is_refused(tmp_path: Path) -> None:
    g = mm.MS.GraphWriter()
    x = g.tensor("lhs", (2, 4), mm.INT8, {"scale": [0.1], "zero_point": [0]})
    w = g.tensor("rhs", (4, 3), mm.INT8, {"scale": [0.01, 0.02, 0.03], "zero_point": [0, 0, 0], "dim": 1},
                 np.ones((4, 3), np.int8))
    y = g.tensor("y", (2, 3), mm.INT8, {"scale": [0.1], "zero_point": [0]})
    g.op("BATCH_MATMUL", [x, w], [y], AdjX=False, AdjY=False)
    _refused(tmp_path, g.serialize([x], [y], "x"), r"BATCH_MATMUL\): operand 'rhs' is quantized per channel")


def test_batch_matmul_depth_mismatch_is_refused(tmp_path: Path) -> None:
    data = mm.batch_matmul((3, 5), (4, 2))
    _refused(tmp_path, data, r"BATCH_MATMUL\): LHS \[3, 5\] and RHS \[4, 2\] do not multiply")


def test_padv2_value_quantized_unlike_the_output_is_refused(tmp_path: Path) -> None:
    g = mm.MS.GraphWriter()
    q = {"scale": [0.1], "zero_point": [3]}
    x = g.tensor("x", (1, 2), mm.INT8, q)
    p = g.tensor("p", (2, 2), mm.INT32, data=np.array([[0, 0], [1, 1]], np.int32))
    v = g.tensor("v", (), mm.INT8, {"scale": [0.05], "zero_point": [-5]}, np.array(40, np.int8))
    y = g.tensor("y", (1, 4), mm.INT8, q)
    g.op("PADV2", [x, p, v], [y])
    _refused(tmp_path, g.serialize([x], [y], "x"), r"PADV2\): constant_values 'v' is quantized unlike the output")
