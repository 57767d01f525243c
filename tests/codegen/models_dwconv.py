"""DEPTHWISE_CONV_2D test models for the channel-by-channel kernels (benchd_dwconv.c, benchd_dwconv3x3.c).

Like models.conv, with knobs that steer the generator off the fast paths: a large bias with a large
output scale and zero point, so that the fast requantization's folded out_zp * 2^r plus the product
could leave int32 (its no-overflow proof fails), and an output scale small enough that the multiplier
needs no right shift (r = 0); both keep the general requantization.
"""

from __future__ import annotations

import numpy as np
from models import INT8, INT32, MS, _q, _weights

ACT = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}
PAD = {"SAME": 0, "VALID": 1}


def depthwise(shape: tuple[int, int, int, int], kernel: tuple[int, int], stride: tuple[int, int] = (1, 1),
              dilation: tuple[int, int] = (1, 1), padding: str = "SAME", act: str = "NONE", multiplier: int = 1,
              per_channel: bool = True, bias_range: int = 3000, out_scale_factor: float = 1.0,
              out_zp: int | None = None, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    n, h, w_, c = shape
    in_q = _q(rng)
    x = g.tensor("input", shape, INT8, in_q)
    kh, kw = kernel
    oc = c * multiplier
    wq, w_quant, scales = _weights(rng, (1, kh, kw, oc), 3, per_channel)
    wt = g.tensor("weights", (1, kh, kw, oc), INT8, w_quant, wq)
    b_scale = np.float32(in_q["scale"][0]) * np.resize(scales, oc)
    bias = rng.integers(-bias_range, bias_range, oc).astype(np.int32)
    bt = g.tensor("bias", (oc,), INT32, {"scale": b_scale, "zero_point": np.zeros(oc, np.int64)}, bias)
    eff_h, eff_w = (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1
    if padding == "SAME":
        oh, ow = -(-h // stride[0]), -(-w_ // stride[1])
    else:
        oh, ow = (h - eff_h) // stride[0] + 1, (w_ - eff_w) // stride[1] + 1
    # outputs spread over most of the int8 range: the accumulator's spread over the taps, plus the bias
    spread = float(np.mean(scales)) * in_q["scale"][0] * 127 * 40 * np.sqrt(kh * kw) * 1.2
    spread = max(spread, float(np.mean(scales)) * in_q["scale"][0] * bias_range / 60)
    out_q = _q(rng, spread / 127 * out_scale_factor)
    if out_zp is not None:
        out_q["zero_point"] = [out_zp]
    y = g.tensor("output", (n, oh, ow, oc), INT8, out_q)
    g.op("DEPTHWISE_CONV_2D", [x, wt, bt], [y], Padding=PAD[padding], StrideW=stride[1], StrideH=stride[0],
         FusedActivationFunction=ACT[act], DilationWFactor=dilation[1], DilationHFactor=dilation[0],
         DepthMultiplier=multiplier)
    return bytes(g.serialize([x], [y], "depthwise test"))
