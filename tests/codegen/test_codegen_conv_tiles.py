"""The conv/FC register tiles (benchd_conv.c): bit-exact with TFLite's reference kernels on the host
(sanitized build, 200 vectors) and on RV32IMC (the -O2 build the benchmarks measure), over every tile
width, in-place and gathered patches, pixel pairs and singles, and both ways of fusing a max pool."""

from __future__ import annotations

import tarfile
from pathlib import Path

import harness
import models_conv
import numpy as np
import pytest
from harness import assert_bit_exact, random_inputs
from model_tools import tvm_available

from daemon.codegen import compile_c
from daemon.codegen.layers import _pack

pytestmark = [pytest.mark.tvm, tvm_available]
CASES = models_conv.CASES
RV32 = ["tiles_conv_13ch_same", "tiles_conv_dilated_w", "tiles_conv_one_channel_8x8", "tiles_pointwise_odd",
        "tiles_conv_max_first", "tiles_conv_max_left_shift", "tiles_conv_avg_13ch", "tiles_fc_batch3_13",
        "tiles_fc_general_requant"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_tiles_are_bit_exact_on_the_host(name: str, host_build) -> None:  # type: ignore[no-untyped-def]
    model, exe, io = host_build(name, CASES[name])
    assert_bit_exact(model, exe, io, random_inputs(io))


@pytest.mark.skipif(not harness.HAVE_RV32, reason="needs riscv64-unknown-elf-gcc, picolibc and qemu-system-riscv32")
@pytest.mark.parametrize("name", RV32)
def test_tiles_are_bit_exact_on_rv32imc(name: str, tmp_path: Path) -> None:
    model = tmp_path / f"{name}.tflite"
    model.write_bytes(CASES[name])
    harness.assert_bit_exact_rv32(model, tmp_path)


def _source(name: str, tmp_path: Path) -> str:
    tmp_path.mkdir()
    model = tmp_path / f"{name}.tflite"
    model.write_bytes(CASES[name])
    compile_c(model, tmp_path / "mlf.tar")
    with tarfile.open(tmp_path / "mlf.tar") as tar:
        return tar.extractfile("codegen/host/src/default_lib0.c").read().decode()  # type: ignore[union-attr]


def test_max_pool_takes_the_accumulators_only_when_requantization_is_monotonic(tmp_path: Path) -> None:
    assert ".max_first = 1" in _source("tiles_conv_max_first", tmp_path / "a")
    assert ".max_first = 0" in _source("tiles_conv_max_left_shift", tmp_path / "b")
    assert ".max_first = 0" in _source("tiles_conv_avg_13ch", tmp_path / "c")


def test_requantization_falls_back_to_the_general_form_where_the_fast_one_does_not_apply(tmp_path: Path) -> None:
    assert ".rq = " in _source("tiles_fc_12", tmp_path / "a")
    general = _source("tiles_fc_general_requant", tmp_path / "b")
    assert ".rq = " not in general and ".mult = " in general
    conv = _source("tiles_conv_max_left_shift", tmp_path / "c")
    assert ".rq = " not in conv and ".mult = " in conv


def test_weights_are_packed_in_the_order_the_tiles_stream_them() -> None:
    k = 3
    w = np.arange(15 * k).reshape(15, k)  # units 0-7: a block of 8, 8-11: a block of 4, 12-14: rows
    packed = _pack(w).astype(int)
    assert packed[:8].tolist() == [w[u, 0] for u in range(8)]  # first input value of units 0..7
    assert packed[8 * k:8 * k + 4].tolist() == [w[u, 0] for u in range(8, 12)]
    assert packed[12 * k:].tolist() == w[12:].ravel().tolist()


def test_arena_plan_reaches_the_bound_past_a_small_buffer_between_equal_chains() -> None:
    """mlperf_ad01's shape: 128-byte activations in a chain with an 8-byte bottleneck in the middle. Largest
    first put the bottleneck above both halves (264 bytes); the planner tries other orders down to 256."""
    from daemon.codegen.arena import plan
    from daemon.codegen.lowering import Program, Storage

    sizes = [128, 128, 128, 128, 8, 128, 128, 128]
    storages = [Storage(k, size, [], "arena", -1, k, k + 1) for k, size in enumerate(sizes)]
    program = Program(graph=None, steps=[None] * (len(sizes) + 1), storages=storages)  # type: ignore[arg-type, list-item]
    arena = plan(program)
    assert arena.lower_bound == 256 and arena.size == 256
    for a in storages:  # buffers live at the same step never share a byte
        for b in storages:
            if a.id < b.id and not (a.last < b.first or b.last < a.first):
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)
    assert plan(program).offsets == arena.offsets  # deterministic
