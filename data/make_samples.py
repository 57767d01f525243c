"""Write the sample models benchd's tests and demos use, without downloads or TensorFlow.

    python data/make_samples.py [OUT_DIR]        # default: data/samples/ (--help: the options)

The KWS models are MicroKWS-shaped (1x1960 int8 -> 1x49x40x1 -> conv -> depthwise conv -> pointwise
conv -> average pool -> fully connected -> softmax, 12 classes). Weights are seeded, activation ranges
come from a float forward pass in numpy on random inputs, and the int8 tensors follow TFLite's
quantization rules (per-channel symmetric conv weights, int32 biases at in_scale * w_scale, softmax
output 1/256 with zero point -128), so the reference interpreter and TVM both accept them.
The flatbuffers are written with the `tflite` package's generated builders.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np

FLOAT32, INT32, INT8 = 0, 2, 9  # tflite.TensorType
SAME, VALID, RELU = 0, 1, 1  # tflite.Padding, tflite.ActivationFunctionType
# BuiltinOperator codes and their BuiltinOptions union tags.
OPS = {"AVERAGE_POOL_2D": (1, 5), "CONV_2D": (3, 1), "DEPTHWISE_CONV_2D": (4, 2),
       "FULLY_CONNECTED": (9, 8), "MAX_POOL_2D": (17, 5), "RESHAPE": (22, 17), "SOFTMAX": (25, 9),
       "PAD": (34, 22), "ABS": (101, 78)}
OPTION_TABLES = {1: "Conv2DOptions", 2: "DepthwiseConv2DOptions", 5: "Pool2DOptions",
                 8: "FullyConnectedOptions", 9: "SoftmaxOptions", 17: "ReshapeOptions", 22: "PadOptions",
                 78: "AbsOptions"}
NP_TYPES = {FLOAT32: np.float32, INT32: np.int32, INT8: np.int8}


def _table(b: flatbuffers.Builder, kind: str, **fields: Any) -> int:
    """One table through the generated tflite.<kind> builder functions (they know the vtable slots)."""
    mod = importlib.import_module(f"tflite.{kind}")
    mod.Start(b)
    for key, value in fields.items():
        getattr(mod, "Add" + key)(b, value)
    return int(mod.End(b))


def _offsets(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return int(b.EndVector())


def _blob(b: flatbuffers.Builder, raw: bytes) -> int:
    # 16-byte aligned, as TFLite's own writer does, so int32 biases can be read in place.
    b.StartVector(1, len(raw), 16)
    b.head -= len(raw)
    b.Bytes[b.head : b.head + len(raw)] = raw
    return int(b.EndVector())


class GraphWriter:
    """Collects tensors and operators of one subgraph, then serializes a whole TFLite model."""

    def __init__(self) -> None:
        self.buffers: list[bytes] = [b""]  # buffer 0 is the empty sentinel by convention
        self.tensors: list[dict[str, Any]] = []
        self.ops: list[tuple[str, list[int], list[int], dict[str, Any]]] = []

    def tensor(self, name: str, shape: tuple[int, ...], ttype: int, quant: dict[str, Any] | None = None,
               data: np.ndarray | None = None, signature: tuple[int, ...] | None = None) -> int:
        """`signature`: the shape_signature; by default what the Keras converter writes (measured on the
        MLPerf Tiny and MicroKWS models): -1 in dimension 0 of every activation of batch 1, none on constants."""
        if signature is None and data is None and shape[:1] == (1,):
            signature = (-1, *shape[1:])
        buffer = 0
        if data is not None:
            self.buffers.append(np.ascontiguousarray(data, dtype=NP_TYPES[ttype]).tobytes())
            buffer = len(self.buffers) - 1
        self.tensors.append({"name": name, "shape": shape, "type": ttype, "quant": quant, "buffer": buffer,
                             "signature": signature})
        return len(self.tensors) - 1

    def op(self, name: str, inputs: list[int], outputs: list[int], **options: Any) -> None:
        self.ops.append((name, inputs, outputs, options))

    def serialize(self, inputs: list[int], outputs: list[int], description: str) -> bytes:
        b = flatbuffers.Builder(1024)
        names = sorted({op[0] for op in self.ops}, key=lambda n: OPS[n][0])
        codes = [_table(b, "OperatorCode", DeprecatedBuiltinCode=OPS[n][0], BuiltinCode=OPS[n][0], Version=1)
                 for n in names]
        tensors = [self._tensor(b, t) for t in self.tensors]
        ops = []
        for name, ins, outs, options in self.ops:
            new_shape = options.pop("NewShape", None)
            if new_shape is not None:
                options["NewShape"] = b.CreateNumpyVector(np.array(new_shape, np.int32))
            opts = _table(b, OPTION_TABLES[OPS[name][1]], **options)
            in_vec = b.CreateNumpyVector(np.array(ins, np.int32))
            out_vec = b.CreateNumpyVector(np.array(outs, np.int32))
            ops.append(_table(b, "Operator", OpcodeIndex=names.index(name), Inputs=in_vec, Outputs=out_vec,
                              BuiltinOptionsType=OPS[name][1], BuiltinOptions=opts))
        sg_name = b.CreateString("main")
        subgraph = _table(b, "SubGraph", Tensors=_offsets(b, tensors),
                          Inputs=b.CreateNumpyVector(np.array(inputs, np.int32)),
                          Outputs=b.CreateNumpyVector(np.array(outputs, np.int32)),
                          Operators=_offsets(b, ops), Name=sg_name)
        buffers = []
        for raw in self.buffers:
            buffers.append(_table(b, "Buffer", Data=_blob(b, raw)) if raw else _table(b, "Buffer"))
        desc = b.CreateString(description)
        model = _table(b, "Model", Version=3, OperatorCodes=_offsets(b, codes),
                       Subgraphs=_offsets(b, [subgraph]), Description=desc, Buffers=_offsets(b, buffers))
        b.Finish(model, file_identifier=b"TFL3")
        return bytes(b.Output())

    @staticmethod
    def _tensor(b: flatbuffers.Builder, t: dict[str, Any]) -> int:
        quant = None
        if t["quant"] is not None:
            q = t["quant"]
            scale = b.CreateNumpyVector(np.asarray(q["scale"], np.float32).ravel())
            zero = b.CreateNumpyVector(np.asarray(q["zero_point"], np.int64).ravel())
            quant = _table(b, "QuantizationParameters", Scale=scale, ZeroPoint=zero,
                           QuantizedDimension=q.get("dim", 0))
        name = b.CreateString(t["name"])
        shape = b.CreateNumpyVector(np.array(t["shape"], np.int32))
        fields: dict[str, Any] = {"Shape": shape, "Type": t["type"], "Buffer": t["buffer"], "Name": name}
        if t.get("signature") is not None:
            fields["ShapeSignature"] = b.CreateNumpyVector(np.array(t["signature"], np.int32))
        if quant is not None:
            fields["Quantization"] = quant
        return _table(b, "Tensor", **fields)


# -- the KWS network in float (numpy), used for calibration ------------------------------------------
def _conv(x: np.ndarray, w: np.ndarray, bias: np.ndarray, stride: int, depthwise: bool) -> np.ndarray:
    """NHWC conv with TFLite SAME padding; w is OHWI (conv) or 1HWC (depthwise); ReLU fused."""
    _, h, wd, c = x.shape
    kh, kw = w.shape[1:3]
    oh, ow = -(-h // stride), -(-wd // stride)
    ph, pw = max((oh - 1) * stride + kh - h, 0), max((ow - 1) * stride + kw - wd, 0)
    xp = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    patches = np.stack([xp[:, i : i + stride * oh : stride, j : j + stride * ow : stride, :]
                        for i in range(kh) for j in range(kw)], axis=3)  # N,OH,OW,KH*KW,C
    if depthwise:
        out = np.einsum("nhwkc,kc->nhwc", patches, w.reshape(kh * kw, c))
    else:
        out = np.einsum("nhwkc,okc->nhwo", patches, w.reshape(w.shape[0], kh * kw, c))
    return np.maximum(out + bias, 0.0)


def _activation_q(x: np.ndarray) -> dict[str, Any]:
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 1e-3)
    scale = (hi - lo) / 255.0
    return {"scale": [scale], "zero_point": [int(round(-128 - lo / scale))]}


def _weights_q(w: np.ndarray, axis: int | None) -> tuple[np.ndarray, dict[str, Any]]:
    """Symmetric int8: per channel along `axis`, or per tensor when axis is None."""
    reduce = tuple(i for i in range(w.ndim) if i != axis) if axis is not None else None
    scale = np.maximum(np.abs(w).max(axis=reduce), 1e-8) / 127.0
    shape = [1] * w.ndim
    if axis is not None:
        shape[axis] = -1
    q = np.clip(np.round(w / np.reshape(scale, shape)), -127, 127).astype(np.int8)
    return q, {"scale": np.atleast_1d(scale), "zero_point": np.zeros(np.size(scale), np.int64),
               "dim": axis or 0}


def build_kws(channels: int, blocks: int, quantized: bool, seed: int = 7) -> bytes:
    rng = np.random.default_rng(seed)
    in_q = {"scale": [0.6], "zero_point": [83]}  # MFCC features: a realistic, asymmetric input range
    x_int = rng.integers(-128, 128, size=(32, 1960))
    x = ((x_int - 83) * 0.6).reshape(32, 49, 40, 1).astype(np.float32)
    layers: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []  # kind, w, b, output
    w = rng.normal(0, np.sqrt(2 / 40), (channels, 10, 4, 1)).astype(np.float32)
    bias = rng.normal(0, 0.1, channels).astype(np.float32)
    x = _conv(x, w, bias, 2, False)
    layers.append(("conv", w, bias, x))
    for _ in range(blocks):
        w = rng.normal(0, np.sqrt(2 / 9), (1, 3, 3, channels)).astype(np.float32)
        bias = rng.normal(0, 0.1, channels).astype(np.float32)
        x = _conv(x, w, bias, 1, True)
        layers.append(("dw", w, bias, x))
        w = rng.normal(0, np.sqrt(2 / channels), (channels, 1, 1, channels)).astype(np.float32)
        bias = rng.normal(0, 0.1, channels).astype(np.float32)
        x = _conv(x, w, bias, 1, False)
        layers.append(("pw", w, bias, x))
    pooled = x.mean(axis=(1, 2))
    fc_w = rng.normal(0, 1, (12, channels)).astype(np.float32)
    fc_b = rng.normal(0, 0.1, 12).astype(np.float32)
    fc_w *= 3.0 / float((pooled @ fc_w.T).std())  # logits with std ~3: a softmax that is neither flat nor one-hot
    logits = pooled @ fc_w.T + fc_b

    g = GraphWriter()
    q = (lambda arr: _activation_q(arr)) if quantized else (lambda arr: None)
    act_type = INT8 if quantized else FLOAT32
    cur_q = in_q if quantized else None
    cur = g.tensor("input", (1, 1960), act_type, cur_q)
    inputs = [cur]
    shape4 = g.tensor("reshape_shape", (4,), INT32, data=np.array([1, 49, 40, 1]))
    nxt = g.tensor("reshape", (1, 49, 40, 1), act_type, cur_q)
    g.op("RESHAPE", [cur, shape4], [nxt], NewShape=[1, 49, 40, 1])
    cur = nxt
    for i, (kind, w, bias, out) in enumerate(layers):
        axis = 3 if kind == "dw" else 0
        out_q = q(out)
        if quantized:
            wq, w_quant = _weights_q(w, axis)
            b_scale = cur_q["scale"][0] * w_quant["scale"]
            bq = np.round(bias / b_scale).astype(np.int32)
            wt = g.tensor(f"{kind}{i}_weights", w.shape, INT8, w_quant, wq)
            bt = g.tensor(f"{kind}{i}_bias", bias.shape, INT32,
                          {"scale": b_scale, "zero_point": np.zeros(len(bias), np.int64)}, bq)
        else:
            wt = g.tensor(f"{kind}{i}_weights", w.shape, FLOAT32, None, w)
            bt = g.tensor(f"{kind}{i}_bias", bias.shape, FLOAT32, None, bias)
        nxt = g.tensor(f"{kind}{i}", (1, *out.shape[1:]), act_type, out_q)
        stride = 2 if kind == "conv" else 1
        if kind == "dw":
            g.op("DEPTHWISE_CONV_2D", [cur, wt, bt], [nxt], Padding=SAME, StrideW=1, StrideH=1,
                 DepthMultiplier=1, FusedActivationFunction=RELU, DilationWFactor=1, DilationHFactor=1)
        else:
            g.op("CONV_2D", [cur, wt, bt], [nxt], Padding=SAME, StrideW=stride, StrideH=stride,
                 FusedActivationFunction=RELU, DilationWFactor=1, DilationHFactor=1)
        cur, cur_q = nxt, out_q
    h, w_ = layers[-1][3].shape[1:3]
    pool = g.tensor("pool", (1, 1, 1, channels), act_type, cur_q)  # average pool keeps its input's qparams
    g.op("AVERAGE_POOL_2D", [cur], [pool], Padding=1, StrideW=1, StrideH=1, FilterWidth=w_, FilterHeight=h)
    flat_shape = g.tensor("flatten_shape", (2,), INT32, data=np.array([1, channels]))
    flat = g.tensor("flatten", (1, channels), act_type, cur_q)
    g.op("RESHAPE", [pool, flat_shape], [flat], NewShape=[1, channels])
    logits_q = q(logits)
    if quantized:
        fq, f_quant = _weights_q(fc_w, None)
        fb_scale = cur_q["scale"][0] * f_quant["scale"]
        fwt = g.tensor("fc_weights", fc_w.shape, INT8, f_quant, fq)
        fbt = g.tensor("fc_bias", (12,), INT32, {"scale": fb_scale, "zero_point": [0]},
                       np.round(fc_b / fb_scale[0]).astype(np.int32))
    else:
        fwt = g.tensor("fc_weights", fc_w.shape, FLOAT32, None, fc_w)
        fbt = g.tensor("fc_bias", (12,), FLOAT32, None, fc_b)
    logit_t = g.tensor("logits", (1, 12), act_type, logits_q)
    g.op("FULLY_CONNECTED", [flat, fwt, fbt], [logit_t], FusedActivationFunction=0)
    probs = g.tensor("probabilities", (1, 12), act_type,
                     {"scale": [1 / 256], "zero_point": [-128]} if quantized else None)
    g.op("SOFTMAX", [logit_t], [probs], Beta=1.0)
    kind = "int8" if quantized else "float32"
    return g.serialize(inputs, [probs], f"benchd sample: KWS {kind}, {channels} channels, {blocks} blocks")


def _pool(x: np.ndarray, size: int, op: str) -> np.ndarray:
    """size x size pooling with stride size, VALID padding (the odd row/column is dropped)."""
    n, h, w, c = x.shape
    x = x[:, : h // size * size, : w // size * size, :].reshape(n, h // size, size, w // size, size, c)
    return x.max(axis=(2, 4)) if op == "max" else x.mean(axis=(2, 4))


class _Quantizer:
    """Adds calibrated int8 layers to a GraphWriter: per-channel conv weights, per-tensor FC weights."""

    def __init__(self, g: GraphWriter, cur: int, cur_q: dict[str, Any]) -> None:
        self.g, self.cur, self.cur_q = g, cur, cur_q

    def _params(self, name: str, w: np.ndarray, bias: np.ndarray, axis: int | None) -> tuple[int, int]:
        wq, w_quant = _weights_q(w, axis)
        b_scale = self.cur_q["scale"][0] * w_quant["scale"]
        bq = np.round(bias / b_scale).astype(np.int32)
        wt = self.g.tensor(f"{name}_weights", w.shape, INT8, w_quant, wq)
        bt = self.g.tensor(f"{name}_bias", bias.shape, INT32,
                           {"scale": b_scale, "zero_point": np.zeros(np.size(b_scale), np.int64)}, bq)
        return wt, bt

    def layer(self, kind: str, name: str, out: np.ndarray, w: np.ndarray | None = None,
              bias: np.ndarray | None = None, **options: Any) -> None:
        out_q = self.cur_q if kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D") else _activation_q(out)
        inputs = [self.cur]
        if w is not None and bias is not None:
            axis = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3}.get(kind)
            inputs += list(self._params(name, w, bias, axis))
        nxt = self.g.tensor(name, (1, *out.shape[1:]), INT8, out_q)
        self.g.op(kind, inputs, [nxt], **options)
        self.cur, self.cur_q = nxt, out_q


def _kws_input(g: GraphWriter, rng: np.random.Generator) -> tuple[int, np.ndarray, dict[str, Any]]:
    """The MFCC input (1x1960 int8) reshaped to 1x49x40x1, and a float calibration batch."""
    in_q = {"scale": [0.6], "zero_point": [83]}
    x = ((rng.integers(-128, 128, size=(32, 1960)) - 83) * 0.6).reshape(32, 49, 40, 1).astype(np.float32)
    flat = g.tensor("input", (1, 1960), INT8, in_q)
    shape4 = g.tensor("reshape_shape", (4,), INT32, data=np.array([1, 49, 40, 1]))
    image = g.tensor("reshape", (1, 49, 40, 1), INT8, in_q)
    g.op("RESHAPE", [flat, shape4], [image], NewShape=[1, 49, 40, 1])
    return flat, x, in_q


def _softmax_head(q: _Quantizer, logits: np.ndarray, w: np.ndarray, bias: np.ndarray, n: int) -> int:
    q.layer("FULLY_CONNECTED", "logits", logits, w, bias, FusedActivationFunction=0)
    probs = q.g.tensor("probabilities", (1, n), INT8, {"scale": [1 / 256], "zero_point": [-128]})
    q.g.op("SOFTMAX", [q.cur], [probs], Beta=1.0)
    return probs


def _scaled_logits(features: np.ndarray, w: np.ndarray) -> np.ndarray:
    return w * (3.0 / float((features @ w.T).std()))  # logits with std ~3: neither flat nor one-hot


def build_kws_dw1(seed: int = 11) -> bytes:
    """MicroKWS-shaped, one real layer: depthwise 5x4 stride 2 (depth multiplier 4) + FC 4 + softmax."""
    rng = np.random.default_rng(seed)
    g = GraphWriter()
    flat, x, in_q = _kws_input(g, rng)
    q = _Quantizer(g, len(g.tensors) - 1, in_q)
    w = rng.normal(0, np.sqrt(2 / 20), (1, 5, 4, 4)).astype(np.float32)
    bias = rng.normal(0, 0.1, 4).astype(np.float32)
    x = _conv(x, w.transpose(3, 1, 2, 0), bias, 2, False)  # multiplier 4 on one channel = a 4-filter conv
    q.layer("DEPTHWISE_CONV_2D", "dw0", x, w, bias, Padding=SAME, StrideW=2, StrideH=2, DepthMultiplier=4,
            FusedActivationFunction=RELU, DilationWFactor=1, DilationHFactor=1)
    features = x.reshape(32, -1)
    shape2 = g.tensor("flatten_shape", (2,), INT32, data=np.array([1, features.shape[1]]))
    nxt = g.tensor("flatten", (1, features.shape[1]), INT8, q.cur_q)
    g.op("RESHAPE", [q.cur, shape2], [nxt], NewShape=[1, features.shape[1]])
    q.cur = nxt
    fc_w = _scaled_logits(features, rng.normal(0, 1, (4, features.shape[1])).astype(np.float32))
    fc_b = rng.normal(0, 0.1, 4).astype(np.float32)
    probs = _softmax_head(q, features @ fc_w.T + fc_b, fc_w, fc_b, 4)
    return g.serialize([flat], [probs], "benchd sample: KWS int8, depthwise 5x4/2 x4 + FC 4 (48 K MACs)")


def build_kws_cnn3(seed: int = 13) -> bytes:
    """MicroKWS-shaped CNN: conv 8x8x16 -> max pool -> conv 6x6x12 -> avg pool -> conv 4x4x16 -> avg pool
    -> FC 32 -> FC 16 -> FC 10 -> softmax (5.7 M MACs)."""
    rng = np.random.default_rng(seed)
    g = GraphWriter()
    flat, x, in_q = _kws_input(g, rng)
    q = _Quantizer(g, len(g.tensors) - 1, in_q)
    conv = {"Padding": SAME, "StrideW": 1, "StrideH": 1, "FusedActivationFunction": RELU, "DilationWFactor": 1,
            "DilationHFactor": 1}
    pool = {"Padding": VALID, "StrideW": 2, "StrideH": 2, "FilterWidth": 2, "FilterHeight": 2}
    for i, (k, c, kind) in enumerate([(8, 16, "max"), (6, 12, "avg"), (4, 16, "avg")]):
        w = rng.normal(0, np.sqrt(2 / (k * k * x.shape[3])), (c, k, k, x.shape[3])).astype(np.float32)
        bias = rng.normal(0, 0.1, c).astype(np.float32)
        x = _conv(x, w, bias, 1, False)
        q.layer("CONV_2D", f"conv{i}", x, w, bias, **conv)
        x = _pool(x, 2, kind)
        q.layer("MAX_POOL_2D" if kind == "max" else "AVERAGE_POOL_2D", f"pool{i}", x, **pool)
    features = x.reshape(32, -1)
    shape2 = g.tensor("flatten_shape", (2,), INT32, data=np.array([1, features.shape[1]]))
    nxt = g.tensor("flatten", (1, features.shape[1]), INT8, q.cur_q)
    g.op("RESHAPE", [q.cur, shape2], [nxt], NewShape=[1, features.shape[1]])
    q.cur = nxt
    for units in (32, 16):
        w = rng.normal(0, np.sqrt(2 / features.shape[1]), (units, features.shape[1])).astype(np.float32)
        bias = rng.normal(0, 0.1, units).astype(np.float32)
        features = np.maximum(features @ w.T + bias, 0.0)
        q.layer("FULLY_CONNECTED", f"fc{units}", features, w, bias, FusedActivationFunction=RELU)
    fc_w = _scaled_logits(features, rng.normal(0, 1, (10, features.shape[1])).astype(np.float32))
    fc_b = rng.normal(0, 0.1, 10).astype(np.float32)
    probs = _softmax_head(q, features @ fc_w.T + fc_b, fc_w, fc_b, 10)
    return g.serialize([flat], [probs], "benchd sample: KWS int8 CNN, 3 conv + 3 FC (5.7 M MACs)")


def build_unsupported() -> bytes:
    """A valid int8 model whose PAD TVM 0.27's TFLite frontend refuses (no QDQ lowering for quantized PAD)."""
    g = GraphWriter()
    q = {"scale": [0.05], "zero_point": [-3]}
    x = g.tensor("input", (1, 16), INT8, q)
    pads = g.tensor("paddings", (2, 2), INT32, data=np.array([[0, 0], [2, 2]]))
    y = g.tensor("padded", (1, 20), INT8, q)
    g.op("PAD", [x, pads], [y])
    return g.serialize([x], [y], "benchd sample: int8 PAD (not importable by TVM 0.27)")


def build_outside_c() -> bytes:
    """A valid int8 model that TVM 0.27 compiles but the reference C backend does not: ABS is outside its
    operator set, so the microcontroller half is skipped while the host half runs."""
    g = GraphWriter()
    x = g.tensor("input", (1, 16), INT8, {"scale": [0.05], "zero_point": [-3]})
    y = g.tensor("magnitude", (1, 16), INT8, {"scale": [0.03], "zero_point": [-128]})
    g.op("ABS", [x], [y])
    return g.serialize([x], [y], "benchd sample: int8 ABS (outside the reference C backend)")


def write_samples(out_dir: Path) -> dict[str, Path]:
    """Write every sample into out_dir; returns name -> path (deterministic bytes on every call)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    xs = build_kws(channels=8, blocks=1, quantized=True)
    contents = {
        "kws_xs.tflite": xs,
        "kws_s.tflite": build_kws(channels=24, blocks=2, quantized=True),
        "kws_float.tflite": build_kws(channels=8, blocks=1, quantized=False),
        "kws_dw1.tflite": build_kws_dw1(),
        "kws_cnn3.tflite": build_kws_cnn3(),
        "unsupported_op.tflite": build_unsupported(),
        "outside_c.tflite": build_outside_c(),
        "empty.tflite": b"",
        "truncated.tflite": xs[: len(xs) // 2],
        "random.tflite": np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
    }
    paths = {}
    for name, data in contents.items():
        path = out_dir / name
        path.write_bytes(data)
        paths[name] = path
    return paths


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Write benchd's sample int8 .tflite models (no downloads).")
    parser.add_argument("out_dir", nargs="?", type=Path, default=Path(__file__).resolve().parent / "samples",
                        metavar="OUT_DIR", help="folder to write into, created if needed (default: data/samples/)")
    args = parser.parse_args(argv)  # --help and bad options exit here, before anything is written
    for path in write_samples(args.out_dir).values():
        print(f"{path}  {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
