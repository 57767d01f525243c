"""The flasher does what the build's flasher_args.json says (issue 17, item 7 and "what to build" 4): the stub
only when `"stub": true` (ESP-IDF asks for the ROM loader with CONFIG_ESPTOOLPY_NO_STUB), the images at their
offsets, and the flash mode, size and frequency written into the bootloader's header, as `idf.py flash` would.
Against the board simulator, through the real esptool library."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from esptool.bin_image import ELFSection, ESP32C3FirmwareImage
from esptool.targets import CHIP_DEFS

from daemon.boards.flasher import WrongChip, flash_with_retries
from daemon.errors import FlashError
from daemon.firmware.bundle import load_bundle, write_bundle

pytestmark = [pytest.mark.board, pytest.mark.timeout(90)]
C3 = CHIP_DEFS["esp32c3"]


def bootloader(mode: int = 2, size_freq: int = 0x2F) -> bytes:
    """A valid ESP32-C3 image (esptool checks it before it rewrites the header), with an appended SHA-256."""
    image = ESP32C3FirmwareImage()
    image.entrypoint = 0x403C_E000
    image.segments = [ELFSection(b".dram0.data", 0x3FCD_6000, os.urandom(2048), 0),
                      ELFSection(b".iram0.text", 0x403C_E000, os.urandom(4096), 0)]
    image.flash_mode, image.flash_size_freq, image.append_digest = mode, size_freq, True
    data = image.save(None)  # None: the bytes, no file
    assert data is not None
    return data


def build(folder: Path, stub: bool, flash: tuple[str, str, str], app_at: int = 0x20000) -> Path:
    """An ESP-IDF-shaped build folder; the app at a non-default offset, as a large partition table puts it."""
    return write_bundle(folder, {0x0: ("bootloader/bootloader.bin", bootloader()),
                                 0x8000: ("partition_table/partition-table.bin", b"\xaa\x50" + os.urandom(3070)),
                                 app_at: ("benchd-target.bin", os.urandom(150_000))}, stub=stub, flash=flash)


@pytest.mark.parametrize(("stub", "flash"), [(False, ("qio", "2MB", "40m")), (True, ("dout", "4MB", "80m"))])
def test_the_flasher_follows_flasher_args(simulator, tmp_path: Path, stub: bool, flash: tuple[str, str, str]) -> None:
    sim = simulator(1)
    folder = build(tmp_path / "fw", stub, flash)
    bundle = load_bundle(folder)
    assert bundle.stub is stub and (bundle.flash_mode, bundle.flash_size, bundle.flash_freq) == flash

    report = flash_with_retries(sim.ports[0], bundle, bauds=(460_800,))
    chip = sim.boards[0]
    assert report.stub is stub
    assert chip.stub_runs == (1 if stub else 0), "the stub runs exactly when flasher_args.json allows it"
    for image in bundle.images[1:]:  # partition table and app byte for byte, each at its own offset
        assert hashlib.md5(chip.flash[image.offset : image.offset + len(image.data)]).hexdigest() == image.md5
    assert chip.flash[0x10000:0x10010] == b"\xff" * 16, "nothing at the default app offset: the file's offset won"
    mode, size, freq = flash
    header = chip.flash[2:4]  # the bootloader's flash mode, then size << 4 | frequency, as the ROM reads them
    assert header[0] == {"qio": 0, "qout": 1, "dio": 2, "dout": 3}[mode]
    assert header[1] == C3.FLASH_SIZES[size] | C3.FLASH_FREQUENCY[freq]
    boot = bundle.images[0].data
    held = bytes(chip.flash[: len(boot)])
    assert held[4:-32] == boot[4:-32] and held[-32:] == hashlib.sha256(held[:-32]).digest(), \
        "the rest of the bootloader unchanged, its appended SHA-256 recomputed over the new header"


def test_a_build_for_another_chip_or_a_stub_flag_that_is_not_a_boolean_is_refused(simulator, tmp_path: Path) -> None:
    sim = simulator(1)
    folder = build(tmp_path / "fw", True, ("dio", "4MB", "80m"))
    args = json.loads((folder / "flasher_args.json").read_text())
    args["extra_esptool_args"]["chip"] = "esp32s3"
    (folder / "flasher_args.json").write_text(json.dumps(args))
    with pytest.raises(WrongChip, match="built for esp32s3"):
        flash_with_retries(sim.ports[0], load_bundle(folder), bauds=(460_800,))
    assert sim.boards[0].flash_writes == 0
    args["extra_esptool_args"].update(chip="esp32c3", stub="false")
    (folder / "flasher_args.json").write_text(json.dumps(args))
    with pytest.raises(FlashError, match="stub is 'false', not true or false"):
        load_bundle(folder)
