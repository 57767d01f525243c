"""Small generated 16x8 models (int16 activations, int8 weights) and the stateful SVDF / LSTM, one operator each.

Built with data/make_samples.py's GraphWriter, extended here with variable tensors (`is_variable`, the state
TFLite keeps between invokes) and operator intermediates (the integer LSTM reads its gate scales from them).
Scales put outputs across most of their range; int16 tensors are symmetric (zero point 0) as TFLite requires.
"""

from __future__ import annotations

from typing import Any

import flatbuffers
import numpy as np
from model_tools import load_make_samples

MS = load_make_samples()
INT8, INT16, INT32, INT64 = MS.INT8, 7, MS.INT32, 4
MS.NP_TYPES.update({INT16: np.int16, INT64: np.int64})
MS.OPS.update({"SVDF": (27, 6), "UNIDIRECTIONAL_SEQUENCE_LSTM": (44, 71)})
MS.OPTION_TABLES.update({6: "SVDFOptions", 71: "UnidirectionalSequenceLSTMOptions"})
TYPES = {"int8": INT8, "int16": INT16}
ACT = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3, "TANH": 4}


class Writer(MS.GraphWriter):  # type: ignore[name-defined,misc]
    """GraphWriter with variable tensors and operator intermediates."""

    def __init__(self) -> None:
        super().__init__()
        self.intermediates: dict[int, list[int]] = {}  # operator position -> tensor indices

    def variable(self, name: str, shape: tuple[int, ...], ttype: int, quant: dict[str, Any]) -> int:
        index = int(self.tensor(name, shape, ttype, quant, signature=shape))
        self.tensors[index]["variable"] = True
        return index

    def op_with(self, name: str, inputs: list[int], outputs: list[int], intermediates: list[int],
                **options: Any) -> None:
        self.intermediates[len(self.ops)] = intermediates
        self.op(name, inputs, outputs, **options)

    def serialize(self, inputs: list[int], outputs: list[int], description: str) -> bytes:
        b = flatbuffers.Builder(1024)
        names = sorted({op[0] for op in self.ops}, key=lambda n: MS.OPS[n][0])
        codes = [MS._table(b, "OperatorCode", DeprecatedBuiltinCode=min(MS.OPS[n][0], 127),
                           BuiltinCode=MS.OPS[n][0], Version=1) for n in names]
        tensors = [self._tensor(b, t) for t in self.tensors]
        ops = []
        for k, (name, ins, outs, options) in enumerate(self.ops):
            opts = MS._table(b, MS.OPTION_TABLES[MS.OPS[name][1]], **options)
            fields: dict[str, Any] = {
                "OpcodeIndex": names.index(name), "Inputs": b.CreateNumpyVector(np.array(ins, np.int32)),
                "Outputs": b.CreateNumpyVector(np.array(outs, np.int32)), "BuiltinOptionsType": MS.OPS[name][1],
                "BuiltinOptions": opts}
            if k in self.intermediates:
                fields["Intermediates"] = b.CreateNumpyVector(np.array(self.intermediates[k], np.int32))
            ops.append(MS._table(b, "Operator", **fields))
        sg_name = b.CreateString("main")
        subgraph = MS._table(b, "SubGraph", Tensors=MS._offsets(b, tensors),
                             Inputs=b.CreateNumpyVector(np.array(inputs, np.int32)),
                             Outputs=b.CreateNumpyVector(np.array(outputs, np.int32)),
                             Operators=MS._offsets(b, ops), Name=sg_name)
        buffers = [MS._table(b, "Buffer", Data=MS._blob(b, raw)) if raw else MS._table(b, "Buffer")
                   for raw in self.buffers]
        desc = b.CreateString(description)
        model = MS._table(b, "Model", Version=3, OperatorCodes=MS._offsets(b, codes),
                          Subgraphs=MS._offsets(b, [subgraph]), Description=desc, Buffers=MS._offsets(b, buffers))
        b.Finish(model, file_identifier=b"TFL3")
        return bytes(b.Output())

    @staticmethod
    def _tensor(b: flatbuffers.Builder, t: dict[str, Any]) -> int:
        quant = None
        if t["quant"] is not None:
            q = t["quant"]
            quant = MS._table(b, "QuantizationParameters",
                              Scale=b.CreateNumpyVector(np.asarray(q["scale"], np.float32).ravel()),
                              ZeroPoint=b.CreateNumpyVector(np.asarray(q["zero_point"], np.int64).ravel()),
                              QuantizedDimension=q.get("dim", 0))
        name = b.CreateString(t["name"])
        shape = b.CreateNumpyVector(np.array(t["shape"], np.int32))
        fields: dict[str, Any] = {"Shape": shape, "Type": t["type"], "Buffer": t["buffer"], "Name": name}
        if t.get("signature") is not None:
            fields["ShapeSignature"] = b.CreateNumpyVector(np.array(t["signature"], np.int32))
        if quant is not None:
            fields["Quantization"] = quant
        if t.get("variable"):
            fields["IsVariable"] = True
        return int(MS._table(b, "Tensor", **fields))


def sym(scale: float) -> dict[str, Any]:
    return {"scale": [scale], "zero_point": [0]}


def weights(rng: np.random.Generator, shape: tuple[int, ...], per_channel: bool, lo: float = 0.002,
            hi: float = 0.02) -> tuple[np.ndarray, dict[str, Any], np.ndarray]:
    w = rng.integers(-127, 128, shape).astype(np.int8)
    n = shape[0] if per_channel else 1
    scales = rng.uniform(lo, hi, n).astype(np.float32)
    return w, {"scale": scales, "zero_point": np.zeros(n, np.int64), "dim": 0}, scales


def fully_connected16(batches: int, depth: int, units: int, act: str = "NONE", per_channel: bool = False,
                      bias: str = "int64", in_dtype: str = "int16", out_dtype: str = "int16",
                      out_scale_mul: float = 1.0, seed: int = 0) -> bytes:
    """bias: "int64" (what the converter writes for 16x8, options unset), "int32" (QuantizedBiasType INT32),
    "none", or "int64_as_int32" (an int64 bias the options call int32: TFLite refuses it)."""
    rng = np.random.default_rng(seed)
    g = Writer()
    in_scale = float(rng.uniform(1e-4, 5e-4))
    shape = (batches, depth)
    x = g.tensor("input", shape, TYPES[in_dtype], sym(in_scale))
    wq, w_quant, scales = weights(rng, (units, depth), per_channel)
    wt = g.tensor("weights", (units, depth), INT8, w_quant, wq)
    options: dict[str, Any] = {"FusedActivationFunction": ACT[act]}
    bt = -1
    if bias != "none":
        b_scale = np.float32(in_scale) * np.resize(scales, units)
        data = rng.integers(-3_000_000, 3_000_000, units)
        kind = INT32 if bias == "int32" else INT64
        bt = g.tensor("bias", (units,), kind, {"scale": b_scale, "zero_point": np.zeros(units, np.int64)}, data)
        if bias in ("int32", "int64_as_int32"):
            options["QuantizedBiasType"] = INT32
    out_scale = in_scale * float(np.mean(scales)) * 127 * np.sqrt(depth) * 0.6 * out_scale_mul
    y = g.tensor("output", (batches, units), TYPES[out_dtype], sym(out_scale))
    g.op("FULLY_CONNECTED", [x, wt, bt], [y], **options)
    return g.serialize([x], [y], "codegen int16 test")


def softmax16(shape: tuple[int, ...], in_scale: float, beta: float = 1.0) -> bytes:
    g = Writer()
    x = g.tensor("input", shape, INT16, sym(in_scale))
    y = g.tensor("output", shape, INT16, sym(1 / 32768))
    g.op("SOFTMAX", [x], [y], Beta=beta)
    return g.serialize([x], [y], "codegen int16 test")


def svdf(batches: int, n_input: int, n_filter: int, n_memory: int, rank: int, bias: bool = True,
         act: str = "RELU", variable: bool = True, in_dtype: str = "int8", seed: int = 0) -> bytes:
    """The full-integer SVDF the converter writes (TFLite Micro's micro_speech): int8 input and feature weights,
    int16 time weights and state (a variable tensor), int32 bias, int8 output."""
    rng = np.random.default_rng(seed)
    g = Writer()
    in_q = {"scale": [float(rng.uniform(0.01, 0.05))], "zero_point": [int(rng.integers(-20, 21))]}
    if in_dtype == "int16":
        in_q["zero_point"] = [0]
    x = g.tensor("input", (batches, n_input), TYPES[in_dtype], in_q)
    wf_scale = float(rng.uniform(0.002, 0.01))
    wf = g.tensor("weights_feature", (n_filter, n_input), INT8, sym(wf_scale),
                  rng.integers(-127, 128, (n_filter, n_input)))
    wt_scale = float(rng.uniform(1e-5, 5e-5))
    wt = g.tensor("weights_time", (n_filter, n_memory), INT16, sym(wt_scale),
                  rng.integers(-32767, 32768, (n_filter, n_memory)))
    dot_std = 127 / np.sqrt(3) * 74 * np.sqrt(n_input)
    state_scale = in_q["scale"][0] * wf_scale * dot_std / 8000
    n_unit = n_filter // rank
    bt = -1
    if bias:
        bt = g.tensor("bias", (n_unit,), INT32, sym(state_scale * wt_scale),
                      rng.integers(-2_000_000, 2_000_000, n_unit))
    shape = (batches, n_memory * n_filter)
    state = (g.variable("state", shape, INT16, sym(state_scale)) if variable
             else g.tensor("state", shape, INT16, sym(state_scale), signature=shape))
    acc_std = 18900 * 5000 * np.sqrt(rank * n_memory)
    out_q = {"scale": [state_scale * wt_scale * acc_std / 50], "zero_point": [int(rng.integers(-20, 21))]}
    y = g.tensor("output", (batches, n_unit), INT8, out_q)
    g.op("SVDF", [x, wf, wt, bt, state], [y], Rank=rank, FusedActivationFunction=ACT[act])
    return g.serialize([x], [y], "codegen svdf test")


def lstm(batches: int, steps: int, n_input: int, n_cell: int, n_output: int | None = None, cifg: bool = False,
         peephole: bool = False, cell_clip: float = 0.0, proj_clip: float = 0.0, time_major: bool = False,
         layer_norm: bool = False, cell_scale: float = 2.0**-11, diagonal: bool = False, in_dtype: str = "int8",
         per_channel: bool = False, seed: int = 0) -> bytes:
    """The converter's full-integer (8x8_16) UNIDIRECTIONAL_SEQUENCE_LSTM: int8 input, weights, output and output
    state, int32 biases, int16 cell state, 5 intermediates (4 gate scales, then the hidden state's int8 scale).
    n_output other than n_cell adds a projection."""
    rng = np.random.default_rng(seed)
    g = Writer()
    n_output = n_output or n_cell
    shape = (steps, batches, n_input) if time_major else (batches, steps, n_input)
    x_q = {"scale": [float(rng.uniform(0.01, 0.05))], "zero_point": [int(rng.integers(-20, 21))]}
    if in_dtype == "int16":
        x_q["zero_point"] = [0]
    x = g.tensor("input", shape, TYPES[in_dtype], x_q, signature=shape)
    hid_scale = float(rng.uniform(0.8, 1.0)) / 128
    hid_zp = int(rng.integers(-5, 6))
    h_q = {"scale": [hid_scale], "zero_point": [hid_zp]}

    def w(name: str, rows: int, cols: int, in_scale: float) -> int:
        scale = 1.5 / (74 * 73 * np.sqrt(cols) * in_scale)
        quant = ({"scale": [scale] * rows, "zero_point": [0] * rows, "dim": 0} if per_channel else sym(scale))
        return int(g.tensor(name, (rows, cols), INT8, quant, rng.integers(-127, 128, (rows, cols))))

    def bias(name: str, rows: int) -> int:
        return int(g.tensor(name, (rows,), INT32, sym(x_q["scale"][0] * 1e-3), rng.integers(-50000, 50000, rows)))

    ins = [x]
    gates = ("input", "forget", "cell", "output")
    ins += [-1 if cifg and k == "input" else w(f"input_to_{k}", n_cell, n_input, x_q["scale"][0]) for k in gates]
    ins += [-1 if cifg and k == "input" else w(f"recurrent_to_{k}", n_cell, n_output, hid_scale) for k in gates]
    for k in ("input", "forget", "output"):
        ins.append(g.tensor(f"cell_to_{k}", (n_cell,), INT16, sym(float(rng.uniform(1e-5, 4e-5))),
                            rng.integers(-32767, 32768, n_cell)) if peephole and not (cifg and k == "input") else -1)
    ins += [-1 if cifg and k == "input" else bias(f"{k}_bias", n_cell) for k in gates]
    if n_output != n_cell:
        ins.append(w("projection", n_output, n_cell, hid_scale))
        ins.append(bias("projection_bias", n_output))
    else:
        ins += [-1, -1]
    ins.append(g.variable("output_state", (batches, n_output), INT8, h_q))
    ins.append(g.variable("cell_state", (batches, n_cell), INT16, sym(cell_scale)))
    for k in gates:
        ins.append(g.tensor(f"{k}_norm", (n_cell,), INT16, sym(1e-4), rng.integers(10000, 30000, n_cell))
                   if layer_norm and not (cifg and k == "input") else -1)
    # with layer normalization the kernel reads the gates' scales from these (calibrated), else Q3.12 is fixed
    inter = [g.tensor(f"{k}_intermediate", (), INT16,
                      sym(2.0**-12 * float(rng.uniform(0.5, 2.0)) if layer_norm else 2.0**-12)) for k in gates]
    inter.append(g.tensor("hidden", (), INT8, {"scale": [hid_scale], "zero_point": [hid_zp]}))
    out_shape = (*shape[:2], n_output)
    y = g.tensor("output", out_shape, INT8, h_q, signature=out_shape)
    g.op_with("UNIDIRECTIONAL_SEQUENCE_LSTM", ins, [y], inter, FusedActivationFunction=ACT["TANH"],
              CellClip=cell_clip, ProjClip=proj_clip, TimeMajor=time_major, DiagonalRecurrentTensors=diagonal)
    return g.serialize([x], [y], "codegen lstm test")
