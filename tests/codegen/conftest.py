"""Shared fixtures of the codegen tests: compile a model once per module and run it on the host."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness.py and models.py beside the tests

import harness

from daemon.codegen import compile_c

VECTORS = 200  # >= 100 random inputs per model; one compiled executable runs them all


@pytest.fixture(scope="module")
def host_build(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, bytes], tuple[Path, Path, harness.Io]]:
    """name, model bytes -> (model file, sanitized host executable, io); built once per name."""
    cache: dict[str, tuple[Path, Path, harness.Io]] = {}

    def build(name: str, model: bytes) -> tuple[Path, Path, harness.Io]:
        if name not in cache:
            work = tmp_path_factory.mktemp(name)
            path = work / f"{name}.tflite"
            path.write_bytes(model)
            compile_c(path, work / "mlf.tar")
            exe, io = harness.build_host(work / "mlf.tar", work)
            cache[name] = (path, exe, io)
        return cache[name]

    return build


def random_inputs(io: harness.Io, count: int = VECTORS, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, (count, size)).astype(np.int8) for _, size in io.inputs]


def assert_bit_exact(model: Path, exe: Path, io: harness.Io, inputs: list[np.ndarray]) -> None:
    got = harness.run_host(exe, io, inputs)
    want = harness.reference(model, inputs)
    for g, w in zip(got, want, strict=True):
        differ = int((g != w).any(axis=1).sum())
        worst = int(np.abs(g.astype(int) - w).max())
        assert differ == 0, f"{differ} of {len(g)} vectors differ from TFLite, by up to {worst} LSB"
        # A test that only ever sees saturated outputs would prove little.
        assert len(np.unique(w)) > 8, f"outputs barely vary ({np.unique(w)}): the test model is too degenerate"
