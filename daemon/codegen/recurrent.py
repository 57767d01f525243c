"""Lowerings of the stateful operators: SVDF (full integer) and UNIDIRECTIONAL_SEQUENCE_LSTM (8x8_16).

Their variable tensors (`is_variable`: SVDF's activation state, the LSTM's output and cell state) are kept in a
static array of the step (`Step.state`), outside the reusable arena, so they persist across tvmgen_default_run
calls as TFLite keeps them across Invoke calls; they start as TFLite resets them (the zero point for int8, else 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from daemon.codegen.quant import quantize_multiplier
from daemon.codegen.reader import Graph, OperatorInfo, TensorInfo
from daemon.codegen.step import Const, Step, where
from daemon.errors import CodegenError


def need(op: OperatorInfo, t: TensorInfo, what: str, dtype: str, shape: tuple[int, ...] | None = None,
         const: bool = True) -> np.ndarray:
    """Check one input of a stateful operator; its values when it is constant (else an empty array)."""
    if t.dtype != dtype:
        raise CodegenError(f"{where(op)}: {what} {t.name!r} is {t.dtype}; the reference C backend's full-integer "
                           f"{op.opcode} needs {dtype}")
    if shape is not None and tuple(t.shape) != shape:
        raise CodegenError(f"{where(op)}: {what} {t.name!r} has shape {list(t.shape)}, expected {list(shape)}")
    if const and t.data is None:
        raise CodegenError(f"{where(op)}: {what} {t.name!r} must be constant")
    if not const and t.data is not None:
        raise CodegenError(f"{where(op)}: {what} {t.name!r} must not be constant")
    if dtype != "int32" and dtype != "int64" and not t.scales:
        raise CodegenError(f"{where(op)}: {what} {t.name!r} has no quantization parameters")
    return t.array() if const else np.zeros(0, np.int8)


def state_of(op: OperatorInfo, t: TensorInfo, what: str) -> np.ndarray:
    """The initial value of a variable tensor, as TFLite's ResetVariableTensor leaves it."""
    if not t.is_variable:
        raise CodegenError(f"{where(op)}: {what} {t.name!r} is not a variable tensor (is_variable); TFLite keeps "
                           "the operator's state in one")
    if t.data is not None:
        raise CodegenError(f"{where(op)}: {what} {t.name!r} has initial values; TFLite resets variable tensors "
                           "to zero, the reference C backend does the same only")
    fill = t.zero_point if t.dtype == "int8" else 0
    return np.full(t.size, fill, np.int8 if t.dtype == "int8" else np.int16)


def f32(x: float | np.floating) -> np.float32:
    return np.float32(x)


def lower_svdf(g: Graph, op: OperatorInfo) -> Step:
    """TFLite's EvalIntegerSVDF: int8 input and output, int8 feature weights, int16 time weights and state."""
    if len(op.inputs) != 5 or len(op.outputs) != 1:
        raise CodegenError(f"{where(op)}: SVDF takes 5 inputs and 1 output (got {len(op.inputs)}, "
                           f"{len(op.outputs)})")
    x, wf, wt = (g.tensors[i] for i in op.inputs[:3])
    state, out = g.tensors[op.inputs[4]], g.tensors[op.outputs[0]]
    if x.dtype != "int8":
        raise CodegenError(f"{where(op)}: input {x.name!r} is {x.dtype}; only the full-integer SVDF (int8 input, "
                           "int16 state) is supported")
    if len(x.shape) != 2 or len(wf.shape) != 2 or len(wt.shape) != 2:
        raise CodegenError(f"{where(op)}: input, feature weights and time weights must be 2-D (got "
                           f"{list(x.shape)}, {list(wf.shape)}, {list(wt.shape)})")
    rank = int(op.options.get("Rank", 0))
    batches, n_input = x.shape
    n_filter, n_memory = wf.shape[0], wt.shape[1]
    if rank < 1 or n_filter % rank:
        raise CodegenError(f"{where(op)}: rank {rank} does not divide the {n_filter} filters")
    n_unit = n_filter // rank
    if op.options.get("FusedActivationFunction") != "RELU":
        raise CodegenError(f"{where(op)}: the integer SVDF takes only a RELU activation, as TFLite "
                           f"(got {op.options.get('FusedActivationFunction')})")
    weights_feature = need(op, wf, "feature weights", "int8", (n_filter, n_input))
    weights_time = need(op, wt, "time weights", "int16", (n_filter, n_memory))
    bias = np.zeros(n_unit, np.int32)
    if op.inputs[3] >= 0:
        bias = need(op, g.tensors[op.inputs[3]], "bias", "int32", (n_unit,)).astype(np.int32)
    need(op, state, "state", "int16", (batches, n_memory * n_filter), const=False)
    need(op, out, "output", "int8", (batches, n_unit), const=False)
    # TFLite: float products and quotient (input * feature / state), widened to double
    scale_1 = float(f32(f32(x.scale) * f32(wf.scale)) / f32(state.scale))
    scale_2 = float(f32(f32(state.scale) * f32(wt.scale)) / f32(out.scale))
    m1, s1 = quantize_multiplier(scale_1)
    m2, s2 = quantize_multiplier(scale_2)
    fields: dict[str, Any] = {
        "batches": batches, "n_input": n_input, "n_filter": n_filter, "n_unit": n_unit, "rank": rank,
        "n_memory": n_memory, "input_zp": x.zero_point, "output_zp": out.zero_point, "scale1_mult": m1,
        "scale1_shift": s1, "scale2_mult": m2, "scale2_shift": s2,
        "weights_feature": Const("weights_feature"), "weights_time": Const("weights_time"),
        "bias": Const("bias"), "state": Const("state")}
    consts: dict[str, np.ndarray] = {"weights_feature": weights_feature.astype(np.int8).ravel(),
              "weights_time": weights_time.astype(np.int16).ravel(), "bias": bias}
    return Step(op.index, op.opcode, "bd_svdf", "bd_svdf_params", fields, consts, [x.index], [out.index],
                macs=batches * n_filter * (n_input + n_memory), state={"state": state_of(op, state, "state")})
