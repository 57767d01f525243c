"""docker/espidf/benchd-build-firmware without ESP-IDF: a stand-in `idf.py` (from a stand-in export.sh) records how
it is called, everything else is real: the compile-c archive, its safe extraction, target/tools/gen_model_header.py
on the raw inputs, and the build folder the flash job reads (flasher_args.json, benchd-vectors.bin)."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import numpy as np

from daemon import codegen

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docker" / "espidf" / "benchd-build-firmware"
IDF_PY = """#!/bin/bash
printf '%s\\n' "$@" > "$IDF_CALLS"
while [ $# -gt 0 ]; do case "$1" in -B) out=$2; shift 2 ;; *) shift ;; esac; done
echo '{"flash_files": {"0x0": "bootloader/bootloader.bin"}}' > "$out/flasher_args.json"
"""


def fake_idf(tmp_path: Path) -> dict[str, str]:
    idf = tmp_path / "idf"
    (idf / "bin").mkdir(parents=True)
    (idf / "export.sh").write_text(f'export PATH="{idf / "bin"}:$PATH"\n')
    (idf / "bin" / "idf.py").write_text(IDF_PY)
    (idf / "bin" / "idf.py").chmod(0o755)
    return {**os.environ, "IDF_PATH": str(idf), "IDF_CALLS": str(tmp_path / "idf-calls"),
            "BENCHD_TARGET_DIR": str(ROOT / "target")}


def build(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=120)


def test_the_compile_c_archive_becomes_an_esp_idf_build_folder(samples, tmp_path: Path) -> None:
    model = samples["kws_xs.tflite"]
    archive = tmp_path / "artifacts" / "reference-c" / "mlf.tar"
    codegen.compile_c(model, archive)
    vectors = np.random.default_rng(3).integers(-128, 128, size=(3, 1960), dtype=np.int8)
    raw = tmp_path / "firmware.bin"
    raw.write_bytes(vectors.tobytes())
    out = tmp_path / "ws" / "firmware" / "reference-c"
    env = fake_idf(tmp_path)
    proc = build(env, "--model", str(model), "--inputs", str(raw), "--input-size", "1960", "--output-size", "12",
                 str(archive), str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    project = tmp_path / "ws" / "firmware" / "reference-c-src"  # one project copy per output: backends side by side
    assert (tmp_path / "idf-calls").read_text().splitlines() == [
        "-C", f"{project}/esp-idf", "-B", str(out), f"-DBENCHD_MLF={project}/mlf",
        f"-DBENCHD_MODEL_HEADER={project}/gen/benchd_model.h", "set-target", "esp32c3", "build"]
    assert (project / "mlf" / "codegen" / "host" / "include" / "tvmgen_default.h").is_file()
    header = (project / "gen" / "benchd_model.h").read_text()
    assert f'"{hashlib.sha256(model.read_bytes()).hexdigest()}"' in header
    assert "BENCHD_VECTOR_COUNT 3" in header and ", ".join(map(str, vectors[0][:8])) in header
    assert (out / "flasher_args.json").is_file()
    assert (out / "benchd-vectors.bin").read_bytes() == raw.read_bytes()  # what the monitor checks against


def test_an_archive_reaching_out_of_the_project_is_refused(samples, tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("../../escaped.c")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"x;\n"))
    proc = build(fake_idf(tmp_path), "--model", str(samples["kws_xs.tflite"]), str(archive), str(tmp_path / "out"))
    assert proc.returncode != 0 and "unsafe member" in proc.stdout + proc.stderr
    assert not (tmp_path / "idf-calls").exists() and not list(tmp_path.rglob("escaped.c"))


def test_without_a_model_it_says_what_to_pass(tmp_path: Path) -> None:
    (tmp_path / "mlf.tar").write_bytes(b"")
    env = {k: v for k, v in fake_idf(tmp_path).items() if k != "BENCHD_MODEL"}
    proc = build(env, str(tmp_path / "mlf.tar"), str(tmp_path / "out"))
    assert proc.returncode == 2 and "pass --model or set BENCHD_MODEL" in proc.stdout
