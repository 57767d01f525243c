"""`benchd boards` says `ok` only of a board benchd would flash: a wrong chip is listed as not used."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.boards.discovery import Board

pytestmark = [pytest.mark.board, pytest.mark.timeout(60)]


@pytest.mark.parametrize(("board", "state"), [
    (Board("a", "p", "ESP32-C3"), "ok"),
    (Board("a", "p", "ESP32-S3"), "wrong chip (ESP32-S3): not used"),
    (Board("a", "p", "ESP32-S3", quarantined=True), "wrong chip (ESP32-S3): not used"),
    (Board("a", "p", "ESP32-C3", quarantined=True), "quarantined"),
    (Board("a", "p", "unknown", error="no answer"), "error: no answer"),
])
def test_each_board_has_one_state(board: Board, state: str) -> None:
    assert board.state == state


def test_a_wrong_chip_is_listed_never_ok(simulator, tmp_path: Path) -> None:
    good, wrong = simulator(1), simulator(1, faults=("wrong-chip",))
    env = {"BENCHD_BOARDS_PORTS": ",".join([*good.ports, *wrong.ports]), "PATH": "/usr/bin:/bin"}

    def boards(*extra: str) -> str:
        return subprocess.run([sys.executable, "-m", "daemon", "--log-level", "error", "boards", *extra, "--state",
                               str(tmp_path)], env=env, capture_output=True, text=True, timeout=45, check=True).stdout

    lines = {line.split()[1]: line for line in boards().splitlines()[1:]}
    assert lines[good.ports[0]].split()[-1] == "ok"
    assert lines[wrong.ports[0]].endswith("wrong chip (ESP32): not used")
    states = {b["port"]: b["state"] for b in json.loads(boards("--json"))}
    assert states == {good.ports[0]: "ok", wrong.ports[0]: "wrong chip (ESP32): not used"}
