"""Every operator and fused activation alone, bit-exact with TFLite's reference kernels (BUILTIN_REF).

Each model is compiled once, built with gcc -fsanitize=address,undefined -Wall -Wextra -Werror, and run
on 200 random input vectors in one process.
"""

from __future__ import annotations

import models
import pytest
from harness import assert_bit_exact, random_inputs
from model_tools import tvm_available

pytestmark = [pytest.mark.tvm, tvm_available]

CASES = {
    # CONV_2D: per-channel and per-tensor, odd shapes, SAME/VALID, strides, dilation, 1x1, activations
    "conv_same": models.conv((1, 9, 7, 3), 5, (3, 3)),
    "conv_per_tensor": models.conv((1, 9, 7, 3), 6, (3, 3), per_channel=False, seed=1),
    "conv_valid_stride": models.conv((1, 11, 10, 2), 7, (4, 3), stride=(2, 3), padding="VALID", seed=2),
    "conv_same_stride_even": models.conv((1, 10, 8, 4), 4, (5, 4), stride=(2, 2), seed=3),
    "conv_dilated": models.conv((1, 12, 11, 2), 3, (3, 3), dilation=(2, 3), seed=4),
    "conv_1x1": models.conv((1, 5, 6, 8), 9, (1, 1), seed=5),
    "conv_batch2": models.conv((2, 6, 5, 3), 4, (3, 2), seed=6),
    "conv_relu": models.conv((1, 7, 7, 3), 5, (3, 3), act="RELU", seed=7),
    "conv_relu6": models.conv((1, 7, 7, 3), 5, (3, 3), act="RELU6", seed=8),
    "conv_relu_n1_to_1": models.conv((1, 7, 7, 3), 5, (3, 3), act="RELU_N1_TO_1", seed=9),
    # DEPTHWISE_CONV_2D: multiplier 1 and >1, one and several input channels
    "dw_same": models.conv((1, 9, 7, 5), 0, (3, 3), depthwise=True, seed=10),
    "dw_multiplier": models.conv((1, 9, 8, 3), 0, (3, 2), depthwise=True, multiplier=2, seed=11),
    "dw_one_channel_x4": models.conv((1, 13, 10, 1), 0, (5, 4), stride=(2, 2), depthwise=True, multiplier=4,
                                     seed=12),
    "dw_valid_stride_dilated": models.conv((1, 12, 11, 4), 0, (3, 3), stride=(2, 1), dilation=(1, 2),
                                           padding="VALID", depthwise=True, per_channel=False, seed=13),
    "dw_relu6": models.conv((1, 6, 6, 6), 0, (3, 3), depthwise=True, act="RELU6", seed=14),
    # FULLY_CONNECTED
    "fc": models.fully_connected(1, 30, 7),
    "fc_per_channel": models.fully_connected(1, 48, 12, per_channel=True, seed=1),
    "fc_batch3_relu": models.fully_connected(3, 17, 5, act="RELU", seed=2),
    "fc_no_bias": models.fully_connected(1, 25, 6, bias=False, seed=3),
    # pools
    "avg_valid": models.pool("AVERAGE_POOL_2D", (1, 9, 7, 3), (2, 2), (2, 2)),
    "avg_same_odd": models.pool("AVERAGE_POOL_2D", (1, 9, 7, 3), (2, 3), (2, 2), padding="SAME", seed=1),
    "avg_relu": models.pool("AVERAGE_POOL_2D", (1, 8, 8, 4), (3, 3), (1, 1), padding="SAME", act="RELU", seed=2),
    "max_valid": models.pool("MAX_POOL_2D", (1, 9, 7, 3), (2, 2), (2, 2)),
    "max_same_relu6": models.pool("MAX_POOL_2D", (1, 9, 7, 3), (3, 2), (2, 1), padding="SAME", act="RELU6",
                                  seed=3),
    # SOFTMAX
    "softmax": models.softmax((1, 10), 0.1),
    "softmax_rows_beta": models.softmax((3, 7), 0.3, beta=0.7, seed=1),
    "softmax_wide_small_scale": models.softmax((1, 40), 0.02, seed=2),
    # ADD / MUL, with broadcasting
    "add": models.binary("ADD", (1, 4, 5, 3), (1, 4, 5, 3), (1, 4, 5, 3)),
    "add_broadcast_relu": models.binary("ADD", (1, 4, 5, 3), (1, 1, 1, 3), (1, 4, 5, 3), act="RELU", seed=1),
    "mul": models.binary("MUL", (1, 4, 5, 3), (1, 4, 5, 3), (1, 4, 5, 3), seed=2),
    "mul_broadcast_relu6": models.binary("MUL", (2, 1, 3), (4, 1), (2, 4, 3), act="RELU6", seed=3),
    # CONV_2D + pool fused (non-overlapping windows), with and without clipped windows
    "fused_conv_max": models.conv_pool("MAX_POOL_2D", (1, 9, 8, 2), 6, (3, 3), (2, 2), (2, 2), act="NONE"),
    "fused_conv_avg_same": models.conv_pool("AVERAGE_POOL_2D", (1, 9, 7, 3), 5, (4, 3), (2, 3), (2, 3),
                                            pool_padding="SAME", seed=1),
    "fused_conv_max_stride_gap": models.conv_pool("MAX_POOL_2D", (1, 11, 10, 1), 4, (5, 4), (2, 2), (3, 3),
                                                  seed=2),
    "not_fused_overlapping": models.conv_pool("AVERAGE_POOL_2D", (1, 8, 8, 2), 4, (3, 3), (3, 3), (1, 1), seed=3),
    # RESHAPE: an alias, also into the model output
    "reshape_chain": models.reshape_chain(),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_operator_is_bit_exact(name: str, host_build) -> None:  # type: ignore[no-untyped-def]
    model, exe, io = host_build(name, CASES[name])
    assert_bit_exact(model, exe, io, random_inputs(io))
