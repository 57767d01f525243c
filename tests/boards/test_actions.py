"""benchd/flash and benchd/monitor as the runner calls them, in-process: refusals and recorded failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from daemon.actions import flash, monitor
from daemon.actions.context import ActionContext, ActionError
from daemon.boards.discovery import discover
from daemon.boards.health import BoardHealth
from daemon.pipeline.environment import write_boards_file
from daemon.settings import BoardSettings

pytestmark = [pytest.mark.board, pytest.mark.timeout(60)]


def context(name: str, workspace: Path, state: Path, **inputs: str) -> ActionContext:
    env = {"BENCHD_WORKSPACE": str(workspace), "BENCHD_STATE": str(state), "BENCHD_RUN_ID": "r1",
           "BENCHD_METRICS": str(workspace / f"{name}.metrics"), "BENCHD_OUTPUT": str(workspace / f"{name}.out"),
           "BENCHD_CONFIG": str(workspace / "benchd.toml")}
    env.update({"BENCHD_INPUT_" + k.upper().replace("-", "_"): v for k, v in inputs.items()})
    return ActionContext.from_environment(name, env)


def setup(sim, tmp_path: Path, firmware: Path) -> tuple[Path, Path, str]:
    workspace, state = tmp_path / "ws", tmp_path / "state"
    (workspace / ".benchd").mkdir(parents=True)
    (workspace / "firmware").symlink_to(firmware)
    settings = BoardSettings(ports=tuple(sim.ports), quarantine_after=2)
    boards = discover(settings, state)
    write_boards_file(workspace / ".benchd" / "boards.json", settings, boards)  # as the runner does
    return workspace, state, boards[0].id


def test_failed_flash_is_recorded_and_a_quarantined_board_is_left_alone(simulator, firmware: Path,
                                                                         tmp_path: Path) -> None:
    sim = simulator(1, faults=["bad-md5"])
    workspace, state, board = setup(sim, tmp_path, firmware)
    with pytest.raises(ActionError, match=f"benchd/flash: board {board}: could not flash"):
        flash.run(context("flash", workspace, state, board=board, baud="460800"))
    (line,) = (workspace / "flash.metrics").read_text().splitlines()
    (entry,) = json.loads(line)["boards"]
    assert entry["id"] == board and entry["status"] == "flash-failed" and "MD5" in entry["error"]
    health = BoardHealth(state / "benchd.sqlite3", quarantine_after=2)
    health.record(board, "run", False, "second failure")
    writes = sim.boards[0].flash_writes
    with pytest.raises(ActionError, match=f"quarantined .*`benchd boards release {board}`"):
        flash.run(context("flash", workspace, state, board=board))
    assert sim.boards[0].flash_writes == writes  # not touched


def test_monitor_of_a_silent_board_fails_with_its_log(simulator, firmware: Path, tmp_path: Path) -> None:
    sim = simulator(1, faults=["silent"])
    workspace, state, board = setup(sim, tmp_path, firmware)
    flash.run(context("flash", workspace, state, board=board))
    assert json.loads((workspace / "boards" / board / "flash.json").read_text())["baud"] == 2_000_000
    with pytest.raises(ActionError, match="no output at all .* in 1 s"):
        monitor.run(context("monitor", workspace, state, board=board, **{"timeout-seconds": "1"}))
    (line,) = (workspace / "monitor.metrics").read_text().splitlines()
    (entry,) = json.loads(line)["boards"]
    assert entry["status"] == "silent" and entry["flash_s"] > 0 and entry["cycles_per_inference"] is None
    assert Path(entry["log"]).is_file()
    assert BoardHealth(state / "benchd.sqlite3").status(board)["run_failures"] == 1
