"""Lowerings of the unary int8 activations: LOGISTIC, TANH, HARD_SWISH, RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1,
LEAKY_RELU.

Each is a function of one int8 value, so the generator evaluates TFLite's reference computation for all
256 inputs here, bit for bit, and the kernel (bd_lookup) only looks results up: one load per value on the
core, whatever the operator. What the reference computes, per operator:

- LOGISTIC, TANH: the BUILTIN_REF kernels fill a 256-entry table in float32 (LUTPopulate) from the C
  library's expf/tanhf; we call the same functions of the C math library through ctypes.
- HARD_SWISH: reference_ops::HardSwish, 16-bit fixed point (emulated with gemmlowp's int16 arithmetic).
- RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1: ReluX, a requantization to the output scale, then the clamp.
- LEAKY_RELU: QuantizeLeakyRelu, one multiplier for x >= 0 and one (alpha folded in) for x < 0.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache

import numpy as np

from daemon.codegen.fixedpoint import div_pot, high_mul, wrap
from daemon.codegen.quant import INT8_MAX, INT8_MIN, quantize_multiplier, round_half_away
from daemon.codegen.reader import Graph, OperatorInfo, TensorInfo
from daemon.codegen.step import Const, Step, where
from daemon.errors import CodegenError

F32 = np.float32
INT16_MIN, INT16_MAX = -(2**15), 2**15 - 1
VALUES = range(INT8_MIN, INT8_MAX + 1)


def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    """TFLite's MultiplyByQuantizedMultiplier (the double-rounding one its builds use)."""
    left, right = max(shift, 0), max(-shift, 0)
    return div_pot(high_mul(wrap(x * (1 << left)), multiplier), right)


def _clamp8(v: int) -> int:
    return min(max(v, INT8_MIN), INT8_MAX)


RELU_BOUNDS = {"RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0), "RELU_0_TO_1": (0.0, 1.0)}


def _relu_table(op: OperatorInfo, x: TensorInfo, out: TensorInfo) -> list[int]:
    def bound(f: float) -> int:  # QuantizedReluX: zero point + roundf(bound / scale), in float32
        return out.zero_point + round_half_away(float(F32(f) / F32(out.scale)))

    low, high = RELU_BOUNDS[op.opcode]
    lo, hi = max(INT8_MIN, bound(low)), INT8_MAX if high is None else min(INT8_MAX, bound(high))
    m, s = quantize_multiplier(float(F32(x.scale) / F32(out.scale)))  # float32 division, as ReluPrepare
    return [min(max(out.zero_point + multiply_by_quantized_multiplier(v - x.zero_point, m, s), lo), hi)
            for v in VALUES]


def _leaky_relu_table(op: OperatorInfo, x: TensorInfo, out: TensorInfo) -> list[int]:
    alpha = F32(op.options.get("Alpha", 0.0))  # no options table: TFLite leaves alpha at 0
    m_alpha, s_alpha = quantize_multiplier(float(F32(x.scale) * alpha / F32(out.scale)))
    m_id, s_id = quantize_multiplier(float(F32(x.scale) / F32(out.scale)))
    table = []
    for v in VALUES:
        d = v - x.zero_point
        if d >= 0:
            r = multiply_by_quantized_multiplier(d, m_id, s_id)
        else:  # a negative alpha: its magnitude is applied, then the sign (QuantizeLeakyRelu)
            r = multiply_by_quantized_multiplier(d, abs(m_alpha), s_alpha)
            r = -r if m_alpha < 0 else r
        table.append(_clamp8(out.zero_point + r))
    return table


# -- HARD_SWISH: gemmlowp's int16 fixed point --------------------------------------------------------------
def _wrap16(v: int) -> int:
    return (v + 2**15) % 2**16 - 2**15


def _high_mul16(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul on int16 (division truncates toward zero, as in C++)."""
    if a == b == INT16_MIN:
        return INT16_MAX
    ab = a * b
    nudge = (1 << 14) if ab >= 0 else 1 - (1 << 14)
    q = abs(ab + nudge) >> 15
    return _wrap16(q if ab + nudge >= 0 else -q)


def _doubling_high_mul16(a: int, b: int) -> int:
    """SaturatingDoublingHighMul (reference hard_swish.h): like the above, without the rounding nudge."""
    if a == b == INT16_MIN:
        return INT16_MAX
    q = abs(a * b) >> 15
    return _wrap16(q if a * b >= 0 else -q)


def _div_pot16(x: int, exponent: int) -> int:
    """RoundingDivideByPOT on int16 (the mask is truncated to 16 bits as gemmlowp's Dup<int16_t> does)."""
    mask = _wrap16((1 << exponent) - 1)
    threshold = _wrap16((mask >> 1) + (1 if x < 0 else 0))
    return _wrap16((x >> exponent) + (1 if (x & mask) > threshold else 0))


def _saturating_left_shift16(v: int, amount: int) -> int:
    return min(max(v * (1 << amount), INT16_MIN), INT16_MAX)


def _int16_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier, then DownScaleInt32ToInt16Multiplier."""
    m, shift = quantize_multiplier(real)
    return (INT16_MAX if m >= 2**31 - 1 - (1 << 15) else (m + (1 << 15)) >> 16), shift


def _hard_swish_table(op: OperatorInfo, x: TensorInfo, out: TensorInfo) -> list[int]:
    hires_scale = F32(1.0 / 128.0) * F32(x.scale)  # float32, as HardSwishPrepare
    out_m, out_exp = _int16_multiplier(float(hires_scale / F32(out.scale)))
    relu_m, relu_exp = _int16_multiplier(float(hires_scale / (F32(3.0) / F32(32768.0))))
    if out_exp > 0:
        raise CodegenError(f"{where(op)}: the output scale is too small for TFLite's int8 HARD_SWISH "
                           "(output multiplier above one)")
    table = []
    for v in VALUES:
        hires = _wrap16(_wrap16(v - x.zero_point) * (1 << 7))
        preshift_out = _high_mul16(hires, out_m)
        reluish = hires
        if relu_exp > 0:
            reluish = _saturating_left_shift16(reluish, relu_exp - 1)
        reluish = _high_mul16(reluish, relu_m)
        if relu_exp > 0:
            reluish = _saturating_left_shift16(reluish, 1)
        if relu_exp < 0:
            reluish = _div_pot16(reluish, -relu_exp)
        reluish = _wrap16((reluish + (1 << 15)) >> 1)
        value = _div_pot16(_doubling_high_mul16(reluish, preshift_out), -out_exp)
        table.append(_clamp8(_wrap16(value + out.zero_point)))
    return table


# -- LOGISTIC, TANH: float32 tables from the C math library -------------------------------------------------
@cache
def _libm() -> ctypes.CDLL:
    name = ctypes.util.find_library("m")
    if name is None:
        raise CodegenError("the C math library (libm) is not found: LOGISTIC and TANH tables need its expf/tanhf")
    lib = ctypes.CDLL(name)
    for fn in ("expf", "tanhf"):
        getattr(lib, fn).restype = ctypes.c_float
        getattr(lib, fn).argtypes = [ctypes.c_float]
    return lib


def _sigmoid(v: np.float32) -> np.float32:
    return F32(F32(1.0) / (F32(1.0) + F32(_libm().expf(float(-v)))))


def _tanh(v: np.float32) -> np.float32:
    return F32(_libm().tanhf(float(v)))


def lut_populate(x: TensorInfo, out: TensorInfo, transform: Callable[[np.float32], np.float32]) -> list[int]:
    """LUTPopulateInt8: dequantize, transform, round half away from zero, add the zero point, clamp."""
    inverse_scale = F32(1.0) / F32(out.scale)
    table = []
    for v in VALUES:
        dequantized = F32(x.scale) * F32(v - x.zero_point)
        rescaled = round_half_away(float(F32(transform(dequantized) * inverse_scale)))
        table.append(_clamp8(int(F32(rescaled) + F32(out.zero_point))))
    return table


def _logistic_table(op: OperatorInfo, x: TensorInfo, out: TensorInfo) -> list[int]:
    if F32(out.scale) != F32(1.0 / 256):
        raise CodegenError(f"{where(op)}: int8 LOGISTIC needs the output scale 1/256 (TFLite refuses "
                           f"{out.scale!r})")
    return lut_populate(x, out, _sigmoid)


def _tanh_table(op: OperatorInfo, x: TensorInfo, out: TensorInfo) -> list[int]:
    return lut_populate(x, out, _tanh)


TABLES: dict[str, Callable[[OperatorInfo, TensorInfo, TensorInfo], list[int]]] = {
    "LOGISTIC": _logistic_table, "TANH": _tanh_table, "HARD_SWISH": _hard_swish_table, "RELU": _relu_table,
    "RELU6": _relu_table, "RELU_N1_TO_1": _relu_table, "RELU_0_TO_1": _relu_table, "LEAKY_RELU": _leaky_relu_table}


def lower_unary(g: Graph, op: OperatorInfo) -> Step:
    x, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    for t in (x, out):
        if len(t.scales) != 1:
            raise CodegenError(f"{where(op)}: tensor {t.name!r} is quantized per channel ({len(t.scales)} "
                               "scales); TFLite's int8 kernel takes one scale")
    if tuple(x.shape) != tuple(out.shape):
        raise CodegenError(f"{where(op)}: output {out.name!r} has shape {list(out.shape)}, the input "
                           f"{list(x.shape)}")
    return lookup_step(op, x, out, TABLES[op.opcode](op, x, out))


def lookup_step(op: OperatorInfo, x: TensorInfo, out: TensorInfo, table: list[int]) -> Step:
    """bd_lookup: out[i] = table[x[i] + 128] (x and out hold the same number of values, in the same order)."""
    return Step(op.index, op.opcode, "bd_lookup", "bd_lookup_params", {"size": out.size, "table": Const("table")},
                {"table": np.array(table, np.int8)}, [x.index], [out.index])
