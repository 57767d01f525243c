"""Shared fixtures of the codegen tests: compile a model once per module and run it on the host."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness.py and models.py beside the tests

import harness

from daemon.codegen import compile_c


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
