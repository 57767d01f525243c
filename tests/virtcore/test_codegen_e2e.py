"""End to end on the C3's instruction set: sample model → `compile_c` (the reference backend) → virt ELF →
QEMU; every output equals the TFLite reference kernels', through the library and through the action."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from model_tools import run_py

from daemon.virtcore import build_firmware, elf_size, run_firmware

pytestmark = [pytest.mark.tvm, pytest.mark.usefixtures("riscv_tools"), pytest.mark.timeout(300)]
codegen = pytest.importorskip("daemon.codegen", reason="the reference C backend (issue 10) is not here yet")


def _reference(model: Path, vectors: np.ndarray) -> list[np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_path=str(model), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    results = []
    for vector in vectors:
        interpreter.set_tensor(inp["index"], vector)
        interpreter.invoke()
        results.append(interpreter.get_tensor(out["index"]).reshape(-1).copy())
    return results


@pytest.mark.parametrize("name", ["kws_dw1.tflite", "kws_cnn3.tflite", "kws_xs.tflite"])
def test_sample_models_are_bit_exact_on_rv32imc(samples: dict[str, Path], tmp_path: Path, name: str) -> None:
    model = samples[name]
    report = codegen.compile_c(model, tmp_path / "mlf.tar")
    vectors = np.random.default_rng(11).integers(-128, 128, size=(2, 1, 1960), dtype=np.int8)
    firmware = build_firmware(tmp_path / "mlf.tar", vectors, tmp_path / "build",
                              hashlib.sha256(model.read_bytes()).hexdigest())
    run = run_firmware(firmware.elf, timeout_s=120)
    assert run.passed and len(run.results) == 2
    for result, expected in zip(run.results, _reference(model, vectors), strict=True):
        assert list(result.out or ()) == expected.tolist()
        assert result.instructions is not None and result.instructions > report.macs  # at least one per MAC
    usage = elf_size(firmware.elf)
    assert usage.ram_bytes >= report.arena_bytes and usage.rom_bytes >= report.constants_bytes


def test_the_action_reports_bit_exact_metrics(samples: dict[str, Path], tmp_path: Path) -> None:
    model = samples["kws_dw1.tflite"]
    (tmp_path / "artifacts" / "reference-c").mkdir(parents=True)
    codegen.compile_c(model, tmp_path / "artifacts" / "reference-c" / "mlf.tar")  # where benchd/compile-c puts it
    env = {"BENCHD_MODEL": str(model), "BENCHD_WORKSPACE": str(tmp_path), "BENCHD_METRICS": str(tmp_path / "m"),
           "BENCHD_SUMMARY": str(tmp_path / "summary.md"), "BENCHD_INPUT_VECTORS": "3"}
    proc = run_py(["-m", "daemon.actions", "virtual-core"], env=env, timeout=200)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    virtual = json.loads((tmp_path / "m").read_text().splitlines()[0])["virtual"]
    assert virtual["bit_exact"] == 3 and virtual["vectors"] == 3 and virtual["backend"] == "reference-c"
    vectors = np.load(tmp_path / "artifacts/vectors/inputs.npy")
    assert virtual["outputs"] == [o.tolist() for o in _reference(model, vectors)]
    metadata = json.loads(_metadata(tmp_path / "artifacts" / "reference-c" / "mlf.tar"))
    assert virtual["arena_bytes"] == metadata["memory"]["functions"]["main"][0]["workspace_size_bytes"]
    assert "| 3/3 |" in (tmp_path / "summary.md").read_text()


def _metadata(archive: Path) -> str:
    import tarfile

    with tarfile.open(archive) as tar:
        member = tar.extractfile("metadata.json")
        assert member is not None
        return member.read().decode()
