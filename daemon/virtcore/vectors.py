"""Test vectors for the virtual core: seeded random values of the input's type by default, or `MODEL.inputs.npy`
beside the model.

int8 and int16 inputs are uniform over their whole range; a float32 input (a model whose converter kept float
I/O and quantizes inside) uniform over `span`, the floats its QUANTIZE maps onto the integer range. The same
array is fed to the firmware and to the TFLite reference, and kept in the run's artifacts, so a result can be
reproduced from the result folder alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from daemon.errors import VirtCoreError

DEFAULT_COUNT = 3
DEFAULT_SEED = 0
DTYPES = ("int8", "int16", "float32")  # what the firmware binds (target/tools/gen_model_header.py)


def inputs_file(model: Path) -> Path:
    """Where a lab engineer puts their own inputs for `kws.tflite`: `kws.inputs.npy` beside it."""
    return model.with_name(model.stem + ".inputs.npy")


def random_vectors(shape: tuple[int, ...], count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED,
                   dtype: str = "int8", span: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """`count` vectors of `shape` and `dtype`, the same for the same seed on every machine."""
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        return rng.uniform(span[0], span[1], size=(count, *shape)).astype(np.float32)
    info = np.iinfo(np.dtype(dtype))
    return rng.integers(info.min, info.max + 1, size=(count, *shape), dtype=np.dtype(dtype))


def load_vectors(path: Path, shape: tuple[int, ...], dtype: str = "int8") -> np.ndarray:
    """Vectors of `shape` and `dtype` from a .npy file: one vector (`shape`) or several (`(N, *shape)`)."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise VirtCoreError(f"cannot read the test inputs {path}: {exc}") from exc
    if array.dtype != np.dtype(dtype):
        raise VirtCoreError(f"{path} holds {array.dtype} values; the model's input is {dtype}: save it with "
                            f"np.save(path, x.astype(np.{dtype}))")
    if tuple(array.shape) == shape:
        array = array[np.newaxis]
    if tuple(array.shape[1:]) != shape or array.shape[0] == 0:
        raise VirtCoreError(f"{path} has shape {tuple(array.shape)}; the model's input needs {shape} or (N, *{shape})")
    return array


def vectors_for(model: Path, shape: tuple[int, ...], count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED,
                dtype: str = "int8", span: tuple[float, float] = (-1.0, 1.0)) -> tuple[np.ndarray, str]:
    """The vectors for `model` and where they came from ("file NAME" or "random seed N")."""
    if dtype not in DTYPES:
        raise VirtCoreError(f"the model's input is {dtype}; the virtual core feeds int8, int16 or float32 inputs")
    beside = inputs_file(model)
    if beside.is_file():
        return load_vectors(beside, shape, dtype), f"file {beside.name}"
    return random_vectors(shape, count, seed, dtype, span), f"random seed {seed}"
