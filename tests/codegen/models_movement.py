"""Generated int8 models for the data-movement and reduction operators, one operator each.

Built with data/make_samples.py's GraphWriter (opcodes and option tables registered below from the tflite
package's BuiltinOperator / BuiltinOptions numbers). Constant int32 operands (axis, begin/end/strides,
paddings, perm, size_splits) are written as constant tensors, as the converter writes them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from models import ACT, MS

INT8, INT32 = MS.INT8, MS.INT32
MS.OPS.update({
    "CONCATENATION": (2, 10), "SPLIT": (49, 35), "SPLIT_V": (102, 79), "PACK": (83, 59), "UNPACK": (88, 64),
    "SLICE": (65, 48), "STRIDED_SLICE": (45, 32), "PAD": (34, 22), "PADV2": (60, 43), "TRANSPOSE": (39, 26),
    "SQUEEZE": (43, 30), "EXPAND_DIMS": (70, 52), "RESIZE_NEAREST_NEIGHBOR": (97, 74), "MEAN": (40, 27),
    "SUM": (74, 27), "BATCH_MATMUL": (126, 101), "LOCAL_RESPONSE_NORMALIZATION": (13, 13)})
MS.OPTION_TABLES.update({
    10: "ConcatenationOptions", 35: "SplitOptions", 79: "SplitVOptions", 59: "PackOptions", 64: "UnpackOptions",
    48: "SliceOptions", 32: "StridedSliceOptions", 22: "PadOptions", 43: "PadV2Options", 26: "TransposeOptions",
    30: "SqueezeOptions", 52: "ExpandDimsOptions", 74: "ResizeNearestNeighborOptions", 27: "ReducerOptions",
    101: "BatchMatMulOptions", 13: "LocalResponseNormalizationOptions"})


def _q(rng: np.random.Generator, scale: float | None = None, zp: int | None = None) -> dict[str, Any]:
    return {"scale": [scale if scale is not None else float(rng.uniform(0.01, 0.1))],
            "zero_point": [zp if zp is not None else int(rng.integers(-20, 21))]}


def _ints(g: Any, name: str, values: Any) -> int:
    data = np.asarray(values, np.int32)
    return int(g.tensor(name, data.shape, INT32, data=data))


def unary(kind: str, shape: tuple[int, ...], out_shape: tuple[int, ...], consts: list[Any], seed: int = 0,
          same_q: bool = True, out_q: dict[str, Any] | None = None, **options: Any) -> bytes:
    """input -> KIND(input, *consts) -> output; consts are int32 arrays (or -1 for an absent input)."""
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    q = _q(rng)
    x = g.tensor("input", shape, INT8, q)
    ins = [x] + [c if isinstance(c, int) else _ints(g, f"c{i}", c) for i, c in enumerate(consts)]
    y = g.tensor("output", out_shape, INT8, out_q or (q if same_q else _q(rng)))
    g.op(kind, ins, [y], **options)
    return bytes(g.serialize([x], [y], "codegen movement test"))


def concat(shapes: list[tuple[int, ...]], axis: int, const: tuple[int, ...] = (), act: str = "NONE",
           seed: int = 0) -> bytes:
    """CONCATENATION of activations (and constants at the positions in `const`), all with one quantization."""
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    q = _q(rng)
    ins, model_ins = [], []
    for k, shape in enumerate(shapes):
        if k in const:
            ins.append(g.tensor(f"const{k}", shape, INT8, q, rng.integers(-128, 128, shape).astype(np.int8)))
        else:
            ins.append(g.tensor(f"in{k}", shape, INT8, q))
            model_ins.append(ins[-1])
    out_shape = list(shapes[0])
    out_shape[axis] = sum(s[axis] for s in shapes)
    y = g.tensor("output", tuple(out_shape), INT8, q)
    g.op("CONCATENATION", ins, [y], Axis=axis, FusedActivationFunction=ACT[act])
    return bytes(g.serialize(model_ins, [y], "codegen movement test"))


def multi_out(kind: str, shape: tuple[int, ...], out_shapes: list[tuple[int, ...]], ins: list[Any],
              seed: int = 0, **options: Any) -> bytes:
    """SPLIT / SPLIT_V / UNPACK: `ins` lists 'x' for the activation and int32 arrays for constants."""
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    q = _q(rng)
    x = g.tensor("input", shape, INT8, q)
    tensors = [x if isinstance(c, str) else _ints(g, f"c{i}", c) for i, c in enumerate(ins)]
    outs = [g.tensor(f"output{k}", s, INT8, q) for k, s in enumerate(out_shapes)]
    g.op(kind, tensors, outs, **options)
    return bytes(g.serialize([x], outs, "codegen movement test"))


def pack(shape: tuple[int, ...], count: int, axis: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    q = _q(rng)
    ins = [g.tensor(f"in{k}", shape, INT8, q) for k in range(count)]
    out_shape = list(shape)
    out_shape.insert(axis if axis >= 0 else len(shape) + 1 + axis, count)
    y = g.tensor("output", tuple(out_shape), INT8, q)
    g.op("PACK", ins, [y], ValuesCount=count, Axis=axis)
    return bytes(g.serialize(ins, [y], "codegen movement test"))


def padv2(shape: tuple[int, ...], paddings: list[list[int]], value: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    q = _q(rng)
    x = g.tensor("input", shape, INT8, q)
    p = _ints(g, "paddings", paddings)
    v = g.tensor("constant_values", (), INT8, q, np.array(value, np.int8))
    out_shape = tuple(s + a + b for s, (a, b) in zip(shape, paddings, strict=True))
    y = g.tensor("output", out_shape, INT8, q)
    g.op("PADV2", [x, p, v], [y])
    return bytes(g.serialize([x], [y], "codegen movement test"))


def reduce(kind: str, shape: tuple[int, ...], axes: list[int], keep: bool, same_q: bool = False,
           seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    q = _q(rng)
    x = g.tensor("input", shape, INT8, q)
    a = _ints(g, "axis", axes)
    rank = len(shape)
    norm = {ax % rank for ax in axes}
    out_shape = tuple(1 if d in norm else s for d, s in enumerate(shape)) if keep else \
        tuple(s for d, s in enumerate(shape) if d not in norm)
    if same_q:
        out_q = q
    elif kind == "SUM":
        count = int(np.prod([shape[d] for d in norm]))
        out_q = _q(rng, q["scale"][0] * np.sqrt(count) * 1.5)
    else:
        out_q = _q(rng, q["scale"][0] * float(rng.uniform(0.3, 0.8)))
    y = g.tensor("output", out_shape, INT8, out_q)
    g.op(kind, [x, a], [y], KeepDims=keep)
    return bytes(g.serialize([x], [y], "codegen movement test"))


def batch_matmul(a_shape: tuple[int, ...], b_shape: tuple[int, ...], adj_x: bool = False, adj_y: bool = False,
                 const_b: bool = False, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    qa = _q(rng)
    a = g.tensor("lhs", a_shape, INT8, qa)
    if const_b:
        qb = {"scale": [float(rng.uniform(0.002, 0.02))], "zero_point": [0]}
        b = g.tensor("rhs", b_shape, INT8, qb, rng.integers(-127, 128, b_shape).astype(np.int8))
    else:
        qb = _q(rng)
        b = g.tensor("rhs", b_shape, INT8, qb)
    rows = a_shape[-1] if adj_x else a_shape[-2]
    depth = a_shape[-2] if adj_x else a_shape[-1]
    cols = b_shape[-2] if adj_y else b_shape[-1]
    batch = np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    scale = qa["scale"][0] * qb["scale"][0] * 127 * np.sqrt(depth) * 0.5
    y = g.tensor("output", (*batch, rows, cols), INT8, _q(rng, scale))
    g.op("BATCH_MATMUL", [a, b], [y], AdjX=adj_x, AdjY=adj_y)
    return bytes(g.serialize([a] if const_b else [a, b], [y], "codegen movement test"))


def alias_chain(seed: int = 0) -> bytes:
    """input (1, 4, 6) -> EXPAND_DIMS -> (1, 1, 4, 6) -> PAD -> (1, 1, 6, 7) -> SQUEEZE -> (6, 7) output."""
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    q = _q(rng)
    x = g.tensor("input", (1, 4, 6), INT8, q)
    x4 = g.tensor("x4", (1, 1, 4, 6), INT8, q)
    g.op("EXPAND_DIMS", [x, _ints(g, "axis", [1])], [x4])
    p = g.tensor("padded", (1, 1, 6, 7), INT8, q)
    g.op("PAD", [x4, _ints(g, "paddings", [[0, 0], [0, 0], [1, 1], [0, 1]])], [p])
    y = g.tensor("output", (6, 7), INT8, q)
    g.op("SQUEEZE", [p], [y])
    return bytes(g.serialize([x], [y], "codegen movement test"))
