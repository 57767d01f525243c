"""The SPI NOR flash of a simulated ESP32-C3 and the SPI1 "user command" esptool drives it through.

esptool reads the JEDEC id (`flash-id`), the SFDP table (`read-flash-sfdp`) and the status registers
(`read-flash-status`, `write-flash-status`) by programming SPI1's registers with WRITE_REG and starting a
user command (esptool/loader.py `run_spiflash_command`). The chip answers like a Winbond W25Q of the
board's size. Until the ROM is told SPI_ATTACH the SPI1 pins are not routed to the flash: nothing answers,
W0 keeps what esptool wrote (it clears it first), so esptool sees a zero id, as on a real board.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

SPI_BASE = 0x60002000  # ESP32-C3 SPI1 (esptool/targets/esp32c3.py SPI_REG_BASE and *_OFFS)
SPI_CMD, SPI_ADDR, SPI_USR, SPI_USR2 = SPI_BASE, SPI_BASE + 0x04, SPI_BASE + 0x18, SPI_BASE + 0x20
SPI_MOSI_DLEN, SPI_MISO_DLEN, SPI_W0 = SPI_BASE + 0x24, SPI_BASE + 0x28, SPI_BASE + 0x58
SPI_CMD_USR = 1 << 18
USR_ADDR, USR_MISO, USR_MOSI = 1 << 30, 1 << 28, 1 << 27
DATA_WORDS = 16  # W0..W15: 64 bytes each way

MANUFACTURER, MEMORY_TYPE = 0xEF, 0x40  # Winbond, W25Q (SPI)
RDID, RDSFDP, READ, FAST_READ, WREN, WEVSR, WRDI = 0x9F, 0x5A, 0x03, 0x0B, 0x06, 0x50, 0x04
RDSR = {0x05: 0, 0x35: 8, 0x15: 16}  # status register 1, 2, 3: bit offset in `status`
WRSR = {0x01: 0, 0x31: 8, 0x11: 16}
BUSY, WEL = 1 << 0, 1 << 1  # write in progress, write-enable latch (status register 1, read-only)
SFDP_TABLE_AT = 0x80


def sfdp_table(size: int) -> bytes:
    """JESD216 header, one parameter header and the basic flash parameter table of a W25Q of `size` bytes."""
    header = b"SFDP" + bytes([0x06, 0x01, 0x00, 0xFF])  # rev 1.6, one parameter header, unused
    param = bytes([0x00, 0x06, 0x01, 16]) + SFDP_TABLE_AT.to_bytes(3, "little") + b"\xff"
    dwords = [
        0xFFF920E5,  # 4 KB erase with 0x20, 3-byte addresses, fast reads 1-1-2/1-2-2/1-4-4/1-1-4
        size * 8 - 1,  # density in bits, minus one
        0x6B08EB44, 0xBB423B08, 0xFFFFFFFE, 0xFF000000, 0xEB440000, 0x520F200C,  # read modes, erase types
        0xFF00D810, 0x0236A200, 0xEA82FFFF, 0xC914E9FF, 0x337663E9, 0x757A757A, 0x5CD5A2F7, 0xFF4DF719,
    ]
    table = struct.pack("<16I", *dwords)
    return (header + param).ljust(SFDP_TABLE_AT, b"\xff") + table


@dataclass
class FlashChip:
    size: int = 4 << 20
    status: int = 0  # status registers 3:2:1, one byte each
    _writable: bool = False  # WREN or WEVSR came: the next status write is taken
    sfdp: bytes = field(init=False, default=b"")

    def __post_init__(self) -> None:
        self.sfdp = sfdp_table(self.size)

    @property
    def jedec_id(self) -> bytes:
        return bytes([MANUFACTURER, MEMORY_TYPE, max(self.size.bit_length() - 1, 0)])  # 4 MB: EF 40 16

    def transfer(self, opcode: int, addr: int, mosi: bytes, miso_len: int, memory: bytearray) -> bytes:
        """One SPI transaction: the bytes the chip drives on MISO (0xFF where it drives nothing)."""
        if opcode == RDID:
            out = self.jedec_id
        elif opcode == RDSFDP:
            out = self.sfdp[addr : addr + miso_len]
        elif opcode in (READ, FAST_READ):
            out = bytes(memory[addr % self.size : addr % self.size + miso_len])
        elif opcode in RDSR:
            out = bytes([(self.status >> RDSR[opcode]) & 0xFF])
        elif opcode in (WREN, WEVSR):  # WEVSR enables a volatile write without setting the latch
            self.status, self._writable, out = self.status | (WEL if opcode == WREN else 0), True, b""
        elif opcode == WRDI:
            self.status, self._writable, out = self.status & ~WEL, False, b""
        elif opcode in WRSR and self._writable:
            shift = WRSR[opcode]
            for i, byte in enumerate(mosi[: 3 - shift // 8]):  # WRSR 0x01 may carry S1 and S2
                byte &= ~(BUSY | WEL) if shift + 8 * i == 0 else 0xFF  # read-only bits
                self.status = (self.status & ~(0xFF << (shift + 8 * i))) | (byte << (shift + 8 * i))
            self.status, self._writable = self.status & ~WEL, False  # a completed write clears the latch
            out = b""
        else:
            out = b""
        return out.ljust(miso_len, b"\xff")[:miso_len]


def run_user_command(regs: dict[int, int], chip: FlashChip, memory: bytearray, attached: bool) -> None:
    """SPI1's CMD register was given USR: run the transaction its registers describe, results in W0.."""
    usr = regs.get(SPI_USR, 0)
    opcode = regs.get(SPI_USR2, 0) & 0xFF
    addr = regs.get(SPI_ADDR, 0) & 0xFFFFFF if usr & USR_ADDR else 0
    mosi_len = (regs.get(SPI_MOSI_DLEN, 0) + 8) // 8 if usr & USR_MOSI else 0
    miso_len = (regs.get(SPI_MISO_DLEN, 0) + 8) // 8 if usr & USR_MISO else 0
    words = [regs.get(SPI_W0 + 4 * i, 0) for i in range(DATA_WORDS)]
    mosi = struct.pack(f"<{DATA_WORDS}I", *words)[:mosi_len]
    if not attached:
        return  # the pins are not routed to the flash: MISO floats, W0.. keep their values
    miso = chip.transfer(opcode, addr, mosi, min(miso_len, 4 * DATA_WORDS), memory)
    for i in range(0, len(miso), 4):
        regs[SPI_W0 + i] = int.from_bytes(miso[i : i + 4].ljust(4, b"\0"), "little")
