"""The MicroKWS-shaped samples: bit-exact on the host (sanitized build) and on RV32IMC under QEMU."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import harness
import numpy as np
import pytest
from harness import assert_bit_exact, random_inputs
from model_tools import tvm_available

from daemon.codegen import compile_c

KWS = ["kws_dw1.tflite", "kws_cnn3.tflite", "kws_xs.tflite", "kws_s.tflite"]
# The goals of issue 10, measured on these samples (tests/bench/bench_codegen.py prints them).
MAX_INSTRUCTIONS = {"kws_dw1.tflite": 500_000, "kws_cnn3.tflite": 30_000_000}


@pytest.mark.tvm
@tvm_available
@pytest.mark.parametrize("name", KWS)
def test_sample_is_bit_exact_on_the_host(name: str, samples: dict[str, Path], host_build) -> None:  # type: ignore[no-untyped-def]
    model, exe, io = host_build(name.removesuffix(".tflite"), samples[name].read_bytes())
    assert_bit_exact(model, exe, io, random_inputs(io, count=100, seed=7))


@pytest.mark.tvm
@tvm_available
@pytest.mark.skipif(not harness.HAVE_RV32, reason="needs riscv64-unknown-elf-gcc, picolibc and qemu-system-riscv32")
@pytest.mark.parametrize("name", ["kws_dw1.tflite", "kws_cnn3.tflite"])
def test_sample_is_bit_exact_on_rv32imc(name: str, samples: dict[str, Path], tmp_path: Path) -> None:
    report = compile_c(samples[name], tmp_path / "mlf.tar")
    x = np.random.default_rng(3).integers(-128, 128, (3, 1960)).astype(np.int8)
    elf, io = harness.build_rv32(tmp_path / "mlf.tar", tmp_path, [[row] for row in x])
    outs, instructions = harness.run_rv32(elf, io)
    want = harness.reference(samples[name], [x])[0]
    assert len(outs) == 3
    for k, out in enumerate(outs):
        assert (out[0] == want[k]).all(), f"vector {k}: core {out[0].tolist()} vs TFLite {want[k].tolist()}"
    assert max(instructions) <= MAX_INSTRUCTIONS[name], f"{instructions} instructions ({report.macs} MACs)"


def test_archive_layout_and_metadata(samples: dict[str, Path], tmp_path: Path) -> None:
    report = compile_c(samples["kws_cnn3.tflite"], tmp_path / "mlf.tar")
    with tarfile.open(tmp_path / "mlf.tar") as tar:
        names = set(tar.getnames())
        meta = json.load(tar.extractfile("metadata.json"))  # type: ignore[arg-type]
        header = tar.extractfile("codegen/host/include/tvmgen_default.h").read().decode()  # type: ignore[union-attr]
    assert {"metadata.json", "codegen/host/include/tvmgen_default.h", "codegen/host/src/default_lib0.c",
            "codegen/host/src/benchd_kernels.h", "codegen/host/src/benchd_conv.c"} <= names
    assert not any(n.startswith(("/", "runtime")) or ".." in n for n in names)
    main = meta["memory"]["functions"]["main"][0]
    assert main == meta["modules"]["default"]["memory"]["functions"]["main"][0]
    assert main["workspace_size_bytes"] == report.arena_bytes
    assert main["constants_size_bytes"] == report.constants_bytes > 20_000
    assert main["io_size_bytes"] == 1960 + 10
    assert meta["modules"]["default"]["inputs"]["input"]["size"] == 1960
    benchd = meta["benchd"]
    assert benchd["planner"] == "greedy-by-size" and benchd["arena_lower_bound_bytes"] == report.arena_lower_bound_bytes
    assert all("offset" in t for t in benchd["tensors"] if t["place"] == "arena")
    assert "struct tvmgen_default_inputs {\n  void* input;\n};" in header
    assert "struct tvmgen_default_outputs {\n  void* probabilities;\n};" in header
    assert "int32_t tvmgen_default_run(struct tvmgen_default_inputs* inputs, struct tvmgen_default_outputs* outputs);" \
        in header
    # the same model gives the same bytes (dedupe and caching rely on it)
    compile_c(samples["kws_cnn3.tflite"], tmp_path / "again.tar")
    assert (tmp_path / "again.tar").read_bytes() == (tmp_path / "mlf.tar").read_bytes()


@pytest.mark.parametrize("name", KWS)
def test_arena_meets_its_lower_bound(name: str, samples: dict[str, Path], tmp_path: Path) -> None:
    report = compile_c(samples[name], tmp_path / "mlf.tar")
    assert report.arena_bytes == report.arena_lower_bound_bytes, report
    assert report.operators > 0 and report.macs > 0


def test_tensor_names_are_sanitized_as_tvm_does(tmp_path: Path) -> None:
    import models

    path = tmp_path / "m.tflite"
    path.write_bytes(models.reshape_chain())
    compile_c(path, tmp_path / "mlf.tar")
    with tarfile.open(tmp_path / "mlf.tar") as tar:
        header = tar.extractfile("codegen/host/include/tvmgen_default.h").read().decode()  # type: ignore[union-attr]
    assert "void* serving_default_x_0;" in header and "void* StatefulPartitionedCall_0;" in header


def test_conv_and_pool_are_fused_and_the_feature_map_is_never_stored(samples: dict[str, Path], tmp_path: Path) -> None:
    report = compile_c(samples["kws_cnn3.tflite"], tmp_path / "mlf.tar")
    with tarfile.open(tmp_path / "mlf.tar") as tar:
        meta = json.load(tar.extractfile("metadata.json"))  # type: ignore[arg-type]
    kernels = [s["kernel"] for s in meta["benchd"]["steps"]]
    assert kernels.count("bd_conv2d_pool") == 3 and "bd_max_pool" not in kernels
    stored = {n for t in meta["benchd"]["tensors"] for n in t["names"]}
    assert "conv0" not in stored  # 49 x 40 x 16 = 31,360 bytes never allocated
    assert report.arena_bytes <= 33_320  # issue 10's goal for the 3-conv model
