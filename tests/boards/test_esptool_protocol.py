"""The loader protocol as esptool's own hardware suite exercises it (issue 11, item 6), driven through the
real esptool library against one simulated ESP32-C3: stub and ROM flash reads, a new connection acting as
the reset a socket lacks, writes that stop at the declared size, the flash chip behind SPI1, load-ram."""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from esptool.cmds import attach_flash, connect_esp, load_ram, reset_chip, write_flash

from daemon.boards.sim.host import BoardSimulator

pytestmark = [pytest.mark.board, pytest.mark.timeout(60)]

# _start: lui a0,0x3fcd8; c.mv a0,a0; c.li a1,7; lui t0,0x40000; addi t0,t0,64; jalr t0; c.j _start
# (riscv64-unknown-elf-as -march=rv32imc): ets_printf("tick %d\n", 7) for ever, the string in DRAM.
TICK_CODE = bytes.fromhex("3785cd3f2a859d45b702004093820204e7800200f5b7")
TICK_IRAM, TICK_DRAM = 0x403D0000, 0x3FCD8000


@contextmanager
def session(port: str, stub: bool = True, after: str = "no-reset-stub") -> Iterator[Any]:
    """One esptool session, like one `esptool` run: connect (ROM), optionally the stub, then close."""
    esp = connect_esp(port=port, chip="esp32c3", before="no-reset", connect_attempts=3)
    try:
        if stub:
            esp = esp.run_stub()
        yield esp
        reset_chip(esp, after)
    finally:
        esp._port.close()


@pytest.fixture
def board(simulator) -> tuple[BoardSimulator, str]:
    sim = simulator(1)
    return sim, sim.ports[0]


def test_stub_read_flash_streams_packets_against_acks_and_ends_with_the_md5(board) -> None:
    sim, port = board
    content = os.urandom(300 * 1024)  # more than the 64 packets esptool lets be in flight
    sim.boards[0].flash[0x100000 : 0x100000 + len(content)] = content
    with session(port) as esp:
        assert esp.read_flash(0x100000, len(content)) == content
        assert esp.read_flash(0x100000 + 5, 3) == content[5:8]  # a short last packet


def test_rom_read_flash_slow_answers_64_byte_blocks(board) -> None:
    sim, port = board
    content = os.urandom(1000)
    sim.boards[0].flash[0x300000 : 0x300000 + len(content)] = content
    with session(port, stub=False, after="no-reset") as esp:
        attach_flash(esp)
        assert esp.read_flash(0x300000, len(content)) == content  # ROM: READ_FLASH_SLOW (0x0E)


def test_a_new_connection_resets_a_loaded_stub_back_into_the_rom(board) -> None:
    sim, port = board
    with session(port) as esp:  # leaves the stub running, as `--after no-reset-stub` does
        assert esp.IS_STUB
    assert sim.boards[0].mode == "stub"
    with session(port, stub=False, after="no-reset") as rom:
        assert not rom.sync_stub_detected  # SYNC answered by the ROM, not the stale stub
        attach_flash(rom)
        expected = hashlib.md5(bytes(sim.boards[0].flash[0:4096])).hexdigest()
        assert rom.flash_md5sum(0, 4096) == expected  # the ROM's 32 hex characters, not the stub's 16 bytes
    with session(port, after="no-reset") as esp:  # and the next session uploads the stub afresh
        assert esp.IS_STUB


@pytest.mark.parametrize("compress", [False, True])
def test_a_write_stops_at_the_declared_size(board, compress: bool) -> None:
    sim, port = board
    flash = sim.boards[0].flash
    neighbour = os.urandom(20 * 1024)
    flash[0x2000 : 0x2000 + len(neighbour)] = neighbour  # data after the sector the image lands in
    image = os.urandom(1024)  # the stub's 16 KB block: esptool pads 15 KB of 0xFF after it
    with session(port) as esp:
        write_flash(esp, [(0x1000, image)], compress=compress, no_compress=not compress)
    assert bytes(flash[0x1000:0x1400]) == image
    assert bytes(flash[0x1400:0x2000]) == b"\xff" * 0xC00  # the rest of the erased sector
    assert bytes(flash[0x2000 : 0x2000 + len(neighbour)]) == neighbour


def test_flash_chip_answers_jedec_sfdp_and_status_only_once_attached(board) -> None:
    _, port = board
    with session(port, stub=False, after="no-reset") as esp:
        assert esp.flash_id() == 0 and esp.read_spiflash_sfdp(0, 32) == 0  # SPI1 not routed yet
        attach_flash(esp)
        assert esp.flash_id(cache=False) == 0x1640EF  # Winbond, 4 MB
        assert esp.read_spiflash_sfdp(0, 32).to_bytes(4, "little") == b"SFDP"
        assert esp.read_spiflash_sfdp(1, 24).to_bytes(3, "little") == b"FDP"
        assert esp.read_spiflash_sfdp(0x84, 32) == 32 * 2**20 - 1  # basic table: density in bits - 1
        esp.write_status(0x0203, 2)  # QE, plus the read-only BUSY and WEL bits, which do not stick
        assert esp.read_status(2) == 0x0200


def ram_image(path: Path, entry: int, segments: list[tuple[int, bytes]]) -> Path:
    """An ESP32-C3 app image (what `load-ram` takes): header, extended header, segments, checksum."""
    body, checksum = b"", 0xEF
    for addr, data in segments:
        data = data.ljust(-(-len(data) // 4) * 4, b"\0")
        body += struct.pack("<II", addr, len(data)) + data
        for byte in data:
            checksum ^= byte
    header = struct.pack("<BBBBI", 0xE9, len(segments), 2, 0x1F, entry)
    extended = struct.pack("<BBBBHBHH4BB", 0xEE, 0, 0, 0, 5, 0, 0, 0xFFFF, 0, 0, 0, 0, 0)  # chip id 5, no digest
    image = header + extended + body
    image += b"\0" * (15 - len(image) % 16) + bytes([checksum])
    path.write_bytes(image)
    return path


def tick_image(tmp_path: Path) -> Path:
    return ram_image(tmp_path / "tick.bin", TICK_IRAM, [(TICK_DRAM, b"tick %d\n\0"), (TICK_IRAM, TICK_CODE)])


def listen(port: str, expect: bytes, seconds: float = 5.0) -> bytes:
    host, _, number = port.removeprefix("socket://").rpartition(":")
    heard = b""
    with socket.create_connection((host, int(number)), timeout=seconds) as line:
        deadline = time.monotonic() + seconds
        while expect not in heard and time.monotonic() < deadline:
            line.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                heard += line.recv(256)
            except TimeoutError:
                break
    return heard


@pytest.mark.parametrize("stub", [True, False])
def test_load_ram_runs_the_image_and_a_monitor_hears_it(board, tmp_path: Path, stub: bool) -> None:
    sim, port = board
    esp = connect_esp(port=port, chip="esp32c3", before="no-reset", connect_attempts=3)
    try:
        if stub:
            esp = esp.run_stub()
        load_ram(esp, str(tick_image(tmp_path)))
    finally:
        esp._port.close()
    assert b"tick 7\r\ntick 7\r\n" in listen(port, b"tick 7\r\ntick 7\r\n")
    assert sim.boards[0].mode == "app" and sim.boards[0].ram_app is not None
    with session(port, after="no-reset"):  # a SYNC takes the board back into the loader
        pass
    assert sim.boards[0].ram_app is None


def test_a_ram_program_that_leaves_what_is_modelled_stops_silently(board, tmp_path: Path) -> None:
    sim, port = board
    path = ram_image(tmp_path / "ebreak.bin", TICK_IRAM, [(TICK_IRAM, bytes.fromhex("73001000"))])  # ebreak
    with session(port, stub=False, after="no-reset") as esp:
        load_ram(esp, str(path))
    assert listen(port, b"never", seconds=0.3) == b""
    app = sim.boards[0].ram_app
    assert app is not None and "0x00100073" in app.fault
