"""Lowerings of the layer operators: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, the pools and SOFTMAX."""

from __future__ import annotations

from typing import Any

import numpy as np

from daemon.codegen.fixedpoint import softmax_exp_table
from daemon.codegen.quant import out_size, pad_before, quantize_multiplier
from daemon.codegen.reader import Graph, OperatorInfo, TensorInfo
from daemon.codegen.requant import accumulator_range, fast_double, fast_single
from daemon.codegen.step import Const, Step, check_out, fused_range, need_rank, where
from daemon.errors import CodegenError


def _weights(op: OperatorInfo, t: TensorInfo, channels: int) -> tuple[np.ndarray, list[float]]:
    """int8 symmetric weights and their per-channel scales (a per-tensor scale repeated)."""
    if t.data is None or t.dtype != "int8":
        raise CodegenError(f"{where(op)}: weights {t.name!r} must be constant int8 (got {t.dtype}"
                           f"{'' if t.data is not None else ', not constant'})")
    if any(z != 0 for z in t.zero_points):
        raise CodegenError(f"{where(op)}: weights {t.name!r} have a non-zero zero point (int8 weights are "
                           "symmetric in TFLite)")
    if len(t.scales) not in (1, channels):
        raise CodegenError(f"{where(op)}: weights {t.name!r} have {len(t.scales)} scales for {channels} "
                           "output channels")
    scales = list(t.scales) * (channels if len(t.scales) == 1 else 1)
    return t.array().astype(np.int32), scales


def _bias(g: Graph, op: OperatorInfo, index: int, channels: int) -> np.ndarray:
    if index < 0 or index >= len(op.inputs) or op.inputs[index] < 0:
        return np.zeros(channels, np.int64)
    t = g.tensors[op.inputs[index]]
    if t.data is None or t.dtype != "int32" or t.size != channels:
        raise CodegenError(f"{where(op)}: bias {t.name!r} must be a constant int32 vector of {channels}")
    return t.array().astype(np.int64).reshape(channels)


def _requant(in_scale: float, w_scales: list[float], out_scale: float) -> tuple[np.ndarray, np.ndarray]:
    pairs = [quantize_multiplier(in_scale * s / out_scale) for s in w_scales]
    return np.array([m for m, _ in pairs], np.int32), np.array([s for _, s in pairs], np.int8)


def _fold(bias: np.ndarray, w2d: np.ndarray, in_zp: int) -> np.ndarray:
    """bias + (-in_zp) * sum(w) per unit, wrapped to int32 as the int32 accumulator would wrap."""
    folded = bias + (-in_zp) * w2d.astype(np.int64).sum(axis=1)
    return ((folded + 2**31) % 2**32 - 2**31).astype(np.int32)


def _pack(w2d: np.ndarray) -> np.ndarray:
    """[N][K] -> blocks of 8 units interleaved ([K][8] each), then one block of 4 ([K][4]) if N % 8 >= 4, then
    the remaining units row by row: the order in which benchd_conv.c's tiles stream them."""
    n, k = w2d.shape
    eights, fours = n // 8 * 8, n // 8 * 8 + (4 if n % 8 >= 4 else 0)
    parts = [w2d[:eights].reshape(n // 8, 8, k).transpose(0, 2, 1).ravel(),
             w2d[eights:fours].T.ravel(), w2d[fours:].ravel()]
    return np.concatenate(parts).astype(np.int8)


def _matvec(x: TensorInfo, out: TensorInfo, w2d: np.ndarray, scales: list[float], bias: np.ndarray,
            act: tuple[int, int], single_round: bool) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    mult, shift = _requant(x.scale, scales, out.scale)
    fields = {"depth": w2d.shape[1], "units": w2d.shape[0], "out_zp": out.zero_point, "act_min": act[0],
              "act_max": act[1], "single_round": int(single_round), "weights": Const("weights"), "bias": Const("bias")}
    consts = {"weights": _pack(w2d), "bias": _fold(bias, w2d, x.zero_point)}
    # requant.py's fast forms where it proves the 32-bit sums cannot overflow, else the exact general ones
    lo, hi = accumulator_range(bias, w2d, x.zero_point)
    m64, s64 = mult.astype(np.int64), shift.astype(np.int64)
    fast = (fast_single(m64, s64, out.zero_point, lo, hi) if single_round
            else fast_double(m64, s64, out.zero_point, lo, hi))
    if fast is None:
        fields.update(mult=Const("mult"), shift=Const("shift"))
        consts.update(mult=mult, shift=shift)
    else:
        scale, right, k = (mult, *fast) if single_round else fast  # (multiplier, s, k) or (m2, r, k) per unit
        fields.update(rq=Const("rq"), rq_shift=Const("rq_shift"))
        consts.update(rq=np.stack([scale, k], axis=1).astype(np.int32).ravel(), rq_shift=right.astype(np.int8))
    return fields, consts


def _geometry(op: OperatorInfo, in_h: int, in_w: int, k_h: int, k_w: int, dil_h: int = 1, dil_w: int = 1
              ) -> dict[str, int]:
    sh, sw, padding = op.options["StrideH"], op.options["StrideW"], op.options["Padding"]
    if padding not in ("SAME", "VALID") or sh < 1 or sw < 1 or dil_h < 1 or dil_w < 1:
        raise CodegenError(f"{where(op)}: padding {padding}, strides {sh}x{sw}, dilation {dil_h}x{dil_w} "
                           "are not supported")
    oh, ow = out_size(padding, in_h, k_h, sh, dil_h), out_size(padding, in_w, k_w, sw, dil_w)
    return {"out_h": oh, "out_w": ow, "stride_h": sh, "stride_w": sw,
            "pad_top": pad_before(in_h, k_h, sh, dil_h, oh), "pad_left": pad_before(in_w, k_w, sw, dil_w, ow)}


def _inside(size: int, k: int, stride: int, dil: int, pad: int, outs: int) -> tuple[int, int]:
    """First and one-past-last output index whose window lies inside the input (benchd_conv.c's inside())."""
    lo = (pad + stride - 1) // stride
    last = size - 1 - (k - 1) * dil + pad
    hi = 0 if last < 0 else last // stride + 1
    return lo, max(min(hi, outs), lo)


def _edge_bias(w4: np.ndarray, folded: np.ndarray, in_zp: int, axis: int, size: int, stride: int, dil: int, pad: int,
               outs: int) -> np.ndarray | None:
    """Per output row (axis 1) or column (axis 2) whose window the image cuts: the folded bias plus in_zp times
    the weights of the taps cut off, so the kernel reads such patches in place without the padding (it adds
    in_zp * w per padded tap only to cancel it against the fold). None when no window is cut."""
    k = w4.shape[axis]
    lo, hi = _inside(size, k, stride, dil, pad, outs)
    cut = [o for o in range(outs) if not lo <= o < hi]
    if not cut:
        return None
    tap_sums = w4.astype(np.int64).sum(axis=(2, 3) if axis == 1 else (1, 3))  # [units][k]
    table = np.zeros((max(o if o < lo else lo + o - hi for o in cut) + 1, w4.shape[0]), np.int64)
    for o in cut:
        start = o * stride - pad
        off = np.array([not 0 <= start + t * dil < size for t in range(k)])
        table[o if o < lo else lo + o - hi] = folded.astype(np.int64) + in_zp * tap_sums[:, off].sum(axis=1)
    return ((table + 2**31) % 2**32 - 2**31).astype(np.int32).ravel()


def lower_conv(g: Graph, op: OperatorInfo) -> Step:
    x, w, out = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    n, in_h, in_w, in_c = need_rank(op, x, 4)
    oc, k_h, k_w, w_c = need_rank(op, w, 4)
    if w_c != in_c:
        raise CodegenError(f"{where(op)}: grouped convolution ({in_c} input channels, filters of {w_c}) is "
                           "not supported")
    dil_h, dil_w = op.options["DilationHFactor"], op.options["DilationWFactor"]
    geo = _geometry(op, in_h, in_w, k_h, k_w, dil_h, dil_w)
    check_out(op, out, (n, geo["out_h"], geo["out_w"], oc))
    wq, scales = _weights(op, w, oc)
    mv, consts = _matvec(x, out, wq.reshape(oc, -1), scales, _bias(g, op, 2, oc), fused_range(g, op), False)
    gather = int(not (k_h == 1 and k_w == 1 and geo["pad_top"] == 0 and geo["pad_left"] == 0))
    fields = {"batches": n, "in_h": in_h, "in_w": in_w, "in_c": in_c, **geo, "k_h": k_h, "k_w": k_w,
              "dil_h": dil_h, "dil_w": dil_w, "in_zp": x.zero_point, "gather": gather, "mv": mv}
    if dil_w == 1:  # dilated across, every patch is gathered
        for key, axis, size, stride, dil, pad, outs in (
                ("vbias", 1, in_h, geo["stride_h"], dil_h, geo["pad_top"], geo["out_h"]),
                ("hbias", 2, in_w, geo["stride_w"], 1, geo["pad_left"], geo["out_w"])):
            table = _edge_bias(wq, consts["bias"], x.zero_point, axis, size, stride, dil, pad, outs)
            if table is not None:
                fields[key], consts[key] = Const(key), table
    return Step(op.index, op.opcode, "bd_conv2d", "bd_conv_params", fields, consts, [x.index], [out.index],
                scratch_bytes=k_h * k_w * in_c if gather else 0, takes_scratch=True,
                macs=n * geo["out_h"] * geo["out_w"] * oc * k_h * k_w * in_c)


def lower_fully_connected(g: Graph, op: OperatorInfo) -> Step:
    x, w, out = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    if op.options.get("WeightsFormat", 0) != 0:
        raise CodegenError(f"{where(op)}: shuffled weights format is not supported")
    units, depth = need_rank(op, w, 2)
    if x.size % depth:
        raise CodegenError(f"{where(op)}: input of {x.size} values is not a multiple of depth {depth}")
    batches = x.size // depth
    if out.size != batches * units:
        raise CodegenError(f"{where(op)}: output {out.name!r} has {out.size} values, expected {batches * units}")
    wq, scales = _weights(op, w, units)
    mv, consts = _matvec(x, out, wq, scales, _bias(g, op, 2, units), fused_range(g, op), True)
    return Step(op.index, op.opcode, "bd_fully_connected", "bd_fc_params", {"batches": batches, "mv": mv},
                consts, [x.index], [out.index], macs=batches * units * depth)


def lower_pool(g: Graph, op: OperatorInfo) -> Step:
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    n, in_h, in_w, c = need_rank(op, x, 4)
    f_h, f_w = op.options["FilterHeight"], op.options["FilterWidth"]
    geo = _geometry(op, in_h, in_w, f_h, f_w)
    check_out(op, out, (n, geo["out_h"], geo["out_w"], c))
    lo, hi = fused_range(g, op)
    fields = {"batches": n, "in_h": in_h, "in_w": in_w, "channels": c, **geo, "f_h": f_h, "f_w": f_w,
              "act_min": lo, "act_max": hi}
    kernel = "bd_average_pool" if op.opcode == "AVERAGE_POOL_2D" else "bd_max_pool"
    return Step(op.index, op.opcode, kernel, "bd_pool_params", fields, {}, [x.index], [out.index])


def lower_softmax(g: Graph, op: OperatorInfo) -> Step:
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    if not x.shape:
        raise CodegenError(f"{where(op)}: a scalar input has no axis to normalize")
    if abs(out.scale - 1 / 256) > 1e-9 or out.zero_point != -128:
        raise CodegenError(f"{where(op)}: int8 softmax needs output scale 1/256 and zero point -128 "
                           f"(got {out.scale}, {out.zero_point})")
    depth = x.shape[-1]
    table = softmax_exp_table(x.scale, float(np.float32(op.options.get("Beta", 1.0))))
    fields = {"rows": x.size // depth, "depth": depth, "exp_table": Const("exp_table")}
    return Step(op.index, op.opcode, "bd_softmax", "bd_softmax_params", fields,
                {"exp_table": np.array(table, np.int32)}, [x.index], [out.index])
