"""Lowerings of the elementwise operators: ADD and MUL with numpy broadcasting."""

from __future__ import annotations

from typing import Any

from daemon.codegen.quant import quantize_multiplier
from daemon.codegen.reader import Graph, OperatorInfo, TensorInfo
from daemon.codegen.step import Step, fused_range, where
from daemon.errors import CodegenError


def _broadcast(op: OperatorInfo, a: TensorInfo, b: TensorInfo, out: TensorInfo) -> dict[str, Any]:
    if max(len(a.shape), len(b.shape), len(out.shape)) > 4:
        raise CodegenError(f"{where(op)}: broadcasting over more than 4 dimensions is not supported")
    dims = [1] * (4 - len(out.shape)) + list(out.shape)
    fields: dict[str, Any] = {"dims": dims, "flat": int(a.shape == b.shape == out.shape)}
    for key, t in (("stride1", a), ("stride2", b)):
        shape = [1] * (4 - len(t.shape)) + list(t.shape)
        strides, step = [0] * 4, 1
        for d in range(3, -1, -1):
            if shape[d] not in (1, dims[d]):
                raise CodegenError(f"{where(op)}: shapes {list(a.shape)} and {list(b.shape)} do not broadcast "
                                   f"to {list(out.shape)}")
            strides[d] = step if shape[d] == dims[d] and dims[d] != 1 else 0
            step *= shape[d]
        fields[key] = strides
    return fields


def lower_binary(g: Graph, op: OperatorInfo) -> Step:
    a, b, out = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    for t in (a, b):
        if t.data is not None:
            raise CodegenError(f"{where(op)}: a constant operand ({t.name!r}) is not supported yet")
    lo, hi = fused_range(g, op)
    fields = {**_broadcast(op, a, b, out), "in1_offset": -a.zero_point, "in2_offset": -b.zero_point,
              "out_zp": out.zero_point, "act_min": lo, "act_max": hi, "left_shift": 0, "in1_mult": 0,
              "in1_shift": 0, "in2_mult": 0, "in2_shift": 0}
    if op.opcode == "ADD":
        twice_max = 2 * max(a.scale, b.scale)
        m1, s1 = quantize_multiplier(a.scale / twice_max)
        m2, s2 = quantize_multiplier(b.scale / twice_max)
        mo, so = quantize_multiplier(twice_max / ((1 << 20) * out.scale))
        if max(s1, s2, so) > 0:
            raise CodegenError(f"{where(op)}: the output scale is too small for the int8 ADD rescaling "
                               f"(output multiplier above one)")
        fields.update(left_shift=20, in1_mult=m1, in1_shift=s1, in2_mult=m2, in2_shift=s2, out_mult=mo,
                      out_shift=so)
    else:
        mo, so = quantize_multiplier(a.scale * b.scale / out.scale)
        fields.update(out_mult=mo, out_shift=so)
    kernel = "bd_add" if op.opcode == "ADD" else "bd_mul"
    return Step(op.index, op.opcode, kernel, "bd_binary_params", fields, {}, [a.index, b.index], [out.index])
