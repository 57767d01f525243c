"""Per-channel requantization constants for the kernels' fast forms (benchd_kernels.h), with their proof.

TFLite's MultiplyByQuantizedMultiplier rounds twice (SaturatingRoundingDoublingHighMul, then
RoundingDivideByPOT). For a multiplier m >= 0 and r = -shift >= 1 that equals

    floor((h - (acc < 0) + 2^(r-1)) / 2^r),   h = floor((acc * 2m + 2^31) / 2^32)

which bd_requant_fast computes in 32-bit arithmetic with the output zero point folded into the
constant, k = 2^(r-1) + out_zp * 2^r. That is exact as long as h - (acc < 0) + k never leaves int32,
which holds for the accumulator range TFLite's own arithmetic can reach (bias plus the extreme sums of
(x - in_zp) * w); the generator proves it per channel and otherwise keeps the general form. The single
rounding of FULLY_CONNECTED gets the same treatment (bd_requant_single_fast).
"""

from __future__ import annotations

import numpy as np

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def accumulator_range(bias: np.ndarray, w2d: np.ndarray, in_zp: int) -> tuple[np.ndarray, np.ndarray]:
    """Per unit, the least and greatest bias + sum((x - in_zp) * w) over int8 inputs x.

    A padded tap contributes 0 (TFLite skips it), which lies between the two extremes of every tap.
    """
    w = w2d.astype(np.int64)
    hi_x, lo_x = 127 - in_zp, -128 - in_zp
    top = np.maximum(w * hi_x, w * lo_x).sum(axis=1)
    bottom = np.minimum(w * hi_x, w * lo_x).sum(axis=1)
    b = bias.astype(np.int64)
    return b + bottom, b + top


def _floor_high(acc: int, m2: int) -> int:
    return (acc * m2 + 2**31) >> 32


def fast_double(mult: np.ndarray, shift: np.ndarray, out_zp: int, lo: np.ndarray, hi: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(m2, r, k) per channel for bd_requant_fast, or None when one channel cannot use it.

    m2 is returned as int32 bits (the C side reads it as uint32).
    """
    m2s, rs, ks = [], [], []
    for m, s, a, b in zip(mult.tolist(), shift.tolist(), lo.tolist(), hi.tolist(), strict=True):
        r = -s
        if m < 0 or r < 1 or a < INT32_MIN or b > INT32_MAX:
            return None
        m2 = 2 * m
        k = (1 << (r - 1)) + out_zp * (1 << r)
        top = _floor_high(b, m2) - (b < 0) + k
        bottom = _floor_high(a, m2) - (a < 0) + k
        if not INT32_MIN <= k <= INT32_MAX or top > INT32_MAX or bottom < INT32_MIN:
            return None
        m2s.append(m2 - (1 << 32) if m2 > INT32_MAX else m2)
        rs.append(r)
        ks.append(k)
    return np.array(m2s, np.int32), np.array(rs, np.int32), np.array(ks, np.int32)


def fast_single(mult: np.ndarray, shift: np.ndarray, out_zp: int, lo: np.ndarray, hi: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray] | None:
    """(s, k) per channel for bd_requant_single_fast (the multiplier is used as it is), or None."""
    ss, ks = [], []
    for m, sh, a, b in zip(mult.tolist(), shift.tolist(), lo.tolist(), hi.tolist(), strict=True):
        s = -sh - 1
        if s < 1 or a < INT32_MIN or b > INT32_MAX:
            return None
        k = (1 << (s - 1)) + out_zp * (1 << s)
        ends = [((v * m) >> 32) + k for v in (a, b)]  # monotonic in the accumulator either way
        if not INT32_MIN <= k <= INT32_MAX or max(ends) > INT32_MAX or min(ends) < INT32_MIN:
            return None
        ss.append(s)
        ks.append(k)
    return np.array(ss, np.int32), np.array(ks, np.int32)
