"""Models with float32 or int16 inputs and outputs on the virtual core: vectors of the input's type, outputs
reported byte for byte on the BENCHD_RESULT line and compared exactly with the TFLite reference kernels."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from model_tools import run_py

from daemon.virtcore import build_firmware, run_firmware
from daemon.virtcore.reference import decode_output, output_bytes, reference_outputs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "codegen"))  # the generated conversion models
import models_conversion as mc

pytestmark = [pytest.mark.tvm, pytest.mark.usefixtures("riscv_tools"), pytest.mark.timeout(300)]
codegen = pytest.importorskip("daemon.codegen")


def _action(model: Path, workspace: Path, **inputs: str):  # type: ignore[no-untyped-def]
    env = {"BENCHD_MODEL": str(model), "BENCHD_WORKSPACE": str(workspace), "BENCHD_OUTPUT": str(workspace / "out"),
           "BENCHD_METRICS": str(workspace / "metrics"), "BENCHD_SUMMARY": str(workspace / "summary.md")}
    env.update({"BENCHD_INPUT_" + k.upper().replace("-", "_"): v for k, v in inputs.items()})
    return run_py(["-m", "daemon.actions", "virtual-core"], env=env, timeout=250)


def _compiled(tmp_path: Path, name: str, data: bytes) -> Path:
    model = tmp_path / name
    model.write_bytes(data)
    (tmp_path / "artifacts" / "reference-c").mkdir(parents=True)
    codegen.compile_c(model, tmp_path / "artifacts" / "reference-c" / "mlf.tar")  # where benchd/compile-c puts it
    return model


def test_a_float_io_model_is_bit_exact_through_the_action(tmp_path: Path) -> None:
    model = _compiled(tmp_path, "float_cnn.tflite", mc.float_io_cnn())
    proc = _action(model, tmp_path, vectors="3", seed="4")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    virtual = json.loads((tmp_path / "metrics").read_text().splitlines()[0])["virtual"]
    assert virtual["bit_exact"] == 3 and virtual["vectors"] == 3 and virtual["output_dtype"] == "float32"
    vectors = np.load(tmp_path / "artifacts/vectors/inputs.npy")
    assert vectors.dtype == np.float32 and vectors.shape == (3, 1, 9, 7, 2)
    lo, hi = 0.04 * (-128 + 7), 0.04 * (127 + 7)  # the input QUANTIZE's range (scale 0.04, zero point -7)
    assert vectors.min() >= lo and vectors.max() <= hi and vectors.max() - vectors.min() > 0.8 * (hi - lo)
    want = reference_outputs(model, vectors)
    # outputs in metrics are the float values, equal to the reference's to the bit
    assert [np.array(o, np.float32).tobytes() for o in virtual["outputs"]] == [w.tobytes() for w in want]
    assert len({v for o in virtual["outputs"] for v in o}) > 8  # the outputs vary
    assert "| 3/3 |" in (tmp_path / "summary.md").read_text()


def test_int16_io_with_a_large_output_compares_its_sha256(tmp_path: Path) -> None:
    # int16 -> int16 requantization of 41 values: 82 output bytes, reported as out_sha256
    data = mc.quantize((41,), "int16", "int16", (0.0009, 0), (0.0004, 0))
    model = _compiled(tmp_path, "rq16.tflite", data)
    vectors = np.random.default_rng(3).integers(-32768, 32768, (2, 41), dtype=np.int16)
    firmware = build_firmware(tmp_path / "artifacts" / "reference-c" / "mlf.tar", vectors, tmp_path / "build",
                              hashlib.sha256(data).hexdigest())
    assert firmware.input_size == 82 and firmware.output_size == 82  # bytes, from the metadata
    run = run_firmware(firmware.elf, timeout_s=120)
    assert run.passed and len(run.results) == 2
    for result, want in zip(run.results, reference_outputs(model, vectors), strict=True):
        assert result.out is None and result.out_sha256 == hashlib.sha256(want.tobytes()).hexdigest()
        top = sorted(range(41), key=lambda i: (-int(want[i]), i))[:3]
        assert list(result.top) == [(i, int(want[i])) for i in top]


def test_float_output_bytes_and_top_in_millionths(tmp_path: Path) -> None:
    data = mc.dequantize((1, 7), "int8", (0.0371, -11))
    model = _compiled(tmp_path, "dq.tflite", data)
    vectors = np.random.default_rng(8).integers(-128, 128, (2, 1, 7), dtype=np.int8)
    firmware = build_firmware(tmp_path / "artifacts" / "reference-c" / "mlf.tar", vectors, tmp_path / "build",
                              hashlib.sha256(data).hexdigest())
    run = run_firmware(firmware.elf, timeout_s=120)
    assert run.passed and len(run.results) == 2
    for result, want in zip(run.results, reference_outputs(model, vectors), strict=True):
        flat = want.reshape(-1)
        assert result.out == tuple(output_bytes(want).tolist())  # 28 bytes inline
        assert decode_output(result.out, "float32") == flat.tolist()
        top = sorted(range(7), key=lambda i: (-flat[i], i))[:3]
        assert list(result.top) == [(i, int(np.round(np.float64(flat[i] * np.float32(1e6))))) for i in top]


def test_a_model_float_inside_stays_refused(samples: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "artifacts" / "reference-c").mkdir(parents=True)
    (tmp_path / "artifacts" / "reference-c" / "mlf.tar").write_bytes(b"")  # never read: refused before
    proc = _action(samples["kws_float.tflite"], tmp_path)
    assert proc.returncode == 1 and "float model" in proc.stdout and "float32 only at the edges" in proc.stdout


def test_the_header_generator_seeds_float_vectors_over_the_quantized_range(tmp_path: Path) -> None:
    """The ESP-IDF build runs gen_model_header.py without --inputs: seeded vectors of the metadata's dtype."""
    import struct
    import subprocess

    from daemon.virtcore import extract_archive

    _compiled(tmp_path, "float_cnn.tflite", mc.float_io_cnn())
    mlf = extract_archive(tmp_path / "artifacts" / "reference-c" / "mlf.tar", tmp_path / "mlf")
    header = tmp_path / "benchd_model.h"
    tool = Path(__file__).resolve().parents[2] / "target" / "tools" / "gen_model_header.py"
    subprocess.run([sys.executable, str(tool), "--mlf", str(mlf.root), "--sha256", "ab" * 32, "--vectors", "2",
                    "--out", str(header)], check=True, timeout=60)
    text = header.read_text()
    assert "#define BENCHD_INPUT_TYPE float" in text and "#define BENCHD_OUTPUT_FLOAT 1" in text
    assert "#define BENCHD_INPUT_SIZE 504" in text and "#define BENCHD_OUTPUT_SIZE 24" in text
    body = text.split("benchd_vectors[2][504] = {", 1)[1].split("};", 1)[0]
    rows = [[int(v) for v in row.strip(" {},\n").split(",")] for row in body.split("},") if row.strip(" {},\n")]
    values = [struct.unpack("<126f", bytes(b & 0xFF for b in row)) for row in rows]
    lo, hi = 0.04 * (-128 + 7), 0.04 * (127 + 7)
    assert len(values) == 2 and all(lo <= v <= hi for row in values for v in row)
    assert max(values[0]) - min(values[0]) > 0.8 * (hi - lo)


def test_a_board_entry_shows_float_outputs_as_values() -> None:
    from daemon.actions.monitor import board_entry
    from daemon.boards.console import ConsoleResult

    want = [np.array([[0.5, -1.25, 3.0]], np.float32), np.array([[2.0, 0.0, -0.125]], np.float32)]
    lines = [{"v": 2, "instructions": 10, "top": [], "out": output_bytes(w).tolist(), "ok": True, "vector": k}
             for k, w in enumerate(want)]
    lines[1]["out"][0] ^= 1  # one bit off in the second output
    entry = board_entry({"id": "b", "image": "virt"}, ConsoleResult("ok", "2 lines", lines), "log", want)
    assert entry["bit_exact"] == 1 and entry["outputs"][0] == [0.5, -1.25, 3.0]
    assert entry["outputs"][1] != [2.0, 0.0, -0.125] and len(entry["outputs"][1]) == 3
