"""Every fault of issue 4 ends in a clear, bounded outcome (each test is time-boxed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from daemon.boards import flasher
from daemon.boards.console import ConsoleJudge, watch
from daemon.boards.discovery import discover
from daemon.boards.lease import BoardLease, LeaseBusy, read_holder
from daemon.boards.sim.host import BoardSimulator
from daemon.boards.sim.spec import BoardSpec
from daemon.firmware.bundle import load_bundle
from daemon.settings import BoardSettings

pytestmark = [pytest.mark.board, pytest.mark.timeout(45)]


def test_unplug_mid_flash_is_retried_once_then_fails_clearly(simulator, firmware: Path) -> None:
    sim = simulator(1, faults=["unplug"])
    with pytest.raises(flasher.LineLost, match="dropped the connection twice") as err:
        flasher.flash_with_retries(sim.ports[0], load_bundle(firmware), replug_wait_s=0.5)
    assert "check the USB cable" in str(err.value)
    assert sim.boards[0].flash_writes == 2  # the first write and exactly one retry, on the same board


def test_unplug_once_recovers_on_the_retry(simulator, firmware: Path) -> None:
    sim = simulator(1, faults=["unplug-once"])
    report = flasher.flash_with_retries(sim.ports[0], load_bundle(firmware), replug_wait_s=0.5)
    assert len(report.attempts) == 1 and "lost the connection" in report.attempts[0]
    app = load_bundle(firmware).images[-1]
    assert bytes(sim.boards[0].flash[app.offset : app.offset + len(app.data)]) == app.data


def test_md5_mismatch_steps_down_the_baud_then_fails(simulator, firmware: Path) -> None:
    sim = simulator(1, faults=["bad-md5"])
    with pytest.raises(flasher.FlashError, match="MD5 of file does not match") as err:
        flasher.flash_with_retries(sim.ports[0], load_bundle(firmware), bauds=(921_600, 460_800), max_attempts=3)
    message = str(err.value)
    assert "at 921600 baud" in message and "at 460800 baud" in message and "2 attempts" in message


def test_wrong_chip_is_skipped_not_flashed(simulator, firmware: Path) -> None:
    sim = simulator(1, faults=["wrong-chip"])
    (board,) = discover(BoardSettings(ports=tuple(sim.ports)))
    assert board.chip == "ESP32" and board.kind == "esp32"  # so it is not in boards.esp32c3
    with pytest.raises(flasher.WrongChip, match="is an ESP32, not an ESP32-C3: not flashed"):
        flasher.flash_with_retries(sim.ports[0], load_bundle(firmware))
    assert sim.boards[0].flash_writes == 0


def test_silent_board_times_out_with_a_clear_message(simulator, tmp_path: Path) -> None:
    sim = simulator(1, faults=["silent"])
    start = time.monotonic()
    outcome = watch(sim.ports[0], tmp_path / "monitor.log", lambda ser: flasher.reset_to_app(ser, sim.ports[0]),
                    timeout_s=1.5)
    assert outcome.status == "silent" and "no output at all" in outcome.message
    assert time.monotonic() - start < 10


@pytest.mark.parametrize(("fault", "status"), [("boot-loop", "boot-loop"), ("panic", "panic")])
def test_boot_loop_and_panic_end_the_watch_early(simulator, firmware: Path, tmp_path: Path, fault: str,
                                                 status: str) -> None:
    sim = simulator(1, faults=[fault])
    flasher.flash_with_retries(sim.ports[0], load_bundle(firmware))
    outcome = watch(sim.ports[0], tmp_path / "monitor.log", lambda ser: flasher.reset_to_app(ser, sim.ports[0]),
                    timeout_s=20, judge=ConsoleJudge())
    assert outcome.status == status and outcome.seconds < 10
    assert (tmp_path / "monitor.log").read_bytes().count(b"ESP-ROM:esp32c3") >= 1


def test_port_held_by_another_process_is_reported_as_busy(firmware: Path) -> None:
    with BoardSimulator([BoardSpec()], pty=True) as sim:
        holder = serial.Serial(sim.ports[0], exclusive=True)  # e.g. a colleague's idf.py monitor
        try:
            with pytest.raises(flasher.PortBusy, match="held by another process"):
                flasher.flash_with_retries(sim.ports[0], load_bundle(firmware))
        finally:
            holder.close()
        report = flasher.flash_with_retries(sim.ports[0], load_bundle(firmware))  # free again: a pty works too
        assert report.chip.chip == "ESP32-C3"


def test_board_gone_between_discovery_and_flashing(simulator, firmware: Path) -> None:
    sim = simulator(2)
    assert len(discover(BoardSettings(ports=tuple(sim.ports)))) == 2
    sim.remove(1)
    start = time.monotonic()
    with pytest.raises(flasher.PortGone, match="is gone .*unplugged"):
        flasher.flash_with_retries(sim.ports[1], load_bundle(firmware))
    assert time.monotonic() - start < 5
    assert flasher.flash_with_retries(sim.ports[0], load_bundle(firmware)).baud == flasher.BAUDS[0]


LEASE_HOLDER = """
import sys, time
from pathlib import Path
from daemon.boards.lease import BoardLease
BoardLease(Path(sys.argv[1]), "58cf79b00000", purpose="flash").acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_lease_left_by_a_killed_daemon_is_recovered(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", LEASE_HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(root)})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(LeaseBusy, match=f"in use by pid {proc.pid}"):
            BoardLease(tmp_path, "58cf79b00000", wait_s=0.3).acquire()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
    with BoardLease(tmp_path, "58cf79b00000", wait_s=2) as lease:
        assert lease.recovered_from == proc.pid
        assert read_holder(tmp_path, "58cf79b00000")["pid"] == os.getpid()
