"""Lowerings of the data-movement operators: CONCATENATION, SPLIT, SPLIT_V, PACK, UNPACK, SLICE, STRIDED_SLICE,
PAD, PADV2, TRANSPOSE.

All of them move int8 values unchanged (TFLite's reference kernels do not requantize them), so each becomes
one `bd_move` call: a list of box copies whose shapes, strides and offsets are folded here from the constant
axis / begin / end / strides / paddings / perm operands. Constant int8 inputs are copied from .rodata.
"""

from __future__ import annotations

import math

import numpy as np

from daemon.codegen.reader import Graph, OperatorInfo, TensorInfo
from daemon.codegen.step import Const, Step, check_out, where
from daemon.errors import CodegenError

MAX_RANK = 5  # TFLite's reference SLICE, STRIDED_SLICE and PAD stop at 5-D; so does bd_move's box


def strides(shape: tuple[int, ...] | list[int]) -> list[int]:
    out, step = [0] * len(shape), 1
    for d in range(len(shape) - 1, -1, -1):
        out[d] = step
        step *= shape[d]
    return out


def rank_ok(op: OperatorInfo, t: TensorInfo) -> int:
    if len(t.shape) > MAX_RANK:
        raise CodegenError(f"{where(op)}: tensor {t.name!r} has {len(t.shape)} dimensions; the reference C "
                           f"backend moves tensors of up to {MAX_RANK}")
    return len(t.shape)


def axis_of(op: OperatorInfo, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise CodegenError(f"{where(op)}: axis {axis} is out of range for {rank} dimensions")
    return axis % rank


def const_ints(g: Graph, op: OperatorInfo, position: int, what: str) -> np.ndarray:
    """A constant int32/int64 operand (axis, begin, paddings, ...), folded at generation time."""
    if position >= len(op.inputs) or op.inputs[position] < 0:
        raise CodegenError(f"{where(op)}: the {what} operand is missing")
    t = g.tensors[op.inputs[position]]
    if t.data is None or t.dtype not in ("int32", "int64"):
        raise CodegenError(f"{where(op)}: the {what} ({t.name!r}) must be a constant int32 tensor (it is "
                           f"{'computed at run time' if t.data is None else t.dtype}); the reference C backend "
                           "folds it at generation time")
    return t.array().astype(np.int64)


class Plan:
    """The box copies of one bd_move call, its activation inputs and its constant bytes."""

    def __init__(self, g: Graph, op: OperatorInfo) -> None:
        self.g, self.op = g, op
        self.inputs: list[int] = []
        self.boxes: list[int] = []
        self.data = bytearray()
        self.fill = (0, 0)

    def source(self, tensor: int) -> tuple[int, int]:
        """(src code, byte offset) of an input: its position among the activation inputs, or -1 for .rodata."""
        t = self.g.tensors[tensor]
        if t.data is not None:
            if t.dtype != "int8":
                raise CodegenError(f"{where(self.op)}: constant input {t.name!r} is {t.dtype}, not int8")
            self.data += t.data
            return -1, len(self.data) - len(t.data)
        if tensor not in self.inputs:
            self.inputs.append(tensor)
        return self.inputs.index(tensor), 0

    def box(self, tensor: int, dst: int, count: list[int], src_strides: list[int], dst_strides: list[int],
            src_offset: int = 0, dst_offset: int = 0) -> None:
        src, base = self.source(tensor)
        if 0 in count:
            return
        dims: list[tuple[int, int, int]] = []
        for c, a, b in zip(count, src_strides, dst_strides, strict=True):
            if c == 1:
                continue
            if dims and dims[-1][1] == a * c and dims[-1][2] == b * c:  # contiguous with the outer loop: merge
                dims[-1] = (dims[-1][0] * c, a, b)
            else:
                dims.append((c, a, b))
        if len(dims) > MAX_RANK:
            raise CodegenError(f"{where(self.op)}: the copy needs {len(dims)} nested loops; bd_move has {MAX_RANK}")
        dims = [(1, 0, 0)] * (MAX_RANK - len(dims)) + dims
        self.boxes += [src, dst, base + src_offset, dst_offset, *(d[0] for d in dims), *(d[1] for d in dims),
                       *(d[2] for d in dims)]

    def step(self) -> Step:
        op = self.op
        fields = {"fill_size": self.fill[0], "fill_value": self.fill[1], "boxes": len(self.boxes) // 19,
                  "plan": Const("plan"), "data": Const("data") if self.data else 0}
        consts: dict[str, np.ndarray] = {"plan": np.array(self.boxes, np.int32)}
        if self.data:
            consts["data"] = np.frombuffer(bytes(self.data), np.int8).copy()
        return Step(op.index, op.opcode, "bd_move", "bd_move_params", fields, consts, self.inputs,
                    list(op.outputs), arrays=True)


def _same_quant(op: OperatorInfo, a: TensorInfo, out: TensorInfo) -> None:
    if a.scales[:1] != out.scales[:1] or a.zero_points[:1] != out.zero_points[:1]:
        raise CodegenError(f"{where(op)}: input {a.name!r} is quantized ({a.scale}, {a.zero_point}) unlike the "
                           f"output ({out.scale}, {out.zero_point}); TFLite's int8 {op.opcode} refuses that "
                           "(the converter inserts a QUANTIZE to rescale)")


def lower_concat(g: Graph, op: OperatorInfo) -> Step:
    out = g.tensors[op.outputs[0]]
    rank = rank_ok(op, out)
    axis = axis_of(op, op.options.get("Axis", 0), rank)
    if op.options.get("FusedActivationFunction", "NONE") != "NONE":
        raise CodegenError(f"{where(op)}: fused activation {op.options['FusedActivationFunction']} on an int8 "
                           "CONCATENATION (TFLite refuses it)")
    plan, offset, dst = Plan(g, op), 0, strides(out.shape)
    for index in op.inputs:
        t = g.tensors[index]
        if len(t.shape) != rank or any(t.shape[d] != out.shape[d] for d in range(rank) if d != axis):
            raise CodegenError(f"{where(op)}: input {t.name!r} of shape {list(t.shape)} does not fit output "
                               f"{list(out.shape)} along axis {axis}")
        _same_quant(op, t, out)
        plan.box(index, 0, list(t.shape), strides(t.shape), dst, 0, offset * dst[axis])
        offset += t.shape[axis]
    if offset != out.shape[axis]:
        raise CodegenError(f"{where(op)}: inputs add up to {offset} along axis {axis}, the output has "
                           f"{out.shape[axis]}")
    return plan.step()


def _split(g: Graph, op: OperatorInfo, x: TensorInfo, axis: int) -> Step:
    plan, offset, src = Plan(g, op), 0, strides(x.shape)
    for k, index in enumerate(op.outputs):
        t = g.tensors[index]
        if len(t.shape) != len(x.shape) or any(t.shape[d] != x.shape[d] for d in range(len(x.shape)) if d != axis):
            raise CodegenError(f"{where(op)}: output {t.name!r} of shape {list(t.shape)} is not a slice of "
                               f"{list(x.shape)} along axis {axis}")
        plan.box(x.index, k, list(t.shape), src, strides(t.shape), offset * src[axis])
        offset += t.shape[axis]
    if offset != x.shape[axis]:
        raise CodegenError(f"{where(op)}: outputs add up to {offset} along axis {axis}, the input has "
                           f"{x.shape[axis]}")
    return plan.step()


def lower_split(g: Graph, op: OperatorInfo) -> Step:
    if op.opcode == "SPLIT":
        x, axes = g.tensors[op.inputs[1]], const_ints(g, op, 0, "axis")
    else:
        x, axes = g.tensors[op.inputs[0]], const_ints(g, op, 2, "axis")
        sizes = [int(s) for s in const_ints(g, op, 1, "size_splits").ravel()]
        got = [g.tensors[t].shape[axis_of(op, int(axes.ravel()[0]), len(x.shape))] for t in op.outputs]
        if len(sizes) != len(got) or any(s not in (-1, n) for s, n in zip(sizes, got, strict=False)):
            raise CodegenError(f"{where(op)}: size_splits {sizes} do not match the outputs' sizes {got}")
    if axes.size != 1:
        raise CodegenError(f"{where(op)}: the axis must be one value (got {axes.size})")
    axis = axis_of(op, int(axes.ravel()[0]), rank_ok(op, x))
    if op.opcode == "SPLIT" and x.shape[axis] % len(op.outputs):
        raise CodegenError(f"{where(op)}: {x.shape[axis]} values along axis {axis} do not split evenly in "
                           f"{len(op.outputs)}")
    return _split(g, op, x, axis)


def lower_unpack(g: Graph, op: OperatorInfo) -> Step:
    x = g.tensors[op.inputs[0]]
    axis = axis_of(op, op.options.get("Axis", 0), rank_ok(op, x))
    if len(op.outputs) != x.shape[axis]:
        raise CodegenError(f"{where(op)}: {len(op.outputs)} outputs for {x.shape[axis]} values along axis {axis}")
    plan, src = Plan(g, op), strides(x.shape)
    count = [1 if d == axis else s for d, s in enumerate(x.shape)]
    for k, index in enumerate(op.outputs):
        check_out(op, g.tensors[index], tuple(s for d, s in enumerate(x.shape) if d != axis))
        plan.box(x.index, k, count, src, strides(count), k * src[axis])
    return plan.step()


def lower_pack(g: Graph, op: OperatorInfo) -> Step:
    out = g.tensors[op.outputs[0]]
    axis = axis_of(op, op.options.get("Axis", 0), rank_ok(op, out))
    if len(op.inputs) != out.shape[axis]:
        raise CodegenError(f"{where(op)}: {len(op.inputs)} inputs for {out.shape[axis]} values along axis {axis}")
    plan, dst = Plan(g, op), strides(out.shape)
    count = [1 if d == axis else s for d, s in enumerate(out.shape)]
    for k, index in enumerate(op.inputs):
        t = g.tensors[index]
        if t.shape != tuple(s for d, s in enumerate(out.shape) if d != axis):
            raise CodegenError(f"{where(op)}: input {t.name!r} of shape {list(t.shape)} does not fit output "
                               f"{list(out.shape)}")
        _same_quant(op, t, out)
        plan.box(index, 0, count, strides(count), dst, 0, k * dst[axis])
    return plan.step()


def lower_slice(g: Graph, op: OperatorInfo) -> Step:
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    rank = rank_ok(op, x)
    begin, size = const_ints(g, op, 1, "begin").ravel(), const_ints(g, op, 2, "size").ravel()
    if len(begin) != rank or len(size) != rank:
        raise CodegenError(f"{where(op)}: begin/size have {len(begin)}/{len(size)} values for {rank} dimensions")
    count = []
    for d in range(rank):
        n = x.shape[d] - int(begin[d]) if size[d] == -1 else int(size[d])
        if begin[d] < 0 or n < 0 or begin[d] + n > x.shape[d]:
            raise CodegenError(f"{where(op)}: begin {int(begin[d])} size {int(size[d])} is outside dimension {d} "
                               f"of {x.shape[d]}")
        count.append(n)
    check_out(op, out, tuple(count))
    plan, src = Plan(g, op), strides(x.shape)
    plan.box(x.index, 0, count, src, strides(count), sum(int(b) * s for b, s in zip(begin, src, strict=True)))
    return plan.step()


def lower_transpose(g: Graph, op: OperatorInfo) -> Step:
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    rank = rank_ok(op, x)
    perm = [int(p) % rank if -rank <= p < rank else -1 for p in const_ints(g, op, 1, "perm").ravel()]
    if sorted(perm) != list(range(rank)):
        raise CodegenError(f"{where(op)}: perm {perm} is not a permutation of {rank} dimensions")
    check_out(op, out, tuple(x.shape[p] for p in perm))
    plan, src = Plan(g, op), strides(x.shape)
    plan.box(x.index, 0, list(out.shape), [src[p] for p in perm], strides(out.shape))
    return plan.step()


def lower_pad(g: Graph, op: OperatorInfo) -> Step:
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    rank = rank_ok(op, x)
    pads = const_ints(g, op, 1, "paddings")
    if pads.shape != (rank, 2) or (pads < 0).any():
        raise CodegenError(f"{where(op)}: paddings {pads.tolist()} must be {rank} non-negative [before, after] pairs")
    check_out(op, out, tuple(int(s + a + b) for s, (a, b) in zip(x.shape, pads, strict=True)))
    value = out.zero_point
    if op.opcode == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        v = g.tensors[op.inputs[2]]
        if v.data is None or v.dtype != "int8" or v.size != 1:
            raise CodegenError(f"{where(op)}: constant_values {v.name!r} must be one constant int8 value")
        if v.scales[:1] != out.scales[:1] or v.zero_points[:1] != out.zero_points[:1]:
            raise CodegenError(f"{where(op)}: constant_values {v.name!r} is quantized unlike the output "
                               "(TFLite's int8 PADV2 refuses that)")
        value = int(v.array().ravel()[0])
    plan, dst = Plan(g, op), strides(out.shape)
    plan.fill = (out.size, value)
    plan.box(x.index, 0, list(x.shape), strides(x.shape), dst, 0,
             sum(int(a) * s for a, s in zip(pads[:, 0], dst, strict=True)))
    return plan.step()


def _ceil_div(a: int, b: int) -> int:
    """std::ceil((end - begin) / static_cast<float>(stride)), in float32 as TFLite's Prepare computes it."""
    return int(math.ceil(float(np.float32(a) / np.float32(b))))


def _dense_specs(op: OperatorInfo, rank: int, n: int) -> list[tuple[int, int]]:
    """Per input dimension the spec index that slices it (-1: the whole dimension), and -2 entries where a
    new axis of 1 enters the output: TensorFlow's ellipsis / new-axis rules, which TFLite's kernel follows."""
    ellipsis, new_axis = op.options.get("EllipsisMask", 0), op.options.get("NewAxisMask", 0)
    if bin(ellipsis).count("1") > 1:
        raise CodegenError(f"{where(op)}: more than one ellipsis in ellipsis_mask {ellipsis}")
    consumed = sum(1 for i in range(n) if not (ellipsis >> i & 1 or new_axis >> i & 1))
    specs: list[tuple[int, int]] = []  # (kind, spec index): kind 0 = sliced dim, 1 = new axis
    for i in range(n):
        if ellipsis >> i & 1:
            specs += [(0, -1)] * (rank - consumed)
        elif new_axis >> i & 1:
            specs.append((1, i))
        else:
            specs.append((0, i))
    specs += [(0, -1)] * (rank - sum(1 for kind, _ in specs if kind == 0))
    if sum(1 for kind, _ in specs if kind == 0) != rank:
        raise CodegenError(f"{where(op)}: {n} slice specs do not fit {rank} dimensions")
    return specs


def lower_strided_slice(g: Graph, op: OperatorInfo) -> Step:
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    rank = rank_ok(op, x)
    o = op.options
    begin, end, step = (const_ints(g, op, k, n).ravel() for k, n in ((1, "begin"), (2, "end"), (3, "strides")))
    if not len(begin) == len(end) == len(step):
        raise CodegenError(f"{where(op)}: begin/end/strides have {len(begin)}/{len(end)}/{len(step)} values")
    bm, em, sm, offset = o.get("BeginMask", 0), o.get("EndMask", 0), o.get("ShrinkAxisMask", 0), o.get("Offset", 0)
    count, src_strides, src_offset, shape, src, d = [], [], 0, [], strides(x.shape), 0
    for kind, i in _dense_specs(op, rank, len(begin)):
        if kind == 1:
            shape.append(1)
            continue
        n, full = x.shape[d], i < 0
        s = 1 if full else int(step[i])
        if s == 0:
            raise CodegenError(f"{where(op)}: stride 0 in slice spec {i}")
        start = 0 if full else int(begin[i])
        if full or bm >> i & 1:
            start = -(2**31) if s > 0 else 2**31 - 1
        start = min(max(start + n if start < 0 else start, 0), n - 1)
        stop = 0 if full else int(end[i])
        if offset and not full:
            if not (0 <= begin[i] and 0 <= begin[i] + end[i] <= n):
                raise CodegenError(f"{where(op)}: with offset, begin {int(begin[i])} + size {int(end[i])} must "
                                   f"stay inside dimension {d} of {n}")
            stop += int(begin[i])
        if full or em >> i & 1:
            stop = 2**31 - 1 if s > 0 else -(2**31)
        stop = stop + n if stop < 0 else stop
        stop = min(max(stop, 0), n) if s > 0 else min(max(stop, -1), n - 1)
        shrink = not full and bool(sm >> i & 1)
        if shrink:
            stop = start + 1
        c = max(_ceil_div(stop - start, s), 0)
        count.append(c)
        src_strides.append(s * src[d])
        src_offset += start * src[d]
        if not shrink:
            shape.append(c)
        d += 1
    check_out(op, out, tuple(shape))
    plan = Plan(g, op)
    plan.box(x.index, 0, count, src_strides, strides(count), src_offset)
    return plan.step()


def _nearest(out_size: int, in_size: int, align: bool, half: bool) -> list[int]:
    """TFLite's GetNearestNeighbor for every output index, in its float32 arithmetic."""
    f = np.float32
    scale = f(in_size - 1) / f(out_size - 1) if align and out_size > 1 else f(in_size) / f(out_size)
    offset = f(0.5) if half else f(0.0)
    table = []
    for i in range(out_size):
        v = float((f(i) + offset) * scale)
        k = min(int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1) if align else math.floor(v), in_size - 1)
        table.append(max(k, 0) if half else k)
    return table


def lower_resize_nearest(g: Graph, op: OperatorInfo) -> Step:
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    if len(x.shape) != 4:
        raise CodegenError(f"{where(op)}: input {x.name!r} has shape {list(x.shape)}, expected 4-D (NHWC)")
    n, in_h, in_w, c = x.shape
    size = [int(v) for v in const_ints(g, op, 1, "size").ravel()]
    if len(size) != 2 or min(size) < 1:
        raise CodegenError(f"{where(op)}: size {size} must be two positive values")
    check_out(op, out, (n, size[0], size[1], c))
    align, half = bool(op.options.get("AlignCorners")), bool(op.options.get("HalfPixelCenters"))
    fields = {"batches": n, "in_h": in_h, "in_w": in_w, "channels": c, "out_h": size[0], "out_w": size[1],
              "rows": Const("rows"), "cols": Const("cols")}
    consts = {"rows": np.array(_nearest(size[0], in_h, align, half), np.int32),
              "cols": np.array(_nearest(size[1], in_w, align, half), np.int32)}
    return Step(op.index, op.opcode, "bd_resize_nearest", "bd_resize_params", fields, consts, [x.index],
                [out.index])
