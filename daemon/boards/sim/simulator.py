"""A simulated ESP32-C3 (or ESP32) that answers the ROM loader protocol well enough for the real esptool.

`SimulatedBoard` is the chip: registers, flash, ROM/stub modes and the app it boots. It knows nothing of
sockets; `daemon.boards.sim.host` carries its bytes over TCP or a pty. Facts about the protocol are in
docs/BOARD_SIMULATOR.md (shared) and esptool's loader.py; anything esptool sends that is not modelled
here is answered with the ROM's "invalid message" status, which esptool reports clearly.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from daemon.boards.sim import bootlog
from daemon.boards.sim.flashchip import SPI_CMD, SPI_CMD_USR, FlashChip, run_user_command
from daemon.boards.sim.ramapp import RamApp
from daemon.boards.sim.slip import encode
from daemon.boards.sim.spec import BoardSpec
from daemon.boards.sim.virtapp import VirtApp
from daemon.firmware.virtimage import EFUSE_USR_DATA0, SIMULATOR_MARK  # identifies a simulated board

WDT_CONFIG0 = 0x60008090  # RTC watchdog: esptool's watchdog-reset, the one reset a socket can carry
EFUSE_MAC0 = 0x60008844
ESP32_MAGIC_REG, ESP32_MAGIC = 0x40001000, 0x00F01D83
ESP32_MAC_WORDS = (0x3FF5A004, 0x3FF5A008)  # ESP32 eFuse BLK0 words 1 and 2 hold its MAC
SECTOR = 4096
# ROM status codes (esptool/loader.py ROM_INVALID_RECV_MSG and its error table), and the stub's
INVALID_MESSAGE, FAILED_TO_ACT, BAD_CHECKSUM, READ_LENGTH_ERROR, DEFLATE_ERROR = 0x05, 0x06, 0x07, 0x0A, 0x0B
STUB_FAILED_SPI_OP = 0xC4
READ_SLOW_BLOCK = 64  # the ROM's READ_FLASH_SLOW always answers 64 bytes
# Where esptool's flasher stubs (v1 and v2) put their code: an image the ROM runs from there is the stub,
# which greets with OHAI; anything else loaded to RAM runs as a program (sim/ramapp.py).
STUB_TEXT = {"esp32c3": (0x40380000,), "esp32": (0x400BE000, 0x400A8000)}


@dataclass
class SimulatedBoard:
    spec: BoardSpec
    mode: str = "app"  # app | rom | stub
    baud: int = 115200
    flash: bytearray = field(default_factory=bytearray)
    unplugged: bool = False  # set by the unplug fault: the transport must drop the line now
    reset_pending: bool = False  # the watchdog was armed: the transport boots the app shortly
    boot_requested: bool = False  # the loader was told to run the app (FLASH_END / RUN_USER_CODE)
    flash_writes: int = 0
    stub_runs: int = 0  # how often esptool's stub was uploaded and started (a ROM-only flash leaves it at 0)
    _regs: dict[int, int] = field(default_factory=dict)
    _write: tuple[int, int, int] = (0, 0, 0)  # offset, expected size, block size
    _written: int = 0
    _inflate: zlib._Decompress | None = None
    _unplugged_once: bool = False
    flash_attached: bool = False  # the ROM routes SPI1 to the flash only after SPI_ATTACH; the stub at start
    chip: FlashChip = field(init=False)
    ram_app: RamApp | None = None  # the program `load-ram` started; the transport plays its UART
    _segments: list[tuple[int, bytearray]] = field(default_factory=list)  # MEM_BEGIN/MEM_DATA, this session
    _reading: _FlashRead | None = None  # a stub READ_FLASH waiting for the host's acks
    app: VirtApp = field(default_factory=VirtApp)  # runs a flashed `virt` image under QEMU (sim/virtapp.py)

    def __post_init__(self) -> None:
        if not self.flash:
            self.flash = bytearray(b"\xff" * self.spec.flash_size)
        self.chip = FlashChip(len(self.flash))
        mac = self.spec.mac
        if self.spec.chip == "esp32c3":
            self._regs[EFUSE_MAC0] = int.from_bytes(mac[2:6], "big")
            self._regs[EFUSE_MAC0 + 4] = int.from_bytes(mac[0:2], "big")
            self._regs[EFUSE_MAC0 + 12] = 4 << 18  # minor revision 4: "revision v0.4"
            for word in range(len(SIMULATOR_MARK) // 4):
                self._regs[EFUSE_USR_DATA0 + 4 * word] = int.from_bytes(SIMULATOR_MARK[4 * word : 4 * word + 4],
                                                                        "little")
        else:
            self._regs[ESP32_MAGIC_REG] = ESP32_MAGIC
            self._regs[ESP32_MAC_WORDS[1]] = int.from_bytes(mac[0:2], "big")
            self._regs[ESP32_MAC_WORDS[0]] = int.from_bytes(mac[2:6], "big")

    # -- life cycle -----------------------------------------------------------------------------------
    def power_on(self) -> list[tuple[float, bytes]]:
        """Reset into the app; returns the console output as (seconds after reset, bytes)."""
        self.mode, self.baud, self._inflate = "app", 115200, None
        self.reset_pending = self.boot_requested = False
        self._reset_loader()
        if self.app.boot(self.flash, self.spec.faults):
            return []  # a flashed virt image runs: its UART output comes from self.app.read()
        return bootlog.timeline(self.spec, self.flash)

    def power_off(self) -> None:
        self.app.stop()

    def enter_download_mode(self) -> None:
        # Over a real line esptool pulls EN and GPIO9 low; a socket cannot, so a SYNC to a running
        # app stands for that reset (see BOARD_SIMULATOR.md, "Transport").
        self.mode, self.baud = "rom", 115200
        self.app.stop()
        self._reset_loader()

    def on_connect(self) -> None:
        """A host opened the port. esptool resets a board into download mode through DTR/RTS, which a
        socket lacks, so a new connection stands for that reset: a board in the loader (ROM or stub)
        starts afresh in the ROM, the stub gone. A running app is left alone (a monitor must see it)."""
        if self.mode != "app":
            self.enter_download_mode()

    def _reset_loader(self) -> None:
        self._inflate, self._reading, self.ram_app, self.flash_attached = None, None, None, False
        self._segments = []

    # -- protocol -------------------------------------------------------------------------------------
    def on_frame(self, frame: bytes) -> list[bytes]:
        """One request in, zero or more SLIP-encoded frames out."""
        if self._reading is not None and len(frame) == 4:
            return self._read_ack(frame)
        if len(frame) < 8 or frame[0] != 0:
            return []
        self._reading = None  # a new command ends a read the host gave up on
        op, length, checksum = struct.unpack_from("<BHI", frame, 1)
        data = frame[8 : 8 + length]
        if self.mode == "app":
            if op != 0x08:
                return []  # a running app does not speak the loader protocol
            self.enter_download_mode()
        handler = _HANDLERS.get(op)
        if handler is None or (op >= 0xD0 and self.mode != "stub"):
            return [self._reply(op, error=INVALID_MESSAGE)]
        if op in (0x03, 0x07, 0x11) and _checksum(data[16:]) != checksum:
            return [self._reply(op, error=BAD_CHECKSUM)]
        return handler(self, op, data)

    def _reply(self, op: int, value: int = 0, data: bytes = b"", error: int = 0) -> bytes:
        # The ROM sends 4 status bytes (status, error, 2 reserved), the stub 2.
        status = bytes([1 if error else 0, error]) + (b"\0\0" if self.mode != "stub" else b"")
        body = data + status
        return encode(struct.pack("<BBHI", 1, op, len(body), value) + body)

    def _sync(self, op: int, data: bytes) -> list[bytes]:
        if data[:4] != b"\x07\x07\x12\x20":
            return []
        value = 0 if self.mode == "stub" else 0x20120707  # 0 tells esptool "the stub already runs"
        return [self._reply(op, value)] * 8

    def _read_reg(self, op: int, data: bytes) -> list[bytes]:
        (addr,) = struct.unpack_from("<I", data)
        return [self._reply(op, self._regs.get(addr, 0))]

    def _write_reg(self, op: int, data: bytes) -> list[bytes]:
        for pos in range(0, len(data) - 15, 16):  # the stub accepts several writes in one command
            addr, value, mask, _delay = struct.unpack_from("<IIII", data, pos)
            value = (self._regs.get(addr, 0) & ~mask) | (value & mask)
            if addr == SPI_CMD and value & SPI_CMD_USR and self.spec.chip == "esp32c3":
                run_user_command(self._regs, self.chip, self.flash, self.flash_attached)
                value &= ~SPI_CMD_USR  # the transaction completes at once
            if addr == WDT_CONFIG0 and value & (1 << 31) and self.spec.chip == "esp32c3":
                self.reset_pending = True
            self._regs[addr] = value
        return [self._reply(op)]

    def _security_info(self, op: int, data: bytes) -> list[bytes]:
        if self.spec.chip != "esp32c3":
            return [self._reply(op, error=INVALID_MESSAGE)]  # the ESP32 ROM predates this command
        return [self._reply(op, data=struct.pack("<IBBBBBBBBII", 0, 0, *([0] * 7), 5, 0))]

    def _ack(self, op: int, data: bytes) -> list[bytes]:
        if op == 0x0F:
            (self.baud,) = struct.unpack_from("<I", data)
        if op == 0x0D:
            self.flash_attached = True
        return [self._reply(op)]

    def _mem_begin(self, op: int, data: bytes) -> list[bytes]:
        size, _blocks, block, offset = struct.unpack_from("<IIII", data)
        self._segments.append((offset, bytearray(size)))
        self._write = (offset, size, block)
        return [self._reply(op)]

    def _mem_data(self, op: int, data: bytes) -> list[bytes]:
        length, seq = struct.unpack_from("<II", data)
        if not self._segments:
            return [self._reply(op, error=FAILED_TO_ACT)]
        segment, block = self._segments[-1][1], self._write[2]
        chunk = data[16 : 16 + length][: max(0, len(segment) - seq * block)]
        segment[seq * block : seq * block + len(chunk)] = chunk
        return [self._reply(op)]

    def _mem_end(self, op: int, data: bytes) -> list[bytes]:
        no_entry, entry = struct.unpack_from("<II", data)
        frames = [self._reply(op)]
        if no_entry or not entry:
            return frames
        loaded_at = {addr for addr, _ in self._segments}
        if self.mode == "rom" and loaded_at & set(STUB_TEXT[self.spec.chip]):
            self.mode, self.flash_attached = "stub", True  # the stub attaches the flash as it starts
            self.stub_runs += 1
            frames.append(encode(b"OHAI"))  # the stub's greeting, as esptool's run_stub expects
        else:
            segments = [(addr, bytes(seg)) for addr, seg in self._segments]
            self._reset_loader()
            self.mode = "app"  # the loader jumped to the program: no more loader protocol
            if self.spec.chip == "esp32c3":
                self.ram_app = RamApp(segments, entry)
        self._segments = []
        return frames

    def _read_slow(self, op: int, data: bytes) -> list[bytes]:
        offset, length = struct.unpack_from("<II", data)
        if length > READ_SLOW_BLOCK or offset + length > len(self.flash) or not self.flash_attached:
            return [self._reply(op, error=READ_LENGTH_ERROR if self.flash_attached else FAILED_TO_ACT)]
        block = bytes(self.flash[offset : offset + length]).ljust(READ_SLOW_BLOCK, b"\xff")
        return [self._reply(op, data=block)]

    def _read_flash(self, op: int, data: bytes) -> list[bytes]:
        offset, length, packet, window = struct.unpack_from("<IIII", data)
        if offset + length > len(self.flash) or not packet or not window:
            return [self._reply(op, error=STUB_FAILED_SPI_OP)]
        self._reading = _FlashRead(bytes(self.flash[offset : offset + length]), packet, window)
        return [self._reply(op)] + self._reading.more(0)

    def _read_ack(self, frame: bytes) -> list[bytes]:
        assert self._reading is not None
        (acked,) = struct.unpack("<I", frame)
        frames = self._reading.more(acked)
        if acked >= len(self._reading.data):
            frames.append(encode(hashlib.md5(self._reading.data).digest()))
            self._reading = None
        return frames

    def _flash_begin(self, op: int, data: bytes) -> list[bytes]:
        size, _blocks, block, offset = struct.unpack_from("<IIII", data)
        if offset + size > len(self.flash):
            return [self._reply(op, error=0x06)]
        end = min(len(self.flash), -(-(offset + size) // SECTOR) * SECTOR)
        self.flash[offset - offset % SECTOR : end] = b"\xff" * (end - offset + offset % SECTOR)
        self._write, self._written = (offset, size, block), 0
        self._inflate = zlib.decompressobj() if op == 0x10 else None
        if size:
            self.flash_writes += 1
        return [self._reply(op)]

    def _flash_data(self, op: int, data: bytes) -> list[bytes]:
        length, seq = struct.unpack_from("<II", data)
        payload = data[16 : 16 + length]
        offset, size, block = self._write
        if op == 0x11:
            if self._inflate is None:
                return [self._reply(op, error=INVALID_MESSAGE)]
            try:
                chunk = self._inflate.decompress(payload)
            except zlib.error:
                return [self._reply(op, error=DEFLATE_ERROR)]
            start = offset + self._written
        else:
            chunk, start = payload, offset + seq * block
        # esptool pads the last block to the block size (0xFF); the loader writes only the declared size.
        chunk = chunk[: max(0, min(len(self.flash), offset + size) - start)]
        self.flash[start : start + len(chunk)] = chunk
        self._written += len(chunk)
        if self._written * 2 >= size and self._should_unplug():
            self.unplugged = True
            return []
        return [self._reply(op)]

    def _should_unplug(self) -> bool:
        if "unplug" in self.spec.faults:
            return True
        if "unplug-once" in self.spec.faults and not self._unplugged_once:
            self._unplugged_once = True
            return True
        return False

    def _flash_end(self, op: int, data: bytes) -> list[bytes]:
        (stay,) = struct.unpack_from("<I", data) if len(data) >= 4 else (1,)
        frames = [self._reply(op)]
        if self.mode == "stub" and not stay:
            self.mode = "rom"  # the stub soft-resets back into the ROM loader
        elif self.mode == "rom":
            self.boot_requested = True  # the ROM leaves the loader and runs the app
        return frames

    def _md5(self, op: int, data: bytes) -> list[bytes]:
        addr, size = struct.unpack_from("<II", data)
        digest = hashlib.md5(self.flash[addr : addr + size])
        if "bad-md5" in self.spec.faults:
            digest.update(b"bit rot")
        raw = digest.digest()
        return [self._reply(op, data=raw if self.mode == "stub" else raw.hex().encode())]

    def _erase(self, op: int, data: bytes) -> list[bytes]:
        addr, size = struct.unpack_from("<II", data) if op == 0xD1 else (0, len(self.flash))
        self.flash[addr : addr + size] = b"\xff" * size
        return [self._reply(op)]

    def _run_user_code(self, op: int, data: bytes) -> list[bytes]:
        self.boot_requested = True
        return []  # the stub jumps away without answering


@dataclass
class _FlashRead:
    """The stub's READ_FLASH: packets stream out while at most `window` of them wait for the host's ack."""

    data: bytes
    packet: int
    window: int
    sent: int = 0

    def more(self, acked: int) -> list[bytes]:
        frames = []
        if not self.data and not acked:
            return [encode(hashlib.md5(b"").digest())]
        while self.sent < len(self.data) and self.sent - acked < self.window * self.packet:
            frames.append(encode(self.data[self.sent : self.sent + self.packet]))
            self.sent += len(self.data[self.sent : self.sent + self.packet])
        return frames


def _checksum(payload: bytes) -> int:
    # XOR of every byte, seeded with 0xEF; numpy keeps a 16 KB block from costing a Python loop.
    return 0xEF ^ int(np.bitwise_xor.reduce(np.frombuffer(payload, dtype=np.uint8))) if payload else 0xEF


_HANDLERS = {
    0x02: SimulatedBoard._flash_begin, 0x03: SimulatedBoard._flash_data, 0x04: SimulatedBoard._flash_end,
    0x05: SimulatedBoard._mem_begin, 0x06: SimulatedBoard._mem_end, 0x07: SimulatedBoard._mem_data,
    0x08: SimulatedBoard._sync, 0x09: SimulatedBoard._write_reg, 0x0A: SimulatedBoard._read_reg,
    0x0B: SimulatedBoard._ack, 0x0D: SimulatedBoard._ack, 0x0F: SimulatedBoard._ack,
    0x10: SimulatedBoard._flash_begin, 0x11: SimulatedBoard._flash_data, 0x12: SimulatedBoard._flash_end,
    0x0E: SimulatedBoard._read_slow, 0x13: SimulatedBoard._md5, 0x14: SimulatedBoard._security_info,
    0xD0: SimulatedBoard._erase, 0xD1: SimulatedBoard._erase, 0xD2: SimulatedBoard._read_flash,
    0xD3: SimulatedBoard._run_user_code,
}
