"""`benchd/virtual-core` as a step process: vectors kept, metrics.virtual written, outputs judged against the
TFLite reference. A hand-written archive does not compute the model, so it must be caught as not bit-exact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mlf_fixture import expected_transform, write_archive
from model_tools import run_py

pytestmark = [pytest.mark.tvm, pytest.mark.usefixtures("riscv_tools"), pytest.mark.timeout(180)]


def _action(model: Path, workspace: Path, **inputs: str):  # type: ignore[no-untyped-def]
    env = {"BENCHD_MODEL": str(model), "BENCHD_WORKSPACE": str(workspace), "BENCHD_OUTPUT": str(workspace / "out"),
           "BENCHD_METRICS": str(workspace / "metrics"), "BENCHD_SUMMARY": str(workspace / "summary.md")}
    env.update({"BENCHD_INPUT_" + k.upper().replace("-", "_"): v for k, v in inputs.items()})
    return run_py(["-m", "daemon.actions", "virtual-core"], env=env, timeout=170)


def test_an_archive_that_is_not_the_model_is_caught(samples: dict[str, Path], tmp_path: Path) -> None:
    model = samples["kws_xs.tflite"]  # int8 1x1960 -> 1x12
    (tmp_path / "artifacts" / "reference-c").mkdir(parents=True)
    write_archive(tmp_path / "artifacts" / "reference-c" / "mlf.tar", 1960, 12)  # where compile-c puts it
    proc = _action(model, tmp_path, vectors="2", seed="5")
    assert proc.returncode == 1
    assert "differs from the TFLite reference kernels on vector(s) [0, 1] of 2" in proc.stdout
    virtual = json.loads((tmp_path / "metrics").read_text().splitlines()[0])["virtual"]
    vectors = np.load(tmp_path / "artifacts/vectors/inputs.npy")
    assert vectors.shape == (2, 1, 1960) and vectors.dtype == np.int8
    assert np.array_equal(vectors, np.random.default_rng(5).integers(-128, 128, (2, 1, 1960), dtype=np.int8))
    assert virtual["outputs"] == [expected_transform(v, 12) for v in vectors]  # what the firmware computed
    assert virtual["bit_exact"] == 0 and virtual["vectors"] == 2 and virtual["backend"] == "reference-c"
    assert virtual["instructions"] > 12 and virtual["rom_bytes"] > 2 * 1960 and virtual["ram_bytes"] > 0
    assert "riscv64-unknown-elf-gcc" in virtual["toolchain"]["gcc-riscv64-unknown-elf"]
    assert "QEMU emulator version" in virtual["toolchain"]["qemu-system-riscv32"]


def test_tvm_outputs_are_counted_not_failed_and_inputs_npy_is_used(samples: dict[str, Path], tmp_path: Path) -> None:
    model = tmp_path / "kws.tflite"
    model.write_bytes(samples["kws_xs.tflite"].read_bytes())
    mine = np.arange(3 * 1960).reshape(3, 1, 1960).astype(np.int8)
    np.save(tmp_path / "kws.inputs.npy", mine)
    write_archive(tmp_path / "mlf.tar", 1960, 12)
    proc = _action(model, tmp_path, archive=str(tmp_path / "mlf.tar"), backend="tvm")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (line,) = (tmp_path / "metrics").read_text().splitlines()  # TVM's figures: the matrix only, never metrics.virtual
    matrix = json.loads(line)["virtual_matrix"]
    assert list(matrix) == ["tvm"] and matrix["tvm"]["vectors"] == 3 and matrix["tvm"]["bit_exact"] == 0
    assert matrix["tvm"]["outputs"] == [expected_transform(v, 12) for v in mine]
    assert "from file kws.inputs.npy" in proc.stdout and "| 0/3 |" in (tmp_path / "summary.md").read_text()


def test_a_missing_archive_says_which_job_makes_it(samples: dict[str, Path], tmp_path: Path) -> None:
    proc = _action(samples["kws_xs.tflite"], tmp_path)
    assert proc.returncode == 1 and "no MLF archive at" in proc.stdout and "compile-c" in proc.stdout


def test_a_float_model_is_refused(samples: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "artifacts" / "reference-c").mkdir(parents=True)
    write_archive(tmp_path / "artifacts" / "reference-c" / "mlf.tar", 1960, 12)  # where compile-c puts it
    proc = _action(samples["kws_float.tflite"], tmp_path)
    assert proc.returncode == 1 and "is a float model" in proc.stdout and "float32 only at the edges" in proc.stdout


def test_the_image_record_of_versions_wins_over_asking_the_tools(tmp_path: Path) -> None:
    from daemon.virtcore.toolchain import toolchain_versions

    record = tmp_path / "riscv-versions.json"
    record.write_text('{"qemu-system-misc": "1:7.2+dfsg-7+deb12u18+b3"}')
    assert toolchain_versions(record) == {"qemu-system-misc": "1:7.2+dfsg-7+deb12u18+b3"}
