"""Reading a `.tflite` file: name, hash, size, inputs, outputs, operators and quantization.

Neutral ground: intake, `benchd/inspect` and the tvmc front end all describe models through here, and this
module imports nothing of benchd's but the errors. Dropped files are untrusted: every count read from the
flatbuffer is checked against a limit before anything iterates over it, so a 4 MB file that claims a million
tensors is refused in milliseconds instead of being walked for a minute. The work is linear in the counts:
only the input and output tensors are described in full; the rest are only looked at for int8 quantization.
Only the `tflite` flatbuffer package is used (no TVM, no interpreter), and it is imported on first use.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemon.errors import ModelError

# Far above any model a microcontroller runs (the largest MLPerf Tiny model has < 200 tensors).
MAX_TENSORS = 100_000  # tensors in the main subgraph
MAX_OPERATORS = 100_000  # operators in the main subgraph, and operator codes in the model
MAX_IO = 1_000  # graph inputs plus outputs
MAX_SHAPE_RANK = 16  # dimensions of one input or output tensor
MAX_QUANT_PARAMS = 1 << 16  # scales (or zero points) of one input or output tensor

_QUANTIZED_TYPES = {"int8", "uint8", "int16"}


def _enum_names(cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if k.isupper() and isinstance(v, int)}


def _check_count(what: str, count: int, limit: int) -> None:
    if count > limit:
        raise ModelError(f"the model claims {count:,} {what}, over benchd's limit of {limit:,}: the file is "
                         "corrupt or not a model for a microcontroller; re-export it")


def _tensor_info(subgraph: Any, index: int, dtypes: dict[int, str]) -> dict[str, Any]:
    """An input or output tensor in full (its counts were checked by _validate)."""
    tensor = subgraph.Tensors(index)
    q = tensor.Quantization()
    n_scales = q.ScaleLength() if q is not None else 0
    n_zeros = q.ZeroPointLength() if q is not None else 0
    scales = [float(s) for s in q.ScaleAsNumpy()] if n_scales else []
    zeros = [int(z) for z in q.ZeroPointAsNumpy()] if n_zeros else []
    return {
        "name": (tensor.Name() or b"").decode("utf-8", "replace"),
        "shape": [int(d) for d in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else [],
        "dtype": dtypes.get(tensor.Type(), f"type{tensor.Type()}").lower(),
        # I/O tensors are quantized per tensor; keep a list only if a converter wrote several.
        "scale": (scales[0] if len(scales) == 1 else scales) if scales else None,
        "zero_point": (zeros[0] if len(zeros) == 1 else zeros) if scales else None,
    }


def _is_quantized(subgraph: Any, n_tensors: int, quantized_types: set[int]) -> bool:
    """Any integer tensor with a scale; stops at the first (O(1) field reads per tensor, no decoding)."""
    for i in range(n_tensors):
        tensor = subgraph.Tensors(i)
        if tensor.Type() in quantized_types:
            q = tensor.Quantization()
            if q is not None and q.ScaleLength():
                return True
    return False


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
    """Name, hash, size, inputs, outputs, operators and `quantized` of a .tflite file.

    Raises ModelError, saying what to do, for every way a file can be unusable: missing, empty, too large,
    not a flatbuffer, truncated or corrupt, or claiming more tensors or operators than the limits above.
    """
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
    info = _parsed(data, name, lambda model: _read(model, *_enums()))
    return {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": size, **info}


def check_model(path: Path) -> bool:
    """Whether the model is int8-quantized, after the checks describe_model makes (the same ModelError for
    an unusable file), without describing it: no tensor names, shapes or scales are decoded. Intake asks
    this of every drop, on the way from the drop to its first step (about a third of describe_model's time)."""
    data = path.read_bytes()
    if not data:
        raise ModelError(f"{path.name} is empty (0 bytes): the copy into the inbox probably failed; copy it again")
    return bool(_parsed(data, path.name, lambda model: _validate(model, _enums()[0])[4]))


def _parsed(data: bytes, name: str, read: Callable[[Any], Any]) -> Any:
    """`read` applied to the file's flatbuffer root; every way it fails is a ModelError that says what to do."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(
            f"{name} is not a TFLite flatbuffer (no 'TFL3' identifier at byte 4).{_sniff(data)} "
            "Convert the model with the TFLite converter (full-integer int8 for the boards) and drop the .tflite"
        )
    # Imported here so that importing this module (intake, the daemon) stays cheap.
    from tflite.Model import Model

    try:
        return read(Model.GetRootAsModel(data, 0))
    except ModelError as exc:
        raise ModelError(f"{name}: {exc}") from exc
    except Exception as exc:  # the flatbuffer reader raises struct.error, IndexError, UnicodeError, ...
        raise ModelError(
            f"{name} is truncated or corrupt ({len(data)} bytes; the flatbuffer cannot be read: "
            f"{type(exc).__name__}: {exc}); copy the file again, or re-export it"
        ) from exc


@functools.cache
def _enums() -> tuple[dict[int, str], dict[int, str]]:
    """Tensor type and builtin operator names by code (read from the tflite package once)."""
    from tflite.BuiltinOperator import BuiltinOperator
    from tflite.TensorType import TensorType

    return _enum_names(TensorType), _enum_names(BuiltinOperator)


def _validate(model: Any, dtypes: dict[int, str]) -> tuple[Any, list[int], list[int], list[int], bool]:
    """The checks every reader makes: counts within the limits, inputs and outputs that exist, every
    operator's code known, the I/O tensors' ranks and quantization counts within the limits. The main
    subgraph, its inputs, its outputs, its operators' code indexes and whether it is quantized."""
    if model.SubgraphsLength() == 0:
        raise ModelError("the model has no subgraph, so there is nothing to run; re-export it")
    subgraph = model.Subgraphs(0)
    n_tensors, n_ops, n_codes = subgraph.TensorsLength(), subgraph.OperatorsLength(), model.OperatorCodesLength()
    _check_count("tensors", n_tensors, MAX_TENSORS)
    _check_count("operators", n_ops, MAX_OPERATORS)
    _check_count("operator codes", n_codes, MAX_OPERATORS)
    _check_count("graph inputs and outputs", subgraph.InputsLength() + subgraph.OutputsLength(), MAX_IO)
    inputs = [int(i) for i in subgraph.InputsAsNumpy()] if subgraph.InputsLength() else []
    outputs = [int(i) for i in subgraph.OutputsAsNumpy()] if subgraph.OutputsLength() else []
    if not inputs or not outputs or any(not 0 <= i < n_tensors for i in inputs + outputs):
        raise ModelError("the subgraph's inputs/outputs are missing or point past its tensors; re-export it")
    opcodes = [subgraph.Operators(k).OpcodeIndex() for k in range(n_ops)]
    for k, index in enumerate(opcodes):
        if index >= n_codes:
            raise ModelError(f"operator {k} uses opcode {index} of {n_codes}: the file is corrupt")
    for i in set(inputs + outputs):
        tensor = subgraph.Tensors(i)
        _check_count(f"dimensions in tensor {i}", tensor.ShapeLength(), MAX_SHAPE_RANK)
        q = tensor.Quantization()
        counts = (q.ScaleLength(), q.ZeroPointLength()) if q is not None else (0, 0)
        _check_count(f"quantization parameters in tensor {i}", max(counts), MAX_QUANT_PARAMS)
    quantized_types = {code for code, type_name in dtypes.items() if type_name.lower() in _QUANTIZED_TYPES}
    return subgraph, inputs, outputs, opcodes, _is_quantized(subgraph, n_tensors, quantized_types)


def _read(model: Any, dtypes: dict[int, str], ops: dict[int, str]) -> dict[str, Any]:
    subgraph, inputs, outputs, opcodes, quantized = _validate(model, dtypes)
    code_names = [_code_name(model.OperatorCodes(c), ops) for c in range(model.OperatorCodesLength())]
    operators = [code_names[index] for index in opcodes]  # once per code, not per op
    described: dict[int, dict[str, Any]] = {}  # a tensor that is both input and output is described once
    for i in inputs + outputs:
        if i not in described:
            described[i] = _tensor_info(subgraph, i, dtypes)
    return {
        "inputs": [described[i] for i in inputs],
        "outputs": [described[i] for i in outputs],
        "operators": operators,
        "quantized": quantized,
    }


def _code_name(code: Any, ops: dict[int, str]) -> str:
    # Since TFLite 2.4 a code lives in one of two fields; the reader takes the larger, as TFLite does.
    opcode = max(code.DeprecatedBuiltinCode(), code.BuiltinCode())
    op_name = ops.get(opcode, f"UNKNOWN_{opcode}")
    if op_name == "CUSTOM":
        op_name = "CUSTOM:" + (code.CustomCode() or b"?").decode("utf-8", "replace")
    return op_name
