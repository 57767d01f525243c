"""Small generated int8 models, one operator each, for the bit-exactness tests (no TensorFlow needed).

Built with data/make_samples.py's GraphWriter. Scales are chosen so the outputs use most of the int8
range (no test passes on all -128 or all 127); zero points are random and asymmetric.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from model_tools import load_make_samples

MS = load_make_samples()
INT8, INT32 = MS.INT8, MS.INT32
ACT = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}
PAD = {"SAME": 0, "VALID": 1}
MS.OPS.update({"ADD": (0, 11), "MUL": (18, 21), "MAX_POOL_2D": (17, 5), "WHILE": (119, 0)})
MS.OPTION_TABLES.update({11: "AddOptions", 21: "MulOptions"})


def _q(rng: np.random.Generator, scale: float | None = None) -> dict[str, Any]:
    return {"scale": [scale if scale is not None else float(rng.uniform(0.01, 0.1))],
            "zero_point": [int(rng.integers(-20, 21))]}


def _weights(rng: np.random.Generator, shape: tuple[int, ...], axis: int, per_channel: bool
             ) -> tuple[np.ndarray, dict[str, Any], np.ndarray]:
    w = rng.integers(-127, 128, shape).astype(np.int8)
    n = shape[axis] if per_channel else 1
    scales = rng.uniform(0.002, 0.02, n).astype(np.float32)
    return w, {"scale": scales, "zero_point": np.zeros(n, np.int64), "dim": axis if per_channel else 0}, scales


def _bias(g: Any, rng: np.random.Generator, in_scale: float, w_scales: np.ndarray, n: int) -> int:
    b_scale = np.float32(in_scale) * np.resize(w_scales, n)
    data = rng.integers(-3000, 3000, n).astype(np.int32)
    return int(g.tensor("bias", (n,), INT32, {"scale": b_scale, "zero_point": np.zeros(n, np.int64)}, data))


def _out_scale(in_scale: float, w_scales: np.ndarray, taps: int) -> float:
    return float(in_scale * float(np.mean(w_scales)) * 127 * np.sqrt(taps) * 1.2 / 127 * 40)


def conv(shape: tuple[int, int, int, int], filters: int, kernel: tuple[int, int], stride: tuple[int, int] = (1, 1),
         dilation: tuple[int, int] = (1, 1), padding: str = "SAME", act: str = "NONE", per_channel: bool = True,
         depthwise: bool = False, multiplier: int = 1, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    n, h, w_, c = shape
    in_q = _q(rng)
    x = g.tensor("input", shape, INT8, in_q)
    kh, kw = kernel
    oc = c * multiplier if depthwise else filters
    w_shape = (1, kh, kw, oc) if depthwise else (oc, kh, kw, c)
    wq, w_quant, scales = _weights(rng, w_shape, 3 if depthwise else 0, per_channel)
    wt = g.tensor("weights", w_shape, INT8, w_quant, wq)
    bt = _bias(g, rng, in_q["scale"][0], scales, oc)
    eff_h, eff_w = (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1
    if padding == "SAME":
        oh, ow = -(-h // stride[0]), -(-w_ // stride[1])
    else:
        oh, ow = (h - eff_h) // stride[0] + 1, (w_ - eff_w) // stride[1] + 1
    taps = kh * kw * (1 if depthwise else c)
    y = g.tensor("output", (n, oh, ow, oc), INT8, _q(rng, _out_scale(in_q["scale"][0], scales, taps)))
    opts = {"Padding": PAD[padding], "StrideW": stride[1], "StrideH": stride[0], "FusedActivationFunction": ACT[act],
            "DilationWFactor": dilation[1], "DilationHFactor": dilation[0]}
    if depthwise:
        g.op("DEPTHWISE_CONV_2D", [x, wt, bt], [y], DepthMultiplier=multiplier, **opts)
    else:
        g.op("CONV_2D", [x, wt, bt], [y], **opts)
    return bytes(g.serialize([x], [y], "codegen test"))


def fully_connected(batches: int, depth: int, units: int, act: str = "NONE", per_channel: bool = False,
                    bias: bool = True, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    in_q = _q(rng)
    x = g.tensor("input", (batches, depth), INT8, in_q)
    wq, w_quant, scales = _weights(rng, (units, depth), 0, per_channel)
    wt = g.tensor("weights", (units, depth), INT8, w_quant, wq)
    bt = _bias(g, rng, in_q["scale"][0], scales, units) if bias else -1
    y = g.tensor("output", (batches, units), INT8, _q(rng, _out_scale(in_q["scale"][0], scales, depth)))
    g.op("FULLY_CONNECTED", [x, wt, bt], [y], FusedActivationFunction=ACT[act])
    return bytes(g.serialize([x], [y], "codegen test"))


def pool(kind: str, shape: tuple[int, int, int, int], size: tuple[int, int], stride: tuple[int, int],
         padding: str = "VALID", act: str = "NONE", seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    n, h, w_, c = shape
    q = _q(rng)
    x = g.tensor("input", shape, INT8, q)
    if padding == "SAME":
        oh, ow = -(-h // stride[0]), -(-w_ // stride[1])
    else:
        oh, ow = (h - size[0]) // stride[0] + 1, (w_ - size[1]) // stride[1] + 1
    y = g.tensor("output", (n, oh, ow, c), INT8, q)
    g.op(kind, [x], [y], Padding=PAD[padding], StrideW=stride[1], StrideH=stride[0], FilterWidth=size[1],
         FilterHeight=size[0], FusedActivationFunction=ACT[act])
    return bytes(g.serialize([x], [y], "codegen test"))


def softmax(shape: tuple[int, ...], in_scale: float, beta: float = 1.0, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    x = g.tensor("input", shape, INT8, _q(rng, in_scale))
    y = g.tensor("output", shape, INT8, {"scale": [1 / 256], "zero_point": [-128]})
    g.op("SOFTMAX", [x], [y], Beta=beta)
    return bytes(g.serialize([x], [y], "codegen test"))


def binary(kind: str, a_shape: tuple[int, ...], b_shape: tuple[int, ...], out_shape: tuple[int, ...],
           act: str = "NONE", seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    qa, qb = _q(rng), _q(rng)
    a = g.tensor("input_a", a_shape, INT8, qa)
    b = g.tensor("input_b:0", b_shape, INT8, qb)
    scale = (qa["scale"][0] + qb["scale"][0]) * 1.1 if kind == "ADD" else qa["scale"][0] * qb["scale"][0] * 60
    y = g.tensor("output", out_shape, INT8, _q(rng, scale))
    g.op(kind, [a, b], [y], FusedActivationFunction=ACT[act])
    return bytes(g.serialize([a, b], [y], "codegen test"))


def reshape_chain(seed: int = 0) -> bytes:
    """input (1, 24) -> reshape (1, 2, 3, 4) -> max pool 1x1 -> reshape (1, 24) as the output."""
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    q = _q(rng)
    x = g.tensor("serving_default_x:0", (1, 24), INT8, q)
    s4 = g.tensor("shape4", (4,), INT32, data=np.array([1, 2, 3, 4]))
    x4 = g.tensor("x4", (1, 2, 3, 4), INT8, q)
    g.op("RESHAPE", [x, s4], [x4], NewShape=[1, 2, 3, 4])
    y4 = g.tensor("y4", (1, 2, 3, 4), INT8, q)
    g.op("MAX_POOL_2D", [x4], [y4], Padding=1, StrideW=1, StrideH=1, FilterWidth=1, FilterHeight=1,
         FusedActivationFunction=0)
    s2 = g.tensor("shape2", (2,), INT32, data=np.array([1, 24]))
    y = g.tensor("StatefulPartitionedCall:0", (1, 24), INT8, q)
    g.op("RESHAPE", [y4, s2], [y], NewShape=[1, 24])
    return bytes(g.serialize([x], [y], "codegen test"))


def conv_pool(kind: str, shape: tuple[int, int, int, int], filters: int, kernel: tuple[int, int],
              pool_size: tuple[int, int], pool_stride: tuple[int, int], pool_padding: str = "VALID",
              act: str = "RELU", seed: int = 0) -> bytes:
    """CONV_2D (SAME, stride 1) -> AVERAGE/MAX_POOL_2D: the pair the generator fuses."""
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    n, h, w_, c = shape
    in_q = _q(rng)
    x = g.tensor("input", shape, INT8, in_q)
    wq, w_quant, scales = _weights(rng, (filters, *kernel, c), 0, True)
    wt = g.tensor("weights", (filters, *kernel, c), INT8, w_quant, wq)
    bt = _bias(g, rng, in_q["scale"][0], scales, filters)
    mid_q = _q(rng, _out_scale(in_q["scale"][0], scales, kernel[0] * kernel[1] * c))
    mid = g.tensor("conv", (n, h, w_, filters), INT8, mid_q)
    g.op("CONV_2D", [x, wt, bt], [mid], Padding=PAD["SAME"], StrideW=1, StrideH=1, FusedActivationFunction=ACT[act],
         DilationWFactor=1, DilationHFactor=1)
    if pool_padding == "SAME":
        oh, ow = -(-h // pool_stride[0]), -(-w_ // pool_stride[1])
    else:
        oh, ow = (h - pool_size[0]) // pool_stride[0] + 1, (w_ - pool_size[1]) // pool_stride[1] + 1
    y = g.tensor("output", (n, oh, ow, filters), INT8, mid_q)
    g.op(kind, [mid], [y], Padding=PAD[pool_padding], StrideW=pool_stride[1], StrideH=pool_stride[0],
         FilterWidth=pool_size[1], FilterHeight=pool_size[0], FusedActivationFunction=0)
    return bytes(g.serialize([x], [y], "codegen test"))
