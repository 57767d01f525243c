"""Test vectors for the virtual core: seeded random int8 by default, or `MODEL.inputs.npy` beside the model.

The same array is fed to the firmware and to the TFLite reference, and kept in the run's artifacts, so a
result can be reproduced from the result folder alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from daemon.errors import VirtCoreError

DEFAULT_COUNT = 3
DEFAULT_SEED = 0


def inputs_file(model: Path) -> Path:
    """Where a lab engineer puts their own inputs for `kws.tflite`: `kws.inputs.npy` beside it."""
    return model.with_name(model.stem + ".inputs.npy")


def random_vectors(shape: tuple[int, ...], count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> np.ndarray:
    """`count` int8 vectors of `shape`, the same for the same seed on every machine."""
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, size=(count, *shape), dtype=np.int8)


def load_vectors(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """int8 vectors of `shape` from a .npy file: one vector (`shape`) or several (`(N, *shape)`)."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise VirtCoreError(f"cannot read the test inputs {path}: {exc}") from exc
    if array.dtype != np.int8:
        raise VirtCoreError(f"{path} holds {array.dtype} values; the model's input is int8: save it with "
                            "np.save(path, x.astype(np.int8))")
    if tuple(array.shape) == shape:
        array = array[np.newaxis]
    if tuple(array.shape[1:]) != shape or array.shape[0] == 0:
        raise VirtCoreError(f"{path} has shape {tuple(array.shape)}; the model's input needs {shape} or (N, *{shape})")
    return array


def vectors_for(model: Path, shape: tuple[int, ...], count: int = DEFAULT_COUNT,
                 seed: int = DEFAULT_SEED) -> tuple[np.ndarray, str]:
    """The vectors for `model` and where they came from ("file NAME" or "random seed N")."""
    beside = inputs_file(model)
    if beside.is_file():
        return load_vectors(beside, shape), f"file {beside.name}"
    return random_vectors(shape, count, seed), f"random seed {seed}"
