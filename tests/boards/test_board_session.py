"""One board, one session (issue 18): a job's flash and monitor of a board are never split by another run's, and
the monitor reads only result lines of the run's own model."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest
from daemon_once import run_inbox
from test_actions import context
from test_actions import setup as setup_boards

from daemon.actions import flash, monitor
from daemon.actions.context import ActionContext, ActionError
from daemon.settings import BoardSettings, Settings
from tests.boards.conftest import make_firmware

pytestmark = [pytest.mark.board, pytest.mark.timeout(240)]

# The pause between flash and monitor is the window in which another run used to reflash the board.
WORKFLOW = """\
name: bench
jobs:
  firmware:
    steps:
      - run: cp -r "FIRMWARES/$(sha256sum "$BENCHD_MODEL" | cut -c1-64)" "$BENCHD_WORKSPACE/firmware"
  bench:
    needs: firmware
    runs-on: board:esp32c3
    strategy:
      matrix: { board: "${{ boards.esp32c3 }}" }
    steps:
      - uses: benchd/flash
        with: { board: "${{ matrix.board }}" }
      - run: sleep 1
      - uses: benchd/monitor
        with: { board: "${{ matrix.board }}", timeout-seconds: 30 }
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def board_events(state: Path) -> list[tuple[str, str, bool]]:
    """(run, flash|run, ok) in the order the steps recorded them in the board's health log."""
    with sqlite3.connect(state / "benchd.sqlite3") as db:
        rows = db.execute("SELECT run_id, kind, ok FROM board_events WHERE kind IN ('flash', 'run') ORDER BY at, id")
        return [(run, kind, bool(ok)) for run, kind, ok in rows]


def test_two_runs_on_one_board_never_interleave_flash_and_monitor(simulator, samples, tmp_path: Path) -> None:
    sim = simulator(1)
    models = [samples["kws_xs.tflite"], samples["kws_dw1.tflite"]]
    firmwares = tmp_path / "firmwares"
    for model in models:  # each model's firmware prints that model's sha256 in its result lines
        make_firmware(firmwares / sha256(model), model_sha=sha256(model))
    wf = tmp_path / "bench.yml"
    wf.write_text(WORKFLOW.replace("FIRMWARES", str(firmwares)))
    settings = Settings(inbox=tmp_path / "inbox", results=tmp_path / "results", state=tmp_path / "state",
                        pipeline=str(wf), executor="local", parallel_runs=2,
                        boards=BoardSettings(ports=tuple(sim.ports)))
    settings.inbox.mkdir()
    for model in models:
        shutil.copy(model, settings.inbox / model.name)

    results = run_inbox(settings, timeout=200)

    assert len(results) == 2
    for result in results:
        assert result["status"] == "success", result["errors"]
        (entry,) = result["metrics"]["boards"]
        assert entry["model_sha256"] == result["model"]["sha256"]  # each run read its own firmware
    events = board_events(settings.state)
    runs = [run for run, _, _ in events]
    assert len(events) == 4 and all(ok for _, _, ok in events), events
    first, second = runs[0], runs[2]
    assert first != second
    assert events == [(first, "flash", True), (first, "run", True), (second, "flash", True),
                      (second, "run", True)], "the second run reflashed the board inside the first run's session"


def test_monitor_rejects_result_lines_of_another_model(simulator, tmp_path: Path) -> None:
    sim = simulator(1)
    model_a, model_b = tmp_path / "a.tflite", tmp_path / "b.tflite"
    model_a.write_bytes(b"model a")
    model_b.write_bytes(b"model b")
    firmware = make_firmware(tmp_path / "firmware-a", model_sha=sha256(model_a))
    workspace, state, board = setup_boards(sim, tmp_path, firmware)

    def step(name: str, model: Path, **inputs: str) -> ActionContext:
        return dataclasses.replace(context(name, workspace, state, board=board, **inputs), model=model)

    flash.run(step("flash", model_a))
    monitor.run(step("monitor", model_a, **{"timeout-seconds": "20"}))  # its own model: accepted

    flash.run(step("flash", model_a))
    with pytest.raises(ActionError, match=f"board {board}: .*model {sha256(model_a)[:12]}.*not this run's "
                                          f"model {sha256(model_b)[:12]}"):
        monitor.run(step("monitor", model_b, **{"timeout-seconds": "20"}))
