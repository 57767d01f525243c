"""Lowerings of the stateful operators: SVDF (full integer) and UNIDIRECTIONAL_SEQUENCE_LSTM (8x8_16).

Their variable tensors (`is_variable`: SVDF's activation state, the LSTM's output and cell state) are kept in a
static array of the step (`Step.state`), outside the reusable arena, so they persist across tvmgen_default_run
calls as TFLite keeps them across Invoke calls; they start as TFLite resets them (the zero point for int8, else 0).
"""

from __future__ import annotations

import math
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
    if const and len(t.scales) > 1:
        raise CodegenError(f"{where(op)}: {what} {t.name!r} is quantized per channel; TFLite's integer {op.opcode} "
                           "reads one scale per tensor")
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
        "weights_feature": Const("weights_feature"), "feature_offset": Const("feature_offset"),
        "weights_time": Const("weights_time"),
        "bias": Const("bias"), "state": Const("state")}
    consts: dict[str, np.ndarray] = {"weights_feature": weights_feature.astype(np.int8).ravel(),
              "feature_offset": _row_sums_times(weights_feature, -x.zero_point, None),
              "weights_time": weights_time.astype(np.int16).ravel(), "bias": bias}
    return Step(op.index, op.opcode, "bd_svdf", "bd_svdf_params", fields, consts, [x.index], [out.index],
                macs=batches * n_filter * (n_input + n_memory), state={"state": state_of(op, state, "state")})


# UNIDIRECTIONAL_SEQUENCE_LSTM inputs (TFLite's lstm::full tensor order)
INPUT, W_INPUT, W_RECURRENT, W_CELL, BIAS, PROJECTION, PROJECTION_BIAS = 0, 1, 5, 9, 12, 16, 17
OUTPUT_STATE, CELL_STATE, LAYER_NORM = 18, 19, 20
GATES = ("input", "forget", "cell", "output")
NO_LAYER_NORM = {"ln_weights": 0, "ln_bias": 0, "ln_mult": 0, "ln_shift": 0, "ln_guard": 0}


def _opt(g: Graph, op: OperatorInfo, index: int) -> TensorInfo | None:
    return g.tensors[op.inputs[index]] if index < len(op.inputs) and op.inputs[index] >= 0 else None


def _row_sums_times(w: np.ndarray, zp: int, bias: np.ndarray | None) -> np.ndarray:
    """PrecomputeZeroPointTimesWeightWithBias: bias + zp * row sums (int32, wrapping as TFLite's)."""
    base = np.zeros(w.shape[0], np.int64) if bias is None else bias.astype(np.int64)
    folded = base + zp * w.astype(np.int64).sum(axis=1)
    return ((folded + 2**31) % 2**32 - 2**31).astype(np.int32)


def _cell_scale(op: OperatorInfo, cell: TensorInfo) -> int:
    """CheckedLog2: the cell state scale must be a power of two; its exponent selects the tanh format."""
    log2 = float(np.float32(np.log(np.float32(cell.scale))) * np.float32(1.0 / np.log(np.float32(2.0))))
    rounded = math.trunc(log2) + (int(math.copysign(1, log2)) if abs(log2 - math.trunc(log2)) >= 0.5 else 0)
    if abs(log2 - rounded) >= 1e-3:
        raise CodegenError(f"{where(op)}: cell state {cell.name!r} has scale {cell.scale}, not a power of two as "
                           "TFLite's integer LSTM requires")
    if not -15 <= rounded <= -9:
        raise CodegenError(f"{where(op)}: cell state scale 2^{rounded} is outside 2^-15..2^-9, where TFLite's "
                           "integer tanh is defined")
    return rounded


def lower_lstm(g: Graph, op: OperatorInfo) -> Step:
    """TFLite's EvalInteger8x8_16 (the converter's full-integer LSTM), with or without layer normalization."""
    x, out = g.tensors[op.inputs[INPUT]], g.tensors[op.outputs[0]]
    if x.dtype != "int8":
        raise CodegenError(f"{where(op)}: input {x.name!r} is {x.dtype}; only the full-integer 8x8_16 LSTM "
                           "(int8 input and output, int16 cell state) is supported")
    if len(op.inputs) not in (20, 24):
        raise CodegenError(f"{where(op)}: {len(op.inputs)} inputs; TFLite's LSTM takes 20 or 24")
    layer_norm = len(op.inputs) == 24 and _opt(g, op, LAYER_NORM + 1) is not None  # as TFLite decides it
    if op.options.get("DiagonalRecurrentTensors"):
        raise CodegenError(f"{where(op)}: diagonal recurrent weights are not supported")
    if len(op.intermediates) != 5:
        raise CodegenError(f"{where(op)}: the integer LSTM needs 5 intermediate tensors (gate and hidden scales), "
                           f"got {len(op.intermediates)}")
    if len(x.shape) != 3:
        raise CodegenError(f"{where(op)}: input {x.name!r} has shape {list(x.shape)}, expected 3-D")
    time_major = bool(op.options.get("TimeMajor"))
    steps, batches = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    n_input = x.shape[2]
    w_out = g.tensors[op.inputs[W_INPUT + 3]]
    if len(w_out.shape) != 2:
        raise CodegenError(f"{where(op)}: input-to-output weights must be 2-D")
    n_cell = w_out.shape[0]
    r_out = g.tensors[op.inputs[W_RECURRENT + 3]]
    if len(r_out.shape) != 2:
        raise CodegenError(f"{where(op)}: recurrent weights must be 2-D")
    n_output = r_out.shape[1]
    h, c = g.tensors[op.inputs[OUTPUT_STATE]], g.tensors[op.inputs[CELL_STATE]]
    need(op, h, "output state", "int8", const=False)
    need(op, c, "cell state", "int16", const=False)
    if h.size != batches * n_output or c.size != batches * n_cell:
        raise CodegenError(f"{where(op)}: state sizes {h.size}, {c.size} do not fit {batches} x {n_output} and "
                           f"{batches} x {n_cell}")
    need(op, out, "output", "int8", (*x.shape[:2], n_output), const=False)
    use_cifg = _opt(g, op, W_INPUT) is None
    peephole = _opt(g, op, W_CELL + 2) is not None
    projection = _opt(g, op, PROJECTION)
    if peephole and n_output != n_cell:
        raise CodegenError(f"{where(op)}: peephole weights with a projection ({n_output} outputs, {n_cell} "
                           "cells) are not supported")
    hidden = g.tensors[op.intermediates[4]]
    if not hidden.scales:
        raise CodegenError(f"{where(op)}: intermediate {hidden.name!r} has no quantization parameters")
    cell_scale = _cell_scale(op, c)
    # gate k's scale: its intermediate's with layer normalization, else Q3.12
    gate_scales = [f32(g.tensors[op.intermediates[k]].scale) if layer_norm else f32(2.0**-12) for k in range(4)]
    if layer_norm and (use_cifg != (_opt(g, op, LAYER_NORM) is None)):
        raise CodegenError(f"{where(op)}: the input gate's layer norm coefficients must be present exactly when "
                           "the input gate is (no CIFG)")
    consts: dict[str, np.ndarray] = {}
    gates = []
    for k, name in enumerate(GATES):
        if k == 0 and use_cifg:
            gates.append({"w_input": 0, "w_recurrent": 0, "bias_input": 0, "bias_recurrent": 0, "w_cell": 0,
                          "input_mult": 0, "input_shift": 0, "recurrent_mult": 0, "recurrent_shift": 0,
                          "cell_mult": 0, "cell_shift": 0, **NO_LAYER_NORM})
            continue
        gate_scale = gate_scales[k]
        wx = need(op, g.tensors[op.inputs[W_INPUT + k]], f"input-to-{name} weights", "int8", (n_cell, n_input))
        wh = need(op, g.tensors[op.inputs[W_RECURRENT + k]], f"recurrent-to-{name} weights", "int8",
                  (n_cell, n_output))
        bias_t = _opt(g, op, BIAS + k)
        bias = None if bias_t is None else need(op, bias_t, f"{name} gate bias", "int32", (n_cell,))
        wx_scale = f32(g.tensors[op.inputs[W_INPUT + k]].scale)
        wh_scale = f32(g.tensors[op.inputs[W_RECURRENT + k]].scale)
        mi, si = quantize_multiplier(float(f32(f32(wx_scale * f32(x.scale)) / gate_scale)))
        mr, sr = quantize_multiplier(float(f32(f32(wh_scale * f32(h.scale)) / gate_scale)))
        consts[f"{name}_wx"] = wx.astype(np.int8).ravel()
        consts[f"{name}_wh"] = wh.astype(np.int8).ravel()
        if layer_norm and bias is None:
            raise CodegenError(f"{where(op)}: a layer-normalized LSTM needs the {name} gate bias")
        # with layer normalization the bias is added after it, not to the matrix product
        consts[f"{name}_bx"] = _row_sums_times(wx, -x.zero_point, None if layer_norm else bias)
        consts[f"{name}_bh"] = _row_sums_times(wh, -h.zero_point, None)
        gate: dict[str, Any] = {"w_input": Const(f"{name}_wx"), "w_recurrent": Const(f"{name}_wh"),
                                "bias_input": Const(f"{name}_bx"), "bias_recurrent": Const(f"{name}_bh"),
                                "w_cell": 0, "input_mult": mi, "input_shift": si, "recurrent_mult": mr,
                                "recurrent_shift": sr, "cell_mult": 0, "cell_shift": 0, **NO_LAYER_NORM}
        if layer_norm:
            ln = g.tensors[op.inputs[LAYER_NORM + k]]
            consts[f"{name}_ln"] = need(op, ln, f"{name} layer norm coefficients", "int16", (n_cell,)).astype(np.int16)
            consts[f"{name}_lb"] = np.asarray(bias, np.int32)
            lm, ls = quantize_multiplier(float(f32(ln.scale)))
            gate.update({"ln_weights": Const(f"{name}_ln"), "ln_bias": Const(f"{name}_lb"), "ln_mult": lm,
                         "ln_shift": ls, "ln_guard": max(1, int(f32(10000 * f32(ln.scale))))})
        if peephole and name != "cell":
            wc_t = g.tensors[op.inputs[W_CELL + (0 if name == "input" else 1 if name == "forget" else 2)]]
            consts[f"{name}_wc"] = need(op, wc_t, f"cell-to-{name} weights", "int16", (n_cell,)).astype(np.int16)
            # double(2^cell_scale) * float weight scale / float gate scale, then float
            mc, sc = quantize_multiplier(float(f32(2.0**cell_scale * float(f32(wc_t.scale)) / float(gate_scale))))
            gate.update({"w_cell": Const(f"{name}_wc"), "cell_mult": mc, "cell_shift": sc})
        gates.append(gate)
    # effective_hidden_scale = pow(2, -15) / intermediate_scale[4] * pow(2, -15): doubles, stored as float
    hm, hs = quantize_multiplier(float(f32(2.0**-15 / float(f32(hidden.scale)) * 2.0**-15)))
    fields: dict[str, Any] = {
        "batches": batches, "steps": steps, "n_input": n_input, "n_cell": n_cell, "n_output": n_output,
        "time_major": int(time_major), "use_cifg": int(use_cifg), "gates": gates, "cell_scale": cell_scale,
        "cell_clip": _clip(op, "CellClip", c, 32767), "hidden_mult": hm, "hidden_shift": hs,
        "hidden_zp": hidden.zero_point, "proj_weights": 0, "proj_bias": 0, "proj_mult": 0, "proj_shift": 0,
        "proj_clip": 0, "output_state_zp": h.zero_point, "output_state": Const("output_state"),
        "cell_state": Const("cell_state")}
    if projection is not None:
        wp = need(op, projection, "projection weights", "int8", (n_output, n_cell))
        pb_t = _opt(g, op, PROJECTION_BIAS)
        pb = None if pb_t is None else need(op, pb_t, "projection bias", "int32", (n_output,))
        consts["proj_w"] = wp.astype(np.int8).ravel()
        consts["proj_b"] = _row_sums_times(wp, hidden.zero_point, pb)
        pm, ps = quantize_multiplier(float(f32(f32(f32(projection.scale) * f32(hidden.scale)) / f32(h.scale))))
        fields.update({"proj_weights": Const("proj_w"), "proj_bias": Const("proj_b"), "proj_mult": pm,
                       "proj_shift": ps, "proj_clip": _clip(op, "ProjClip", h, 127)})
    state = {"output_state": state_of(op, h, "output state"), "cell_state": state_of(op, c, "cell state")}
    gates_used = 3 if use_cifg else 4
    macs = batches * steps * (gates_used * n_cell * (n_input + n_output) + (n_output * n_cell if projection else 0))
    return Step(op.index, op.opcode, "bd_lstm", "bd_lstm_params", fields, consts, [x.index], [out.index],
                scratch_bytes=4 * n_cell * 2 + n_cell, takes_scratch=True, scratch_align=2, macs=macs, state=state)


def _clip(op: OperatorInfo, option: str, t: TensorInfo, limit: int) -> int:
    """The quantized clip: float clip / float scale, clamped to the type, truncated (static_cast)."""
    clip = f32(op.options.get(option, 0.0))
    if not clip > 0:
        return 0
    return int(min(max(f32(clip / f32(t.scale)), f32(-limit - 1)), f32(limit)))
