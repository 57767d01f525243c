"""A whole bench run through the daemon: a workflow's flash job fans out over the simulated boards
found by discovery, and their result lines land in result.json (metrics.boards)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from daemon_once import run_inbox

from daemon.settings import BoardSettings, Settings
from tests.boards.conftest import make_firmware

pytestmark = [pytest.mark.board, pytest.mark.timeout(180)]

WORKFLOW = """\
name: bench
jobs:
  firmware:
    steps:
      - run: cp -r "$FIRMWARE_DIR" "$BENCHD_WORKSPACE/firmware"
  flash:
    needs: firmware
    runs-on: board:esp32c3
    strategy:
      matrix: { board: "${{ boards.esp32c3 }}" }
      fail-fast: false
    steps:
      - uses: benchd/flash
        with: { board: "${{ matrix.board }}" }
      - uses: benchd/monitor
        with: { board: "${{ matrix.board }}", expect: "BENCHD_RESULT", timeout-seconds: 30 }
"""


@pytest.fixture
def firmware(samples: dict[str, Path], tmp_path: Path) -> Path:
    """Firmware for the model the test drops: the boards print its sha256, as the monitor requires."""
    sha = hashlib.sha256(samples["kws_xs.tflite"].read_bytes()).hexdigest()
    return make_firmware(tmp_path / "firmware", model_sha=sha)


def run_bench(tmp_path: Path, samples: dict[str, Path], firmware: Path, ports: list[str]) -> dict:
    wf = tmp_path / "bench.yml"
    wf.write_text(WORKFLOW.replace("$FIRMWARE_DIR", str(firmware)))
    settings = Settings(inbox=tmp_path / "inbox", results=tmp_path / "results", state=tmp_path / "state",
                        pipeline=str(wf), executor="local", boards=BoardSettings(ports=tuple(ports)))
    settings.inbox.mkdir()
    shutil.copy(samples["kws_xs.tflite"], settings.inbox / "kws.tflite")
    (result,) = run_inbox(settings, timeout=150)
    return result


def test_every_simulated_board_is_flashed_and_reports_into_the_result(simulator, firmware, samples, tmp_path):
    sim = simulator(2)
    result = run_bench(tmp_path, samples, firmware, sim.ports)
    assert result["status"] == "success", result["errors"]
    flash_jobs = [j for j in result["jobs"] if j["id"].startswith("flash (")]
    assert len(flash_jobs) == 2 and all(j["status"] == "success" for j in flash_jobs)
    boards = result["metrics"]["boards"]
    assert sorted(b["port"] for b in boards) == sorted(sim.ports)
    for board in boards:
        assert board["chip"] == "ESP32-C3" and board["mac"] and board["flash_s"] > 0
        assert board["cycles_per_inference"] > 0 and board["top"]
    assert len({b["mac"] for b in boards}) == 2  # two boards, two identities


def test_a_wrong_chip_is_left_out_and_a_failing_board_does_not_stop_the_other(simulator, firmware, samples,
                                                                            tmp_path):
    good = simulator(1)
    bad = simulator(1, faults=("bad-md5",), mac_base=0xC0)
    other_chip = simulator(1, chip="esp32", mac_base=0xD0)
    result = run_bench(tmp_path, samples, firmware, [*good.ports, *bad.ports, *other_chip.ports])
    flash = {j["id"]: j for j in result["jobs"] if j["id"].startswith("flash (")}
    assert len(flash) == 2  # the ESP32 is never in boards.esp32c3
    statuses = sorted(j["status"] for j in flash.values())
    assert statuses == ["failure", "success"]
    assert any("MD5" in e["message"] or "md5" in e["message"] for e in result["errors"])
    assert result["status"] == "failure"  # one board failed; the other still ran to the end
    (ok,) = [b for b in result["metrics"]["boards"] if b.get("cycles_per_inference")]
    assert ok["port"] == good.ports[0]
