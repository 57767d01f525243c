"""Read an int8 .tflite flatbuffer into plain records (`Graph`, `TensorInfo`, `OperatorInfo`).

Only the `tflite` flatbuffer bindings are used: no interpreter, no TVM. The model-level reasons the
backend refuses a file (several subgraphs, a dynamic shape, a float or uint8 model) are raised here as
CodegenError; whether each operator is supported is the lowering's business.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from daemon.errors import CodegenError

DTYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16", 9: "int8",
          10: "float64"}
NUMPY = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8, "int64": np.int64, "int16": np.int16,
         "int8": np.int8, "float64": np.float64, "float16": np.float16}
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
PADDINGS = {0: "SAME", 1: "VALID"}

# BuiltinOptions table per operator, and the option fields the lowering reads from it.
OPTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "CONV_2D": ("Conv2DOptions", ("Padding", "StrideW", "StrideH", "FusedActivationFunction",
                                  "DilationWFactor", "DilationHFactor")),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2DOptions", ("Padding", "StrideW", "StrideH", "DepthMultiplier",
                                                     "FusedActivationFunction", "DilationWFactor",
                                                     "DilationHFactor")),
    "AVERAGE_POOL_2D": ("Pool2DOptions", ("Padding", "StrideW", "StrideH", "FilterWidth", "FilterHeight",
                                          "FusedActivationFunction")),
    "MAX_POOL_2D": ("Pool2DOptions", ("Padding", "StrideW", "StrideH", "FilterWidth", "FilterHeight",
                                      "FusedActivationFunction")),
    "FULLY_CONNECTED": ("FullyConnectedOptions", ("FusedActivationFunction", "WeightsFormat", "KeepNumDims",
                                                  "QuantizedBiasType")),
    "SOFTMAX": ("SoftmaxOptions", ("Beta",)),
    "ADD": ("AddOptions", ("FusedActivationFunction",)),
    "MUL": ("MulOptions", ("FusedActivationFunction",)),
    "CONCATENATION": ("ConcatenationOptions", ("Axis", "FusedActivationFunction")),
    "SPLIT": ("SplitOptions", ("NumSplits",)),
    "SPLIT_V": ("SplitVOptions", ("NumSplits",)),
    "PACK": ("PackOptions", ("ValuesCount", "Axis")),
    "UNPACK": ("UnpackOptions", ("Num", "Axis")),
    "STRIDED_SLICE": ("StridedSliceOptions", ("BeginMask", "EndMask", "EllipsisMask", "NewAxisMask",
                                              "ShrinkAxisMask", "Offset")),
    "MEAN": ("ReducerOptions", ("KeepDims",)),
    "SUM": ("ReducerOptions", ("KeepDims",)),
    "SQUEEZE": ("SqueezeOptions", ("SqueezeDimsAsNumpy",)),
    "RESIZE_NEAREST_NEIGHBOR": ("ResizeNearestNeighborOptions", ("AlignCorners", "HalfPixelCenters")),
    "BATCH_MATMUL": ("BatchMatMulOptions", ("AdjX", "AdjY")),
    "PAD": ("PadOptions", ()),
    "PADV2": ("PadV2Options", ()),
    "TRANSPOSE": ("TransposeOptions", ()),
    "SUB": ("SubOptions", ("FusedActivationFunction",)),
    "LEAKY_RELU": ("LeakyReluOptions", ("Alpha",)),
}
OPTIONS.update({  # the stateful operators (daemon/codegen/recurrent.py)
    "SVDF": ("SVDFOptions", ("Rank", "FusedActivationFunction", "AsymmetricQuantizeInputs")),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": ("UnidirectionalSequenceLSTMOptions", (
        "FusedActivationFunction", "CellClip", "ProjClip", "TimeMajor", "AsymmetricQuantizeInputs",
        "DiagonalRecurrentTensors")),
})


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scales: tuple[float, ...]  # float32 values, exactly as stored
    zero_points: tuple[int, ...]
    quant_dim: int
    data: bytes | None  # the constant's bytes, None for activations
    is_variable: bool = False  # state an operator keeps between invokes (SVDF, LSTM)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def itemsize(self) -> int:
        return np.dtype(NUMPY.get(self.dtype, np.int8)).itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.itemsize

    @property
    def scale(self) -> float:
        return self.scales[0] if self.scales else 0.0

    @property
    def zero_point(self) -> int:
        return self.zero_points[0] if self.zero_points else 0

    def array(self) -> np.ndarray:
        if self.data is None:
            raise CodegenError(f"tensor {self.name!r} has no constant data")
        return np.frombuffer(self.data, dtype=NUMPY[self.dtype]).reshape(self.shape)


@dataclass(frozen=True)
class OperatorInfo:
    index: int
    opcode: str
    inputs: tuple[int, ...]  # -1 where an optional input is absent
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)
    intermediates: tuple[int, ...] = ()  # tensors whose quantization the integer LSTM reads

    def where(self) -> str:
        return f"operator {self.index} ({self.opcode})"


@dataclass(frozen=True)
class Graph:
    tensors: tuple[TensorInfo, ...]
    operators: tuple[OperatorInfo, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


def _enum_names(module: str) -> dict[int, str]:
    cls = getattr(importlib.import_module(f"tflite.{module}"), module)
    return {v: k for k, v in vars(cls).items() if k.isupper() and isinstance(v, int)}


def _options(op: Any, opcode: str) -> dict[str, Any]:
    if opcode not in OPTIONS or op.BuiltinOptions() is None:
        return {}
    kind, names = OPTIONS[opcode]
    table = op.BuiltinOptions()
    opts = getattr(importlib.import_module(f"tflite.{kind}"), kind)()
    opts.Init(table.Bytes, table.Pos)
    values: dict[str, Any] = {name: getattr(opts, name)() for name in names}
    if "FusedActivationFunction" in values:
        values["FusedActivationFunction"] = ACTIVATIONS.get(values["FusedActivationFunction"], "UNKNOWN")
    if "Padding" in values:
        values["Padding"] = PADDINGS.get(values["Padding"], "UNKNOWN")
    return values


def _tensor(model: Any, subgraph: Any, index: int) -> TensorInfo:
    t = subgraph.Tensors(index)
    name = t.Name().decode("utf-8", "replace") if t.Name() else f"tensor{index}"
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    if t.ShapeSignatureLength():
        _check_signature(index, name, shape, [int(d) for d in t.ShapeSignatureAsNumpy()])
    q = t.Quantization()
    scales = tuple(float(s) for s in q.ScaleAsNumpy()) if q is not None and q.ScaleLength() else ()
    zeros = tuple(int(z) for z in q.ZeroPointAsNumpy()) if q is not None and q.ZeroPointLength() else ()
    data = None
    if t.Buffer() < model.BuffersLength():
        buffer = model.Buffers(t.Buffer())
        if buffer.DataLength():
            data = buffer.DataAsNumpy().tobytes()
    return TensorInfo(index=index, name=name, shape=shape, dtype=DTYPES.get(t.Type(), f"type{t.Type()}"),
                      scales=scales, zero_points=zeros, quant_dim=q.QuantizedDimension() if q else 0, data=data,
                      is_variable=bool(t.IsVariable()))


def _check_signature(index: int, name: str, shape: tuple[int, ...], signature: list[int]) -> None:
    """Batch 1 as TFLite Micro takes it: the converter writes -1 in dimension 0 of every tensor's signature
    while `shape` says 1. Any other unknown dimension cannot be planned at compile time."""
    unknown = [d for d, size in enumerate(signature) if size < 0 and not (d == 0 and shape[:1] == (1,))]
    if unknown:
        raise CodegenError(
            f"tensor {index} ({name!r}) has a dynamic shape {signature} (-1 = unknown until run time) in dimension "
            f"{', '.join(map(str, unknown))}: the reference C backend plans memory at compile time; re-export the "
            "model with a fixed input shape (batch 1 may stay -1)")


def read_model(data: bytes) -> Graph:
    """Parse a .tflite flatbuffer; CodegenError for files the backend cannot take, with the reason."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise CodegenError("not a TFLite flatbuffer (no 'TFL3' identifier at byte 4)")
    from tflite.Model import Model

    try:
        model = Model.GetRootAsModel(data, 0)
        return _read(model)
    except CodegenError:
        raise
    except Exception as exc:  # the flatbuffer reader raises struct.error, IndexError, ...
        raise CodegenError(f"the flatbuffer cannot be read ({type(exc).__name__}: {exc}): truncated or corrupt"
                           ) from exc


def _read(model: Any) -> Graph:
    if model.SubgraphsLength() != 1:
        raise CodegenError(
            f"the model has {model.SubgraphsLength()} subgraphs; the reference C backend compiles models with "
            "exactly one (no control flow such as WHILE/IF/CALL_ONCE)")
    subgraph = model.Subgraphs(0)
    tensors = tuple(_tensor(model, subgraph, i) for i in range(subgraph.TensorsLength()))
    ops_by_code = _enum_names("BuiltinOperator")
    operators = []
    for k in range(subgraph.OperatorsLength()):
        op = subgraph.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        opcode = ops_by_code.get(max(code.DeprecatedBuiltinCode(), code.BuiltinCode()), "UNKNOWN")
        if opcode == "CUSTOM":
            opcode = "CUSTOM:" + (code.CustomCode() or b"?").decode("utf-8", "replace")
        operators.append(OperatorInfo(
            index=k, opcode=opcode,
            inputs=tuple(int(i) for i in op.InputsAsNumpy()) if op.InputsLength() else (),
            outputs=tuple(int(i) for i in op.OutputsAsNumpy()) if op.OutputsLength() else (),
            options=_options(op, opcode),
            intermediates=tuple(int(i) for i in op.IntermediatesAsNumpy()) if op.IntermediatesLength() else ()))
    graph = Graph(tensors=tensors, operators=tuple(operators),
                  inputs=tuple(int(i) for i in subgraph.InputsAsNumpy()),
                  outputs=tuple(int(i) for i in subgraph.OutputsAsNumpy()))
    _check_types(graph)
    return graph


def _edge_float(graph: Graph, index: int) -> bool:
    """float32 at the model's edges only: an input read by QUANTIZE alone, or an output written by DEQUANTIZE and
    read by nothing (the way TFLite's converter writes an int8 model with float I/O)."""
    readers = [op.opcode for op in graph.operators if index in op.inputs]
    writers = [op.opcode for op in graph.operators if index in op.outputs]
    if index in graph.inputs and not writers and readers and set(readers) == {"QUANTIZE"}:
        return index not in graph.outputs
    return index in graph.outputs and writers == ["DEQUANTIZE"] and not readers


def _check_types(graph: Graph) -> None:
    """A float or uint8 model is refused as a whole, before any operator is looked at. Activations are int8 or
    int16 (TFLite's 16x8: zero point 0); float32 only where a float-I/O model quantizes/dequantizes at its edges."""
    activations = {i for op in graph.operators for i in (*op.inputs, *op.outputs)
                   if i >= 0 and graph.tensors[i].data is None}
    activations |= set(graph.inputs) | set(graph.outputs)
    types = {graph.tensors[i].dtype for i in activations}
    inner_float = any(graph.tensors[i].dtype == "float32" and not _edge_float(graph, i) for i in activations)
    if inner_float or types & {"float16", "float64"}:
        raise CodegenError(
            "this is a float model (float activations inside the graph): the reference C backend compiles "
            "integer-quantized models (int8, or int16 activations), float32 only at model inputs into QUANTIZE and "
            "outputs from DEQUANTIZE; TVM's host path covers float models, or quantize it with the TFLite converter "
            "(post-training integer quantization)")
    if "uint8" in types:
        raise CodegenError(
            "this is a uint8 (legacy asymmetric) quantized model: the reference C backend compiles int8 models; "
            "re-quantize it with the current TFLite converter (int8, inference_input_type=tf.int8)")
    for i in sorted(activations):
        t = graph.tensors[i]
        if t.dtype == "float32":
            continue
        if t.dtype not in ("int8", "int16"):
            raise CodegenError(f"tensor {i} ({t.name!r}) is {t.dtype}: the reference C backend needs int8 (or int16) "
                               "activations throughout")
        if not t.scales:
            raise CodegenError(f"tensor {i} ({t.name!r}) is {t.dtype} without quantization parameters")
        if t.dtype == "int16" and any(z != 0 for z in t.zero_points):
            raise CodegenError(f"tensor {i} ({t.name!r}) is int16 with zero point {t.zero_point}: TFLite's int16 "
                               "activations are symmetric (zero point 0)")
