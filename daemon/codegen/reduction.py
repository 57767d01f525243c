"""Lowerings of the reductions: MEAN and SUM over constant axes, and BATCH_MATMUL (int8, per-tensor).

TFLite's reference int8 MEAN and SUM (reduce.cc, BUILTIN_REF) both run reference_ops::QuantizedMeanOrSum:
the int32 sum less zero point * count, times input_scale / output_scale as a fixed-point multiplier (for MEAN
with 1 / count folded into it), plus the output zero point, clamped. Its SUM hands the int8 tensors over as
uint8 (the bytes read 0..255, the result clamped to 0..255 and stored as that byte); bit-exactness means doing
the same. The 4-D [1, 2] integer MEAN and the same-scale shortcuts exist only in the optimized kernels.
"""

from __future__ import annotations

import numpy as np

from daemon.codegen.movement import MAX_RANK, axis_of, const_ints, rank_ok, strides
from daemon.codegen.quant import activation_range, quantize_multiplier
from daemon.codegen.reader import Graph, OperatorInfo
from daemon.codegen.step import Const, Step, check_out, where
from daemon.errors import CodegenError


def _loops(counts: list[int], steps: list[int]) -> tuple[list[int], list[int]]:
    """Nested loops (outer first) with contiguous neighbours merged, padded to MAX_RANK."""
    dims: list[tuple[int, int]] = []
    for c, s in zip(counts, steps, strict=True):
        if c == 1:
            continue
        if dims and dims[-1][1] == s * c:
            dims[-1] = (dims[-1][0] * c, s)
        else:
            dims.append((c, s))
    dims = [(1, 0)] * (MAX_RANK - len(dims)) + dims
    return [c for c, _ in dims], [s for _, s in dims]


def lower_reduce(g: Graph, op: OperatorInfo) -> Step:
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    rank = rank_ok(op, x)
    raw = [int(a) for a in const_ints(g, op, 1, "axis").ravel()]
    if rank == 0 or x.size == 0 or not raw:
        raise CodegenError(f"{where(op)}: an empty or scalar input, or no axis (a copy), is not supported")
    axes = sorted({axis_of(op, a, rank) for a in raw})
    keep = bool(op.options.get("KeepDims", False))
    kept = [d for d in range(rank) if d not in axes]
    check_out(op, out, tuple(1 if d in axes else x.shape[d] for d in range(rank)) if keep else
              tuple(x.shape[d] for d in kept))
    src = strides(x.shape)
    outer, outer_stride = _loops([x.shape[d] for d in kept], [src[d] for d in kept])
    inner, inner_stride = _loops([x.shape[d] for d in axes], [src[d] for d in axes])
    count = int(np.prod([x.shape[d] for d in axes], dtype=np.int64))
    mult, shift = quantize_multiplier(x.scale / out.scale)
    if op.opcode == "MEAN":
        # QuantizedMeanOrSum folds 1 / count into the multiplier, losing the bits it must to stay in int32.
        n = min(count.bit_length() - 1, 32, 31 + shift)
        if n < 0:
            raise CodegenError(f"{where(op)}: input/output scale ratio {x.scale / out.scale} is too small")
        mult, shift = (mult << n) // count, shift - n
    as_uint8 = op.opcode == "SUM"
    lo, hi = (0, 255) if as_uint8 else (-128, 127)
    fields = {"outer": outer, "outer_stride": outer_stride, "inner": inner, "inner_stride": inner_stride,
              "as_uint8": int(as_uint8), "zp_sum": x.zero_point * count, "mult": mult, "shift": shift,
              "out_zp": out.zero_point, "lo": lo, "hi": hi}
    return Step(op.index, op.opcode, "bd_reduce", "bd_reduce_params", fields, {}, [x.index], [out.index],
                macs=x.size)


def lower_batch_matmul(g: Graph, op: OperatorInfo) -> Step:
    a, b, out = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    for t in (a, b):
        if not 2 <= len(t.shape) <= 5:
            raise CodegenError(f"{where(op)}: operand {t.name!r} has shape {list(t.shape)}; BATCH_MATMUL takes "
                               "2 to 5 dimensions")
        if len(t.scales) > 1:
            raise CodegenError(f"{where(op)}: operand {t.name!r} is quantized per channel; TFLite's int8 "
                               "BATCH_MATMUL takes per-tensor scales")
    if a.data is not None:
        raise CodegenError(f"{where(op)}: a constant LHS ({a.name!r}) is not supported (the converter writes the "
                           "constant operand as the RHS)")
    if b.data is not None and b.dtype != "int8":
        raise CodegenError(f"{where(op)}: constant RHS {b.name!r} is {b.dtype}, not int8")
    adj_x, adj_y = bool(op.options.get("AdjX")), bool(op.options.get("AdjY"))
    rank = max(len(a.shape), len(b.shape))
    if rank > 5:
        raise CodegenError(f"{where(op)}: more than 5 dimensions")
    ash, bsh = (1,) * (5 - len(a.shape)) + a.shape, (1,) * (5 - len(b.shape)) + b.shape
    rows, depth = (ash[4], ash[3]) if adj_x else (ash[3], ash[4])
    depth_b, cols = (bsh[4], bsh[3]) if adj_y else (bsh[3], bsh[4])
    if depth != depth_b:
        raise CodegenError(f"{where(op)}: LHS {list(a.shape)} and RHS {list(b.shape)} do not multiply "
                           f"(depth {depth} vs {depth_b})")
    batch = []
    for d in range(3):
        if ash[d] != bsh[d] and 1 not in (ash[d], bsh[d]):
            raise CodegenError(f"{where(op)}: batch dimensions of {list(a.shape)} and {list(b.shape)} do not "
                               "broadcast")
        batch.append(max(ash[d], bsh[d]))
    check_out(op, out, (*batch[3 - (rank - 2):], rows, cols) if rank > 2 else (rows, cols))
    sa, sb = strides(ash), strides(bsh)
    mult, shift = quantize_multiplier(a.scale * b.scale / out.scale)
    lo, hi = activation_range("NONE", out.scale, out.zero_point, where(op))
    fields = {"batch": batch, "lhs_batch": [0 if ash[d] == 1 else sa[d] for d in range(3)],
              "rhs_batch": [0 if bsh[d] == 1 else sb[d] for d in range(3)], "rows": rows, "cols": cols,
              "depth": depth, "lhs_row": 1 if adj_x else sa[3], "lhs_k": sa[3] if adj_x else 1,
              "rhs_k": 1 if adj_y else sb[3], "rhs_col": sb[3] if adj_y else 1, "lhs_offset": -a.zero_point,
              "rhs_offset": -b.zero_point, "out_zp": out.zero_point, "mult": mult, "shift": shift,
              "act_min": lo, "act_max": hi, "rhs": Const("rhs") if b.data is not None else 0}
    macs = int(np.prod(batch)) * rows * cols * depth
    if b.data is not None:
        return Step(op.index, op.opcode, "bd_batch_matmul_const", "bd_batch_matmul_params", fields,
                    {"rhs": b.array().astype(np.int8).ravel()}, [a.index], [out.index], macs=macs)
    return Step(op.index, op.opcode, "bd_batch_matmul", "bd_batch_matmul_params", fields, {}, [a.index, b.index],
                [out.index], macs=macs)
