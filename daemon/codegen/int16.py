"""Lowerings of 16x8 quantization (int16 activations, int8 weights): FULLY_CONNECTED and SOFTMAX.

TFLite's reference FULLY_CONNECTED requantizes an int16 model's accumulator in double precision
(round(acc * in_scale * w_scale / out_scale)), so the generator folds that double per unit and the
kernel multiplies in double. Its int16 SOFTMAX interpolates two 513-entry lookup tables that TFLite fills
at Prepare time in double; `lut_int16` fills them here the same way, operation for operation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from daemon.codegen import layers
from daemon.codegen.quant import quantize_multiplier
from daemon.codegen.reader import Graph, OperatorInfo, TensorInfo
from daemon.codegen.step import Const, Step, where
from daemon.errors import CodegenError

INT16_MIN, INT16_MAX = -32768, 32767
TENSOR_TYPES = {0: "float32", 2: "int32", 4: "int64"}  # FullyConnectedOptions.quantized_bias_type


def round_away(x: float) -> int:
    """std::round on a double: halves away from zero (x - trunc(x) is exact, so no 0.49999... trap)."""
    t = math.trunc(x)
    if abs(x - t) >= 0.5:
        t += 1 if x > 0 else -1
    return int(t)


def int16_range(activation: str, scale: float, zero_point: int, op: OperatorInfo) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for an int16 output (float32 division, std::round)."""
    s = np.float32(scale)

    def quantize(f: float) -> int:
        return zero_point + round_away(float(np.float32(np.float32(f) / s)))

    if activation == "NONE":
        return INT16_MIN, INT16_MAX
    if activation == "RELU":
        return max(INT16_MIN, quantize(0.0)), INT16_MAX
    if activation == "RELU6":
        return max(INT16_MIN, quantize(0.0)), min(INT16_MAX, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(INT16_MIN, quantize(-1.0)), min(INT16_MAX, quantize(1.0))
    raise CodegenError(f"{where(op)}: fused activation {activation} is not supported with int16 activations "
                       "(NONE, RELU, RELU6, RELU_N1_TO_1 are)")


def _need_symmetric(op: OperatorInfo, *tensors: TensorInfo) -> None:
    for t in tensors:
        if t.dtype != "int16":
            raise CodegenError(f"{where(op)}: tensor {t.name!r} is {t.dtype}; with int16 activations the input "
                               "and output must both be int16")
        if not t.scales or t.zero_point != 0:
            raise CodegenError(f"{where(op)}: int16 tensor {t.name!r} must be quantized symmetrically (zero point "
                               f"0, got {t.zero_point if t.scales else 'no quantization'}), as TFLite requires")


def _bias16(g: Graph, op: OperatorInfo, units: int) -> tuple[np.ndarray, int]:
    """(bias as int64, 1 if the accumulator is int32): TFLite reads the bias with the type the options name
    (quantized_bias_type; unset means int64, what the converter writes for 16x8)."""
    declared = TENSOR_TYPES.get(int(op.options.get("QuantizedBiasType", 0)), "other")
    int32_acc = int(declared == "int32")
    if declared == "other":
        raise CodegenError(f"{where(op)}: quantized_bias_type {op.options.get('QuantizedBiasType')} is not "
                           "int32 or int64")
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return np.zeros(units, np.int64), int32_acc
    t = g.tensors[op.inputs[2]]
    want = "int32" if int32_acc else "int64"
    if t.data is None or t.dtype != want or t.size != units:
        raise CodegenError(f"{where(op)}: bias {t.name!r} must be a constant {want} vector of {units} for an int16 "
                           f"input (got {t.dtype}, {t.size} values{'' if t.data is not None else ', not constant'})")
    return t.array().astype(np.int64).reshape(units), int32_acc


def lower_fully_connected16(g: Graph, op: OperatorInfo) -> Step:
    x, w, out = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    _need_symmetric(op, x, out)
    if op.options.get("WeightsFormat", 0) != 0:
        raise CodegenError(f"{where(op)}: shuffled weights format is not supported")
    if len(w.shape) != 2:
        raise CodegenError(f"{where(op)}: weights {w.name!r} have shape {list(w.shape)}, expected 2-D")
    units, depth = w.shape
    if x.size % depth or out.size != x.size // depth * units:
        raise CodegenError(f"{where(op)}: input of {x.size} values and output of {out.size} do not fit weights "
                           f"{list(w.shape)}")
    wq, scales = layers._weights(op, w, units)
    bias, int32_acc = _bias16(g, op, units)
    lo, hi = int16_range(op.options.get("FusedActivationFunction", "NONE"), out.scale, 0, op)
    # TFLite: static_cast<double>(input_scale) * filter_scale / static_cast<double>(output_scale)
    scale = np.array([float(np.float32(x.scale)) * float(np.float32(s)) / float(np.float32(out.scale))
                      for s in scales], np.float64)
    fields = {"batches": x.size // depth, "depth": depth, "units": units, "act_min": lo, "act_max": hi,
              "int32_acc": int32_acc, "weights": Const("weights"), "bias": Const("bias"), "scale": Const("scale")}
    consts = {"weights": wq.astype(np.int8).ravel(), "bias": bias, "scale": scale}
    return Step(op.index, op.opcode, "bd_fully_connected_s16", "bd_fc_s16_params", fields, consts, [x.index],
                [out.index], macs=x.size // depth * units * depth)


def lut_int16(fn: Callable[[float], float], input_scale: float, input_zp: int, output_scale: float) -> list[int]:
    """TFLite's LUTPopulateInt16<double> (output zero point 0): 512 samples with the interpolation error at each
    midpoint halved into the sample, then the end point."""
    input_min = input_scale * (INT16_MIN - input_zp)
    input_max = input_scale * (INT16_MAX - input_zp)
    output_min = output_scale * INT16_MIN
    output_max = output_scale * INT16_MAX
    steps = 512
    step = (input_max - input_min) / steps
    half_step = step / 2
    scaling_inv = float(INT16_MAX - INT16_MIN + 1) / (output_max - output_min)
    lut = []
    for i in range(steps):
        val = fn(input_min + i * step)
        val_mid = fn(input_min + i * step + half_step)
        val_next = fn(input_min + (i + 1) * step)
        sample = float(round_away(val * scaling_inv))
        mid_interp = float(round_away((val_next * scaling_inv + round_away(val * scaling_inv)) / 2))
        mid = float(round_away(val_mid * scaling_inv))
        bias = float(round_away((mid_interp - mid) / 2))
        lut.append(int(min(max(sample - bias, INT16_MIN), INT16_MAX)))
    lut.append(int(min(max(float(round_away(fn(input_max) * scaling_inv)), INT16_MIN), INT16_MAX)))
    return lut


def softmax_luts() -> tuple[list[int], list[int]]:
    """exp on [-10, 0] and 1 / (1 + x) on [0, 1], both to [-1, 1], as SoftmaxPrepare fills them."""
    span = INT16_MAX - INT16_MIN
    exp_lut = lut_int16(math.exp, 10.0 / span, INT16_MAX, 2.0 / span)
    recip_lut = lut_int16(lambda v: 1.0 / (1.0 + v), 1.0 / span, INT16_MIN, 2.0 / span)
    return exp_lut, recip_lut


def lower_softmax16(g: Graph, op: OperatorInfo) -> Step:
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    _need_symmetric(op, x, out)
    if not x.shape or x.shape != out.shape:
        raise CodegenError(f"{where(op)}: input {list(x.shape)} and output {list(out.shape)} must have one shape "
                           "with an axis to normalize")
    depth = x.shape[-1]
    if depth > 65536:
        raise CodegenError(f"{where(op)}: a row of {depth} values would overflow TFLite's int32 sum of exps")
    # float(input scale * beta) (float32 product), then / (10 / 65535) in double
    rescale = float(np.float32(np.float32(x.scale) * np.float32(op.options.get("Beta", 1.0)))) / (10.0 / 65535.0)
    multiplier, shift = quantize_multiplier(rescale)
    exp_lut, recip_lut = softmax_luts()
    fields = {"rows": x.size // depth, "depth": depth, "input_multiplier": multiplier, "input_shift": shift,
              "exp_lut": Const("exp_lut"), "recip_lut": Const("recip_lut")}
    consts = {"exp_lut": np.array(exp_lut, np.int16), "recip_lut": np.array(recip_lut, np.int16)}
    return Step(op.index, op.opcode, "bd_softmax_s16", "bd_softmax_s16_params", fields, consts, [x.index],
                [out.index])


def by_input_type(int8: Callable[[Graph, OperatorInfo], Step], int16: Callable[[Graph, OperatorInfo], Step]
                  ) -> Callable[[Graph, OperatorInfo], Step]:
    """One operator table entry for both: the int8 lowering unless the input is int16."""
    def lower(g: Graph, op: OperatorInfo) -> Step:
        if g.tensors[op.inputs[0]].dtype == "int16":
            return int16(g, op)
        for i in op.outputs:
            if g.tensors[i].dtype != "int8":
                raise CodegenError(f"{where(op)}: int8 input with a {g.tensors[i].dtype} output is not supported "
                                   "(int8 -> int8 and int16 -> int16 are)")
        return int8(g, op)

    return lower
