"""The real models of ../shared/models through the reference C backend: bit-exact with TFLite's reference
kernels on 100 random inputs on the host (sanitized build) and on 2 on RV32IMC (QEMU), as issue 16 asks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import harness
import numpy as np
import pytest
from model_tools import tvm_available
from models_fixture import REAL_MODEL_NAMES

from daemon.codegen import compile_c

pytestmark = [pytest.mark.tvm, tvm_available]  # the reference interpreter (ai-edge-litert): the tvm extra


@pytest.mark.parametrize("name", REAL_MODEL_NAMES)
def test_real_model_is_bit_exact_on_the_host(name: str, real_models: dict[str, Path],
                                             host_build: Callable[[str, bytes], tuple[Path, Path, harness.Io]]
                                             ) -> None:
    model, exe, io = host_build(name, real_models[name].read_bytes())
    inputs = harness.random_inputs(io, count=100, seed=16)
    got = harness.run_host(exe, io, inputs)
    want = harness.reference(model, inputs)
    for g, w in zip(got, want, strict=True):
        differ = int((g != w).any(axis=1).sum())
        assert differ == 0, f"{name}: {differ} of 100 vectors differ from TFLite"
        assert len(np.unique(w, axis=0)) > 1, f"{name}: every input gives the same output; the test proves little"


@pytest.mark.parametrize("name", REAL_MODEL_NAMES)
def test_real_model_is_bit_exact_on_rv32imc(name: str, real_models: dict[str, Path], riscv_tools: None,
                                            tmp_path: Path) -> None:
    run = harness.assert_bit_exact_rv32(real_models[name], tmp_path, count=2, seed=17)
    macs = compile_c(real_models[name], tmp_path / "again.tar").macs
    assert min(run.instructions) > macs  # at least one instruction per MAC: the count is of the whole inference
