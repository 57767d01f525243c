"""Both firmwares on one board, side by side (issue 17, "what to build" 2): the flash and monitor actions as the
default pipeline's flash job runs them (reference-c, then tvm) against a simulated board through the real
esptool, each backend's record, log and metrics apart; ROM/RAM from each build's map file; outputs checked bit for
bit against the TFLite reference on the raw int8 inputs a firmware was built with; summary.md shows the columns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from daemon.actions.context import ActionContext
from daemon.actions.monitor import _expected, board_entry
from daemon.boards.console import ConsoleResult
from daemon.boards.discovery import discover
from daemon.pipeline.environment import write_boards_file
from daemon.record import Journal, MetricsRecorded
from daemon.reporters.summary import summary_markdown
from daemon.settings import BoardSettings
from daemon.virtcore.reference import reference_outputs
from tests.boards.conftest import MODEL_SHA, make_firmware
from tests.boards.test_parallel_flash import finish, metrics, start_action

pytestmark = [pytest.mark.board, pytest.mark.timeout(120)]
# An ESP-IDF map's output sections (GNU ld's layout; daemon/boards/mapfile.py), one size set per backend.
MAP = """Linker script and memory map

.iram0.text     0x40380000     {iram:#x}
 *(.iram1 .iram1.*)
.dram0.data     0x3fc8a000     0x400
.dram0.bss      0x3fc8a400     {bss:#x}
.flash.text     0x42000020     {text:#x}
.flash.appdesc  0x3c000020     0x100
.flash.rodata   0x3c000120     {rodata:#x}
.flash.rodata_noload
                0x3c020000     0x40
"""
SIZES = {"reference-c": {"iram": 0x3000, "bss": 0x2400, "text": 0x9000, "rodata": 0x6000},
         "tvm": {"iram": 0x3100, "bss": 0x4400, "text": 0xB000, "rodata": 0x6800}}


def test_both_backends_flash_and_run_on_one_board_and_show_side_by_side(simulator, tmp_path: Path) -> None:
    sim = simulator(1)
    workspace, state = tmp_path / "ws", tmp_path / "state"
    (workspace / ".benchd").mkdir(parents=True)
    for backend, sizes in SIZES.items():
        folder = make_firmware(workspace / "firmware" / backend)
        (folder / "benchd-target.map").write_text(MAP.format(**sizes))
    settings = BoardSettings(ports=tuple(sim.ports))
    (board,) = discover(settings, state)
    write_boards_file(workspace / ".benchd" / "boards.json", settings, [board])
    entries = []
    for backend in SIZES:  # the flash job's four steps, in order, on the one board
        firmware = str(workspace / "firmware" / backend)
        [(code, out)] = finish([start_action("flash", board.id, workspace, state, firmware=firmware, backend=backend)])
        assert code == 0, out
        [(code, out)] = finish([start_action("monitor", board.id, workspace, state, backend=backend,
                                             **{"timeout-seconds": "20", "count": "3"})])
        assert code == 0, out
        entries += metrics(workspace, "monitor", board.id)
        (workspace / ".benchd" / f"monitor-{board.id}" / "metrics").unlink()
    folder = workspace / "boards" / board.id
    assert {p.name for p in folder.iterdir()} >= {"flash-reference-c.json", "flash-tvm.json",
                                                  "monitor-reference-c.log", "monitor-tvm.log"}
    by_backend = {e["backend"]: e for e in entries}
    assert set(by_backend) == {"reference-c", "tvm"}
    for backend, sizes in SIZES.items():
        e = by_backend[backend]
        assert e["status"] == "ok" and e["cycles_per_inference"] >= 150_000 and e["model_sha256"] == MODEL_SHA
        assert e["rom_bytes"] == sizes["iram"] + 0x400 + sizes["text"] + 0x100 + sizes["rodata"]
        assert e["ram_bytes"] == sizes["iram"] + 0x400 + sizes["bss"]
        assert e["stub"] is True
    journal = Journal()
    journal.emit(MetricsRecorded(({"boards": entries},)))
    text = summary_markdown(journal.record)
    section = text[text.index("## Boards: backends side by side"):]
    assert f"`{board.id}`" in section and "| figure | `reference-c` | `tvm` |" in section
    rom = next(line for line in section.splitlines() if line.startswith("| ROM (map file)"))
    assert rom == (f"| ROM (map file) | {by_backend['reference-c']['rom_bytes']:,} B | "
                   f"{by_backend['tvm']['rom_bytes']:,} B |")
    assert "## Boards\n" not in text  # not listed twice


def test_an_esp_idf_firmwares_outputs_are_checked_on_the_inputs_it_was_built_with(samples, tmp_path: Path) -> None:
    model = samples["kws_xs.tflite"]
    vectors = np.random.default_rng(1).integers(-128, 128, size=(3, 1, 1960), dtype=np.int8)
    raw = tmp_path / "benchd-vectors.bin"
    raw.write_bytes(vectors.tobytes())  # as benchd/vectors writes it and benchd-build-firmware hands it on
    expected = reference_outputs(model, vectors)
    lines = [{"v": 2, "model_sha256": MODEL_SHA, "cycles": 90_000 + n, "top": [[0, 1]], "ok": True, "vector": n,
              "out": [int(x) for x in expected[n].reshape(-1)]} for n in range(3)]
    lines[2]["out"][0] = (lines[2]["out"][0] + 1 + 128) % 256 - 128  # one output off by one LSB
    ctx = ActionContext("monitor", {}, model, tmp_path, None, None, None)
    flashed = {"id": "b1", "image": "esp-idf", "backend": "tvm", "vectors": str(raw), "rom_bytes": 1, "ram_bytes": 2}
    entry = board_entry(flashed, ConsoleResult("ok", "ok", lines), "monitor-tvm.log", _expected(ctx, flashed))
    assert (entry["bit_exact"], entry["vectors"], entry["backend"]) == (2, 3, "tvm")
    without = {**flashed, "vectors": None}  # built without benchd's inputs: nothing to compare against
    assert board_entry(without, ConsoleResult("ok", "ok", lines), "log", _expected(ctx, without))["bit_exact"] is None
    json.dumps(entry)  # what ctx.add_metrics writes
