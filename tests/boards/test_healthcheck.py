"""The health check: a board passes only when it prints exactly the known-good firmware's result lines; a bad
board fails with a sentence that says what was wrong; the firmware is built once per cache folder."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from conftest import MODEL_SHA, make_firmware
from test_virt_boards import clear_simulator_mark

from daemon.boards import healthcheck, healthfirmware
from daemon.boards.console import ConsoleResult
from daemon.boards.discovery import Board, discover
from daemon.boards.healthcheck import HealthVerdict, check_board, judge
from daemon.boards.lease import BoardLease, LeaseBusy
from daemon.boards.sim.bootlog import corrupt_result, result_line
from daemon.boards.sim.spec import BoardSpec
from daemon.settings import BoardSettings, Settings

pytestmark = [pytest.mark.board, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the tests that are not about the cache: the firmware is built once for them."""
    return tmp_path_factory.mktemp("healthcheck")


def board_and_settings(sim, tmp_path: Path, **boards: object) -> tuple[Board, Settings]:
    settings = Settings(state=tmp_path / "state", boards=BoardSettings(ports=tuple(sim.ports), **boards))
    (board,) = discover(settings.boards, settings.state)
    return board, settings


def result_lines(log: Path) -> list[str]:
    return [line.rstrip("\r") for line in log.read_text().splitlines() if "BENCHD_RESULT " in line]


# -- a healthy board -----------------------------------------------------------------------------------------
def test_a_healthy_simulated_board_passes_with_the_exact_lines(simulator, riscv_tools, shared_cache: Path,
                                                              tmp_path: Path) -> None:
    sim = simulator(1)
    board, settings = board_and_settings(sim, tmp_path)
    assert board.simulated
    verdict = check_board(board, settings, shared_cache, timeout_s=30)
    assert verdict.ok, verdict.reason
    assert verdict.lines == 3 and verdict.reason.startswith("printed the 3 expected result lines")
    firmware = healthfirmware.health_firmware(shared_cache)
    printed = result_lines(shared_cache / "logs" / f"{board.id}.log")
    assert printed == list(firmware.expected)  # what the board printed is, byte for byte, what QEMU printed
    assert all(json.loads(line.split(" ", 1)[1])["ok"] for line in printed)
    assert sim.boards[0].flash_writes > 0 and sim.boards[0].app.boots == 2  # flashed, then reset by the reader


# -- bad boards ----------------------------------------------------------------------------------------------
def test_a_board_with_wrong_outputs_fails_naming_the_field(simulator, riscv_tools, shared_cache: Path,
                                                           tmp_path: Path) -> None:
    sim = simulator(1, faults=["bad-output"])
    board, settings = board_and_settings(sim, tmp_path)
    verdict = check_board(board, settings, shared_cache, timeout_s=30)
    assert not verdict.ok and verdict.lines == 3
    assert verdict.reason.startswith('result line 1 of 3 differs: "out" is [')
    expected = json.loads(healthfirmware.health_firmware(shared_cache).expected[0].split(" ", 1)[1])["out"]
    assert f"expected {json.dumps(expected)}" in verdict.reason
    assert f"console in {shared_cache / 'logs'}" in verdict.reason


def test_a_board_whose_flash_fails_is_bad_with_the_flashers_reason(simulator, riscv_tools, shared_cache: Path,
                                                                    tmp_path: Path) -> None:
    sim = simulator(1, faults=["bad-md5"])
    board, settings = board_and_settings(sim, tmp_path)
    verdict = check_board(board, settings, shared_cache, timeout_s=30)
    assert not verdict.ok and verdict.lines == 0
    assert verdict.reason.startswith("flash failed: could not flash") and "MD5" in verdict.reason


def test_a_silent_board_is_bad_with_the_count_of_lines(simulator, riscv_tools, shared_cache: Path,
                                                       tmp_path: Path) -> None:
    sim = simulator(1, faults=["silent"])
    board, settings = board_and_settings(sim, tmp_path)
    verdict = check_board(board, settings, shared_cache, timeout_s=2)
    assert verdict == HealthVerdict(False, verdict.reason, 0)
    assert verdict.reason.startswith("printed 0 of 3 result lines in 2 s (no output at all from")


def test_the_judge_on_plain_console_text(tmp_path: Path) -> None:
    expected = ('BENCHD_RESULT {"v": 2, "top": [[1, 5]], "out": [1, 5], "ok": true, "vector": 0}',
                'BENCHD_RESULT {"v": 2, "top": [[0, 7]], "out": [7, 2], "ok": true, "vector": 1}')
    log = tmp_path / "b.log"

    def verdict(*lines: str, status: str = "ok") -> HealthVerdict:
        return judge(ConsoleResult(status, "the console's own words", lines=list(lines), seconds=1.0), expected, log)

    assert verdict("ESP-ROM:esp32c3", expected[0] + "\r", "I (5) x: " + expected[1]).ok  # prefixes, line ends
    short = verdict(expected[0], status="panic")
    assert short.reason.startswith("printed 1 of 2 result lines in 1 s (the console's own words)") and short.lines == 1
    assert verdict(expected[0], corrupt_result(expected[1])).reason.startswith(
        'result line 2 of 2 differs: "out" is [6, 3], expected [7, 2]')
    assert "extra one" in verdict(*expected, expected[1]).reason
    cycles = [line.replace('"v": 2,', f'"v": 2, "cycles": {n},') for n, line in enumerate(expected)]
    assert judge(ConsoleResult("ok", "", lines=[c.replace('"cycles": ', '"cycles": 9') for c in cycles]),
                 tuple(cycles), log).ok  # a real board's timing is not compared


def test_bad_output_flips_the_low_bit_of_every_output_value_and_nothing_else() -> None:
    line = 'BENCHD_RESULT {"v": 2, "instructions": 5900, "top": [[0, -65], [8, 0]], "out": [-65, 0, 127], "ok": true}'
    assert corrupt_result(line) == ('BENCHD_RESULT {"v": 2, "instructions": 5900, "top": [[0, -66], [8, 1]], '
                                    '"out": [-66, 1, 126], "ok": true}')
    assert corrupt_result("I (221) benchd: model 0123, 3 test vectors") == "I (221) benchd: model 0123, 3 test vectors"
    canned = result_line(BoardSpec(faults=frozenset({"bad-output"})), MODEL_SHA, 0)
    assert '"top":[[3,124],[1,-126]]' in canned and canned == corrupt_result(result_line(BoardSpec(), MODEL_SHA, 0))


# -- the cache -----------------------------------------------------------------------------------------------
def test_a_second_check_reuses_the_built_firmware(simulator, riscv_tools, tmp_path: Path, monkeypatch) -> None:
    sim = simulator(1)
    board, settings = board_and_settings(sim, tmp_path)
    cache = tmp_path / "cache"
    assert check_board(board, settings, cache).ok
    (entry,) = [p for p in cache.iterdir() if p.is_dir() and p.name != "logs"]
    image = entry / "firmware" / "benchd-virt.bin"
    files = sorted(p.relative_to(cache) for p in cache.rglob("*") if "logs" not in p.parts)
    stamp = image.stat().st_mtime_ns, image.stat().st_ino

    def no_build(*args: object) -> None:
        raise AssertionError("the health firmware was built again")

    monkeypatch.setattr(healthfirmware, "_build", no_build)
    monkeypatch.setattr(healthfirmware, "missing_tools", lambda: ["nothing: the cache was not used"])
    verdict = check_board(board, settings, cache)
    assert verdict.ok, verdict.reason
    assert sorted(p.relative_to(cache) for p in cache.rglob("*") if "logs" not in p.parts) == files
    assert (image.stat().st_mtime_ns, image.stat().st_ino) == stamp
    assert healthfirmware.health_firmware(cache).built is False


def test_missing_host_tools_are_named_in_the_verdict(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(healthfirmware.shutil, "which", lambda tool: None if tool == "qemu-system-riscv32" else tool)
    board = Board(id="sim0", port="socket://127.0.0.1:9", chip="ESP32-C3", simulated=True)
    verdict = check_board(board, Settings(state=tmp_path / "state"), tmp_path / "cache")
    assert verdict == HealthVerdict(False, verdict.reason, 0)
    assert "qemu-system-riscv32" in verdict.reason and "apt-get install" in verdict.reason
    assert not any((tmp_path / "cache").glob("*/firmware"))


def test_a_board_another_process_holds_is_not_judged(simulator, riscv_tools, shared_cache: Path, tmp_path: Path,
                                                     monkeypatch) -> None:
    sim = simulator(1)
    board, settings = board_and_settings(sim, tmp_path)
    monkeypatch.setattr(healthcheck, "LEASE_WAIT_S", 0.0)
    with BoardLease(settings.state, board.id, purpose="flash").acquire(), pytest.raises(LeaseBusy, match="in use"):
        check_board(board, settings, shared_cache)
    assert sim.boards[0].flash_writes == 0


# -- real boards ---------------------------------------------------------------------------------------------
def test_a_real_board_needs_a_prebuilt_health_firmware(simulator, tmp_path: Path) -> None:
    sim = simulator(1)
    clear_simulator_mark(sim)  # what a real C3 shows
    board, settings = board_and_settings(sim, tmp_path)
    verdict = check_board(board, settings, tmp_path / "cache")
    assert not verdict.ok and verdict.reason.startswith("no health-check firmware for real boards")
    assert "[boards] health_firmware" in verdict.reason and sim.boards[0].flash_writes == 0
    # With one (here an ESP-IDF-shaped build the simulator answers with canned lines), it is flashed and judged;
    # the "cycles" a known-good board printed differ from this one's and do not count.
    folder = make_firmware(tmp_path / "health-fw")
    good = [result_line(BoardSpec(index=7), MODEL_SHA, n).strip() for n in range(3)]
    (folder / "expected.txt").write_text("\n".join(good) + "\n")
    settings = dataclasses.replace(settings, boards=dataclasses.replace(settings.boards,
                                                                        health_firmware=str(folder)))
    verdict = check_board(board, settings, tmp_path / "cache", timeout_s=10)
    assert verdict.ok, verdict.reason
    assert verdict.lines == 3 and sim.boards[0].flash_writes > 0
