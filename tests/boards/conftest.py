"""Shared pieces of the board tier: a simulator that is always stopped, and a firmware build folder."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.boards.sim.host import BoardSimulator
from daemon.firmware.bundle import write_bundle

MODEL_SHA = hashlib.sha256(b"benchd test model").hexdigest()


def make_firmware(folder: Path, app_size: int = 120_000, model_sha: str = MODEL_SHA) -> Path:
    """An ESP-IDF-shaped build: bootloader at 0x0 (image magic first), partition table, app with the model mark
    (the simulated board prints it back in its BENCHD_RESULT lines)."""
    rng = os.urandom
    boot = bytes([0xE9, 3, 2, 0x2F]) + rng(12_000)
    table = b"\xaa\x50\x01\x02" + bytes(3_068)
    app = b"BENCHD_MODEL_SHA256=" + model_sha.encode() + rng(app_size // 2) + bytes(app_size // 2)
    return write_bundle(folder, {0x0: ("bootloader/bootloader.bin", boot),
                                 0x8000: ("partition_table/partition-table.bin", table),
                                 0x10000: ("benchd-target.bin", app)})


@pytest.fixture
def firmware(tmp_path: Path) -> Path:
    return make_firmware(tmp_path / "firmware")


@pytest.fixture
def simulator() -> Iterator:
    """Factory: simulator(count, faults=..., chip=...) -> a started BoardSimulator, stopped after the test."""
    started: list[BoardSimulator] = []

    def start(count: int = 1, **kwargs: object) -> BoardSimulator:
        sim = BoardSimulator.make(count, **kwargs).start()  # type: ignore[arg-type]
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()
