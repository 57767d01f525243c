"""`make bench` prints only its tables: no library debug lines among the board figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.board, pytest.mark.timeout(240)]
ROOT = Path(__file__).resolve().parents[2]


def test_bench_boards_prints_figures_only() -> None:
    out = subprocess.run([sys.executable, "tests/bench/bench_boards.py"], cwd=ROOT, capture_output=True, text=True,
                         timeout=220)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("discovery: 4 board(s)") for line in lines)
    noise = [line for line in out.stdout.splitlines() + out.stderr.splitlines()
             if "debug" in line or "esptool" in line or "Traceback" in line]
    assert not noise, "\n".join(noise)
