"""`benchd/inspect`: what a dropped .tflite file is, read with the `tflite` flatbuffer package only.

`describe_model` is pure and light (no TVM, no interpreter), so intake and the tvmc front end can call it
too; it turns every way a file can be broken into a ModelError that says what to do about it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from daemon.actions.base import ActionContext, ActionError
from daemon.errors import ModelError

_QUANTIZED_TYPES = {"int8", "uint8", "int16"}


def _enum_names(cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if k.isupper() and isinstance(v, int)}


def _tensor_info(subgraph: Any, index: int, dtypes: dict[int, str]) -> dict[str, Any]:
    tensor = subgraph.Tensors(index)
    q = tensor.Quantization()
    scales = [float(s) for s in q.ScaleAsNumpy()] if q is not None and q.ScaleLength() else []
    zeros = [int(z) for z in q.ZeroPointAsNumpy()] if q is not None and q.ZeroPointLength() else []
    return {
        "name": tensor.Name().decode("utf-8", "replace"),
        "shape": [int(d) for d in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else [],
        "dtype": dtypes.get(tensor.Type(), f"type{tensor.Type()}").lower(),
        # I/O tensors are quantized per tensor; keep a list only if a converter wrote several.
        "scale": (scales[0] if len(scales) == 1 else scales) if scales else None,
        "zero_point": (zeros[0] if len(zeros) == 1 else zeros) if scales else None,
    }


def _sniff(data: bytes) -> str:
    """A hint for the most common wrong files dropped into the inbox."""
    if data[:2] == b"PK":
        return " It looks like a zip archive (a Keras .keras file or a zipped SavedModel?)."
    if data[:4] == b"\x89HDF":
        return " It looks like an HDF5 file (a Keras .h5 model?)."
    if data[:1] == b"\x08":
        return " It may be an ONNX or other protobuf model."
    return ""


def describe_model(path: Path, max_bytes: int | None = None) -> dict[str, Any]:
    """Name, hash, size, inputs, outputs and operators of a .tflite file; ModelError if it is unusable."""
    if not path.is_file():
        raise ModelError(f"model file {path} not found (or not a regular file)")
    size = path.stat().st_size
    name = path.name
    if size == 0:
        raise ModelError(f"{name} is empty (0 bytes): the copy into the inbox probably failed; copy it again")
    if max_bytes is not None and size > max_bytes:
        raise ModelError(
            f"{name} is {size / 1e6:.1f} MB, over the limit of {max_bytes / 1e6:.1f} MB: "
            "raise max_model_mb in benchd.toml if this model is meant for the bench"
        )
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(
            f"{name} is not a TFLite flatbuffer (no 'TFL3' identifier at byte 4).{_sniff(data)} "
            "Convert the model with the TFLite converter (full-integer int8 for the boards) and drop the .tflite"
        )
    # Imported here so that `import daemon.actions.inspect` stays cheap for the daemon.
    from tflite.BuiltinOperator import BuiltinOperator
    from tflite.Model import Model
    from tflite.TensorType import TensorType

    try:
        info = _read(Model.GetRootAsModel(data, 0), _enum_names(TensorType), _enum_names(BuiltinOperator))
    except ModelError as exc:
        raise ModelError(f"{name}: {exc}") from exc
    except Exception as exc:  # the flatbuffer reader raises struct.error, IndexError, UnicodeError, ...
        raise ModelError(
            f"{name} is truncated or corrupt ({size} bytes; the flatbuffer cannot be read: "
            f"{type(exc).__name__}: {exc}); copy the file again, or re-export it"
        ) from exc
    return {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": size, **info}


def _read(model: Any, dtypes: dict[int, str], ops: dict[int, str]) -> dict[str, Any]:
    if model.SubgraphsLength() == 0:
        raise ModelError("the model has no subgraph, so there is nothing to run; re-export it")
    subgraph = model.Subgraphs(0)
    n_tensors, n_codes = subgraph.TensorsLength(), model.OperatorCodesLength()
    io = [int(i) for i in subgraph.InputsAsNumpy()] + [int(i) for i in subgraph.OutputsAsNumpy()]
    if not subgraph.InputsLength() or not subgraph.OutputsLength() or any(i >= n_tensors for i in io):
        raise ModelError("the subgraph's inputs/outputs are missing or point past its tensors; re-export it")
    operators = []
    for k in range(subgraph.OperatorsLength()):
        op = subgraph.Operators(k)
        if op.OpcodeIndex() >= n_codes:
            raise ModelError(f"operator {k} uses opcode {op.OpcodeIndex()} of {n_codes}: the file is corrupt")
        code = model.OperatorCodes(op.OpcodeIndex())
        # Since TFLite 2.4 a code lives in one of two fields; the reader takes the larger, as TFLite does.
        opcode = max(code.DeprecatedBuiltinCode(), code.BuiltinCode())
        op_name = ops.get(opcode, f"UNKNOWN_{opcode}")
        if op_name == "CUSTOM":
            op_name = "CUSTOM:" + (code.CustomCode() or b"?").decode("utf-8", "replace")
        operators.append(op_name)
    tensors = [_tensor_info(subgraph, i, dtypes) for i in range(n_tensors)]
    quantized = any(t["dtype"] in _QUANTIZED_TYPES and t["scale"] is not None for t in tensors)
    return {
        "inputs": [tensors[int(i)] for i in subgraph.InputsAsNumpy()],
        "outputs": [tensors[int(i)] for i in subgraph.OutputsAsNumpy()],
        "operators": operators,
        "quantized": quantized,
    }


def _summary(info: dict[str, Any]) -> str:
    rows = ["| tensor | name | shape | dtype | scale | zero point |", "|---|---|---|---|---|---|"]
    for kind in ("inputs", "outputs"):
        for t in info[kind]:
            rows.append(f"| {kind[:-1]} | `{t['name']}` | {t['shape']} | {t['dtype']} | {t['scale']} | "
                        f"{t['zero_point']} |")
    ops = ", ".join(info["operators"])
    return (f"### Model `{info['name']}`\n\n{info['size']} bytes, sha256 `{info['sha256'][:16]}…`, "
            f"{'int8 quantized' if info['quantized'] else '**float (not quantized)**'}\n\n"
            + "\n".join(rows) + f"\n\nOperators ({len(info['operators'])}): {ops}\n")


def run(ctx: ActionContext) -> None:
    policy = (ctx.get("float-models", "warn") or "warn").lower()
    if policy not in ("warn", "reject"):
        raise ActionError(f"benchd/inspect: input 'float-models' must be warn or reject, not {policy!r}")
    max_mb = ctx.get_float("max-model-mb", 50.0)
    info = describe_model(ctx.model, max_bytes=int(max_mb * 1e6))
    ctx.add_metrics("model", info)
    first_in, first_out = info["inputs"][0], info["outputs"][0]
    for key, value in {
        "quantized": "true" if info["quantized"] else "false",
        "operators": info["operators"],
        "input_shape": first_in["shape"],
        "input_dtype": first_in["dtype"],
        "output_shape": first_out["shape"],
        "output_dtype": first_out["dtype"],
        "sha256": info["sha256"],
    }.items():
        ctx.set_output(key, value)
    ctx.summary(_summary(info))
    print(f"{info['name']}: {len(info['operators'])} operators, input {first_in['shape']} {first_in['dtype']}, "
          f"output {first_out['shape']} {first_out['dtype']}, quantized={info['quantized']}")
    if not info["quantized"]:
        message = (f"{info['name']} is a float model (no int8 tensors): the boards need a full-integer int8 "
                   "model; quantize it with the TFLite converter (post-training integer quantization)")
        if policy == "reject":
            raise ActionError(message + " (rejected because float-models: reject)")
        print(f"::warning::{message}", flush=True)
