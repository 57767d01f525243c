"""Building the virtual core's firmware: target/runner + target/virt + an MLF archive's C sources → one ELF.

The toolchain is Debian's: `riscv64-unknown-elf-gcc -march=rv32imc -mabi=ilp32 -O2` with picolibc (its
rv32im/ilp32 libraries: Debian ships no rv32imc multilib, and rv32im code runs on the C3 unchanged).
The test vectors and the I/O binding go into benchd_model.h through target/tools/gen_model_header.py, the
same generator the ESP-IDF firmware uses.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from daemon.errors import VirtCoreError
from daemon.virtcore.extract import MlfTree, extract_archive

CC = "riscv64-unknown-elf-gcc"
ARCH_FLAGS = ("-march=rv32imc", "-mabi=ilp32")
C_FLAGS = ("-O2", "-Wall", "-ffunction-sections", "-fdata-sections", "--specs=picolibc.specs")
LINK_FLAGS = ("-nostartfiles", "-Wl,--gc-sections")
BUILD_TIMEOUT_S = 300.0
INPUT_DTYPES = ("int8", "int16", "float32")  # what gen_model_header.py binds
SRAM_OVERFLOW = re.compile(r"region `ram' overflowed by (\d+) bytes")
# Where target/ is: beside the package in a checkout, or where the benchd/riscv image copies it.
TARGET_CANDIDATES = (Path(__file__).resolve().parents[2] / "target", Path("/opt/benchd/target"))


@dataclass(frozen=True)
class Firmware:
    elf: Path
    header: Path  # the generated benchd_model.h
    mlf: MlfTree
    vectors: int
    input_size: int  # bytes
    output_size: int  # bytes


def default_target_dir() -> Path:
    for candidate in TARGET_CANDIDATES:
        if (candidate / "virt" / "link.ld").is_file():
            return candidate
    raise VirtCoreError("benchd's firmware sources (target/virt, target/runner) are not here: run from a benchd "
                        "checkout, or in the benchd/riscv image (/opt/benchd/target)")


def build_firmware(archive: Path, vectors: np.ndarray, work_dir: Path, model_sha256: str,
                   output_size: int | None = None, target_dir: Path | None = None,
                   output_dtype: str | None = None) -> Firmware:
    """Extracts `archive` into work_dir/mlf and builds work_dir/firmware.elf around `vectors` (N × input, int8,
    int16 or float32: the input's type). `output_size` is in bytes; sizes and the output's type default to
    the archive's metadata.json."""
    target = target_dir or default_target_dir()
    if shutil.which(CC) is None:
        raise VirtCoreError(f"{CC} is not installed: `apt-get install gcc-riscv64-unknown-elf "
                            "picolibc-riscv64-unknown-elf`, or run the job in the benchd/riscv image")
    if vectors.dtype.name not in INPUT_DTYPES or vectors.ndim < 2 or vectors.shape[0] == 0:
        raise VirtCoreError(f"test vectors must be int8, int16 or float32 with shape (N, ...input shape), not "
                            f"{vectors.dtype} {vectors.shape}")
    mlf = extract_archive(archive, work_dir / "mlf")
    input_size = int(np.prod(vectors.shape[1:])) * vectors.dtype.itemsize
    header = _write_model_header(target, mlf, vectors, input_size, output_size, model_sha256, work_dir,
                                 output_dtype)
    elf = work_dir / "firmware.elf"
    _compile(target, mlf, header, elf)
    return Firmware(elf, header, mlf, int(vectors.shape[0]), input_size, _defined(header, "BENCHD_OUTPUT_SIZE"))


def _write_model_header(target: Path, mlf: MlfTree, vectors: np.ndarray, input_size: int, output_size: int | None,
                        model_sha256: str, work_dir: Path, output_dtype: str | None) -> Path:
    raw = work_dir / "vectors.bin"
    raw.write_bytes(np.ascontiguousarray(vectors).tobytes())
    header = work_dir / "gen" / "benchd_model.h"
    argv = [sys.executable, str(target / "tools" / "gen_model_header.py"), "--mlf", str(mlf.root),
            "--sha256", model_sha256, "--inputs", str(raw), "--input-size", str(input_size),
            "--input-dtype", vectors.dtype.name, "--out", str(header)]
    if output_size:
        argv += ["--output-size", str(output_size)]
    if output_dtype:
        argv += ["--output-dtype", output_dtype]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    if proc.returncode != 0:
        raise VirtCoreError(f"gen_model_header.py failed: {(proc.stderr or proc.stdout).strip()[-800:]}")
    return header


def _compile(target: Path, mlf: MlfTree, header: Path, elf: Path) -> None:
    runner, virt = target / "runner", target / "virt"
    sources = [virt / "start.S", virt / "platform.c", runner / "model_runner.c", runner / "sha256.c", *mlf.sources]
    if mlf.has_runtime:
        sources.append(runner / "crt_platform.c")  # the TVM CRT's platform hooks, on picolibc
    includes = [runner, header.parent, *mlf.include_dirs]
    argv = [CC, *ARCH_FLAGS, *C_FLAGS, *(f"-I{d}" for d in includes), *LINK_FLAGS, "-T", str(virt / "link.ld"),
            *map(str, sources), "-o", str(elf)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,  # noqa: S603
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise VirtCoreError(f"building the virt firmware took over {BUILD_TIMEOUT_S:.0f} s; gave up") from exc
    if proc.returncode != 0:
        overflow = SRAM_OVERFLOW.search(proc.stderr)
        if overflow:
            raise VirtCoreError(f"the model does not fit the ESP32-C3's 400 KB SRAM: {int(overflow.group(1)):,} "
                                "bytes over (static data, arena and the 16 KB stack); shrink the model or its arena")
        raise VirtCoreError("the virt firmware did not build; the compiler said:\n" + _tail(proc.stderr))


def _defined(header: Path, name: str) -> int:
    match = re.search(rf"#define {name} (\d+)", header.read_text())
    return int(match.group(1)) if match else 0


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
