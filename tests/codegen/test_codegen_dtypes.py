"""Activations that are not int8: which the reader takes (int16 anywhere, float32 at the model's edges), how the
lowering keeps them from int8-only kernels, and how the arena planner aligns them."""

from __future__ import annotations

from pathlib import Path

import models_conversion as mc
import pytest

from daemon.codegen import compile_c
from daemon.codegen.arena import plan
from daemon.codegen.lowering import Program, Storage
from daemon.codegen.reader import Graph, read_model
from daemon.codegen.step import Step
from daemon.errors import CodegenError

MS = mc.MS  # with QUANTIZE and DEQUANTIZE registered
INT16, FLOAT32 = mc.INT16, mc.FLOAT32


def _compile(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "model.tflite"
    path.write_bytes(data)
    compile_c(path, tmp_path / "out.tar")


def _float_edges(inner_float: bool = False) -> bytes:
    """float input -> QUANTIZE -> SOFTMAX -> DEQUANTIZE -> float output (or the SOFTMAX in float: a float model)."""
    g = MS.GraphWriter()
    x = g.tensor("input", (1, 10), FLOAT32)
    q = g.tensor("quantized", (1, 10), MS.INT8, {"scale": [0.1], "zero_point": [3]})
    s = g.tensor("softmax", (1, 10), MS.INT8, {"scale": [1 / 256], "zero_point": [-128]})
    y = g.tensor("output", (1, 10), FLOAT32)
    if inner_float:
        f = g.tensor("float_softmax", (1, 10), FLOAT32)
        g.op("SOFTMAX", [x], [f], Beta=1.0)
        g.op("QUANTIZE", [f], [q])
        g.op("SOFTMAX", [q], [s], Beta=1.0)
    else:
        g.op("QUANTIZE", [x], [q])
        g.op("SOFTMAX", [q], [s], Beta=1.0)
    g.op("DEQUANTIZE", [s], [y])
    return bytes(g.serialize([x], [y], "float edges"))


def test_float_at_the_edges_is_read() -> None:
    graph = read_model(_float_edges())
    assert [graph.tensors[i].dtype for i in (*graph.inputs, *graph.outputs)] == ["float32", "float32"]


def test_float_inside_the_graph_is_a_float_model(tmp_path: Path) -> None:
    with pytest.raises(CodegenError, match=r"float model .*TVM's host path covers"):
        _compile(tmp_path, _float_edges(inner_float=True))


def _int16_softmax(zero_point: int = 0, pool: bool = False) -> bytes:
    """An int16 SOFTMAX (int16 kernel: daemon/codegen/int16.py), or an int16 MAX_POOL_2D (int8 kernels only)."""
    g = MS.GraphWriter()
    x = g.tensor("input", (1, 1, 1, 10), INT16, {"scale": [0.001], "zero_point": [zero_point]})
    y = g.tensor("output", (1, 1, 1, 10), INT16, {"scale": [1 / 32768], "zero_point": [0]})
    if pool:
        g.op("MAX_POOL_2D", [x], [y], Padding=1, StrideW=1, StrideH=1, FilterWidth=1, FilterHeight=1)
    else:
        g.op("SOFTMAX", [x], [y], Beta=1.0)
    return bytes(g.serialize([x], [y], "int16 softmax"))


def test_int16_activations_are_read_and_kept_from_int8_kernels(tmp_path: Path) -> None:
    assert read_model(_int16_softmax()).tensors[0].dtype == "int16"
    with pytest.raises(CodegenError, match=r"operator 0 \(MAX_POOL_2D\): tensor 'input' is int16; .* takes int8"):
        _compile(tmp_path, _int16_softmax(pool=True))


def test_int16_needs_zero_point_zero(tmp_path: Path) -> None:
    with pytest.raises(CodegenError, match=r"tensor 0 \('input'\) is int16 with zero point 5"):
        _compile(tmp_path, _int16_softmax(zero_point=5))


def _program(sizes: list[tuple[int, int, int, int]]) -> Program:
    """(size, align, first, last) per arena buffer."""
    graph = Graph((), (), (), ())
    storages = [Storage(k, size, [], "arena", -1, first, last, align=align)
                for k, (size, align, first, last) in enumerate(sizes)]
    steps = [Step(k, "TEST", "bd_test", None, {}) for k in range(max(last for *_, last in sizes) + 1)]
    return Program(graph, steps, storages)


@pytest.mark.parametrize("sizes", [
    [(5, 1, 0, 1), (6, 2, 1, 2), (8, 4, 2, 3)],  # odd int8 bytes before an int16 and a float buffer
    [(3, 1, 0, 0), (4, 4, 0, 1), (7, 1, 1, 2), (10, 2, 2, 3), (12, 4, 3, 3)],
    [(9, 1, 0, 2), (2, 2, 1, 1), (4, 4, 2, 2), (1, 1, 2, 3)],
])
def test_arena_aligns_wide_buffers(sizes: list[tuple[int, int, int, int]]) -> None:
    program = _program(sizes)
    arena = plan(program)
    for s in program.storages:
        assert s.offset % s.align == 0, f"buffer {s.id} ({s.size} B, align {s.align}) at {s.offset}"
    for a in program.storages:  # no two live-overlapping buffers share bytes
        for b in program.storages:
            if a.id < b.id and not (a.last < b.first or b.last < a.first):
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset
    assert arena.size <= arena.lower_bound + 3 * (len(sizes) - 1)


def test_arena_stays_at_the_lower_bound_when_alignment_allows() -> None:
    # 9 int8 bytes live with a float: largest first puts the float at 12 (3 bytes of padding); float first
    # packs them into the lower bound.
    program = _program([(9, 1, 0, 1), (4, 4, 1, 2)])
    arena = plan(program)
    assert arena.size == arena.lower_bound == 13
    assert [s.offset for s in program.storages] == [4, 0]
