"""Quantization constants folded at generation time, computed the way TFLite's kernels compute them.

Every value here must equal what the TFLite interpreter derives in its Prepare step, to the bit: the
fixed-point multiplier of a real scale, activation clamps (float32 division, round half away from zero),
and output sizes and padding.
"""

from __future__ import annotations

import math

import numpy as np

from daemon.errors import CodegenError

INT8_MIN, INT8_MAX = -128, 127


def round_half_away(x: float) -> int:
    """std::round: halves go away from zero (Python's round() goes to even)."""
    r = math.floor(abs(x) + 0.5)
    return int(r) if x >= 0 else -int(r)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """A real multiplier as (q31 multiplier, shift): real ~= multiplier * 2**(shift - 31)."""
    if real == 0.0:
        return 0, 0
    mantissa, shift = math.frexp(real)
    q = round_half_away(mantissa * (1 << 31))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return (1 << 31) - 1, 30
    return q, shift


def activation_range(activation: str, scale: float, zero_point: int, where: str) -> tuple[int, int]:
    """The int8 clamp of a fused activation (TFLite's CalculateActivationRangeQuantized)."""
    s = np.float32(scale)

    def quantize(f: float) -> int:
        return zero_point + round_half_away(float(np.float32(f) / s))

    if activation == "NONE":
        return INT8_MIN, INT8_MAX
    if activation == "RELU":
        return max(INT8_MIN, quantize(0.0)), INT8_MAX
    if activation == "RELU6":
        return max(INT8_MIN, quantize(0.0)), min(INT8_MAX, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(INT8_MIN, quantize(-1.0)), min(INT8_MAX, quantize(1.0))
    raise CodegenError(f"{where}: fused activation {activation} is not supported (NONE, RELU, RELU6, "
                       "RELU_N1_TO_1 are)")


def out_size(padding: str, size: int, filter_size: int, stride: int, dilation: int = 1) -> int:
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size + stride - effective) // stride


def pad_before(size: int, filter_size: int, stride: int, dilation: int, out: int) -> int:
    """Padding on the top/left side (TFLite puts the odd pixel of SAME padding at the bottom/right)."""
    effective = (filter_size - 1) * dilation + 1
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2
