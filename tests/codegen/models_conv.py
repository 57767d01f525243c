"""Test models for the conv/FC register tiles (benchd_conv.c): shapes chosen to reach every tile and edge.

Output channels 8k, 8k+4, 8k+5..7 and < 4 reach the 8-wide, 4-wide and one-channel tiles; odd pixel counts
the single-pixel tiles; padding the gathered pixels; a max pool whose multiplier shifts left the per-pixel
requantization (no max over accumulators).
"""

from __future__ import annotations

import models
import numpy as np

MS = models.MS
INT8, PAD, ACT = models.INT8, models.PAD, models.ACT


def conv_pool_scaled(kind: str, shape: tuple[int, int, int, int], filters: int, kernel: tuple[int, int],
                     pool: tuple[int, int], mid_scale: float, seed: int = 0) -> bytes:
    """CONV_2D (SAME, stride 1, no activation) -> pool (VALID, stride = size) with the conv's output scale
    given outright (a small one makes the requantization multiplier > 1, i.e. a left shift)."""
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    n, h, w_, c = shape
    in_q = models._q(rng)
    x = g.tensor("input", shape, INT8, in_q)
    wq, w_quant, scales = models._weights(rng, (filters, *kernel, c), 0, True)
    wt = g.tensor("weights", (filters, *kernel, c), INT8, w_quant, wq)
    bt = models._bias(g, rng, in_q["scale"][0], scales, filters)
    mid_q = {"scale": [mid_scale], "zero_point": [int(rng.integers(-20, 21))]}
    mid = g.tensor("conv", (n, h, w_, filters), INT8, mid_q)
    g.op("CONV_2D", [x, wt, bt], [mid], Padding=PAD["SAME"], StrideW=1, StrideH=1, FusedActivationFunction=0,
         DilationWFactor=1, DilationHFactor=1)
    y = g.tensor("output", (n, h // pool[0], w_ // pool[1], filters), INT8, mid_q)
    g.op(kind, [mid], [y], Padding=PAD["VALID"], StrideW=pool[1], StrideH=pool[0], FilterWidth=pool[1],
         FilterHeight=pool[0], FusedActivationFunction=0)
    return bytes(g.serialize([x], [y], "codegen test"))


def fc_scaled(depth: int, units: int, multiplier: float, seed: int = 0) -> bytes:
    """FULLY_CONNECTED whose requantization multiplier (in_scale * w_scale / out_scale) is given: >= 1/4
    leaves no right shift for bd_requant_single_fast, so the general form runs. No bias: the interpreter
    refuses a bias whose scale is far from the output's relative to the output scale."""
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    in_q = models._q(rng)
    x = g.tensor("input", (1, depth), INT8, in_q)
    wq, w_quant, scales = models._weights(rng, (units, depth), 0, False)
    wt = g.tensor("weights", (units, depth), INT8, w_quant, wq)
    out_q = {"scale": [float(in_q["scale"][0] * scales[0] / multiplier)], "zero_point": [int(rng.integers(-20, 21))]}
    y = g.tensor("output", (1, units), INT8, out_q)
    g.op("FULLY_CONNECTED", [x, wt, -1], [y], FusedActivationFunction=0)
    return bytes(g.serialize([x], [y], "codegen test"))


CASES = {
    # CONV_2D: 8 + 4 + 1 channels, padding on every side, odd output width (a pixel left over per row)
    "tiles_conv_13ch_same": models.conv((1, 9, 7, 3), 13, (3, 3), seed=21),
    "tiles_conv_12ch_5x5": models.conv((1, 11, 9, 4), 12, (5, 5), act="RELU", seed=22),
    "tiles_conv_3ch_stride2": models.conv((1, 12, 11, 5), 3, (3, 3), stride=(2, 2), seed=23),
    "tiles_conv_16ch_valid_s2": models.conv((1, 13, 13, 6), 16, (3, 3), stride=(2, 2), padding="VALID", seed=24),
    "tiles_conv_dilated_h": models.conv((1, 12, 10, 3), 9, (3, 3), dilation=(2, 1), seed=25),
    "tiles_conv_dilated_w": models.conv((1, 10, 12, 3), 8, (3, 2), dilation=(1, 3), seed=26),
    "tiles_conv_one_channel_8x8": models.conv((1, 17, 14, 1), 16, (8, 8), seed=27),
    "tiles_conv_stride_3x1": models.conv((1, 10, 9, 2), 7, (4, 3), stride=(3, 1), seed=28),
    "tiles_conv_batch3": models.conv((3, 5, 5, 3), 10, (3, 3), seed=29),
    # pointwise: one run of pixels (odd count), and 1x1 stride 2
    "tiles_pointwise_odd": models.conv((1, 5, 7, 24), 20, (1, 1), seed=30),
    "tiles_pointwise_wide": models.conv((1, 3, 3, 37), 8, (1, 1), per_channel=False, seed=31),
    "tiles_pointwise_s2": models.conv((1, 9, 8, 16), 12, (1, 1), stride=(2, 2), seed=32),
    # fused conv + pool: max over accumulators (plain), per-pixel requantization (left shift), average
    "tiles_conv_max_first": models.conv_pool("MAX_POOL_2D", (1, 10, 9, 1), 16, (5, 5), (2, 2), (2, 2), act="NONE",
                                             seed=33),
    "tiles_conv_max_12ch_same": models.conv_pool("MAX_POOL_2D", (1, 9, 9, 3), 12, (3, 3), (2, 3), (2, 3),
                                                 pool_padding="SAME", act="RELU6", seed=34),
    "tiles_conv_max_left_shift": conv_pool_scaled("MAX_POOL_2D", (1, 6, 6, 1), 5, (1, 1), (2, 2), 1e-4, seed=35),
    "tiles_conv_avg_13ch": models.conv_pool("AVERAGE_POOL_2D", (1, 8, 10, 4), 13, (4, 4), (2, 2), (2, 2), seed=36),
    # FULLY_CONNECTED: batch pairs and a single, 8 + 4 + 1 units, depths 1 to 3 mod 4
    "tiles_fc_batch3_13": models.fully_connected(3, 37, 13, act="RELU", seed=37),
    "tiles_fc_batch2_8": models.fully_connected(2, 66, 8, per_channel=True, seed=38),
    "tiles_fc_12": models.fully_connected(1, 129, 12, seed=39),
    "tiles_fc_3": models.fully_connected(1, 7, 3, seed=40),
    "tiles_fc_general_requant": fc_scaled(2, 13, 0.3, seed=41),
}
