"""16x8 (int16 activations, int8 weights) and the stateful SVDF / LSTM: bit-exact with TFLite's reference kernels.

Each model is compiled once, built with the sanitizers, and run on 200 random input vectors in one process. The
stateful operators keep their state across tvmgen_default_run calls as one interpreter keeps it across invokes,
so the 200 vectors are one sequence compared with one interpreter invoked 200 times.
"""

from __future__ import annotations

import json
from pathlib import Path

import harness
import models_int16 as models
import numpy as np
import pytest
from harness import assert_bit_exact, random_inputs
from model_tools import tvm_available

from daemon.codegen import compile_c
from daemon.codegen.int16 import round_away, softmax_luts
from daemon.errors import CodegenError

pytestmark = [pytest.mark.tvm, tvm_available]

CASES = {
    # FULLY_CONNECTED 16x8: int64 bias (the converter's), int32 bias (quantized_bias_type INT32), no bias,
    # per-channel, batches, fused activations
    "fc16": models.fully_connected16(1, 30, 7),
    "fc16_per_channel_relu": models.fully_connected16(3, 17, 9, per_channel=True, act="RELU", seed=1),
    "fc16_int32_bias": models.fully_connected16(2, 20, 5, bias="int32", seed=2),
    "fc16_no_bias": models.fully_connected16(1, 25, 6, bias="none", seed=3),
    "fc16_relu_n1_to_1": models.fully_connected16(1, 64, 10, act="RELU_N1_TO_1", per_channel=True, seed=4),
    "fc16_deep": models.fully_connected16(2, 700, 6, per_channel=True, seed=5),  # several int32 chunks
    # SOFTMAX int16: rows, beta, wide rows, a small scale (differences past exp(-10) clamp)
    "softmax16": models.softmax16((1, 10), 3e-4),
    "softmax16_rows_beta": models.softmax16((3, 7), 1e-3, beta=0.7),
    "softmax16_wide": models.softmax16((2, 40), 1e-4),
    "softmax16_4d": models.softmax16((1, 2, 3, 5), 5e-4, beta=1.5),
    # SVDF full integer: rank 1..3, batches, without bias; state across the 200-vector sequence
    "svdf": models.svdf(1, 20, 12, 5, 2),
    "svdf_batch2_rank3": models.svdf(2, 13, 9, 7, 3, seed=1),
    "svdf_rank1_no_bias": models.svdf(1, 33, 8, 10, 1, bias=False, seed=2),
    # UNIDIRECTIONAL_SEQUENCE_LSTM 8x8_16: the converter's plain LSTM, batches, CIFG, peephole, projection with
    # clipping, cell clipping, time major, cell state scales 2^-9..2^-15; output and cell state across the sequence
    "lstm": models.lstm(1, 3, 5, 4),
    "lstm_batch2": models.lstm(2, 4, 7, 6, seed=1),
    "lstm_cifg": models.lstm(1, 3, 5, 8, cifg=True, seed=2),
    "lstm_peephole": models.lstm(1, 3, 6, 5, peephole=True, seed=3),
    "lstm_projection_clip": models.lstm(1, 2, 6, 9, n_output=4, proj_clip=0.5, seed=4),
    "lstm_cell_clip": models.lstm(1, 5, 4, 6, cell_clip=1.5, seed=5),
    "lstm_time_major": models.lstm(2, 3, 5, 4, time_major=True, seed=6),
    "lstm_wide": models.lstm(1, 8, 20, 16, cell_scale=2.0**-12, seed=7),
    "lstm_cifg_projection": models.lstm(2, 3, 5, 6, n_output=3, cifg=True, seed=8),
    "lstm_cell_scale_9": models.lstm(1, 3, 5, 6, cell_scale=2.0**-9, seed=9),
    "lstm_cell_scale_15": models.lstm(1, 3, 5, 6, cell_scale=2.0**-15, seed=10),
    # layer normalization (gate scales from the intermediates), with CIFG, peephole, projection
    "lstm_layer_norm": models.lstm(1, 3, 5, 8, layer_norm=True, seed=11),
    "lstm_layer_norm_cifg_batch2": models.lstm(2, 3, 6, 4, layer_norm=True, cifg=True, seed=12),
    "lstm_layer_norm_peephole": models.lstm(1, 4, 6, 16, layer_norm=True, peephole=True, seed=13),
    "lstm_layer_norm_projection": models.lstm(1, 4, 6, 12, n_output=5, layer_norm=True, seed=14),
}
STATEFUL = ["svdf", "lstm"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_int16_operator_is_bit_exact(name: str, host_build) -> None:  # type: ignore[no-untyped-def]
    model, exe, io = host_build(name, CASES[name])
    assert_bit_exact(model, exe, io, random_inputs(io))


@pytest.mark.parametrize("name", STATEFUL)
def test_state_persists_across_runs(name: str, host_build) -> None:  # type: ignore[no-untyped-def]
    """One input repeated: the outputs change run after run only through the kept state, as in TFLite."""
    model, exe, io = host_build(name, CASES[name])
    inputs = [np.repeat(x[:1], 12, axis=0) for x in random_inputs(io, seed=9)]
    got = harness.run_host(exe, io, inputs)
    want = harness.reference(model, inputs)
    assert all((g == w).all() for g, w in zip(got, want, strict=True))
    assert len({tuple(row) for row in want[0]}) > 3, "the state does not change the outputs"


def test_state_lives_outside_the_arena(tmp_path: Path) -> None:
    """The LSTM's state is static RAM of its own (metadata says how much), the arena keeps only the scratch."""
    path = tmp_path / "lstm.tflite"
    path.write_bytes(CASES["lstm_batch2"])
    report = compile_c(path, tmp_path / "mlf.tar")
    root = tmp_path / "mlf"
    harness.unpack(tmp_path / "mlf.tar", root)
    benchd = json.loads((root / "metadata.json").read_text())["benchd"]
    assert benchd["state_bytes"] == 2 * 6 + 2 * 6 * 2  # int8 output state, int16 cell state
    assert report.arena_bytes == 4 * 6 * 2 + 6  # the gates and the projection scratch only
    source = (root / "codegen/host/src/default_lib0.c").read_text()
    assert "static int16_t op0_cell_state[12]" in source and "static int8_t op0_output_state[12]" in source


def test_fc16_past_int32_matches_the_reference(host_build) -> None:  # type: ignore[no-untyped-def]
    """A tiny output scale sends round(acc * scale) past int32: the reference's conversion then gives INT32_MIN
    (x86), so large positive sums come out at the bottom of the clamp, as here."""
    model, exe, io = host_build("fc16_overflow", models.fully_connected16(1, 30, 7, out_scale_mul=1e-6, bias="none"))
    inputs = random_inputs(io, seed=4)
    got, want = harness.run_host(exe, io, inputs)[0], harness.reference(model, inputs)[0]
    assert (got == want).all()
    assert set(np.unique(want)) == {-32768, 32767}


RV32_CASES = ["fc16_per_channel_relu", "softmax16_rows_beta", "svdf_batch2_rank3", "lstm_batch2",
              "lstm_projection_clip", "lstm_layer_norm_peephole"]


@pytest.mark.skipif(not harness.HAVE_RV32, reason="needs riscv64-unknown-elf-gcc, picolibc and qemu-system-riscv32")
@pytest.mark.parametrize("name", RV32_CASES)
def test_int16_operator_is_bit_exact_on_rv32imc(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(CASES[name])
    harness.assert_bit_exact_rv32(path, tmp_path)


def test_softmax_tables_match_tflite_shape() -> None:
    """The tables TFLite fills: exp(0) at the top of the exp table, 1/(1+0) = 1 at the bottom of the other."""
    exp_lut, recip_lut = softmax_luts()
    assert len(exp_lut) == len(recip_lut) == 513
    assert exp_lut[-1] == 32767 and abs(exp_lut[0] - round_away(np.exp(-10.0) * 32768)) <= 1  # midpoint bias
    assert recip_lut[0] == 32767 and recip_lut[-1] == 16384
    assert all(a <= b for a, b in zip(exp_lut, exp_lut[1:], strict=False))
    assert round_away(0.49999999999999994) == 0 and round_away(-2.5) == -3


def _compile(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "model.tflite"
    path.write_bytes(data)
    compile_c(path, tmp_path / "out.tar")


@pytest.mark.parametrize(("data", "message"), [
    (models.fully_connected16(1, 8, 4, act="TANH"), r"operator 0 \(FULLY_CONNECTED\): fused activation TANH"),
    (models.fully_connected16(1, 8, 4, bias="int64_as_int32"),
     r"operator 0 \(FULLY_CONNECTED\): bias 'bias' must be a constant int32 vector"),
    (models.fully_connected16(1, 8, 4, out_dtype="int8"),
     r"operator 0 \(FULLY_CONNECTED\): tensor 'output' is int8; with int16 activations"),
    (models.fully_connected16(1, 8, 4, in_dtype="int8"),
     r"operator 0 \(FULLY_CONNECTED\): int8 input with a int16 output is not supported"),
    (models.svdf(1, 8, 4, 3, 2, act="NONE"), r"operator 0 \(SVDF\): the integer SVDF takes only a RELU activation"),
    (models.svdf(1, 8, 4, 3, 2, variable=False), r"operator 0 \(SVDF\): state 'state' is not a variable tensor"),
    (models.svdf(1, 8, 6, 3, 4), r"operator 0 \(SVDF\): rank 4 does not divide the 6 filters"),
    (models.svdf(1, 8, 4, 3, 2, in_dtype="int16"), r"operator 0 \(SVDF\): input 'input' is int16; only the "
     "full-integer SVDF"),
    (models.lstm(1, 2, 4, 4, in_dtype="int16"), r"operator 0 \(UNIDIRECTIONAL_SEQUENCE_LSTM\): input 'input' is "
     "int16; only the full-integer 8x8_16 LSTM"),
    (models.lstm(1, 2, 4, 4, per_channel=True), r"operator 0 \(UNIDIRECTIONAL_SEQUENCE_LSTM\): input-to-input "
     "weights 'input_to_input' is quantized per channel"),
    (models.lstm(1, 2, 4, 4, diagonal=True),
     r"operator 0 \(UNIDIRECTIONAL_SEQUENCE_LSTM\): diagonal recurrent weights are not supported"),
    (models.lstm(1, 2, 4, 4, cell_scale=3e-4),
     r"operator 0 \(UNIDIRECTIONAL_SEQUENCE_LSTM\): cell state 'cell_state' has scale .* not a power of two"),
    (models.lstm(1, 2, 4, 4, cell_scale=2.0**-8),
     r"operator 0 \(UNIDIRECTIONAL_SEQUENCE_LSTM\): cell state scale 2\^-8 is outside"),
    (models.lstm(1, 2, 4, 4, n_output=3, peephole=True),
     r"operator 0 \(UNIDIRECTIONAL_SEQUENCE_LSTM\): peephole weights with a projection"),
])
def test_unsupported_int16_variants_are_refused(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(CodegenError, match=message):
        _compile(tmp_path, data)
