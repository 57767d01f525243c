"""What the TFLite reference kernels give for the test vectors, and whether a firmware's result equals it.

One rule for every place an executed output is judged: the virtual core (`benchd/virtual-core`) and the
simulated boards that run the same firmware (`benchd/monitor`). A result carries its whole output's bytes
("out") or, when it has more than 64 bytes, their SHA-256 ("out_sha256"); both compare exactly, an int16 or
float32 output byte for byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from daemon.firmware.resultline import InferenceResult


def reference_outputs(model: Path, vectors: np.ndarray) -> list[np.ndarray]:
    """The reference interpreter's output for each vector (loads the TFLite interpreter: step processes only)."""
    from daemon.tvmc.compare import ReferenceModel

    reference = ReferenceModel(model)
    return [reference.run([vector])[0] for vector in vectors]


def output_bytes(expected: np.ndarray) -> np.ndarray:
    """An output as the firmware reports it: its bytes (little-endian), each a signed byte; an int8 output's
    values are its bytes."""
    array = np.asarray(expected)
    if array.dtype not in (np.int16, np.float32):  # int8, or integer values given as a plain array
        array = np.asarray(array, dtype=np.int8)
    return np.ascontiguousarray(array).reshape(-1).view(np.int8)


def bit_exact(result: InferenceResult, expected: np.ndarray) -> bool:
    want = output_bytes(expected)
    if result.out is not None:
        return bool(np.array_equal(np.array(result.out, dtype=np.int8), want))
    return result.out_sha256 == hashlib.sha256(want.tobytes()).hexdigest()


def decode_output(out: tuple[int, ...], dtype: str) -> list[int] | list[float]:
    """A result's "out" (bytes) as values of the output's type, for metrics and summaries."""
    values: list[int] | list[float] = np.array(out, dtype=np.int8).view(np.dtype(dtype)).tolist()
    return values


def exact_flags(results: Sequence[InferenceResult], expected: Sequence[np.ndarray]) -> list[bool]:
    """One flag per result: against the vector it names ("vector"), else the one at its position."""
    flags = []
    for position, result in enumerate(results):
        index = result.vector if result.vector is not None else position
        flags.append(0 <= index < len(expected) and bit_exact(result, expected[index]))
    return flags
