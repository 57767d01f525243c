"""DEPTHWISE_CONV_2D: the lowering that picks a kernel (benchd_dwconv3x3.c, benchd_dwconv_mult.c or the
general benchd_dwconv.c; each its own file, so an image links only the ones its model calls) and folds
the per-channel constants into two tables the kernels read once per channel: {bias, multiplier} as int32
pairs and the shift as int8 (the fast form's k is 2^(r-1) + out_zp * 2^r, which the kernels rebuild from
r rather than store: 9 bytes per channel instead of 16)."""

from __future__ import annotations

import numpy as np

from daemon.codegen.layers import _bias, _fold, _geometry, _requant, _weights
from daemon.codegen.reader import Graph, OperatorInfo
from daemon.codegen.requant import accumulator_range, fast_double
from daemon.codegen.step import Const, Step, check_out, fused_range, need_rank, where
from daemon.errors import CodegenError


def _inside_columns(in_w: int, k_w: int, stride: int, dil: int, pad: int, out_w: int) -> tuple[int, int]:
    """[x_lo, x_hi): the output columns whose taps all lie inside the image (x_lo == x_hi: none)."""
    inside = [ox for ox in range(out_w) if ox * stride - pad >= 0 and ox * stride - pad + (k_w - 1) * dil < in_w]
    return (inside[0], inside[-1] + 1) if inside else (out_w, out_w)


def _fits_3x3(f: dict[str, int]) -> bool:
    """benchd_dwconv3x3.c: 3x3, depth multiplier 1, stride 1 or 2 and no dilation across, where only the
    first output column may miss its left column and only the last its right one (an image at least 2
    wide), any stride and padding down as long as each output row has a row inside."""
    if (f["k_h"], f["k_w"], f["dil_h"], f["dil_w"], f["depth_mult"]) != (3, 3, 1, 1, 1):
        return False
    if f["stride_w"] not in (1, 2) or f["in_w"] < 2 or f["pad_left"] not in (0, 1):
        return False
    for ox in range(f["out_w"]):
        missing = [kx for kx in range(3) if not 0 <= ox * f["stride_w"] - f["pad_left"] + kx < f["in_w"]]
        allowed = ([0] if ox == 0 and f["pad_left"] else []) + ([2] if ox == f["out_w"] - 1 else [])
        if any(kx not in allowed for kx in missing) or (ox == 0 and f["pad_left"] and 0 not in missing):
            return False
    return all(any(0 <= oy * f["stride_h"] - f["pad_top"] + k < f["in_h"] for k in range(3))
               for oy in range(f["out_h"]))


def lower_depthwise(g: Graph, op: OperatorInfo) -> Step:
    x, w, out = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    n, in_h, in_w, in_c = need_rank(op, x, 4)
    one, k_h, k_w, oc = need_rank(op, w, 4)
    if one != 1 or oc % in_c:
        raise CodegenError(f"{where(op)}: filter shape {list(w.shape)} does not fit {in_c} input channels")
    dil_h, dil_w = op.options["DilationHFactor"], op.options["DilationWFactor"]
    geo = _geometry(op, in_h, in_w, k_h, k_w, dil_h, dil_w)
    check_out(op, out, (n, geo["out_h"], geo["out_w"], oc))
    wq, scales = _weights(op, w, oc)
    w2d = wq.reshape(k_h * k_w, oc).T  # [oc][taps]
    lo, hi = fused_range(g, op)
    mult, shift = _requant(x.scale, scales, out.scale)
    bias = _bias(g, op, 2, oc)
    acc_lo, acc_hi = accumulator_range(bias, w2d, x.zero_point)
    fast = fast_double(mult.astype(np.int64), shift.astype(np.int64), out.zero_point, acc_lo, acc_hi)
    # the 3x3 kernel counts its output from act_min (one unsigned compare clamps both ends): its k folds
    # out_zp - act_min, and span = (act_max - act_min + 1) * 2^r - 1 must stay below 2^31, where a
    # negative sum, read unsigned, lands above it
    fast3 = fast_double(mult.astype(np.int64), shift.astype(np.int64), out.zero_point - lo, acc_lo, acc_hi)
    if fast3 is not None and (hi - lo + 1) << int(fast3[1].max()) > 2**31:
        fast3 = None
    folded = _fold(bias, w2d, x.zero_point)
    q1, q2 = (fast[0], fast[1]) if fast is not None else (mult, shift)  # general: bd_requant then + out_zp
    x_lo, x_hi = _inside_columns(in_w, k_w, geo["stride_w"], dil_w, geo["pad_left"], geo["out_w"])
    fields = {"batches": n, "in_h": in_h, "in_w": in_w, "in_c": in_c, "out_h": geo["out_h"], "out_w": geo["out_w"],
              "depth_mult": oc // in_c, "k_h": k_h, "k_w": k_w, "stride_h": geo["stride_h"],
              "stride_w": geo["stride_w"], "dil_h": dil_h, "dil_w": dil_w, "pad_top": geo["pad_top"],
              "pad_left": geo["pad_left"], "in_zp": x.zero_point, "act_min": lo, "act_max": hi,
              "x_lo": x_lo, "x_hi": x_hi, "fast": int(fast is not None), "out_zp": out.zero_point}
    weights = np.ascontiguousarray(w2d).astype(np.int8)
    columns = [folded, q1]  # chan's; q2 goes into the int8 table shift
    if fast3 is not None and _fits_3x3(fields):
        kernel = "bd_depthwise_conv3x3"
        columns[1], q2 = fast3[0], fast3[1]
        fields["fast"], fields["out_zp"] = 1, out.zero_point - lo  # k counts from act_min
    elif fields["depth_mult"] % 4 == 0:
        # [in_c][mult / 4][taps][4]: the four filters of a block side by side, tap by tap
        kernel = "bd_depthwise_conv_mult4"
        weights = weights.reshape(oc // 4, 4, k_h * k_w).transpose(0, 2, 1)
        # it runs pixel by pixel, where rebuilding k for every output would cost: {bias, q1, q2, q3} stored
        columns += [q2, fast[2] if fast is not None else np.full(oc, out.zero_point, np.int32)]
    else:
        kernel = "bd_depthwise_conv2d"
    chan = np.stack(columns, axis=1).astype(np.int32).ravel()
    consts: dict[str, np.ndarray] = {"weights": weights.ravel(), "chan": chan}
    if len(columns) == 2:
        consts["shift"] = np.asarray(q2).astype(np.int8)
    fields.update(weights=Const("weights"), chan=Const("chan"), shift=Const("shift") if "shift" in consts else 0)
    return Step(op.index, op.opcode, kernel, "bd_dwconv_params", fields, consts, [x.index], [out.index],
                macs=n * geo["out_h"] * geo["out_w"] * oc * k_h * k_w)
