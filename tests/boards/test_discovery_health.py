"""Discovery (USB filtering, allow/deny, hot-plug), health and quarantine, the CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from daemon.boards import discovery
from daemon.boards.flasher import ChipInfo
from daemon.boards.health import BoardHealth
from daemon.settings import BoardSettings

pytestmark = [pytest.mark.board, pytest.mark.timeout(45)]
ROOT = Path(__file__).resolve().parents[2]


def fake_port(device: str, vid: int | None, pid: int | None, serial: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(device=device, vid=vid, pid=pid, serial_number=serial)


def test_usb_ports_are_filtered_by_known_ids_and_identified_by_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    ports = [fake_port("/dev/ttyACM0", 0x303A, 0x1001, "58:CF:79:B0:00:07"), fake_port("/dev/ttyUSB0", 0x10C4, 0xEA60),
             fake_port("/dev/ttyS0", None, None), fake_port("/dev/ttyACM1", 0x2341, 0x0043, "arduino")]
    monkeypatch.setattr(discovery.list_ports, "comports", lambda: ports)
    probed: list[str] = []

    def probe(port: str) -> ChipInfo:
        probed.append(port)
        mac = {"/dev/ttyACM0": "58:cf:79:b0:00:07", "/dev/ttyUSB0": "58:cf:79:b0:00:10"}[port]
        return ChipInfo("ESP32-C3", "ESP32-C3 (QFN32) (revision v0.4)", mac, "4MB")

    boards = discovery.discover(BoardSettings(), probe=probe)
    assert sorted(probed) == ["/dev/ttyACM0", "/dev/ttyUSB0"]  # the Arduino and the UART are never opened
    by_port = {b.port: b for b in boards}
    assert by_port["/dev/ttyACM0"].id == "58cf79b00007"  # USB serial wins over the MAC
    assert by_port["/dev/ttyACM0"].usb["bridge"] == "ESP32-C3 USB-Serial-JTAG"
    assert by_port["/dev/ttyUSB0"].id == "58cf79b00010"  # no USB serial: the MAC
    denied = discovery.discover(BoardSettings(deny=("58:CF:79:B0:00:07",)), probe=probe)
    assert [b.port for b in denied] == ["/dev/ttyUSB0"]
    allowed = discovery.discover(BoardSettings(allow=("58:cf:79:b0:00:10",)), probe=probe)
    assert [b.port for b in allowed] == ["/dev/ttyUSB0"]


def test_hot_plug_and_quarantine(simulator, tmp_path: Path) -> None:
    sim = simulator(2)
    settings = BoardSettings(ports=tuple(sim.ports), quarantine_after=2)
    first = discovery.discover(settings, tmp_path)
    assert len(first) == 2 and not any(b.quarantined for b in first)
    health = BoardHealth(tmp_path / "benchd.sqlite3", quarantine_after=2)
    victim = first[0].id
    health.record(victim, "flash", False, "MD5 mismatch")
    health.record(victim, "run", False, "panic")
    assert health.is_quarantined(victim)
    gone = next(i for i, port in enumerate(sim.ports) if port != first[0].port)
    sim.remove(gone)
    second = discovery.discover(settings, tmp_path)
    ok = [b for b in second if b.chip == "ESP32-C3"]
    assert [b.id for b in ok] == [victim] and ok[0].quarantined
    seen = {row["board_id"]: row["present"] for row in health.last_seen()}
    assert seen == {victim: 1, first[1].id: 0}  # the unplugged board is remembered as absent
    assert health.status(victim)["flash_failures"] == 1 and health.status(victim)["run_failures"] == 1
    assert health.release(victim)
    assert not discovery.discover(settings, tmp_path)[0].quarantined


def test_cli_simulate_prints_ports_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "daemon", "--log-level", "error", "boards", "simulate",
                             "--count", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        ports = [proc.stdout.readline().strip() for _ in range(2)]
        assert all(p.startswith("socket://127.0.0.1:") for p in ports)
        env = {"BENCHD_BOARDS_PORTS": ",".join(ports), "PATH": "/usr/bin:/bin"}
        listed = subprocess.run([sys.executable, "-m", "daemon", "--log-level", "error", "boards", "--json",
                                 "--state", str(tmp_path)], env=env, cwd=ROOT, capture_output=True, text=True,
                                timeout=30, check=True)
        boards = json.loads(listed.stdout)
        assert sorted(b["port"] for b in boards) == sorted(ports)
        assert {b["chip"] for b in boards} == {"ESP32-C3"} and len({b["id"] for b in boards}) == 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.communicate(timeout=10)
