"""gemmlowp's int32 fixed-point arithmetic, emulated exactly in Python for generation-time tables.

TFLite's reference int8 SOFTMAX (the one the BUILTIN_REF resolver runs) computes exp() of the scaled
input difference in fixed point (Q5.26 in, Q0.31 out). The difference of two int8 values takes only 256
values, so the generator evaluates those exps here, bit for bit, and the C kernel looks them up; only the
reciprocal of the row's sum is computed at run time (benchd_softmax.c).
"""

from __future__ import annotations

import math

from daemon.codegen.quant import quantize_multiplier

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def wrap(x: int) -> int:
    return (x + 2**31) % 2**32 - 2**31


def high_mul(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    v = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    q = abs(v) >> 31
    return q if v >= 0 else -q


def div_pot(x: int, exponent: int) -> int:
    """RoundingDivideByPOT: ties away from zero."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def mul_pot(x: int, exponent: int) -> int:
    """SaturatingRoundingMultiplyByPOT."""
    if exponent < 0:
        return div_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return wrap(x << exponent)


def _exp_quarter(a: int) -> int:
    """exp(a) for a in [-1/4, 0), Q0.31 in and out (Taylor series around -1/8)."""
    constant_term, one_third = 1895147668, 715827883
    x = wrap(a + (1 << 28))
    x2 = high_mul(x, x)
    x3 = high_mul(x2, x)
    x4 = high_mul(x2, x2)
    x4_over_4 = mul_pot(x4, -2)
    poly = mul_pot(wrap(high_mul(wrap(x4_over_4 + x3), one_third) + x2), -1)
    return wrap(constant_term + high_mul(constant_term, wrap(x + poly)))


BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401),
          (4, 242))


def exp_on_negative_values(a: int, integer_bits: int = 5) -> int:
    """exp(a) for a <= 0 given in Q(integer_bits).(31 - integer_bits); result in Q0.31."""
    fractional = 31 - integer_bits
    quarter = 1 << (fractional - 2)
    mod_minus_quarter = wrap((a & (quarter - 1)) - quarter)
    result = _exp_quarter(mul_pot(mod_minus_quarter, integer_bits))
    remainder = wrap(mod_minus_quarter - a)
    for exponent, multiplier in BARREL:
        if integer_bits > exponent and remainder & (1 << (fractional + exponent)):
            result = high_mul(result, multiplier)
    if integer_bits > 5 and a < -(1 << (36 - integer_bits)):
        result = 0
    return INT32_MAX if a == 0 else result


def softmax_exp_table(input_scale: float, beta: float) -> list[int]:
    """table[d] = exp of the input difference -d (d = max - x, 0..255) in Q0.31; 0 where TFLite skips it.

    The input scaling is PreprocessSoftmaxScaling with 5 integer bits, the skip threshold diff_min is
    -CalculateInputRadius(5, left_shift), and the difference is rescaled by
    MultiplyByQuantizedMultiplierGreaterThanOne, as in TFLite's SoftmaxPrepare / reference Softmax.
    """
    integer_bits = 5
    real = min(beta * input_scale * (1 << (31 - integer_bits)), (1 << 31) - 1.0)
    multiplier, left_shift = quantize_multiplier(real)
    radius = math.floor(((1 << integer_bits) - 1) * (1 << (31 - integer_bits)) / (1 << left_shift))
    diff_min = -radius
    table = []
    for d in range(256):
        diff = -d
        if diff < diff_min:
            table.append(0)
            continue
        rescaled = high_mul(wrap(diff * (1 << left_shift)), multiplier)
        table.append(exp_on_negative_values(rescaled, integer_bits))
    return table
