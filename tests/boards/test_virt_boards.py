"""Simulated boards run what they are flashed with: a `virt` image (the virtual core's ELF) flashed through the
real esptool boots under QEMU on reset and its UART is the port's output; a `virt` image never reaches a
board that is not simulated; QEMU never outlives a reset, its time bound or the simulator."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_actions import context
from test_actions import setup as setup_boards

from daemon.actions import flash
from daemon.actions.context import ActionError
from daemon.boards.console import ConsoleJudge, watch
from daemon.boards.flasher import NotSimulated, flash_with_retries, probe, reset_to_app
from daemon.boards.health import BoardHealth
from daemon.boards.sim.virtapp import VirtApp
from daemon.errors import FlashError
from daemon.firmware.bundle import load_bundle
from daemon.firmware.virtimage import (
    APP_OFFSET,
    EFUSE_USR_DATA0,
    SIMULATOR_MARK,
    find_elf,
    pack_image,
    write_virt_bundle,
)

pytestmark = [pytest.mark.board, pytest.mark.timeout(120)]
TOOLS = ("riscv64-unknown-elf-gcc", "qemu-system-riscv32")


@pytest.fixture
def riscv_tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        reason = (f"needs {', '.join(missing)}: apt-get install gcc-riscv64-unknown-elf "
                  "picolibc-riscv64-unknown-elf qemu-system-misc")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true: " + reason)
        pytest.skip(reason)


def fake_virt_bundle(folder: Path) -> Path:
    """A bundle with a virt image whose ELF never runs: enough for routing, which reads only the marker."""
    elf = folder.parent / "fake.elf"
    folder.parent.mkdir(parents=True, exist_ok=True)
    elf.write_bytes(b"\x7fELF" + bytes(2_000))
    return write_virt_bundle(folder, elf, np.zeros((1, 4), np.int8), "reference-c", "0" * 64)


def clear_simulator_mark(sim, index: int = 0) -> None:
    """What a real C3 shows: eFuse BLOCK_USR_DATA all zeros."""
    for word in range(len(SIMULATOR_MARK) // 4):
        sim.boards[index]._regs[EFUSE_USR_DATA0 + 4 * word] = 0


# -- the image format --------------------------------------------------------------------------------------
def test_a_virt_image_is_found_only_intact_at_the_app_offset() -> None:
    elf = b"\x7fELF" + os.urandom(5_000)
    flash = bytearray(b"\xff" * (APP_OFFSET + 8_192))
    image = pack_image(elf)
    flash[APP_OFFSET : APP_OFFSET + len(image)] = image
    assert find_elf(flash) == elf
    assert find_elf(flash, offset=0) is None
    flash[APP_OFFSET + 100] ^= 0xFF  # one damaged byte in the ELF: not bootable
    assert find_elf(flash) is None
    with pytest.raises(FlashError, match="ELF"):
        pack_image(b"not an elf")


# -- routing: a virt image goes to simulated boards only -----------------------------------------------------
def test_the_simulator_identifies_itself_and_a_real_board_does_not(simulator) -> None:
    sim = simulator(2)
    clear_simulator_mark(sim, 1)
    assert probe(sim.ports[0]).simulated is True
    assert probe(sim.ports[1]).simulated is False


def test_a_virt_image_is_refused_by_a_real_board_before_anything_is_written(simulator, tmp_path: Path) -> None:
    sim = simulator(1)
    clear_simulator_mark(sim)
    bundle = load_bundle(fake_virt_bundle(tmp_path / "virt"))
    with pytest.raises(NotSimulated, match="real ESP32-C3.*`virt` image.*not flashed"):
        flash_with_retries(sim.ports[0], bundle, bauds=(460_800,))
    assert sim.boards[0].flash_writes == 0


def test_the_flash_action_refuses_a_virt_bundle_for_a_real_board(simulator, firmware: Path, tmp_path: Path) -> None:
    sim = simulator(1)
    clear_simulator_mark(sim)
    workspace, state, board = setup_boards(sim, tmp_path, firmware)
    virt = fake_virt_bundle(tmp_path / "virt")
    with pytest.raises(ActionError, match=f"board {board}: .* real ESP32-C3.*`virt` image.*not flashed"):
        flash.run(context("flash", workspace, state, board=board, firmware=str(virt)))
    assert sim.boards[0].flash_writes == 0
    assert BoardHealth(state / "benchd.sqlite3").status(board)["run_failures"] == 0  # not the board's fault
    # The ESP-IDF build still goes to the same board.
    flash.run(context("flash", workspace, state, board=board))
    assert sim.boards[0].flash_writes > 0


def test_a_virt_bundle_is_flashed_onto_a_simulated_board(simulator, firmware: Path, tmp_path: Path) -> None:
    sim = simulator(1)
    workspace, state, board = setup_boards(sim, tmp_path, firmware)
    virt = fake_virt_bundle(tmp_path / "virt")
    flash.run(context("flash", workspace, state, board=board, firmware=str(virt)))
    assert find_elf(sim.boards[0].flash) == (tmp_path / "fake.elf").read_bytes()


# -- executing what was flashed -----------------------------------------------------------------------------
@pytest.fixture
def kws_firmware(riscv_tools, samples: dict[str, Path], tmp_path: Path):
    """kws_dw1 through the reference backend, built for virt on 3 seeded vectors: (elf, vectors, model)."""
    codegen = pytest.importorskip("daemon.codegen")
    from daemon.virtcore import build_firmware

    model = samples["kws_dw1.tflite"]
    codegen.compile_c(model, tmp_path / "mlf.tar")
    vectors = np.random.default_rng(5).integers(-128, 128, size=(3, 1, 1960), dtype=np.int8)
    built = build_firmware(tmp_path / "mlf.tar", vectors, tmp_path / "build",
                           hashlib.sha256(model.read_bytes()).hexdigest())
    return built.elf, vectors, model


@pytest.mark.tvm
def test_a_flashed_virt_image_runs_on_reset_and_its_uart_is_the_console(simulator, kws_firmware,
                                                                       tmp_path: Path) -> None:
    from daemon.virtcore import run_firmware
    from daemon.virtcore.reference import exact_flags, reference_outputs

    elf, vectors, model = kws_firmware
    sim = simulator(1)
    bundle = load_bundle(write_virt_bundle(tmp_path / "virt", elf, vectors, "reference-c", "0" * 64))
    flash_with_retries(sim.ports[0], bundle)
    judge = ConsoleJudge(count=3)
    outcome = watch(sim.ports[0], tmp_path / "monitor.log", lambda ser: reset_to_app(ser, sim.ports[0]), 30, judge)
    assert outcome.status == "ok", outcome.message
    console = (tmp_path / "monitor.log").read_text()
    assert console.startswith("ESP-ROM:esp32c3") and "benchd: virt, model" in console
    assert "I (128) cpu_start" not in console  # nothing canned
    direct = run_firmware(elf)  # the same ELF straight under QEMU: the board printed exactly this
    from daemon.firmware.resultline import parse_result

    on_board = [parse_result(value) for value in outcome.results]
    assert [r.out for r in on_board] == [r.out for r in direct.results]
    assert [r.instructions for r in on_board] == [r.instructions for r in direct.results]
    assert all(exact_flags(on_board, reference_outputs(model, vectors)))
    assert sim.boards[0].app.boots == 2  # once after flashing, once for the monitor's reset


def test_qemu_is_killed_on_download_mode_and_when_the_simulator_stops(simulator, riscv_tools, tmp_path) -> None:
    elf = _endless_elf(tmp_path)
    sim = simulator(1)
    bundle = load_bundle(write_virt_bundle(tmp_path / "virt", elf, np.zeros((1, 4), np.int8), "reference-c", ""))
    flash_with_retries(sim.ports[0], bundle)
    app = sim.boards[0].app
    _wait_for(lambda: app.running)
    first = app._proc.pid
    probe(sim.ports[0])  # SYNC: the chip leaves the app for download mode, then the watchdog boots it again
    assert not _alive(first)
    _wait_for(lambda: app.running)
    second = app._proc.pid
    sim.stop()
    assert not app.running and not _alive(second)


def test_a_firmware_past_its_time_bound_is_stopped(riscv_tools, tmp_path: Path) -> None:
    flash = bytearray(b"\xff" * (APP_OFFSET + 64 * 1024))
    image = pack_image(_endless_elf(tmp_path).read_bytes())
    flash[APP_OFFSET : APP_OFFSET + len(image)] = image
    app = VirtApp(time_bound_s=0.5)
    try:
        assert app.boot(flash) is True
        pid = app._proc.pid
        assert app.read().startswith(b"ESP-ROM:esp32c3")  # the power-on banner, then the firmware's UART
        _wait_for(lambda: (app.read(), not app.running)[1], timeout=5)
        assert not _alive(pid)
        assert app.boot(flash, faults=("panic",)) is False and not app.running  # faults keep their canned story
        assert app.boot(bytearray(b"\xff" * len(flash))) is False  # nothing flashed: the ROM's loop, canned
    finally:
        app.stop()


def _endless_elf(tmp_path: Path) -> Path:
    source, elf = tmp_path / "loop.S", tmp_path / "loop.elf"
    source.write_text(".globl _start\n_start:\n  j _start\n")
    subprocess.run(["riscv64-unknown-elf-gcc", "-march=rv32imc", "-mabi=ilp32", "-nostdlib",
                    "-Wl,-Ttext=0x80000000", str(source), "-o", str(elf)], check=True, capture_output=True)
    return elf


def _alive(pid: int) -> bool:
    """Whether anything of the process group QEMU was started in (`timeout` and QEMU) is left."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for(condition, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_board_entry_counts_the_outputs_equal_to_the_reference() -> None:
    from daemon.actions.monitor import board_entry
    from daemon.boards.console import ConsoleResult

    def line(vector: int, out: list[int]) -> dict:
        return {"v": 2, "instructions": 1_000 + vector, "top": [], "out": out, "ok": True, "vector": vector}

    outcome = ConsoleResult("ok", "3 result lines", [line(1, [3, 4]), line(0, [1, 2]), line(2, [9, 9])])
    expected = [np.array([1, 2]), np.array([3, 4]), np.array([5, 6])]
    entry = board_entry({"id": "b", "image": "virt"}, outcome, "monitor.log", expected)
    assert entry["bit_exact"] == 2 and entry["vectors"] == 3 and entry["image"] == "virt"  # matched by "vector"
    assert entry["instructions"] == 1_001 and entry["cycles_per_inference"] is None
    plain = board_entry({"id": "b"}, outcome, "monitor.log")  # an ESP-IDF image: nothing to compare against
    assert plain["bit_exact"] is None and plain["vectors"] is None
