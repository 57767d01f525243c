"""The firmware's sources, as main/CMakeLists.txt registers them, cross-compiled for the C3 under ESP-IDF
v5.3.1's flags (tests/firmware/fw_compile.py), linked, and run on QEMU's RV32 `virt` with the ESP-IDF calls
stubbed (idf_stubs/): for compile-c's archive and TVM-shaped ones."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from fw_archives import IN_SIZE, OUT_SIZE, SHA, gen_header
from fw_cmake import register
from fw_compile import ARCH, CC, ESP_IDF_FLAGS, GCC14_ERRORS, compile_registered, link_for_qemu

from daemon.virtcore.qemu import qemu_argv

pytestmark = pytest.mark.usefixtures("riscv_tools")
PASSES = 2


VECTORS = np.random.default_rng(17).integers(-128, 128, size=(3, IN_SIZE), dtype=np.int8)


def _build_and_run(mlf: Path, work: Path) -> subprocess.CompletedProcess[str]:
    header, raw = work / "gen" / "benchd_model.h", work / "vectors.bin"
    work.mkdir(parents=True, exist_ok=True)
    raw.write_bytes(VECTORS.tobytes())
    made = gen_header(mlf, header, "--inputs", str(raw), "--input-size", str(IN_SIZE), "--output-size", str(OUT_SIZE))
    assert made.returncode == 0, made.stderr
    defines = {"BENCHD_MLF": str(mlf), "BENCHD_MODEL_HEADER": str(header)}
    rc, reg = register(work / "cmake", early=False, defines=defines)
    assert rc == 0, reg.output
    objects, failures = compile_registered(reg, work / "obj")
    assert not failures, "\n\n".join(failures)
    linked = link_for_qemu(objects, work / "obj", passes=PASSES)
    assert linked.returncode == 0, linked.stderr[-3000:]
    run = subprocess.run(qemu_argv(work / "obj" / "firmware.elf"), capture_output=True, text=True, timeout=120,
                         check=False)
    return run


def _results(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line.split("BENCHD_RESULT ", 1)[1]) for line in stdout.splitlines() if "BENCHD_RESULT " in line]


@pytest.mark.parametrize("name", ["reference-c", "tvm-0.18", "tvm-0.18-no-usmp", "tvm-0.9", "tvm-v6"])
def test_firmware_compiles_links_and_keeps_printing(name: str, archives: dict[str, Path], tmp_path: Path) -> None:
    run = _build_and_run(archives[name], tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-1000:]  # 0: vTaskDelay's stub ended pass 2
    results = _results(run.stdout)
    # app_main never returns: it runs the vectors, waits, and runs them again (USB-Serial-JTAG drops unread output).
    assert [r["vector"] for r in results] == [0, 1, 2] * PASSES, run.stdout[-2000:]
    assert "app_main returned" not in run.stdout
    assert run.stdout.count("stub: vTaskDelay(500)") == PASSES  # 5000 ms at ESP-IDF's 100 Hz tick
    assert all(r["ok"] and r["model_sha256"] == SHA and isinstance(r["cycles"], int) for r in results)
    first, second = results[:3], results[3:]
    assert [r["out"] for r in first] == [r["out"] for r in second]
    if name.startswith("tvm"):  # the TVM-shaped model is a known transform: check its every output
        for vector, result in zip(VECTORS, first, strict=True):
            flat = vector.astype(np.int32)
            expected = [int(np.clip(3 * flat[i % flat.size] + 7 - i, -128, 127)) for i in range(OUT_SIZE)]
            assert result["out"] == expected


def test_tvm_09s_workspace_pointer_is_a_gcc14_error_left_a_warning(archives: dict[str, Path], tmp_path: Path) -> None:
    """TVM 0.9 passes `&global_workspace` as uint8_t*: with GCC 14's default errors that stops the build unless
    the generated sources keep it a warning, which main/CMakeLists.txt does for them alone."""
    lib0 = archives["tvm-0.9"] / "codegen/host/src/default_lib0.c"
    assert ",&global_workspace)" in lib0.read_text()
    includes = [f"-I{archives['tvm-0.9'] / d}" for d in ("codegen/host/include", "runtime/include")]
    argv = [CC, *ARCH, *ESP_IDF_FLAGS, *GCC14_ERRORS, "--specs=picolibc.specs", *includes,
            "-c", str(lib0), "-o", str(tmp_path / "lib0.o")]
    strict = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert strict.returncode != 0 and "incompatible-pointer-types" in strict.stderr
    header = tmp_path / "gen" / "benchd_model.h"
    assert gen_header(archives["tvm-0.9"], header, "--input-size", str(IN_SIZE), "--output-size",
                      str(OUT_SIZE)).returncode == 0
    rc, reg = register(tmp_path / "cmake", early=False, defines={"BENCHD_MLF": str(archives["tvm-0.9"]),
                                                                 "BENCHD_MODEL_HEADER": str(header)})
    assert rc == 0, reg.output
    relaxed = subprocess.run([*argv[:-3], *reg.source_options[str(lib0)], *argv[-3:]], capture_output=True,
                             text=True, timeout=120, check=False)
    assert relaxed.returncode == 0, relaxed.stderr
    assert "incompatible-pointer-types" in relaxed.stderr  # still said, as a warning
