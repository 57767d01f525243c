"""Generated models for QUANTIZE and DEQUANTIZE: each conversion alone, and whole int8 models with float I/O
the way TFLite's converter writes them (float input -> QUANTIZE -> int8 layers -> DEQUANTIZE -> float output)."""

from __future__ import annotations

from typing import Any

import models
import numpy as np

MS = models.MS
FLOAT32, INT8, INT16, INT32 = MS.FLOAT32, MS.INT8, 7, MS.INT32
TYPES = {"float32": FLOAT32, "int8": INT8, "int16": INT16}
MS.OPS.update({"QUANTIZE": (114, 89), "DEQUANTIZE": (6, 38)})
MS.OPTION_TABLES.update({89: "QuantizeOptions", 38: "DequantizeOptions"})


def _q(scale: float, zero_point: int) -> dict[str, Any]:
    return {"scale": [scale], "zero_point": [zero_point]}


def quantize(shape: tuple[int, ...], in_type: str, out_type: str, in_q: tuple[float, int] | None,
             out_q: tuple[float, int]) -> bytes:
    """One QUANTIZE: float32 -> int8/int16 (in_q None), or a requantization between integer types."""
    g = MS.GraphWriter()
    x = g.tensor("input", shape, TYPES[in_type], _q(*in_q) if in_q else None)
    y = g.tensor("output", shape, TYPES[out_type], _q(*out_q))
    g.op("QUANTIZE", [x], [y])
    return bytes(g.serialize([x], [y], f"quantize {in_type} -> {out_type}"))


def dequantize(shape: tuple[int, ...], in_type: str, in_q: tuple[float, int]) -> bytes:
    g = MS.GraphWriter()
    x = g.tensor("input", shape, TYPES[in_type], _q(*in_q))
    y = g.tensor("output", shape, FLOAT32)
    g.op("DEQUANTIZE", [x], [y])
    return bytes(g.serialize([x], [y], f"dequantize {in_type}"))


def float_io_cnn(seed: int = 0) -> bytes:
    """float (1, 9, 7, 2) -> QUANTIZE -> CONV_2D (RELU) -> RESHAPE -> FULLY_CONNECTED -> DEQUANTIZE -> float (1, 6)."""
    rng = np.random.default_rng(seed)
    g = MS.GraphWriter()
    shape, filters, classes = (1, 9, 7, 2), 4, 6
    x = g.tensor("serving_default_input", shape, FLOAT32)
    in_q = _q(0.04, -7)
    xq = g.tensor("input_int8", shape, INT8, in_q)
    g.op("QUANTIZE", [x], [xq])
    wq, w_quant, scales = models._weights(rng, (filters, 3, 3, shape[3]), 0, True)
    w = g.tensor("conv_weights", wq.shape, INT8, w_quant, wq)
    b = models._bias(g, rng, 0.04, scales, filters)
    conv_scale = models._out_scale(0.04, scales, 9 * shape[3])
    conv_q = _q(conv_scale, -128)  # RELU: the converter puts zero at -128
    c = g.tensor("conv", (1, 9, 7, filters), INT8, conv_q)
    g.op("CONV_2D", [xq, w, b], [c], Padding=0, StrideW=1, StrideH=1, FusedActivationFunction=1,
         DilationWFactor=1, DilationHFactor=1)
    depth = 9 * 7 * filters
    flat = g.tensor("flat", (1, depth), INT8, conv_q)
    shape_t = g.tensor("flat_shape", (2,), INT32, data=np.array([1, depth], np.int32))
    g.op("RESHAPE", [c, shape_t], [flat], NewShape=[1, depth])
    fw, fw_quant, f_scales = models._weights(rng, (classes, depth), 0, False)
    fwt = g.tensor("fc_weights", fw.shape, INT8, fw_quant, fw)
    fb = models._bias(g, rng, conv_scale, f_scales, classes)
    logits_q = _q(models._out_scale(conv_scale, f_scales, depth) * 3, 5)
    logits = g.tensor("logits_int8", (1, classes), INT8, logits_q)
    g.op("FULLY_CONNECTED", [flat, fwt, fb], [logits], FusedActivationFunction=0, WeightsFormat=0, KeepNumDims=False)
    y = g.tensor("StatefulPartitionedCall", (1, classes), FLOAT32)
    g.op("DEQUANTIZE", [logits], [y])
    return bytes(g.serialize([x], [y], "float I/O int8 CNN"))


def float_io_int16_edge(seed: int = 0) -> bytes:
    """float -> QUANTIZE int16 -> QUANTIZE int8 -> SOFTMAX -> QUANTIZE int16 -> DEQUANTIZE -> float: every
    conversion in one model, the integer types changing on the way."""
    del seed
    g = MS.GraphWriter()
    shape = (2, 13)
    x = g.tensor("input", shape, FLOAT32)
    a = g.tensor("int16_in", shape, INT16, _q(6.0 / 32767, 0))
    g.op("QUANTIZE", [x], [a])
    b = g.tensor("int8_in", shape, INT8, _q(0.05, 3))
    g.op("QUANTIZE", [a], [b])
    s = g.tensor("softmax", shape, INT8, _q(1 / 256, -128))
    g.op("SOFTMAX", [b], [s], Beta=1.0)
    c = g.tensor("int16_out", shape, INT16, _q(1 / 32768, 0))
    g.op("QUANTIZE", [s], [c])
    y = g.tensor("output", shape, FLOAT32)
    g.op("DEQUANTIZE", [c], [y])
    return bytes(g.serialize([x], [y], "float I/O through int16 and int8"))
