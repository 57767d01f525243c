"""Real boards (only with `pytest --board`): at least one ESP32-C3 is found and identified by esptool."""

from __future__ import annotations

import pytest

from daemon.boards.discovery import discover
from daemon.settings import BoardSettings

pytestmark = [pytest.mark.board, pytest.mark.hardware, pytest.mark.timeout(60)]


def test_attached_esp32c3_boards_are_identified() -> None:
    boards = [b for b in discover(BoardSettings()) if b.chip == "ESP32-C3"]
    assert boards, "no ESP32-C3 found on USB: plug one in (303A:1001 or a known bridge), or run without --board"
    for board in boards:
        assert board.mac.count(":") == 5 and board.flash_size and not board.error
