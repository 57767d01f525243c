"""Lowerings of the binary elementwise operators with numpy broadcasting: ADD, SUB, MUL, SQUARED_DIFFERENCE,
MAXIMUM, MINIMUM and PRELU (input and alpha), each as TFLite's reference int8 kernel computes it.

Either operand may be a constant (a converter writes `x + bias`, `x * scale`, PRELU's alpha so): its int8
values become a const array of the step and the kernel's `_c` variant reads it in place of the second
activation pointer. A constant of one value (`x + 3`, `x * 0.5`) makes the operator a function of one int8
value: the generator evaluates it for all 256 inputs (`scalar_table`) and the step is a table lookup.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from daemon.codegen.activation import VALUES, lookup_step
from daemon.codegen.activation import multiply_by_quantized_multiplier as mbqm
from daemon.codegen.fixedpoint import wrap
from daemon.codegen.quant import INT8_MAX, INT8_MIN, quantize_multiplier
from daemon.codegen.reader import Graph, OperatorInfo, TensorInfo
from daemon.codegen.step import Const, Step, fused_range, where
from daemon.errors import CodegenError

KERNELS = {"ADD": "bd_add", "SUB": "bd_sub", "MUL": "bd_mul", "SQUARED_DIFFERENCE": "bd_squared_difference",
           "MAXIMUM": "bd_maximum", "MINIMUM": "bd_minimum", "PRELU": "bd_prelu"}
FUSED = {"ADD", "SUB", "MUL"}  # the ones with a FusedActivationFunction option


def broadcast_shape(op: OperatorInfo, a: TensorInfo, b: TensorInfo) -> tuple[int, ...]:
    rank = max(len(a.shape), len(b.shape))
    sa, sb = [1] * (rank - len(a.shape)) + list(a.shape), [1] * (rank - len(b.shape)) + list(b.shape)
    dims = []
    for x, y in zip(sa, sb, strict=True):
        if x != y and 1 not in (x, y):
            raise CodegenError(f"{where(op)}: shapes {list(a.shape)} and {list(b.shape)} do not broadcast")
        dims.append(y if x == 1 else x)
    return tuple(dims)


def _broadcast(op: OperatorInfo, a: TensorInfo, b: TensorInfo, out: TensorInfo) -> dict[str, Any]:
    if max(len(a.shape), len(b.shape), len(out.shape)) > 4:
        raise CodegenError(f"{where(op)}: broadcasting over more than 4 dimensions is not supported")
    if tuple(out.shape) != broadcast_shape(op, a, b):
        raise CodegenError(f"{where(op)}: output {out.name!r} has shape {list(out.shape)} but {list(a.shape)} "
                           f"and {list(b.shape)} broadcast to {list(broadcast_shape(op, a, b))}")
    dims = [1] * (4 - len(out.shape)) + list(out.shape)
    fields: dict[str, Any] = {"dims": dims, "flat": int(a.shape == b.shape == out.shape)}
    for key, t in (("stride1", a), ("stride2", b)):
        shape = [1] * (4 - len(t.shape)) + list(t.shape)
        strides, step = [0] * 4, 1
        for d in range(3, -1, -1):
            strides[d] = step if shape[d] == dims[d] and dims[d] != 1 else 0
            step *= shape[d]
        fields[key] = strides
    return fields


def _operand(op: OperatorInfo, t: TensorInfo) -> None:
    if t.dtype != "int8":
        raise CodegenError(f"{where(op)}: operand {t.name!r} is {t.dtype}; int8 is supported")
    if len(t.scales) != 1 or len(t.zero_points) > 1:
        raise CodegenError(f"{where(op)}: operand {t.name!r} is quantized per channel ({len(t.scales)} scales); "
                           "TFLite's int8 kernel takes one scale per operand")


def _rescaled_sum(op: OperatorInfo, a: TensorInfo, b: TensorInfo, out: TensorInfo, left_shift: int,
                  squared: bool) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """ADD/SUB/SQUARED_DIFFERENCE: both inputs onto a common scale (twice the larger one) after a left shift,
    as TFLite's Prepare derives it (double arithmetic over the float32 scales). An input's rescaled value
    depends on its int8 value only: the generator tabulates it (two of the three requantizations per
    output value become loads); equal quantizations share one table."""
    twice_max = 2 * max(a.scale, b.scale)  # the scales are float32 values: doubling them is exact
    m1, s1 = quantize_multiplier(a.scale / twice_max)
    m2, s2 = quantize_multiplier(b.scale / twice_max)
    shift = 2 * left_shift if squared else left_shift  # (1 << shift) * scale is exact in float32 too
    real_out = (twice_max * twice_max if squared else twice_max) / ((1 << shift) * out.scale)
    mo, so = quantize_multiplier(real_out)
    if max(s1, s2, so) > 0:
        raise CodegenError(f"{where(op)}: the output scale is too small for the int8 {op.opcode} rescaling "
                           f"(output multiplier {real_out:.3g} above one)")
    tables = [np.array([mbqm(wrap((v - t.zero_point) * (1 << left_shift)), m, s) for v in VALUES], np.int32)
              for t, m, s in ((a, m1, s1), (b, m2, s2))]
    same = bool((tables[0] == tables[1]).all())
    consts = {"rescale1": tables[0]} if same else {"rescale1": tables[0], "rescale2": tables[1]}
    fields = {"out_mult": mo, "out_shift": so, "rescale1": Const("rescale1"),
              "rescale2": Const("rescale1" if same else "rescale2")}
    return fields, consts


def _requant_fields(op: OperatorInfo, a: TensorInfo, b: TensorInfo, out: TensorInfo
                    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    if op.opcode in ("ADD", "SUB"):
        return _rescaled_sum(op, a, b, out, 20, False)
    if op.opcode == "SQUARED_DIFFERENCE":
        return _rescaled_sum(op, a, b, out, 7, True)
    if op.opcode == "MUL":
        mo, so = quantize_multiplier(a.scale * b.scale / out.scale)
        return {"out_mult": mo, "out_shift": so}, {}
    if op.opcode == "PRELU":
        # float32 arithmetic, as PreluPrepare computes the real multipliers
        sa, sb, so_ = np.float32(a.scale), np.float32(b.scale), np.float32(out.scale)
        m1, s1 = quantize_multiplier(float(sa / so_))
        m2, s2 = quantize_multiplier(float(sa * sb / so_))
        return {"out_mult": m1, "out_shift": s1, "out_mult2": m2, "out_shift2": s2}, {}
    return {}, {}  # MAXIMUM/MINIMUM compare the raw int8 values (TFLite ignores the scales)


def scalar_table(opcode: str, f: dict[str, Any], consts: dict[str, np.ndarray], c: int, const_first: bool
                 ) -> list[int]:
    """The operator with the constant `c` on one side, for every int8 value on the other: the kernel's
    arithmetic (benchd_elementwise.c, TFLite's reference) in Python."""

    def out8(raw: int) -> int:
        return min(max(mbqm(raw, f["out_mult"], f["out_shift"]) + f["out_zp"], f["act_min"]), f["act_max"])

    def one(a: int, b: int) -> int:
        if opcode in ("MAXIMUM", "MINIMUM"):
            return max(a, b) if opcode == "MAXIMUM" else min(a, b)
        if opcode == "MUL":
            return out8((a + f["in1_offset"]) * (b + f["in2_offset"]))
        if opcode == "PRELU":
            x = a + f["in1_offset"]
            v = (mbqm(x, f["out_mult"], f["out_shift"]) if x >= 0
                 else mbqm(x * (b + f["in2_offset"]), f["out_mult2"], f["out_shift2"]))
            return min(max(v + f["out_zp"], f["act_min"]), f["act_max"])
        ra, rb = (int(consts[f[key].key][v + 128]) for key, v in (("rescale1", a), ("rescale2", b)))
        return out8(ra + rb if opcode == "ADD" else ra - rb if opcode == "SUB" else (ra - rb) ** 2)

    return [one(c, x) if const_first else one(x, c) for x in VALUES]


def lower_binary(g: Graph, op: OperatorInfo) -> Step:
    if len(op.inputs) != 2 or min(op.inputs) < 0:
        raise CodegenError(f"{where(op)}: expected two inputs, got {list(op.inputs)}")
    a, b, out = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    for t in (a, b):
        _operand(op, t)
    if a.data is not None and b.data is not None:
        raise CodegenError(f"{where(op)}: both operands are constant; fold the operator in the converter")
    if op.opcode == "PRELU" and tuple(out.shape) != tuple(a.shape):
        raise CodegenError(f"{where(op)}: alpha {list(b.shape)} broadcasts the input {list(a.shape)} to a "
                           "larger shape (TFLite requires the output shape to be the input's)")
    lo, hi = fused_range(g, op) if op.opcode in FUSED else (INT8_MIN, INT8_MAX)
    fields: dict[str, Any] = {
        **_broadcast(op, a, b, out), "in1_offset": -a.zero_point, "in2_offset": -b.zero_point,
        "out_zp": out.zero_point, "act_min": lo, "act_max": hi, "out_mult": 0, "out_shift": 0, "out_mult2": 0,
        "out_shift2": 0, "rescale1": 0, "rescale2": 0, "constant": 0, "const_first": 0}
    requant, consts = _requant_fields(op, a, b, out)
    fields.update(requant)
    kernel, inputs = KERNELS[op.opcode], [a.index, b.index]
    constant = a if a.data is not None else b if b.data is not None else None
    if constant is not None and constant.size == 1:  # broadcasting one value keeps the other's order
        x = b if constant is a else a
        return lookup_step(op, x, out, scalar_table(op.opcode, fields, consts, int(constant.array().ravel()[0]),
                                                     constant is a))
    if constant is not None:
        kernel += "_c"
        consts["constant"] = constant.array().astype(np.int8).ravel()
        fields.update(constant=Const("constant"), const_first=int(constant is a))
        inputs = [b.index if constant is a else a.index]
    return Step(op.index, op.opcode, kernel, "bd_binary_params", fields, consts, inputs, [out.index])
