"""Issue 11's goal, through the daemon: a dropped model is compiled by the reference backend, run on the virtual
core, packaged as a `virt` bundle and flashed (real esptool) onto two simulated boards in one run; both boards
execute it under QEMU and report the executed outputs, bit-exact with the TFLite reference, in metrics.boards."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from daemon_once import run_inbox
from test_virt_boards import riscv_tools  # noqa: F401  (the fixture: skips, or fails with CI=true, without the tools)

from daemon.settings import BoardSettings, Settings

pytestmark = [pytest.mark.board, pytest.mark.tvm, pytest.mark.timeout(240), pytest.mark.usefixtures("riscv_tools")]

WORKFLOW = """\
name: virt-bench
jobs:
  virtual-core:
    runs-on: host
    steps:
      - uses: benchd/compile-c
      - uses: benchd/virtual-core
        with: { vectors: 3 }
      - id: bundle
        uses: benchd/virt-bundle
    outputs:
      firmware: ${{ steps.bundle.outputs.firmware }}
  flash:
    needs: virtual-core
    runs-on: board:esp32c3
    strategy:
      matrix: { board: "${{ boards.esp32c3 }}" }
      fail-fast: false
    steps:
      - uses: benchd/flash
        with: { board: "${{ matrix.board }}", firmware: "${{ needs.virtual-core.outputs.firmware }}" }
      - uses: benchd/monitor
        with: { board: "${{ matrix.board }}", count: 3, timeout-seconds: 30 }
"""


def run_bench(tmp_path: Path, model: Path, ports: list[str]) -> dict:
    """One dropped model through the daemon with WORKFLOW as its pipeline; returns result.json."""
    workflow = tmp_path / "virt-bench.yml"
    workflow.write_text(WORKFLOW)
    settings = Settings(inbox=tmp_path / "inbox", results=tmp_path / "results", state=tmp_path / "state",
                        pipeline=str(workflow), executor="local", boards=BoardSettings(ports=tuple(ports)))
    settings.inbox.mkdir()
    shutil.copy(model, settings.inbox / "kws.tflite")
    (result,) = run_inbox(settings, timeout=200)
    return result


def test_two_simulated_boards_report_executed_bit_exact_outputs(simulator, samples, tmp_path: Path) -> None:
    pytest.importorskip("daemon.codegen")
    sim = simulator(2)
    result = run_bench(tmp_path, samples["kws_dw1.tflite"], sim.ports)
    assert result["status"] == "success", result["errors"]
    virtual = result["metrics"]["virtual"]
    assert virtual["bit_exact"] == 3
    boards = result["metrics"]["boards"]
    assert sorted(b["port"] for b in boards) == sorted(sim.ports) and len({b["mac"] for b in boards}) == 2
    for board in boards:
        assert board["status"] == "ok" and board["image"] == "virt"
        assert board["bit_exact"] == 3 and board["vectors"] == 3 and board["inferences"] == 3
        assert board["outputs"] == virtual["outputs"]  # what the virtual core computed, executed again on the board
        assert board["instructions"] == virtual["instructions"] and board.get("cycles_per_inference") is None
    assert all(s.app.boots >= 2 for s in sim.boards)  # after flashing, and for the monitor's reset
