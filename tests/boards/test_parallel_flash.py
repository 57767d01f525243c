"""Done-when of issue 4: two simulated boards flashed in parallel by the real esptool, through the
actions as the runner starts them (one process per matrix entry), then monitored into metrics."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.boards.discovery import discover
from daemon.firmware.bundle import load_bundle
from daemon.pipeline.environment import write_boards_file
from daemon.settings import BoardSettings
from tests.boards.conftest import MODEL_SHA

pytestmark = [pytest.mark.board, pytest.mark.timeout(90)]
ROOT = Path(__file__).resolve().parents[2]


def start_action(name: str, board: str, workspace: Path, state: Path, **inputs: str) -> subprocess.Popen[str]:
    files = workspace / ".benchd" / f"{name}-{board}"
    files.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BENCHD_WORKSPACE": str(workspace), "BENCHD_STATE": str(state),
           "BENCHD_RUN_ID": "run-1", "BENCHD_METRICS": str(files / "metrics"), "BENCHD_OUTPUT": str(files / "out"),
           "BENCHD_SUMMARY": str(files / "summary"), "BENCHD_INPUT_BOARD": board, "PYTHONPATH": str(ROOT)}
    env.update({"BENCHD_INPUT_" + k.upper(): v for k, v in inputs.items()})
    return subprocess.Popen([sys.executable, "-m", "daemon.actions", name], env=env, cwd=workspace,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str]]:
    outputs = [p.communicate(timeout=60)[0] for p in procs]  # communicate closes the pipes
    return [(p.returncode, out) for p, out in zip(procs, outputs, strict=True)]


def metrics(workspace: Path, name: str, board: str) -> list[dict]:
    lines = (workspace / ".benchd" / f"{name}-{board}" / "metrics").read_text().splitlines()
    return [entry for line in lines for entry in json.loads(line)["boards"]]


def test_two_boards_flashed_in_parallel_then_monitored(simulator, firmware: Path, tmp_path: Path) -> None:
    sim = simulator(2)
    workspace, state = tmp_path / "ws", tmp_path / "state"
    (workspace / ".benchd").mkdir(parents=True)
    (workspace / "firmware").symlink_to(firmware)
    settings = BoardSettings(ports=tuple(sim.ports))
    boards = discover(settings, state)
    write_boards_file(workspace / ".benchd" / "boards.json", settings, boards)  # as the runner does
    ids = [b.id for b in boards]
    assert len(set(ids)) == 2 and all(b.chip == "ESP32-C3" for b in boards)

    outcomes = finish([start_action("flash", i, workspace, state) for i in ids])
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    bundle = load_bundle(firmware)
    for board in sim.boards:  # what each simulated chip holds, byte for byte, checked by MD5
        for image in bundle.images:
            held = board.flash[image.offset : image.offset + len(image.data)]
            assert hashlib.md5(held).hexdigest() == image.md5

    outcomes = finish([start_action("monitor", i, workspace, state, **{"timeout-seconds": "20"}) for i in ids])
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    entries = {i: metrics(workspace, "monitor", i) for i in ids}
    for index, board_id in enumerate(sorted(ids)):
        (entry,) = entries[board_id]
        assert entry["id"] == board_id and entry["chip"] == "ESP32-C3" and entry["mac"].startswith("58:cf:79")
        assert entry["status"] == "ok" and entry["flash_s"] > 0
        assert entry["model_sha256"] == MODEL_SHA  # read back from the flashed app by the simulated firmware
        assert entry["cycles_per_inference"] == 150_000 + 1_000 * index + 7  # median of the board's 3 runs
        assert entry["top"] == [[3, 125], [1, -125]]
        log = Path(entry["log"])
        assert log == workspace / "boards" / board_id / "monitor.log"
        text = log.read_text()
        assert text.index("ESP-ROM:esp32c3") < text.index("BENCHD_RESULT")  # nothing lost before the reset
