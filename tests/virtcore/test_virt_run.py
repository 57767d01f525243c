"""Build → QEMU on hand-written MLF archives: executed outputs, instruction counts, sizes and the bad cases."""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from mlf_fixture import expected_transform, write_archive

from daemon.virtcore import VirtCoreError, build_firmware, elf_size, run_firmware
from daemon.virtcore.elfsize import memory_usage
from daemon.virtcore.qemu import EXIT_INFERENCE_FAILED, EXIT_PASSED, EXIT_TRAPPED

pytestmark = [pytest.mark.usefixtures("riscv_tools"), pytest.mark.timeout(120)]
SHA = "5e" * 32


def _vectors(count: int, size: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, size=(count, size), dtype=np.int8)


def _build(tmp_path: Path, inputs: int, outputs: int, vectors: np.ndarray | None = None, **archive: str):
    vectors = _vectors(3, inputs) if vectors is None else vectors
    tmp_path.mkdir(parents=True, exist_ok=True)
    mlf = write_archive(tmp_path / "mlf.tar", inputs, outputs, **archive)
    return build_firmware(mlf, vectors, tmp_path / "build", SHA), vectors


def test_outputs_and_instruction_counts_come_from_executed_code(tmp_path: Path) -> None:
    firmware, vectors = _build(tmp_path, 16, 8)
    run = run_firmware(firmware.elf, timeout_s=30)
    assert run.passed and run.exit_code == EXIT_PASSED and len(run.results) == 3
    for index, (result, vector) in enumerate(zip(run.results, vectors, strict=True)):
        assert result.version == 2 and result.ok and result.vector == index and result.model_sha256 == SHA
        assert list(result.out or ()) == expected_transform(vector, 8)
        assert result.instructions is not None and 8 * 5 < result.instructions < 8 * 100


def test_instructions_grow_with_the_work_and_large_outputs_are_hashed(tmp_path: Path) -> None:
    small, _ = _build(tmp_path / "small", 16, 8)
    large, vectors = _build(tmp_path / "large", 16, 800)
    small_run, large_run = run_firmware(small.elf, 30), run_firmware(large.elf, 30)
    assert large_run.passed and large.output_size == 800
    for result, vector in zip(large_run.results, vectors, strict=True):
        expected = np.array(expected_transform(vector, 800), dtype=np.int8).tobytes()
        assert result.out is None and result.out_sha256 == hashlib.sha256(expected).hexdigest()
    per_output_small = small_run.results[0].instructions / 8  # type: ignore[operator]
    per_output_large = large_run.results[0].instructions / 800  # type: ignore[operator]
    assert 0.5 < per_output_large / per_output_small < 2  # the same loop: about the same cost per output


def test_elf_size_follows_the_section_rules_and_agrees_with_size_a(tmp_path: Path) -> None:
    firmware, _ = _build(tmp_path, 16, 8, extra="static int8_t scratch[3000]; const int8_t table[2000] = {1};",
                         body="scratch[in[0] & 1023] = table[in[1] & 1023]; out[0] = scratch[5];")
    usage = elf_size(firmware.elf)
    listing = subprocess.run(["riscv64-unknown-elf-size", "-A", str(firmware.elf)], capture_output=True, text=True,
                             check=True, timeout=30).stdout
    sizes = {f[0]: int(f[1]) for f in (line.split() for line in listing.splitlines()[2:]) if len(f) == 3}
    rom = sum(v for k, v in sizes.items() if k.startswith((".text", ".data", ".sdata", ".tdata")) or "rodata" in k)
    ram = sum(v for k, v in sizes.items() if k.startswith((".data", ".sdata", ".tdata", ".bss", ".sbss")))
    assert (usage.rom_bytes, usage.ram_bytes) == (rom, ram)
    assert usage.ram_bytes >= 3000 and usage.rom_bytes >= 2000 + 16 * 3  # the scratch array; the table, vectors
    assert ".stack" in usage.sections and usage.ram_bytes < usage.sections[".stack"]  # the stack is not counted


def test_section_rules_on_names() -> None:
    usage = memory_usage({".text.main": 10, ".srodata.cst4": 1, ".rodata": 2, ".data.x": 100, ".sdata": 1000,
                          ".bss": 10_000, ".sbss.y": 100_000, ".noinit": 1_000_000, ".stack": 7, ".comment": 9})
    assert usage.rom_bytes == 10 + 1 + 2 + 100 + 1000
    assert usage.ram_bytes == 100 + 1000 + 10_000 + 100_000 + 1_000_000


def test_a_firmware_that_never_exits_is_killed_at_the_time_bound(tmp_path: Path) -> None:
    firmware, _ = _build(tmp_path, 16, 8, body="for (volatile int spin = 1; spin;) {}")
    start = time.monotonic()
    with pytest.raises(VirtCoreError, match=r"did not exit within 3 s, so QEMU was killed") as err:
        run_firmware(firmware.elf, timeout_s=3)
    assert time.monotonic() - start < 10
    assert "test vectors" in str(err.value)  # the console's last lines: the platform's banner


def test_a_failed_inference_is_reported_not_ok(tmp_path: Path) -> None:
    firmware, _ = _build(tmp_path, 16, 8, body="if (in[0] != 0x7f) return -1;")
    run = run_firmware(firmware.elf, 30)
    assert run.exit_code == EXIT_INFERENCE_FAILED and not run.passed
    assert [r.ok for r in run.results] == [False, False, False]


def test_a_trap_ends_the_run_at_once_with_the_cause(tmp_path: Path) -> None:
    firmware, _ = _build(tmp_path, 16, 8, body="__asm__ volatile(\".word 0\");")  # an illegal instruction
    run = run_firmware(firmware.elf, 30)
    assert run.exit_code == EXIT_TRAPPED and "trap mcause=0x2" in run.console and not run.results


def test_an_archive_that_does_not_link_names_the_missing_symbol(tmp_path: Path) -> None:
    with pytest.raises(VirtCoreError, match=r"did not build[\s\S]*undefined reference to `tvmgen_missing_kernel'"):
        _build(tmp_path, 16, 8, extra="int32_t tvmgen_missing_kernel(void);", body="tvmgen_missing_kernel();")


def test_a_model_too_big_for_the_c3_sram_names_the_bytes_over(tmp_path: Path) -> None:
    with pytest.raises(VirtCoreError, match=r"400 KB SRAM: [\d,]+ bytes over"):
        _build(tmp_path, 16, 8, extra="static int8_t arena[500 * 1024];",
               body="arena[in[0] & 4095] = 1; out[1] = arena[in[1] & 4095];")


def test_vectors_of_the_wrong_type_are_refused(tmp_path: Path) -> None:
    with pytest.raises(VirtCoreError, match="must be int8, int16 or float32"):
        _build(tmp_path, 16, 8, vectors=np.zeros((2, 16), dtype=np.float64))


def test_the_counter_is_retired_instructions_exactly(tmp_path: Path) -> None:
    """A loop of known length adds exactly its instructions: rdinstret counts instructions, not host time."""
    loop = 'int32_t n; __asm__ volatile("li %0, 1000\\n1: addi %0, %0, -1\\nbnez %0, 1b" : "=r"(n));'
    plain, vectors = _build(tmp_path / "plain", 16, 8)
    looping, _ = _build(tmp_path / "loop", 16, 8, vectors=vectors, body=loop)
    base = [r.instructions for r in run_firmware(plain.elf, 30).results]
    more = [r.instructions for r in run_firmware(looping.elf, 30).results]
    assert [m - b for m, b in zip(more, base, strict=True)] == [1 + 2 * 1000] * 3  # type: ignore[operator]
